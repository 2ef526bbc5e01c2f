r"""Ternary quantizers of the other sources (docs/baselines.md, "Ternary methods"):
pure functions of one weight array of any shape (a dense matrix, a conv kernel
reshaped to ``(C_out, C_in*kh*kw)``, ...), array-API only.

TWN (Li et al. 2016, "Ternary Weight Networks")::

    Delta = 0.75 * mean|W|                                    (twn_threshold)
    T_i   = sign(W_i) [|W_i| > Delta]
    alpha = mean{ |W_i| : |W_i| > Delta }                      (twn_quantize)

Exact ternary projection (the G-step of ADMM ternary, Leng et al. 2018)::

    min_{alpha > 0, T in {-1,0,1}^n} ||W - alpha T||^2

For a fixed support of size k the best T is sign(W) on it and the best alpha the mean
of |W| over it, leaving ``||W||^2 - (sum_{support} |W|)^2 / k``; for every k the best
support is the k largest |W|. So: sort |W| descending, S_k = cumulative sum,
k* = argmax S_k^2 / k, alpha = S_k* / k*, T = sign(W) on the top k* (O(n log n);
:func:`ternary_project_exact`). Ties of |W| at the cut: (S + j t)^2 / (k + j) is
quasi-convex in the number j of tied entries taken, so its maximum over a group of
ties is at an end of the group; only cuts between distinct values are scored, and
the support is ``|W| >= |W|_(k*)``.

TTQ (Zhu et al. 2017, "Trained Ternary Quantization"), learned positive and negative
scales ``wp, wn > 0`` and threshold ``Delta = t * max|W|`` (t = 0.05)::

    w_t = wp  if W > Delta;   0  if |W| <= Delta;   -wn  if W < -Delta    (ttq_quantize)
    dL/dwp = sum_{W > Delta} dL/dw_t;     dL/dwn = -sum_{W < -Delta} dL/dw_t
    dL/dW  = wp dL/dw_t (W > Delta),  1 dL/dw_t (|W| <= Delta),  wn dL/dw_t (W < -Delta)
                                                                          (ttq_grads)

The scale gradients are the exact derivatives of the loss (w_t = -wn on the negative
set, hence the minus sign, which the paper's Eq. 6 leaves implicit); the latent gradient
is the paper's scaled straight-through estimate (Eq. 7).
"""
from __future__ import annotations

from .._backend import get_namespace

__all__ = ["TWN_FACTOR", "TTQ_THRESHOLD", "twn_threshold", "twn_quantize", "ternary_project_exact",
           "binary_project_exact", "ttq_threshold", "ttq_quantize", "ttq_grads"]

#: Delta = TWN_FACTOR * mean|W|: 0.75 as in the comparative study (docs/baselines.md); Li et al.
#: 2016 approximate the optimal threshold by 0.7 mean|W| for Gaussian-like weights.
TWN_FACTOR = 0.75
#: Delta = TTQ_THRESHOLD * max|W| (Zhu et al. 2017, t = 0.05 in their experiments).
TTQ_THRESHOLD = 0.05


def _sign(xp, W):
    one = xp.ones_like(W)
    return xp.where(W > 0, one, xp.where(W < 0, -one, xp.zeros_like(W)))


def twn_threshold(W, factor: float = TWN_FACTOR):
    """TWN's threshold ``Delta = factor * mean|W|`` (a 0-d array)."""
    xp = get_namespace(W)
    return factor * xp.mean(xp.abs(W))


def twn_quantize(W, factor: float = TWN_FACTOR):
    """``(codes, alpha)``: ``codes = sign(W) [|W| > Delta]`` (W's dtype, values -1/0/1) and
    ``alpha = mean{|W_i| : |W_i| > Delta}`` (0-d; 0 when nothing exceeds Delta, i.e. W = 0)."""
    xp = get_namespace(W)
    A = xp.abs(W)
    delta = twn_threshold(W, factor)
    mask = A > delta
    codes = xp.where(mask, _sign(xp, W), xp.zeros_like(W))
    k = xp.sum(xp.astype(mask, W.dtype))
    alpha = xp.sum(xp.where(mask, A, xp.zeros_like(A))) / xp.maximum(k, xp.ones_like(k))
    return codes, alpha


def ternary_project_exact(W):
    """``(codes, alpha)`` minimising ``||W - alpha codes||^2`` over alpha > 0 and codes in
    {-1,0,1} (module docstring); codes in W's dtype and shape, alpha a 0-d array.
    W = 0 gives codes 0 and alpha 0."""
    xp = get_namespace(W)
    A = xp.reshape(xp.abs(W), (-1,))
    n = A.shape[0]
    wide = xp.float64 if hasattr(xp, "float64") else A.dtype
    s = xp.flip(xp.sort(xp.astype(A, wide)))                      # |W| descending
    S = xp.cumsum(s)
    k = xp.arange(1, n + 1, dtype=wide)
    score = S * S / k
    # only cuts between distinct values (the last entry always ends a group)
    ends = xp.concat([s[:-1] > s[1:], xp.asarray([True])]) if n > 1 else xp.asarray([True])
    score = xp.where(ends, score, xp.full_like(score, -1.0))
    i = int(xp.argmax(score))
    if float(s[0]) == 0.0:
        return xp.zeros_like(W), xp.asarray(0.0, dtype=W.dtype)
    alpha = xp.astype(S[i] / (i + 1), W.dtype)
    thr = xp.astype(s[i], W.dtype)
    codes = xp.where(xp.abs(W) >= thr, _sign(xp, W), xp.zeros_like(W))
    return codes, alpha


def binary_project_exact(W):
    """``(codes, alpha)`` minimising ``||W - alpha codes||^2`` over codes in {-1,+1}:
    codes = sign(W) (0 -> +1), alpha = mean|W|."""
    xp = get_namespace(W)
    one = xp.ones_like(W)
    return xp.where(W >= 0, one, -one), xp.mean(xp.abs(W))


def ttq_threshold(W, t: float = TTQ_THRESHOLD):
    """TTQ's threshold ``Delta = t * max|W|`` (0-d)."""
    xp = get_namespace(W)
    return t * xp.max(xp.abs(W))


def ttq_quantize(W, wp, wn, t: float = TTQ_THRESHOLD):
    """``(codes, w_t)``: codes in {-1,0,1} (W's dtype) by the threshold ``t max|W|`` and the
    effective weights ``w_t = wp`` / ``0`` / ``-wn`` on the positive / zero / negative codes."""
    xp = get_namespace(W)
    delta = ttq_threshold(W, t)
    one, zero = xp.ones_like(W), xp.zeros_like(W)
    codes = xp.where(W > delta, one, xp.where(W < -delta, -one, zero))
    Wt = xp.where(codes > 0, wp * one, xp.where(codes < 0, -wn * one, zero))
    return codes, Wt


def ttq_grads(W, dWt, wp, wn, t: float = TTQ_THRESHOLD):
    """``(dW, dwp, dwn)`` from ``dWt = dL/dw_t``: the latent weights' scaled straight-through
    gradient and the exact scale gradients (module docstring)."""
    xp = get_namespace(W, dWt)
    delta = ttq_threshold(W, t)
    pos, neg = W > delta, W < -delta
    zero = xp.zeros_like(dWt)
    dwp = xp.sum(xp.where(pos, dWt, zero))
    dwn = -xp.sum(xp.where(neg, dWt, zero))
    dW = xp.where(pos, wp * dWt, xp.where(neg, wn * dWt, dWt))
    return dW, dwp, dwn
