"""glibc malloc tuning for training on the CPU: keep freed memory in the process for reuse.

Each training step allocates and frees the same large buffers (activations, gradients,
the bf16 copies of the weights under autocast). By default glibc hands large freed blocks
back to the OS, and the next step faults the pages in again, zero-filled, which costs
about as much as a cast or copy of the buffer itself. Keeping them makes CPU steps faster
(README, Speed) at the cost of holding on to the peak memory the training reached.

This is what the environment variables MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_
do, set at run time through mallopt(3), so that `python -m src.train` gets it without a
wrapper script.
"""
import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks up to 32 MiB come from the heap, not mmap
TRIM_THRESHOLD = 1 << 30  # the heap is given back to the OS only beyond 1 GiB free at its top


def keep_freed_memory() -> bool:
    """Apply the settings to this process; False where the C library has no mallopt (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
