r"""Real storage of a pruned and quantized layer (the budget methods, docs/budget.md).

A :class:`CompressedWeight` holds a ``n_out x n_in`` weight matrix as

* ``positions``: the flat (C-order) indices of its non-zeros, ascending;
* ``codes``: one code per non-zero, in ``0 .. 2^bits - 1``, packed at ``bits`` bits each;
* ``codebook``: the non-zero values (``kind="kmeans"``: the values themselves, at most
  2^bits of them; ``kind="uniform"``: one scale alpha, the values being
  ``alpha * (-2^(bits-1) .. -1, 1 .. 2^(bits-1))``), in the network's float dtype.

so that the dense weight is exactly ``W.flat[positions] = values[codes]``, zero elsewhere.

On disk (:meth:`CompressedWeight.payload`), per layer, four arrays:

``codes``     uint8: the codes bit-packed little-endian (least significant bit first),
              ``ceil(nnz * bits / 8)`` bytes: the source's metric is ``nnz * bits`` bits
``codebook``  the float values above
``index``     uint8: the positions, encoded by the cheapest of three modes
              (``header[3]``): 0 dense (every entry non-zero, no bytes), 1 bitmap (one bit
              per entry), 2 Rice-coded gaps: ``g_i = pos_i - pos_{i-1} - 1`` (pos_{-1} = -1)
              as ``g_i >> k`` one-bits, a zero-bit, then the ``k`` low bits of g_i
              (LSB first), ``k = header[4]`` chosen to minimise the length
``header``    int32 ``[bits, nnz, kind (0 kmeans, 1 uniform), index mode, k]``

Every count of bytes here is the size of those arrays, so a model's reported size is what
its file holds (tests/test_budget_storage.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .budget import BudgetQuantizer, codebook_values

__all__ = ["CompressedWeight", "pack_uint", "unpack_uint", "encode_positions", "decode_positions",
           "compression_report"]

_KINDS = ("kmeans", "uniform")


def pack_uint(values, bits: int) -> np.ndarray:
    """Pack non-negative integers ``< 2^bits`` at ``bits`` bits each, LSB first, into uint8."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size and (v.min() < 0 or v.max() >= 2 ** bits):
        raise ValueError(f"values outside 0..{2 ** bits - 1} cannot be packed at {bits} bits")
    b = ((v[:, None] >> np.arange(bits, dtype=np.int64)) & 1).astype(np.uint8)
    return np.packbits(b.reshape(-1), bitorder="little")


def unpack_uint(data, n: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_uint` for ``n`` values (ValueError on a wrong byte count or padding)."""
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 1 or data.size != (n * bits + 7) // 8:
        raise ValueError(f"packed codes: expected {(n * bits + 7) // 8} uint8 bytes, got {data.dtype} {data.shape}")
    b = np.unpackbits(data, bitorder="little")
    if np.any(b[n * bits:]):
        raise ValueError("packed codes have nonzero padding bits (corrupt data)")
    return b[: n * bits].reshape(n, bits).astype(np.int64) @ (np.int64(1) << np.arange(bits, dtype=np.int64))


def _rice_bits(gaps: np.ndarray, k: int) -> int:
    return int(np.sum(gaps >> k) + gaps.size * (1 + k))


def _rice_encode(gaps: np.ndarray, k: int) -> np.ndarray:
    q = gaps >> k
    lens = q + 1 + k
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    total = int(lens.sum())
    d = np.zeros(total + 1, dtype=np.int64)
    np.add.at(d, starts, 1)
    np.add.at(d, starts + q, -1)
    bits = (np.cumsum(d[:-1]) > 0).astype(np.uint8)
    for t in range(k):
        bits[starts + q + 1 + t] = ((gaps >> t) & 1).astype(np.uint8)
    return np.packbits(bits, bitorder="little")


def _njit(fn):
    try:
        from numba import njit
    except ImportError:          # pragma: no cover
        return fn
    return njit(cache=True)(fn)


@_njit
def _rice_decode(bits, n, k):
    out = np.empty(n, dtype=np.int64)
    pos = 0
    nb = bits.shape[0]
    for i in range(n):
        q = 0
        while pos < nb and bits[pos] == 1:
            q += 1
            pos += 1
        if pos >= nb:
            return out, -1
        pos += 1
        r = 0
        for t in range(k):
            if pos >= nb:
                return out, -1
            r |= np.int64(bits[pos]) << t
            pos += 1
        out[i] = (q << k) | r
    return out, pos


def encode_positions(positions, size: int):
    """``(mode, k, stream)`` of the cheapest encoding of the ascending flat ``positions`` of a
    ``size``-entry matrix (module docstring)."""
    pos = np.asarray(positions, dtype=np.int64).reshape(-1)
    n = pos.size
    if n == size:
        return 0, 0, np.zeros(0, dtype=np.uint8)
    gaps = np.diff(np.concatenate([[-1], pos])) - 1
    best_k, best = 0, _rice_bits(gaps, 0) if n else 0
    for k in range(1, int(gaps.max()).bit_length() + 1 if n else 1):
        b = _rice_bits(gaps, k)
        if b < best:
            best_k, best = k, b
    if best >= size:
        m = np.zeros(size, dtype=np.uint8)
        m[pos] = 1
        return 1, 0, np.packbits(m, bitorder="little")
    if n == 0:
        return 2, 0, np.zeros(0, dtype=np.uint8)
    return 2, best_k, _rice_encode(gaps, best_k)


def decode_positions(mode: int, k: int, stream, nnz: int, size: int) -> np.ndarray:
    """Inverse of :func:`encode_positions` (ValueError on corrupt data)."""
    stream = np.asarray(stream)
    if stream.dtype != np.uint8 or stream.ndim != 1:
        raise ValueError("index stream must be 1-D uint8")
    if mode == 0:
        if nnz != size or stream.size:
            raise ValueError("dense index with nnz != size (corrupt data)")
        return np.arange(size, dtype=np.int64)
    if mode == 1:
        if stream.size != (size + 7) // 8:
            raise ValueError("bitmap index of the wrong length (corrupt data)")
        bits = np.unpackbits(stream, bitorder="little")
        if np.any(bits[size:]):
            raise ValueError("bitmap index has nonzero padding bits (corrupt data)")
        pos = np.flatnonzero(bits[:size])
        if pos.size != nnz:
            raise ValueError(f"bitmap index holds {pos.size} positions, header says {nnz} (corrupt data)")
        return pos.astype(np.int64)
    if mode == 2:
        if nnz == 0:
            if stream.size:
                raise ValueError("empty index with a non-empty stream (corrupt data)")
            return np.zeros(0, dtype=np.int64)
        gaps, end = _rice_decode(np.unpackbits(stream, bitorder="little"), int(nnz), int(k))
        if end < 0 or (end + 7) // 8 != stream.size:
            raise ValueError("Rice index stream of the wrong length (corrupt data)")
        pos = np.cumsum(gaps + 1) - 1
        if pos[-1] >= size:
            raise ValueError("index position beyond the matrix (corrupt data)")
        return pos
    raise ValueError(f"unknown index mode {mode} (corrupt data)")


@dataclass
class CompressedWeight:
    """A pruned, quantized weight matrix (module docstring)."""

    shape: tuple[int, int]
    bits: int
    kind: str
    codebook: np.ndarray
    codes: np.ndarray
    positions: np.ndarray

    def __post_init__(self):
        self.shape = (int(self.shape[0]), int(self.shape[1]))
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if not (isinstance(self.bits, (int, np.integer)) and 1 <= int(self.bits) <= 16):
            raise ValueError(f"bits must be an integer in 1..16, got {self.bits!r}")
        self.bits = int(self.bits)
        self.codes = np.asarray(self.codes, dtype=np.int64).reshape(-1)
        self.positions = np.asarray(self.positions, dtype=np.int64).reshape(-1)
        if self.codes.size != self.positions.size:
            raise ValueError("one code per non-zero position")
        n_values = codebook_values(self.kind, self.bits, self.codebook).size
        if self.kind == "kmeans" and n_values > 2 ** self.bits:
            raise ValueError(f"{n_values} codebook values do not fit {self.bits} bits")
        if self.codes.size and (self.codes.min() < 0 or self.codes.max() >= n_values):
            raise ValueError("codes outside the codebook")
        if self.positions.size and (np.any(np.diff(self.positions) <= 0) or self.positions[0] < 0
                                    or self.positions[-1] >= self.shape[0] * self.shape[1]):
            raise ValueError("positions must be ascending flat indices inside the matrix")

    @classmethod
    def from_quantizer(cls, q: BudgetQuantizer, shape, dtype="float32") -> "CompressedWeight":
        """From :func:`admmnet.quant.budget.quantize_values` of the matrix's flattened entries."""
        pos = np.flatnonzero(q.codes >= 0)
        return cls(tuple(shape), q.bits, q.kind, np.asarray(q.codebook, dtype=dtype), q.codes[pos], pos)

    @property
    def nnz(self) -> int:
        return int(self.positions.size)

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def weight_bits(self) -> int:
        """The source's size of this layer: ``bits x nnz``."""
        return self.bits * self.nnz

    def values(self, dtype) -> np.ndarray:
        """The non-zero values in ``dtype`` (uniform: ``alpha * level`` in ``dtype`` arithmetic)."""
        cb = np.asarray(self.codebook, dtype=dtype)
        if self.kind == "kmeans":
            return cb
        q = 2 ** (self.bits - 1)
        lv = np.concatenate([np.arange(-q, 0), np.arange(1, q + 1)]).astype(dtype)
        return cb.reshape(-1)[0] * lv

    def dense(self, dtype) -> np.ndarray:
        W = np.zeros(self.size, dtype=dtype)
        if self.nnz:
            W[self.positions] = self.values(dtype)[self.codes]
        return W.reshape(self.shape)

    def payload(self, prefix: str, dtype) -> dict:
        mode, k, stream = encode_positions(self.positions, self.size)
        return {f"{prefix}codes": pack_uint(self.codes, self.bits),
                f"{prefix}codebook": np.asarray(self.codebook, dtype=dtype).reshape(-1),
                f"{prefix}index": stream,
                f"{prefix}header": np.array([self.bits, self.nnz, _KINDS.index(self.kind), mode, k], dtype=np.int32)}

    @classmethod
    def from_payload(cls, arrays: dict, prefix: str, shape) -> "CompressedWeight":
        hdr = np.asarray(arrays[f"{prefix}header"])
        if hdr.dtype != np.int32 or hdr.shape != (5,):
            raise ValueError(f"{prefix}header must be 5 int32")
        bits, nnz, kind, mode, k = (int(v) for v in hdr)
        if not (1 <= bits <= 16) or nnz < 0 or kind not in (0, 1):
            raise ValueError(f"{prefix}header holds bits={bits}, nnz={nnz}, kind={kind} (corrupt data)")
        size = int(shape[0]) * int(shape[1])
        pos = decode_positions(mode, k, arrays[f"{prefix}index"], nnz, size)
        codes = unpack_uint(arrays[f"{prefix}codes"], nnz, bits)
        return cls(tuple(shape), bits, _KINDS[kind], arrays[f"{prefix}codebook"], codes, pos)

    def nbytes(self, dtype) -> dict:
        """Bytes of each stored array: ``codes``, ``codebook``, ``index``, ``header``."""
        p = self.payload("", dtype)
        return {k: int(v.nbytes) for k, v in p.items()}


def compression_report(arrays: dict, meta_network: dict, float_bits: int = 32) -> dict:
    """Sizes of a budget-compressed network read from its stored arrays (``payload()`` or the
    arrays of a saved file): per layer bit width, non-zeros and bytes; ``weight_bits`` (the
    source's metric, ``sum b_l nnz_l``), ``codes_bytes`` (the packed codes), ``index_bytes``,
    ``codebook_bytes``, ``bias_bytes``, ``model_bytes`` (every stored array: the honest
    total), ``compression`` (``float_bits n / weight_bits``) and ``compression_total``
    (``float_bits n / (8 model_bytes)``), ``nz_fraction``, ``avg_bits`` (over non-zeros)."""
    shapes = [tuple(int(v) for v in s) for s in meta_network["shapes"]]
    n = sum(a * b for a, b in shapes)
    layers, wb = [], 0
    tot = {"codes_bytes": 0, "index_bytes": 0, "codebook_bytes": 0, "header_bytes": 0}
    for l, s in enumerate(shapes):
        hdr = np.asarray(arrays[f"cw{l}_header"])
        b, nnz = int(hdr[0]), int(hdr[1])
        wb += b * nnz
        row = {"shape": list(s), "bits": b, "nnz": nnz, "nz_fraction": nnz / (s[0] * s[1])}
        for k in ("codes", "index", "codebook", "header"):
            row[f"{k}_bytes"] = int(np.asarray(arrays[f"cw{l}_{k}"]).nbytes)
            tot[f"{k}_bytes"] += row[f"{k}_bytes"]
        layers.append(row)
    model_bytes = int(sum(np.asarray(a).nbytes for a in arrays.values()))
    nnz = sum(r["nnz"] for r in layers)
    return {"layers": layers, "n_weights": n, "nnz": nnz, "nz_fraction": nnz / n,
            "avg_bits": wb / nnz if nnz else 0.0, "weight_bits": wb, **tot,
            "bias_bytes": int(sum(np.asarray(v).nbytes for k, v in arrays.items() if k.startswith("bias"))),
            "model_bytes": model_bytes, "compression": float_bits * n / wb if wb else float("inf"),
            "compression_total": float_bits * n / (8 * model_bytes)}
