"""Level sets: which integer codes a quantized weight may take.

A quantized weight matrix is ``G = alpha * Q`` with a positive float scale
``alpha`` (per layer or per output row) and integer codes ``Q`` drawn from a
:class:`LevelSet`. The kinds (docs/method.md, "Level sets"):

==========  ======================================  ==============  ================
kind        codes                                   bits accepted   storage bits
==========  ======================================  ==============  ================
thesis      -(2^N-1) .. 2^N-1  (2^(N+1)-1 levels)    N in 1..8       N+1
signed      -(2^(N-1)-1) .. 2^(N-1)-1 (2^N-1 levels) N in 2..8       N
binary      {-1, +1}                                None or 1       1
ternary     {-1, 0, +1}                             None, 1 or 2    2
==========  ======================================  ==============  ================

``thesis`` is exactly the thesis's set (eq. 4.11), so its "N bits" is the
magnitude width: "1 bit" is ternary and "8 bits" has 511 levels and needs 9
bits of storage. ``signed`` is a true N-bit symmetric set (the code
-2^(N-1) is left out so that the set is symmetric and contains 0).

:func:`round_to_codes` is the projection of a float array (in code units,
``W / alpha``) onto the nearest code; it is backend-agnostic (array API only).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from .._backend import get_namespace

__all__ = ["KINDS", "LevelSet", "make_level_set", "round_to_codes"]

#: Valid ``levels=`` names.
KINDS = ("thesis", "signed", "binary", "ternary")

_BITS_RANGE = {"thesis": (1, 8), "signed": (2, 8)}
_BITS_ALLOWED = {"binary": (None, 1), "ternary": (None, 1, 2)}


@dataclass(frozen=True)
class LevelSet:
    """A symmetric set of integer codes.

    kind : "thesis" | "signed" | "binary" | "ternary"
    bits : the N the user asked for (``None`` for binary/ternary unless given)
    qmax : the largest code; the codes are ``-qmax..qmax`` (every integer,
        including 0) for the integer grids, ``{-1, +1}`` for binary
    zero : whether 0 is a level (False only for binary)

    Build one with :func:`make_level_set`, which validates the user's input.
    """

    kind: str
    bits: int | None
    qmax: int
    zero: bool

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown level-set kind {self.kind!r}: choose one of {', '.join(KINDS)}")
        if not isinstance(self.qmax, int) or self.qmax < 1:
            raise ValueError(f"qmax must be a positive integer, got {self.qmax!r}")
        if self.kind == "binary" and (self.zero or self.qmax != 1):
            raise ValueError("a binary level set has qmax=1 and no zero level")
        if self.kind != "binary" and not self.zero:
            raise ValueError(f"a {self.kind!r} level set contains 0 (zero=True)")

    @property
    def levels(self) -> tuple[int, ...]:
        """All integer codes, ascending, e.g. binary ``(-1, 1)``, thesis N=1 ``(-1, 0, 1)``."""
        if not self.zero:
            return (-1, 1)
        return tuple(range(-self.qmax, self.qmax + 1))

    @property
    def n_levels(self) -> int:
        return 2 if not self.zero else 2 * self.qmax + 1

    @property
    def storage_bits(self) -> int:
        """Bits one weight needs on disk: ceil(log2(n_levels))."""
        return (self.n_levels - 1).bit_length()

    @property
    def code_dtype(self) -> str:
        """Smallest signed integer dtype holding every code."""
        return "int8" if self.qmax <= 127 else "int16"

    def describe(self) -> str:
        """One line, e.g. ``"thesis 2-bit: integers -3..3 (7 levels, 3 bits of storage)"``."""
        b = self.storage_bits
        storage = f"{self.n_levels} levels, {b} bit{'s' if b != 1 else ''} of storage"
        if self.kind == "binary":
            return f"binary: {{-1, +1}} ({storage})"
        name = self.kind if self.kind == "ternary" else f"{self.kind} {self.bits}-bit"
        return f"{name}: integers {-self.qmax}..{self.qmax} ({storage})"


def make_level_set(levels: str = "thesis", bits: int | None = None) -> LevelSet:
    """Validate ``levels``/``bits`` and build the :class:`LevelSet`.

    ``levels="thesis"`` (the thesis's {-(2^N-1), ..., 2^N-1}, N in 1..8),
    ``"signed"`` (true N-bit {-(2^(N-1)-1), ..., 2^(N-1)-1}, N in 2..8),
    ``"binary"`` ({-1,+1}; bits None or 1), ``"ternary"`` ({-1,0,+1}; bits
    None, 1 (the thesis's name for it) or 2 (its storage)). Raises ValueError
    naming the problem.
    """
    if not isinstance(levels, str):
        raise ValueError(f"levels must be a string, one of {', '.join(KINDS)}; got {levels!r}")
    kind = levels.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"unknown levels={levels!r}: choose one of {', '.join(KINDS)}")
    if bits is not None:
        if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
            raise ValueError(f"bits must be an integer (or None), got {bits!r}")
        bits = int(bits)
    if kind in _BITS_ALLOWED:
        allowed = _BITS_ALLOWED[kind]
        if bits not in allowed:
            shown = " or ".join("None" if a is None else str(a) for a in allowed)
            raise ValueError(f"bits={bits} is not supported for levels={kind!r}: use bits={shown}")
        if kind == "binary":
            return LevelSet(kind, bits, 1, False)
        return LevelSet(kind, bits, 1, True)
    lo, hi = _BITS_RANGE[kind]
    if bits is None:
        raise ValueError(f"levels={kind!r} needs bits: choose N in {lo}..{hi}")
    if not lo <= bits <= hi:
        raise ValueError(f"bits={bits} is not supported for levels={kind!r}: choose N in {lo}..{hi}")
    qmax = 2**bits - 1 if kind == "thesis" else 2 ** (bits - 1) - 1
    return LevelSet(kind, bits, qmax, True)


def round_to_codes(x, level_set: LevelSet):
    """Nearest code of ``level_set`` for every entry of the float array ``x``
    (in code units, i.e. ``x = W / alpha``); same namespace, shape and dtype as ``x``.

    Integer grids: ``clip(round(x), -qmax, qmax)``, i.e. the projection
    Π_C(x) of eq. 4.17. Ties (x exactly halfway between two integers) follow
    ``xp.round``: round half to even (IEEE 754, the array-API rule), so 0.5 -> 0,
    1.5 -> 2, -2.5 -> -2. Binary: ``+1`` where ``x >= 0`` else ``-1`` (the tie
    x = 0 goes to +1).
    """
    xp = get_namespace(x)
    if not level_set.zero:
        one = xp.ones_like(x)
        return xp.where(x >= 0, one, -one)
    q = level_set.qmax
    return xp.clip(xp.round(x), -q, q)
