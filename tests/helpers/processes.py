"""Running the project's entry points as a user does, from the repository root."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, *args: str, env: dict | None = None, timeout: int = 600):
    """Run `python -m module args...` from the repository root, as a user would.

    In a process group of its own: at the timeout every process it started is killed too
    (DDP ranks, sweep workers), not only the first, and TimeoutExpired is raised."""
    command = [sys.executable, "-m", module, *args]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **(env or {})}, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def wait_for(condition, timeout: float = 300, interval: float = 0.2) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False
