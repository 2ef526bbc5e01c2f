"""The matrix products of the solver, counted.

Every large product of a QNN-ADMM iteration goes through :func:`mm` (a
general product) or :func:`gram` (``a a^T``, a symmetric rank-k update: half
the FLOPs of a general product); a Cholesky solve against many right-hand
sides (two triangular solves, as many FLOPs as a product with the inverse)
is recorded by :func:`solved`. Both are plain ``@`` on any array-API
backend; inside :func:`count_gemms` they also record their shapes and FLOPs,
which is how ``benchmarks/kernels.py`` and the tests measure the GEMM count
of one iteration instead of trusting a hand count.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["mm", "gram", "solved", "count_gemms", "GemmCount", "pooled"]


@dataclass
class GemmCount:
    """Products seen inside :func:`count_gemms`: one ``(m, n, k, kind, flops)`` per call."""

    calls: list = field(default_factory=list)

    @property
    def flops(self) -> int:
        return sum(c[4] for c in self.calls)

    @property
    def n(self) -> int:
        return len(self.calls)

    def add(self, m: int, n: int, k: int, kind: str) -> None:
        flops = m * (m + 1) * k if kind == "syrk" else 2 * m * n * k   # gemm; trsm pair: 2 n^2 k
        self.calls.append((m, n, k, kind, flops))

    def table(self) -> list[dict]:
        """Products grouped by shape: ``[{m, n, k, kind, count, flops}]``, largest first."""
        groups: dict = {}
        for m, n, k, kind, f in self.calls:
            g = groups.setdefault((m, n, k, kind), {"m": m, "n": n, "k": k, "kind": kind, "count": 0, "flops": 0})
            g["count"] += 1
            g["flops"] += f
        return sorted(groups.values(), key=lambda g: -g["flops"])


_active: list[GemmCount] = []


@contextmanager
def count_gemms():
    """``with count_gemms() as c: ...`` records every :func:`mm`/:func:`gram` call in ``c``."""
    c = GemmCount()
    _active.append(c)
    try:
        yield c
    finally:
        _active.remove(c)


_local = threading.local()      # the pools of the ``pooled`` blocks open in this thread


@contextmanager
def pooled(pool):
    """``with pooled(pool): ...`` writes the products of NumPy arrays into blocks of ``pool``
    (a :class:`~admmnet.kernels.pool.BufferPool`, kept active meanwhile; None: NumPy
    allocates, as outside). Per thread: fits running in other threads are not affected."""
    stack = _local.__dict__.setdefault("pools", [])
    stack.append(pool)
    try:
        if pool is None:
            yield
        else:
            with pool.active():
                yield
    finally:
        stack.pop()


def _product(A, B):
    stack = getattr(_local, "pools", None)
    pool = stack[-1] if stack else None
    return A @ B if pool is None else pool.matmul(A, B)


def mm(A, B):
    """``A @ B`` (2-D), counted as ``2 m n k`` FLOPs."""
    if _active:
        m, k = A.shape
        n = B.shape[1]
        for c in _active:
            c.add(int(m), int(n), int(k), "gemm")
    return _product(A, B)


def gram(a):
    """``a a^T`` (SYRK where the backend detects it, as NumPy does), counted as ``n (n + 1) k`` FLOPs."""
    if _active:
        n, k = a.shape
        for c in _active:
            c.add(int(n), int(n), int(k), "syrk")
    return _product(a, a.T)


def solved(M, B) -> None:
    """Record a solve ``M X = B`` with an n x n factorised M and k right-hand sides
    (two triangular solves: ``2 n^2 k`` FLOPs, kind "trsm")."""
    if _active:
        n = int(M.shape[0])
        k = int(B.shape[1]) if B.ndim == 2 else 1
        for c in _active:
            c.add(n, n, k, "trsm")
