"""Initialisation of the MLP parameters."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["init_params"]


def init_params(sizes, activation: str, rng: np.random.Generator, xp, dtype, bias: bool = True):
    """``(Ws, bs)`` for layer sizes ``n_0..n_L``: W_l uniform in +-sqrt(6 / n_{l-1}) (He, for
    ReLU) or +-sqrt(6 / (n_{l-1} + n_l)) (Glorot, otherwise, and for the output layer);
    biases zero (``bs`` None when ``bias=False``). Drawn on the host from ``rng``."""
    Ws, bs = [], []
    L = len(sizes) - 1
    for l in range(L):
        n_in, n_out = sizes[l], sizes[l + 1]
        he = activation == "relu" and l < L - 1
        lim = math.sqrt(6.0 / n_in) if he else math.sqrt(6.0 / (n_in + n_out))
        W = rng.uniform(-lim, lim, size=(n_out, n_in))
        Ws.append(xp.asarray(W, dtype=dtype))
        bs.append(xp.zeros((n_out, 1), dtype=dtype))
    return Ws, (bs if bias else None)
