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
* :func:`sq_norm_axpy` — ``||x + s y||^2`` by a grid-stride raw kernel that
  writes one float64 partial sum per block, then a sum of the partials;
* :func:`proj_step` — nearest level, ``<W,Q>``, ``<Q,Q>`` and the count of
  changed codes in one raw kernel, the row loss in a second; each row is
  split over several blocks (a layer-wise projection is one row of 156,800
  weights), each block writing float64 partials.

Why raw kernels for the sums: CuPy's generic reduction gives each output one
thread block, so a full sum of a 200 x 60,000 array (one output) ran on one
block of one SM: 9.9 ms on an H100, against 0.6 ms for the 2-core Numba
kernel. Partials per block, summed in a fixed order, keep the result
deterministic (no atomics).

Each function has the signature of its :mod:`admmnet.kernels.reference`
version and is tested against it (``tests/test_kernels.py``, skipped without
a GPU). CuPy is imported lazily: importing this module never fails.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

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

    axpby = cp.ElementwiseKernel("T alpha, T x, T beta, T y", "T out", "out = alpha * x + beta * y",
                                 "admmnet_axpby")
    return {"z_update": z_update, "fista": fista, "xent": xent, "axpby": axpby}


# --------------------------------------------------------------------------- block-partial sums
_THREADS = 256          # threads per block of the reduction kernels (a multiple of the warp)
_MAX_BLOCKS = 2048      # grid-stride loops beyond this: ~16 blocks per SM on an H100 is plenty

_REDUCTION_SOURCE = r"""
__device__ __forceinline__ double admmnet_block_sum(double v) {
    // sum of v over the block, valid in thread 0 (blockDim.x a multiple of 32, <= 1024)
    __shared__ double warp_sums[32];
    __syncthreads();                       // a previous call's readers are done with warp_sums
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    if (lane == 0) warp_sums[w] = v;
    __syncthreads();
    v = (threadIdx.x < (blockDim.x >> 5)) ? warp_sums[threadIdx.x] : 0.0;
    if (w == 0) for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

// ||x + s y||^2: one float64 partial per block
extern "C" __global__ void admmnet_sq_axpy_TYPE(const TYPE* __restrict__ x, const TYPE* __restrict__ y,
                                                const TYPE s, const long long n, double* __restrict__ part) {
    double acc = 0.0;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const TYPE v = x[i] + s * y[i];
        acc += (double)v * (double)v;
    }
    acc = admmnet_block_sum(acc);
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

// One alternation of the alpha/Q projection, step 1 (eq. 4.17 and the sums of eq. 4.16).
// Row r = blockIdx.y, split over gridDim.x blocks. Q = Pi_C(Wn / alpha) and per block the
// partials of <Wn, Q>, <Q, Q> and of the number of codes that differ from Q_prev.
extern "C" __global__ void admmnet_proj_TYPE(const TYPE* __restrict__ Wn, const TYPE* __restrict__ alpha,
                                             const TYPE* __restrict__ Qprev, const int has_prev,
                                             const TYPE qmax, const int zero, const long long C,
                                             TYPE* __restrict__ Q, double* __restrict__ part) {
    const long long r = blockIdx.y;
    const TYPE al = alpha[r];
    double dot = 0.0, qq = 0.0, changed = 0.0;
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < C;
         j += (long long)gridDim.x * blockDim.x) {
        const long long k = r * C + j;
        const TYPE w = Wn[k];
        const TYPE x = w / al;
        TYPE c;
        if (zero) { c = RINT(x); c = c > qmax ? qmax : (c < -qmax ? -qmax : c); }
        else { c = x >= (TYPE)0 ? (TYPE)1 : (TYPE)-1; }
        Q[k] = c;
        dot += (double)w * (double)c;
        qq += (double)c * (double)c;
        if (has_prev && Qprev[k] != c) changed += 1.0;
    }
    dot = admmnet_block_sum(dot);
    qq = admmnet_block_sum(qq);
    changed = admmnet_block_sum(changed);
    if (threadIdx.x == 0) {
        const long long o = 3 * (r * gridDim.x + blockIdx.x);
        part[o] = dot; part[o + 1] = qq; part[o + 2] = changed;
    }
}

// Step 2: the row loss ||Wn - alpha Q||^2 with the updated alpha, one partial per block.
extern "C" __global__ void admmnet_proj_loss_TYPE(const TYPE* __restrict__ Wn, const TYPE* __restrict__ alpha,
                                                  const TYPE* __restrict__ Q, const long long C,
                                                  double* __restrict__ part) {
    const long long r = blockIdx.y;
    const TYPE al = alpha[r];
    double acc = 0.0;
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < C;
         j += (long long)gridDim.x * blockDim.x) {
        const TYPE d = Wn[r * C + j] - al * Q[r * C + j];
        acc += (double)d * (double)d;
    }
    acc = admmnet_block_sum(acc);
    if (threadIdx.x == 0) part[r * gridDim.x + blockIdx.x] = acc;
}
"""


@lru_cache(maxsize=None)
def _reduction_kernels(type_name: str):
    """The raw reduction kernels for ``float`` or ``double`` (compiled once per process)."""
    import cupy as cp

    code = _REDUCTION_SOURCE.replace("RINT", "rintf" if type_name == "float" else "rint")
    module = cp.RawModule(code=code.replace("TYPE", type_name))
    return {k: module.get_function(f"admmnet_{k}_{type_name}") for k in ("sq_axpy", "proj", "proj_loss")}


def _ctype(dtype) -> str:
    return "float" if dtype.itemsize == 4 else "double"


def _blocks(n: int) -> int:
    """Blocks of a grid-stride loop over ``n`` items: about four items per thread, at most _MAX_BLOCKS."""
    return max(1, min(_MAX_BLOCKS, -(-n // (4 * _THREADS))))


def _is_cupy(*arrays) -> bool:
    try:
        import cupy
    except ImportError:  # pragma: no cover
        return False
    return all(isinstance(x, cupy.ndarray) and x.dtype.kind == "f" and x.dtype.itemsize in (4, 8)
               for x in arrays)


def _floor(dtype) -> float:
    return -0.25 * float(np.finfo(dtype).max)


@lru_cache(maxsize=64)
def _piece_table(pieces, rho: float, dtype_str: str):
    import cupy as cp

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
    """CuPy version of :func:`admmnet.kernels.reference.sq_norm_axpy`: one pass, float64 block
    partials, then their sum (a 0-d array of x's dtype; nothing comes back to the host)."""
    import cupy as cp

    if not _is_cupy(x, y) or x.dtype != y.dtype or x.shape != y.shape or x.size == 0:
        return reference.sq_norm_axpy(x, y, s)
    x, y = cp.ascontiguousarray(x), cp.ascontiguousarray(y)
    n = x.size
    nb = _blocks(n)
    part = cp.empty(nb, dtype=cp.float64)
    _reduction_kernels(_ctype(x.dtype))["sq_axpy"]((nb,), (_THREADS,), (x, y, x.dtype.type(s), np.int64(n), part))
    return cp.sum(part).astype(x.dtype)


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
    """CuPy version of :func:`admmnet.kernels.reference.proj_step`.

    One kernel rounds ``Wn / alpha`` to codes (eq. 4.17) and sums ``<Wn, Q>``,
    ``<Q, Q>`` and the changed codes per row; ``alpha' = <Wn,Q>/<Q,Q>`` (eq. 4.16,
    rows with ``<Q,Q> = 0`` or ``<Wn,Q> <= 0`` keep alpha) on the (R, 1)
    column; a second kernel sums the row loss ``||Wn - alpha' Q||^2``. Sums in
    float64. No host transfer."""
    import cupy as cp

    if (not _is_cupy(Wn, alpha) or Wn.ndim != 2 or Wn.size == 0 or alpha.dtype != Wn.dtype
            or alpha.size != Wn.shape[0] or Wn.shape[0] > 65535
            or (Q_prev is not None and (not _is_cupy(Q_prev) or Q_prev.shape != Wn.shape
                                        or Q_prev.dtype != Wn.dtype))):
        return reference.proj_step(Wn, alpha, Q_prev, qmax, zero)
    R, C = Wn.shape
    t = Wn.dtype.type
    Wn = cp.ascontiguousarray(Wn)
    alpha = cp.ascontiguousarray(cp.reshape(alpha, (R, 1)))
    prev = Wn if Q_prev is None else cp.ascontiguousarray(Q_prev)   # not read when there is none
    nb = _blocks(C)
    kern = _reduction_kernels(_ctype(Wn.dtype))
    Q = cp.empty_like(Wn)
    part = cp.empty((R, nb, 3), dtype=cp.float64)
    kern["proj"]((nb, R), (_THREADS,), (Wn, alpha, prev, np.int32(Q_prev is not None), t(qmax),
                                        np.int32(bool(zero)), np.int64(C), Q, part))
    sums = cp.sum(part, axis=1)                                     # (R, 3): <W,Q>, <Q,Q>, changed
    dot, qq = sums[:, 0:1], sums[:, 1:2]
    ok = (qq > 0) & (dot > 0)
    alpha = cp.where(ok, dot / cp.where(ok, qq, 1.0), alpha).astype(Wn.dtype)
    lpart = cp.empty((R, nb), dtype=cp.float64)
    kern["proj_loss"]((nb, R), (_THREADS,), (Wn, alpha, Q, np.int64(C), lpart))
    loss = cp.sum(lpart, axis=1, keepdims=True).astype(Wn.dtype)
    same = None if Q_prev is None else sums[:, 2:3] == 0
    return Q, alpha, loss, same


def spd_solve(M, B):
    """``M X = B`` on the GPU (cuSOLVER through ``cupy.linalg.solve``)."""
    import cupy as cp

    return cp.linalg.solve(M, B)


def spd_inverse(M):
    """``M^{-1}`` on the GPU (the a-update applies it to m columns with one cuBLAS GEMM)."""
    import cupy as cp

    return cp.linalg.inv(M)
