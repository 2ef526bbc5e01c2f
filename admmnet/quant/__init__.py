"""Quantization: level sets, the G-update projection and packed code storage.

What "N bits" means in admmnet (docs/method.md, "Level sets"). A quantized layer is
``G = alpha * Q`` with a positive float scale alpha (one per layer, the
thesis's choice, or one per output row with ``granularity="row"``) and
integer codes Q from a level set:

* ``levels="thesis"``: exactly the thesis's set ``Q in {-(2^N-1), ..., 2^N-1}``
  (eq. 4.11), N in 1..8. It has 2^(N+1)-1 levels, so the thesis's "1 bit" is
  ternary {-1,0,1} and its "8 bits" needs 9 bits of storage. Use it to
  reproduce the thesis's tables.
* ``levels="signed"``: a true N-bit signed set ``{-(2^(N-1)-1), ..., 2^(N-1)-1}``,
  N in 2..8 (2^N-1 levels, N bits of storage).
* ``levels="binary"`` {-1,+1} (1 bit) and ``levels="ternary"`` {-1,0,+1} (2 bits).

Model sizes count real storage: ceil(log2(#levels)) bits per weight
(:attr:`LevelSet.storage_bits`, what :func:`pack_codes` writes) plus the
scales and biases in float32.

* :func:`make_level_set` / :class:`LevelSet` / :func:`round_to_codes` (levels.py)
* :func:`project` / :func:`quantize_weights` / :class:`ProjectionResult`: the
  G-update, min ||W - alpha Q||^2 (thesis Algorithm 4, projection.py)
* :func:`pack_codes` / :func:`unpack_codes` / :func:`packed_nbytes` (packing.py)
* the other sources' ternary quantizers, TWN, TTQ and the exact ternary projection
  (:mod:`.ternary`), and the mirror-descent maps (:mod:`.mirror`)
"""
from .levels import KINDS, LevelSet, make_level_set, round_to_codes
from .packing import pack_codes, packed_nbytes, unpack_codes
from .projection import ProjectionResult, project, quantize_weights
from . import mirror, ternary

__all__ = [
    "KINDS",
    "LevelSet",
    "make_level_set",
    "round_to_codes",
    "project",
    "quantize_weights",
    "ProjectionResult",
    "pack_codes",
    "unpack_codes",
    "packed_nbytes",
]
