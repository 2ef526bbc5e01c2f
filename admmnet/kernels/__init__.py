"""The dispatch table of the solver's hot operations.

The solver never calls a backend directly: it asks :func:`get_kernels` for the
table that fits its arrays' namespace and calls the entries. Tables:

=============  ==============================================================
``reference``  the array-API versions (:mod:`.reference`): any backend, the oracle
``numpy``      reference + SciPy's Cholesky for the SPD solves/inverses
``numba``      Numba CPU kernels (:mod:`.numba_cpu`) + SciPy's Cholesky; chosen
               automatically for NumPy arrays when Numba is installed
``cupy``       CuPy GPU kernels (:mod:`.cupy_gpu`); chosen for CuPy arrays
=============  ==============================================================

Every fast entry has the signature of its reference version and is tested
against it (``tests/test_kernels.py``). The matrix products themselves are
plain ``@`` (BLAS / cuBLAS), counted through :mod:`.gemm`; a table's ``pool``
(:mod:`.pool`; the Numba table's only) lets an iteration's large outputs reuse
the memory of dead ones.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from .._backend import get_namespace, is_cupy_namespace, is_numpy_namespace
from . import gemm, numba_cpu, reference

__all__ = ["Kernels", "get_kernels", "reference", "gemm", "REFERENCE", "NUMPY", "BACKENDS",
           "available_backends"]

BACKENDS = ("auto", "reference", "numpy", "numba", "cupy")


@dataclass(frozen=True)
class Kernels:
    """One backend's implementation of each hot operation (see :mod:`.reference`)."""

    name: str
    z_update_piecewise: Callable
    softmax: Callable
    softmax_xent: Callable
    spd_solve: Callable
    fista_step: Callable = reference.fista_step
    sq_norm_axpy: Callable = reference.sq_norm_axpy
    proj_step: Callable = reference.proj_step
    spd_inverse: Callable = reference.spd_inverse
    spd_factor: Callable = reference.spd_factor
    axpby: Callable = reference.axpby
    activate: Callable = reference.activate
    add_bias: Callable = reference.add_bias
    row_sums: Callable = reference.row_sums
    pool: object = None          # BufferPool for large outputs (products included), or None


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
        return _lu_or_lstsq(M_, B_)


def _lu_or_lstsq(M, B):
    """``M X = B`` by LU; a numerically singular ``M`` (extreme but legal penalties) gets
    the least-squares, minimum-norm solution instead of an error."""
    import numpy as np

    try:
        return np.linalg.solve(M, B)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(M, B, rcond=None)[0]


def _spd_factor_cholesky_numpy(M):
    """Cholesky factor of ``M`` (LAPACK ``potrf``) as a solver ``B -> M^{-1} B``; LU if not SPD."""
    import numpy as np
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    M_ = np.asarray(M)
    try:
        c = cho_factor(M_, lower=False, check_finite=False)
    except LinAlgError:
        return lambda B: _lu_or_lstsq(M_, np.asarray(B))
    return lambda B: cho_solve(c, np.asarray(B), check_finite=False)


def _spd_inverse_cholesky_numpy(M):
    """``M^{-1}`` by Cholesky (LAPACK ``potrf`` + ``potri``), symmetrised; LU inverse as fallback."""
    import numpy as np
    from scipy.linalg import lapack

    M_ = np.asarray(M)
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (M_,))
    c, info = potrf(M_, lower=False, clean=True, overwrite_a=False)
    if info == 0:
        inv, info = potri(c, lower=False, overwrite_c=True)
        if info == 0:
            inv = np.triu(inv)
            return (inv + np.triu(inv, 1).T).astype(M_.dtype, copy=False)
    try:
        return np.linalg.inv(M_)
    except np.linalg.LinAlgError:   # numerically singular: the pseudo-inverse
        return np.linalg.pinv(M_, hermitian=True)


NUMPY = replace(REFERENCE, name="numpy", spd_solve=_spd_solve_cholesky_numpy,
                spd_inverse=_spd_inverse_cholesky_numpy, spd_factor=_spd_factor_cholesky_numpy)

NUMBA = replace(
    NUMPY, name="numba",
    z_update_piecewise=numba_cpu.z_update_piecewise,
    softmax=numba_cpu.softmax,
    softmax_xent=numba_cpu.softmax_xent,
    fista_step=numba_cpu.fista_step,
    sq_norm_axpy=numba_cpu.sq_norm_axpy,
    proj_step=numba_cpu.proj_step,
    axpby=numba_cpu.axpby,
    activate=numba_cpu.activate,
    add_bias=numba_cpu.add_bias,
    row_sums=numba_cpu.row_sums,
    pool=numba_cpu.default_pool,
)


def _cupy_table() -> Kernels:
    from . import cupy_gpu

    return replace(
        REFERENCE, name="cupy",
        z_update_piecewise=cupy_gpu.z_update_piecewise,
        softmax_xent=cupy_gpu.softmax_xent,
        fista_step=cupy_gpu.fista_step,
        sq_norm_axpy=cupy_gpu.sq_norm_axpy,
        proj_step=cupy_gpu.proj_step,
        axpby=cupy_gpu.axpby,
        spd_solve=cupy_gpu.spd_solve,
        spd_inverse=cupy_gpu.spd_inverse,
    )


def available_backends() -> list[str]:
    """The kernel tables usable on this machine, reference first."""
    out = ["reference", "numpy"]
    if numba_cpu.AVAILABLE:
        out.append("numba")
    from . import cupy_gpu

    if cupy_gpu.available():
        out.append("cupy")
    return out


_ANNOUNCED = []


def _announce_compilation() -> None:
    """Say once per process, on stderr, when the Numba kernels have no compiled cache yet
    (the first run after an install compiles them: tens of seconds with no other output)."""
    if _ANNOUNCED:
        return
    _ANNOUNCED.append(True)
    import sys
    from pathlib import Path

    cache = Path(numba_cpu.__file__).parent / "__pycache__"
    if not any(cache.glob("numba_cpu.*.nbi")):
        print("admmnet: compiling the Numba CPU kernels (first run after installing; about 30 s, "
              "cached for later runs)", file=sys.stderr, flush=True)


def get_kernels(*arrays, backend: str = "auto") -> Kernels:
    """The kernel table for ``arrays``' namespace.

    ``backend="reference"`` forces the array-API versions (the oracle);
    ``"auto"`` picks the fastest table available for the namespace: ``numba``
    for NumPy arrays when Numba is installed (else ``numpy``), ``cupy`` for
    CuPy arrays, ``reference`` otherwise. ``"numpy"``, ``"numba"`` and
    ``"cupy"`` ask for one table by name (an error if it cannot serve the arrays).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "reference":
        return REFERENCE
    xp = get_namespace(*arrays) if arrays else None
    if backend in ("numpy", "numba") and xp is not None and not is_numpy_namespace(xp):
        raise ValueError(f"backend={backend!r} needs NumPy arrays")
    if backend == "numpy":
        return NUMPY
    if backend == "numba":
        if not numba_cpu.AVAILABLE:
            raise ValueError("backend='numba' needs Numba (an admmnet dependency: pip install numba) "
                             "and ADMMNET_NO_NUMBA unset")
        return NUMBA
    if backend == "cupy":
        if xp is not None and not is_cupy_namespace(xp):
            raise ValueError("backend='cupy' needs CuPy arrays")
        return _cupy_table()
    if xp is None:
        return REFERENCE
    if is_numpy_namespace(xp):
        if numba_cpu.AVAILABLE:
            _announce_compilation()
            return NUMBA
        return NUMPY
    if is_cupy_namespace(xp):
        return _cupy_table()
    return REFERENCE
