"""Fixtures every test folder shares. Tests of mechanics use `data_dir`, a small generated
data set in torchvision's layout (tests/helpers/idx_data.py), so that they run anywhere;
only tests whose subject is the real MNIST use `real_data_dir`, and skip without it."""
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

from tests.helpers.idx_data import write_idx_dataset
from tests.helpers.processes import ROOT

# One compute thread per process: tests run several training processes side by side (and
# two pytest workers), and more threads than cores make each of them slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@lru_cache(maxsize=None)
def generated_data() -> Path:
    """The generated data set, written once per test process."""
    return write_idx_dataset(Path(tempfile.mkdtemp(prefix="idx-data-")))


def data_env() -> dict:
    """The environment of an entry point run on the generated data."""
    return {"DATA_DIR": str(generated_data())}


@pytest.fixture
def data_dir() -> Path:
    return generated_data()


@pytest.fixture
def real_data_dir() -> Path:
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "data"))
    if not any((data_dir / "MNIST" / "raw").glob("train-images-idx3-ubyte*")):
        pytest.skip(f"needs the real MNIST: none under {data_dir}; set DATA_DIR (e.g. DATA_DIR=../shared/data)")
    return data_dir
