"""src/cuda_probe.py: without an NVIDIA driver, Adam steps stop trying to load NVML."""
import subprocess
import sys

import pytest

from tests.helpers.processes import ROOT

# Counts the attempts to load NVML (torch imports ctypes.CDLL at each probe) during five
# Adam steps, before and after skip_missing_nvml(), in a fresh process: the setting is an
# environment variable that lasts for the rest of the process.
ADAM_STEPS = """
import ctypes, os
import pytorch_lightning  # sets PYTORCH_NVML_BASED_CUDA_CHECK=1, as in every run
import torch
from src.runtime.cuda_probe import skip_missing_nvml

loads = []

class CountingCDLL(ctypes.CDLL):
    def __init__(self, name, *args, **kwargs):
        loads.append(str(name))
        super().__init__(name, *args, **kwargs)

ctypes.CDLL = CountingCDLL
weight = torch.nn.Parameter(torch.ones(3))
optimizer = torch.optim.Adam([weight], lr=0.1)

def nvml_loads_in_five_steps():
    loads.clear()
    for _ in range(5):
        weight.grad = torch.ones(3)
        optimizer.step()
    return sum("nvidia-ml" in name for name in loads)

answer = torch.cuda.is_available()
before = nvml_loads_in_five_steps()
skipped = skip_missing_nvml()
after = nvml_loads_in_five_steps()
print(before, after, skipped, answer == torch.cuda.is_available(), os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"])
"""


@pytest.mark.slow
def test_adam_steps_stop_loading_nvml_where_it_is_missing():
    run = subprocess.run([sys.executable, "-c", ADAM_STEPS], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    before, after, skipped, same_answer, variable = run.stdout.split()
    assert same_answer == "True"  # whether CUDA is available does not change
    if skipped == "True":  # no NVIDIA driver: every step tried to load NVML, now none does
        assert (int(before), int(after), variable) == (5, 0, "0")
    else:  # NVML loads: the probe is left as Lightning set it
        assert variable == "1"
