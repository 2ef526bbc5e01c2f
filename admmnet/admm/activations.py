"""Activations h_l of the hidden layers, each described by its linear pieces.

Every activation admmnet supports is piecewise linear: on the interval
``lo <= z <= hi`` it equals ``slope * z + offset``. That one description gives
both the forward pass and the closed-form z-update of every activation
(docs/method.md, the z_l update; thesis Algorithm 5 for ReLU, eq. 4.20 for the hard sigmoid),
so adding an activation means adding one row to :data:`ACTIVATIONS`.

=============  =========================  ==================================
name           h(z)                       pieces (lo, hi, slope, offset)
=============  =========================  ==================================
``relu``       max(z, 0)                  (-inf, 0, 0, 0), (0, inf, 1, 0)
``hardsigmoid`` clip(z, 0, 1)  (eq. 4.20)  (-inf, 0, 0, 0), (0, 1, 1, 0), (1, inf, 0, 1)
``identity``   z                          (-inf, inf, 1, 0)
``leaky_relu`` max(z, 0.1 z)              (-inf, 0, 0.1, 0), (0, inf, 1, 0)
=============  =========================  ==================================

The leaky ReLU's slope :data:`LEAKY_SLOPE` is fixed (0.1, chosen on validation rows for Seeds at
1 bit, docs/quantized_training.md): a hidden unit of a ternary network keeps a gradient-free
signal on every row, where a ReLU unit the quantizer leaves off on every row is lost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .._backend import get_namespace

__all__ = ["Activation", "ACTIVATIONS", "LEAKY_SLOPE", "get_activation"]

#: Slope of ``leaky_relu`` on z < 0.
LEAKY_SLOPE = 0.1


@dataclass(frozen=True)
class Activation:
    """A piecewise-linear activation: ``h(z) = slope_k * z + offset_k`` on piece k."""

    name: str
    pieces: tuple[tuple[float, float, float, float], ...]

    def __call__(self, z):
        """Forward pass h(z), elementwise."""
        xp = get_namespace(z)
        if self.name == "relu":
            return xp.maximum(z, 0.0)
        if self.name == "hardsigmoid":
            return xp.clip(z, 0.0, 1.0)
        if self.name == "identity":
            return z
        if self.name == "leaky_relu":
            return xp.maximum(z, LEAKY_SLOPE * z)
        # Generic evaluation from the pieces (used by activations added later).
        out = xp.zeros_like(z)
        for lo, hi, slope, offset in self.pieces:
            mask = (z >= lo) & (z <= hi)
            out = xp.where(mask, slope * z + offset, out)
        return out


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", ((-math.inf, 0.0, 0.0, 0.0), (0.0, math.inf, 1.0, 0.0))),
    "hardsigmoid": Activation(
        "hardsigmoid",
        ((-math.inf, 0.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.0), (1.0, math.inf, 0.0, 1.0)),
    ),
    "identity": Activation("identity", ((-math.inf, math.inf, 1.0, 0.0),)),
    "leaky_relu": Activation("leaky_relu", ((-math.inf, 0.0, LEAKY_SLOPE, 0.0), (0.0, math.inf, 1.0, 0.0))),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name, with an error that lists the valid names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        ) from None
