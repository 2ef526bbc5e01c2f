"""A pool of large host buffers, so that the solver's fresh outputs do not fault in fresh pages.

An iteration on MNIST writes about twenty new 48 MB arrays (products, z-updates,
``h(z)``). Each new array is fresh memory from the operating system: its pages are
faulted in and zeroed on first write, which costs as much as the kernel that
writes them, and more when the kernel has to assemble huge pages (the slow
iterations in the README's speed section). A freed 48 MB array is returned to the
system at once (glibc serves blocks over 32 MB by ``mmap``), so nothing is reused.

:class:`BufferPool` keeps freed blocks and hands them out again, the way CuPy's
memory pool does on the GPU. Every array it hands out is a view of a small
holder object that owns the block; the block goes back to the pool only when the
holder dies, i.e. when the last view of the array is gone. So no live array ever
shares memory with a new one, and the solver's :class:`~admmnet.admm.solver.ProductCache`,
which keys products by the identity of their inputs, stays exact: an array
object is never reused, only memory nobody can reach any more.

Blocks below ``min_bytes`` are left to NumPy (its own small-block cache does
well there). The pool keeps at most ``max_idle_bytes`` of idle blocks and frees
the rest; when a request finds no idle block of its size, every idle block is
freed before new memory is taken, so the pool does not raise the peak memory of
a run whose large allocations all go through it. Blocks are kept only inside
``with pool.active():`` (the solver holds one around each iteration): when it
ends, the idle blocks are freed, and arrays that die later (the solver state at
the end of a fit) free their memory at once, as without a pool. It is used by the Numba kernel
table (the CPU fast path) only: the array-API reference allocates as NumPy does.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import numpy as np

__all__ = ["BufferPool", "default_pool"]


class _Holder:
    """Owns one pooled block and exposes it to NumPy (``__array_interface__``); returns the
    block to its pool when it is garbage-collected, i.e. after the last view of it."""

    __slots__ = ("block", "pool", "__array_interface__")

    def __init__(self, block: np.ndarray, pool: "BufferPool", shape: tuple, dtype: np.dtype):
        self.block = block
        self.pool = pool
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str,
                                    "data": (block.ctypes.data, False), "version": 3}

    def __del__(self):
        try:
            self.pool._give_back(self.block)
        except Exception:  # interpreter shutdown: the pool may be gone already
            pass


class BufferPool:
    """Large blocks reused by exact size (see the module docstring).

    ``empty(shape, dtype)`` returns a new C-contiguous, uninitialised array; blocks of at
    least ``min_bytes`` come from the pool. ``max_idle_bytes`` bounds the memory the pool
    holds while nobody uses it."""

    def __init__(self, *, min_bytes: int = 1 << 22, max_idle_bytes: int = 1 << 27):
        if min_bytes < 1 or max_idle_bytes < 0:
            raise ValueError(f"min_bytes must be >= 1 and max_idle_bytes >= 0, got {min_bytes}, {max_idle_bytes}")
        self.min_bytes = int(min_bytes)
        self.max_idle_bytes = int(max_idle_bytes)
        self._free: dict[int, list[np.ndarray]] = {}
        self._idle = 0
        self._active = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def idle_bytes(self) -> int:
        """Bytes of the blocks the pool holds now, unused."""
        return self._idle

    def empty(self, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype=dtype)
        with self._lock:
            stack = self._free.get(nbytes)
            block = stack.pop() if stack else None
            if block is not None:
                self._idle -= nbytes
                self.hits += 1
            else:
                # new memory is needed: free the idle blocks (of other sizes) first, so that
                # the pool never adds to the peak: idle memory exists only while nothing new
                # is requested from the system
                self.misses += 1
                self._drop_idle()
        if block is None:
            block = np.empty(nbytes, dtype=np.uint8)
        return np.asarray(_Holder(block, self, shape, dtype))

    def empty_like(self, x: np.ndarray) -> np.ndarray:
        return self.empty(x.shape, x.dtype)

    def matmul(self, A, B):
        """``A @ B`` written into a block of the pool when both are 2-D NumPy float arrays of
        one dtype (the products of the CPU path); any other operands: plain ``A @ B``."""
        if (type(A) is np.ndarray and type(B) is np.ndarray and A.ndim == 2 and B.ndim == 2
                and A.dtype == B.dtype and A.dtype.kind == "f"):
            return np.matmul(A, B, out=self.empty((A.shape[0], B.shape[1]), A.dtype))
        return A @ B

    @contextmanager
    def active(self):
        """``with pool.active(): ...``: freed blocks are kept for reuse only inside such a block
        (nested blocks allowed); when the outermost one ends, the idle blocks are freed. Outside,
        a freed block goes straight back to the system, as without a pool."""
        with self._lock:
            self._active += 1
        try:
            yield self
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._drop_idle()

    def _give_back(self, block: np.ndarray) -> None:
        n = int(block.nbytes)
        with self._lock:
            if self._active and self._idle + n <= self.max_idle_bytes:
                self._free.setdefault(n, []).append(block)
                self._idle += n

    def clear(self) -> None:
        """Free every idle block."""
        with self._lock:
            self._drop_idle()

    def _drop_idle(self) -> None:       # with the lock held
        self._free.clear()
        self._idle = 0


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name, "").strip()
    return int(v) if v else default


#: The pool of the Numba kernel table. ``ADMMNET_POOL_IDLE_MB`` sets its idle cap
#: (default 128 MiB; 0 turns reuse off).
default_pool = BufferPool(max_idle_bytes=_env_int("ADMMNET_POOL_IDLE_MB", 128) << 20)
