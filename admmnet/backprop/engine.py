r"""Forward and backward pass of a dense MLP, and the softmax cross-entropy loss.

Samples are columns (docs/method.md, "Conventions"): ``a_0`` is ``n_0 x m``, and for
l = 1..L

    z_l = W_l a_{l-1} + b_l,        a_l = h(z_l)  (l < L),        z_L = logits.

Loss (mean over the m samples of the batch)::

    R = -(1/m) sum_j sum_k Y_kj log softmax(z_L)_kj,     dR/dz_L = (softmax(z_L) - Y) / m.

Distillation (Hinton et al. 2015; :func:`distillation_loss`): with teacher logits ``t``, a
weight ``w`` in [0, 1] and a temperature ``T``, q = softmax(t/T), p_T = softmax(z_L/T)::

    R_d = (1 - w) R + w T^2 (1/m) sum_j KL(q_j || p_T,j),
    dR_d/dz_L = ((1 - w)(softmax(z_L) - Y) + w T (p_T - q)) / m.

Backward pass (chain rule, written out by hand)::

    dW_l = dz_l a_{l-1}^T,   db_l = dz_l 1,   da_{l-1} = W_l^T dz_l,
    dz_{l-1} = da_{l-1} * h'(z_{l-1}) * mask_{l-1},

where ``mask_{l-1}`` is the straight-through mask of an activation quantizer
(1 where the input was inside the quantizer's range; absent: all ones).
``forward`` takes the weights used in the forward pass (for QNN-STE and QAT:
the quantized ones); ``backward`` returns the gradients with respect to those
weights, which the straight-through estimator hands to the latent
full-precision weights unchanged.

Every function takes its namespace from its inputs (``xp = get_namespace(...)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .._backend import get_namespace
from ..admm.activations import LEAKY_SLOPE

__all__ = ["ACTIVATION_GRADS", "activation_grad", "softmax", "softmax_cross_entropy", "distillation_loss", "forward",
           "backward", "ForwardCache"]


def _relu_grad(xp, z):
    return xp.astype(z > 0, z.dtype)


def _hardsigmoid_grad(xp, z):
    return xp.astype((z > 0) & (z < 1), z.dtype)


def _identity_grad(xp, z):
    return xp.ones_like(z)


def _leaky_relu_grad(xp, z):
    return xp.where(z > 0, xp.ones_like(z), xp.full_like(z, LEAKY_SLOPE))


#: h'(z) per activation name (subgradient 0 at the kinks).
ACTIVATION_GRADS: dict[str, Callable] = {"relu": _relu_grad, "hardsigmoid": _hardsigmoid_grad,
                                         "identity": _identity_grad, "leaky_relu": _leaky_relu_grad}


def activation_grad(name: str, z):
    """h'(z) elementwise for activation ``name``."""
    try:
        fn = ACTIVATION_GRADS[name]
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(ACTIVATION_GRADS)}, got {name!r}") from None
    return fn(get_namespace(z), z)


def softmax(Z):
    """Column-wise softmax, stable (the column max is subtracted first)."""
    xp = get_namespace(Z)
    E = xp.exp(Z - xp.max(Z, axis=0, keepdims=True))
    return E / xp.sum(E, axis=0, keepdims=True)


def softmax_cross_entropy(Z, Y):
    """Mean cross-entropy of logits ``Z`` (K x m) against one-hot ``Y`` (K x m) and its gradient.

    Returns ``(loss, dZ)`` with ``loss`` a 0-d array and ``dZ = (softmax(Z) - Y) / m``."""
    xp = get_namespace(Z, Y)
    m = Z.shape[1]
    log_p = _log_softmax(Z)
    return -xp.sum(Y * log_p) / m, (xp.exp(log_p) - Y) / m


def _log_softmax(Z):
    """Column-wise log-softmax, stable (the column max is subtracted first)."""
    xp = get_namespace(Z)
    S = Z - xp.max(Z, axis=0, keepdims=True)
    return S - xp.log(xp.sum(xp.exp(S), axis=0, keepdims=True))


def distillation_loss(Z, Y, Zt, weight: float, temperature: float):
    r"""Knowledge distillation: the cross-entropy against the labels mixed with the KL divergence
    from the teacher's softened outputs (module docstring, ``R_d``).

    ``Z``: the student's logits (K x m), ``Y``: one-hot labels, ``Zt``: the teacher's logits on
    the same columns, ``weight`` = w in [0, 1], ``temperature`` = T > 0. The KL term is scaled by
    T^2 so that its gradient's size does not depend on T. Returns ``(loss, dZ)``; ``weight = 0``
    is :func:`softmax_cross_entropy`."""
    xp = get_namespace(Z, Y, Zt)
    m = Z.shape[1]
    T = float(temperature)
    ce, dZ = softmax_cross_entropy(Z, Y)
    log_q = _log_softmax(Zt / T)
    log_p = _log_softmax(Z / T)
    q = xp.exp(log_q)
    kl = xp.sum(q * (log_q - log_p)) / m
    w = float(weight)
    return (1 - w) * ce + w * T * T * kl, (1 - w) * dZ + (w * T / m) * (xp.exp(log_p) - q)


@dataclass
class ForwardCache:
    """What the backward pass needs: the inputs ``a[l]`` of every layer (after any
    activation quantizer), the pre-activations ``z[l]`` and the quantizers' STE masks."""

    a: list = field(default_factory=list)
    z: list = field(default_factory=list)
    masks: list = field(default_factory=list)


def forward(Ws, bs, A0, activation: str, *, act_quant: Callable | None = None, keep: bool = True, arch=None):
    """Logits ``z_L`` (K x m) of the MLP on ``A0`` (n_0 x m) and the :class:`ForwardCache`.

    ``arch``: None for the MLP (the formulas above), or an :class:`~admmnet.backprop.arch.Arch`
    (a CNN; ``A0`` is then its flat input ``C*H*W x m`` and the cache an ``ArchCache``).

    ``bs`` may be None (no bias; else each ``b_l`` is ``n_l x 1``). ``act_quant(l, a)``,
    if given, replaces the input ``a`` of layer l by ``(a_q, mask)`` (QAT's fake
    quantization; ``mask`` is the STE mask or None). ``keep=False`` skips the cache."""
    if arch is not None:
        from .arch import forward as arch_forward

        return arch_forward(arch, Ws, bs, A0, activation, act_quant=act_quant, keep=keep)
    from ..admm.activations import get_activation

    h = get_activation(activation)
    cache = ForwardCache()
    a = A0
    L = len(Ws)
    for l in range(L):
        mask = None
        if act_quant is not None:
            a, mask = act_quant(l, a)
        z = Ws[l] @ a
        if bs is not None:
            z = z + bs[l]
        if keep:
            cache.a.append(a)
            cache.z.append(z)
            cache.masks.append(mask)
        a = h(z) if l < L - 1 else z
    return a, cache


def backward(Ws, cache: ForwardCache, dZL, activation: str, *, need: list[bool] | None = None, arch=None):
    """Gradients ``(dWs, dbs)`` of the loss w.r.t. the forward weights and biases, from
    ``dZL = dR/dz_L``. ``need[l] = False`` skips the (unused) weight gradient of layer l
    (its entry is None); the error is still propagated through it. ``arch``: as for
    :func:`forward` (a CNN's backward pass, :func:`admmnet.backprop.arch.backward`)."""
    if arch is not None:
        from .arch import backward as arch_backward

        return arch_backward(arch, Ws, cache, dZL, activation, need=need)
    L = len(Ws)
    dWs: list[Any] = [None] * L
    dbs: list[Any] = [None] * L
    xp = get_namespace(dZL)
    dZ = dZL
    lowest = 0
    if need is not None:
        lowest = next((l for l in range(L) if need[l]), L)
    for l in range(L - 1, lowest - 1, -1):
        if need is None or need[l]:
            dWs[l] = dZ @ cache.a[l].T
            dbs[l] = xp.sum(dZ, axis=1, keepdims=True)
        if l > lowest:
            dA = Ws[l].T @ dZ
            if cache.masks[l] is not None:
                dA = dA * cache.masks[l]
            dZ = dA * activation_grad(activation, cache.z[l - 1])
    return dWs, dbs
