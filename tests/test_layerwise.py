"""The levers of gradient-free quantized training: the layerwise ADMM quantizer, the
preconditioned output refit, the FP phase and its warm start, and the momentum restart."""
import itertools

import numpy as np
import pytest

import admmnet
from admmnet.admm import layerwise as LW
from admmnet.admm import solver as S
from admmnet.admm import updates as U
from admmnet.admm.activations import get_activation
from admmnet.kernels import get_kernels, reference
from admmnet.quant import make_level_set

KERN = get_kernels(np.zeros(1))
RELU = get_activation("relu")


def _layer_problem(n_out=3, n_in=4, m=60, seed=0, noise=0.1):
    r = np.random.default_rng(seed)
    a = np.abs(r.standard_normal((n_in, m)))
    W = r.standard_normal((n_out, n_in))
    b = r.standard_normal((n_out, 1))
    T = W @ a + b + noise * r.standard_normal((n_out, m))
    return a, T, W


# ------------------------------------------------------------ scale and bias refit
@pytest.mark.parametrize("granularity", ["layer", "row"])
@pytest.mark.parametrize("bias", [True, False])
def test_refit_scale_bias_is_the_least_squares_minimiser(granularity, bias):
    a, T, W = _layer_problem()
    Q = np.sign(W) * np.ceil(np.abs(W))
    alpha, b = LW.refit_scale_bias(Q, a, T, granularity=granularity, bias=bias)
    P = Q @ a
    n_out, m = T.shape
    # brute force: lstsq over the unknowns (alpha per layer or per row, b per row)
    if granularity == "layer":
        cols = [P.reshape(-1)] + ([np.kron(np.eye(n_out), np.ones(m))[r] for r in range(n_out)] if bias else [])
        sol = np.linalg.lstsq(np.stack(cols, 1), T.reshape(-1), rcond=None)[0]
        np.testing.assert_allclose(float(alpha), sol[0], rtol=1e-8)
        if bias:
            np.testing.assert_allclose(b.ravel(), sol[1:], rtol=1e-8, atol=1e-10)
    else:
        for r in range(n_out):
            A = np.stack([P[r]] + ([np.ones(m)] if bias else []), 1)
            sol = np.linalg.lstsq(A, T[r], rcond=None)[0]
            np.testing.assert_allclose(alpha[r, 0], sol[0], rtol=1e-8)
            if bias:
                np.testing.assert_allclose(b[r, 0], sol[1], rtol=1e-8)


def test_refit_scale_bias_keeps_a_positive_scale():
    a, T, W = _layer_problem()
    Q = -np.sign(W)                    # codes anti-correlated with the targets: the LS scale is < 0
    P = Q @ a
    assert np.sum((P - P.mean(1, keepdims=True)) * (T - T.mean(1, keepdims=True))) < 0
    alpha, _ = LW.refit_scale_bias(Q, a, T, alpha_prev=0.5)
    assert float(alpha) == 0.5


# ------------------------------------------------------------ one layer
@pytest.mark.parametrize("bits", [1, 2])
def test_quantize_layer_continuation_reaches_V_equal_G(bits):
    a, T, W = _layer_problem(5, 6, 80, seed=1)
    ls = make_level_set("thesis", bits)
    fit = LW.quantize_layer(a, T, ls, W0=W, n_iter=40, rho=1e-2, rho_growth=1.3, kern=KERN)
    # rho grows 1.3^40 ~ 3.6e4 times: V is driven onto G
    assert fit.residuals[-1] < 1e-3
    assert fit.residuals[-1] < fit.residuals[0]
    # G is exactly alpha * Q with Q integer codes of the level set
    assert np.all(np.abs(fit.Q) <= ls.qmax) and np.all(fit.Q == np.round(fit.Q))
    np.testing.assert_allclose(fit.G, fit.alpha * fit.Q, rtol=1e-12)
    # the final scale/bias refit never raises the layer objective
    assert fit.objective <= fit.objective_before_refit + 1e-12
    np.testing.assert_allclose(fit.objective, LW.layer_objective(fit.G, fit.b, a, T), rtol=1e-10)


def test_quantize_layer_is_near_the_brute_force_optimum_on_a_tiny_layer():
    # 2 x 3 ternary layer: 3^6 code matrices, each with its exact best scale and bias
    a, T, W = _layer_problem(2, 3, 40, seed=2, noise=0.3)
    ls = make_level_set("ternary", None)
    best = np.inf
    for codes in itertools.product((-1.0, 0.0, 1.0), repeat=6):
        Q = np.array(codes).reshape(2, 3)
        if not Q.any():
            continue
        al, b = LW.refit_scale_bias(Q, a, T, alpha_prev=1.0)
        best = min(best, LW.layer_objective(float(al) * Q, b, a, T))
    fit = LW.quantize_layer(a, T, ls, W0=W, n_iter=40, kern=KERN)
    assert fit.objective <= 1.05 * best + 1e-9
    # and never worse than rounding W0 with the same refit (post-training quantization)
    from admmnet.quant import project
    p = project(W, ls)
    al, b = LW.refit_scale_bias(p.Q, a, T, alpha_prev=p.alpha)
    assert fit.objective <= LW.layer_objective(float(al) * p.Q, b, a, T) + 1e-9


def test_quantize_network_targets_are_the_fp_network():
    r = np.random.default_rng(3)
    X = r.standard_normal((5, 200))
    Ws = [r.standard_normal((6, 5)), r.standard_normal((3, 6))]
    bs = [r.standard_normal((6, 1)), r.standard_normal((3, 1))]
    ls = make_level_set("thesis", 8)        # 511 levels: the quantized net reproduces the FP one
    fits = LW.quantize_network(X, Ws, bs, RELU, ls, kern=KERN)
    z_fp = S.forward(Ws, bs, X, RELU)
    z_q = S.forward([f.G for f in fits], [f.b for f in fits], X, RELU)
    assert np.abs(z_q - z_fp).max() < 2e-2 * np.abs(z_fp).max()


# ------------------------------------------------------------ output refit
@pytest.mark.parametrize("quantized", [False, True])
def test_refit_output_layer_reaches_a_stationary_point(quantized):
    r = np.random.default_rng(4)
    a = np.abs(r.standard_normal((6, 300)))
    y = r.integers(0, 4, 300)
    Y = np.eye(4)[y].T
    W0 = 0.1 * r.standard_normal((4, 6))
    b0 = np.zeros((4, 1))
    G = 0.3 * np.sign(r.standard_normal((4, 6))) if quantized else None
    mu, ridge = (5.0, 0.1) if quantized else (0.0, 0.1)
    W, b, info = U.refit_output_layer(a, Y, W0, b0, G=G, mu=mu, ridge=ridge, max_iter=2000, tol=1e-10,
                                      xent=reference.softmax_xent)
    _, g = reference.softmax_xent(W @ a + b, Y)
    gW = g @ a.T + ridge * W + (mu * (W - G) if quantized else 0)
    gb = g.sum(axis=1)
    assert info.stop == "converged"
    assert np.abs(gW).max() < 1e-5 and np.abs(gb).max() < 1e-5


def test_refit_output_layer_bias_only_keeps_W():
    r = np.random.default_rng(5)
    a = np.abs(r.standard_normal((3, 100)))
    Y = np.eye(3)[r.integers(0, 3, 100)].T
    W0 = r.standard_normal((3, 3))
    W, b, _ = U.refit_output_layer(a, Y, W0, np.zeros((3, 1)), update_W=False, max_iter=3000, tol=1e-12,
                                   xent=reference.softmax_xent)
    np.testing.assert_array_equal(W, W0)
    _, g = reference.softmax_xent(W0 @ a + b, Y)
    assert np.abs(g.sum(axis=1)).max() < 1e-5


# ------------------------------------------------------------ estimator levers
def _blobs(n=240, seed=0):
    r = np.random.default_rng(seed)
    centers = r.standard_normal((3, 6)) * 2.5
    y = np.arange(n) % 3
    X = centers[y] + r.standard_normal((n, 6))
    return X.astype(np.float32), y


def test_fp_phase_then_layerwise_gives_a_quantized_network():
    X, y = _blobs()
    m = admmnet.QNNADMM(hidden_sizes=(8,), bits=2, fp_iter=15, max_iter=15, layerwise=True,
                        beta=0.01, gamma=0.01, refit_output=True, seed=0, device="cpu")
    h = m.fit(X, y).history_
    assert all(rec["phase"] == "fp" for rec in h)
    codes = [layer.codes for layer in m.network_.layers]
    assert all(c is not None and np.abs(c).max() <= 3 for c in codes)
    assert m.score(X, y) > 0.9


def test_fp_model_warm_start_equals_the_uninterrupted_fit():
    X, y = _blobs(seed=1)
    # penalty_growth given: the automatic FP preset grows the penalties, a quantized run's FP phase not
    common = dict(hidden_sizes=(8,), beta=0.01, gamma=0.01, refit_output=True, momentum=0.5, seed=3,
                  device="cpu", max_iter=12, penalty_growth=1.0)
    fp = admmnet.QNNADMM(**common)
    fp.fit(X, y)
    one = admmnet.QNNADMM(**common, bits=1, fp_iter=12, layerwise=True, n_init=1)
    one.fit(X, y)
    warm = admmnet.QNNADMM(**common, bits=1, fp_iter=12, layerwise=True, n_init=1)
    warm.fit(X, y, fp_model=fp)
    for w1, w2 in zip(one.weights(), warm.weights()):
        np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(one.predict(X), warm.predict(X))
    with pytest.raises(ValueError, match="fp_iter"):
        admmnet.QNNADMM(**common, bits=1, fp_iter=11, n_init=1).fit(X, y, fp_model=fp)


def test_momentum_restart_never_accepts_an_extrapolated_step_that_raises_the_loss():
    X, y = _blobs(seed=2)
    m = admmnet.QNNADMM(hidden_sizes=(8,), bits=1, momentum=0.95, momentum_restart=True, max_iter=40,
                        beta=0.01, gamma=0.01, mu=0.01, mu_growth=1.2, seed=0, device="cpu")
    h = m.fit(X, y).history_
    prev = None
    n_ext = 0
    for rec in h:
        if rec["extrapolated"] and prev is not None:
            n_ext += 1
            assert rec["train_loss"] <= prev + 1e-12
        prev = rec["train_loss"]
    assert n_ext > 0
    assert any(rec["restart"] for rec in h)       # the guard did act on this run
    # after a restart the next step is a plain one
    for r1, r2 in zip(h, h[1:]):
        if r1["restart"]:
            assert not r2["extrapolated"]


def test_network_loss_is_the_forward_cross_entropy():
    r = np.random.default_rng(6)
    X = r.standard_normal((4, 50))
    Ws = [r.standard_normal((5, 4)), r.standard_normal((3, 5))]
    bs = [r.standard_normal((5, 1)), r.standard_normal((3, 1))]
    y = r.integers(0, 3, 50)
    Y = np.eye(3)[y].T
    loss, correct = S.network_loss(Ws, bs, X, Y, RELU, KERN)
    z = Ws[1] @ np.maximum(Ws[0] @ X + bs[0], 0) + bs[1]
    ref = np.sum(np.log(np.sum(np.exp(z), axis=0)) - z[y, np.arange(50)])
    np.testing.assert_allclose(loss, ref, rtol=1e-10)
    assert correct == int(np.sum(np.argmax(z, 0) == y))


@pytest.mark.parametrize("kw,msg", [({"fp_iter": -1}, "fp_iter"), ({"layerwise": "yes"}, "layerwise"),
                                    ({"layerwise": True, "layerwise_rho": 0.0}, "layerwise_rho"),
                                    ({"layerwise": True, "layerwise_rho_growth": 0.5}, "layerwise_rho_growth"),
                                    ({"momentum_restart": 1}, "momentum_restart")])
def test_bad_lever_settings_are_named(kw, msg):
    X, y = _blobs(60)
    with pytest.raises(ValueError, match=msg):
        admmnet.QNNADMM(hidden_sizes=(4,), bits=2, **kw).fit(X, y)


@pytest.mark.parametrize("bits", [1, 2])
def test_switch_never_keeps_a_network_worse_than_rounding(bits):
    X, y = _blobs(seed=4)
    A0 = np.ascontiguousarray(X.T.astype(np.float64))
    Y = np.eye(3)[y].T
    params = S.ADMMParams(beta=0.01, gamma=0.01, momentum=0.5, forward_reset=1)
    state = S.init_state(A0, (6, 8, 3), RELU, None, params, np.random.default_rng(0), bias=True)
    for _ in range(10):
        S.admm_iteration(state, Y, RELU, None, params, KERN)
    ls = make_level_set("thesis", bits)
    from admmnet.quant import project
    rounded = [project(W, ls).G for W in state.W]
    loss_round, _ = S.network_loss(rounded, state.b, A0, Y, RELU, KERN)
    kept = S.start_quantized(state, RELU, ls, params, KERN, layerwise=dict(n_iter=30), Y=Y)
    assert kept in ("layerwise", "projection")
    loss, _ = S.network_loss(state.G, state.b, A0, Y, RELU, KERN)
    assert loss <= loss_round + 1e-9
    assert state.W == state.G or kept == "projection"
    assert state.mu == params.mu and state.W_prev is None


@pytest.mark.parametrize("bias", [True, False])
def test_refine_codes_descends_to_a_coordinatewise_minimum(bias):
    a, T, W = _layer_problem(3, 5, 50, seed=7, noise=0.5)
    ls = make_level_set("thesis", 1)                     # codes -1, 0, 1
    from admmnet.quant import project
    p = project(W, ls)
    alpha = float(p.alpha)

    def obj(Q):   # the layer objective with the bias eliminated (its exact minimiser)
        G = alpha * Q
        b = np.mean(T - G @ a, axis=1, keepdims=True) if bias else None
        return LW.layer_objective(G, b, a, T)

    Q = LW.refine_codes(p.Q, alpha, a, T, ls, bias=bias, sweeps=50)
    assert obj(Q) <= obj(p.Q) + 1e-12
    assert set(np.unique(Q)) <= {-1.0, 0.0, 1.0}
    # no single code change lowers the objective any further
    base = obj(Q)
    for i, j in itertools.product(range(Q.shape[0]), range(Q.shape[1])):
        for c in (-1.0, 0.0, 1.0):
            R = Q.copy()
            R[i, j] = c
            assert obj(R) >= base - 1e-9


def test_levers_run_under_array_api_strict_and_match_numpy():
    """One code path: the layerwise quantizer, the preconditioned refit and the monitored
    loss use array-API functions only (array_api_strict with the reference kernels)."""
    xps = pytest.importorskip("array_api_strict")
    r = np.random.default_rng(8)
    X = r.standard_normal((5, 120))
    Ws = [r.standard_normal((6, 5)), r.standard_normal((3, 6))]
    bs = [r.standard_normal((6, 1)), r.standard_normal((3, 1))]
    Y = np.eye(3)[r.integers(0, 3, 120)].T
    ls = make_level_set("thesis", 2)
    ref = get_kernels(xps.asarray(X))
    fits_np = LW.quantize_network(X, Ws, bs, RELU, ls, kern=KERN)
    fits_xs = LW.quantize_network(xps.asarray(X), [xps.asarray(w) for w in Ws], [xps.asarray(b) for b in bs],
                                  RELU, ls, kern=ref)
    for f1, f2 in zip(fits_np, fits_xs):
        np.testing.assert_allclose(np.asarray(f2.G), f1.G, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(np.asarray(f2.b), f1.b, rtol=1e-8, atol=1e-10)
    a = np.maximum(Ws[0] @ X + bs[0], 0)
    W1, b1, _ = U.refit_output_layer(a, Y, Ws[1], bs[1], ridge=0.1, xent=reference.softmax_xent)
    W2, b2, _ = U.refit_output_layer(xps.asarray(a), xps.asarray(Y), xps.asarray(Ws[1]), xps.asarray(bs[1]),
                                     ridge=0.1, xent=ref.softmax_xent, factor=ref.spd_factor)
    np.testing.assert_allclose(np.asarray(W2), W1, rtol=1e-6, atol=1e-8)
    loss_np, c_np = S.network_loss(Ws, bs, X, Y, RELU, KERN)
    loss_xs, c_xs = S.network_loss([xps.asarray(w) for w in Ws], [xps.asarray(b) for b in bs], xps.asarray(X),
                                   xps.asarray(Y), RELU, ref)
    assert loss_xs == pytest.approx(loss_np, rel=1e-10) and c_xs == c_np


def test_a_saved_fp_model_serves_as_fp_phase(tmp_path):
    X, y = _blobs(seed=5)
    common = dict(hidden_sizes=(8,), beta=0.01, gamma=0.01, refit_output=True, momentum=0.5, seed=1,
                  device="cpu", max_iter=10)
    fp = admmnet.QNNADMM(**common)
    fp.fit(X, y)
    back = admmnet.load(fp.save(tmp_path / "fp.npz"))
    assert back.n_iter_ == 10 and back.params_["refit_output"] is True
    a = admmnet.QNNADMM(**common, bits=2, fp_iter=10, layerwise=True, n_init=1)
    a.fit(X, y, fp_model=fp)
    b = admmnet.QNNADMM(**common, bits=2, fp_iter=10, layerwise=True, n_init=1)
    b.fit(X, y, fp_model=back)
    for w1, w2 in zip(a.weights(), b.weights()):
        np.testing.assert_array_equal(w1, w2)
