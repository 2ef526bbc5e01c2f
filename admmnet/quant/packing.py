"""Real storage of quantized weights: codes bit-packed at ``storage_bits`` per weight.

A code q of a :class:`~admmnet.quant.levels.LevelSet` is stored as the offset
``q + qmax`` (integer grids, 0..2*qmax) or ``(q + 1) / 2`` (binary: -1 -> 0,
+1 -> 1), written little-endian (least significant bit first) at exactly
``level_set.storage_bits`` = ceil(log2(n_levels)) bits per weight, weights in
C order, into one uint8 bitstream whose last byte is padded with zero bits.
This is host I/O, so it uses NumPy; Q may come from any backend.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._backend import to_numpy
from .levels import LevelSet

__all__ = ["pack_codes", "unpack_codes", "packed_nbytes"]


def packed_nbytes(n_weights: int, level_set: LevelSet) -> int:
    """Bytes that ``n_weights`` codes occupy: ceil(n_weights * storage_bits / 8)."""
    if isinstance(n_weights, bool) or not isinstance(n_weights, numbers.Integral) or n_weights < 0:
        raise ValueError(f"n_weights must be a non-negative integer, got {n_weights!r}")
    return (int(n_weights) * level_set.storage_bits + 7) // 8


def _offsets(Q, level_set: LevelSet) -> np.ndarray:
    q = np.asarray(to_numpy(Q)).reshape(-1)
    if q.dtype.kind == "f":
        if not np.all(np.isfinite(q)) or not np.all(q == np.round(q)):
            raise ValueError("Q must be integer-valued (it holds non-integers, NaN or inf)")
    elif q.dtype.kind not in "iu":
        raise ValueError(f"Q must be an integer-valued numeric array, got dtype {q.dtype}")
    if q.size and (q.min() < -level_set.qmax or q.max() > level_set.qmax):
        raise ValueError(f"Q holds codes outside {level_set.describe()}")
    qi = q.astype(np.int64)
    if not level_set.zero:
        if np.any(qi == 0):
            raise ValueError("Q holds 0, which is not a binary code (-1 or +1)")
        return (qi + 1) // 2
    return qi + level_set.qmax


def pack_codes(Q, level_set: LevelSet) -> np.ndarray:
    """Pack the integer codes ``Q`` (any shape, any backend, int or integer-valued
    float) into a uint8 array of :func:`packed_nbytes` bytes (see module docstring).
    Raises ValueError if Q holds a value outside the level set."""
    off = _offsets(Q, level_set)
    b = level_set.storage_bits
    bits = ((off[:, None] >> np.arange(b, dtype=np.int64)) & 1).astype(np.uint8)
    return np.packbits(bits.reshape(-1), bitorder="little")


def unpack_codes(packed, shape, level_set: LevelSet) -> np.ndarray:
    """Inverse of :func:`pack_codes`: the codes as a ``level_set.code_dtype`` array of ``shape``.

    Raises ValueError on corrupt data: a wrong number of bytes for ``shape``,
    nonzero padding bits, or a stored offset >= n_levels."""
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative, got {shape}")
    n = math.prod(shape)
    data = np.asarray(to_numpy(packed))
    if data.dtype != np.uint8 or data.ndim != 1:
        raise ValueError(f"packed codes must be a 1-D uint8 array, got {data.dtype} with shape {data.shape}")
    expected = packed_nbytes(n, level_set)
    if data.size != expected:
        raise ValueError(f"packed codes hold {data.size} bytes, expected {expected} for shape {shape} "
                         f"at {level_set.storage_bits} bits per weight (corrupt or mismatched data)")
    b = level_set.storage_bits
    bits = np.unpackbits(data, bitorder="little")
    if np.any(bits[n * b:]):
        raise ValueError("packed codes have nonzero padding bits (corrupt data)")
    off = bits[: n * b].reshape(n, b).astype(np.int64) @ (np.int64(1) << np.arange(b, dtype=np.int64))
    if off.size and off.max() >= level_set.n_levels:
        raise ValueError(f"packed codes hold offset {int(off.max())} >= {level_set.n_levels} levels (corrupt data)")
    codes = 2 * off - 1 if not level_set.zero else off - level_set.qmax
    return codes.astype(level_set.code_dtype).reshape(shape)
