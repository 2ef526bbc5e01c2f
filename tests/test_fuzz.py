"""Fuzzing the public API and the CLI (hypothesis), and mutating a model file byte by byte.

Every call must either succeed with finite outputs or raise one of admmnet's documented
exceptions (:mod:`admmnet.exceptions`) or a ``ValueError``/``TypeError`` whose message
names the argument at fault; never an internal error, a NaN result, or (CLI) a
traceback. The normal run uses the "fast" profile (a few hundred examples in all);
``pytest tests/test_fuzz.py --fuzz deep`` runs thousands.
"""
import io
import math
import warnings
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

import admmnet  # noqa: E402
from admmnet import CheckpointError, DivergenceError, DivergenceWarning  # noqa: E402
from admmnet.cli import main  # noqa: E402

BAD = st.sampled_from(["abc", None, float("nan"), float("inf"), -1, -1.5, 0, 1.5, True, "", [1], (), 1e300,
                       np.int64(3), np.float32(0.5)])


def _data(m=30, n=3, k=3, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((m, n)).astype(np.float32)
    y = np.arange(m) % k
    X[:, 0] += 2 * y
    return X, y


def _names(text: str, names) -> bool:
    return any(n in text for n in names)


def _call_fit(model, X, y, names):
    """Fit and predict; a raised error must be documented and name one of ``names``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
            P = model.predict_proba(X)
    except (CheckpointError, DivergenceError):
        return
    except (ValueError, TypeError) as exc:
        assert _names(str(exc), names), f"{type(exc).__name__} does not name the argument: {exc}"
        return
    assert np.all(np.isfinite(P)), "NaN/inf probabilities"
    for w in model.weights():
        assert np.all(np.isfinite(w)), "NaN/inf weights"


QNN_PARAMS = ["beta", "gamma", "mu", "penalty_growth", "mu_growth", "max_penalty", "kappa", "tau", "max_backtrack",
              "fista_eta", "fista_max_iter", "fista_tol", "proj_max_iter", "proj_patience", "ridge", "forward_reset",
              "layer_scale", "refit_output", "refit_ridge", "momentum", "momentum_restart", "monitor_rows",
              "fp_iter", "layerwise", "layerwise_iter", "layerwise_rho", "layerwise_rho_growth", "bias",
              "granularity", "levels", "bits", "activation", "hidden_sizes", "w_solver", "a_solver", "dtype",
              "seed", "preset"]


@given(st.dictionaries(st.sampled_from(QNN_PARAMS), BAD, max_size=3), st.sampled_from([None, 2, 1]))
def test_fuzz_qnn_admm_parameters(params, bits):
    X, y = _data()
    kw = dict(hidden_sizes=(4,), max_iter=2, preset=None, bits=bits)
    kw.update(params)
    _call_fit(admmnet.QNNADMM(**kw), X, y, list(params) + ["bits"])


BASELINES = [admmnet.FPMLP, admmnet.PTQ, admmnet.QNNSTE, admmnet.LQ, admmnet.DQ, admmnet.QAT, admmnet.TWN,
             admmnet.TTQ, admmnet.ADMMTernary, admmnet.MirrorDescent]
#: the one-epoch setting of each class's own stage
_STAGE = {admmnet.QNNSTE: dict(ste_epochs=1), admmnet.QAT: dict(qat_epochs=1), admmnet.TWN: dict(twn_epochs=1),
          admmnet.TTQ: dict(ttq_epochs=1), admmnet.ADMMTernary: dict(admm_epochs=1),
          admmnet.MirrorDescent: dict(md_epochs=1, variant="tanh-s"),
          admmnet.LQ: dict(admm_iters=1, w_epochs=1, retrain_epochs=0)}
BP_PARAMS = ["hidden_sizes", "activation", "bias", "optimizer", "lr", "lr_schedule", "momentum", "weight_decay",
             "batch_size", "max_epochs", "patience", "holdout_fraction", "seed", "dtype"]


@given(st.sampled_from(BASELINES), st.dictionaries(st.sampled_from(BP_PARAMS), BAD, max_size=2))
def test_fuzz_baseline_parameters(cls, params):
    X, y = _data()
    kw = dict(hidden_sizes=(4,), max_epochs=1, **_STAGE.get(cls, {}))
    if cls in (admmnet.PTQ, admmnet.QNNSTE, admmnet.LQ):
        kw["bits"] = 2
    kw.update(params)
    _call_fit(cls(**kw), X, y, list(params) + ["bits"])


def _arrays():
    shapes = st.sampled_from([(30, 3), (0, 3), (30, 0), (30,), (3, 10, 1), (1, 3), (2, 3)])
    kinds = st.sampled_from(["float", "int", "bool", "nan", "inf", "huge", "f16", "complex", "str", "list"])
    return st.tuples(shapes, kinds)


def _make_X(shape, kind):
    r = np.random.default_rng(1)
    X = r.standard_normal(shape)
    if kind == "int":
        return (X * 5).astype(np.int32)
    if kind == "bool":
        return X > 0
    if kind == "nan" and X.size:
        X.flat[0] = np.nan
    if kind == "inf" and X.size:
        X.flat[-1] = -np.inf
    if kind == "huge":
        return X * 1e300
    if kind == "f16":
        return X.astype(np.float16)
    if kind == "complex":
        return X + 1j
    if kind == "str":
        return X.astype(str)
    if kind == "list":
        return X.tolist()
    return X


LABELS = st.sampled_from(["int", "str", "float", "nan", "single", "mixed", "huge", "column", "short", "object"])


def _make_y(n, kind):
    y = np.arange(n) % 3
    if kind == "str":
        return np.array(["a", "b", "c"])[y]
    if kind == "float":
        return y.astype(float)
    if kind == "nan":
        yy = y.astype(float)
        if n:
            yy[0] = np.nan
        return yy
    if kind == "single":
        return np.zeros(n)
    if kind == "mixed":
        return np.array([1, "a", 2.5] * (n // 3 + 1), dtype=object)[:n]
    if kind == "huge":
        return y * 1e20
    if kind == "column":
        return y[:, None]
    if kind == "short":
        return y[:-1]
    if kind == "object":
        return np.array([None] * n, dtype=object)
    return y


@given(_arrays(), LABELS, st.sampled_from(["qnn", "fp"]))
def test_fuzz_fit_inputs(xs, ykind, which):
    shape, kind = xs
    X = _make_X(shape, kind)
    n = shape[0] if len(shape) else 0
    y = _make_y(n, ykind)
    model = (admmnet.QNNADMM(hidden_sizes=(4,), max_iter=2, preset=None) if which == "qnn"
             else admmnet.FPMLP(hidden_sizes=(4,), max_epochs=1))
    _call_fit(model, X, y, ["X", "y"])


@given(_arrays())
def test_fuzz_predict_inputs(xs):
    shape, kind = xs
    X, y = _data()
    model = admmnet.QNNADMM(hidden_sizes=(4,), max_iter=2, preset=None, bits=2)
    model.fit(X, y)
    Xq = _make_X(shape, kind)
    try:
        P = model.predict_proba(Xq)
    except (ValueError, TypeError) as exc:
        assert "X" in str(exc)
        return
    assert np.all(np.isfinite(P))


CLI_FLAGS = {
    "--bits": st.sampled_from(["fp", "1", "2", "8", "0", "9", "abc", "-1", "2.5"]),
    "--iters": st.sampled_from(["1", "2", "0", "-1", "x", "1e3"]),
    "--method": st.sampled_from(["qnn-admm", "fp", "ptq", "ste", "lq", "dq", "qat", "nope"]),
    "--levels": st.sampled_from(["thesis", "signed", "binary", "ternary", "z"]),
    "--hidden": st.sampled_from(["4", "4,4", "0", "a,b", "", "-3"]),
    "--epochs": st.sampled_from(["1", "0", "-2", "q"]),
    "--lr": st.sampled_from(["0.01", "0", "-1", "nan", "inf", "1e6"]),
    "--beta": st.sampled_from(["0.1", "0", "-1", "nan", "inf", "x"]),
    "--momentum": st.sampled_from(["0.5", "1", "-0.1", "nan"]),
    "--seed": st.sampled_from(["0", "-1", "x"]),
    "--split-seed": st.sampled_from(["0", "3", "-1"]),
    "--fp-iter": st.sampled_from(["0", "1", "-1"]),
    "--save": st.sampled_from(["/proc/nope/m.npz", "."]),
    "--json": st.sampled_from(["/proc/nope/r.json", "."]),
}


@given(flags=st.dictionaries(st.sampled_from(sorted(CLI_FLAGS)), st.none(), max_size=4).flatmap(
    lambda d: st.fixed_dictionaries({k: CLI_FLAGS[k] for k in d})))
def test_fuzz_cli_train(real_data, flags):
    argv = ["train", "--dataset", "seeds", "--quiet"]
    flags.setdefault("--iters", "1")
    if flags.get("--method", "qnn-admm") != "qnn-admm":
        flags.setdefault("--epochs", "1")
    for k, v in flags.items():
        argv += [k, v]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rc = main(argv + ["--data-dir", str(real_data)])
        except SystemExit as exc:      # argparse's own usage errors: a message, exit status 2
            rc = exc.code
    assert rc in (0, 2), (argv, rc, err.getvalue()[-500:])
    if rc == 2:
        assert "error" in err.getvalue()
    assert "Traceback" not in err.getvalue()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    X, y = _data()
    m = admmnet.QNNADMM(hidden_sizes=(3,), max_iter=2, preset=None, bits=2)
    m.fit(X, y)
    path = m.save(tmp_path_factory.mktemp("mut") / "m.npz", history=False)
    return path, X, m.predict_proba(X)


@pytest.mark.slow
def test_every_byte_flip_and_truncation_is_refused_or_harmless(small_model, tmp_path):
    path, X, P = small_model
    data = path.read_bytes()
    target = tmp_path / "x.npz"
    outcomes = {"refused": 0, "harmless": 0}

    def check(blob):
        target.write_bytes(blob)
        try:
            m = admmnet.load(target)
        except CheckpointError:
            outcomes["refused"] += 1
            return
        np.testing.assert_array_equal(m.predict_proba(X), P)
        outcomes["harmless"] += 1

    for i in range(len(data)):
        check(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    for i in range(len(data)):
        check(data[:i])
    assert outcomes["refused"] + outcomes["harmless"] == 2 * len(data)
    assert outcomes["refused"] > len(data)
