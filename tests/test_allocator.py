"""keep_freed_memory: a training step stops faulting in fresh pages from the OS."""
import subprocess
import sys

import pytest

from tests.conftest import ROOT

STEP_FAULTS = """
import resource, sys
import torch
from benchmarks.throughput import MODELS, project_config
from hydra.utils import instantiate
from src.allocator import keep_freed_memory

if sys.argv[1] == "keep" and not keep_freed_memory():
    print("unsupported")
    sys.exit()
torch.manual_seed(0)
model = instantiate(project_config(MODELS["conv s=60 n=5 m=512"]).model, num_classes=10)
optimizer = model.configure_optimizers()
x = torch.rand(100, 1, 28, 28)

def step():
    model.batch_terms(x)["loss"].backward()
    optimizer.step()
    optimizer.zero_grad()

for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_per_step(mode: str) -> str:
    # A process of its own: the setting lasts for the rest of the process.
    result = subprocess.run([sys.executable, "-c", STEP_FAULTS, mode], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_kept_memory_is_reused_by_the_next_training_step():
    kept = faults_per_step("keep")
    if kept == "unsupported":
        pytest.skip("the C library has no mallopt (not glibc)")
    default = float(faults_per_step("default"))
    # default glibc: thousands of pages (MBs) per step given back and faulted in again
    assert float(kept) < 0.1 * default, (kept, default)
