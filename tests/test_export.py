"""ONNX export: every estimator, run in onnxruntime, against predict / predict_proba."""
import json

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

import admmnet  # noqa: E402
from admmnet import export  # noqa: E402
from admmnet.datasets.files import apply_standardisation, fit_standardisation  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(X.shape[0])
    tr, te = idx[:600], idx[600:1200]      # 600 test rows: 3 blocks of the int8 path, the last partial
    return X[tr], y[tr], X[te], y[te]


BP = dict(hidden_sizes=(16,), max_epochs=2, batch_size=64, holdout_fraction=0.0, patience=None)

ESTIMATORS = {
    "qnn-admm-fp": lambda: admmnet.QNNADMM((16,), max_iter=3),
    "qnn-admm-2bit-row": lambda: admmnet.QNNADMM((16,), bits=2, granularity="row", max_iter=3),
    "qnn-admm-1bit": lambda: admmnet.QNNADMM((16,), bits=1, max_iter=3),
    "qnn-admm-fp-leaky": lambda: admmnet.QNNADMM((16,), max_iter=3, activation="leaky_relu"),
    "qnn-admm-8bit": lambda: admmnet.QNNADMM((16,), bits=8, max_iter=3, activation="hardsigmoid"),
    "fp": lambda: admmnet.FPMLP(**BP),
    "ptq-4bit": lambda: admmnet.PTQ(bits=4, **BP),
    "ste-2bit": lambda: admmnet.QNNSTE(bits=2, ste_epochs=1, **BP),
    "dq": lambda: admmnet.DQ(**BP),
    "qat": lambda: admmnet.QAT(qat_epochs=1, **BP),
    "lq-2bit": lambda: admmnet.LQ(bits=2, admm_iters=1, w_epochs=1, retrain_epochs=1, **BP),
    "ptq-binary": lambda: admmnet.PTQ(levels="binary", bits=None, **BP),
    "twn": lambda: admmnet.TWN(twn_epochs=1, **BP),
    "ttq": lambda: admmnet.TTQ(ttq_epochs=2, **BP),          # two scales: positive and negative codes
    "admm-ternary": lambda: admmnet.ADMMTernary(admm_epochs=1, **BP),
    "md-tanh-s": lambda: admmnet.MirrorDescent(variant="tanh-s", md_epochs=1, **BP),
}

WANT_TYPES = {"qnn-admm-fp": "float32", "qnn-admm-fp-leaky": "float32", "qnn-admm-2bit-row": "int4", "qnn-admm-1bit": "int2",
              "qnn-admm-8bit": "int16", "fp": "float32", "ptq-4bit": "int8", "ste-2bit": "int4", "dq": "uint8",
              "qat": "uint8", "lq-2bit": "int4", "ptq-binary": "int2", "twn": "int2", "ttq": "int2",
              "admm-ternary": "int2", "md-tanh-s": "int2"}


def _skip_without_int2():
    """INT2 initializers need opset 25: skip where the installed onnx / onnxruntime lack it."""
    from admmnet.quant import make_level_set

    if export.weight_type_for(make_level_set("ternary")) != "int2":
        pytest.skip("this onnx package has no INT2 type")
    import ml_dtypes
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([-1, 0, 1], dtype=ml_dtypes.int2), "c"),
             numpy_helper.from_array(np.float32(0.5), "s")]
    g = helper.make_graph([helper.make_node("DequantizeLinear", ["c", "s"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])], initializer=inits)
    ops = [helper.make_opsetid("", 25)]
    m = helper.make_model(g, opset_imports=ops, ir_version=helper.find_min_ir_version_for(ops))
    try:
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:
        pytest.skip(f"onnxruntime {ort.__version__} does not run opset 25 (INT2): {str(exc)[:80]}")


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_matches_onnxruntime(name, digits, tmp_path):
    if WANT_TYPES[name] == "int2":
        _skip_without_int2()
    X, y, Xt, yt = digits
    mean, scale = fit_standardisation(X)
    model = ESTIMATORS[name]()
    model.fit(apply_standardisation(X, mean, scale), y)
    admmnet.with_standardisation(model, mean, scale)     # the graph takes raw features
    path = tmp_path / f"{name}.onnx"
    info = export.to_onnx(model, path)
    assert path.stat().st_size == info["bytes"]
    assert set(info["weight_types"][:-1]) | {info["weight_types"][-1]} == {WANT_TYPES[name]}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for rows in (Xt, Xt[:1], Xt[:257]):
        label, proba, logits = sess.run(None, {"X": rows.astype(np.float32)})
        assert label.dtype == np.int64 and proba.dtype == np.float32
        np.testing.assert_array_equal(model.classes_[label], model.predict(rows))
        np.testing.assert_allclose(proba, model.predict_proba(rows), rtol=0, atol=1e-5)
        # logits: float32 sums in another order (MatMul/Gemm vs NumPy's BLAS), |logits| up to ~30
        np.testing.assert_allclose(logits, model.decision_function(rows), rtol=1e-4, atol=1e-4)
    props = {p.key: p.value for p in __import__("onnx").load(str(path)).metadata_props}
    assert json.loads(props["classes"]) == model.classes_.tolist()
    assert export.check_onnx(model, path, Xt) <= 1e-5


def test_int8_path_is_exact(digits, tmp_path):
    """DQ's graph reproduces admmnet's int8-dynamic logits (same integers, same float ops)."""
    X, y, Xt, _ = digits
    model = admmnet.DQ(**BP)
    model.fit(X, y)
    path = tmp_path / "dq.onnx"
    export.to_onnx(model, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = sess.run(["logits"], {"X": Xt.astype(np.float32)})[0]
    np.testing.assert_allclose(logits, model.decision_function(Xt), rtol=1e-6, atol=1e-6)


def test_int8_weight_type_and_sizes(digits, tmp_path):
    X, y, _, _ = digits
    _skip_without_int2()
    model = admmnet.QNNADMM((16,), bits=1, max_iter=2)
    model.fit(X, y)
    small = export.to_onnx(model, tmp_path / "a.onnx")
    wide = export.to_onnx(model, tmp_path / "b.onnx", weight_type="int8")
    assert small["weight_types"] == ["int2", "int2"] and small["opset"] == 25
    assert wide["weight_types"] == ["int8", "int8"] and wide["opset"] == 21
    assert small["bytes"] < wide["bytes"] < small["float32_bytes"]


def test_unfitted_and_non_dense_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        export.to_onnx(admmnet.QNNADMM((4,)), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="not fitted"):
        export.to_onnx(admmnet.FPMLP(), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
