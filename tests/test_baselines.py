"""The comparison methods: PTQ = projection of the FP weights, STE forward on quantized weights,
the int8 integer path against the float path, LQ's exactly quantized result, save/load of every
method, input errors, and accuracy floors on the real data."""
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import admmnet
from admmnet.baselines import DQ, FPMLP, LQ, PTQ, QAT, QNNSTE
from admmnet.baselines.int8 import QATObjective
from admmnet.baselines.ste import STEObjective
from admmnet.quant import make_level_set, project
from admmnet.quant.int8 import (INT_MATMUL, MAX_FAN_IN, act_qparams, fake_quant_act, fake_quant_weight, int8_error_bound,
                                int8_linear, quantize_act, quantize_weight_int8)
from _data import blobs




FAST = dict(hidden_sizes=(16, 8), max_epochs=15, lr=1e-2, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def fp_model():
    X, y = blobs()
    m = FPMLP(**FAST)
    m.fit(X, y)
    return m


def _assert_exact_codes(model, granularity="layer"):
    ls = model.network_.level_set
    for layer, W in zip(model.network_.layers, model.weights()):
        assert layer.quantized
        assert set(np.unique(layer.codes).tolist()) <= set(ls.levels)
        scale = np.asarray(layer.scale, np.float32)
        np.testing.assert_array_equal(W, scale * layer.codes.astype(np.float32))
        assert scale.shape == (() if granularity == "layer" else (layer.shape[0], 1))


def test_fp_learns_and_records(fp_model):
    X, y = blobs()
    assert fp_model.score(X, y) >= 0.95
    rec = fp_model.history_[-1]
    for key in ("iteration", "epoch", "loss", "train_accuracy", "holdout_accuracy", "val_accuracy", "seconds",
                "stage"):
        assert key in rec
    assert fp_model.method == "fp" and fp_model.storage_bits_per_weight == 32


@pytest.mark.parametrize("bits,gran", [(8, "layer"), (4, "row"), (2, "layer"), (1, "row")])
def test_ptq_is_the_projection_of_the_fp_weights(fp_model, bits, gran):
    X, y = blobs()
    ptq = PTQ(bits=bits, granularity=gran, **FAST)
    hist = ptq.fit(X, y, fp_model=fp_model).history_
    assert hist[-1]["stage"] == "ptq"
    ls = make_level_set("thesis", bits)
    for W_fp, layer in zip(fp_model.weights(), ptq.network_.layers):
        res = project(W_fp, ls, granularity=gran)
        np.testing.assert_array_equal(layer.codes, res.Q.astype(layer.codes.dtype))
        np.testing.assert_array_equal(np.asarray(layer.scale), np.asarray(res.alpha))
    for b_fp, b in zip(fp_model.biases(), ptq.biases()):
        np.testing.assert_array_equal(b_fp, b)
    _assert_exact_codes(ptq, gran)
    if bits == 8:
        assert ptq.score(X, y) >= fp_model.score(X, y) - 0.01


def test_ste_forward_uses_quantized_weights_and_passes_gradients_straight():
    r = np.random.default_rng(0)
    W = r.standard_normal((5, 7)).astype(np.float32)
    ls = make_level_set("thesis", 2)
    obj = STEObjective(ls, "layer")
    [W] = obj.start_epoch([W], 0)
    [G] = obj.forward_weights([W])
    a = np.asarray(obj.alpha[0])
    codes = G / a
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-5)
    assert np.abs(codes).max() <= ls.qmax + 1e-5
    assert not np.array_equal(G, W)
    g = r.standard_normal(W.shape)
    assert obj.weight_grads([W], [g])[0] is g           # STE: dR/dW := dR/dG
    big = [W * 100]
    [clipped] = obj.after_step(big)
    assert np.abs(clipped).max() <= a * (ls.qmax + 0.5) * (1 + 1e-6)


def test_ste_trains_to_exact_codes():
    X, y = blobs()
    m = QNNSTE(bits=2, granularity="row", **FAST)
    m.fit(X, y)
    _assert_exact_codes(m, "row")
    assert m.score(X, y) >= 0.9
    assert m.history_[-1]["stage"] == "project"


def test_int8_linear_matches_float_within_quantisation_error():
    r = np.random.default_rng(0)
    W = r.standard_normal((20, 50)).astype(np.float32) * 0.1
    a = np.maximum(r.standard_normal((50, 64)), 0).astype(np.float32) * 3
    codes, s = quantize_weight_int8(W)
    assert codes.dtype == np.int8 and np.abs(codes).max() <= 127 and s.shape == (20, 1)
    z_int = int8_linear(codes, s, a)
    z_float = W @ a
    err = np.abs(z_int - z_float)
    assert np.all(err <= int8_error_bound(codes, s, W, a))
    assert err.max() <= 0.02 * np.abs(z_float).max()
    # the float emulation (QAT's fake quantization) gives the same numbers
    sa, zp = act_qparams(a.min(), a.max())
    emu = fake_quant_weight(W) @ fake_quant_act(a, sa, zp)[0]
    np.testing.assert_allclose(z_int, emu, rtol=1e-4, atol=1e-5)


def test_int32_accumulation_is_exact_and_guarded():
    r = np.random.default_rng(1)
    n_in = 3000
    codes = np.full((2, n_in), 127, np.int8)
    a = r.uniform(0, 1, (n_in, 3)).astype(np.float32)
    a[0, 0] = 1.0
    sa, zp = act_qparams(a.min(), a.max())
    q = quantize_act(a, sa, zp)
    assert q.dtype == np.int32 and q.max() <= 255 and q.min() >= 0
    exact = codes.astype(np.float64) @ (q - zp).astype(np.float64)          # no rounding in float64
    assert exact.max() > 2**16                                              # would overflow int16
    z = int8_linear(codes, np.ones((2, 1), np.float32), a)
    np.testing.assert_allclose(z / np.float32(sa), exact, rtol=1e-6)
    # the fast path (float64 BLAS on the same integers) is bit-for-bit the int32 accumulation
    rc = r.integers(-127, 128, (40, 700)).astype(np.int8)
    rq = r.integers(-255, 256, (700, 30)).astype(np.int32)
    ref = INT_MATMUL["int32"](rc, rq)
    assert ref.dtype == np.int32
    np.testing.assert_array_equal(INT_MATMUL["float64-exact"](rc, rq), ref)
    np.testing.assert_array_equal(int8_linear(codes, np.ones((2, 1), np.float32), a, matmul="int32"), z)
    with pytest.raises(ValueError, match="overflow"):
        int8_linear(np.ones((1, MAX_FAN_IN + 1), np.int8), np.ones((1, 1), np.float32),
                    np.ones((MAX_FAN_IN + 1, 1), np.float32))


def test_fake_quant_act_mask_is_the_range():
    a = np.array([[-1.0, 0.0, 0.5, 2.0]], np.float32)
    s, zp = act_qparams(0.0, 1.0)
    aq, mask = fake_quant_act(a, s, zp)
    np.testing.assert_array_equal(mask, [[0, 1, 1, 0]])
    np.testing.assert_allclose(aq, [[0.0, 0.0, np.round(a[0, 2] / np.float32(s)) * s, 1.0]], rtol=1e-6)


def test_dq_integer_path_close_to_fp(fp_model):
    X, y = blobs()
    dq = DQ(**FAST)
    dq.fit(X, y, fp_model=fp_model)
    net = dq.network_
    assert net.inference == "int8-dynamic" and all(l.codes.dtype == np.int8 for l in net.layers)
    z_int = dq.decision_function(X)
    z_fp = fp_model.decision_function(X)
    assert np.abs(z_int - z_fp).max() <= 0.05 * np.abs(z_fp).max()
    assert dq.score(X, y) >= fp_model.score(X, y) - 0.01
    assert dq.storage_bits_per_weight == 8


def test_qat_observers_and_conversion(fp_model):
    X, y = blobs()
    qat = QAT(qat_epochs=3, qat_lr=1e-3, **FAST)
    hist = qat.fit(X, y, fp_model=fp_model).history_
    assert [r["stage"] for r in hist][-4:] == ["qat", "qat", "qat", "convert"]
    assert all(r is not None and r[0] <= 0 <= r[1] or r[0] <= r[1] for r in qat.observer_ranges_)
    assert qat.network_.inference == "int8-dynamic"
    assert qat.score(X, y) >= fp_model.score(X, y) - 0.02
    obj = QATObjective(2)
    f = obj.act_quant(True)
    f(0, np.array([[0.0, 1.0]], np.float32))
    f(0, np.array([[0.0, 3.0]], np.float32))
    assert obj.ranges[0] == pytest.approx((0.0, 0.99 * 1.0 + 0.01 * 3.0))


@pytest.mark.parametrize("bits,levels,gran", [(4, "thesis", "layer"), (1, "thesis", "row"),
                                              (None, "binary", "layer")])
def test_lq_result_is_exactly_quantized(fp_model, bits, levels, gran):
    X, y = blobs()
    lq = LQ(bits=bits, levels=levels, granularity=gran, admm_iters=3, w_epochs=1, retrain_epochs=2, lq_lr=1e-3,
            **FAST)
    hist = lq.fit(X, y, fp_model=fp_model).history_
    _assert_exact_codes(lq, gran)
    stages = [r["stage"] for r in hist]
    assert "lq1-admm1" in stages and "lq3-retrain" in stages and stages[-1] == "lq-final"
    assert any("residual_w" in r for r in hist)
    assert lq.score(X, y) >= (0.55 if levels == "binary" else 0.9)


@pytest.mark.parametrize("cls,kw", [(FPMLP, {}), (PTQ, dict(bits=2)), (QNNSTE, dict(bits=4, granularity="row")),
                                    (DQ, {}), (QAT, dict(qat_epochs=1)), (LQ, dict(bits=2, admm_iters=1))])
def test_save_load_roundtrip(tmp_path, fp_model, cls, kw):
    X, y = blobs()
    model = cls(**kw, **FAST)
    model.fit(X, y, fp_model=None if cls in (FPMLP, QNNSTE) else fp_model)
    path = model.save(tmp_path / "m.npz")
    back = admmnet.load(path)
    assert type(back) is cls and back.method == model.method
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    for Wa, Wb in zip(model.weights(), back.weights()):
        np.testing.assert_array_equal(Wa, Wb)
    assert back.get_params() == model.get_params()
    assert back.model_bytes == model.model_bytes
    assert back.network_.inference == model.network_.inference
    assert len(back.history_) == len(model.history_)


def test_bad_inputs_raise_clear_errors(fp_model):
    X, y = blobs()
    with pytest.raises(ValueError, match="bits"):
        PTQ(bits=0, **FAST).fit(X, y, fp_model=fp_model)
    with pytest.raises(ValueError, match="granularity"):
        LQ(bits=2, granularity="col", **FAST).fit(X, y)
    with pytest.raises(ValueError, match="lr"):
        FPMLP(**dict(FAST, lr=-1)).fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        FPMLP(optimizer="lbfgs", **{k: v for k, v in FAST.items()}).fit(X, y)
    with pytest.raises(ValueError, match="hidden"):
        PTQ(bits=2, **dict(FAST, hidden_sizes=(4,))).fit(X, y, fp_model=fp_model)
    with pytest.raises(ValueError, match="features"):
        PTQ(bits=2, **FAST).fit(X[:, :4], y, fp_model=fp_model)
    q = PTQ(bits=2, **FAST)
    q.fit(X, y, fp_model=fp_model)
    with pytest.raises(ValueError, match="full-precision"):
        LQ(bits=2, **FAST).fit(X, y, fp_model=q)
    with pytest.raises(ValueError, match="fitted"):
        PTQ(bits=2, **FAST).fit(X, y, fp_model=FPMLP())
    with pytest.raises(NotFittedError, match="not fitted"):
        DQ().predict(X)
    with pytest.raises(ValueError, match="eval_set"):
        FPMLP(**FAST).fit(X, y, eval_set=(X,))
    with pytest.raises(ValueError, match="NaN"):
        FPMLP(**FAST).fit(np.full_like(X, np.nan), y)


def test_same_seed_same_model():
    X, y = blobs()
    a, b = QNNSTE(bits=2, **FAST), QNNSTE(bits=2, **FAST)
    a.fit(X, y)
    b.fit(X, y)
    for Wa, Wb in zip(a.weights(), b.weights()):
        np.testing.assert_array_equal(Wa, Wb)


@pytest.mark.slow
@pytest.mark.usefixtures("real_data")
def test_real_data_floors():
    from admmnet.baseline_presets import baseline_params
    from admmnet.datasets import load_dataset

    ds = load_dataset("pendigits")
    kw = dict(baseline_params("fp", "pendigits"), max_epochs=40)
    fp = FPMLP(**kw)
    fp.fit(ds.X_train, ds.y_train)
    acc = fp.score(ds.X_test, ds.y_test)
    assert acc >= 0.93
    ptq = PTQ(bits=8, **kw)
    ptq.fit(ds.X_train, ds.y_train, fp_model=fp)
    assert ptq.score(ds.X_test, ds.y_test) >= acc - 0.005
    dq = DQ(**kw)
    dq.fit(ds.X_train, ds.y_train, fp_model=fp)
    assert dq.score(ds.X_test, ds.y_test) >= acc - 0.01
    seeds = load_dataset("seeds")
    kw = baseline_params("fp", "seeds")
    fs = FPMLP(**kw)
    fs.fit(seeds.X_train, seeds.y_train)
    assert fs.score(seeds.X_test, seeds.y_test) >= 0.85
    lq = LQ(bits=4, **dict(baseline_params("lq", "seeds"), admm_iters=3))
    lq.fit(seeds.X_train, seeds.y_train, fp_model=fs)
    _assert_exact_codes(lq)
    assert lq.score(seeds.X_test, seeds.y_test) >= 0.8


def test_quantizers_run_under_array_api_strict():
    xps = pytest.importorskip("array_api_strict")
    r = np.random.default_rng(0)
    W = r.standard_normal((5, 7)).astype(np.float32)
    a = r.standard_normal((7, 4)).astype(np.float32)
    c, s = quantize_weight_int8(xps.asarray(W))
    z_ref = int8_linear(*quantize_weight_int8(W), a)
    for mm in INT_MATMUL:
        np.testing.assert_allclose(np.asarray(int8_linear(c, s, xps.asarray(a), matmul=mm)), z_ref, rtol=1e-6)
    obj = STEObjective(make_level_set("thesis", 2), "row")
    Ws = obj.start_epoch([xps.asarray(W)], 0)
    for out in (obj.forward_weights(Ws), obj.eval_weights(Ws), obj.after_step(Ws)):
        assert isinstance(out[0], type(Ws[0]))
    q = QATObjective(1)
    aq, mask = q.act_quant(True)(0, xps.asarray(a))
    assert isinstance(aq, type(Ws[0])) and isinstance(mask, type(Ws[0]))
    from admmnet.baselines.lq import LQPenalty
    pen, grads = LQPenalty(0, xps.asarray(W) * 0, xps.asarray(W) * 0, 2.0).penalty([xps.asarray(W)])
    assert pen == pytest.approx(float(np.sum(W.astype(np.float64) ** 2)), rel=1e-5)
    np.testing.assert_allclose(np.asarray(grads[0]), 2.0 * W, rtol=1e-6)


def test_ctrl_c_skips_remaining_stages(monkeypatch, fp_model):
    """A KeyboardInterrupt inside one training stage ends training; the model is still complete."""
    import admmnet.backprop.trainer as T

    X, y = blobs()
    calls = {"n": 0}
    real = T.evaluate

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(T, "evaluate", flaky)
    lq = LQ(bits=2, admm_iters=2, w_epochs=1, retrain_epochs=2, **FAST)
    hist = lq.fit(X, y, fp_model=fp_model).history_
    assert hist.stop == "interrupted" and hist.interrupted
    _assert_exact_codes(lq)
    assert len(hist) < 10
