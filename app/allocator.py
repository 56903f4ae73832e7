"""Keep the server's resident memory flat under concurrent large uploads (glibc).

glibc gives each thread its own malloc arena and, after the first large block is
freed, raises its mmap threshold so that later multi-megabyte photo buffers come from
those arenas, which rarely shrink. Twenty concurrent 6 MB uploads then leave a few
hundred megabytes resident. A fixed 1 MiB mmap threshold returns every large buffer to
the system when it is freed, and two arenas bound the per-thread overhead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 << 20
ARENA_MAX = 2


def tune_allocator() -> bool:
    """Apply the settings above on Linux with glibc; False (no change) elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    library = ctypes.util.find_library("c")
    if library is None:
        return False
    libc = ctypes.CDLL(library)
    if not hasattr(libc, "mallopt"):
        return False
    applied = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    applied &= libc.mallopt(_M_ARENA_MAX, ARENA_MAX) == 1
    logger.info("glibc allocator tuned for large photo buffers: %s", applied)
    return applied
