"""Reference (array-API) versions of the solver's hot operations.

These are the oracles: written only with functions of the array-API standard,
they run on any backend (NumPy, CuPy, array_api_strict). The fast versions
(Numba on the CPU, CuPy kernels on the GPU) must agree with them; the solver
reaches all of them through :func:`admmnet.kernels.get_kernels`.
"""
from __future__ import annotations

import math

from .._backend import get_namespace

__all__ = ["z_update_piecewise", "activate", "add_bias", "row_sums", "softmax", "softmax_xent", "fista_step",
           "sq_norm_axpy", "proj_step", "axpby", "spd_solve", "spd_factor", "spd_inverse"]


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


def activate(z, activation):
    """``h(z)`` elementwise for an :class:`admmnet.admm.activations.Activation`: the forward
    half of every a-update and of the forward pass (its own definition, ``activation(z)``)."""
    return activation(z)


def add_bias(p, b):
    """``p + b`` for a product ``p`` (n x m) and a bias column ``b`` (n x 1), written into ``p``:
    ``p`` is a fresh product its caller owns, and a new array would cost a pass and its page
    faults. Returns ``p``."""
    p += b
    return p


def row_sums(x):
    """``x 1`` as an n x 1 column (the bias row and column of eq. 4.4's system: ``a 1`` and ``t 1``)."""
    xp = get_namespace(x)
    return xp.sum(x, axis=1, keepdims=True)


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


def spd_factor(M):
    """A solver ``B -> M^{-1} B`` for an SPD ``M``, to apply one factorisation to several
    right-hand sides (reference: a general solve per call)."""
    xp = get_namespace(M)
    return lambda B: xp.linalg.solve(M, B)


def spd_inverse(M):
    """``M^{-1}`` of a symmetric positive-definite ``M`` (reference: a general inverse).

    Used where one small SPD matrix is applied to many right-hand sides (the
    exact a-update, eq. 4.27: n x n against n x m): one GEMM with the inverse
    runs at matrix-product speed, where a triangular solve per column does not."""
    xp = get_namespace(M)
    return xp.linalg.inv(M)


def fista_step(z, z_old, c: float, bq, y, eta: float, beta: float, *, xent=None):
    r"""One FISTA step of the z_L update (thesis Algorithm 7, eq. 4.39), fused with its stopping sums.

    With the extrapolated point ``hat z = z + c (z - z_old)`` (``c = 0``: no
    momentum) and ``g = S(hat z) - y`` the gradient of the cross-entropy,

    .. math:: z^{new} = \frac{\eta \hat z + \beta q - g}{\eta + \beta}

    (``bq = beta q`` is passed precomputed). Returns ``(z_new, step2, norm2)``
    with ``step2 = ||z_new - z||^2`` and ``norm2 = ||z_new||^2`` as Python
    floats: the one host round trip per FISTA step (both scalars in one transfer).
    ``xent`` replaces :func:`softmax_xent` for the gradient.
    """
    xp = get_namespace(z, bq, y)
    z_hat = z if c == 0.0 else z + c * (z - z_old)
    _, g = (xent or softmax_xent)(z_hat, y)
    z_new = (eta * z_hat + bq - g) / (eta + beta)
    d = z_new - z
    sums = xp.stack([xp.sum(d * d), xp.sum(z_new * z_new)])
    step2, norm2 = (float(v) for v in _host(sums))
    return z_new, step2, norm2


def _host(x):
    from .._backend import to_numpy

    return to_numpy(x).tolist()


def axpby(alpha: float, x, beta: float, y, out=None):
    """``alpha x + beta y`` (same shapes): the right-hand sides of the exact a-update (eq. 4.27).

    ``out`` may name a buffer (``x``, ``y`` or another array the caller no longer needs) that
    a fast kernel writes the result into, saving an allocation; callers use the return
    value either way (this reference version always returns a new array)."""
    return alpha * x + beta * y


def sq_norm_axpy(x, y, s: float):
    """``||x + s y||^2`` as a 0-d array: the objective of a backtracking trial
    (thesis Algorithms 3 and 6 evaluate ``J`` at ``W - grad/nu`` through the
    residual ``r + (grad a)/nu``; no matrix product per trial)."""
    xp = get_namespace(x, y)
    v = x + s * y
    return xp.sum(v * v)


def proj_step(Wn, alpha, Q_prev, qmax: int, zero: bool):
    """One alternation of the alpha/Q projection (thesis Algorithm 4), per row.

    ``Q = Pi_C(Wn / alpha)`` (eq. 4.17: ``clip(round(x), -qmax, qmax)``, ties to
    even; binary: ``+1`` where ``x >= 0`` else ``-1``), then
    ``alpha' = <Wn, Q>/<Q, Q>`` (eq. 4.16; rows with ``<Q,Q> = 0`` or
    ``<Wn,Q> <= 0`` keep ``alpha``) and the row loss ``||Wn - alpha' Q||^2``.
    ``Wn``: (R, C); ``alpha``: (R, 1). Returns ``(Q, alpha', loss, same)``,
    ``same`` (R, 1) bool = Q equals ``Q_prev`` in the whole row (``None`` when
    ``Q_prev`` is None).
    """
    xp = get_namespace(Wn, alpha)
    x = Wn / alpha
    if not zero:
        one = xp.ones_like(x)
        Q = xp.where(x >= 0, one, -one)
    else:
        Q = xp.clip(xp.round(x), -qmax, qmax)
    dot = xp.sum(Wn * Q, axis=1, keepdims=True)
    qq = xp.sum(Q * Q, axis=1, keepdims=True)
    ok = (qq > 0) & (dot > 0)
    alpha = xp.where(ok, dot / xp.where(ok, qq, xp.ones_like(qq)), alpha)
    r = Wn - alpha * Q
    loss = xp.sum(r * r, axis=1, keepdims=True)
    same = None if Q_prev is None else xp.all(Q == Q_prev, axis=1, keepdims=True)
    return Q, alpha, loss, same
