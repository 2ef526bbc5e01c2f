"""The other sources' ternary methods (TWN, TTQ, ADMM ternary, mirror descent): the per-matrix
quantizers against their definitions and brute force, TTQ's gradients by finite differences,
the MD updates against their closed forms, training, save/load, level-set errors and the CLI."""
import itertools
import json

import numpy as np
import pytest

import admmnet
from admmnet.backprop import SGD, backward, forward, softmax_cross_entropy
from admmnet.baselines import ADMMTernary, FPMLP, MirrorDescent, TTQ, TWN
from admmnet.baselines.admm_ternary import ADMMTernaryObjective
from admmnet.baselines.mirror import MirrorObjective
from admmnet.baselines.ttq import TTQObjective
from admmnet.quant import mirror as M
from admmnet.quant.ternary import (binary_project_exact, ternary_project_exact, ttq_grads, ttq_quantize,
                                   twn_quantize, twn_threshold)
from _data import blobs


# -- TWN ----------------------------------------------------------------------------------
def test_twn_threshold_and_scale_by_definition():
    W = np.array([[0.1, -0.5], [0.9, -0.05]])
    delta = twn_threshold(W)
    assert float(delta) == pytest.approx(0.75 * (0.1 + 0.5 + 0.9 + 0.05) / 4)
    codes, alpha = twn_quantize(W)
    np.testing.assert_array_equal(codes, [[0, -1], [1, 0]])
    assert float(alpha) == pytest.approx((0.5 + 0.9) / 2)
    r = np.random.default_rng(0)
    for shape in ((3, 4), (6, 2, 5)):          # any shape, e.g. a conv kernel
        W = r.standard_normal(shape)
        codes, alpha = twn_quantize(W)
        d = 0.75 * np.mean(np.abs(W))
        mask = np.abs(W) > d
        np.testing.assert_array_equal(codes, np.sign(W) * mask)
        assert float(alpha) == pytest.approx(np.abs(W)[mask].mean())


# -- exact ternary projection -------------------------------------------------------------
def _brute_force_loss(w):
    best = float(np.sum(w * w))                     # T = 0
    for t in itertools.product((-1.0, 0.0, 1.0), repeat=w.size):
        t = np.array(t)
        qq, wq = np.sum(t * t), np.sum(w * t)
        if qq > 0 and wq > 0:
            best = min(best, float(np.sum(w * w) - wq * wq / qq))
    return best


@pytest.mark.parametrize("shape,seed", [((2, 3), 0), ((2, 4), 1), ((1, 8), 2), ((8,), 3), ((2, 2, 2), 4)])
def test_exact_ternary_projection_matches_brute_force(shape, seed):
    W = np.random.default_rng(seed).standard_normal(shape)
    codes, alpha = ternary_project_exact(W)
    assert codes.shape == W.shape and set(np.unique(codes)) <= {-1.0, 0.0, 1.0}
    loss = float(np.sum((W - alpha * codes) ** 2))
    assert loss == pytest.approx(_brute_force_loss(W.ravel()), rel=1e-12, abs=1e-12)
    # alpha is optimal for its codes
    assert float(alpha) == pytest.approx(np.sum(W * codes) / np.sum(codes * codes))


def test_exact_ternary_projection_with_ties_and_zeros():
    for w in (np.array([1.0, 1.0, 1.0, 0.4, -0.4, 0.4]), np.array([2.0, -1.0, 1.0, 1.0, 0.0, 0.0]),
              np.array([0.3, -0.3, 0.3, -0.3])):
        codes, alpha = ternary_project_exact(w)
        assert float(np.sum((w - alpha * codes) ** 2)) == pytest.approx(_brute_force_loss(w), abs=1e-12)
    codes, alpha = ternary_project_exact(np.zeros((2, 3)))
    assert float(alpha) == 0 and not codes.any()
    codes, alpha = binary_project_exact(np.array([0.5, -1.5, 0.0]))
    np.testing.assert_array_equal(codes, [1, -1, 1])
    assert float(alpha) == pytest.approx(2.0 / 3)


# -- TTQ ----------------------------------------------------------------------------------
def _tiny_problem(seed=0):
    r = np.random.default_rng(seed)
    Ws = [r.standard_normal((5, 4)), r.standard_normal((3, 5))]
    bs = [r.standard_normal((5, 1)) * 0.1, r.standard_normal((3, 1)) * 0.1]
    X = r.standard_normal((4, 16))
    Y = np.eye(3)[:, r.integers(0, 3, 16)]
    return Ws, bs, X, Y


def _loss(Wf, bs, X, Y):
    Z, _ = forward(Wf, bs, X, "relu")
    return float(softmax_cross_entropy(Z, Y)[0])


def test_ttq_scale_gradients_by_finite_differences_and_latent_by_the_formula():
    Ws, bs, X, Y = _tiny_problem()
    t = 0.05
    wp, wn = [0.7, 0.4], [0.5, 0.9]
    Wf = [ttq_quantize(W, wp[l], wn[l], t)[1] for l, W in enumerate(Ws)]
    Z, cache = forward(Wf, bs, X, "relu")
    _, dZ = softmax_cross_entropy(Z, Y)
    dWt, _ = backward(Wf, cache, dZ, "relu")
    h = 1e-6
    for l, W in enumerate(Ws):
        dW, dwp, dwn = ttq_grads(W, dWt[l], wp[l], wn[l], t)
        for which, g in (("p", dwp), ("n", dwn)):
            def L(eps):
                p, n = list(wp), list(wn)
                (p if which == "p" else n)[l] += eps
                return _loss([ttq_quantize(V, p[k], n[k], t)[1] for k, V in enumerate(Ws)], bs, X, Y)
            assert float(g) == pytest.approx((L(h) - L(-h)) / (2 * h), rel=1e-6, abs=1e-9)
        d = t * np.abs(W).max()
        expect = np.where(W > d, wp[l] * dWt[l], np.where(W < -d, wn[l] * dWt[l], dWt[l]))
        np.testing.assert_allclose(dW, expect, rtol=0, atol=0)
        codes, wt = ttq_quantize(W, wp[l], wn[l], t)
        np.testing.assert_array_equal(wt, np.where(codes > 0, wp[l], np.where(codes < 0, -wn[l], 0.0)))


def test_ttq_objective_steps_the_scales_with_adam():
    Ws, _, _, _ = _tiny_problem(1)
    obj = TTQObjective([np.asarray(0.5), np.asarray(0.5)], [np.asarray(0.6), np.asarray(0.6)], 0.05, 1e-2,
                       "constant", 3)
    obj.start_epoch(Ws, 0)
    g = [np.ones_like(W) for W in Ws]
    _, dwp, dwn = ttq_grads(Ws[0], g[0], 0.5, 0.6, 0.05)
    obj.weight_grads(Ws, g)
    # Adam's first step is lr * sign(gradient)
    assert float(obj.wp[0]) == pytest.approx(0.5 - 1e-2 * np.sign(float(dwp)), abs=1e-7)
    assert float(obj.wn[0]) == pytest.approx(0.6 - 1e-2 * np.sign(float(dwn)), abs=1e-7)
    assert float(obj.state_after(0)["wp"][0]) == 0.5       # snapshot before the epoch


# -- mirror descent -------------------------------------------------------------------------
def test_md_tanh_update_is_the_mirror_step_written_out():
    r = np.random.default_rng(0)
    x = np.tanh(r.standard_normal(50))
    s, beta = r.standard_normal(50) * 0.1, 2.5
    ratio = (1 + x) / (1 - x)
    by_hand = (ratio * np.exp(-2 * beta * s) - 1) / (ratio * np.exp(-2 * beta * s) + 1)   # Eq. 15
    np.testing.assert_allclose(M.md_tanh_update(x, s, beta), by_hand, rtol=1e-12)
    # = tanh(beta (P^{-1}(x) - s)): the stable form's update from the same point
    np.testing.assert_allclose(by_hand, np.tanh(beta * (np.arctanh(x) / beta - s)), rtol=1e-10, atol=1e-12)


def test_shifted_tanh_inverse_and_ternary_update():
    r = np.random.default_rng(1)
    wt = r.uniform(-1.2, 1.2, 200)
    for beta in (1.0, 3.0, 8.0):
        x = M.tanh_project(wt, beta, True)
        np.testing.assert_allclose(x, 0.5 * (np.tanh(beta * (wt + 0.5)) + np.tanh(beta * (wt - 0.5))))
        np.testing.assert_allclose(M.tanh_inverse(x, beta, True), wt, rtol=1e-7, atol=1e-7)
        s = r.standard_normal(200) * 0.05
        np.testing.assert_allclose(M.md_update(x, s, beta, True), M.tanh_project(wt - s, beta, True),
                                   rtol=1e-7, atol=1e-9)
    # beta -> infinity: the steps at +-0.5 (round to {-1, 0, 1})
    far = wt[np.abs(np.abs(wt) - 0.5) > 0.01]
    np.testing.assert_allclose(M.tanh_project(far, 1e4, True), M.tanh_codes(far, True))


def test_egd_is_the_softmax_mirror_step():
    r = np.random.default_rng(2)
    ut = r.standard_normal((4, 5, 3))
    beta = 1.7
    u = M.softmax_project(ut, beta)
    np.testing.assert_allclose(u.sum(-1), 1.0)
    s = r.standard_normal(u.shape) * 0.1
    by_hand = u * np.exp(-beta * s) / np.sum(u * np.exp(-beta * s), axis=-1, keepdims=True)   # Eq. 20
    np.testing.assert_allclose(M.egd_update(u, s, beta), by_hand, rtol=1e-12)
    np.testing.assert_allclose(M.softmax_project(M.softmax_inverse(u, beta) - s, beta), by_hand, rtol=1e-10)
    np.testing.assert_array_equal(M.softmax_codes(u, True), np.array([-1.0, 0.0, 1.0])[np.argmax(u, -1)])
    w = np.array([-0.9, -0.2, 0.3, 2.0])
    np.testing.assert_array_equal(M.softmax_codes(M.softmax_init(w, True), True), [-1, 0, 0, 1])


@pytest.mark.parametrize("space,ternary", [("tanh", False), ("tanh", True), ("softmax", False), ("softmax", True)])
def test_plain_and_stable_md_agree_where_finite(space, ternary):
    """With beta fixed and SGD steps, storing the primal point (plain MD) and storing the dual
    (stable form, Eq. 23) give the same primal iterates; the plain one is the closed form."""
    r = np.random.default_rng(3)
    W = r.standard_normal((4, 6)) * 0.5
    alpha = 0.5
    objs = [MirrorObjective([alpha], space=space, stable=st, ternary=ternary, beta0=2.0) for st in (False, True)]
    Ds = [[o.initial_dual(W, alpha)] for o in objs]
    opts = [SGD(momentum=0.0), SGD(momentum=0.0)]
    eta = 0.05
    X_prev = objs[0]._x(Ds[0][0])
    for k in range(5):
        dW = r.standard_normal(W.shape)
        for i, o in enumerate(objs):
            g = o.weight_grads(Ds[i], [dW])
            Ds[i] = o.after_step(opts[i].step(Ds[i], g, eta))
        xs = [o._x(D[0]) for o, D in zip(objs, Ds)]
        np.testing.assert_allclose(xs[0], xs[1], rtol=1e-9, atol=1e-12)
        if space == "tanh" and not ternary:      # Eq. 15 with g = alpha dR/dW
            np.testing.assert_allclose(xs[0], M.md_tanh_update(X_prev, eta * alpha * dW, 2.0), rtol=1e-9)
        X_prev = xs[0]


def test_md_beta_annealing_and_hard_evaluation():
    obj = MirrorObjective([1.0], space="tanh", stable=True, ternary=True, beta0=1.0, beta_scale=2.0,
                          beta_interval=3, beta_max=5.0)
    D = [np.array([[0.2, -0.8, 0.6]])]
    for _ in range(9):
        obj.after_step(D)
    assert obj.beta == 5.0                        # 1 -> 2 -> 4 -> capped at 5
    np.testing.assert_array_equal(obj.eval_weights(D)[0], [[0, -1, 1]])


# -- training, save/load, errors ----------------------------------------------------------------


FAST = dict(hidden_sizes=(16,), max_epochs=15, lr=1e-2, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def fp_model():
    X, y = blobs()
    m = FPMLP(**FAST)
    m.fit(X, y)
    return m


METHODS = [(TWN, dict(twn_epochs=4)), (TTQ, dict(ttq_epochs=4, ttq_lr=1e-2)), (ADMMTernary, dict(admm_epochs=4)),
           (ADMMTernary, dict(admm_epochs=4, levels="binary", bits=None))] + \
          [(MirrorDescent, dict(variant=v, md_epochs=4, beta_interval=5, md_lr=0.05)) for v in ("tanh", "softmax", "tanh-s",
                                                                                     "softmax-s")] + \
          [(MirrorDescent, dict(variant="tanh-s", md_epochs=4, md_lr=0.05, beta_interval=5, levels="binary", bits=None))]


@pytest.mark.parametrize("cls,kw", METHODS)
def test_trains_saves_and_loads_exactly(tmp_path, fp_model, cls, kw):
    X, y = blobs()
    Xt, yt = blobs(200, seed=0)
    m = cls(**{**FAST, **kw})
    m.fit(X, y, fp_model=fp_model)
    assert m.score(Xt, yt) >= 0.9
    ls = m.network_.level_set
    assert ls.levels == ((-1, 1) if kw.get("levels") == "binary" else (-1, 0, 1))
    n_scales = 0
    for layer, W in zip(m.network_.layers, m.weights()):
        assert layer.quantized and set(np.unique(layer.codes).tolist()) <= set(ls.levels)
        c = layer.codes.astype(np.float32)
        if layer.scale_neg is not None:
            expect = np.where(c < 0, np.float32(layer.scale_neg) * c, np.float32(layer.scale) * c)
            n_scales += 2
        else:
            expect = np.asarray(layer.scale, np.float32) * c
            n_scales += 1
        np.testing.assert_array_equal(W, expect)
    net = m.network_
    bias_bytes = sum(layer.bias.size for layer in net.layers) * 4
    code_bytes = sum(-(-layer.codes.size * ls.storage_bits // 8) for layer in net.layers)
    assert m.model_bytes == code_bytes + 4 * n_scales + bias_bytes
    path = m.save(tmp_path / "m.npz")
    back = admmnet.load(path)
    assert type(back) is cls and back.method == m.method
    np.testing.assert_array_equal(back.predict(Xt), m.predict(Xt))
    for a, b in zip(back.weights(), m.weights()):
        np.testing.assert_array_equal(a, b)
    assert back.model_bytes == m.model_bytes


def test_ttq_scales_are_asymmetric_and_stored(fp_model):
    X, y = blobs()
    m = TTQ(**{**FAST, "ttq_epochs": 4, "ttq_lr": 1e-2})
    m.fit(X, y, fp_model=fp_model)
    for layer, W in zip(m.network_.layers, m.weights()):
        assert layer.scale_neg is not None and float(layer.scale) != float(layer.scale_neg)
        assert np.all(W[layer.codes > 0] == np.float32(layer.scale))
        assert np.all(W[layer.codes < 0] == -np.float32(layer.scale_neg))


def test_admm_ternary_penalty_and_dual_update():
    r = np.random.default_rng(0)
    W = r.standard_normal((3, 4))
    obj = ADMMTernaryObjective([W], False, rho=0.5, rho_growth=2.0, interval=1)
    codes, alpha = ternary_project_exact(W)
    np.testing.assert_array_equal(obj.G[0], alpha * codes)
    val, [g] = obj.penalty([W])
    assert val == pytest.approx(0.25 * np.sum((W - alpha * codes) ** 2))
    np.testing.assert_allclose(g, 0.5 * (W - alpha * codes))
    W2 = W + 0.1
    obj.start_epoch([W2], 1)
    c2, a2 = ternary_project_exact(W2 + 0.0)
    np.testing.assert_allclose(obj.G[0], a2 * c2)
    np.testing.assert_allclose(obj.U[0], (W2 - a2 * c2) / 2.0)
    assert obj.rho == 1.0


def test_admm_ternary_rho_scaling_weights():
    """``rho_scaling="weights"``: layer l's penalty is rho c_l / 2 ||W_l - G_l + U_l||^2 with
    c_l = mean(W^2) / mean(W_l^2) of the starting weights, so a layer scaled by s gets a factor
    1/s^2 relative to the others and its penalty, relative to its own squared scale, matches;
    the dual step is unchanged (scaled dual); a bad name is a clear error."""
    from admmnet.baselines.admm_ternary import weight_scale_factors

    r = np.random.default_rng(2)
    W1, W2 = r.standard_normal((3, 4)), 0.1 * r.standard_normal((5, 6))
    c = weight_scale_factors([W1, W2])
    ms = (np.sum(W1 ** 2) + np.sum(W2 ** 2)) / (W1.size + W2.size)
    assert c == pytest.approx([ms / np.mean(W1 ** 2), ms / np.mean(W2 ** 2)])
    obj = ADMMTernaryObjective([W1, W2], False, rho=0.5, rho_growth=2.0, interval=1, rho_scaling="weights")
    plain = ADMMTernaryObjective([W1, W2], False, rho=0.5, rho_growth=2.0, interval=1)
    X1, X2 = W1 + 0.3, W2 - 0.02
    val, grads = obj.penalty([X1, X2])
    D = [X - G for X, G in zip((X1, X2), obj.G)]
    assert val == pytest.approx(sum(0.25 * cl * np.sum(d * d) for cl, d in zip(c, D)))
    for g, cl, d in zip(grads, c, D):
        np.testing.assert_allclose(g, 0.5 * cl * d)
    # scale-free: the same weights with layer 2 scaled up 10x give that layer the same
    # penalty relative to its squared scale
    c10 = weight_scale_factors([W1, 10 * W2])
    assert c10[1] * 100 / c10[0] == pytest.approx(c[1] / c[0])
    for o in (obj, plain):
        o.start_epoch([X1, X2], 1)
    for u, v in zip(obj.U, plain.U):
        np.testing.assert_allclose(u, v)
    assert weight_scale_factors([np.zeros((2, 2)), W1])[0] == 1.0
    X, y = blobs()
    with pytest.raises(ValueError, match="rho_scaling"):
        ADMMTernary(**{**FAST, "rho_scaling": "layer"}).fit(X, y)
    with pytest.raises(ValueError, match="rho_scaling"):    # the objective alone, too
        ADMMTernaryObjective([W1], False, rho=0.5, rho_growth=2.0, interval=1, rho_scaling="layer")


def test_admm_ternary_g_steps_every_k_optimizer_steps(fp_model):
    """``admm_steps=k``: the G/dual/rho step comes after every k optimizer steps, not at epoch
    starts; with 400 rows (10% held out: 360), batch 32 -> 12 steps per epoch, 3 epochs -> 36
    steps, k = 5 -> 7 G-steps and rho = rho0 * growth**7; the objective's own step after
    each k steps is the defining update (checked on one step)."""
    X, y = blobs()
    m = ADMMTernary(**{**FAST, "admm_epochs": 3, "batch_size": 32, "admm_steps": 5, "rho": 0.01,
                       "rho_growth": 1.5}).fit(X, y, fp_model=fp_model)
    assert m.score(X, y) > 0.8
    admm = [r for r in m.history_ if r.get("stage") == "admm"]
    assert [r["g_steps"] for r in admm] == [2, 4, 7]
    assert admm[-1]["rho"] == pytest.approx(0.01 * 1.5 ** 7)
    r = np.random.default_rng(1)
    W = r.standard_normal((3, 4))
    obj = ADMMTernaryObjective([W], False, rho=0.5, rho_growth=2.0, interval=1, steps=2)
    obj.start_epoch([W + 1.0], 1)            # epoch starts do nothing with steps set
    assert obj.n_g_steps == 0 and obj.rho == 0.5
    obj.after_step([W])
    assert obj.n_g_steps == 0
    W2 = W - 0.2
    obj.after_step([W2])
    c2, a2 = ternary_project_exact(W2)
    np.testing.assert_allclose(obj.G[0], a2 * c2)
    np.testing.assert_allclose(obj.U[0], (W2 - a2 * c2) / 2.0)
    assert obj.n_g_steps == 1 and obj.rho == 1.0
    with pytest.raises(ValueError, match="admm_steps"):
        ADMMTernary(**{**FAST, "admm_steps": 0}).fit(X, y)


def test_fixed_codes_projection_is_the_least_squares_scale():
    """FixedCodes' step back onto {alpha Q}: alpha = <W, Q> / <Q, Q> minimises ||W - alpha Q||
    (checked against a dense grid of alphas); all-zero codes give alpha = 0."""
    from admmnet.baselines.admm_ternary import FixedCodes

    r = np.random.default_rng(3)
    Q = r.integers(-1, 2, size=(4, 6)).astype(np.float64)
    W = r.standard_normal((4, 6))
    obj = FixedCodes([Q, np.zeros((2, 3))])
    (P, Z) = obj.after_step([W, r.standard_normal((2, 3))])
    alpha = float(np.sum(W * Q) / np.sum(Q * Q))
    np.testing.assert_allclose(P, alpha * Q)
    grid = np.linspace(alpha - 1, alpha + 1, 20001)
    best = grid[np.argmin([np.sum((W - a * Q) ** 2) for a in grid])]
    assert abs(best - alpha) < 1e-3
    assert not np.any(Z)


def test_admm_ternary_finetune_keeps_the_codes_and_never_lowers_the_held_out_score(fp_model):
    """``finetune_epochs``: the final G's codes are kept, only scales and biases move; the
    fine-tuned network is kept only when its held-out score is at least G's."""
    X, y = blobs()
    kw = {**FAST, "admm_epochs": 2}
    base = ADMMTernary(**kw).fit(X, y, fp_model=fp_model)
    ft = ADMMTernary(**kw, finetune_epochs=2).fit(X, y, fp_model=fp_model)
    for a, b in zip(base.network_.layers, ft.network_.layers):
        np.testing.assert_array_equal(np.asarray(a.codes), np.asarray(b.codes))
    stages = [r.get("stage") for r in ft.history_]
    assert stages.count("admm-finetune") == 2
    for W, layer in zip(ft.weights(), ft.network_.layers):      # still exactly scale x code
        np.testing.assert_array_equal(W, np.asarray(layer.dequantized(W.dtype)))
    with pytest.raises(ValueError, match="finetune_epochs"):
        ADMMTernary(**{**FAST, "finetune_epochs": -1}).fit(X, y)


@pytest.mark.parametrize("cls,kw,says", [
    (TWN, dict(bits=4), "twn supports ternary"), (TTQ, dict(levels="binary", bits=None), "ttq supports ternary"),
    (ADMMTernary, dict(bits=2), "binary"), (MirrorDescent, dict(bits=3, variant="softmax"), "md-softmax supports"),
    (MirrorDescent, dict(variant="sigmoid"), "variant"), (TWN, dict(levels="signed", bits=3), "ternary")])
def test_unsupported_level_sets_are_clear_errors(cls, kw, says):
    X, y = blobs(60)
    with pytest.raises(ValueError, match=says):
        cls(**{**FAST, **kw}).fit(X, y)


def test_ternary_spellings_agree(fp_model):
    X, y = blobs()
    a = TWN(**{**FAST, "twn_epochs": 2}).fit(X, y, fp_model=fp_model)
    m1 = TWN(**{**FAST, "twn_epochs": 2})
    m1.fit(X, y, fp_model=fp_model)
    m2 = TWN(**{**FAST, "twn_epochs": 2, "bits": None, "levels": "ternary"})
    m2.fit(X, y, fp_model=fp_model)
    assert a is not None and m1.network_.level_set.n_levels == m2.network_.level_set.n_levels == 3
    for w1, w2 in zip(m1.weights(), m2.weights()):
        np.testing.assert_array_equal(w1, w2)


@pytest.mark.usefixtures("real_data")
def test_cli_trains_a_ternary_method(tmp_path, capsys):
    from admmnet.cli import main

    out, model = tmp_path / "r.json", tmp_path / "m.npz"
    assert main(["train", "--dataset", "seeds", "--method", "twn", "--bits", "1", "--json", str(out),
                 "--save", str(model), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["method"] == "twn" and rec["bits"] == 1 and rec["storage_bits_per_weight"] == 2
    assert rec["test_accuracy"] >= 0.8
    assert main(["evaluate", str(model), "--dataset", "seeds"]) == 0
    assert f"test accuracy {rec['test_accuracy']:.4f}" in capsys.readouterr().out
    assert main(["train", "--dataset", "seeds", "--method", "md-tanh-s", "--levels", "binary", "--epochs", "20",
                 "--quiet"]) == 0
    assert main(["train", "--dataset", "seeds", "--method", "ttq", "--bits", "4", "--quiet"]) == 2
    assert "ttq supports ternary" in capsys.readouterr().err
