"""Each ADMM subproblem update against its defining equation or a brute-force minimiser."""
import numpy as np
import pytest
from scipy.optimize import minimize

from admmnet.admm import updates as U
from admmnet.admm.activations import ACTIVATIONS, get_activation
from admmnet.kernels import get_kernels, reference

RNG = np.random.default_rng(1234)
KERN = get_kernels(np.zeros(1))


def _problem(n_out=4, n_in=5, m=30, seed=0):
    r = np.random.default_rng(seed)
    return (r.standard_normal((n_out, m)), r.standard_normal((n_in, m)),
            r.standard_normal((n_out, n_in)), r.standard_normal((n_out, n_in)))


# ---------------------------------------------------------------- W-update
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("mu,ridge", [(0.7, 0.0), (0.0, 0.3), (0.5, 1e-3)])
def test_W_exact_solves_normal_equations(bias, mu, ridge):
    t, a, G, _ = _problem()
    beta = 1.3
    W, b = U.update_W_exact(t, a, beta, G=G, mu=mu, ridge=ridge, bias=bias, solve=KERN.spd_solve)
    # gradient of J_w vanishes (eq. 4.3), and for the bias: mean residual is zero
    r = t - W @ a - (b if bias else 0)
    grad = -beta * r @ a.T + mu * (W - G) + ridge * W
    assert np.abs(grad).max() < 1e-9
    if bias:
        assert np.abs(r.sum(axis=1)).max() < 1e-9
    else:
        # eq. 4.4 literally
        W44 = (mu * G + beta * t @ a.T) @ np.linalg.inv(beta * a @ a.T + (mu + ridge) * np.eye(a.shape[0]))
        np.testing.assert_allclose(W, W44, atol=1e-10)


def test_W_exact_matches_generic_minimiser():
    t, a, G, _ = _problem(3, 4, 20, seed=3)
    beta, mu = 0.8, 0.4
    W, b = U.update_W_exact(t, a, beta, G=G, mu=mu, bias=True, solve=KERN.spd_solve)

    def f(x):
        Wx, bx = x[:12].reshape(3, 4), x[12:].reshape(3, 1)
        return U.coupling_objective(Wx, bx, t, a, beta, G=G, mu=mu)

    ref = minimize(f, np.zeros(15), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(W, ref[:12].reshape(3, 4), atol=1e-5)
    np.testing.assert_allclose(b, ref[12:].reshape(3, 1), atol=1e-5)


def test_W_exact_float32_keeps_dtype_and_uses_gram():
    t, a, G, _ = _problem()
    t, a, G = (x.astype(np.float32) for x in (t, a, G))
    gram = (a @ a.T, a.sum(axis=1, keepdims=True))
    W1, b1 = U.update_W_exact(t, a, 1.0, G=G, mu=1.0, bias=True, solve=KERN.spd_solve)
    W2, b2 = U.update_W_exact(t, a, 1.0, G=G, mu=1.0, bias=True, gram=gram, solve=KERN.spd_solve)
    assert W1.dtype == np.float32 and b1.dtype == np.float32
    np.testing.assert_allclose(W1, W2, rtol=1e-5, atol=1e-6)


def test_W_exact_without_penalties_is_the_least_squares_limit():
    """mu = ridge = 0: the limit ridge -> 0+, i.e. least squares; with a rank-deficient
    ``a a^T`` (a repeated input row) the minimum-norm least-squares solution."""
    t, a, G, _ = _problem()
    W, _ = U.update_W_exact(t, a, 1.0, G=None, mu=0.0, ridge=0.0, solve=KERN.spd_solve)
    W_ls = np.linalg.lstsq(a.T.astype(np.float64), t.T.astype(np.float64), rcond=None)[0].T
    np.testing.assert_allclose(W, W_ls, rtol=1e-4, atol=1e-5)
    a2 = np.concatenate([a, a[:1]], axis=0)                       # singular a a^T
    W2, _ = U.update_W_exact(t, a2, 1.0, G=None, mu=0.0, ridge=0.0, solve=KERN.spd_solve)
    W2_ls = np.linalg.lstsq(a2.T.astype(np.float64), t.T.astype(np.float64), rcond=None)[0].T
    assert np.all(np.isfinite(W2))
    np.testing.assert_allclose(W2 @ a2, W2_ls @ a2, rtol=1e-3, atol=1e-3)   # the same fit
    np.testing.assert_allclose(W2, W2_ls, rtol=1e-3, atol=1e-3)             # and the minimum norm


@pytest.mark.parametrize("bias", [False, True])
def test_W_backtracking_satisfies_its_test_and_decreases(bias):
    t, a, G, W0 = _problem(seed=5)
    beta, mu = 1.0, 0.5
    b0 = np.zeros((t.shape[0], 1)) if bias else None
    J0 = U.coupling_objective(W0, b0, t, a, beta, G=G, mu=mu)
    W, b, info = U.update_W_backtracking(W0, b0, t, a, beta, 1e-3, G=G, mu=mu, kappa=2.0)
    assert info.stop == "accepted" and info.n_iter > 1  # nu = 1e-3 is far too small: it had to grow
    nu = info.step
    grad = -beta * (t - W0 @ a - (b0 if bias else 0)) @ a.T + mu * (W0 - G)
    # the step taken is exactly W0 - grad/nu (eq. 4.9) ...
    Wexp = W0 - grad / nu
    np.testing.assert_allclose(W, Wexp, atol=1e-12)
    # ... and it passes J(W) <= psi(W, nu) = J(W0) - ||grad||^2 / (2 nu) (eq. 4.5)
    J_step = U.coupling_objective(Wexp, b0, t, a, beta, G=G, mu=mu)
    assert J_step <= J0 - (grad ** 2).sum() / (2 * nu) + 1e-9
    # the bias refit can only lower J further
    assert U.coupling_objective(W, b, t, a, beta, G=G, mu=mu) <= J_step + 1e-12
    # nu/kappa would have failed the test (it is the first accepted value)
    Wprev = W0 - grad / (nu / 2.0)
    assert U.coupling_objective(Wprev, b0, t, a, beta, G=G, mu=mu) > J0 - (grad ** 2).sum() / nu + 0.0


def test_W_backtracking_cap_returns_input():
    t, a, G, W0 = _problem(seed=6)
    W, b, info = U.update_W_backtracking(W0, None, t, a, 1.0, 1e-12, G=G, mu=1.0, max_iter=3)
    assert info.stop == "max_iter" and info.n_iter == 3
    np.testing.assert_array_equal(W, W0)


def test_W_backtracking_iterated_converges_to_exact():
    t, a, G, W = _problem(seed=7)
    b = None
    nu = 1.0
    for _ in range(3000):
        W, b, info = U.update_W_backtracking(W, b, t, a, 1.0, max(nu / 2, 1e-12), G=G, mu=0.5)
        nu = info.step
    Wx, _ = U.update_W_exact(t, a, 1.0, G=G, mu=0.5, solve=KERN.spd_solve)
    np.testing.assert_allclose(W, Wx, atol=1e-6)


def test_bias_closed_form():
    t, a, _, W = _problem()
    b = U.update_bias(t, W @ a)
    np.testing.assert_allclose((t - W @ a - b).sum(axis=1), 0, atol=1e-12)


# ---------------------------------------------------------------- a-update
def _a_problem(seed=0):
    r = np.random.default_rng(seed)
    n_next, n, m = 4, 6, 25
    return (r.standard_normal((n_next, n)), r.standard_normal((n_next, 1)), r.standard_normal((n_next, m)),
            np.abs(r.standard_normal((n, m))), r.standard_normal((n, m)))


def _Ja(a, W, b, t, hz, beta, gamma):
    return 0.5 * beta * ((t - W @ a - b) ** 2).sum() + 0.5 * gamma * ((a - hz) ** 2).sum()


def test_a_exact_is_eq_4_27():
    W, b, t, hz, _ = _a_problem()
    beta, gamma = 1.1, 0.6
    a = U.update_a_exact(W, b, t, hz, beta, gamma, solve=KERN.spd_solve)
    ref = np.linalg.solve(beta * W.T @ W + gamma * np.eye(W.shape[1]), beta * W.T @ (t - b) + gamma * hz)
    np.testing.assert_allclose(a, ref, atol=1e-10)
    grad = -beta * W.T @ (t - W @ a - b) + gamma * (a - hz)  # eq. 4.33 vanishes
    assert np.abs(grad).max() < 1e-9


def test_a_backtracking_step_and_decrease():
    W, b, t, hz, a0 = _a_problem(seed=2)
    beta, gamma = 1.0, 1.0
    a, info = U.update_a_backtracking(a0, W, b, t, hz, beta, gamma, 1e-3, tau=3.0)
    assert info.stop == "accepted"
    grad = -beta * W.T @ (t - W @ a0 - b) + gamma * (a0 - hz)
    np.testing.assert_allclose(a, a0 - grad / info.step, atol=1e-12)
    assert _Ja(a, W, b, t, hz, beta, gamma) <= _Ja(a0, W, b, t, hz, beta, gamma) - (grad ** 2).sum() / (2 * info.step) + 1e-9


@pytest.mark.filterwarnings("ignore:overflow encountered")  # the inputs overflow on purpose
def test_a_backtracking_cap_and_nan_guard():
    W, b, t, hz, a0 = _a_problem(seed=4)
    a, info = U.update_a_backtracking(a0, W, b, t, hz, 1.0, 1.0, 1e-9, max_iter=2)
    assert info.stop == "max_iter"
    np.testing.assert_array_equal(a, a0)
    # overflow to inf in every trial: the loop still ends, the input comes back
    a_big = np.full_like(a0, 1e300)
    a, info = U.update_a_backtracking(a_big, W, b, t, hz, 1.0, 1.0, 1.0, max_iter=5)
    assert info.stop == "max_iter" and np.all(np.isfinite(a))


# ---------------------------------------------------------------- z-update (hidden)
@pytest.mark.parametrize("name", ["relu", "hardsigmoid", "identity", "leaky_relu"])
@pytest.mark.parametrize("beta,gamma", [(1.0, 1.0), (0.3, 5.0), (7.0, 0.2)])
def test_z_hidden_matches_grid_brute_force(name, beta, gamma):
    act = get_activation(name)
    r = np.random.default_rng(hash((name, beta)) % 2**32)
    p = r.uniform(-3, 3, 500)
    a = r.uniform(-1, 2.5, 500)
    z = U.update_z_hidden(p, a, beta, gamma, act, kernel=KERN.z_update_piecewise)
    grid = np.linspace(-8, 8, 160001)

    def f(zz):
        return 0.5 * beta * (zz - p[:, None]) ** 2 + 0.5 * gamma * (a[:, None] - act(zz)) ** 2

    f_grid = f(grid[None, :]).min(axis=1)
    f_ours = f(z[:, None])[:, 0]
    assert np.all(f_ours <= f_grid + 1e-12)  # never worse than the best grid point
    assert np.all(f_ours >= f_grid - beta * 1e-4 - gamma * 1e-4)  # and it is a true minimum


def test_leaky_relu_is_its_pieces():
    """The leaky ReLU's forward pass is max(z, 0.1 z), the same as evaluating its pieces."""
    from admmnet.admm.activations import LEAKY_SLOPE, Activation

    z = np.linspace(-5, 5, 41)
    act = get_activation("leaky_relu")
    generic = Activation("generic", act.pieces)            # evaluated from the pieces alone
    np.testing.assert_array_equal(act(z), np.where(z > 0, z, LEAKY_SLOPE * z))
    np.testing.assert_allclose(generic(z), act(z))
    assert LEAKY_SLOPE == 0.1


def test_z_relu_is_algorithm_5():
    beta, gamma = 1.0, 2.0
    p = np.array([2.0, -1.0, -0.1, 0.5])
    a = np.array([1.0, 0.0, 3.0, -1.0])
    z = reference.z_update_piecewise(p, a, beta, gamma, ACTIVATIONS["relu"].pieces)
    z1 = np.maximum((beta * p + gamma * a) / (beta + gamma), 0)
    z2 = np.minimum(p, 0)
    f = lambda zz: beta / 2 * (zz - p) ** 2 + gamma / 2 * (a - np.maximum(zz, 0)) ** 2
    np.testing.assert_allclose(z, np.where(f(z1) < f(z2), z1, z2))


# ---------------------------------------------------------------- z_L (FISTA) and softmax
def _fista_problem(seed=0, k=5, m=40):
    r = np.random.default_rng(seed)
    y = np.eye(k)[r.integers(0, k, m)].T
    return r.standard_normal((k, m)) * 3, y


@pytest.mark.parametrize("beta", [0.1, 1.0, 10.0])
def test_fista_matches_reference_minimiser(beta):
    q, y = _fista_problem()
    z, info = U.update_zL_fista(np.zeros_like(q), q, y, beta, tol=1e-10, max_iter=5000,
                                xent=KERN.softmax_xent)
    assert info.stop == "converged"

    def F(v):
        zz = v.reshape(q.shape)
        val, g = reference.softmax_xent(zz, y)
        return val + 0.5 * beta * ((zz - q) ** 2).sum(), (g + beta * (zz - q)).ravel()

    ref = minimize(F, q.ravel(), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15}).x
    np.testing.assert_allclose(z, ref.reshape(q.shape), atol=1e-5)
    # optimality: S(z) - y + beta (z - q) = 0  (eq. 4.40 with the multiplier folded into q)
    _, g = reference.softmax_xent(z, y)
    assert np.abs(g + beta * (z - q)).max() < 1e-6


def test_fista_iteration_cap():
    q, y = _fista_problem(seed=1)
    z, info = U.update_zL_fista(np.zeros_like(q), q, y, 0.01, max_iter=3, tol=0.0,
                                xent=KERN.softmax_xent)
    assert info.stop == "max_iter" and info.n_iter == 3 and np.all(np.isfinite(z))


@pytest.mark.filterwarnings("ignore:overflow encountered")  # the inputs overflow on purpose
def test_softmax_stable_at_extremes():
    z = np.array([[1000.0, -1000.0, 0.0, 3e38], [0.0, -1000.0, 0.0, -3e38], [-1000.0, 1000.0, 0.0, 0.0]],
                 dtype=np.float64)
    s = reference.softmax(z)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=0), 1.0)
    np.testing.assert_allclose(s[:, 0], [1, 0, 0], atol=1e-300)
    z32 = z.astype(np.float32)
    y = np.eye(3)[:, [0, 2, 1, 0]].astype(np.float32)  # the argmax class, except the uniform column
    val, g = reference.softmax_xent(z32, y)
    assert np.isfinite(val) and np.all(np.isfinite(g))
    assert abs(float(val) - np.log(3)) < 1e-3  # only the uniform column costs anything
    np.testing.assert_allclose(reference.softmax(z32), reference.softmax(z32 + 500), atol=1e-7)


def test_softmax_xent_gradient_finite_differences():
    q, y = _fista_problem(seed=2, k=4, m=6)
    val, g = reference.softmax_xent(q, y)
    eps = 1e-6
    num = np.zeros_like(q)
    for i in range(q.shape[0]):
        for j in range(q.shape[1]):
            d = np.zeros_like(q)
            d[i, j] = eps
            num[i, j] = (reference.softmax_xent(q + d, y)[0] - reference.softmax_xent(q - d, y)[0]) / (2 * eps)
    np.testing.assert_allclose(g, num, atol=1e-6)


def test_lambda_update():
    lam, zL, p = (np.random.default_rng(0).standard_normal((3, 4)) for _ in range(3))
    np.testing.assert_allclose(U.update_lambda(lam, zL, p, 2.5), lam + 2.5 * (zL - p))


def test_spd_solve_kernels_agree():
    r = np.random.default_rng(3)
    A = r.standard_normal((6, 6))
    M = A @ A.T + 0.5 * np.eye(6)
    B = r.standard_normal((6, 3))
    np.testing.assert_allclose(KERN.spd_solve(M, B), reference.spd_solve(M, B), atol=1e-10)
    np.testing.assert_allclose(M @ KERN.spd_solve(M, B), B, atol=1e-10)
