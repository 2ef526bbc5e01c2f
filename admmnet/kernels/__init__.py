"""The dispatch table of the solver's hot operations.

The solver never calls a backend directly: it asks :func:`get_kernels` for the
table that fits its arrays' namespace and calls the entries. Today the table
holds the array-API reference versions (:mod:`admmnet.kernels.reference`),
with one fast path: on NumPy, :func:`spd_solve` uses SciPy's Cholesky
(``cho_factor``/``cho_solve``), the solve the exact W- and a-updates need.
Numba CPU kernels and CuPy GPU kernels slot in here, entry by entry, each
tested against the reference as its oracle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .._backend import get_namespace, is_numpy_namespace
from . import reference

__all__ = ["Kernels", "get_kernels", "reference"]


@dataclass(frozen=True)
class Kernels:
    """One backend's implementation of each hot operation (see :mod:`.reference`)."""

    name: str
    z_update_piecewise: Callable
    softmax: Callable
    softmax_xent: Callable
    spd_solve: Callable


REFERENCE = Kernels(
    name="reference",
    z_update_piecewise=reference.z_update_piecewise,
    softmax=reference.softmax,
    softmax_xent=reference.softmax_xent,
    spd_solve=reference.spd_solve,
)


def _spd_solve_cholesky_numpy(M, B):
    """``M X = B`` by Cholesky (SciPy/LAPACK ``potrf``+``potrs``); falls back to
    LU when ``M`` is not numerically positive definite."""
    import numpy as np
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    M_, B_ = np.asarray(M), np.asarray(B)
    try:
        return cho_solve(cho_factor(M_, lower=False, check_finite=False), B_, check_finite=False)
    except LinAlgError:
        return np.linalg.solve(M_, B_)


NUMPY = Kernels(
    name="numpy",
    z_update_piecewise=reference.z_update_piecewise,
    softmax=reference.softmax,
    softmax_xent=reference.softmax_xent,
    spd_solve=_spd_solve_cholesky_numpy,
)


def get_kernels(*arrays, backend: str = "auto") -> Kernels:
    """The kernel table for ``arrays``' namespace.

    ``backend="reference"`` forces the array-API versions (the oracle);
    ``"auto"`` picks the fastest table available for the namespace.
    """
    if backend not in ("auto", "reference"):
        raise ValueError(f"backend must be 'auto' or 'reference', got {backend!r}")
    if backend == "reference" or not arrays:
        return REFERENCE
    xp = get_namespace(*arrays)
    if is_numpy_namespace(xp):
        return NUMPY
    return REFERENCE
