"""The sweeps of Algorithm 2: backend-agnostic, deterministic, and each primal update lowers eq. 3.6."""
import numpy as np
import pytest

from admmnet.admm import solver as S
from admmnet.admm.activations import get_activation
from admmnet.kernels import get_kernels
from admmnet.quant import make_level_set


def _data(xp_asarray=np.asarray, m=60, n=6, k=3, seed=0, dtype="float64"):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, m))
    y = (X[0] + X[1] > 0).astype(int) + (X[2] > 1)
    Y = np.eye(k)[y].T
    return xp_asarray(X.astype(dtype)), xp_asarray(Y.astype(dtype)), y


def _run(X, Y, level_set, iters=3, a_solver="exact", w_solver="exact", bias=True, seed=0):
    act = get_activation("relu")
    params = S.ADMMParams(beta=1.0, gamma=1.0, mu=1.0, a_solver=a_solver, w_solver=w_solver,
                          penalty_growth=1.1, mu_growth=1.1)
    st = S.init_state(X, [X.shape[0], 5, 4, Y.shape[0]], act, level_set, params,
                      np.random.default_rng(seed), bias=bias)
    kern = get_kernels(X)
    for _ in range(iters):
        S.admm_iteration(st, Y, act, level_set, params, kern)
    return st


@pytest.mark.parametrize("bits", [None, 2])
@pytest.mark.parametrize("solver", ["exact", "backtracking"])
def test_solver_runs_under_array_api_strict(bits, solver):
    """Nothing NumPy-only leaks into the solver: array_api_strict runs it and agrees with NumPy."""
    xps = pytest.importorskip("array_api_strict")
    ls = None if bits is None else make_level_set("thesis", bits)
    Xn, Yn, _ = _data()
    Xs, Ys, _ = _data(xps.asarray)
    st_np = _run(Xn, Yn, ls, a_solver=solver, w_solver=solver)
    st_s = _run(Xs, Ys, ls, a_solver=solver, w_solver=solver)
    assert type(st_s.W[0]).__module__.startswith("array_api_strict")
    for Wn, Ws in zip(st_np.weights(), st_s.weights()):
        np.testing.assert_allclose(np.asarray(Ws), Wn, rtol=1e-6, atol=1e-8)


def test_same_seed_same_result_other_seed_differs():
    X, Y, _ = _data(dtype="float32")
    ls = make_level_set("thesis", 4)
    a = _run(X, Y, ls, seed=7)
    b = _run(X, Y, ls, seed=7)
    c = _run(X, Y, ls, seed=8)
    for Wa, Wb in zip(a.weights(), b.weights()):
        np.testing.assert_array_equal(Wa, Wb)
    assert any(not np.array_equal(Wa, Wc) for Wa, Wc in zip(a.weights(), c.weights()))


@pytest.mark.parametrize("bias", [False, True])
def test_every_primal_update_lowers_the_augmented_lagrangian(bias):
    """Full precision, exact solves: every update of Algorithm 2's sweeps (lambda fixed) is an exact
    (or, for z_L, converged) minimisation of eq. 3.6 in one block, so the objective never rises."""
    X, Y, _ = _data(m=80, seed=3)
    act = get_activation("relu")
    params = S.ADMMParams(beta=1.0, gamma=1.0, fista_tol=1e-12, fista_max_iter=2000)
    st = S.init_state(X, [6, 5, 4, 3], act, None, params, np.random.default_rng(0), bias=bias)
    kern = get_kernels(X)
    stats = S.IterationStats()
    st.lam = np.random.default_rng(1).standard_normal(st.lam.shape) * 0.3
    values = [S.evaluate_objective(st, Y, act, kern)["objective"]]

    def check():
        values.append(S.evaluate_objective(st, Y, act, kern)["objective"])
        assert values[-1] <= values[-2] + 1e-8 * max(1.0, abs(values[-2]))

    L = st.n_layers
    for sweep in range(2):
        for l in range(L - 1, -1, -1):  # backward
            if l < L - 1:
                S._update_a(st, l + 1, act, params, kern, stats); check()
            S._update_z(st, l, Y, act, params, kern, stats); check()
            S._update_W(st, l, params, kern, stats); check()
        for l in range(L):  # forward
            S._update_W(st, l, params, kern, stats); check()
            S._update_z(st, l, Y, act, params, kern, stats); check()
            if l < L - 1:
                S._update_a(st, l + 1, act, params, kern, stats); check()
    assert values[-1] < values[0]


def test_G_is_projection_of_W_and_in_level_set():
    X, Y, _ = _data()
    ls = make_level_set("thesis", 2)
    st = _run(X, Y, ls)
    for W, G, alpha, Q in zip(st.W, st.G, st.alpha, st.Q):
        np.testing.assert_array_equal(G, alpha * Q)
        assert set(np.unique(Q)).issubset(set(ls.levels))


def test_penalty_continuation_and_cap():
    X, Y, _ = _data()
    act = get_activation("relu")
    params = S.ADMMParams(beta=1.0, gamma=2.0, mu=0.5, penalty_growth=2.0, mu_growth=3.0, max_penalty=5.0)
    ls = make_level_set("ternary")
    st = S.init_state(X, [6, 4, 3], act, ls, params, np.random.default_rng(0), bias=True)
    kern = get_kernels(X)
    seen = []
    for _ in range(4):
        S.admm_iteration(st, Y, act, ls, params, kern)
        seen.append((st.beta, st.gamma, st.mu))
    assert seen == [(2.0, 4.0, 1.5), (4.0, 5.0, 4.5), (5.0, 5.0, 5.0), (5.0, 5.0, 5.0)]


def test_params_validation_messages():
    with pytest.raises(ValueError, match="beta"):
        S.ADMMParams(beta=0.0)
    with pytest.raises(ValueError, match="w_solver"):
        S.ADMMParams(w_solver="newton")
    with pytest.raises(ValueError, match="kappa"):
        S.ADMMParams(kappa=1.0)
    with pytest.raises(ValueError, match="granularity"):
        S.ADMMParams(granularity="column")
    with pytest.raises(ValueError, match="fista_max_iter"):
        S.ADMMParams(fista_max_iter=0)


@pytest.mark.parametrize("bits", [None, 2])
def test_extrapolate_is_the_inertial_step(bits):
    """W <- W_k + omega (W_k - W_{k-1}) from the two last un-extrapolated iterates; G re-projected."""
    X, Y, _ = _data()
    ls = None if bits is None else make_level_set("thesis", bits)
    act = get_activation("relu")
    params = S.ADMMParams(beta=1.0, gamma=1.0, mu=1.0, momentum=0.5)
    st = S.init_state(X, [6, 5, 4, 3], act, ls, params, np.random.default_rng(0), bias=True)
    W0 = [w.copy() for w in st.W]
    S.extrapolate(st, 0.5, ls, params)  # first call: nothing to extrapolate from, remembers W0
    for a, b in zip(st.W, W0):
        np.testing.assert_array_equal(a, b)
    W1 = [w + 0.1 * (i + 1) for i, w in enumerate(W0)]
    b1 = [b + 0.2 for b in st.b]
    b0 = [b.copy() for b in st.b]
    st.W, st.b = list(W1), list(b1)
    S.extrapolate(st, 0.5, ls, params)
    for l in range(3):
        np.testing.assert_allclose(st.W[l], W1[l] + 0.5 * (W1[l] - W0[l]))
        np.testing.assert_allclose(st.b[l], b1[l] + 0.5 * (b1[l] - b0[l]))
        np.testing.assert_array_equal(st.W_prev[l], W1[l])
        if ls is not None:
            from admmnet.quant import project
            ref = project(st.W[l], ls, max_iter=params.proj_max_iter, patience=params.proj_patience,
                          alpha0=None)
            assert set(np.unique(st.Q[l])) <= set(ls.levels)
            np.testing.assert_array_equal(st.G[l], st.alpha[l] * st.Q[l])
            # the re-projection is at least as close to the extrapolated W as a fresh projection
            assert np.linalg.norm(st.W[l] - st.G[l]) <= np.linalg.norm(st.W[l] - ref.G) * (1 + 1e-6)


def test_momentum_validation_and_determinism():
    with pytest.raises(ValueError, match="momentum"):
        S.ADMMParams(momentum=1.0)
    X, Y, _ = _data(dtype="float32")
    act = get_activation("relu")
    params = S.ADMMParams(beta=1.0, gamma=1.0, momentum=0.8, forward_reset=1)
    runs = []
    for _ in range(2):
        st = S.init_state(X, [6, 5, 4, 3], act, None, params, np.random.default_rng(3), bias=True)
        for _ in range(4):
            S.admm_iteration(st, Y, act, None, params, get_kernels(X))
        runs.append(st.W)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
