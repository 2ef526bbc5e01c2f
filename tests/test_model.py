"""The estimator: fit/predict/save/load, exact codes on disk, validation, checkpoints."""
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import admmnet
from admmnet import QNNADMM
from admmnet.io import CheckpointError


def blobs(m=300, n=4, k=3, seed=0, sep=3.0):
    r = np.random.default_rng(seed)
    centers = r.standard_normal((k, n)) * sep
    y = r.integers(0, k, m)
    return (centers[y] + r.standard_normal((m, n))).astype(np.float32), y


FAST = dict(hidden_sizes=(8,), max_iter=8, seed=0, mu_growth=1.5, preset=None)   # the fixed schedule: iterations only


@pytest.mark.parametrize("bits,levels", [(None, "thesis"), (8, "thesis"), (2, "thesis"), (1, "thesis"),
                                         (4, "signed"), (None, "binary"), (None, "ternary")])
def test_fit_learns_separable_blobs(bits, levels):
    X, y = blobs()
    model = QNNADMM(bits=bits, levels=levels, **FAST)
    hist = model.fit(X, y).history_
    assert len(hist) == 8 and hist.stop == "max_iter"
    # binary output weights (+-alpha only, 3x8 of them) are a real restriction: floor well above chance (1/3)
    assert model.score(X, y) >= (0.6 if levels == "binary" else 0.9)
    rec = hist[-1]
    for key in ("objective", "residual_z", "residual_w", "train_accuracy", "seconds", "beta"):
        assert key in rec
    assert rec["train_accuracy"] == pytest.approx(model.score(X, y))


def test_predict_proba_and_labels():
    X, y = blobs()
    labels = np.array(["a", "b", "c"])[y]
    model = QNNADMM(bits=4, **FAST).fit(X, labels) and None
    model = QNNADMM(bits=4, **FAST)
    model.fit(X, labels)
    P = model.predict_proba(X)
    assert P.shape == (X.shape[0], 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)
    assert set(model.predict(X)) <= {"a", "b", "c"}
    np.testing.assert_array_equal(model.predict(X), model.classes_[P.argmax(axis=1)])


def test_validation_accuracy_recorded():
    X, y = blobs()
    model = QNNADMM(**FAST)
    hist = model.fit(X[:200], y[:200], eval_set=(X[200:], y[200:])).history_
    assert hist[-1]["val_accuracy"] == pytest.approx(model.score(X[200:], y[200:]))


@pytest.mark.parametrize("bits,levels,gran", [(2, "thesis", "layer"), (1, "thesis", "row"),
                                              (8, "thesis", "layer"), (None, "binary", "row"),
                                              (3, "signed", "layer"), (None, "thesis", "layer")])
def test_save_load_roundtrip_exact_codes(tmp_path, bits, levels, gran):
    X, y = blobs()
    model = QNNADMM(bits=bits, levels=levels, granularity=gran, **FAST)
    model.fit(X, y)
    path = model.save(tmp_path / "m.npz")
    back = admmnet.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    for l, (Wa, Wb) in enumerate(zip(model.weights(), back.weights())):
        np.testing.assert_array_equal(Wa, Wb)
    if bits is not None or levels != "thesis":
        ls = back.network_.level_set
        for layer, W in zip(back.network_.layers, back.weights()):
            assert set(np.unique(layer.codes)).issubset(ls.levels)
            np.testing.assert_array_equal(W, np.asarray(layer.scale, np.float32) * layer.codes.astype(np.float32))
            assert np.asarray(layer.scale).shape == (() if gran == "layer" else (layer.shape[0], 1))
        # storage: packed codes at ceil(log2 #levels) bits per weight
        assert back.storage_bits_per_weight == ls.storage_bits
        n = sum(W.size for W in back.weights())
        assert back.model_bytes < n * 4 * ls.storage_bits / 32 + 4 * 64
    assert back.get_params() == model.get_params()


def test_no_partial_file_on_failed_save(tmp_path, monkeypatch):
    X, y = blobs()
    model = QNNADMM(bits=2, **FAST)
    model.fit(X, y)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="bad.npz"):
        admmnet.load(bad)
    with pytest.raises(CheckpointError, match="no such file"):
        admmnet.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with pytest.raises(CheckpointError, match="not an admmnet file"):
        admmnet.load(tmp_path / "other.npz")
    # a truncated real model file
    X, y = blobs()
    model = QNNADMM(bits=2, **FAST)
    model.fit(X, y)
    good = model.save(tmp_path / "good.npz")
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.npz"):
        admmnet.load(tmp_path / "trunc.npz")


@pytest.mark.parametrize("kwargs,match", [
    (dict(bits=9), "bits=9"), (dict(bits=1, levels="signed"), "bits=1"), (dict(bits=2.5), "bits"),
    (dict(levels="quaternary", bits=2), "levels"), (dict(activation="tanh"), "activation"),
    (dict(hidden_sizes=(0,)), "hidden_sizes"), (dict(dtype="float16"), "dtype"),
    (dict(beta=-1.0), "beta"), (dict(bits=2, mu=0.0), "mu"),
])
def test_bad_parameters_raise_clear_errors(kwargs, match):
    X, y = blobs(m=30)
    with pytest.raises(ValueError, match=match):
        QNNADMM(**{**FAST, **kwargs}).fit(X, y)


def test_bad_inputs_raise_clear_errors():
    X, y = blobs(m=30)
    model = QNNADMM(**FAST)
    with pytest.raises(ValueError, match="2-?D"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples|labels but X has"):
        model.fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(Xn, y)
    with pytest.raises(ValueError, match="single class"):
        model.fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="Unknown label type: continuous|non-integral"):
        model.fit(X, y + 0.5)
    model.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="not seen in training"):
        model.score(X, y + 7)
    with pytest.raises(ValueError, match="eval_set"):
        model.fit(X, y, eval_set=(X,))
    with pytest.raises(NotFittedError, match="not fitted"):
        QNNADMM().predict(X)


@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_checkpoint_resume_reproduces_uninterrupted_run(tmp_path, momentum):
    X, y = blobs(seed=2)
    full = QNNADMM(bits=2, momentum=momentum, **{**FAST, "max_iter": 6})
    full.fit(X, y)
    ck = tmp_path / "state.npz"
    part = QNNADMM(bits=2, momentum=momentum, **{**FAST, "max_iter": 4})
    part.fit(X, y, checkpoint=ck, checkpoint_every=2)
    assert ck.exists()
    rest = QNNADMM(bits=2, momentum=momentum, **{**FAST, "max_iter": 6})
    hist = rest.fit(X, y, checkpoint=ck, checkpoint_every=2).history_
    assert hist.resumed_from == 4 and len(hist) == 6
    for Wa, Wb in zip(full.weights(), rest.weights()):
        np.testing.assert_array_equal(Wa, Wb)
    # a checkpoint of other parameters or data is refused, naming the file
    with pytest.raises(CheckpointError, match="other parameters"):
        QNNADMM(bits=4, momentum=momentum, **{**FAST, "max_iter": 6}).fit(X, y, checkpoint=ck)
    with pytest.raises(CheckpointError, match="other training data"):
        QNNADMM(bits=2, momentum=momentum, **{**FAST, "max_iter": 6}).fit(X * 2, y, checkpoint=ck)


def test_keyboard_interrupt_keeps_finished_work(tmp_path):
    X, y = blobs(seed=3)
    ck = tmp_path / "state.npz"

    def stop_at_3(model, rec):
        if rec["iteration"] == 3:
            raise KeyboardInterrupt

    model = QNNADMM(bits=2, **{**FAST, "max_iter": 10})
    hist = model.fit(X, y, checkpoint=ck, checkpoint_every=100, callback=stop_at_3).history_
    assert hist.interrupted and len(hist) == 3 and model.n_iter_ == 3
    assert model.score(X, y) > 0.5  # the model is usable
    resumed = QNNADMM(bits=2, **{**FAST, "max_iter": 5})
    hist2 = resumed.fit(X, y, checkpoint=ck).history_
    assert hist2.resumed_from == 3 and len(hist2) == 5


def test_float64_on_request():
    X, y = blobs()
    model = QNNADMM(dtype="float64", bits=4, **FAST)
    model.fit(X, y)
    assert all(W.dtype == np.float64 for W in model.weights())


def test_monitor_rows_measures_a_fixed_subset():
    """The per-iteration training loss/accuracy are on ``monitor_rows`` rows drawn from the
    seed; with all rows (None, or a number >= n_samples) the same run as before."""
    from admmnet.admm import solver as S
    from admmnet.admm.activations import get_activation
    from admmnet.kernels import get_kernels
    from admmnet.model import _monitor_rows

    X, y = blobs(m=300)
    kw = dict(FAST, momentum=0.5)
    full = QNNADMM(monitor_rows=None, **kw)
    full.fit(X, y)
    assert full.history_[-1]["train_accuracy"] == pytest.approx(full.score(X, y))
    same = QNNADMM(monitor_rows=300, **kw)
    same.fit(X, y)
    for a, b in zip(full.weights(), same.weights()):
        np.testing.assert_array_equal(a, b)
    sub = QNNADMM(monitor_rows=50, **kw)
    sub.fit(X, y)
    A0 = np.ascontiguousarray(X.T)
    Y = np.eye(3, dtype=np.float32)[y].T
    A_mon, Y_mon = _monitor_rows(A0, Y, 50, kw["seed"])
    assert A_mon.shape == (4, 50) and len({tuple(c) for c in A_mon.T}) == 50    # distinct rows
    loss, correct = S.network_loss([np.asarray(w) for w in sub.weights()],
                                   [np.asarray(b) for b in sub.biases()], A_mon, Y_mon,
                                   get_activation("relu"), get_kernels(A_mon))
    last = sub.history_[-1]
    if not last["restart"]:
        assert last["train_loss"] == pytest.approx(loss / 50, rel=1e-5)
        assert last["train_accuracy"] == correct / 50
    assert all(float(r["train_accuracy"] * 50).is_integer() for r in sub.history_)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "all"])
def test_monitor_rows_rejects_bad_values(bad):
    X, y = blobs(m=60)
    with pytest.raises(ValueError, match="monitor_rows"):
        QNNADMM(monitor_rows=bad, **FAST).fit(X, y)
