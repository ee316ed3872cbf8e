"""keep_freed_memory: a training step stops faulting in fresh pages from the OS."""
import subprocess
import sys

import pytest

from tests.helpers.processes import ROOT

STEP_FAULTS = """
import resource, sys
import torch
from benchmarks.throughput import MODELS, project_config
from hydra.utils import instantiate
from src.runtime.allocator import keep_freed_memory

if sys.argv[1] == "keep" and not keep_freed_memory():
    print("unsupported")
    sys.exit()
torch.manual_seed(0)
model = instantiate(project_config(MODELS["conv s=60 n=5 m=512"][0]).model, num_classes=10)
optimizer = model.configure_optimizers()
x = torch.rand(100, 1, 28, 28)

def step():
    model.loss_terms(x)["loss"].backward()
    optimizer.step()
    optimizer.zero_grad()

for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_per_step(*modes: str) -> list[str]:
    # A process of its own per mode (the setting lasts for the rest of a process), run side
    # by side: each counts its own page faults.
    runs = [subprocess.Popen([sys.executable, "-c", STEP_FAULTS, mode], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for mode in modes]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (_, stderr) in zip(runs, outputs):
        assert run.returncode == 0, stderr[-3000:]
    return [stdout.strip().splitlines()[-1] for stdout, _ in outputs]


@pytest.mark.slow
def test_kept_memory_is_reused_by_the_next_training_step():
    kept, default = faults_per_step("keep", "default")
    if kept == "unsupported":
        pytest.skip("the C library has no mallopt (not glibc)")
    # default glibc: thousands of pages (MBs) per step given back and faulted in again
    assert float(kept) < 0.1 * float(default), (kept, default)
