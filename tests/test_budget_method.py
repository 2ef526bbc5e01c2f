"""The budget method (admmnet.baselines.Budget, Yang et al.'s Algorithm 1): its ADMM steps by
their definitions, accuracy floors, the budget met by the fitted network, the CLI."""
import json

import numpy as np
import pytest

import admmnet
from admmnet.baselines import Budget, FPMLP
from admmnet.baselines.budget import BudgetObjective
from admmnet.cli import main
from admmnet.quant import budget as QB
from admmnet.exceptions import InvalidParameterError
from _data import blobs




FAST = dict(hidden_sizes=(16, 8), max_epochs=15, lr=1e-2, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def fp_model():
    X, y = blobs()
    return FPMLP(**FAST).fit(X, y)


def test_objective_steps_by_definition():
    r = np.random.default_rng(0)
    Ws = [r.normal(size=(6, 5)), r.normal(size=(3, 6))]
    S = 40
    obj = BudgetObjective(Ws, S, (1, 2, 3), "kmeans", 0.05, 1, "float64")
    bits0 = list(obj.bits)
    obj.Y = [r.normal(size=W.shape) * 0.01 for W in Ws]
    Y0 = [Y.copy() for Y in obj.Y]
    W1 = obj.start_epoch(Ws, 0)
    # W: the knapsack projection at the previous widths (eq. 8): entries kept or zeroed, within S
    assert sum(b * int(np.count_nonzero(W)) for b, W in zip(bits0, W1)) <= S
    for W, Wp in zip(Ws, W1):
        assert np.all((Wp == W) | (Wp == 0))
    # V: at most 2^b non-zero values per layer, widths within the budget for W's sparsity
    assert sum(b * int(np.count_nonzero(W)) for b, W in zip(obj.bits, W1)) <= S
    for V, b in zip(obj.V, obj.bits):
        assert np.unique(V[V != 0]).size <= 2 ** b
    # dual (eq. 7)
    for Y, Yp, W, V in zip(obj.Y, Y0, W1, obj.V):
        np.testing.assert_allclose(Y, Yp + 0.05 * (W - V))
    # penalty <Y, W - V> + rho/2 ||W - V||^2 and its gradient
    val, grads = obj.penalty(W1)
    assert val == pytest.approx(sum(np.sum(Y * (W - V)) + 0.025 * np.sum((W - V) ** 2)
                                    for Y, W, V in zip(obj.Y, W1, obj.V)))
    for g, Y, W, V in zip(grads, obj.Y, W1, obj.V):
        np.testing.assert_allclose(g, Y + 0.05 * (W - V))
    # the evaluated network is the final compression, within the budget
    We = obj.eval_weights(W1)
    assert sum(b * int(np.count_nonzero(W)) for b, W in zip(obj.bits, We)) <= S


@pytest.mark.parametrize("quantizer", ("kmeans", "uniform"))
@pytest.mark.parametrize("budget,floor", [("16x", 0.95), ("64x", 0.8)])
def test_budget_met_and_accuracy_floor(fp_model, quantizer, budget, floor):
    X, y = blobs()
    m = Budget(budget=budget, quantizer=quantizer, budget_epochs=8, **FAST).fit(X, y, fp_model=fp_model)
    n = sum(W.size for W in m.weights())
    S = QB.parse_budget(budget, n)
    rep = m.compression_report()
    assert rep["weight_bits"] <= S == m.budget_bits_
    assert rep["weight_bits"] == sum(r["bits"] * int(np.count_nonzero(W)) for r, W in zip(rep["layers"], m.weights()))
    assert m.score(X, y) >= floor
    assert m.history_[-1]["stage"] == "budget-final"


def test_same_seed_same_model(fp_model):
    X, y = blobs()
    a = Budget(budget="20x", budget_epochs=3, **FAST).fit(X, y, fp_model=fp_model)
    b = Budget(budget="20x", budget_epochs=3, **FAST).fit(X, y, fp_model=fp_model)
    for u, v in zip(a.weights(), b.weights()):
        np.testing.assert_array_equal(u, v)


def test_bad_parameters_raise_clear_errors():
    X, y = blobs()
    for kw, match in [(dict(budget=None), "budget"), (dict(budget="20y"), "unit"),
                      (dict(budget="20x", bit_choices=(0, 2)), "bit_choices"),
                      (dict(budget="20x", bit_choices=()), "bit_choices"),
                      (dict(budget="20x", bit_choices=(2, 2)), "repeated"),
                      (dict(budget="20x", quantizer="log"), "quantizer"),
                      (dict(budget="20x", rho=0.0), "rho"),
                      (dict(budget="100000x"), "budget")]:
        with pytest.raises(InvalidParameterError, match=match):
            Budget(**kw, **dict(FAST, max_epochs=1), budget_epochs=1).fit(X, y)


def test_real_data_floor_seeds():
    from admmnet.baseline_presets import baseline_params
    from admmnet.datasets import load_dataset

    ds = load_dataset("seeds")
    kw = baseline_params("budget", "seeds")
    m = Budget(budget="4x", **kw).fit(ds.X_train, ds.y_train)
    assert m.compression_report()["weight_bits"] <= m.budget_bits_
    assert m.score(ds.X_test, ds.y_test) >= 0.85


def test_cli_train_save_evaluate(tmp_path, capsys):
    out, model = tmp_path / "r.json", tmp_path / "m.npz"
    assert main(["train", "--dataset", "seeds", "--method", "budget", "--budget", "60B", "--bit-choices", "1", "2",
                 "4", "--quantizer", "uniform", "--json", str(out), "--save", str(model), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["method"] == "budget" and rec["compression"]["weight_bits"] <= 480
    assert set(r["bits"] for r in rec["compression"]["layers"]) <= {1, 2, 4}
    assert rec["compression"]["file_bytes"] == model.stat().st_size
    assert main(["evaluate", str(model), "--dataset", "seeds"]) == 0
    loaded = admmnet.load(model)
    assert sum(int(np.count_nonzero(W)) for W in loaded.weights()) == rec["compression"]["nnz"]
    assert main(["train", "--dataset", "seeds", "--method", "budget", "--quiet"]) == 2          # no --budget
    assert main(["train", "--dataset", "seeds", "--method", "budget", "--budget", "8x", "--bits", "2",
                 "--quiet"]) == 2
    assert main(["train", "--dataset", "seeds", "--method", "ste", "--bits", "2", "--budget", "8x",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--budget" in err
