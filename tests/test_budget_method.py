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


# -- fine-tuning with the structure fixed (finetune_epochs) --------------------------------------
@pytest.mark.parametrize("quantizer", ("kmeans", "uniform"))
def test_fixed_structure_is_the_projection_for_fixed_codes(quantizer):
    from admmnet.baselines.budget import FixedStructure

    r = np.random.default_rng(3)
    Ws = [r.normal(size=(7, 5)), r.normal(size=(3, 7))]
    masks = [r.random(W.shape) < 0.6 for W in Ws]
    bits = [2, 1]
    ft = FixedStructure([W * m for W, m in zip(Ws, masks)], masks, bits, quantizer)
    # the latent point moved off the quantized set: the forward weights are its least-squares
    # point among weights with the same codes (groups)
    moved = [W * m + 0.3 * r.normal(size=W.shape) * m for W, m in zip(Ws, masks)]
    for V, W, g, b, m in zip(ft.project(moved), moved, ft.idx, bits, masks):
        assert np.all(V[~m] == 0) and np.all(g[m] != 0) and np.all(g[~m] == 0)   # every kept position coded
        if quantizer == "kmeans":
            assert np.unique(V[V != 0]).size <= 2 ** b
            for c in np.unique(g[g > 0]):                     # every group at the mean of its entries
                np.testing.assert_allclose(V[g == c], W[g == c].mean())
            assert np.all(V[g == 0] == 0)
        else:
            alpha = np.sum(W * g) / np.sum(g * g)
            np.testing.assert_allclose(V, alpha * g)
            assert set(np.unique(np.abs(g[g != 0]))) <= set(range(1, 2 ** (b - 1) + 1))
        # brute force: no other value per group does better (perturbing the optimum raises the error)
        err = np.sum((V - W) ** 2)
        if quantizer == "kmeans":               # each group's value is free
            bumps = [V + s * (g == c) for c in np.unique(g[g != 0])[:3] for s in (-1e-3, 1e-3)]
        else:                                   # one scale for the whole layer
            bumps = [V + s * g for s in (-1e-3, 1e-3)]
        for bumped in bumps:
            assert np.sum((bumped - W) ** 2) > err
    # straight-through gradients only on the kept positions; steps never leave the mask
    dWs = [r.normal(size=W.shape) for W in Ws]
    for d, m, dW in zip(ft.weight_grads(moved, dWs), masks, dWs):
        np.testing.assert_array_equal(d, dW * m)
    for W, m in zip(ft.after_step([W + 1.0 for W in moved]), masks):
        assert np.all(W[~m] == 0)
    # the stored form is exactly the forward weights, with at most 2^b values and no new non-zeros
    for c, V, m, b in zip(ft.compressed(moved, ft.idx, "float64"), ft.project(moved), masks, bits):
        np.testing.assert_allclose(c.dense("float64"), V, rtol=0, atol=1e-12)
        assert c.nnz == int(m.sum()) and c.bits == b


def test_fixed_structure_recodes_at_epoch_starts_only_when_asked():
    """``recode``: at every epoch start after the first the codes are chosen again from the
    latent weights (an entry moved across the code boundary changes group); without it the
    starting codes stay and only the code values follow the latent weights."""
    from admmnet.baselines.budget import FixedStructure

    W = np.array([[-2.0, -1.9, -1.8, 1.0, 1.1, 1.2]])
    mask = np.ones_like(W, dtype=bool)
    moved = [W.copy()]
    moved[0][0, 0] = 1.3               # the first entry drifts to the other side
    for recode in (True, False):
        ft = FixedStructure([W], [mask], [1], "kmeans", recode=recode)
        start = ft.idx[0].copy()
        assert start[0, 0] == start[0, 1] != start[0, 3]     # two groups: the negatives, the positives
        ft.start_epoch(moved, 0)                           # the first epoch keeps the starting codes
        np.testing.assert_array_equal(ft.idx[0], start)
        ft.start_epoch(moved, 1)
        if recode:
            assert ft.idx[0][0, 0] == ft.idx[0][0, 3]      # now coded with the positives
        else:
            np.testing.assert_array_equal(ft.idx[0], start)
            np.testing.assert_allclose(ft.project(moved)[0][0, :3], np.mean([1.3, -1.9, -1.8]))
    with pytest.raises(InvalidParameterError, match="finetune_recode"):
        Budget(budget="64x", finetune_recode="no").fit(*blobs())


@pytest.mark.parametrize("quantizer,recode", (("kmeans", True), ("uniform", True), ("kmeans", False)))
def test_finetune_keeps_the_budget_and_never_scores_worse(fp_model, quantizer, recode):
    X, y = blobs()
    base = dict(budget="64x", quantizer=quantizer, budget_epochs=2, holdout_fraction=0.2, **FAST)
    plain = Budget(**base).fit(X, y, fp_model=fp_model)
    tuned = Budget(**base, finetune_epochs=4, finetune_recode=recode).fit(X, y, fp_model=fp_model)
    S = plain.budget_bits_
    assert tuned.compression_report()["weight_bits"] <= S
    stages = [r["stage"] for r in tuned.history_]
    assert stages.count("budget-finetune") == 4 and stages[-1] == "budget-final"
    # kept only when at least as good on the held-out rows (the estimator's own split, same seed)
    from admmnet.baselines._base import stratified_holdout

    _, ho = stratified_holdout(np.searchsorted(plain.classes_, y), 0.2, np.random.default_rng(FAST["seed"]))
    assert tuned.score(X[ho], y[ho]) >= plain.score(X[ho], y[ho])
    with pytest.raises(InvalidParameterError, match="finetune_epochs"):
        Budget(**{**base, "finetune_epochs": -1}).fit(X, y, fp_model=fp_model)


# -- retraining with the structure fixed (retrain_epochs: StructureADMM) -----------------------
@pytest.mark.parametrize("quantizer", ("kmeans", "uniform"))
def test_structure_admm_steps_by_definition(quantizer):
    """The G-step is the fixed structure's projection of W + U with codes chosen from it, the
    dual is U + W - G, and the continuation scales rho up and U down (rho U unchanged); the
    penalty's gradient is rho (W - G + U) on the kept positions and 0 elsewhere; the forward
    pass is W itself and the evaluated network has the structure's non-zeros and widths."""
    from admmnet.baselines.budget import FixedStructure, StructureADMM

    r = np.random.default_rng(5)
    Ws = [r.normal(size=(6, 5)), r.normal(size=(3, 6))]
    masks = [r.random(W.shape) < 0.5 for W in Ws]
    bits = [2, 1]
    W0 = [W * m for W, m in zip(Ws, masks)]
    obj = StructureADMM(W0, masks, bits, quantizer, rho=0.2, rho_growth=1.5, steps=2)
    obj.U = [0.1 * r.normal(size=W.shape) * m for W, m in zip(Ws, masks)]
    U0 = [U.copy() for U in obj.U]
    W1 = [W + 0.2 * r.normal(size=W.shape) * m for W, m in zip(W0, masks)]
    assert obj.forward_weights(W1) is W1
    value, grads = obj.penalty(W1)
    for g, W, G, U, m in zip(grads, W1, obj.G, obj.U, masks):
        np.testing.assert_allclose(g, 0.2 * (W - G + U) * m)
        assert np.all(g[~m] == 0)
    assert value == pytest.approx(sum(0.1 * np.sum(((W - G + U) * m) ** 2)
                                      for W, G, U, m in zip(W1, obj.G, obj.U, masks)))
    after = obj.after_step(W1)                     # step 1 of 2: no G-step yet
    assert obj.rho == 0.2 and all(np.array_equal(a, b) for a, b in zip(obj.U, U0))
    after = obj.after_step(after)                  # step 2: the G-step
    V = [W + U for W, U in zip(after, U0)]
    ref = FixedStructure(V, masks, bits, quantizer)          # codes chosen from W + U
    for G, R, U, W, u0 in zip(obj.G, ref.project(V), obj.U, after, U0):
        np.testing.assert_allclose(G, R)
        np.testing.assert_allclose(U * 1.5, u0 + W - G)
    assert obj.rho == pytest.approx(0.3)
    for E, m, b in zip(obj.eval_weights(after), masks, bits):
        assert np.all(E[~m] == 0)
        assert np.unique(E[E != 0]).size <= 2 ** b


def test_structure_admm_continuation_reaches_its_projection():
    """With the penalty alone (no loss) and rho growing, W, kept on its mask, is drawn onto its
    quantized projection: ||W - G|| falls to ~0 and stays in the structure (steps of 0.5 / rho:
    half-way to G - U)."""
    from admmnet.baselines.budget import StructureADMM

    r = np.random.default_rng(2)
    W = [r.normal(size=(8, 8))]
    mask = [r.random((8, 8)) < 0.4]
    W = [W[0] * mask[0]]
    obj = StructureADMM(W, mask, [1], "kmeans", rho=0.5, rho_growth=1.2, steps=1)
    gaps = []
    for _ in range(60):
        _, (g,) = obj.penalty(W)
        W = obj.after_step([W[0] - 0.5 / obj.rho * g])
        gaps.append(float(np.linalg.norm(W[0] - obj.G[0])))
    assert gaps[-1] < 1e-3 * gaps[0] + 1e-9
    assert np.all(W[0][~mask[0]] == 0) and np.unique(obj.G[0][obj.G[0] != 0]).size <= 2


def test_retrain_keeps_the_budget_and_never_scores_worse(fp_model):
    X, y = blobs()
    base = dict(budget="64x", budget_epochs=2, holdout_fraction=0.2, **FAST)
    plain = Budget(**base).fit(X, y, fp_model=fp_model)
    tuned = Budget(**base, retrain_epochs=3, finetune_epochs=2, finetune_recode=False).fit(X, y, fp_model=fp_model)
    assert tuned.compression_report()["weight_bits"] <= plain.budget_bits_
    stages = [r["stage"] for r in tuned.history_]
    assert stages.count("budget-retrain") == 3 and stages.count("budget-finetune") == 2
    assert stages.index("budget-retrain") < stages.index("budget-finetune")
    from admmnet.baselines._base import stratified_holdout

    _, ho = stratified_holdout(np.searchsorted(plain.classes_, y), 0.2, np.random.default_rng(FAST["seed"]))
    assert tuned.score(X[ho], y[ho]) >= plain.score(X[ho], y[ho])
    for bad in ({"retrain_epochs": -1}, {"retrain_rho": 0.0}):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            Budget(**{**base, **bad}).fit(X, y, fp_model=fp_model)


def test_pruning_budget_is_the_cubic_schedule():
    """S_t = S + (S_0 - S)(1 - t/T)^3: the dense size at t = 0, the target from T on, never
    increasing, and the cubic at a middle point."""
    from admmnet.baselines.budget import pruning_budget

    S0, S, T = 10_000, 100, 40
    seq = [pruning_budget(t, T, S0, S) for t in range(60)]
    assert seq[0] == S0 and all(v == S for v in seq[T:])
    assert all(a >= b for a, b in zip(seq, seq[1:]))
    assert seq[T // 2] == int(S + (S0 - S) * 0.5 ** 3)
    assert pruning_budget(5, 0, S0, S) == S


def test_gradual_pruning_projects_onto_the_shrinking_budget():
    """GradualPruning: after each projection the masks are the knapsack of W at S_t (the
    largest entries by W^2 at equal widths), pruned entries stay 0 between projections, the
    masks stop moving once S is reached, and the evaluated network meets S."""
    from admmnet.baselines.budget import GradualPruning, pruning_budget

    r = np.random.default_rng(3)
    Ws = [r.normal(size=(10, 8)), r.normal(size=(4, 10))]
    bits, S, T = [1, 1], 30, 12
    obj = GradualPruning(Ws, bits, S, ramp_steps=T, interval=3, quantizer="kmeans", dtype="float64")
    assert obj.dense == 120
    for t in range(20):
        before = [m.copy() for m in obj.masks] if obj.masks is not None else None
        Win = [W + 0.01 * r.normal(size=W.shape) for W in Ws]        # an optimizer step
        Ws = obj.after_step(Win)
        kept = sum(int(np.count_nonzero(W)) for W in Ws)
        if t % 3 == 0 and t <= T:
            S_t = pruning_budget(t, T, 120, S)
            assert kept == S_t and obj.current == S_t
            mag = np.concatenate([np.abs(W).ravel() for W in Win])
            on = np.concatenate([(W != 0).ravel() for W in Ws])
            assert on.all() or mag[on].min() >= mag[~on].max()
        else:
            for m, mb in zip(obj.masks, before):
                np.testing.assert_array_equal(m, mb)      # no projection: the masks hold
        assert all(np.all(W[m == 0] == 0) for W, m in zip(Ws, obj.masks))
    assert obj.current == S
    We = obj.eval_weights(Ws)
    assert sum(int(np.count_nonzero(W)) for W in We) <= S
    assert all(np.unique(W[W != 0]).size <= 2 for W in We)


def test_pruning_stage_keeps_the_budget_and_starts_the_admm(fp_model):
    """prune_epochs runs before the ADMM stage (records in that order), the fitted network
    meets the budget, and on the blobs the stage scores at least the one-shot ADMM start."""
    X, y = blobs()
    base = dict(budget="64x", budget_epochs=2, holdout_fraction=0.2, **FAST)
    plain = Budget(**base).fit(X, y, fp_model=fp_model)
    pruned = Budget(**base, prune_epochs=4).fit(X, y, fp_model=fp_model)
    stages = [r["stage"] for r in pruned.history_]
    assert stages.count("budget-prune") == 4 and stages.index("budget-prune") < stages.index("budget")
    assert pruned.compression_report()["weight_bits"] <= pruned.budget_bits_
    assert pruned.score(X, y) >= plain.score(X, y) - 0.02
    with pytest.raises(InvalidParameterError, match="prune_epochs"):
        Budget(**{**base, "prune_epochs": -1}).fit(X, y, fp_model=fp_model)


def test_prune_ramp_sets_where_the_pruning_budget_reaches_the_target(fp_model, monkeypatch):
    """prune_ramp = r: the pruning stage's budget reaches S after int(r x its optimizer steps)
    (pruning_budget's T); outside (0, 1] it is a clear error."""
    import admmnet.baselines.budget as BM

    X, y = blobs()
    base = dict(budget="64x", budget_epochs=0, prune_epochs=3, holdout_fraction=0.2, **FAST)
    ramps = []
    init = BM.GradualPruning.__init__

    def spy(self, Ws, bits, budget, ramp_steps, *a, **kw):
        ramps.append(ramp_steps)
        init(self, Ws, bits, budget, ramp_steps, *a, **kw)

    monkeypatch.setattr(BM.GradualPruning, "__init__", spy)
    steps = None
    for r in (1.0, 0.7, 0.25):
        model = Budget(**base, prune_ramp=r).fit(X, y, fp_model=fp_model)
        steps = ramps[-1] if steps is None else steps     # at r = 1: every step of the 3 epochs
        assert ramps[-1] == int(r * steps)
        assert model.compression_report()["weight_bits"] <= model.budget_bits_
    assert steps >= 3 and steps % 3 == 0          # 3 epochs of the same number of batches
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(InvalidParameterError, match="prune_ramp"):
            Budget(**base, prune_ramp=bad).fit(X, y, fp_model=fp_model)


def _stage_teachers(monkeypatch):
    """A spy on Budget._run: the (stage, teacher, training rows) of every stage it trains."""
    seen = []
    run = Budget._run

    def spy(self, Ws, bs, Xt, *a, **kw):
        seen.append((kw.get("stage"), kw.get("teacher"), Xt))
        return run(self, Ws, bs, Xt, *a, **kw)

    monkeypatch.setattr(Budget, "_run", spy)
    return seen


def test_distillation_reaches_every_stage_with_the_fp_networks_logits(fp_model, monkeypatch):
    """distill = w: every stage after the FP one trains on the distillation loss against the FP
    network's logits on the training rows (the same teacher in each), at w and T; without it
    no stage gets a teacher."""
    X, y = blobs()
    seen = _stage_teachers(monkeypatch)
    base = dict(budget="64x", budget_epochs=1, prune_epochs=1, retrain_epochs=1, finetune_epochs=1,
                holdout_fraction=0.2, **FAST)
    m = Budget(**base, distill=0.5, distill_temperature=3.0).fit(X, y, fp_model=fp_model)
    assert [s for s, _, _ in seen] == ["budget-prune", "budget", "budget-retrain", "budget-finetune"]
    for _, (Zt, w, T), Xt in seen:
        assert (w, T) == (0.5, 3.0) and Zt.shape == (3, Xt.shape[0])
        np.testing.assert_allclose(Zt, seen[0][1][0])
    # the teacher is the FP network: its logits on the training rows
    Xt = seen[0][2]
    np.testing.assert_allclose(seen[0][1][0].T, fp_model.network_.logits(np.asarray(Xt)), rtol=1e-4, atol=1e-4)
    assert m.compression_report()["weight_bits"] <= m.budget_bits_
    seen.clear()
    Budget(**base).fit(X, y, fp_model=fp_model)
    assert all(t is None for _, t, _ in seen)
    for bad in (-0.1, 1.0):
        with pytest.raises(InvalidParameterError, match="distill"):
            Budget(**base, distill=bad).fit(X, y, fp_model=fp_model)
    with pytest.raises(InvalidParameterError, match="distill_temperature"):
        Budget(**base, distill=0.5, distill_temperature=0.0).fit(X, y, fp_model=fp_model)


def test_ensemble_teacher_is_the_mean_of_its_networks_logits(fp_model, monkeypatch):
    """distill_teachers = k with k - 1 teacher_models: every stage's teacher is the mean of the
    k FP networks' logits on the training rows; the student still starts from fp_model."""
    X, y = blobs()
    other = FPMLP(**{**FAST, "seed": 7}).fit(X, y)
    seen = _stage_teachers(monkeypatch)
    base = dict(budget="64x", budget_epochs=1, retrain_epochs=1, holdout_fraction=0.2, distill=0.5, **FAST)
    m = Budget(**base, distill_teachers=2).fit(X, y, fp_model=fp_model, teacher_models=[other])
    Xt = np.asarray(seen[0][2])
    mean = (fp_model.network_.logits(Xt) + other.network_.logits(Xt)) / 2
    assert [s for s, _, _ in seen] == ["budget", "budget-retrain"]
    for _, (Zt, w, T), _ in seen:
        assert (w, T) == (0.5, 4.0)
        np.testing.assert_allclose(Zt.T, mean, rtol=1e-4, atol=1e-4)
    assert not np.allclose(mean, fp_model.network_.logits(Xt), atol=1e-2)     # the other network counts
    assert not any(r["stage"] == "fp-teacher" for r in m.history_)            # none trained here
    # same teacher networks, same fit; the one-teacher fit differs
    again = Budget(**base, distill_teachers=2).fit(X, y, fp_model=fp_model, teacher_models=[other])
    np.testing.assert_array_equal(again.predict_proba(X), m.predict_proba(X))
    assert m._teacher_models is None                                          # not kept after fit


def test_ensemble_teachers_are_trained_when_not_given(fp_model, monkeypatch):
    """Without teacher_models the k - 1 others are trained in fit like the FP stage's network
    (seeds seed + 1000 j, same training rows): distinct trained networks, recorded in the history as
    "fp-teacher", the same seed giving the same teacher."""
    X, y = blobs()
    seen = _stage_teachers(monkeypatch)
    base = dict(budget="64x", budget_epochs=1, holdout_fraction=0.2, distill=0.5, **FAST)
    m = Budget(**base, distill_teachers=3).fit(X, y, fp_model=fp_model)
    stages = [s for s, _, _ in seen]
    assert stages == ["fp", "fp", "budget"]                                   # two others, then the stage
    assert sum(r["stage"] == "fp-teacher" for r in m.history_) == 2 * FAST["max_epochs"]
    Xt = np.asarray(seen[-1][2])
    Zt = np.asarray(seen[-1][1][0]).T
    others = 3 * Zt - fp_model.network_.logits(Xt)                           # the two others' logits, summed
    assert not np.allclose(others / 2, fp_model.network_.logits(Xt), atol=1e-2)
    assert np.mean(np.argmax(Zt, axis=1) == np.argmax(fp_model.network_.logits(Xt), axis=1)) > 0.9
    seen.clear()
    m2 = Budget(**base, distill_teachers=3).fit(X, y, fp_model=fp_model)
    np.testing.assert_allclose(np.asarray(seen[-1][1][0]).T, Zt, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(m2.predict_proba(X), m.predict_proba(X))


def test_ensemble_teacher_bad_arguments(fp_model):
    """A teacher count under 1, more than one without distillation, a teacher_models list of the
    wrong length or of another network: clear errors naming the argument."""
    X, y = blobs()
    base = dict(budget="64x", budget_epochs=1, holdout_fraction=0.2, **FAST)
    for bad in (0, 1.5, "2"):
        with pytest.raises(InvalidParameterError, match="distill_teachers"):
            Budget(**base, distill=0.5, distill_teachers=bad).fit(X, y, fp_model=fp_model)
    with pytest.raises(InvalidParameterError, match="distill > 0"):
        Budget(**base, distill_teachers=2).fit(X, y, fp_model=fp_model)
    with pytest.raises(ValueError, match="teacher_models holds 1 model.*needs 2"):
        Budget(**base, distill=0.5, distill_teachers=3).fit(X, y, fp_model=fp_model, teacher_models=[fp_model])
    wide = FPMLP(**{**FAST, "hidden_sizes": (12, 8)}).fit(X, y)
    with pytest.raises(ValueError, match=r"teacher_models\[0\] has hidden sizes"):
        Budget(**base, distill=0.5, distill_teachers=2).fit(X, y, fp_model=fp_model, teacher_models=[wide])
    with pytest.raises(ValueError, match=r"teacher_models\[1\] must be a fitted model"):
        Budget(**base, distill=0.5, distill_teachers=3).fit(X, y, fp_model=fp_model,
                                                              teacher_models=[fp_model, FPMLP(**FAST)])
