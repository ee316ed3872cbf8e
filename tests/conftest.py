import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# One compute thread per process: tests run several training processes side by side (and
# two pytest workers), and more threads than cores make each of them slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def data_dir_or_skip() -> Path:
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "data"))
    if not any((data_dir / "MNIST" / "raw").glob("train-images-idx3-ubyte*")):
        pytest.skip(f"no MNIST under {data_dir}: set DATA_DIR (e.g. DATA_DIR=../shared/data)")
    return data_dir


@pytest.fixture
def data_dir() -> Path:
    return data_dir_or_skip()


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
