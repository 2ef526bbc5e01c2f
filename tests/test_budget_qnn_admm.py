"""QNN-ADMM under a model-size budget (admmnet.admm.budget_g): the layer-local G-update by its
definition, the budget met by the fitted network, accuracy floor, save/load, errors, CLI."""
import json

import numpy as np
import pytest

import admmnet
from admmnet import QNNADMM
from admmnet.admm.budget_g import BudgetG
from admmnet.cli import main
from admmnet.quant import budget as QB
from admmnet.exceptions import InvalidParameterError


def test_project_layer_meets_its_share_and_beats_every_fixed_width():
    r = np.random.default_rng(0)
    Ws = [r.normal(size=(8, 12)), r.normal(size=(4, 8)) * 0.5]
    g = BudgetG(120, (1, 2, 3), "kmeans")
    g.allocate(Ws)
    assert sum(g.alloc) <= 120
    joint = QB.budget_project(Ws, 120, (1, 2, 3), "kmeans")
    for l, W in enumerate(Ws):
        res = g.project_layer(W, l)
        G = np.asarray(res.G)
        b = g.bits[l]
        assert b * np.count_nonzero(G) <= g.alloc[l]
        assert np.unique(G[G != 0]).size <= 2 ** b
        assert res.loss == pytest.approx(np.sum((W - G) ** 2))
        # every width's candidate (exact top-n for equal weights, then its quantizer) is no better
        for j in (1, 2, 3):
            n = min(W.size, g.alloc[l] // j)
            keep = np.zeros(W.size)
            idx = np.argsort(-np.abs(W.ravel()), kind="stable")[:n]
            keep[idx] = W.ravel()[idx]
            q = QB.quantize_values(keep, j, "kmeans")
            assert res.loss <= np.sum((W.ravel() - q.dequantized()) ** 2) + 1e-9
        # the share is the joint projection's width times the entries its knapsack keeps
        assert g.alloc[l] == joint.bits[l] * int(np.count_nonzero(QB.project_sparsity(Ws, joint.bits, 120)[l]))
        cw = g.compressed(res.G, l, "float64")
        np.testing.assert_array_equal(cw.dense("float64"), G)


@pytest.fixture(scope="module")
def seeds():
    from admmnet.datasets import load_dataset

    return load_dataset("seeds")


def test_budgeted_qnn_admm_meets_the_budget_and_learns(seeds, tmp_path):
    m = QNNADMM(preset="seeds", budget="8x").fit(seeds.X_train, seeds.y_train)
    rep = m.compression_report()
    assert rep["weight_bits"] <= m.budget_bits_ == QB.parse_budget("8x", rep["n_weights"])
    assert m.params_["max_iter"] == m.params_["fp_iter"] + QNNADMM.BUDGET_ITERS and not m.params_["layerwise"]
    assert any(r["phase"] == "quantized" for r in m.history_)
    assert m.score(seeds.X_test, seeds.y_test) >= 0.85
    p = m.save(tmp_path / "q.npz", history=False)
    back = admmnet.load(p)
    for a, b in zip(back.weights(), m.weights()):
        np.testing.assert_array_equal(a, b)
    assert back.compression_report(p)["model_bytes"] == m.model_bytes


def test_budget_errors(seeds, tmp_path):
    X, y = seeds.X_train, seeds.y_train
    for kw, match in [(dict(budget="8x", bits=2), "either bits"), (dict(budget="8x", layerwise=True), "layerwise"),
                      (dict(budget="8x", quantizer="log"), "quantizer"), (dict(budget="1e9x"), "budget")]:
        with pytest.raises(InvalidParameterError, match=match):
            QNNADMM(preset="seeds", max_iter=1, **kw).fit(X, y)
    with pytest.raises(ValueError, match="budget-compressed"):
        QNNADMM(preset="seeds", max_iter=1).fit(X, y).compression_report()


def test_cli_qnn_admm_budget(tmp_path):
    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "seeds", "--method", "qnn-admm", "--budget", "16x", "--iters", "30",
                 "--bit-choices", "1", "2", "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["compression"]["weight_bits"] <= 150
    assert {r["bits"] for r in rec["compression"]["layers"]} <= {1, 2}
    assert [r["phase"] for r in rec["history"]] == ["fp"] * 20 + ["quantized"] * 10
    assert main(["train", "--dataset", "seeds", "--method", "qnn-admm", "--budget", "16x", "--bits", "2",
                 "--quiet"]) == 2
    assert main(["train", "--dataset", "seeds", "--method", "qnn-admm", "--quantizer", "uniform", "--quiet"]) == 2


def test_cli_qnn_admm_budget_on_augmented_pendigits(tmp_path):
    """Pendigits' quantized presets train the FP phase on 4 distorted copies of the rows and
    quantize on the real rows (``fit(..., fp_data=...)``); a budgeted fit is one ADMM run, whose
    budget iterations continue its FP phase on the same rows, so the CLI trains it on the augmented
    rows throughout: it runs, meets its budget (16x of 456 weights: 912 bits) and records the
    augmentation."""
    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "pendigits", "--method", "qnn-admm", "--budget", "16x", "--iters", "6",
                 "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["augment"] == 4 and rec["augmentation"] is not None
    assert rec["layer_sizes"] == [16, 12, 12, 10]
    assert 0 < rec["compression"]["weight_bits"] <= 912
    assert len(rec["history"]) == 6


@pytest.mark.parametrize("stop_at", [3, 5])
def test_checkpoint_resume_reproduces_the_uninterrupted_budget_fit(seeds, tmp_path, stop_at):
    """Interrupted in the FP phase (3) or in the quantized iterations (5), then resumed: the
    shares of the budget are restored with the solver state, so weights are bit-identical."""
    X, y = seeds.X_train, seeds.y_train
    kw = dict(preset="seeds", budget="8x", fp_iter=4, max_iter=7, seed=1)
    full = QNNADMM(**kw).fit(X, y)
    ck = tmp_path / "c.npz"

    def stop(model, rec):
        if rec["iteration"] == stop_at:
            raise KeyboardInterrupt

    part = QNNADMM(**kw).fit(X, y, checkpoint=ck, checkpoint_every=100, callback=stop)
    assert part.history_.interrupted and part.n_iter_ == stop_at
    rest = QNNADMM(**kw).fit(X, y, checkpoint=ck)
    assert rest.history_.resumed_from == stop_at
    for a, b in zip(full.weights(), rest.weights()):
        np.testing.assert_array_equal(a, b)
    assert rest.compression_report()["weight_bits"] <= rest.budget_bits_
    # a finished run's checkpoint resumes to the same model (the final refit uses the saved shares)
    again = QNNADMM(**kw).fit(X, y, checkpoint=ck)
    for a, b in zip(full.weights(), again.weights()):
        np.testing.assert_array_equal(a, b)
    # another budget is another run
    with pytest.raises(admmnet.CheckpointError, match="other parameters"):
        QNNADMM(**{**kw, "budget": "16x"}).fit(X, y, checkpoint=ck)
