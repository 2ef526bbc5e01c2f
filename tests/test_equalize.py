"""Cross-layer equalization before the layerwise quantizer (admmnet.admm.equalize): the
rescaling keeps a ReLU network's function, equalizes each unit's row and outgoing column,
and makes the quantizer blind to the network's rescaling symmetry."""
import numpy as np
import pytest

import admmnet
from admmnet.admm import layerwise as LW
from admmnet.admm import solver as S
from admmnet.admm.activations import get_activation
from admmnet.admm.equalize import channel_ranges, equalize_network
from admmnet.exceptions import InvalidParameterError
from admmnet.kernels import get_kernels
from admmnet.quant import make_level_set

KERN = get_kernels(np.zeros(1))
RELU = get_activation("relu")


def _network(sizes=(5, 6, 4, 3), seed=0, dtype=np.float64, spread=10.0):
    r = np.random.default_rng(seed)
    Ws = [(r.standard_normal((o, i)) * np.exp(r.uniform(-1, 1, (o, 1)) * np.log(spread))).astype(dtype)
          for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [r.standard_normal((o, 1)).astype(dtype) for o in sizes[1:]]
    X = r.standard_normal((sizes[0], 50)).astype(dtype)
    return X, Ws, bs


@pytest.mark.parametrize("norm", ["max", "l2"])
@pytest.mark.parametrize("activation", ["relu", "identity"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equalization_keeps_the_function(norm, activation, dtype):
    X, Ws, bs = _network(dtype=dtype)
    act = get_activation(activation)
    W2, b2 = equalize_network(Ws, bs, act, norm=norm)
    out, out2 = S.forward(Ws, bs, X, act), S.forward(W2, b2, X, act)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    assert np.abs(out2 - out).max() <= tol * np.abs(out).max()
    assert all(w.dtype == dtype for w in W2) and all(b.dtype == dtype for b in b2)


@pytest.mark.parametrize("norm", ["max", "l2"])
def test_each_units_row_and_outgoing_column_end_equal(norm):
    """After one round the last pair swept is equal exactly (both sqrt(r1 r2)); the sweeps
    converge so that every pair is equal."""
    X, Ws, bs = _network()
    W1, _ = equalize_network(Ws[1:], bs[1:], RELU, norm=norm, rounds=1)        # one pair
    np.testing.assert_allclose(channel_ranges(W1[0], 1, norm), channel_ranges(W1[1], 0, norm), rtol=1e-12)
    r1, r2 = channel_ranges(Ws[1], 1, norm), channel_ranges(Ws[2], 0, norm)
    np.testing.assert_allclose(channel_ranges(W1[0], 1, norm), np.sqrt(r1 * r2), rtol=1e-12)
    W2, _ = equalize_network(Ws, bs, RELU, norm=norm, rounds=60)
    for l in range(len(W2) - 1):
        np.testing.assert_allclose(channel_ranges(W2[l], 1, norm), channel_ranges(W2[l + 1], 0, norm), rtol=1e-6)


def test_inputs_are_not_modified_and_zero_units_are_left_alone():
    X, Ws, bs = _network(sizes=(5, 6, 3))
    Ws[0][2] = 0.0                   # a dead unit: no row to equalize
    before = [w.copy() for w in Ws] + [b.copy() for b in bs]
    W2, b2 = equalize_network(Ws, bs, RELU)
    for x, y in zip(before, Ws + bs):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(W2[1][:, 2], Ws[1][:, 2])
    assert equalize_network(Ws, None, RELU)[1] is None


@pytest.mark.parametrize("kw, msg", [(dict(activation="hardsigmoid"), "positively homogeneous"),
                                     (dict(norm="l1"), "norm must be"), (dict(rounds=-1), "rounds")])
def test_bad_arguments_are_named(kw, msg):
    X, Ws, bs = _network()
    act = get_activation(kw.pop("activation", "relu"))
    with pytest.raises(ValueError, match=msg):
        equalize_network(Ws, bs, act, **kw)


@pytest.mark.parametrize("bits", [1, 2])
def test_the_equalized_quantizer_is_blind_to_the_rescaling_symmetry(bits):
    """Rescaling hidden units (c_j > 0) gives the same function; with max-range equalization
    of a one-hidden-layer network (the ranges sqrt(r1 c r2 / c) do not depend on c) the
    layerwise quantizer returns the same quantized function whatever c, and without it
    it does not."""
    X, Ws, bs = _network(sizes=(5, 8, 3), seed=2, spread=1.0)
    c = np.exp(np.random.default_rng(9).uniform(-2, 2, 8))
    Wc, bc = [Ws[0] * c[:, None], Ws[1] / c[None, :]], [bs[0] * c[:, None], bs[1]]
    np.testing.assert_allclose(S.forward(Wc, bc, X, RELU), S.forward(Ws, bs, X, RELU), rtol=1e-10, atol=1e-10)
    ls = make_level_set("thesis", bits)

    def quantized_out(W, b, eq):
        fits = LW.quantize_network(X, W, b, RELU, ls, n_iter=30, rho=1e-3, equalize=eq, kern=KERN)
        return S.forward([f.G for f in fits], [f.b for f in fits], X, RELU)

    np.testing.assert_allclose(quantized_out(Wc, bc, "max"), quantized_out(Ws, bs, "max"), rtol=1e-7, atol=1e-7)
    assert np.abs(quantized_out(Wc, bc, None) - quantized_out(Ws, bs, None)).max() > 1e-3


def test_quantize_network_with_equalize_is_the_quantizer_of_the_equalized_network():
    X, Ws, bs = _network(seed=4)
    ls = make_level_set("thesis", 2)
    We, be = equalize_network(Ws, bs, RELU, norm="l2")
    f1 = LW.quantize_network(X, Ws, bs, RELU, ls, equalize="l2", kern=KERN)
    f2 = LW.quantize_network(X, We, be, RELU, ls, kern=KERN)
    for a, b in zip(f1, f2):
        np.testing.assert_array_equal(a.G, b.G)
        np.testing.assert_array_equal(a.b, b.b)


def test_estimator_parameter():
    r = np.random.default_rng(0)
    X = r.standard_normal((90, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    kw = dict(hidden_sizes=(6,), bits=1, max_iter=20, seed=0, n_init=1, device="cpu")
    off = admmnet.QNNADMM(**kw).fit(X, y)
    assert off.params_["layerwise_equalize"] == "none"          # the automatic preset's
    on = admmnet.QNNADMM(**kw, layerwise_equalize="max").fit(X, y)
    assert any(not np.array_equal(a, b) for a, b in zip(on.weights(), off.weights()))
    hs = admmnet.QNNADMM(**kw, activation="hardsigmoid").fit(X, y)      # the preset's: left alone
    assert np.all(np.isfinite(hs.predict_proba(X)))
    with pytest.raises(InvalidParameterError, match="positively homogeneous"):
        admmnet.QNNADMM(**kw, activation="hardsigmoid", layerwise_equalize="max").fit(X, y)
    with pytest.raises((InvalidParameterError, ValueError), match="layerwise_equalize"):
        admmnet.QNNADMM(**kw, layerwise_equalize="l1").fit(X, y)


@pytest.mark.parametrize("norm", ["max", "l2"])
def test_runs_under_array_api_strict_and_matches_numpy(norm):
    xps = pytest.importorskip("array_api_strict")
    X, Ws, bs = _network(seed=5)
    W1, b1 = equalize_network(Ws, bs, RELU, norm=norm)
    W2, b2 = equalize_network([xps.asarray(w) for w in Ws], [xps.asarray(b) for b in bs], RELU, norm=norm)
    for x, y in zip(W1 + b1, W2 + b2):
        np.testing.assert_allclose(np.asarray(y), x, rtol=1e-12, atol=1e-14)


def test_the_pendigits_quantized_preset_equalizes_and_the_others_do_not():
    def resolved(preset, bits):
        return admmnet.QNNADMM(preset=preset, bits=bits).resolved_params(100, 16, 10)["layerwise_equalize"]

    assert resolved("pendigits", 1) == resolved("pendigits", 8) == "max"
    for name in ("seeds", "mnist"):
        assert resolved(name, 1) == "none"
    for name in ("seeds", "pendigits", "mnist"):
        assert resolved(name, None) == "none"
    assert resolved("auto", 1) == resolved(None, 1) == "none"
