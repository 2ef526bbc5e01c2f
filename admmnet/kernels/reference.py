"""Reference (array-API) versions of the solver's hot operations.

These are the oracles: written only with functions of the array-API standard,
they run on any backend (NumPy, CuPy, array_api_strict). The fast versions
(Numba on the CPU, CuPy kernels on the GPU) must agree with them; the solver
reaches all of them through :func:`admmnet.kernels.get_kernels`.
"""
from __future__ import annotations

import math

from .._backend import get_namespace

__all__ = ["z_update_piecewise", "softmax", "softmax_xent", "spd_solve"]


def z_update_piecewise(p, a, beta: float, gamma: float, pieces):
    r"""Elementwise minimiser of ``beta/2 (z - p)^2 + gamma/2 (a - h(z))^2``.

    ``h`` is piecewise linear, ``h(z) = s z + c`` on ``[lo, hi]`` for each
    ``(lo, hi, s, c)`` in ``pieces``. On one piece the objective is a convex
    quadratic whose minimiser is

    .. math:: z^* = \mathrm{clip}\Big(\frac{\beta p + \gamma s (a - c)}{\beta + \gamma s^2}, lo, hi\Big)
              = \mathrm{clip}\Big(\frac{p + \rho s (a - c)}{1 + \rho s^2}, lo, hi\Big),\ \rho = \gamma/\beta,

    and the global minimiser is the piece candidate with the smallest
    objective (thesis Algorithm 5 is the ReLU case: candidates
    ``max((beta p + gamma a)/(beta+gamma), 0)`` and ``min(p, 0)``). Ties keep
    the earlier piece.
    """
    xp = get_namespace(p, a)
    # Work with rho = gamma/beta (objective divided by beta/2): same minimiser, and no
    # products with a tiny beta, which would make float32 denormals and run ~3x slower.
    rho = gamma / beta
    best_z = None
    best_f = None
    for lo, hi, s, c in pieces:
        if s == 0.0:  # flat piece: h = c, only (z - p)^2 depends on z
            cand = p
            resid_sq = (a - c) ** 2 if c else a * a
        else:
            cand = (p + (rho * s) * (a - c if c else a)) / (1.0 + rho * s * s)
        if math.isfinite(lo):
            cand = xp.maximum(cand, lo)
        if math.isfinite(hi):
            cand = xp.minimum(cand, hi)
        if s != 0.0:
            resid = a - (s * cand + c if c else s * cand)
            resid_sq = resid * resid
        diff = cand - p
        f = diff * diff + rho * resid_sq
        if best_z is None:
            best_z, best_f = cand, f
        else:
            better = f < best_f
            best_z = xp.where(better, cand, best_z)
            best_f = xp.where(better, f, best_f)
    return best_z


def softmax(z):
    """Column-wise softmax (classes along axis 0), stable: the column max is subtracted first."""
    xp = get_namespace(z)
    e = xp.exp(z - xp.max(z, axis=0, keepdims=True))
    return e / xp.sum(e, axis=0, keepdims=True)


def softmax_xent(z, y):
    """Summed softmax cross-entropy of logits ``z`` against one-hot ``y`` and its gradient.

    ``L(z, y) = sum_j [logsumexp(z_:j) - <y_:j, z_:j>]``, ``dL/dz = S(z) - y``
    (thesis eq. 4.40 without the multiplier). Stable for any finite input:
    the column max is subtracted before exponentiating.
    """
    xp = get_namespace(z, y)
    # Clamp at a finite floor: z - max(z) can overflow to -inf for logits near the
    # float range, and 0 * -inf would turn the one-hot product into NaN.
    floor = -0.25 * float(xp.finfo(z.dtype).max)
    shifted = xp.maximum(z - xp.max(z, axis=0, keepdims=True), floor)
    e = xp.exp(shifted)
    s = xp.sum(e, axis=0, keepdims=True)
    value = xp.sum(xp.log(s)) - xp.sum(y * shifted)
    return value, e / s - y


def spd_solve(M, B):
    """Solve ``M X = B`` for a symmetric positive-definite ``M`` (reference: a general solve)."""
    xp = get_namespace(M, B)
    return xp.linalg.solve(M, B)
