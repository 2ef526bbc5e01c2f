r"""First-order optimizers on lists of arrays (one entry per parameter).

Each ``step(params, grads, lr)`` returns the new parameter list (arrays are
not modified in place, so every array-API namespace works). ``None`` gradients
leave their parameter (and its state) untouched: that is how frozen layers are
expressed. ``decay[i]`` says whether parameter i receives weight decay
(weights yes, biases no, by the estimators' convention).

Adam with decoupled weight decay (AdamW; Kingma & Ba 2015, Loshchilov & Hutter 2019), step t = 1, 2, ...::

    m_t = b1 m_{t-1} + (1 - b1) g
    v_t = b2 v_{t-1} + (1 - b2) g^2
    p  <- p - lr ( m_t / (1 - b1^t) / (sqrt(v_t / (1 - b2^t)) + eps) + wd p )

SGD with (heavy-ball) momentum and L2 weight decay::

    v <- mu v + (g + wd p)
    p <- p - lr v                     (nesterov: p <- p - lr (g + wd p + mu v))
"""
from __future__ import annotations

import math

from .._backend import get_namespace

__all__ = ["Adam", "SGD", "make_optimizer", "OPTIMIZERS", "lr_at"]


class Adam:
    """Adam / AdamW (decoupled weight decay ``weight_decay``)."""

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0):
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam betas must lie in [0, 1), got {beta1}, {beta2}")
        if eps <= 0 or weight_decay < 0:
            raise ValueError("Adam needs eps > 0 and weight_decay >= 0")
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay
        self.m: dict[int, object] = {}
        self.v: dict[int, object] = {}
        self.t: dict[int, int] = {}

    def step(self, params, grads, lr: float, decay=None):
        out = list(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:
                continue
            xp = get_namespace(p, g)
            t = self.t.get(i, 0) + 1
            m = self.beta1 * self.m[i] + (1 - self.beta1) * g if i in self.m else (1 - self.beta1) * g
            v = self.beta2 * self.v[i] + (1 - self.beta2) * (g * g) if i in self.v else (1 - self.beta2) * (g * g)
            self.m[i], self.v[i], self.t[i] = m, v, t
            mhat_scale = 1.0 / (1 - self.beta1 ** t)
            vhat_scale = 1.0 / (1 - self.beta2 ** t)
            upd = (m * mhat_scale) / (xp.sqrt(v * vhat_scale) + self.eps)
            if self.weight_decay and (decay is None or decay[i]):
                upd = upd + self.weight_decay * p
            out[i] = p - lr * upd
        return out


class SGD:
    """SGD with heavy-ball (or Nesterov) momentum and L2 weight decay."""

    def __init__(self, momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0):
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD momentum must lie in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError("weight_decay must be >= 0")
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.v: dict[int, object] = {}

    def step(self, params, grads, lr: float, decay=None):
        out = list(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:
                continue
            if self.weight_decay and (decay is None or decay[i]):
                g = g + self.weight_decay * p
            v = self.momentum * self.v[i] + g if i in self.v else g
            self.v[i] = v
            d = g + self.momentum * v if self.nesterov else v
            out[i] = p - lr * d
        return out


OPTIMIZERS = ("adam", "sgd")


def make_optimizer(name: str, *, weight_decay: float = 0.0, momentum: float = 0.9):
    """``"adam"`` (AdamW) or ``"sgd"`` (momentum ``momentum``)."""
    if name == "adam":
        return Adam(weight_decay=weight_decay)
    if name == "sgd":
        return SGD(momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def lr_at(lr: float, schedule: str, epoch: int, epochs: int) -> float:
    """Learning rate of (0-based) ``epoch``: ``constant`` or ``cosine``
    (lr * (1 + cos(pi epoch / epochs)) / 2, from lr down towards 0)."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
    raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {schedule!r}")
