r"""Mirror-descent quantization maps (Ajanthan et al., "Mirror Descent View for Neural
Network Quantization", docs/baselines.md): projections P_beta from the unconstrained
(dual) variables to the relaxed quantized set, their inverses (the gradients of the mirror
maps, Theorem 1: grad Phi = P^{-1}), the closed-form MD updates and the final hard
quantization. Pure functions of arrays of any shape, array-API only; ``beta`` is a
Python float (the annealing hyperparameter).

w-space, binary (Example 1)::

    x = P(w~) = tanh(beta w~),        P^{-1}(x) = atanh(x) / beta
    MD-tanh update (Eq. 15):  x' = (r e^{-2 beta s} - 1) / (r e^{-2 beta s} + 1),  r = (1+x)/(1-x)

w-space, ternary {-1, 0, 1} (Example 3, shifted tanh)::

    x = P(w~) = ( tanh(beta (w~ + 1/2)) + tanh(beta (w~ - 1/2)) ) / 2
              = tau (1 - c^2) / (1 - c^2 tau^2),   tau = tanh(beta w~), c = tanh(beta / 2)

  (tanh addition formula), so the inverse is closed form: the root of
  ``x c^2 tau^2 + (1 - c^2) tau - x = 0`` in (-1, 1),
  ``tau = 2x / ((1 - c^2) + sqrt((1 - c^2)^2 + 4 c^2 x^2))``, ``w~ = atanh(tau) / beta``,
  and the MD update is ``x' = P(P^{-1}(x) - s)`` (``1 - c^2 = sech^2(beta/2)`` is computed
  directly, not as a difference).

u-space (Example 2): per weight a probability vector u over the levels q, w = <u, q>::

    u = P(u~) = softmax(beta u~),     P^{-1}(u) = log(u) / beta   (the representative of Eq. 17/18)
    MD-softmax update = exponentiated gradient (Eq. 20):  u'_l = u_l e^{-beta s_l} / sum_m u_m e^{-beta s_m}

``s`` is the step ``eta g`` (or an optimizer's step, as the paper's "Adam based
gradients"). The plain MD variants keep the primal point x (or u) and apply these updates;
the stable "-s" variants keep the dual w~ (or u~) and set ``w~ <- w~ - s, x = P(w~)``
(Eq. 23): for a fixed beta the two are the same map, since ``P(P^{-1}(x) - s)`` is exactly
the closed form above. Quantization at the end: the nearest level of x (sign for binary,
round to {-1,0,1} for ternary), argmax of u for softmax.

The open interval is kept in floating point: x is clipped to ``|x| <= 1 - eps`` and u to
``u >= tiny`` before an inverse, so that the dual stays finite.
"""
from __future__ import annotations

import math

from .._backend import get_namespace

__all__ = ["tanh_project", "tanh_inverse", "md_tanh_update", "md_update", "softmax_project", "softmax_inverse",
           "egd_update", "softmax_init", "tanh_codes", "softmax_codes", "level_vector"]


def _sech2_half(beta: float) -> float:
    """``1 - tanh(beta/2)^2 = sech^2(beta/2) = 4 e^{-beta} / (1 + e^{-beta})^2``, accurate for large beta."""
    e = math.exp(-beta)
    return 4.0 * e / (1.0 + e) ** 2


def _clip_open(xp, x):
    eps = xp.finfo(x.dtype).eps
    return xp.clip(x, -1.0 + eps, 1.0 - eps)


def tanh_project(wt, beta: float, ternary: bool = False):
    """P_beta(w~): ``tanh(beta w~)`` (binary) or the shifted tanh (ternary)."""
    xp = get_namespace(wt)
    if not ternary:
        return xp.tanh(beta * wt)
    return 0.5 * (xp.tanh(beta * (wt + 0.5)) + xp.tanh(beta * (wt - 0.5)))


def tanh_inverse(x, beta: float, ternary: bool = False):
    """P_beta^{-1}(x) = grad Phi_beta(x), x clipped into the open interval (-1, 1)."""
    xp = get_namespace(x)
    x = _clip_open(xp, x)
    if not ternary:
        return xp.atanh(x) / beta
    a = _sech2_half(beta)                       # 1 - c^2
    c2 = 1.0 - a
    den = a + xp.sqrt(a * a + 4.0 * c2 * x * x)
    tiny = xp.finfo(x.dtype).tiny
    tau = 2.0 * x / xp.maximum(den, xp.full_like(den, tiny))
    return xp.atanh(_clip_open(xp, tau)) / beta


def md_tanh_update(x, step, beta: float):
    """One MD-tanh step (binary, Eq. 15): ``x' = (r e^{-2 beta s} - 1) / (r e^{-2 beta s} + 1)``
    with ``r = (1 + x) / (1 - x)``, computed as written (x clipped into (-1, 1))."""
    xp = get_namespace(x, step)
    x = _clip_open(xp, x)
    r = (1.0 + x) / (1.0 - x) * xp.exp(-2.0 * beta * step)
    return (r - 1.0) / (r + 1.0)


def md_update(x, step, beta: float, ternary: bool = False):
    """One plain MD step in w-space: ``P(P^{-1}(x) - s)`` (Eq. 4 with grad Phi = P^{-1});
    binary: :func:`md_tanh_update` (Eq. 15)."""
    if not ternary:
        return md_tanh_update(x, step, beta)
    return tanh_project(tanh_inverse(x, beta, True) - step, beta, True)


def softmax_project(ut, beta: float):
    """P_beta(u~) = softmax(beta u~) over the last axis (the levels)."""
    xp = get_namespace(ut)
    z = beta * ut
    z = z - xp.max(z, axis=-1, keepdims=True)
    e = xp.exp(z)
    return e / xp.sum(e, axis=-1, keepdims=True)


def softmax_inverse(u, beta: float):
    """The representative ``log(u) / beta`` of P_beta^{-1}(u) (Eq. 18), u floored at ``tiny``."""
    xp = get_namespace(u)
    tiny = xp.finfo(u.dtype).tiny
    return xp.log(xp.maximum(u, xp.full_like(u, tiny))) / beta


def egd_update(u, step, beta: float):
    """One MD-softmax step, exponentiated gradient (Eq. 20), computed as written."""
    xp = get_namespace(u, step)
    v = u * xp.exp(-beta * step)
    return v / xp.sum(v, axis=-1, keepdims=True)


def level_vector(xp, ternary: bool, dtype):
    """The levels q: ``(-1, 1)`` (binary) or ``(-1, 0, 1)`` (ternary)."""
    return xp.asarray([-1.0, 0.0, 1.0] if ternary else [-1.0, 1.0], dtype=dtype)


def softmax_init(w, ternary: bool):
    """Dual start of MD-softmax from weights ``w`` in code units: ``u~_l = -(w - q_l)^2``,
    so that ``argmax softmax(beta u~)`` is the nearest level for every beta > 0."""
    xp = get_namespace(w)
    q = level_vector(xp, ternary, w.dtype)
    d = w[..., None] - q
    return -(d * d)


def tanh_codes(x, ternary: bool = False):
    """Hard quantization of w-space points: sign (0 -> +1) or round to {-1, 0, 1}."""
    xp = get_namespace(x)
    if not ternary:
        one = xp.ones_like(x)
        return xp.where(x >= 0, one, -one)
    return xp.clip(xp.round(x), -1.0, 1.0)


def softmax_codes(u, ternary: bool):
    """Hard quantization of u-space points: the level of the largest probability (argmax)."""
    xp = get_namespace(u)
    q = level_vector(xp, ternary, u.dtype)
    idx = xp.argmax(u, axis=-1)
    return xp.reshape(xp.take(q, xp.reshape(idx, (-1,))), idx.shape)
