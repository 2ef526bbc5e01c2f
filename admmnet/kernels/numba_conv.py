"""Numba CPU kernels of the convolutional layers' image operations.

Each function has the signature of its array-API version in
:mod:`admmnet.backprop.conv` (the oracle it is tested against; the math is
written there) and does the same arithmetic for float32/float64 NumPy arrays
in the ``(C, H, W, m)`` layout, in parallel over channels or patch rows
(``prange``). The innermost loop runs over the m samples of a batch, which are
contiguous, so it vectorises:

* :func:`im2col` — one pass writing the patch matrix (no padded copy of the input);
* :func:`col2im` — the scatter-add of the backward pass, one channel per task (no races);
* :func:`maxpool_forward` / :func:`maxpool_backward` — max per window, and the output
  gradient added to the window's first maximal input.

The results equal the array-API versions exactly (copies, maxima and sums in the same
order). ``usable(*arrays)`` says when they apply (Numba installed and allowed,
``ADMMNET_NO_NUMBA`` unset, C-contiguous NumPy float arrays).
"""
from __future__ import annotations

import numpy as np

from .numba_cpu import AVAILABLE, _threads, njit, prange

__all__ = ["AVAILABLE", "usable", "im2col", "col2im", "maxpool_forward", "maxpool_backward"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def usable(*arrays) -> bool:
    """True when the Numba kernels apply to ``arrays`` (NumPy float32/float64)."""
    return AVAILABLE and all(isinstance(a, np.ndarray) and a.dtype in _FLOATS for a in arrays)


@njit(parallel=True, cache=True, error_model="numpy")
def _im2col(x, k, s, p, Ho, Wo, out):
    C, H, W, m = x.shape
    kk = k * k
    for t in prange(C * kk):
        c = t // kk
        i = (t // k) % k
        j = t % k
        row = out[t]
        for ho in range(Ho):
            h = ho * s + i - p
            for wo in range(Wo):
                w = wo * s + j - p
                base = (ho * Wo + wo) * m
                dst = row[base:base + m]
                if h < 0 or h >= H or w < 0 or w >= W:
                    for n in range(m):
                        dst[n] = 0
                else:
                    src = x[c, h, w]
                    for n in range(m):
                        dst[n] = src[n]


def im2col(x, k, s, p, Ho, Wo):
    x = np.ascontiguousarray(x)
    C, H, W, m = x.shape
    out = np.empty((C * k * k, Ho * Wo * m), dtype=x.dtype)
    _threads(out.size)
    _im2col(x, int(k), int(s), int(p), int(Ho), int(Wo), out)
    return out


@njit(parallel=True, cache=True, error_model="numpy")
def _col2im(cols, k, s, p, Ho, Wo, out):
    C, H, W, m = out.shape
    for c in prange(C):
        for i in range(k):
            for j in range(k):
                row = cols[(c * k + i) * k + j]
                for ho in range(Ho):
                    h = ho * s + i - p
                    if h < 0 or h >= H:
                        continue
                    for wo in range(Wo):
                        w = wo * s + j - p
                        if w < 0 or w >= W:
                            continue
                        base = (ho * Wo + wo) * m
                        src = row[base:base + m]
                        dst = out[c, h, w]
                        for n in range(m):
                            dst[n] += src[n]


def col2im(cols, shape, k, s, p, Ho, Wo):
    cols = np.ascontiguousarray(cols)
    out = np.zeros(shape, dtype=cols.dtype)
    _threads(cols.size)
    _col2im(cols, int(k), int(s), int(p), int(Ho), int(Wo), out)
    return out


@njit(parallel=True, cache=True, error_model="numpy")
def _maxpool_fwd(x, k, s, y):
    C, Ho, Wo, m = y.shape
    for t in prange(C * Ho):
        c = t // Ho
        ho = t % Ho
        for wo in range(Wo):
            yd = y[c, ho, wo]
            src = x[c, ho * s, wo * s]
            for n in range(m):
                yd[n] = src[n]
            for i in range(k):
                for j in range(k):
                    if i == 0 and j == 0:
                        continue
                    src = x[c, ho * s + i, wo * s + j]
                    for n in range(m):
                        v = src[n]
                        b = yd[n]
                        yd[n] = v if v > b else b


def maxpool_forward(x, k, s, Ho, Wo):
    x = np.ascontiguousarray(x)
    C, H, W, m = x.shape
    y = np.empty((C, Ho, Wo, m), dtype=x.dtype)
    _threads(x.size)
    _maxpool_fwd(x, int(k), int(s), y)
    return y


@njit(parallel=True, cache=True, error_model="numpy")
def _maxpool_bwd(dy, x, y, k, s, dx):
    C, Ho, Wo, m = dy.shape
    for t in prange(C):
        c = t
        found = np.empty(m, dtype=np.uint8)
        for ho in range(Ho):
            for wo in range(Wo):
                g = dy[c, ho, wo]
                yv = y[c, ho, wo]
                for n in range(m):
                    found[n] = 0
                for i in range(k):
                    for j in range(k):
                        src = x[c, ho * s + i, wo * s + j]
                        dst = dx[c, ho * s + i, wo * s + j]
                        for n in range(m):
                            hit = (src[n] == yv[n]) & (found[n] == 0)
                            dst[n] += g[n] if hit else 0
                            found[n] |= hit


def maxpool_backward(dy, x, y, k, s):
    dy, x, y = np.ascontiguousarray(dy), np.ascontiguousarray(x), np.ascontiguousarray(y)
    dx = np.zeros(x.shape, dtype=dy.dtype)
    _threads(dx.size)
    _maxpool_bwd(dy, x, y, int(k), int(s), dx)
    return dx
