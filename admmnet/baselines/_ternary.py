"""What the ternary methods of the other sources (TWN, TTQ, ADMM ternary, mirror descent)
share: the level-set check, per-epoch snapshots of an objective's own state, and the scaled-dual
ADMM penalty with continuation (ADMM ternary; the budget method's retraining stage)."""
from __future__ import annotations

from .._backend import get_namespace, to_float
from ._base import level_set_for

__all__ = ["method_level_set", "EpochSnapshots", "ScaledDualADMM"]


def method_level_set(method: str, bits, levels, *, binary: bool = False):
    """The level set of ``method`` for ``bits``/``levels``: ternary {-1,0,1} (``bits=1`` with the
    thesis levels, or ``levels="ternary"``) and, where ``binary``, {-1,+1} (``levels="binary"``);
    anything else is a ValueError naming what ``method`` supports."""
    ls = level_set_for(bits, levels)
    if ls.zero and ls.qmax == 1:
        return ls
    if binary and not ls.zero:
        return ls
    supported = "ternary weights (bits=1 with levels='thesis', or levels='ternary')"
    if binary:
        supported += " and binary weights (levels='binary')"
    raise ValueError(f"{method} supports {supported} only; got bits={bits!r}, levels={levels!r} "
                     f"({ls.describe()})")


class EpochSnapshots:
    """Mixin for objectives with state besides the trained weights (scales, duals, beta):
    ``start_epoch`` records :meth:`state` as it is after ``epoch`` epochs, so that the state
    belonging to the trainer's best epoch can be read back with :meth:`state_after`."""

    def state(self) -> dict:          # pragma: no cover - subclasses
        raise NotImplementedError

    def snapshot(self, epoch: int) -> None:
        hist = self.__dict__.setdefault("_snapshots", [])
        del hist[epoch:]
        hist.append(self.state())

    def state_after(self, epochs: int) -> dict:
        """The state after ``epochs`` finished epochs (the current one when that is the last)."""
        hist = self.__dict__.get("_snapshots", [])
        return hist[epochs] if epochs < len(hist) else self.state()


class ScaledDualADMM:
    """Mixin for objectives that couple W to a projection G by ADMM with the scaled dual U:
    the penalty ``sum_l rho/2 ||W_l - G_l + U_l||^2`` (restricted to ``masks`` when the
    objective has them) and, after each G-step, the dual step with continuation. Subclasses
    hold ``G``, ``U``, ``rho``, ``rho_growth`` (and optionally ``masks``)."""

    masks = None
    layer_scales = None     # optional per-layer factors c_l: the penalty is rho c_l / 2 ||W_l - G_l + U_l||^2

    def penalty(self, Ws):
        xp = get_namespace(Ws[0])
        total, grads = 0.0, []
        for l, (W, G, U) in enumerate(zip(Ws, self.G, self.U)):
            D = W - G + U
            if self.masks is not None:
                D = D * self.masks[l]
            rho = self.rho if self.layer_scales is None else self.rho * self.layer_scales[l]
            grads.append(rho * D)
            total += 0.5 * rho * to_float(xp.sum(D * D))
        return total, grads

    def dual_step(self, Ws) -> None:
        """``U <- U + W - G``, then ``rho <- rho_growth rho`` with ``U <- U / rho_growth``
        (the unscaled multiplier rho U unchanged by the continuation)."""
        self.U = [(U + W - G) / self.rho_growth for W, U, G in zip(Ws, self.U, self.G)]
        self.rho *= self.rho_growth
