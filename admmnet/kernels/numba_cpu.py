"""Numba CPU kernels for the solver's elementwise and reduction hot spots.

Each function here has the signature of its array-API version in
:mod:`admmnet.kernels.reference` (the oracle it is tested against) and does
the same arithmetic in one pass over memory instead of one pass per
operation, in parallel chunks (``prange``), for float32 and float64:

* :func:`z_update_piecewise` — closed-form z_l (Algorithm 5, every piece of h
  in one loop per element);
* :func:`softmax_xent` and :func:`fista_step` — softmax cross-entropy value and
  gradient, and one whole FISTA step of the z_L update (extrapolation,
  softmax, prox step and the two stopping sums) in one pass;
* :func:`sq_norm_axpy` — ``||x + s y||^2``, the backtracking objective;
* :func:`proj_step` — one alpha/Q alternation of the projection: nearest
  level, ``<W,Q>``, ``<Q,Q>`` and "Q changed" in one pass, the row losses in a
  second;
* :func:`axpby` — ``alpha x + beta y`` (the right-hand sides of the exact
  a-update), optionally into a buffer the caller no longer needs;
* :func:`activate`, :func:`add_bias` and :func:`row_sums` — ``h(z)`` (ReLU,
  hard sigmoid), ``W a + b`` written into the fresh product, and ``x 1``:
  NumPy's one-thread passes on all threads (memory-bound: as fast as the
  memory allows, not 3x).

Arithmetic is done in the array's dtype, as the reference does (scalars are
cast to it first), so results agree with the reference to rounding (the
softmax's exp to 1-2 ulp: a vectorisable polynomial, below); sums are
accumulated in float64. Large outputs come from :data:`admmnet.kernels.pool.default_pool`
(memory of dead arrays reused while the solver iterates, fresh otherwise). The kernels
are compiled on first use per dtype and
cached on disk (``cache=True``). Arrays the kernels do not cover (other
dtypes, non-matching shapes) fall through to the reference.

Writing them so that LLVM vectorises the inner loops takes three habits:
``error_model="numpy"`` (no ZeroDivisionError check per division), inner
loops that index 1-D slices by their range variable only (an index such as
``i0 + j`` keeps a negative-index check in the loop), and constants passed as
values (a tuple), not read from an array the loop might alias.
Work below ``PARALLEL_MIN`` elements (``ADMMNET_NUMBA_PARALLEL_MIN``, default
2^17) runs on one thread; set ``NUMBA_NUM_THREADS=1`` on a machine shared with
other jobs, where a parallel region can wait a whole scheduler time slice.

``AVAILABLE`` is False when Numba is not installed or ``ADMMNET_NO_NUMBA=1``;
:func:`admmnet.kernels.get_kernels` then never selects these kernels.
"""
from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np

from . import reference
from .pool import default_pool

try:  # pragma: no cover - depends on the environment
    import numba
    from numba import njit, prange

    AVAILABLE = os.environ.get("ADMMNET_NO_NUMBA", "").strip() in ("", "0")
except ImportError:  # pragma: no cover
    numba = None
    AVAILABLE = False

    def njit(*args, **kwargs):
        def deco(f):
            return f
        return deco if not (args and callable(args[0])) else args[0]

    prange = range

__all__ = ["AVAILABLE", "z_update_piecewise", "activate", "add_bias", "row_sums", "softmax", "softmax_xent",
           "fista_step", "sq_norm_axpy", "axpby", "proj_step", "warm_up"]

_CHUNK = 1 << 12      # elements per task of the elementwise kernels (fits L1 with its scratch)
_COLS = 256           # columns per task of the column-wise (softmax) kernels
#: below this many elements a kernel runs on one thread: a parallel region costs more than it
#: saves there, and on a loaded machine a barrier can wait a whole scheduler time slice
PARALLEL_MIN = int(os.environ.get("ADMMNET_NUMBA_PARALLEL_MIN", 1 << 17))
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _ok(*arrays) -> bool:
    """Plain NumPy float32/float64 arrays of one dtype and one shape."""
    first = arrays[0]
    if not isinstance(first, np.ndarray) or first.dtype not in _FLOATS:
        return False
    return all(isinstance(x, np.ndarray) and x.dtype == first.dtype and x.shape == first.shape
               for x in arrays[1:])


def _threads(work: int) -> None:
    """One thread for small work, all of Numba's threads otherwise."""
    if numba is not None:
        numba.set_num_threads(1 if work < PARALLEL_MIN else numba.config.NUMBA_NUM_THREADS)


# --------------------------------------------------------------------------- exp
# exp(x) for x <= 0 (the shifted logits of a softmax), vectorisable: x = k ln2 + r,
# |r| <= ln2/2, exp(r) by its Taylor polynomial to degree 7 (float32) or 13 (float64),
# 2^k assembled in the exponent bits (an integer buffer viewed as floats). 1-2 ulp;
# 0 below the smallest normal number (the reference gives a denormal there), NaN stays NaN.
_INV_FACT = tuple(1.0 / float(np.prod(np.arange(1, n + 1, dtype=np.float64))) for n in range(13, 1, -1))


@lru_cache(maxsize=4)
def _exp_consts(dtype):
    if np.dtype(dtype) == np.float32:
        lo, c1, c2, bias, scale, itype = -87.33654, 0.693359375, -2.12194440e-4, 127.0, 2.0 ** 23, np.int32
    else:
        lo, c1, c2, bias, scale, itype = (-708.3964185322641, 6.93145751953125e-1, 1.42860682030941723212e-6,
                                          1023.0, 2.0 ** 52, np.int64)
    t = np.dtype(dtype).type
    coef = _INV_FACT[-6:] if np.dtype(dtype) == np.float32 else _INV_FACT   # 1/7! .. 1/2!, or 1/13! ..
    consts = tuple(t(v) for v in (lo, 1.4426950408889634, 0.5, c1, c2, bias, scale, *coef))
    return consts, itype, t


@njit(cache=True, error_model="numpy")
def _exp_rows(zh, j0, j1, mx, e, s, ib, fb, K):
    """Row by row, columns j0:j1 of zh: e = exp(zh - mx) for zh - mx <= 0, and s += e (column
    sums). ib/fb: an integer scratch row and its float view (the exponent bits of 2^k; 0 bits,
    i.e. 0.0, below the normal range or for -inf, so that NaN stays NaN and nothing else needs
    a test). K: the constants of :func:`_exp_consts`, a tuple (values, not memory, so that the
    loop can be vectorised): Taylor degree 7 for float32, 13 for float64."""
    n = zh.shape[0]
    w = j1 - j0
    lo = K[0]
    l2e = K[1]
    half = K[2]
    c1 = K[3]
    c2 = K[4]
    bias = K[5]
    scale = K[6]
    zero = half - half
    one = half + half
    for i in range(n):
        zr = zh[i, j0:j1]
        er = e[i]
        if len(K) == 13:
            for jj in range(w):
                x = zr[jj] - mx[jj]
                v = lo if x < lo else x
                v = zero if v > zero else v
                k = np.floor(v * l2e + half)
                r = (v - k * c1) - k * c2
                er[jj] = ((((((K[7] * r + K[8]) * r + K[9]) * r + K[10]) * r + K[11]) * r + K[12]) * r
                          + one) * r + one
                ib[jj] = (k + bias) * scale if x >= lo else zero
        else:
            for jj in range(w):
                x = zr[jj] - mx[jj]
                v = lo if x < lo else x
                v = zero if v > zero else v
                k = np.floor(v * l2e + half)
                r = (v - k * c1) - k * c2
                y = ((((((K[7] * r + K[8]) * r + K[9]) * r + K[10]) * r + K[11]) * r + K[12]) * r + K[13]) * r
                y = (((((y + K[14]) * r + K[15]) * r + K[16]) * r + K[17]) * r + K[18]) * r
                er[jj] = (y + one) * r + one
                ib[jj] = (k + bias) * scale if x >= lo else zero
        for jj in range(w):
            ev = er[jj] * fb[jj]
            er[jj] = ev
            s[jj] += ev


# --------------------------------------------------------------------------- z update
# (Inner loops index 1-D slices with their range variable only: an index like ``i0 + j``
# keeps Numba's negative-index wraparound check in the loop and blocks vectorisation.)
@njit(cache=True, error_model="numpy")
def _z_chunk(p, a, tab, out, bf):
    w = p.size
    for k in range(tab.shape[0]):
        lo = tab[k, 0]
        hi = tab[k, 1]
        s = tab[k, 2]
        c = tab[k, 3]
        rs = tab[k, 4]
        den = tab[k, 5]
        rho = tab[k, 6]
        first = k == 0
        if s == 0:
            for j in range(w):
                pv = p[j]
                cand = lo if pv < lo else pv
                cand = hi if cand > hi else cand
                d0 = a[j] - c
                diff = cand - pv
                f = diff * diff + rho * (d0 * d0)
                take = first or f < bf[j]
                out[j] = cand if take else out[j]
                bf[j] = f if take else bf[j]
        else:
            for j in range(w):
                pv = p[j]
                av = a[j]
                cand = (pv + rs * (av - c)) / den
                cand = lo if cand < lo else cand
                cand = hi if cand > hi else cand
                res = av - (s * cand + c)
                diff = cand - pv
                f = diff * diff + rho * (res * res)
                take = first or f < bf[j]
                out[j] = cand if take else out[j]
                bf[j] = f if take else bf[j]


@njit(parallel=True, cache=True, error_model="numpy")
def _z_update(p, a, tab, out):
    n = p.size
    nch = (n + _CHUNK - 1) // _CHUNK
    for ci in prange(nch):
        i0 = ci * _CHUNK
        i1 = min(n, i0 + _CHUNK)
        bf = np.empty(i1 - i0, p.dtype)
        _z_chunk(p[i0:i1], a[i0:i1], tab, out[i0:i1], bf)


@lru_cache(maxsize=64)
def _piece_table(pieces, rho: float, dtype_str: str):
    """Per piece: lo, hi, slope s, offset c, rho s, 1 + rho s^2, rho — computed in
    float64 and cast to the array dtype, exactly the constants the reference uses."""
    rows = [(lo, hi, s, c, rho * s, 1.0 + rho * s * s, rho) for lo, hi, s, c in pieces]
    return np.asarray(rows, dtype=np.float64).astype(dtype_str)


def z_update_piecewise(p, a, beta: float, gamma: float, pieces):
    """Numba version of :func:`admmnet.kernels.reference.z_update_piecewise`."""
    if not _ok(p, a):
        return reference.z_update_piecewise(p, a, beta, gamma, pieces)
    p = np.ascontiguousarray(p)
    a = np.ascontiguousarray(a)
    tab = _piece_table(tuple(tuple(float(v) for v in pc) for pc in pieces), gamma / beta, p.dtype.str)
    out = default_pool.empty_like(p)
    _threads(p.size)
    _z_update(p.reshape(-1), a.reshape(-1), tab, out.reshape(-1))
    return out


# reductions marked with this may be reassociated (vectorised partial sums); everything else is exact
_REASSOC = {"reassoc"}


# --------------------------------------------------------------------------- activation, bias
# NumPy's ufuncs run on one thread; these are the same one-pass loops on all of Numba's.
# clip(z, lo, hi) is ReLU (lo = 0, hi = inf) and the hard sigmoid (0, 1); NaN passes
# through, as in np.maximum / np.clip.
_CLIPS = {"relu": (0.0, math.inf), "hardsigmoid": (0.0, 1.0)}


@njit(cache=True, error_model="numpy")
def _clip_chunk(z, lo, hi, out):
    for j in range(z.size):
        v = z[j]
        v = lo if v < lo else v
        out[j] = hi if v > hi else v


@njit(parallel=True, cache=True, error_model="numpy")
def _clip(z, lo, hi, out):
    n = z.size
    nch = (n + _CHUNK - 1) // _CHUNK
    for ci in prange(nch):
        i0 = ci * _CHUNK
        i1 = min(n, i0 + _CHUNK)
        _clip_chunk(z[i0:i1], lo, hi, out[i0:i1])


def activate(z, activation):
    """Numba version of :func:`admmnet.kernels.reference.activate` (ReLU and hard sigmoid;
    other activations and non-NumPy arrays go to the reference)."""
    bounds = _CLIPS.get(getattr(activation, "name", None))
    if bounds is None or not _ok(z):
        return reference.activate(z, activation)
    z = np.ascontiguousarray(z)
    out = default_pool.empty_like(z)
    t = z.dtype.type
    _threads(z.size)
    _clip(z.reshape(-1), t(bounds[0]), t(bounds[1]), out.reshape(-1))
    return out


@njit(parallel=True, cache=True, error_model="numpy")
def _add_bias(p, b):
    n, m = p.shape
    nch = (m + _CHUNK - 1) // _CHUNK
    for t in prange(n * nch):
        i = t // nch
        j0 = (t % nch) * _CHUNK
        row = p[i, j0:min(m, j0 + _CHUNK)]
        bi = b[i]
        for j in range(row.size):
            row[j] += bi


def add_bias(p, b):
    """Numba version of :func:`admmnet.kernels.reference.add_bias` (in place in ``p``)."""
    if not (_ok(p) and isinstance(b, np.ndarray) and b.dtype == p.dtype and p.ndim == 2
            and b.shape == (p.shape[0], 1) and p.flags.c_contiguous and p.flags.writeable):
        return reference.add_bias(p, b)
    _threads(p.size)
    _add_bias(p, np.ascontiguousarray(b).reshape(-1))
    return p


@njit(cache=True, error_model="numpy", fastmath=_REASSOC)
def _sum64(row):
    acc = 0.0
    for j in range(row.size):
        acc += row[j]
    return acc


@njit(parallel=True, cache=True, error_model="numpy")
def _row_sums(x, out):
    n, m = x.shape
    nch = (m + _CHUNK - 1) // _CHUNK
    partial = np.zeros(n * nch, np.float64)
    for t in prange(n * nch):
        i = t // nch
        j0 = (t % nch) * _CHUNK
        partial[t] = _sum64(x[i, j0:min(m, j0 + _CHUNK)])     # vectorised: partial sums reassociated
    for i in range(n):
        acc = 0.0
        for c in range(nch):
            acc += partial[i * nch + c]
        out[i] = acc


def row_sums(x):
    """Numba version of :func:`admmnet.kernels.reference.row_sums` (float64 sums, one pass on
    all threads; NumPy's pairwise sum runs on one)."""
    if not (_ok(x) and x.ndim == 2):
        return reference.row_sums(x)
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape[0], dtype=np.float64)
    _threads(x.size)
    _row_sums(x, out)
    return out.astype(x.dtype).reshape(-1, 1)


# --------------------------------------------------------------------------- softmax / cross-entropy
@njit(cache=True, error_model="numpy")
def _softmax_block(z, y, g, j0, j1, e, mx, s, acc, ib, fb, floor, K, with_y):
    """Columns j0:j1 of z (C order; every row read through a contiguous 1-D slice):
    g <- softmax (minus y); returns the block's cross-entropy (with_y). The rest is scratch."""
    n = z.shape[0]
    w = j1 - j0
    for i in range(n):
        zr = z[i, j0:j1]
        if i == 0:
            for jj in range(w):
                mx[jj] = zr[jj]
                s[jj] = 0
                acc[jj] = 0.0
        else:
            for jj in range(w):
                v = zr[jj]
                mx[jj] = v if (v > mx[jj] or v != v) else mx[jj]
    _exp_rows(z, j0, j1, mx, e, s, ib, fb, K)
    tot = _log_sum(s, w) if with_y else 0.0    # sum_j log(sum_i exp(z_ij - max_j))
    for jj in range(w):
        s[jj] = 1 / s[jj]
    if with_y:
        for i in range(n):
            yr = y[i, j0:j1]
            gr = g[i, j0:j1]
            er = e[i]
            zr = z[i, j0:j1]
            for jj in range(w):
                sh = zr[jj] - mx[jj]
                sh = floor if sh < floor else sh
                acc[jj] -= np.float64(yr[jj] * sh)
                gr[jj] = er[jj] * s[jj] - yr[jj]
        for jj in range(w):
            tot += acc[jj]
    else:
        for i in range(n):
            gr = g[i, j0:j1]
            er = e[i]
            for jj in range(w):
                gr[jj] = er[jj] * s[jj]
    return tot


@njit(cache=True, error_model="numpy")
def _log_sum(s, w):
    """``sum_j log(s_j)`` over ``s[:w]``, the softmax denominators after the max shift (each in
    [1, n], or NaN): one log per float64 product of up to 280 decades instead of one per column
    (a scalar log per column cost a fifth of the whole kernel). Exact up to the products'
    rounding, a few ulp of float64."""
    tot = 0.0
    prod = 1.0
    for jj in range(w):
        prod *= np.float64(s[jj])
        if prod > 1e280:
            tot += np.log(prod)
            prod = 1.0
    return tot + np.log(prod)


@njit(parallel=True, cache=True, error_model="numpy")
def _softmax_xent(z, y, floor, K, g, partial, with_y, IB, FB):
    n, m = z.shape
    nb = (m + _COLS - 1) // _COLS
    for blk in prange(nb):
        j0 = blk * _COLS
        j1 = min(m, j0 + _COLS)
        w = j1 - j0
        e = np.empty((n, w), z.dtype)
        mx = np.empty(w, z.dtype)
        s = np.empty(w, z.dtype)
        acc = np.empty(w, np.float64)
        partial[blk] = _softmax_block(z, y, g, j0, j1, e, mx, s, acc, IB[blk], FB[blk], floor, K, with_y)


def _columns_ok(z, *others) -> bool:
    """The column-wise (softmax) kernels cover non-empty 2-D arrays that :func:`_ok` accepts."""
    return _ok(z, *others) and z.ndim == 2 and z.shape[0] > 0 and z.shape[1] > 0


def _scratch(z, itype):
    """Per column block: an integer buffer and its float view (the exponent bits of 2^k)."""
    nb = (z.shape[1] + _COLS - 1) // _COLS
    IB = np.empty((nb, _COLS), dtype=itype)
    return IB, IB.view(z.dtype)


def _floor(dtype) -> float:
    return -0.25 * float(np.finfo(dtype).max)


def softmax_xent(z, y):
    """Numba version of :func:`admmnet.kernels.reference.softmax_xent`: ``(value, S(z) - y)``."""
    if not _columns_ok(z, y):
        return reference.softmax_xent(z, y)
    z = np.ascontiguousarray(z)
    y = np.ascontiguousarray(y)
    g = np.empty_like(z)
    partial = np.zeros((z.shape[1] + _COLS - 1) // _COLS, dtype=np.float64)
    K, itype, t = _exp_consts(z.dtype)
    IB, FB = _scratch(z, itype)
    _threads(z.size)
    _softmax_xent(z, y, t(_floor(z.dtype)), K, g, partial, True, IB, FB)
    return np.asarray(partial.sum(), dtype=z.dtype), g


def softmax(z):
    """Numba version of :func:`admmnet.kernels.reference.softmax` (column-wise)."""
    if not _columns_ok(z):
        return reference.softmax(z)
    z = np.ascontiguousarray(z)
    g = np.empty_like(z)
    partial = np.zeros((z.shape[1] + _COLS - 1) // _COLS, dtype=np.float64)
    K, itype, t = _exp_consts(z.dtype)
    IB, FB = _scratch(z, itype)
    _threads(z.size)
    _softmax_xent(z, z, t(-np.inf), K, g, partial, False, IB, FB)
    return g


@njit(cache=True, error_model="numpy")
def _fista_block(z, zo, bq, y, out, j0, j1, c, eta, inv_denom, floor, K, zh, e, mx, s, a2, b2, ib, fb):
    """Columns j0:j1 of :func:`_fista_step`; returns (||z_new - z||^2, ||z_new||^2) of the block."""
    n = z.shape[0]
    w = j1 - j0
    for i in range(n):
        zr = z[i, j0:j1]
        zor = zo[i, j0:j1]
        zhr = zh[i]
        for jj in range(w):
            zc = zr[jj]
            zhr[jj] = zc + c * (zc - zor[jj]) if c != 0 else zc
        if i == 0:
            for jj in range(w):
                mx[jj] = zhr[jj]
                s[jj] = 0
                a2[jj] = 0.0
                b2[jj] = 0.0
        else:
            for jj in range(w):
                v = zhr[jj]
                mx[jj] = v if (v > mx[jj] or v != v) else mx[jj]
    _exp_rows(zh, 0, w, mx, e, s, ib, fb, K)
    for jj in range(w):
        s[jj] = 1 / s[jj]
    for i in range(n):
        er = e[i]
        zhr = zh[i]
        yr = y[i, j0:j1]
        bqr = bq[i, j0:j1]
        outr = out[i, j0:j1]
        for jj in range(w):
            gr = er[jj] * s[jj] - yr[jj]
            outr[jj] = (eta * zhr[jj] + bqr[jj] - gr) * inv_denom
        zr = z[i, j0:j1]
        for jj in range(w):
            zn = outr[jj]
            d = np.float64(zn - zr[jj])
            a2[jj] += d * d
            b2[jj] += np.float64(zn) * np.float64(zn)
    t2 = 0.0
    tn = 0.0
    for jj in range(w):
        t2 += a2[jj]
        tn += b2[jj]
    return t2, tn


@njit(parallel=True, cache=True, error_model="numpy")
def _fista_step(z, z_old, c, bq, y, eta, inv_denom, floor, K, out, partial, IB, FB):
    n, m = z.shape
    nb = (m + _COLS - 1) // _COLS
    for blk in prange(nb):
        j0 = blk * _COLS
        j1 = min(m, j0 + _COLS)
        w = j1 - j0
        zh = np.empty((n, w), z.dtype)
        e = np.empty((n, w), z.dtype)
        mx = np.empty(w, z.dtype)
        s = np.empty(w, z.dtype)
        a2 = np.empty(w, np.float64)
        b2 = np.empty(w, np.float64)
        t2, tn = _fista_block(z, z_old, bq, y, out, j0, j1, c, eta, inv_denom, floor, K, zh, e, mx, s, a2, b2,
                              IB[blk], FB[blk])
        partial[blk, 0] = t2
        partial[blk, 1] = tn


def fista_step(z, z_old, c: float, bq, y, eta: float, beta: float):
    """Numba version of :func:`admmnet.kernels.reference.fista_step` (one fused pass)."""
    if not _columns_ok(z, z_old, bq, y):
        return reference.fista_step(z, z_old, c, bq, y, eta, beta)
    z, z_old, bq, y = (np.ascontiguousarray(v) for v in (z, z_old, bq, y))
    K, itype, t = _exp_consts(z.dtype)
    IB, FB = _scratch(z, itype)
    out = np.empty_like(z)
    partial = np.zeros(((z.shape[1] + _COLS - 1) // _COLS, 2), dtype=np.float64)
    _threads(z.size)
    _fista_step(z, z_old, t(c), bq, y, t(eta), t(1.0 / (eta + beta)), t(_floor(z.dtype)), K, out, partial,
                IB, FB)
    step2, norm2 = partial.sum(axis=0)
    return out, float(step2), float(norm2)


# --------------------------------------------------------------------------- backtracking objective
@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def _sq_chunk(x, y, s):
    acc = 0.0
    for j in range(x.size):
        v = x[j] + s * y[j]
        acc += np.float64(v * v)
    return acc


@njit(parallel=True, cache=True, error_model="numpy")
def _sq_norm_axpy(x, y, s, partial):
    n = x.size
    nch = partial.size
    for ci in prange(nch):
        i0 = ci * _CHUNK
        i1 = min(n, i0 + _CHUNK)
        partial[ci] = _sq_chunk(x[i0:i1], y[i0:i1], s)


def sq_norm_axpy(x, y, s: float):
    """Numba version of :func:`admmnet.kernels.reference.sq_norm_axpy`: ``||x + s y||^2`` in one pass."""
    if not _ok(x, y):
        return reference.sq_norm_axpy(x, y, s)
    x = np.ascontiguousarray(x).reshape(-1)
    y = np.ascontiguousarray(y).reshape(-1)
    partial = np.zeros(max(1, (x.size + _CHUNK - 1) // _CHUNK), dtype=np.float64)
    _threads(x.size)
    _sq_norm_axpy(x, y, x.dtype.type(s), partial)
    return np.asarray(partial.sum(), dtype=x.dtype)


# --------------------------------------------------------------------------- axpby
@njit(cache=True, error_model="numpy")
def _axpby_chunk(alpha, x, beta, y, out):
    for j in range(x.size):
        out[j] = alpha * x[j] + beta * y[j]


@njit(parallel=True, cache=True, error_model="numpy")
def _axpby(alpha, x, beta, y, out):
    n = x.size
    nch = (n + _CHUNK - 1) // _CHUNK
    for ci in prange(nch):
        i0 = ci * _CHUNK
        i1 = min(n, i0 + _CHUNK)
        _axpby_chunk(alpha, x[i0:i1], beta, y[i0:i1], out[i0:i1])


def axpby(alpha: float, x, beta: float, y, out=None):
    """Numba version of :func:`admmnet.kernels.reference.axpby`: one pass, written into ``out``
    when it is a C-contiguous array of the same shape and dtype (may be ``x`` or ``y``)."""
    if not _ok(x, y):
        return reference.axpby(alpha, x, beta, y)
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y)
    if not (isinstance(out, np.ndarray) and out.shape == x.shape and out.dtype == x.dtype
            and out.flags.c_contiguous and out.flags.writeable):
        out = default_pool.empty_like(x)
    t = x.dtype.type
    _threads(x.size)
    _axpby(t(alpha), x.reshape(-1), t(beta), y.reshape(-1), out.reshape(-1))
    return out


# --------------------------------------------------------------------------- projection step
@njit(cache=True, error_model="numpy", fastmath=_REASSOC)
def _proj_chunk(w, qp, q, al, has_prev, qmax, zero):
    """Codes of one slice (q); returns <W,Q>, <Q,Q> (float64) and the number of codes != qp."""
    dot = 0.0
    qq = 0.0
    nd = 0
    for j in range(w.size):
        x = w[j] / al
        if zero:
            v = np.rint(x)
            v = qmax if v > qmax else v
            v = -qmax if v < -qmax else v
        else:
            v = qmax if x >= 0 else -qmax   # binary: qmax = 1
        q[j] = v
        dot += np.float64(w[j] * v)
        qq += np.float64(v * v)
    if has_prev:
        for j in range(w.size):
            nd += 1 if q[j] != qp[j] else 0
    return dot, qq, nd


@njit(cache=True, error_model="numpy", fastmath=_REASSOC)
def _loss_chunk(w, q, al):
    acc = 0.0
    for j in range(w.size):
        v = w[j] - al * q[j]
        acc += np.float64(v * v)
    return acc


@njit(parallel=True, cache=True, error_model="numpy")
def _proj_round(Wn, alpha, Q_prev, has_prev, qmax, zero, Q, dotp, qqp, diffp):
    R, C = Wn.shape
    nch = dotp.shape[1]
    for task in prange(R * nch):
        r = task // nch
        ci = task - r * nch
        i0 = ci * _CHUNK
        i1 = min(C, i0 + _CHUNK)
        qp = Q_prev[r, i0:i1] if has_prev else Wn[r, i0:i1]
        d, q2, nd = _proj_chunk(Wn[r, i0:i1], qp, Q[r, i0:i1], alpha[r, 0], has_prev, qmax, zero)
        dotp[r, ci] = d
        qqp[r, ci] = q2
        diffp[r, ci] = nd


@njit(parallel=True, cache=True, error_model="numpy")
def _proj_loss(Wn, alpha, Q, lossp):
    R, C = Wn.shape
    nch = lossp.shape[1]
    for task in prange(R * nch):
        r = task // nch
        ci = task - r * nch
        i0 = ci * _CHUNK
        i1 = min(C, i0 + _CHUNK)
        lossp[r, ci] = _loss_chunk(Wn[r, i0:i1], Q[r, i0:i1], alpha[r, 0])


def proj_step(Wn, alpha, Q_prev, qmax: int, zero: bool):
    """Numba version of :func:`admmnet.kernels.reference.proj_step`: nearest level and the two
    sums in one pass, the row losses in a second."""
    if (not _ok(Wn) or Wn.ndim != 2 or not isinstance(alpha, np.ndarray) or alpha.dtype != Wn.dtype
            or (Q_prev is not None and not _ok(Wn, Q_prev)) or Wn.shape[1] == 0):
        return reference.proj_step(Wn, alpha, Q_prev, qmax, zero)
    R, C = Wn.shape
    Wn = np.ascontiguousarray(Wn)
    alpha = np.ascontiguousarray(np.broadcast_to(alpha, (R, 1)))
    nch = (C + _CHUNK - 1) // _CHUNK
    Q = np.empty_like(Wn)
    dotp = np.empty((R, nch), dtype=np.float64)
    qqp = np.empty((R, nch), dtype=np.float64)
    diffp = np.empty((R, nch), dtype=np.int64)
    has_prev = Q_prev is not None
    qp = np.ascontiguousarray(Q_prev) if has_prev else Wn
    _threads(Wn.size)
    _proj_round(Wn, alpha, qp, has_prev, Wn.dtype.type(qmax), bool(zero), Q, dotp, qqp, diffp)
    dot = dotp.sum(axis=1, keepdims=True)
    qq = qqp.sum(axis=1, keepdims=True)
    ok = (qq > 0) & (dot > 0)
    new_alpha = np.where(ok, (dot / np.where(ok, qq, 1.0)).astype(Wn.dtype), alpha)
    lossp = np.empty((R, nch), dtype=np.float64)
    _proj_loss(Wn, new_alpha, Q, lossp)
    loss = lossp.sum(axis=1, keepdims=True).astype(Wn.dtype)
    same = (diffp.sum(axis=1, keepdims=True) == 0) if has_prev else None
    return Q, new_alpha, loss, same


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel for float32 and float64."""
    if not AVAILABLE:
        return
    from ..admm.activations import ACTIVATIONS

    for dt in (np.float32, np.float64):
        x = np.linspace(-1, 1, 12, dtype=dt).reshape(3, 4)
        y = np.eye(3, 4, dtype=dt)
        z_update_piecewise(x, y, 1.0, 1.0, ACTIVATIONS["relu"].pieces)
        activate(x, ACTIVATIONS["relu"])
        add_bias(x.copy(), x[:, :1].copy())
        row_sums(x)
        softmax_xent(x, y)
        softmax(x)
        fista_step(x, x, 0.5, x, y, 0.5, 1.0)
        sq_norm_axpy(x, y, 0.5)
        axpby(0.5, x, 2.0, y)
        proj_step(x, np.ones((3, 1), dtype=dt), None, 3, True)
        proj_step(x, np.ones((3, 1), dtype=dt), x, 1, False)
