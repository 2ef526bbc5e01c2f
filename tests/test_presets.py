"""The dataset presets, the automatic preset and how the estimator resolves unset parameters."""
import numpy as np
import pytest

import admmnet
from admmnet.presets import (AUTO_FP_OVERRIDES, AUTO_LARGE_SAMPLES, AUTO_WIDE_SAMPLES, AUTO_WIDTH_FACTOR,
                             FP_OVERRIDES, LOW_BIT_OVERRIDES, LOW_BITS_QMAX, N_INIT, NETWORK_KEYS, QNN_ADMM, TOPOLOGIES, auto_base_width,
                             auto_params, fp_phase_params, qnn_admm_params)


def test_quantized_presets_run_the_fp_schedule_then_quantize():
    for d in QNN_ADMM:
        phase, q = fp_phase_params(d), qnn_admm_params(d, 2)
        assert q["fp_iter"] == q["max_iter"] == phase["max_iter"] and q["layerwise"] is True
        # the FP phase of a quantized run is exactly the FP run of fp_phase_params: same solver
        # settings (the quantizer's own, layerwise_equalize, aside); the FP preset is that run with
        # FP_OVERRIDES (and nothing else)
        def solver_part(kw):
            return {k: v for k, v in kw.items() if k not in ("fp_iter", "layerwise", "n_init", "layerwise_equalize")}

        assert solver_part(q) == solver_part(phase)
        assert qnn_admm_params(d, None) == {**phase, **FP_OVERRIDES[d]}


def test_fp_phase_is_the_fit_a_quantized_preset_starts_from():
    """A quantized preset's fit (Seeds, 2 bits, one start, shortened) equals its quantizer run from
    ``fp_phase_params``' FP fit, not from the FP preset's (which has penalty growth of its own)."""
    from admmnet.datasets import load_dataset

    ds = load_dataset("seeds", split_seed=0)
    short = dict(max_iter=40)
    q_kw = {**qnn_admm_params("seeds", 2), "n_init": 1, **short, "fp_iter": 40}
    whole = admmnet.QNNADMM(**q_kw, bits=2, seed=0).fit(ds.X_train, ds.y_train)
    phase = admmnet.QNNADMM(**{**fp_phase_params("seeds", 2), **short}, seed=0).fit(ds.X_train, ds.y_train)
    fp = admmnet.QNNADMM(**{**qnn_admm_params("seeds", None), **short}, seed=0).fit(ds.X_train, ds.y_train)
    assert FP_OVERRIDES["seeds"]["penalty_growth"] > 1 and fp.params_["penalty_growth"] > 1
    from_phase = admmnet.QNNADMM(**q_kw, bits=2, seed=0).fit(ds.X_train, ds.y_train, fp_model=phase)
    from_fp = admmnet.QNNADMM(**q_kw, bits=2, seed=0).fit(ds.X_train, ds.y_train, fp_model=fp)
    np.testing.assert_array_equal(whole.predict_proba(ds.X_test), from_phase.predict_proba(ds.X_test))
    assert not np.array_equal(whole.network_.weights()[0], from_fp.network_.weights()[0])


def test_seeds_ternary_preset_has_a_leaky_network_and_restarts_of_its_own():
    """LOW_BIT_OVERRIDES: Seeds at 1 bit (largest code 1) trains a leaky-ReLU network, its FP
    phase included, from 10 restarts with 60 layerwise iterations (the quantized fit's own: its FP
    phase takes only the network, NETWORK_KEYS); every other preset and width keeps the ReLU and
    its restarts; an explicit activation wins; the 1-bit fit equals its run from its own FP phase
    and refuses a ReLU one (another network)."""
    from admmnet.datasets import load_dataset

    assert LOW_BIT_OVERRIDES == {"seeds": {1: {"activation": "leaky_relu", "n_init": 10, "layerwise_iter": 60}}}
    assert qnn_admm_params("seeds", 1)["activation"] == fp_phase_params("seeds", 1)["activation"] == "leaky_relu"
    for kw in (qnn_admm_params("seeds", 1), qnn_admm_params("seeds", "q", qmax=1)):
        assert (kw["activation"], kw["n_init"], kw["layerwise_iter"]) == ("leaky_relu", 10, 60)
    assert set(NETWORK_KEYS) == {"activation", "hidden_sizes", "bias"}
    assert "n_init" not in fp_phase_params("seeds", 1) and "layerwise_iter" not in fp_phase_params("seeds", 1)
    assert fp_phase_params("seeds", 1) == {**fp_phase_params("seeds"), "activation": "leaky_relu"}
    for d in QNN_ADMM:
        for b in (None, 8, 4, 2) + ((1,) if d != "seeds" else ()):
            assert "activation" not in qnn_admm_params(d, b) and "activation" not in fp_phase_params(d, b)
            assert "layerwise_iter" not in qnn_admm_params(d, b)
    shape = (168, 7, 3)
    resolved = lambda **kw: admmnet.QNNADMM(**kw).resolved_params(*shape)["activation"]  # noqa: E731
    assert resolved(preset="seeds", bits=1) == "leaky_relu"
    assert resolved(preset="seeds", bits=1, activation="relu") == "relu"
    assert resolved(preset="seeds", bits=2) == resolved(preset="seeds") == resolved(bits=1) == "relu"
    assert resolved(preset="pendigits", bits=1) == resolved(preset=None, bits=1) == "relu"
    iters = lambda **kw: admmnet.QNNADMM(**kw).resolved_params(*shape)["layerwise_iter"]  # noqa: E731
    assert iters(preset="seeds", bits=1) == 60 and iters(preset="seeds", bits=1, layerwise_iter=30) == 30
    assert iters(preset="seeds", bits=2) == iters(preset=None, bits=1) == iters(bits=1) == 30

    ds = load_dataset("seeds", split_seed=0)
    q_kw = {**qnn_admm_params("seeds", 1), "n_init": 1, "max_iter": 20, "fp_iter": 20}
    phase = admmnet.QNNADMM(**q_kw, bits=1, seed=0).fp_phase(*ds.X_train.shape, 3).fit(ds.X_train, ds.y_train)
    assert phase.network_.activation == "leaky_relu" and phase.n_iter_ == 20
    whole = admmnet.QNNADMM(**q_kw, bits=1, seed=0).fit(ds.X_train, ds.y_train)
    from_phase = admmnet.QNNADMM(**q_kw, bits=1, seed=0).fit(ds.X_train, ds.y_train, fp_model=phase)
    assert whole.network_.activation == "leaky_relu"
    np.testing.assert_array_equal(whole.predict_proba(ds.X_test), from_phase.predict_proba(ds.X_test))
    relu = admmnet.QNNADMM(**{**fp_phase_params("seeds"), "max_iter": 20}, seed=0).fit(ds.X_train, ds.y_train)
    with pytest.raises(ValueError, match="another network"):
        admmnet.QNNADMM(**q_kw, bits=1, seed=0).fit(ds.X_train, ds.y_train, fp_model=relu)


@pytest.mark.parametrize("dataset", sorted(TOPOLOGIES))
@pytest.mark.parametrize("bits", [None, 8, 4, 2, 1])
@pytest.mark.parametrize("shape", [(168, 7, 3), (60000, 784, 10)])
def test_preset_keyword_arguments_alone_give_the_preset(dataset, bits, shape):
    # benchmarks pass qnn_admm_params(...) to an estimator whose preset is "auto": no setting may
    # then come from the automatic preset instead of the dataset's (Seeds' ridge once did)
    by_name = admmnet.QNNADMM(preset=dataset, bits=bits).resolved_params(*shape)
    by_kwargs = admmnet.QNNADMM(**qnn_admm_params(dataset, bits), bits=bits).resolved_params(*shape)
    assert {k: v for k, v in by_name.items() if k != "preset"} == \
        {k: v for k, v in by_kwargs.items() if k != "preset"}


def test_restarts_only_for_low_bit_runs_on_small_data():
    assert LOW_BITS_QMAX == 3
    for d in ("seeds", "pendigits"):
        assert N_INIT[d] > 1
        assert qnn_admm_params(d, 2)["n_init"] == N_INIT[d]
        assert qnn_admm_params(d, 1)["n_init"] == LOW_BIT_OVERRIDES.get(d, {}).get(1, {}).get("n_init", N_INIT[d])
        assert qnn_admm_params(d, 4)["n_init"] == qnn_admm_params(d, 8)["n_init"] == 1
        assert "n_init" not in qnn_admm_params(d, None)          # full precision: one start
    assert qnn_admm_params("mnist", 1)["n_init"] == 1              # the 2-minute budget
    assert auto_params(500, 7, 3, bits=1)["n_init"] == auto_params(19999, 7, 3, bits=2)["n_init"] == 5
    assert auto_params(20000, 7, 3, bits=1)["n_init"] == 1 and auto_params(500, 7, 3, bits=4)["n_init"] == 1
    # the estimator decides by the level set's largest code: ternary, binary, signed 2 bits
    # (largest code 1: Seeds' own 10 restarts, LOW_BIT_OVERRIDES) and the thesis 2 bits
    for kw in (dict(levels="ternary"), dict(levels="binary"), dict(bits=2, levels="signed"), dict(bits=1)):
        assert admmnet.QNNADMM(preset="seeds", **kw).resolved_params(168, 7, 3)["n_init"] == 10, kw
        assert admmnet.QNNADMM(preset="pendigits", **kw).resolved_params(168, 7, 3)["n_init"] == 5, kw
    assert admmnet.QNNADMM(preset="seeds", bits=2).resolved_params(168, 7, 3)["n_init"] == 5
    for kw in (dict(), dict(bits=3), dict(bits=4, levels="signed")):
        assert admmnet.QNNADMM(preset="seeds", **kw).resolved_params(168, 7, 3)["n_init"] == 1, kw
    assert admmnet.QNNADMM(preset="seeds", bits=1, n_init=2).resolved_params(168, 7, 3)["n_init"] == 2


@pytest.mark.parametrize("shape,width", [((168, 7, 3), 10), ((999, 16, 10), 26), ((1000, 16, 10), 52),
                                         ((4999, 16, 10), 52), ((19999, 20, 5), 40), ((20000, 20, 5), 40),
                                         ((60000, 784, 10), 200), ((100, 2, 2), 8), ((50000, 5000, 100), 200),
                                         ((30000, 2, 2), 16)])
def test_auto_params_rules(shape, width):
    p = auto_params(*shape)
    # widths from sqrt(n_features * n_classes), at least 8 and 2 n_classes; from
    # AUTO_WIDE_SAMPLES rows AUTO_WIDTH_FACTOR times that; at most 200
    assert p["hidden_sizes"] == (width, width)
    narrow = auto_params(AUTO_WIDE_SAMPLES - 1, *shape[1:])["hidden_sizes"][0]
    assert narrow == auto_base_width(*shape[1:])
    assert width == (narrow if shape[0] < AUTO_WIDE_SAMPLES else min(200, AUTO_WIDTH_FACTOR * narrow))
    # one start from AUTO_LARGE_SAMPLES rows, 5 below for low-bit runs
    assert auto_params(*shape, bits=1)["n_init"] == (1 if shape[0] >= AUTO_LARGE_SAMPLES else 5)
    # the small-data settings at every size (MNIST's fixed-penalty preset underfit tabular data)
    assert p["beta"] == p["gamma"] == 0.01 and p["layer_scale"] == 4.0
    assert p["ridge"] == (0.03 if shape[0] < 1000 else 0.3)
    # 300 iterations with growing penalties, full precision and a quantized run's FP phase alike
    # (which is the FP run)
    phase = auto_params(*shape, fp_phase=True)
    assert phase["max_iter"] == AUTO_FP_OVERRIDES["max_iter"] == 300
    assert phase["penalty_growth"] == AUTO_FP_OVERRIDES["penalty_growth"]
    assert p == phase == auto_params(*shape, bits=1, fp_phase=True)
    assert "fp_iter" not in p
    for bits in (1, 2, 8):
        q = auto_params(*shape, bits=bits)
        assert q["fp_iter"] == q["max_iter"] == phase["max_iter"] and q["layerwise"]
        assert {k: v for k, v in q.items() if k not in ("fp_iter", "layerwise", "n_init", "layerwise_rho")} == \
            {k: v for k, v in phase.items() if k != "layerwise_rho"}


@pytest.mark.parametrize("bad", [(0, 3, 2), (10, 3, 1), (10.0, 3, 2), (10, True, 2)])
def test_auto_params_rejects_bad_shapes(bad):
    with pytest.raises(ValueError):
        auto_params(*bad)


def test_estimator_takes_unset_parameters_from_the_auto_preset():
    r = np.random.default_rng(0)
    X = r.standard_normal((120, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    m = admmnet.QNNADMM(bits=2, max_iter=6, momentum=0.5)
    want = auto_params(120, 5, 2, bits=2)
    got = m.resolved_params(120, 5, 2)
    assert got["hidden_sizes"] == want["hidden_sizes"] and got["beta"] == want["beta"]
    assert got["momentum"] == 0.5 and got["max_iter"] == 6
    assert got["fp_iter"] == 6          # the FP phase follows an explicit max_iter
    m.fit(X, y)
    assert m.params_["hidden_sizes"] == want["hidden_sizes"]
    assert m.get_params()["hidden_sizes"] is None           # constructor arguments stay as given
    assert m.history_.final["stage"].startswith(("layerwise", "projection"))
    assert m.score(X, y) > 0.8


def test_dataset_preset_and_no_preset():
    assert admmnet.QNNADMM(preset="mnist").resolved_params(10, 784, 10)["hidden_sizes"] == (200, 200)
    fixed = admmnet.QNNADMM(preset=None).resolved_params(10, 4, 3)
    assert fixed["fp_iter"] == 0 and fixed["layerwise"] is False and fixed["max_iter"] == 30
    with pytest.raises(ValueError, match="preset"):
        admmnet.QNNADMM(preset="cifar").resolved_params(10, 4, 3)


def test_layerwise_rho_follows_the_level_set():
    """The layerwise quantizer starts with rho 1e-3 where the largest code is 1 (ternary = the
    thesis's 1 bit, binary), 1e-2 elsewhere; preset=None keeps 1e-2; an explicit value wins."""
    from admmnet import QNNADMM
    from admmnet.presets import LAYERWISE_RHO, qnn_admm_params

    shape = (300, 7, 3)
    for kw, want in [({"bits": 1}, 1e-3), ({"bits": None, "levels": "binary"}, 1e-3),
                     ({"bits": 1, "levels": "ternary"}, 1e-3), ({"bits": 2}, 1e-2), ({"bits": 8}, 1e-2),
                     ({"bits": None}, 1e-2), ({"bits": 1, "preset": "pendigits"}, 1e-3),
                     ({"bits": 1, "preset": None}, 1e-2), ({"bits": 1, "layerwise_rho": 0.05}, 0.05)]:
        assert QNNADMM(**kw).resolved_params(*shape)["layerwise_rho"] == want, kw
    assert LAYERWISE_RHO[1] == 1e-3
    assert qnn_admm_params("mnist", 1)["layerwise_rho"] == 1e-3 and qnn_admm_params("mnist", 2)["layerwise_rho"] == 1e-2
