"""Reliability regressions: every item of the reliability issue has a test here.

Output paths checked before training and results rescued after a failed write; divergence
rolled back, never a NaN model; plain bad input and bad parameters get errors that name
the argument; model and checkpoint files are checksummed and cross-checked; checkpoints
fingerprint their data by hash; ``evaluate`` uses the split the model was trained on;
files follow the umask; slow starts say what they wait for; a SIGKILLed run resumes to
the uninterrupted result."""
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import admmnet
from admmnet import QNNADMM, FPMLP, CheckpointError, DivergenceError, DivergenceWarning
from admmnet.cli import _write_or_rescue, main
from admmnet.io import check_writable


def blobs(m=120, n=4, k=3, seed=0):
    r = np.random.default_rng(seed)
    centers = r.standard_normal((k, n)) * 3
    y = r.integers(0, k, m)
    return (centers[y] + r.standard_normal((m, n))).astype(np.float32), y


FAST = dict(hidden_sizes=(6,), max_iter=3, preset=None)


# -- 1. output paths ---------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--save", "--json", "--checkpoint"])
def test_train_refuses_unwritable_output_before_training(flag, tmp_path, capsys):
    for bad in ("/proc/nope/out.npz", str(tmp_path)):       # no such folder in /proc; a directory
        rc = main(["train", "--dataset", "seeds", "--iters", "2", "--quiet", flag, bad])
        err = capsys.readouterr().err
        assert rc == 2 and flag in err
        assert "test accuracy" not in err          # refused before any training


def test_evaluate_refuses_unwritable_json(tmp_path, capsys):
    m = QNNADMM(**FAST)
    X, y = blobs()
    m.fit(X, y)
    m.save(tmp_path / "m.npz")
    assert main(["evaluate", str(tmp_path / "m.npz"), "--json", str(tmp_path)]) == 2
    assert "--json" in capsys.readouterr().err


def test_check_writable_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        check_writable(tmp_path)
    with pytest.raises(ValueError, match="cannot"):
        check_writable("/proc/nope/x.npz")
    assert check_writable(tmp_path / "new" / "x.npz") == tmp_path / "new" / "x.npz"


def test_failed_final_write_is_rescued(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "gone" / "m.json"

    def write(path):
        if Path(path) == target:
            raise OSError(28, "No space left on device")
        Path(path).write_text("result")

    assert _write_or_rescue("result JSON", target, write) is False
    err = capsys.readouterr().err
    rescued = list(tmp_path.glob("admmnet-rescued-*-m.json"))
    assert len(rescued) == 1 and rescued[0].read_text() == "result" and str(rescued[0]) in err


# -- 2. divergence -------------------------------------------------------------------------------
def _finite_model(model):
    for w in model.weights():
        assert np.all(np.isfinite(w))
    for b in model.biases() or []:
        assert np.all(np.isfinite(b))


def test_qnn_admm_huge_inputs_roll_back_never_nan():
    X, y = blobs()
    model = QNNADMM(**FAST)
    try:
        with pytest.warns(DivergenceWarning, match="rolled back"):
            hist = model.fit(X * 1e20, y).history_
    except DivergenceError as exc:          # no finite iterate at all: said so, nothing returned
        assert "standardise" in str(exc)
        return
    assert hist.stop == "diverged"
    _finite_model(model)


def test_qnn_admm_divergence_mid_run_keeps_last_finite_iterate(monkeypatch):
    """A NaN injected into iteration 3 is undone: the model is iteration 2's network."""
    from admmnet.admm import solver as S

    X, y = blobs()
    ref = QNNADMM(**dict(FAST, max_iter=2))
    ref.fit(X, y)
    real = S.admm_iteration

    def poisoned(state, *a, **k):
        out = real(state, *a, **k)
        if state.k == 3:
            state.W = [w * np.nan for w in state.W]
        return out

    monkeypatch.setattr(S, "admm_iteration", poisoned)
    model = QNNADMM(**dict(FAST, max_iter=6, refit_output=False))
    with pytest.warns(DivergenceWarning):
        hist = model.fit(X, y).history_
    assert hist.stop == "diverged" and model.n_iter_ == 2 and len(hist) == 2
    _finite_model(model)


def test_backprop_huge_lr_never_returns_nan():
    X, y = blobs()
    model = FPMLP(hidden_sizes=(6,), lr=1e6, max_epochs=4, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        try:
            model.fit(X, y)
        except DivergenceError:
            return
    _finite_model(model)
    assert np.all(np.isfinite(model.predict_proba(X)))


def test_backprop_overflowing_inputs_never_give_nan():
    X, y = blobs()
    model = FPMLP(hidden_sizes=(6,), max_epochs=2, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(X * 1e30, y)
        except DivergenceError as exc:
            assert "standardise" in str(exc)
            return
    _finite_model(model)


def _poison_training_loss(monkeypatch, at: int, gradient: bool = True) -> None:
    """Make the ``at``-th call of the trainer's cross-entropy (a training step's) return a NaN
    loss, and with ``gradient`` a NaN gradient too (the step's weights then turn NaN)."""
    from admmnet.backprop import trainer

    calls = []
    real = trainer.softmax_cross_entropy

    def poisoned(Z, Y):
        loss, dZ = real(Z, Y)
        calls.append(1)
        if len(calls) == at:
            return loss * np.nan, (dZ * np.nan if gradient else dZ)
        return loss, dZ

    monkeypatch.setattr(trainer, "softmax_cross_entropy", poisoned)


def test_backprop_divergence_cuts_the_learning_rate(monkeypatch):
    """A non-finite epoch is undone and retried at a tenth of the step."""
    X, y = blobs()
    _poison_training_loss(monkeypatch, 3, gradient=False)       # one batch of the first epoch
    model = FPMLP(hidden_sizes=(6,), max_epochs=3, batch_size=16, lr=1e-2, seed=0)
    with pytest.warns(DivergenceWarning, match="retrying"):
        model.fit(X, y)
    lrs = [r["lr"] for r in model.history_ if r.get("stage") == "fp"]
    assert len(lrs) == 3 and lrs[0] < 1e-2 * 0.2            # the redone epoch ran at lr / 10
    _finite_model(model)


def test_backprop_divergence_is_rolled_back_before_a_projection_sees_it(monkeypatch):
    """A diverging epoch of the budget method (its evaluated network is a knapsack projection,
    which rejects non-finite weights) is rolled back and redone at a tenth of the rate, not
    stopped by the projection's error (seen on LeNet-5 at lr 0.1)."""
    from admmnet.baselines import Budget

    X, y = blobs()
    fp = FPMLP(hidden_sizes=(6,), max_epochs=3, seed=0).fit(X, y)
    _poison_training_loss(monkeypatch, 3)     # one batch of the first epoch: the weights turn NaN
    model = Budget(budget="8x", hidden_sizes=(6,), budget_epochs=2, batch_size=16, seed=0)
    with pytest.warns(DivergenceWarning, match="retrying"):
        model.fit(X, y, fp_model=fp)
    assert [r["stage"] for r in model.history_].count("budget") == 2
    _finite_model(model)


def test_backprop_divergence_mid_epoch_never_reaches_a_projection(monkeypatch):
    """Weights that overflow between two of the gradual pruning's in-epoch projections (every
    PRUNE_STEPS steps, a knapsack that rejects non-finite weights) end the epoch at that step,
    which is rolled back and redone at a tenth of the rate (seen on LeNet-5 with SGD at lr 0.2:
    a ValueError from the knapsack instead)."""
    from admmnet.baselines import Budget

    X, y = blobs()
    fp = FPMLP(hidden_sizes=(6,), max_epochs=3, seed=0).fit(X, y)
    _poison_training_loss(monkeypatch, 5)     # the fifth step of the pruning stage: the weights turn NaN
    monkeypatch.setattr(Budget, "PRUNE_STEPS", 1)        # a projection after every step, each one
    # a knapsack that has to choose (64x: half the weights at 1 bit)
    model = Budget(budget="64x", hidden_sizes=(6,), prune_epochs=2, budget_epochs=0, batch_size=16, seed=0)
    with pytest.warns(DivergenceWarning, match="retrying"):
        model.fit(X, y, fp_model=fp)
    assert [r["stage"] for r in model.history_].count("budget-prune") == 2
    _finite_model(model)


def test_backprop_roll_back_restores_the_objectives_state(monkeypatch):
    """A rolled-back epoch leaves no trace in the objective's own state (duals, masks, step
    counters): the redone epoch starts from the state the diverged one started from."""
    from admmnet.backprop import trainer
    from admmnet.backprop.optim import make_optimizer

    class Counting(trainer.Objective):
        def __init__(self):
            self.steps, self.trace = 0, []

        def after_step(self, Ws):
            self.steps += 1
            self.trace.append(self.steps)
            return Ws

    X, y = blobs(m=64)
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((6, 4)).astype(np.float32) * 0.5, rng.standard_normal((3, 6)).astype(np.float32) * 0.5]
    bs = [np.zeros((6, 1), np.float32), np.zeros((3, 1), np.float32)]
    _poison_training_loss(monkeypatch, 6)     # the second step of the second epoch (4 steps an epoch)
    obj = Counting()
    with pytest.warns(DivergenceWarning, match="retrying"):
        res = trainer.train(Ws, bs, X.astype(np.float32), y, activation="relu", optimizer=make_optimizer("adam"),
                            lr=1e-2, epochs=3, batch_size=16, rng=np.random.default_rng(0), objective=obj)
    assert len(res.records) == 3
    assert obj.steps == 12 and obj.trace == list(range(1, 13))   # the diverged epoch's step undone


# -- 3, 4. plain bad input and parameters ------------------------------------------------------------
@pytest.mark.parametrize("kwargs,name", [
    (dict(beta="abc"), "beta"), (dict(max_penalty=-1.0), "max_penalty"), (dict(max_penalty=float("nan")), "max_penalty"),
    (dict(fista_tol=-1.0), "fista_tol"), (dict(forward_reset=1.5), "forward_reset"),
    (dict(hidden_sizes="12"), "hidden_sizes"), (dict(bias="no"), "bias"), (dict(max_iter=2.0), "max_iter"),
    (dict(momentum=1.0), "momentum"), (dict(levels="octal"), "levels"), (dict(monitor_rows=0), "monitor_rows"),
    (dict(seed=-1), "seed"), (dict(refit_output="yes"), "refit_output"),
])
def test_qnn_admm_bad_parameters_are_named(kwargs, name):
    X, y = blobs(m=30)
    with pytest.raises((ValueError, TypeError), match=name):
        QNNADMM(**{**FAST, **kwargs}).fit(X, y)


@pytest.mark.parametrize("kwargs,name", [
    (dict(lr="abc"), "lr"), (dict(weight_decay="x"), "weight_decay"), (dict(bias="no"), "bias"),
    (dict(batch_size=0), "batch_size"), (dict(holdout_fraction=1.5), "holdout_fraction"),
    (dict(hidden_sizes="12"), "hidden_sizes"), (dict(max_epochs=1.5), "max_epochs"),
])
def test_backprop_bad_parameters_are_named(kwargs, name):
    X, y = blobs(m=30)
    with pytest.raises((ValueError, TypeError), match=name):
        FPMLP(**{"max_epochs": 1, **kwargs}).fit(X, y)


def test_numpy_integers_are_integers():
    X, y = blobs(m=60)
    QNNADMM(**dict(FAST, max_backtrack=np.int64(5), max_iter=np.int32(2), w_solver="backtracking")).fit(X, y)
    FPMLP(hidden_sizes=(np.int64(4),), max_epochs=np.int64(1), batch_size=np.int16(16)).fit(X, y)


def test_plain_bad_input_gets_clear_errors(tmp_path):
    import scipy.sparse as sp

    X, y = blobs(m=90)
    with pytest.raises(ValueError, match="no features|0 feature"):
        QNNADMM(**FAST).fit(np.empty((90, 0)), y)
    with pytest.raises(TypeError, match="[Ss]parse"):
        QNNADMM(**FAST).fit(sp.csr_matrix(X), y)
    with pytest.raises(ValueError, match="range of float32"):
        QNNADMM(**FAST).fit(X.astype(np.float64) * 1e39, y)
    with pytest.raises((ValueError, TypeError), match="checkpoint_every"):
        QNNADMM(**FAST).fit(X, y, checkpoint=tmp_path / "c.npz", checkpoint_every=0)
    with pytest.raises((ValueError, TypeError), match="checkpoint_every"):
        QNNADMM(**FAST).fit(X, y, checkpoint=tmp_path / "c.npz", checkpoint_every=-1)
    with pytest.raises(ValueError, match="single class"):
        QNNADMM(**FAST).fit(X, np.full(90, 1e20))
    m = QNNADMM(**FAST)
    m.fit(X, (y * 1e20).astype(np.float64))            # huge but distinct float labels are classes
    assert set(m.classes_.tolist()) == {0.0, 1e20, 2e20}
    assert set(m.predict(X).tolist()) <= {0.0, 1e20, 2e20}


def test_extreme_but_legal_settings_train():
    X, y = blobs()
    for kw in (dict(gamma=1e-12, mu=1e-9, ridge=0.0, bits=2), dict(beta=1e-12, gamma=1e-12, ridge=0.0)):
        m = QNNADMM(**{**FAST, **kw})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            m.fit(X, y)
        _finite_model(m)


@pytest.mark.parametrize("bits", [None, 2])
def test_no_hidden_layer_with_output_refit(bits):
    X, y = blobs()
    m = QNNADMM(hidden_sizes=(), refit_output=True, bits=bits, max_iter=3, preset=None)
    m.fit(X, y)
    assert m.layer_sizes_ == (4, 3) and m.score(X, y) > 0.8


# -- 5. files are checked ------------------------------------------------------------------------
def _saved(tmp_path, **kw):
    X, y = blobs()
    m = QNNADMM(**{**FAST, **kw})
    m.fit(X, y)
    return m, m.save(tmp_path / "m.npz", history=False), X


def _rewrite(path, edit_arrays=None, edit_meta=None, keep_digest=False):
    """Re-save ``path`` with edited arrays/metadata and a valid digest (a deliberate edit,
    not damage): the cross-checks, not the checksum, must catch it."""
    import json

    from admmnet.io import _META_KEY, payload_digest

    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    meta = json.loads(arrays.pop(_META_KEY).tobytes())
    if edit_arrays:
        edit_arrays(arrays)
    if edit_meta:
        edit_meta(meta)
    if not keep_digest:
        meta["sha256"] = payload_digest(arrays, meta)
    arrays[_META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_edited_model_files_are_refused(tmp_path):
    m, path, X = _saved(tmp_path, bits=2)
    cases = {
        "NaN": lambda a: a.__setitem__("scale0", a["scale0"] * np.nan),
        "biases": lambda a: a.__setitem__("bias1", a["bias1"][:-1]),
    }
    for what, edit in cases.items():
        p = tmp_path / f"{what}.npz"
        p.write_bytes(path.read_bytes())
        _rewrite(p, edit_arrays=edit)
        with pytest.raises(CheckpointError, match=what):
            admmnet.load(p)
    for what, edit in {"n_features": lambda mt: mt.__setitem__("n_features", 5),
                       "class": lambda mt: mt.__setitem__("classes", [0, 1])}.items():
        p = tmp_path / f"{what}.npz"
        p.write_bytes(path.read_bytes())
        _rewrite(p, edit_meta=edit)
        with pytest.raises(CheckpointError, match=what):
            admmnet.load(p)
    p = tmp_path / "digest.npz"
    p.write_bytes(path.read_bytes())
    _rewrite(p, edit_arrays=lambda a: a.__setitem__("bias0", a["bias0"] + 1), keep_digest=True)
    with pytest.raises(CheckpointError, match="checksum"):
        admmnet.load(p)


def test_edited_checkpoint_is_refused(tmp_path):
    X, y = blobs()
    ck = tmp_path / "c.npz"
    QNNADMM(**FAST).fit(X, y, checkpoint=ck)
    _rewrite(ck, edit_arrays=lambda a: a.__setitem__("W0", a["W0"][:, :-1]))
    with pytest.raises(CheckpointError, match="W0"):
        QNNADMM(**dict(FAST, max_iter=5)).fit(X, y, checkpoint=ck)


# -- 6. the data fingerprint is a hash ------------------------------------------------------------
def test_checkpoint_refuses_permuted_pixels(tmp_path):
    X, y = blobs()
    ck = tmp_path / "c.npz"
    QNNADMM(**FAST).fit(X, y, checkpoint=ck)
    X2 = X.copy()
    X2[5, [0, 1]] = X2[5, [1, 0]]           # same shape, same sum, same labels
    with pytest.raises(CheckpointError, match="other training data"):
        QNNADMM(**dict(FAST, max_iter=5)).fit(X2, y, checkpoint=ck)
    QNNADMM(**dict(FAST, max_iter=5)).fit(X, y, checkpoint=ck)        # the same data resumes


# -- 7. evaluate uses the recorded split -----------------------------------------------------------
def test_evaluate_defaults_to_the_training_split(tmp_path, capsys, real_data, monkeypatch):
    monkeypatch.setenv("ADMMNET_DATA", str(real_data))
    model = tmp_path / "m.npz"
    assert main(["train", "--dataset", "seeds", "--iters", "3", "--split-seed", "3", "--quiet",
                 "--save", str(model)]) == 0
    trained = capsys.readouterr().out.split("test accuracy")[1].split()[0]
    assert main(["evaluate", str(model)]) == 0
    out = capsys.readouterr()
    assert out.out.split("test accuracy")[1].split()[0] == trained and "warning" not in out.err
    assert main(["evaluate", str(model), "--split-seed", "1"]) == 0
    assert "warning" in capsys.readouterr().err


# -- 8. permissions follow the umask ---------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_files_follow_the_umask(tmp_path, mask):
    from admmnet.io import write_json

    old = os.umask(mask)
    try:
        m, path, _ = _saved(tmp_path)
        j = write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    for p in (path, j):
        assert (p.stat().st_mode & 0o777) == (0o666 & ~mask)


# -- 9. slow starts speak ---------------------------------------------------------------------------
def test_failed_download_says_so_and_cleans_up(tmp_path, monkeypatch, capsys):
    from admmnet.datasets import _fetch

    monkeypatch.setenv("ADMMNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_fetch, "cache_dir", lambda: tmp_path / "cache" / "deep")
    monkeypatch.setattr(_fetch, "SOURCES", {"mnist": ("http://127.0.0.1:9/",)})
    monkeypatch.setattr(_fetch, "TIMEOUT_S", 2.0)
    with pytest.raises(_fetch.DatasetError):
        _fetch.fetch_file("mnist", "nothing.gz", lambda p: p, data_home=tmp_path / "none", download=True)
    assert "fetching nothing.gz" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()        # no empty folders left behind


# -- the kill test -------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_mid_run_resumes_to_the_uninterrupted_result(tmp_path):
    """A subprocess trains with a checkpoint every iteration and is SIGKILLed mid-run; the
    same command finishes from the checkpoint with exactly the uninterrupted model."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, numpy as np, admmnet\n"
        "r = np.random.default_rng(0)\n"
        "X = r.standard_normal((400, 8)).astype(np.float32); y = (X[:, 0] + X[:, 1] > 0).astype(int)\n"
        "m = admmnet.QNNADMM(hidden_sizes=(16,), max_iter=40, preset=None, bits=2, fp_iter=10, layerwise=True)\n"
        "m.fit(X, y, checkpoint=sys.argv[1], checkpoint_every=1,\n"
        "      callback=lambda mod, rec: print(rec['iteration'], flush=True))\n"
        "m.save(sys.argv[2], history=False)\n")
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    ck, killed, clean = tmp_path / "c.npz", tmp_path / "killed.npz", tmp_path / "clean.npz"
    p = subprocess.Popen([sys.executable, str(script), str(ck), str(killed)], stdout=subprocess.PIPE, env=env,
                         text=True)
    for line in p.stdout:
        if int(line) >= 15:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not killed.exists() and ck.exists()
    subprocess.run([sys.executable, str(script), str(ck), str(killed)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, str(script), str(tmp_path / "c2.npz"), str(clean)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    a, b = admmnet.load(killed), admmnet.load(clean)
    for wa, wb in zip(a.weights(), b.weights()):
        np.testing.assert_array_equal(wa, wb)
    for ba, bb in zip(a.biases(), b.biases()):
        np.testing.assert_array_equal(ba, bb)


# -- what the deep fuzz profile found ------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,name", [(dict(hidden_sizes=float("nan")), "hidden_sizes"),
                                         (dict(layer_scale=1e300, bits=2), "layer_scale"),
                                         (dict(layer_scale=999.0, hidden_sizes=(4,) * 60), "layer_scale")])
def test_fuzz_finds_are_named(kwargs, name):
    X, y = blobs(m=30)
    with pytest.raises((ValueError, TypeError), match=name):
        QNNADMM(**{**FAST, **kwargs}).fit(X, y)


def test_huge_penalty_divergence_inside_an_iteration_rolls_back():
    X, y = blobs(m=30)
    m = QNNADMM(**dict(FAST, beta=1e300, bits=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, y)
    assert m.history_.stop == "diverged"
    _finite_model(m)


# -- BLAS threads: the result of a small fit does not depend on the machine's thread count ------
def _blas_threads_now() -> int:
    from threadpoolctl import threadpool_info

    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_blas_threads_resolution():
    X, y = blobs()
    assert QNNADMM(**FAST)._blas_limit(X, y, None) == 1                    # small: one thread
    assert QNNADMM(**FAST, blas_threads=None)._blas_limit(X, y, None) is None
    assert QNNADMM(**FAST, blas_threads=3)._blas_limit(X, y, None) == 3
    # rows x widest layer over 2^20 (here the FP phase's rows): the process's setting, unless the
    # fit has restarts, whose choice amplifies rounding
    big = np.zeros(((1 << 20) // 6 + 1, 4), np.float32)
    fp_data = (big, np.zeros(big.shape[0], int))
    assert QNNADMM(**FAST)._blas_limit(X, y, fp_data) is None
    assert QNNADMM(**FAST, n_init=3)._blas_limit(X, y, fp_data) == 1
    assert QNNADMM(**FAST)._blas_limit(big, np.arange(big.shape[0]) % 3, None) is None
    assert QNNADMM(**FAST, device="gpu")._blas_limit(X, y, None) is None   # (no CuPy needed: decided first)
    for bad in ("many", 0, -1, 2.5, True):
        with pytest.raises(admmnet.InvalidParameterError, match="blas_threads"):
            QNNADMM(**FAST, blas_threads=bad).fit(X, y)


def test_fit_runs_under_its_blas_limit():
    from threadpoolctl import threadpool_limits

    X, y = blobs()
    with threadpool_limits(limits=2, user_api="blas"):
        outer = _blas_threads_now()
        seen = {}
        for bt in ("auto", None):
            threads = []
            QNNADMM(**FAST, blas_threads=bt).fit(X, y, callback=lambda m, rec: threads.append(_blas_threads_now()))
            seen[bt] = set(threads)
            assert seen[bt] == {QNNADMM(**FAST, blas_threads=bt).fit(X, y).blas_threads_}
        assert _blas_threads_now() == outer                 # restored after the fit
    assert seen["auto"] == {1}
    assert seen[None] == {outer}


def test_small_fit_is_the_same_on_any_blas_thread_count():
    # restarts (n_init) keep the initialisation with the lowest training loss: a rounding-level
    # difference between thread counts could change which one, so "auto" fixes one thread
    from threadpoolctl import threadpool_limits

    r = np.random.default_rng(1)
    X = r.standard_normal((3000, 16)).astype(np.float32)
    y = (X[:, :3] @ r.standard_normal((3, 4))).argmax(1)
    kw = dict(hidden_sizes=(12, 12), bits=1, max_iter=15, n_init=2, preset="pendigits")
    fits = []
    for limit in (1, 2):
        with threadpool_limits(limits=limit, user_api="blas"):
            fits.append(QNNADMM(**kw).fit(X, y))
    for a, b in zip(fits[0].weights(), fits[1].weights()):
        np.testing.assert_array_equal(a, b)
    assert fits[0].init_losses_ == fits[1].init_losses_


# -- features far from unit scale are named -----------------------------------------------------
def test_unscaled_features_get_a_warning_naming_the_column():
    from admmnet import FeatureScaleWarning
    from admmnet._validation import FEATURE_SCALE_WARN, feature_scale

    X, y = blobs()
    X = (X - X.mean(0)) / X.std(0)
    Xraw = X.copy()
    Xraw[:, 2] = Xraw[:, 2] * 300 + 1000         # one column in raw units
    assert feature_scale(Xraw)[0] == 2 == feature_scale(np.round(Xraw).astype(np.int64))[0]   # integers too
    j, mean, std = feature_scale(Xraw)
    assert abs(mean - Xraw[:, 2].astype(np.float64).mean()) < 1e-6 * 1000
    assert abs(std - Xraw[:, 2].astype(np.float64).std()) < 1e-6 * 300
    with pytest.warns(FeatureScaleWarning, match=r"column 2 of X has mean 1e\+03 and std 300") as rec:
        QNNADMM(**FAST).fit(Xraw, y)
    assert rec[0].filename == __file__                       # points at the caller's line
    assert "StandardScaler" in str(rec[0].message)
    for ok in (X, X * (0.9 * FEATURE_SCALE_WARN), X.tolist()):  # standardised, just under, a list
        with warnings.catch_warnings():
            warnings.simplefilter("error", FeatureScaleWarning)
            QNNADMM(**FAST).fit(ok, y)
    with pytest.warns(FeatureScaleWarning):                  # an offset alone counts too
        QNNADMM(**FAST).fit(X + 2 * FEATURE_SCALE_WARN, y)


def test_unscaled_features_warn_once_per_fit_and_not_through_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from admmnet import FeatureScaleWarning

    X, y = blobs()
    Xraw = X * 100
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        QNNADMM(hidden_sizes=(6,), max_iter=2, preset=None, bits=1, n_init=3).fit(Xraw, y)  # 3 inner fits
    assert sum(issubclass(w.category, FeatureScaleWarning) for w in rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureScaleWarning)
        pipe = make_pipeline(StandardScaler(), QNNADMM(**FAST)).fit(Xraw, y)
    assert pipe.score(Xraw, y) > 0.8


def test_feature_scale_check_never_computes_a_dask_array():
    # a sharded fit computes a dask array's chunks on its workers; the warning must not pull
    # the whole array through this process for a mean
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    from admmnet._validation import warn_feature_scale

    computed = []

    def rows():
        computed.append(1)
        return np.full((10, 3), 1e3)

    X = da.from_delayed(dask.delayed(rows)(), shape=(10, 3), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_feature_scale(X)
    assert computed == []
    assert float(X.mean().compute()) == 1e3 and computed == [1]     # (the array does compute)

