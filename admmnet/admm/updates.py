r"""The QNN-ADMM subproblems, one function each (docs/method.md; thesis ch. 4).

Shapes follow the thesis: samples are columns. ``a`` is ``n_{l-1} x m``,
``z``/``t`` are ``n_l x m``, ``W``/``G`` are ``n_l x n_{l-1}``, a bias ``b`` is
``n_l x 1`` (or ``None``: the thesis has no bias).

The coupling term of layer l is ``beta/2 ||t_l - W_l a_{l-1} - b_l||^2`` with
target ``t_l = z_l`` for hidden layers and ``t_L = z_L + lam/beta`` for the
output layer: completing the square,

.. math:: \langle z_L - W_L a_{L-1}, \lambda\rangle + \tfrac{\beta}{2}\|z_L - W_L a_{L-1}\|^2
          = \tfrac{\beta}{2}\|z_L + \lambda/\beta - W_L a_{L-1}\|^2 - \tfrac{1}{2\beta}\|\lambda\|^2,

so the W_L- and a_{L-1}-subproblems see the multiplier only through their
target (the thesis's generic J_w omits it; docs/method.md, "Pitfall"). Callers
build the target; the functions here never need to know which layer they serve.

Every function is pure: arrays in, arrays (and, for the searches, a
:class:`SearchInfo` saying what happened) out. Every search loop has an
iteration cap and a NaN/inf guard, so none can spin forever.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .._backend import get_namespace, to_float
from ..kernels import gemm
from ..kernels import reference as _ref

__all__ = [
    "SearchInfo",
    "coupling_objective",
    "W_exact_system",
    "update_W_exact",
    "W_exact_from_sums",
    "update_W_backtracking",
    "update_bias",
    "update_a_exact",
    "a_exact_operator",
    "update_a_exact_op",
    "update_a_backtracking",
    "update_z_hidden",
    "update_zL_fista",
    "update_lambda",
]


@dataclass(frozen=True)
class SearchInfo:
    """What an inner search did: iterations used, why it stopped, the step parameter it ended on."""

    n_iter: int
    stop: str  # "accepted" | "max_iter" | "converged" | "exact"
    step: float = float("nan")


def _sq(x) -> "object":
    """Sum of squares as a 0-d array."""
    xp = get_namespace(x)
    return xp.sum(x * x)


def _tol(xp, x, scale: float) -> float:
    """Round-off allowance for a sufficient-decrease test in ``x``'s precision."""
    return 64.0 * float(xp.finfo(x.dtype).eps) * max(abs(scale), 1.0)


def coupling_objective(W, b, t, a, beta: float, G=None, mu: float = 0.0, ridge: float = 0.0) -> float:
    """``J_w(W, b) = beta/2 ||t - W a - b||^2 + mu/2 ||W - G||^2 + ridge/2 ||W||^2`` (eq. 4.1).

    ``G=None`` drops the quantization term (full-precision training); ``ridge``
    is a Tikhonov term on W (0 in the thesis)."""
    xp = get_namespace(W, t, a)
    r = t - W @ a if b is None else t - W @ a - b
    J = 0.5 * beta * to_float(_sq(r))
    if G is not None and mu:
        J += 0.5 * mu * to_float(_sq(W - G))
    if ridge:
        J += 0.5 * ridge * to_float(_sq(W))
    del xp
    return J


def W_exact_system(gram, m: int, beta: float, reg: float, bias: bool):
    """The SPD matrix of eq. 4.4 in float64: ``beta a a^T + reg I``, bordered by
    ``beta a 1`` and ``beta m`` when the bias is solved jointly. ``gram = (a a^T, a 1)``."""
    aaT, s = gram
    xp = get_namespace(aaT)
    f64 = xp.float64
    n_in = aaT.shape[0]
    M = beta * xp.astype(aaT, f64) + reg * xp.eye(n_in, dtype=f64)
    if bias:
        s64 = beta * xp.astype(s, f64)
        M = xp.concat(
            [xp.concat([M, s64], axis=1),
             xp.concat([s64.T, xp.full((1, 1), beta * m, dtype=f64)], axis=1)],
            axis=0,
        )
    return M


def update_W_exact(t, a, beta: float, *, G=None, mu: float = 0.0, ridge: float = 0.0,
                   bias: bool = False, gram=None, taT=None, solve=None, factor=None, row_sums=None):
    r"""Exact minimiser of J_w over W (and the bias, jointly) — eq. 4.4.

    Setting the gradient of ``beta/2||t - W a - b||^2 + mu/2||W - G||^2 +
    ridge/2||W||^2`` to zero gives, with ``D = (mu + ridge) I``,

    .. math:: W = (\mu G + \beta t a^T)(\beta a a^T + D)^{-1}   \quad\text{(eq. 4.4)}.

    With a bias, ``[W b]`` solves the same system for the augmented input
    ``[a; 1^T]`` (no penalty on b). The matrix (:func:`W_exact_system`) is
    symmetric positive definite whenever ``mu + ridge > 0`` (with both 0, the limit
    ``ridge -> 0+`` is taken: a ridge of 1e-10 times the mean diagonal of ``beta a a^T``); it is solved by
    ``solve(M, B)`` (Cholesky on the CPU) in float64, since ``a a^T`` of raw
    inputs is badly conditioned in float32. ``gram`` may pass a precomputed
    ``(a a^T, a 1)`` (the input layer's never changes), ``taT`` a precomputed
    ``t a^T`` (the two GEMMs of this update), and ``factor`` a callable
    ``B -> M^{-1} B`` for this very system (a Cholesky factor the solver
    keeps while a, beta and mu + ridge are unchanged: the input layer's, for
    every iteration of a full-precision fit). ``row_sums(x) = x 1`` is the kernel
    table's (default the reference).

    Returns ``(W, b)`` with ``b=None`` when ``bias`` is false.
    """
    row_sums = row_sums or _ref.row_sums
    if gram is None:
        gram = (gemm.gram(a), row_sums(a))
    taT = gemm.mm(t, a.T) if taT is None else taT
    return W_exact_from_sums(gram, taT, row_sums(t) if bias else None, int(a.shape[1]), beta, G=G, mu=mu,
                             ridge=ridge, bias=bias, solve=solve, factor=factor, dtype=t.dtype)


def W_exact_from_sums(gram, taT, t_sum, m: int, beta: float, *, G=None, mu: float = 0.0, ridge: float = 0.0,
                      bias: bool = False, solve=None, factor=None, dtype=None):
    r"""Eq. 4.4 from the sums over samples alone: ``gram = (a a^T, a 1)``, ``taT = t a^T``,
    ``t_sum = t 1`` (with the bias; else None) and the number of samples ``m``.

    These are all of the data :func:`update_W_exact` needs, and each is a sum of
    per-sample terms: the sharded solver (:mod:`admmnet.admm.sharded`) adds them over
    the shards and solves here, so both paths share one solve. Returns ``(W, b)``
    in ``dtype`` (default: ``taT``'s).
    """
    xp = get_namespace(taT)
    n_in = gram[0].shape[0]
    f64 = xp.float64
    dtype = taT.dtype if dtype is None else dtype
    reg = mu + ridge
    if reg <= 0:
        # mu = ridge = 0: the limit ridge -> 0+ (the minimum-norm minimiser when a a^T is
        # singular), taken with a ridge of 1e-10 x the mean diagonal of beta a a^T
        reg = 1e-10 * max(beta * float(xp.sum(xp.linalg.diagonal(xp.astype(gram[0], f64)))) / max(n_in, 1), 1e-30)
    rhs = beta * xp.astype(taT, f64)
    if G is not None and mu:
        rhs = rhs + mu * xp.astype(G, f64)
    if bias:
        rhs = xp.concat([rhs, beta * xp.astype(t_sum, f64)], axis=1)
    if factor is None:
        sol = solve(W_exact_system(gram, m, beta, reg, bias), rhs.T)
    else:
        sol = factor(rhs.T)
    sol = xp.astype(sol.T, dtype)
    if bias:
        return sol[:, :n_in], sol[:, n_in:]
    return sol, None


def update_bias(t, Wa):
    """Closed-form bias: ``b = mean_j (t - W a)_j`` minimises ``||t - W a - b 1^T||^2``."""
    xp = get_namespace(t, Wa)
    return xp.mean(t - Wa, axis=1, keepdims=True)


def update_W_backtracking(W, b, t, a, beta: float, nu: float, *, G=None, mu: float = 0.0,
                          ridge: float = 0.0, kappa: float = 2.0, max_iter: int = 50, Wa=None,
                          pre=None, sq=None, return_pre: bool = False):
    r"""One gradient step on J_w with step 1/nu found by backtracking (Algorithm 3).

    ``grad = -beta (t - W a - b) a^T + mu (W - G) + ridge W`` (eq. 4.10); the
    trial ``W' = W - grad/nu`` (eq. 4.9) is accepted once
    ``J_w(W') <= psi(W', nu) = J_w(W) - ||grad||^2/(2 nu)`` (eq. 4.5), else
    ``nu <- kappa nu``. Each trial costs only elementwise work: with
    ``g_a = grad a``, ``t - W' a - b = r + g_a/nu``. If the cap ``max_iter`` is
    hit (or only NaN/inf trials were seen), W is returned unchanged — it
    satisfies the test trivially — and ``SearchInfo.stop == "max_iter"``.
    With a bias, b is then refit in closed form (:func:`update_bias`).

    Matrix products: ``grad = ... (r a^T)`` and ``g_a = grad a`` (two GEMMs), plus
    ``W a`` unless the caller passes it (``Wa``, or ``pre = W a + b``). The new
    ``W' a + b' = t - r' + (b' - b)`` with ``r' = r + g_a/nu`` then costs no GEMM
    either: ``return_pre=True`` returns it as a fourth value. ``sq`` is the
    kernel for ``||x + s y||^2`` (:func:`admmnet.kernels.reference.sq_norm_axpy`),
    the trial objective in one pass.

    Returns ``(W, b, SearchInfo)`` (``(W, b, SearchInfo, pre')`` with
    ``return_pre``); ``SearchInfo.step`` is the accepted nu.
    """
    xp = get_namespace(W, t, a)
    if kappa <= 1:
        raise ValueError(f"kappa must be > 1, got {kappa}")
    sq = sq or _ref.sq_norm_axpy
    if pre is not None:
        r = t - pre
    else:
        if Wa is None:
            Wa = gemm.mm(W, a)
        r = t - Wa if b is None else t - Wa - b
    D = W - G if (G is not None and mu) else None
    grad = -beta * gemm.mm(r, a.T)
    if D is not None:
        grad = grad + mu * D
    if ridge:
        grad = grad + ridge * W
    ga = gemm.mm(grad, a)
    g2 = to_float(_sq(grad))

    def J(s):
        """J_w(W - s grad) through the residual r + s g_a: one fused pass per term, no GEMM."""
        v = 0.5 * beta * sq(r, ga, s)
        if D is not None:
            v = v + 0.5 * mu * sq(D, grad, -s)
        if ridge:
            v = v + 0.5 * ridge * sq(W, grad, -s)
        return to_float(v)

    J0 = J(0.0)
    tol = _tol(xp, W, J0)
    nu = float(nu)
    accepted = False
    k = 0
    for k in range(1, max_iter + 1):
        if g2 == 0.0:
            break
        Jn = J(1.0 / nu)
        if Jn == Jn and Jn != float("inf") and Jn <= J0 - g2 / (2.0 * nu) + tol:
            accepted = True
            break
        nu *= kappa
    if g2 == 0.0 or not accepted:
        info = SearchInfo(0, "converged", nu) if g2 == 0.0 else SearchInfo(k, "max_iter", nu)
        if not return_pre:
            return W, b, info
        return W, b, info, (t - r if pre is None else pre)
    Wn = W - grad / nu
    r_new = r + ga / nu                      # t - W' a - b
    p_new = None
    if b is not None:
        db = xp.mean(r_new, axis=1, keepdims=True)
        b = b + db
        if return_pre:
            p_new = (t - r_new) + db
    elif return_pre:
        p_new = t - r_new
    info = SearchInfo(k, "accepted", nu)
    return (Wn, b, info, p_new) if return_pre else (Wn, b, info)


def update_a_exact(W_next, b_next, t_next, hz, beta: float, gamma: float, *, solve):
    r"""Exact minimiser of ``J_a(a) = beta/2||t - W a - b||^2 + gamma/2||a - h(z_l)||^2`` — eq. 4.27.

    .. math:: a_l = (\beta W_{l+1}^T W_{l+1} + \gamma I)^{-1}(\beta W_{l+1}^T (t_{l+1} - b_{l+1}) + \gamma h(z_l)).

    ``W_next, b_next, t_next`` belong to layer l+1 (``t`` carries the
    multiplier when l+1 = L). The system is ``n_l x n_l``, SPD for gamma > 0.
    """
    xp = get_namespace(W_next, t_next, hz)
    n = W_next.shape[1]
    M = beta * (W_next.T @ W_next) + gamma * xp.eye(n, dtype=W_next.dtype)
    tt = t_next if b_next is None else t_next - b_next
    rhs = beta * gemm.mm(W_next.T, tt) + gamma * hz
    gemm.solved(M, rhs)
    return xp.astype(solve(M, rhs), hz.dtype)


def a_exact_operator(W_next, beta: float, gamma: float, *, inverse):
    r"""What eq. 4.27 needs from ``W = W_{l+1}`` alone, for :func:`update_a_exact_op`.

    Two equivalent forms of :math:`a = (eta W^T W + \gamma I)^{-1}(eta W^T t + \gamma h)`
    (``t`` the target minus the bias, ``h = h(z_l)``), chosen by their GEMM cost
    per sample (``n_out x n_in`` is W's shape):

    * ``"direct"``: ``a = M^{-1} (beta W^T t + gamma h)``, ``M = beta W^T W + gamma I``
      (n_in x n_in): ``n_in^2 + n_in n_out`` multiply-adds per sample (``n_in^2``
      when ``W^T t`` is reused);
    * ``"push"`` (push-through identity
      :math:`(eta W^TW + \gamma I)^{-1}W^T = W^T(eta WW^T + \gamma I)^{-1}`):
      ``a = h + beta W^T K^{-1}(t - W h)``, ``K = beta W W^T + gamma I`` (n_out x n_out):
      ``2 n_in n_out + n_out^2`` per sample. For the output layer of MNIST
      (10 x 200) that is 4.1k instead of 42k; no cancellation (the correction
      is computed directly, not as a difference).

    Returns ``(kind, inverse_matrix)``; ``inverse`` is the kernel's SPD inverse.
    """
    xp = get_namespace(W_next)
    n_out, n_in = W_next.shape
    if 2 * n_in * n_out + n_out * n_out < n_in * n_in:
        K = beta * (W_next @ W_next.T) + gamma * xp.eye(n_out, dtype=W_next.dtype)
        return "push", inverse(K)
    M = beta * (W_next.T @ W_next) + gamma * xp.eye(n_in, dtype=W_next.dtype)
    return "direct", inverse(M)


def update_a_exact_op(op, W_next, b_next, t_next, hz, beta: float, gamma: float, *, WTt=None, axpby=None,
                      scratch=None):
    r"""Eq. 4.27 with the operator of :func:`a_exact_operator` (same minimiser as
    :func:`update_a_exact`, one GEMM-shaped product per term instead of a
    triangular solve per column). ``WTt`` may pass a precomputed
    ``W^T (t - b)`` (direct form; the solver reuses it between the sweeps);
    ``axpby(alpha, x, beta, y) = alpha x + beta y`` is the kernel table's fused version;
    ``scratch`` an n_in x m array the caller no longer needs (e.g. its ``WTt`` on
    last use), which the right-hand side may overwrite."""
    axpby = axpby or _ref.axpby
    kind, inv = op
    if kind == "push":
        tt = t_next if b_next is None else t_next - b_next
        u = gemm.mm(inv, tt - gemm.mm(W_next, hz))
        v = gemm.mm(W_next.T, u)
        return axpby(1.0, hz, beta, v, out=v)          # v is a fresh product: overwrite it
    if WTt is None:
        WTt = gemm.mm(W_next.T, t_next if b_next is None else t_next - b_next)
        scratch = WTt
    return gemm.mm(inv, axpby(beta, WTt, gamma, hz, out=scratch))


def update_a_backtracking(a, W_next, b_next, t_next, hz, beta: float, gamma: float, theta: float,
                          *, tau: float = 2.0, max_iter: int = 50, pre=None, sq=None):
    r"""One gradient step on J_a with step 1/theta found by backtracking (Algorithm 6).

    ``grad = -beta W^T (t - W a - b) + gamma (a - h(z_l))`` (eq. 4.33); the trial
    ``a' = a - grad/theta`` (eq. 4.32) is accepted once
    ``J_a(a') <= phi(a', theta) = J_a(a) - ||grad||^2/(2 theta)`` (eq. 4.28), else
    ``theta <- tau theta``. Trials cost elementwise work only (``W a'`` =
    ``W a - (W grad)/theta``). Cap and NaN guard as in
    :func:`update_W_backtracking`. ``pre`` may pass ``W a + b``; ``sq`` is the
    ``||x + s y||^2`` kernel.

    Returns ``(a, SearchInfo)``.
    """
    xp = get_namespace(a, W_next, t_next)
    if tau <= 1:
        raise ValueError(f"tau must be > 1, got {tau}")
    sq = sq or _ref.sq_norm_axpy
    if pre is not None:
        r = t_next - pre
    else:
        r = t_next - gemm.mm(W_next, a)
        if b_next is not None:
            r = r - b_next
    d = a - hz
    grad = -beta * gemm.mm(W_next.T, r) + gamma * d
    Wg = gemm.mm(W_next, grad)
    g2 = to_float(_sq(grad))
    J0 = to_float(0.5 * beta * _sq(r) + 0.5 * gamma * _sq(d))
    tol = _tol(xp, a, J0)
    theta = float(theta)
    if g2 == 0.0:
        return a, SearchInfo(0, "converged", theta)
    for k in range(1, max_iter + 1):
        Jn = to_float(0.5 * beta * sq(r, Wg, 1.0 / theta) + 0.5 * gamma * sq(d, grad, -1.0 / theta))
        if Jn == Jn and Jn != float("inf") and Jn <= J0 - g2 / (2.0 * theta) + tol:
            return a - grad / theta, SearchInfo(k, "accepted", theta)
        theta *= tau
    return a, SearchInfo(max_iter, "max_iter", theta)


def update_z_hidden(p, a, beta: float, gamma: float, activation, *, kernel):
    r"""Closed-form z_l for a hidden layer (Algorithm 5; eq. 4.18–4.25).

    Minimises, elementwise, ``beta/2 (z - p)^2 + gamma/2 (a_l - h(z))^2`` with
    ``p = W_l a_{l-1} + b_l``: for each linear piece of ``h`` the quadratic's
    minimiser clipped to the piece, then the candidate of smallest objective
    (see :func:`admmnet.kernels.reference.z_update_piecewise`).
    """
    return kernel(p, a, beta, gamma, activation.pieces)


def update_zL_fista(z0, q, y, beta: float, *, eta: float = 0.5, max_iter: int = 100,
                    tol: float = 1e-4, xent, step=None):
    r"""z_L by FISTA (Algorithm 7; eq. 4.34–4.40).

    Minimises ``F(z) = L(z, y) + beta/2 ||z - q||^2`` with
    ``q = W_L a_{L-1} + b_L - lam/beta`` — the same problem as eq. 4.34, the
    multiplier folded into ``q``. L is the summed softmax cross-entropy whose
    gradient ``S(z) - y`` is 1/2-Lipschitz (the Hessian of log-sum-exp has
    norm <= 1/2), so ``eta >= 0.5`` is a valid step. Each step is the exact
    prox of the quadratic at the linearised loss (eq. 4.39):

    .. math:: z^s = \frac{\eta \hat z + \beta q - (S(\hat z) - y)}{\eta + \beta},

    followed by the FISTA extrapolation ``hat z <- z^s + (t_s - 1)/t_{s+1}
    (z^s - z^{s-1})``. Stops when ``||z^s - z^{s-1}|| <= tol max(1, ||z^s||)``
    ("converged") or after ``max_iter`` steps ("max_iter"); a non-finite
    iterate restarts from the last finite one with momentum reset.

    Each step is one call of ``step(z, z_old, c, beta q, y, eta, beta)`` (a
    kernel table's ``fista_step``: extrapolation ``hat z = z + c (z - z_old)``,
    gradient, prox step and the two stopping sums, fused; default the
    reference built on ``xent``): one host round trip per step.

    Returns ``(z, SearchInfo)``.
    """
    if eta <= 0 or beta <= 0:
        raise ValueError("FISTA needs eta > 0 and beta > 0")
    if step is None:
        def step(z_, zo_, c_, bq_, y_, eta_, beta_):
            return _ref.fista_step(z_, zo_, c_, bq_, y_, eta_, beta_, xent=xent)
    z_prev = z0       # last accepted (finite) iterate
    z_old = z0        # the one before it (for the extrapolation)
    c = 0.0           # extrapolation weight (t_s - 1)/t_{s+1}
    t = 1.0
    bq = beta * q
    inf = float("inf")
    for s in range(1, max_iter + 1):
        z, step2, norm2 = step(z_prev, z_old, c, bq, y, eta, beta)
        if step2 != step2 or step2 == inf:
            c, t = 0.0, 1.0  # restart without momentum from the last finite point
            continue
        if step2 ** 0.5 <= tol * max(1.0, norm2 ** 0.5):
            return z, SearchInfo(s, "converged", eta)
        t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
        c = (t - 1.0) / t_next
        z_old, z_prev, t = z_prev, z, t_next
    return z_prev, SearchInfo(max_iter, "max_iter", eta)


def update_lambda(lam, zL, pL, beta: float):
    """Dual ascent on the output constraint: ``lam <- lam + beta (z_L - W_L a_{L-1} - b_L)`` (eq. 4.41),
    with ``pL = W_L a_{L-1} + b_L``."""
    return lam + beta * (zL - pL)


def refit_output_layer(a, Y, W0, b0, *, G=None, mu: float = 0.0, ridge: float = 0.0,
                       max_iter: int = 200, tol: float = 1e-5, update_W: bool = True, xent,
                       factor=None, gram=None, data_grad=None, m: int | None = None):
    r"""Exact refit of the output layer on fixed features (the "output refit" of docs/fp_admm_levers.md).

    Minimises the convex problem

    .. math:: F(W, b) = L(W a + b 1^T, y) + \tfrac{\mu}{2}\|W - G\|^2 + \tfrac{\text{ridge}}{2}\|W\|^2

    over the output layer alone. The features ``a`` are the forward activations
    of the evaluated (quantized) hidden layers, so the output layer is fitted to
    the network that is actually used rather than to lifted activations. No
    gradient flows through the network: this is a convex, single-layer problem.

    Solver: accelerated gradient steps preconditioned by Böhning's bound. The
    Hessian of the softmax cross-entropy in the logits of one sample is
    ``diag(p) - p p^T <= 1/2 I``, so with ``A = [a; 1^T]`` the Hessian of F in
    ``X = [W b]`` is bounded (as a quadratic form ``X -> tr(X M X^T)``) by

    .. math:: M = \tfrac12 A A^T + \mathrm{diag}(\mu + \text{ridge}, \dots, 0),

    and the step ``X <- Y - \nabla F(Y) M^{-1}`` minimises a majorizer of F:
    F is 1-smooth in the M-norm. FISTA in that metric (with O'Donoghue-Candès
    gradient restart: momentum is dropped when ``<grad, X - X_prev> > 0``)
    converges at a rate that does not depend on the conditioning of the
    features, unlike plain FISTA with the spectral step (its 500 steps on
    MNIST cost more than all ADMM iterations). ``M`` is factorised once
    (``factor``: a kernel table's ``spd_factor``; ``gram``: a precomputed
    ``(a a^T, a 1)``). Stops when the step is below ``tol`` relative to X, or
    after ``max_iter`` steps. ``update_W=False`` keeps W fixed and fits the bias
    alone. Returns ``(W, b, SearchInfo)``.

    ``data_grad``: the sharded solver's way in (:mod:`admmnet.admm.sharded`). The data
    enter F only through sums over samples: with ``g = S(W a + b) - y`` the gradient's
    data part is ``(g a^T, g 1)``. A callable ``[W b] -> (g a^T, g 1)`` (summed over
    every shard) then replaces ``a`` and ``Y`` (pass None for both), with ``m`` and
    ``gram`` given.
    """
    if data_grad is None:
        xp = get_namespace(a, Y, W0)
        m = a.shape[1]
    else:
        xp = get_namespace(W0)
        if gram is None or m is None:
            raise ValueError("refit_output_layer with data_grad needs gram and m")
    n_in = W0.shape[1]
    f64 = xp.float64
    if gram is None:
        gram = (gemm.gram(a), _ref.row_sums(a))
    has_b = b0 is not None
    if update_W:
        reg = float(mu + ridge) if G is not None and mu else float(ridge)
        M = 0.5 * W_exact_system(gram, m, 1.0, 0.0, has_b)
        diag = xp.concat([xp.full((n_in,), reg, dtype=f64), xp.zeros((int(has_b),), dtype=f64)])
        # a tiny floor keeps M positive definite when the features are rank deficient
        diag = diag + 1e-9 * (to_float(xp.max(xp.linalg.diagonal(M))) + 1.0)
        M = M + diag * xp.eye(n_in + int(has_b), dtype=f64)
        apply_inv = (factor or _ref.spd_factor)(M)
    else:
        apply_inv = None
    mu_eff = float(mu) if G is not None and mu else 0.0
    Wb = xp.concat([W0, b0], axis=1) if has_b else W0

    def grad_F(X):
        W = X[:, :n_in]
        if data_grad is not None:
            gaT, g1 = data_grad(X)
        else:
            z = gemm.mm(W, a)
            if has_b:
                z = z + X[:, n_in:]
            _, g = xent(z, Y)
            gaT = gemm.mm(g, a.T) if update_W else None
            g1 = xp.sum(g, axis=1, keepdims=True) if has_b else None
        if update_W:
            gW = gaT + float(ridge) * W
            if mu_eff:
                gW = gW + mu_eff * (W - G)
        else:
            gW = xp.zeros_like(W)
        if not has_b:
            return gW
        return xp.concat([gW, g1], axis=1)

    def precond(grad):
        if apply_inv is None:       # bias alone (W fixed): its Hessian bound is m/2
            return grad / (0.5 * m)
        return xp.astype(apply_inv(xp.astype(grad, f64).T).T, grad.dtype)

    x_prev = Wb
    y_hat = Wb
    t = 1.0
    stop = "max_iter"
    s = 0
    for s in range(1, max_iter + 1):
        g = grad_F(y_hat)
        x = y_hat - precond(g)
        if not bool(xp.all(xp.isfinite(x))):
            stop = "max_iter"
            break
        d = x - x_prev
        step = math.sqrt(to_float(_sq(d)))
        if step <= tol * max(1.0, math.sqrt(to_float(_sq(x)))):
            stop = "converged"
            x_prev = x
            break
        if to_float(xp.sum(g * d)) > 0:       # gradient restart: the momentum points uphill
            t = 1.0
        t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
        y_hat = x + ((t - 1.0) / t_next) * d
        x_prev, t = x, t_next
    W = x_prev[:, :n_in]
    b = x_prev[:, n_in:] if has_b else None
    return W, b, SearchInfo(s, stop, 1.0)
