"""What the ternary methods of the other sources (TWN, TTQ, ADMM ternary, mirror descent)
share: the level-set check and per-epoch snapshots of an objective's own state."""
from __future__ import annotations

from ._base import level_set_for

__all__ = ["method_level_set", "EpochSnapshots"]


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
