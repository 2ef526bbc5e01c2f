r"""Opt-in: large temporaries reused instead of fresh pages, for the length of a fit (glibc only).

One QNN-ADMM iteration on MNIST allocates and frees about twenty ``n_l x m`` arrays. At
200 x 60,000 float32 each is 48 MB. glibc serves every block above its mmap threshold
(dynamic, at most 32 MiB) with freshly mapped pages, which the kernel must fault in and
zero: about 1 GB of zeroing per iteration.

While :func:`reuse_large_blocks` is active, those blocks come from the heap instead, and
a freed block is reused by the next allocation that fits it. It raises
``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` to 1 GiB with ``mallopt``. On exit it
sets both back to glibc's documented defaults (128 KiB; the threshold then stays fixed
instead of adapting), and ``malloc_trim(0)`` returns the free memory to the system.

It is off unless ``ADMMNET_MALLOC_REUSE=1``, because it trades memory for speed. Measured
on the 2-core CI machine, MNIST [784,200,200,10], 60,000 samples, float32, Numba kernels
(three iterations timed after two warm-up ones, one process per setting):

* seconds per iteration, full precision: 0.66 - 0.72 off, 0.62 on;
* seconds per iteration, 2 bits: 0.79 - 0.86 off, 0.72 on;
* peak RSS of ``admmnet train --dataset mnist --iters 2``: 800 MiB off, 820 MiB on.

The live arrays are the same either way. The heap's high-water mark sits above the
peak of the live set, though (freed blocks of mixed sizes fragment it). The extra
20 MiB take that run just past the memory target of ``benchmarks/kernels.py --memory``
(2x the data and the solver state). Where the C library is not glibc (macOS, musl),
it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from contextlib import contextmanager

__all__ = ["reuse_large_blocks", "available"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_REUSE_BYTES = 1 << 30
_DEFAULT_BYTES = 128 * 1024          # glibc's DEFAULT_MMAP_THRESHOLD_MIN and DEFAULT_TRIM_THRESHOLD
_lock = threading.Lock()
_depth = 0
_libc = None


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            if hasattr(lib, "mallopt") and hasattr(lib, "malloc_trim") and hasattr(lib, "gnu_get_libc_version"):
                lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                lib.mallopt.restype = ctypes.c_int
                lib.malloc_trim.argtypes = [ctypes.c_size_t]
                lib.malloc_trim.restype = ctypes.c_int
                _libc = lib
        except OSError:
            pass
    return _libc or None


def available() -> bool:
    """True where :func:`reuse_large_blocks` has an effect: glibc, and ``ADMMNET_MALLOC_REUSE=1``."""
    return os.environ.get("ADMMNET_MALLOC_REUSE", "0").strip() == "1" and _glibc() is not None


@contextmanager
def reuse_large_blocks():
    """``with reuse_large_blocks(): ...``: where :func:`available`, large blocks freed inside are
    reused by later allocations instead of being unmapped (module docstring); otherwise
    nothing. Nests; thread-safe."""
    global _depth
    lib = _glibc() if available() else None
    if lib is None:
        yield
        return
    with _lock:
        if _depth == 0:
            lib.mallopt(_M_MMAP_THRESHOLD, _REUSE_BYTES)
            lib.mallopt(_M_TRIM_THRESHOLD, _REUSE_BYTES)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                lib.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_BYTES)
                lib.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_BYTES)
                lib.malloc_trim(0)
