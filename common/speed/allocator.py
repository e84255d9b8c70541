"""Keep freed memory in the process instead of handing it back to the OS after every step (glibc).

Each training step of a GMVAE allocates and frees intermediates of about 0.5 MB (rows x clusters x
hidden units, 256 x 7 x 64 floats for the cuisine default). glibc serves blocks that big with a fresh
mmap, or trims its heap once more than twice that is free at its top, so the next step takes its
memory from the OS again, one page fault per 4 kB page: about 130 faults a step, measured with
resource.getrusage, 10-15% of the step. With the thresholds raised, freed blocks are reused
(0.4-0.8 faults a step). The cost: up to M_TRIM_THRESHOLD of freed memory stays with the process.
"""

import ctypes
import ctypes.util
import platform

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for its dynamic threshold on 64-bit systems
TRIM_THRESHOLD = 128 << 20


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds for this process; return whether it applied (glibc only:
    musl, macOS and Windows allocators are left as they are)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return False
    # mallopt returns 1 on success; the mmap threshold first: setting either fixes both thresholds.
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
