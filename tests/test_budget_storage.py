"""The compressed storage of the budget methods (admmnet.quant.compressed): bit packing at any
width, the position encodings, and a saved model's round trip (weights exact, the reported
sizes those of the arrays the file holds)."""
import os

import numpy as np
import pytest

import admmnet
from admmnet.baselines import Budget
from admmnet.quant import budget as QB
from admmnet.quant.compressed import (CompressedWeight, decode_positions, encode_positions, pack_uint,
                                      unpack_uint)
from _data import blobs


@pytest.mark.parametrize("bits", range(1, 9))
def test_pack_uint_roundtrip_and_size(bits):
    r = np.random.default_rng(bits)
    for n in (0, 1, 7, 8, 9, 100):
        v = r.integers(0, 2 ** bits, size=n)
        p = pack_uint(v, bits)
        assert p.dtype == np.uint8 and p.size == (n * bits + 7) // 8
        np.testing.assert_array_equal(unpack_uint(p, n, bits), v)
    with pytest.raises(ValueError):
        pack_uint([2 ** bits], bits)
    p = pack_uint([0] * 3, bits)
    if 3 * bits % 8:
        p[-1] |= 0x80
        with pytest.raises(ValueError, match="padding"):
            unpack_uint(p, 3, bits)


def _rice_len(pos, k):
    g = np.diff(np.concatenate([[-1], pos])) - 1
    return int(np.sum((g >> k) + 1 + k))


@pytest.mark.parametrize("size,density,seed", [(100, 1.0, 0), (100, 0.0, 1), (1000, 0.5, 2), (5000, 0.01, 3),
                                               (5000, 0.2, 4), (64, 0.05, 5)])
def test_positions_roundtrip_and_cheapest_mode(size, density, seed):
    r = np.random.default_rng(seed)
    pos = np.flatnonzero(r.random(size) < density) if density < 1 else np.arange(size)
    mode, k, stream = encode_positions(pos, size)
    np.testing.assert_array_equal(decode_positions(mode, k, stream, pos.size, size), pos)
    if pos.size == size:
        assert mode == 0 and stream.size == 0
    elif pos.size:
        best_rice = min(_rice_len(pos, j) for j in range(0, 24))
        assert stream.size == min((size + 7) // 8, (best_rice + 7) // 8) or \
            (mode == 1 and best_rice >= size)
        if mode == 2:
            assert stream.size == (_rice_len(pos, k) + 7) // 8 and _rice_len(pos, k) == best_rice


def test_corrupt_positions_are_refused():
    pos = np.array([3, 10, 11, 400])
    mode, k, stream = encode_positions(pos, 1000)
    assert mode == 2
    with pytest.raises(ValueError):
        decode_positions(mode, k, stream[:-1], pos.size, 1000)
    with pytest.raises(ValueError):
        decode_positions(mode, k, stream, pos.size, 300)       # beyond the matrix
    with pytest.raises(ValueError):
        decode_positions(7, 0, stream, pos.size, 1000)


@pytest.mark.parametrize("quantizer", QB.QUANTIZERS)
@pytest.mark.parametrize("bits", (1, 3, 8))
def test_compressed_weight_is_the_quantizer_exactly(quantizer, bits):
    r = np.random.default_rng(bits)
    W = r.normal(size=(12, 9)) * (r.random((12, 9)) < 0.4)
    q = QB.quantize_values(W.ravel(), bits, quantizer)
    cw = CompressedWeight.from_quantizer(q, W.shape, "float64")
    np.testing.assert_array_equal(cw.dense("float64").ravel(), q.dequantized())
    assert cw.nnz == int(np.count_nonzero(q.dequantized())) and cw.weight_bits == bits * cw.nnz
    assert np.unique(cw.dense("float64")[cw.dense("float64") != 0]).size <= 2 ** bits
    back = CompressedWeight.from_payload(cw.payload("x", "float64"), "x", W.shape)
    np.testing.assert_array_equal(back.dense("float64"), cw.dense("float64"))
    hdr = cw.payload("x", "float64")
    hdr["xheader"] = hdr["xheader"].copy()
    hdr["xheader"][0] = 0
    with pytest.raises(ValueError):
        CompressedWeight.from_payload(hdr, "x", W.shape)




FAST = dict(hidden_sizes=(16, 8), max_epochs=15, lr=1e-2, batch_size=32, seed=0)


@pytest.mark.parametrize("quantizer,budget", [("kmeans", "16x"), ("uniform", "100B"), ("kmeans", "0.3bpw")])
def test_saved_model_roundtrip_exact_and_sizes_from_the_file(tmp_path, quantizer, budget):
    X, y = blobs()
    m = Budget(budget=budget, quantizer=quantizer, budget_epochs=4, **FAST).fit(X, y)
    path = m.save(tmp_path / "m.npz", history=False)
    back = admmnet.load(path)
    for a, b in zip(back.weights(), m.weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    rep = back.compression_report(path)
    with np.load(path) as f:                      # the arrays as the file holds them
        arrays = {k: f[k] for k in f.files if k != "__admmnet_meta__"}
    assert rep["model_bytes"] == sum(a.nbytes for a in arrays.values()) == m.model_bytes == back.model_bytes
    assert rep["file_bytes"] == os.path.getsize(path)
    wb, code_bytes = 0, 0
    for l, W in enumerate(m.weights()):
        nnz = int(np.count_nonzero(W))
        bits = int(arrays[f"cw{l}_header"][0])
        assert np.unique(W[W != 0]).size <= 2 ** bits
        assert rep["layers"][l]["nnz"] == nnz and rep["layers"][l]["bits"] == bits
        assert arrays[f"cw{l}_codes"].size == (nnz * bits + 7) // 8
        wb += nnz * bits
        code_bytes += (nnz * bits + 7) // 8
    assert rep["weight_bits"] == wb <= m.budget_bits_ == QB.parse_budget(budget, sum(W.size for W in m.weights()))
    assert rep["codes_bytes"] == code_bytes
    assert rep["compression"] == pytest.approx(32 * rep["n_weights"] / wb)
    assert m.storage_bits_per_weight == pytest.approx(wb / rep["n_weights"])
