"""Which code produced a result: recorded with every trial (src/trials/reporting.py) and
every sweep of `src.reproduce`, and shown in the report."""
import functools
import subprocess
from pathlib import Path


def git_commit() -> str | None:
    """The checked-out commit, with "+dirty" when tracked files differ from it; None outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


@functools.cache
def commit_at_start() -> str | None:
    """The commit this process's code was loaded from: taken once, when the process's first
    run starts. A sweep worker runs trial after trial for hours while the checkout moves
    on (seen: one study's trials recorded seven commits for code loaded once)."""
    return git_commit()
