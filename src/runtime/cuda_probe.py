"""Skip a CUDA probe that cannot succeed on machines without an NVIDIA driver.

Importing Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1, so that
`torch.cuda.is_available()` asks the driver's NVML library instead of initialising CUDA
(a process that has initialised CUDA cannot fork workers that use it). `torch.optim.Adam`
asks that question at every step. Where no NVIDIA driver is installed (a CPU machine with
torch's default CUDA build: CI, most laptops) the library is missing: every step tries to
load it, fails, and falls back to the CUDA runtime's answer, which it would have got
without trying. The failed load cost 0.3-0.5 ms per step here, 8% of a flat model's CPU
step. Without a driver there is no CUDA to initialise, so the fallback is all there is.
"""
import ctypes
import os

VARIABLE = "PYTORCH_NVML_BASED_CUDA_CHECK"


def skip_missing_nvml() -> bool:
    """Turn the NVML-based check off where NVML cannot be loaded; True when it did."""
    if os.environ.get(VARIABLE) != "1":
        return False
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        os.environ[VARIABLE] = "0"
        return True
    return False
