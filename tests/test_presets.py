"""The dataset presets, the automatic preset and how the estimator resolves unset parameters."""
import numpy as np
import pytest

import admmnet
from admmnet.presets import QNN_ADMM, auto_params, qnn_admm_params


def test_quantized_presets_run_the_fp_schedule_then_quantize():
    for d in QNN_ADMM:
        fp, q = qnn_admm_params(d, None), qnn_admm_params(d, 2)
        assert q["fp_iter"] == q["max_iter"] == fp["max_iter"] and q["layerwise"] is True
        # the FP phase of a quantized run is exactly the FP run: same solver settings
        assert {k: v for k, v in q.items() if k not in ("fp_iter", "layerwise")} == fp


@pytest.mark.parametrize("shape,width,small", [((168, 7, 3), 10, True), ((6000, 16, 10), 26, True),
                                               ((60000, 784, 10), 178, False), ((100, 2, 2), 8, True),
                                               ((50000, 5000, 100), 200, False)])
def test_auto_params_rules(shape, width, small):
    p = auto_params(*shape)
    assert p["hidden_sizes"] == (width, width)
    assert p["beta"] == (0.01 if small else 0.1)
    assert p["ridge"] == (0.03 if shape[0] < 1000 else (0.3 if small else 1.0))
    assert p["max_iter"] == (200 if shape[0] < 1000 else (100 if small else 75))
    assert "fp_iter" not in p
    q = auto_params(*shape, bits=2)
    assert q["fp_iter"] == q["max_iter"] and q["layerwise"]


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
