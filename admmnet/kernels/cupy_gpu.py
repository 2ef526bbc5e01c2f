"""CuPy GPU kernels for the solver's hot spots.

With CuPy arrays the whole solver runs on the device through the same
array-API code as on the CPU (``xp`` is ``array_api_compat.cupy``; products go
to cuBLAS, SPD solves to cuSOLVER). These fused kernels replace the
elementwise and reduction chains that would otherwise launch one kernel per
operation:

* :func:`z_update_piecewise` — one ``cupy.ElementwiseKernel`` for every piece of h;
* :func:`softmax_xent`, :func:`fista_step` — one thread per sample (column):
  max, exponentials, gradient, prox step and the two stopping sums in one
  kernel; the sums come back to the host together (one transfer per step);
* :func:`sq_norm_axpy` — one ``cupy.ReductionKernel`` (``||x + s y||^2``);
* :func:`proj_step` — nearest level in one ``ElementwiseKernel``, the row
  sums by CuPy reductions.

Each function has the signature of its :mod:`admmnet.kernels.reference`
version and is tested against it (``tests/test_kernels.py``, skipped without
a GPU). CuPy is imported lazily: importing this module never fails.
"""
from __future__ import annotations

from functools import lru_cache

from . import reference

__all__ = ["available", "z_update_piecewise", "softmax_xent", "fista_step", "sq_norm_axpy", "axpby", "proj_step",
           "spd_solve", "spd_inverse", "to_device"]


def available() -> bool:
    """CuPy is importable and sees at least one GPU."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver
        return False


def to_device(x, dtype=None):
    """Copy a host array to the current GPU (once, at the start of a fit)."""
    import cupy

    return cupy.asarray(x, dtype=dtype)


@lru_cache(maxsize=None)
def _kernels():
    import cupy as cp

    z_update = cp.ElementwiseKernel(
        "T p, T a, raw T tab, int32 K", "T z",
        """
        T bz = p, bf = p;
        for (int k = 0; k < K; ++k) {
            const T lo = tab[7 * k], hi = tab[7 * k + 1], s = tab[7 * k + 2], c = tab[7 * k + 3];
            T cand, rsq = 0;
            if (s == (T)0) { cand = p; const T d0 = a - c; rsq = d0 * d0; }
            else { cand = (p + tab[7 * k + 4] * (a - c)) / tab[7 * k + 5]; }
            if (cand < lo) cand = lo;
            if (cand > hi) cand = hi;
            if (s != (T)0) { const T res = a - (s * cand + c); rsq = res * res; }
            const T diff = cand - p;
            const T f = diff * diff + tab[7 * k + 6] * rsq;
            if (k == 0 || f < bf) { bz = cand; bf = f; }
        }
        z = bz;
        """,
        "admmnet_z_update")

    # one thread per column j of the n x m logits (C order: element (k, j) at k * m + j)
    fista = cp.ElementwiseKernel(
        "raw T z, raw T zo, T c, raw T bq, raw T y, T eta, T denom, T lo, int32 n, int32 m",
        "raw T out, raw float64 st, raw float64 nr",
        """
        const int j = i;
        T mx = 0;
        for (int k = 0; k < n; ++k) {
            const T zc = z[k * m + j];
            const T v = (c != (T)0) ? zc + c * (zc - zo[k * m + j]) : zc;
            out[k * m + j] = v;
            if (k == 0 || v > mx || v != v) mx = v;
        }
        T s = 0;
        for (int k = 0; k < n; ++k) { T sh = out[k * m + j] - mx; if (sh < lo) sh = lo; s += exp(sh); }
        double a2 = 0, b2 = 0;
        for (int k = 0; k < n; ++k) {
            const T zh = out[k * m + j];
            T sh = zh - mx; if (sh < lo) sh = lo;
            const T g = exp(sh) / s - y[k * m + j];
            const T zn = (eta * zh + bq[k * m + j] - g) / denom;
            out[k * m + j] = zn;
            const double d = (double)(zn - z[k * m + j]);
            a2 += d * d; b2 += (double)zn * (double)zn;
        }
        st[j] = a2; nr[j] = b2;
        """,
        "admmnet_fista_step")

    xent = cp.ElementwiseKernel(
        "raw T z, raw T y, T lo, int32 n, int32 m",
        "raw T g, raw float64 val",
        """
        const int j = i;
        T mx = 0;
        for (int k = 0; k < n; ++k) { const T v = z[k * m + j]; if (k == 0 || v > mx || v != v) mx = v; }
        T s = 0; double v = 0;
        for (int k = 0; k < n; ++k) {
            T sh = z[k * m + j] - mx; if (sh < lo) sh = lo;
            const T e = exp(sh); g[k * m + j] = e; s += e;
            v -= (double)(y[k * m + j] * sh);
        }
        for (int k = 0; k < n; ++k) g[k * m + j] = g[k * m + j] / s - y[k * m + j];
        val[j] = v + (double)log(s);
        """,
        "admmnet_softmax_xent")

    sq_axpy = cp.ReductionKernel(
        "T x, T y, T s", "float64 out",
        "(double)((x + s * y) * (x + s * y))", "a + b", "out = a", "0", "admmnet_sq_norm_axpy")

    round_codes = cp.ElementwiseKernel(
        "T w, T al, T qmax, bool zero", "T q",
        """
        const T x = w / al;
        if (zero) { T r = rint(x); q = r > qmax ? qmax : (r < -qmax ? -qmax : r); }
        else { q = x >= (T)0 ? (T)1 : (T)-1; }
        """,
        "admmnet_round_codes")
    axpby = cp.ElementwiseKernel("T alpha, T x, T beta, T y", "T out", "out = alpha * x + beta * y",
                                 "admmnet_axpby")
    return {"z_update": z_update, "fista": fista, "xent": xent, "sq_axpy": sq_axpy, "round": round_codes,
            "axpby": axpby}


def _is_cupy(*arrays) -> bool:
    try:
        import cupy
    except ImportError:  # pragma: no cover
        return False
    return all(isinstance(x, cupy.ndarray) and x.dtype.kind == "f" and x.dtype.itemsize in (4, 8)
               for x in arrays)


def _floor(dtype) -> float:
    import numpy as np

    return -0.25 * float(np.finfo(dtype).max)


@lru_cache(maxsize=64)
def _piece_table(pieces, rho: float, dtype_str: str):
    import cupy as cp
    import numpy as np

    rows = [(lo, hi, s, c, rho * s, 1.0 + rho * s * s, rho) for lo, hi, s, c in pieces]
    return cp.asarray(np.asarray(rows, dtype=np.float64).astype(dtype_str).reshape(-1))


def z_update_piecewise(p, a, beta: float, gamma: float, pieces):
    """CuPy version of :func:`admmnet.kernels.reference.z_update_piecewise` (one fused kernel)."""
    if not _is_cupy(p, a) or p.dtype != a.dtype:
        return reference.z_update_piecewise(p, a, beta, gamma, pieces)
    tab = _piece_table(tuple(tuple(float(v) for v in pc) for pc in pieces), gamma / beta, p.dtype.str)
    return _kernels()["z_update"](p, a, tab, len(pieces))


def softmax_xent(z, y):
    """CuPy version of :func:`admmnet.kernels.reference.softmax_xent` (one thread per column)."""
    import cupy as cp

    if not _is_cupy(z, y) or z.ndim != 2 or z.shape != y.shape or z.dtype != y.dtype or z.size == 0:
        return reference.softmax_xent(z, y)
    z, y = cp.ascontiguousarray(z), cp.ascontiguousarray(y)
    n, m = z.shape
    g = cp.empty_like(z)
    val = cp.empty(m, dtype=cp.float64)
    _kernels()["xent"](z, y, z.dtype.type(_floor(z.dtype)), n, m, g, val, size=m)
    return cp.sum(val).astype(z.dtype), g


def fista_step(z, z_old, c: float, bq, y, eta: float, beta: float):
    """CuPy version of :func:`admmnet.kernels.reference.fista_step`: one kernel, one host transfer."""
    import cupy as cp

    if not _is_cupy(z, z_old, bq, y) or z.ndim != 2 or z.size == 0 or len({v.dtype for v in (z, z_old, bq, y)}) != 1:
        return reference.fista_step(z, z_old, c, bq, y, eta, beta)
    z, z_old, bq, y = (cp.ascontiguousarray(v) for v in (z, z_old, bq, y))
    n, m = z.shape
    t = z.dtype.type
    out = cp.empty_like(z)
    st = cp.empty(m, dtype=cp.float64)
    nr = cp.empty(m, dtype=cp.float64)
    _kernels()["fista"](z, z_old, t(c), bq, y, t(eta), t(eta + beta), t(_floor(z.dtype)), n, m,
                        out, st, nr, size=m)
    step2, norm2 = cp.stack([cp.sum(st), cp.sum(nr)]).get().tolist()
    return out, float(step2), float(norm2)


def sq_norm_axpy(x, y, s: float):
    """CuPy version of :func:`admmnet.kernels.reference.sq_norm_axpy` (one reduction kernel)."""
    if not _is_cupy(x, y) or x.dtype != y.dtype:
        return reference.sq_norm_axpy(x, y, s)
    return _kernels()["sq_axpy"](x, y, x.dtype.type(s)).astype(x.dtype)


def axpby(alpha: float, x, beta: float, y, out=None):
    """CuPy version of :func:`admmnet.kernels.reference.axpby` (one fused kernel, into ``out`` if given)."""
    import cupy as cp

    if not _is_cupy(x, y) or x.dtype != y.dtype or x.shape != y.shape:
        return reference.axpby(alpha, x, beta, y)
    t = x.dtype.type
    kernel = _kernels()["axpby"]
    if isinstance(out, cp.ndarray) and out.shape == x.shape and out.dtype == x.dtype:
        return kernel(t(alpha), x, t(beta), y, out)
    return kernel(t(alpha), x, t(beta), y)  # an ElementwiseKernel takes no None for its output


def proj_step(Wn, alpha, Q_prev, qmax: int, zero: bool):
    """CuPy version of :func:`admmnet.kernels.reference.proj_step` (fused rounding, CuPy row sums)."""
    import cupy as cp

    if not _is_cupy(Wn, alpha) or Wn.ndim != 2:
        return reference.proj_step(Wn, alpha, Q_prev, qmax, zero)
    Q = _kernels()["round"](Wn, alpha, Wn.dtype.type(qmax), bool(zero))
    dot = cp.sum(Wn * Q, axis=1, keepdims=True)
    qq = cp.sum(Q * Q, axis=1, keepdims=True)
    ok = (qq > 0) & (dot > 0)
    alpha = cp.where(ok, dot / cp.where(ok, qq, 1), alpha).astype(Wn.dtype)
    r = Wn - alpha * Q
    loss = cp.sum(r * r, axis=1, keepdims=True)
    same = None if Q_prev is None else cp.all(Q == Q_prev, axis=1, keepdims=True)
    return Q, alpha, loss, same


def spd_solve(M, B):
    """``M X = B`` on the GPU (cuSOLVER through ``cupy.linalg.solve``)."""
    import cupy as cp

    return cp.linalg.solve(M, B)


def spd_inverse(M):
    """``M^{-1}`` on the GPU (the a-update applies it to m columns with one cuBLAS GEMM)."""
    import cupy as cp

    return cp.linalg.inv(M)
