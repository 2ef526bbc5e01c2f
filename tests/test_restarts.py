"""Restarts (``QNNADMM(n_init=k)``): k whole fits from seeds seed..seed+k-1, the one with the
lowest training cross-entropy kept."""
import numpy as np
import pytest

import admmnet
from admmnet.exceptions import InvalidParameterError
from admmnet.model import init_checkpoint


def _data(n=150, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.4).astype(int) + (X[:, 2] > 1.0)
    return X, y


# penalty_growth and activation given: the FP preset of Seeds grows its penalties and has the ReLU,
# its 1-bit preset's FP phase neither (fixed penalties, the leaky ReLU); the FP models below,
# {**KW, "bits": None}, are then these estimators' FP phases
KW = dict(hidden_sizes=(5,), bits=1, max_iter=8, preset="seeds", device="cpu", penalty_growth=1.0,
          activation="relu")


def _cross_entropy(model, X, y):
    p = model.predict_proba(X)
    return float(-np.mean(np.log(p[np.arange(y.size), np.searchsorted(model.classes_, y)])))


def test_keeps_the_initialisation_with_the_lowest_training_loss():
    X, y = _data()
    m = admmnet.QNNADMM(**KW, n_init=3, seed=4).fit(X, y)
    singles = [admmnet.QNNADMM(**KW, n_init=1, seed=4 + i).fit(X, y) for i in range(3)]
    losses = [_cross_entropy(s, X, y) for s in singles]
    np.testing.assert_allclose(m.init_losses_, losses, rtol=1e-5)
    assert m.best_init_ == int(np.argmin(losses))
    best = singles[m.best_init_]
    for a, b in zip(m.weights(), best.weights()):
        np.testing.assert_array_equal(a, b)
    assert m.training_loss(X, y) == pytest.approx(min(losses), rel=1e-6)
    assert m.params_["n_init"] == 3 and m.params_["seed"] == 4 and m.get_params()["n_init"] == 3
    assert len(m.history_) == len(best.history_)
    # the kept network is the one saved and loaded back
    assert m.score(X, y) == best.score(X, y)


def test_fp_models_per_initialisation_give_the_whole_fit(tmp_path):
    X, y = _data()
    whole = admmnet.QNNADMM(**KW, n_init=2, seed=1).fit(X, y)
    fps = [admmnet.QNNADMM(**{**KW, "bits": None}, seed=1 + i).fit(X, y) for i in range(2)]
    q = admmnet.QNNADMM(**KW, n_init=2, seed=1).fit(X, y, fp_model=fps)
    assert q.best_init_ == whole.best_init_
    for a, b in zip(q.weights(), whole.weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="list of 2"):
        admmnet.QNNADMM(**KW, n_init=2).fit(X, y, fp_model=fps[0])
    with pytest.raises(ValueError, match="list of 2"):
        admmnet.QNNADMM(**KW, n_init=2).fit(X, y, fp_model=fps[:1])


def test_each_initialisation_checkpoints_and_resumes(tmp_path):
    X, y = _data()
    path = tmp_path / "state.npz"
    a = admmnet.QNNADMM(**KW, n_init=2, seed=0).fit(X, y, checkpoint=path)
    assert init_checkpoint(path, 0).name == "state.init0.npz"
    assert all(init_checkpoint(path, i).exists() for i in range(2)) and not path.exists()
    b = admmnet.QNNADMM(**KW, n_init=2, seed=0).fit(X, y, checkpoint=path)     # resumed: same result
    assert b.best_init_ == a.best_init_ and b.history_.resumed_from is not None
    for u, v in zip(a.weights(), b.weights()):
        np.testing.assert_array_equal(u, v)


def test_restart_errors():
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="n_init"):
        admmnet.QNNADMM(**KW, n_init=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="sharded"):
        admmnet.QNNADMM(**KW, n_init=2).fit(X, y, n_shards=2)
    m = admmnet.QNNADMM(**KW, n_init=1).fit(X, y)
    with pytest.raises(ValueError, match="labels"):
        m.training_loss(X, y + 7)


def _with_copies(X, y, seed=5):
    """X, y and a jittered copy of them: the rows an FP phase may train on (fp_data)."""
    r = np.random.default_rng(seed)
    return np.concatenate([X, X + 0.1 * r.standard_normal(X.shape).astype(X.dtype)]), np.concatenate([y, y])


@pytest.mark.parametrize("n_init", [1, 2])
def test_fp_data_trains_each_fp_phase_on_its_rows_then_quantizes_on_X(n_init):
    """fit(X, y, fp_data=(X_fp, y_fp)) is the two-step fit: the FP phase of every initialisation
    fitted on fp_data (fp_phase(): the resolved settings, seed + i), then fit(X, y, fp_model=...)."""
    X, y = _data()
    X_fp, y_fp = _with_copies(X, y)
    est = admmnet.QNNADMM(**KW, n_init=n_init, seed=2)
    q = est.fit(X, y, fp_data=(X_fp, y_fp))
    fps = [admmnet.QNNADMM(**{**KW, "bits": None}, seed=2 + i).fit(X_fp, y_fp) for i in range(n_init)]
    two = admmnet.QNNADMM(**KW, n_init=n_init, seed=2).fit(X, y, fp_model=fps)
    for a, b in zip(q.weights(), two.weights()):
        np.testing.assert_array_equal(a, b)
    assert q.network_.level_set is not None and q.get_params()["n_init"] == n_init
    # the FP phase's settings are the quantized estimator's, resolved on X's shape
    fp = est.fp_phase(*X.shape, 3, init=1)
    assert fp.seed == 3 and fp.bits is None and fp.n_init == 1
    assert fp.max_iter == q.params_["fp_iter"] and tuple(fp.hidden_sizes) == tuple(q.params_["hidden_sizes"])
    # not the fit of the quantizer on fp_data's rows
    other = admmnet.QNNADMM(**KW, n_init=n_init, seed=2).fit(X_fp, y_fp)
    assert any(not np.array_equal(a, b) for a, b in zip(q.weights(), other.weights()))


def test_fp_data_refuses_what_it_cannot_do():
    X, y = _data()
    X_fp, y_fp = _with_copies(X, y)
    with pytest.raises(ValueError, match="full-precision"):
        admmnet.QNNADMM(**{**KW, "bits": None}).fit(X, y, fp_data=(X_fp, y_fp))
    fp = admmnet.QNNADMM(**{**KW, "bits": None}).fit(X_fp, y_fp)
    with pytest.raises(ValueError, match="not both"):
        admmnet.QNNADMM(**KW).fit(X, y, fp_model=fp, fp_data=(X_fp, y_fp))
    with pytest.raises(ValueError, match="pair"):
        admmnet.QNNADMM(**KW).fit(X, y, fp_data=X_fp)
    with pytest.raises(ValueError, match="no separate FP phase"):
        admmnet.QNNADMM(**{**KW, "bits": None}).fp_phase(*X.shape, 3)


def test_fp_data_stopped_fp_phase_is_the_model_and_resumes(tmp_path):
    """Ctrl-C in an FP phase ends the fit with that FP network (history_.stop "interrupted");
    the same call with the same checkpoint resumes it and gives the uninterrupted result."""
    X, y = _data()
    X_fp, y_fp = _with_copies(X, y)
    path = tmp_path / "state.npz"

    def stop_at_5(model, rec):
        if rec["iteration"] == 5:
            raise KeyboardInterrupt

    a = admmnet.QNNADMM(**KW, n_init=1, seed=0).fit(X, y, fp_data=(X_fp, y_fp), checkpoint=path,
                                                     checkpoint_every=1, callback=stop_at_5)
    assert a.history_.stop == "interrupted" and a.network_.level_set is None and path.exists()
    b = admmnet.QNNADMM(**KW, n_init=1, seed=0).fit(X, y, fp_data=(X_fp, y_fp), checkpoint=path)
    whole = admmnet.QNNADMM(**KW, n_init=1, seed=0).fit(X, y, fp_data=(X_fp, y_fp))
    assert b.network_.level_set is not None
    for u, v in zip(b.weights(), whole.weights()):
        np.testing.assert_array_equal(u, v)


def test_fp_data_fp_phase_can_be_sharded():
    """With n_shards (or a client) the FP phases run sharded, the quantizer in this process."""
    X, y = _data()
    X_fp, y_fp = _with_copies(X, y)
    est = admmnet.QNNADMM(**KW, n_init=1, seed=3)
    q = est.fit(X, y, fp_data=(X_fp, y_fp), n_shards=2)
    fp = est.fp_phase(*X.shape, 3).fit(X_fp, y_fp, n_shards=2)
    two = admmnet.QNNADMM(**KW, n_init=1, seed=3).fit(X, y, fp_model=fp)
    for a, b in zip(q.weights(), two.weights()):
        np.testing.assert_array_equal(a, b)
