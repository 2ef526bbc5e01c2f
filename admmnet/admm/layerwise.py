r"""Gradient-free layerwise quantization of a full-precision network (LQ without backprop).

After a full-precision ADMM phase, each layer's quantized weights are fitted to
reproduce what the full-precision layer computes, one layer at a time, on the
training features. Layer l (0-based here, samples in columns) solves

.. math::
    \min_{V,\,c,\,G \in C_l}\; \tfrac12\|V \hat a_{l-1} + c\,1^T - T_l\|^2
        + \tfrac{\text{ridge}}{2}\|V\|^2 \quad\text{s.t.}\quad V = G,

where :math:`\hat a_{l-1}` are the features of the already-quantized layers
below (forward pass through :math:`G_1..G_{l-1}`) and
:math:`T_l = W_l a_{l-1} + b_l` the full-precision network's pre-activations on
its own features. Targets taken from the full-precision network (not from the
quantized features) let each layer correct the error of the layers below it.

The problem is a quadratic in ``(V, c)`` coupled to the projection of
:mod:`admmnet.quant.projection`, and ADMM (scaled dual U) splits it into

* **V-step** (closed form, the system of eq. 4.4 with beta = 1):
  :math:`[V\; c] = \arg\min \tfrac12\|V\hat a + c1^T - T\|^2 + \tfrac{\rho}{2}\|V - G + U\|^2
  + \tfrac{\text{ridge}}{2}\|V\|^2`, i.e.
  :math:`(\hat a\hat a^T + (\rho + \text{ridge})I)V^T = \hat a T^T + \rho (G - U)^T` bordered for c;
* **G-step**: :math:`G = \Pi_{C}(V + U)` (the alpha/Q projection);
* **dual**: :math:`U \leftarrow U + V - G`; then :math:`\rho \leftarrow g\rho`,
  :math:`U \leftarrow U/g` (the unscaled multiplier :math:`\rho U` is unchanged).

:math:`\rho` starts at ``rho * tr(a a^T)/n_in`` (relative to the mean eigenvalue
of the data term, so the schedule does not depend on m or on the feature
scale) and grows by ``rho_growth`` per iteration, which drives V onto G.
Finally G is fixed and the scale(s) and bias are refitted *jointly* to the
layer's own objective (:func:`refit_scale_bias`, closed form), which can only
lower it. Every quantity is layer-local: no gradient of the loss flows through
the network, and the cost is one Gram matrix and one product per layer plus
small Cholesky solves and projections (about two ADMM iterations on MNIST).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .._backend import get_namespace, to_float
from ..kernels import Kernels, gemm
from ..quant import LevelSet, project
from ..quant.levels import round_to_codes
from . import updates as U_
from .equalize import equalize_network

__all__ = ["LayerFit", "LayerSums", "layer_objective", "layer_objective_from_sums", "refit_scale_bias", "refine_codes",
           "quantize_layer", "quantize_layer_from_sums", "quantize_network"]


@dataclass
class LayerFit:
    """Result of :func:`quantize_layer`: ``G = alpha Q`` (``alpha`` a 0-d array, or one per
    row), the bias ``b`` (or None), the layer objective before the final refit and
    after it, and the ADMM residuals ``||V - G|| / ||V||`` per iteration."""

    G: object
    alpha: object
    Q: object
    b: object
    objective: float
    objective_before_refit: float
    residuals: list


def layer_objective(G, b, a, T) -> float:
    r"""``1/2 ||G a + b 1^T - T||^2`` (the data term of the layer's subproblem); the residual
    in the arrays' dtype, its sum of squares accumulated in float64."""
    xp = get_namespace(G, a, T)
    R = gemm.mm(G, a) - T
    if b is not None:
        R = R + b
    return 0.5 * to_float(xp.sum(R * R, dtype=xp.float64))


def refit_scale_bias(Q, a, T, *, granularity: str = "layer", bias: bool = True, alpha_prev=None):
    r"""Exact least-squares scale(s) and bias for fixed codes Q.

    With ``P = Q a`` (n_out x m), minimises ``1/2 ||alpha P + b 1^T - T||^2``:
    per row r (``granularity="row"``) the 2x2 normal equations give
    ``alpha_r = cov(P_r, T_r) / var(P_r)``, ``b_r = mean(T_r) - alpha_r mean(P_r)``;
    one alpha per layer pools the sums over rows,
    ``alpha = sum_r cov(P_r, T_r) / sum_r var(P_r)``. Without a bias the means
    are not subtracted. An alpha that would not be positive (codes anti-correlated
    with the targets, or P = 0) keeps ``alpha_prev``; b is then the best bias for it.
    The row sums ``sum P T``, ``sum P^2``, ``sum P``, ``sum T`` are accumulated in float64
    from arrays in the inputs' dtype (no float64 copy of the n_out x m products).
    Returns ``(alpha, b)``; ``b`` is None when ``bias`` is false.
    """
    xp = get_namespace(Q, a, T)
    f64 = xp.float64
    P = gemm.mm(Q, a)
    m = a.shape[1]

    def rsum(x):
        return xp.sum(x, axis=1, keepdims=True, dtype=f64)

    cov, var = rsum(P * T), rsum(P * P)
    sP, sT = (rsum(P), rsum(T)) if bias else (None, None)
    return _scale_bias(xp, cov, var, sP, sT, m, granularity, alpha_prev, T.dtype)


def _scale_bias(xp, cov, var, sP, sT, m: int, granularity: str, alpha_prev, dtype):
    """:func:`refit_scale_bias` from the float64 row moments ``cov = (P T^T)_rr``,
    ``var = (P P^T)_rr`` and, with a bias, ``sP = P 1``, ``sT = T 1`` (else None)."""
    f64 = xp.float64
    bias = sP is not None
    if bias:
        cov, var = cov - sP * sT / m, var - sP * sP / m
    if granularity == "row":
        ok = (var > 0) & (cov > 0)
        alpha = xp.where(ok, cov / xp.where(var > 0, var, xp.ones_like(var)),
                         xp.astype(xp.reshape(alpha_prev, (-1, 1)), f64) if alpha_prev is not None
                         else xp.ones_like(var))
    else:
        c, v = to_float(xp.sum(cov)), to_float(xp.sum(var))
        alpha = c / v if (v > 0 and c > 0) else (to_float(alpha_prev) if alpha_prev is not None else 1.0)
        alpha = xp.asarray(alpha, dtype=f64)
    b = None
    if bias:
        b = xp.astype((sT - alpha * sP) / m, dtype)
    return xp.astype(alpha, dtype), b


def refine_codes(Q, alpha, a, T, level_set: LevelSet, *, bias: bool = True, sweeps: int = 2):
    r"""Exact coordinate descent on the codes of one layer, scale fixed.

    Minimises ``1/2 ||alpha Q a + b 1^T - T||^2`` over the codes, the bias
    eliminated in closed form when ``bias`` (``b = mean(T) - alpha Q mean(a)``: the
    problem becomes the same one on centred ``a`` and ``T``). With ``H = a a^T``
    and ``E = (alpha Q a - T) a^T`` (the gradient in G), changing ``q_ij`` by
    ``d`` changes the objective by ``alpha d E_ij + 1/2 alpha^2 d^2 H_jj``: a 1-D
    convex quadratic whose best point on the code grid is the code nearest to
    ``q_ij - E_ij / (alpha H_jj)`` (a quadratic is symmetric about its minimum).
    A sweep visits the columns j in turn and updates every row at once (rows do not
    interact), then ``E <- E + alpha d H_j``. Each step is the exact minimiser
    over its coordinates, so the objective never rises; at a fixed point no single
    code change lowers it. ``alpha`` is a scalar or one per row (n_out x 1).
    Cost per sweep: ``n_in`` rank-one updates of the n_out x n_in matrix E.
    Returns the new codes.
    """
    xp = get_namespace(Q, a, T)
    f64 = xp.float64
    a64 = xp.astype(a, f64)
    T64 = xp.astype(T, f64)
    if bias:
        a64 = a64 - xp.mean(a64, axis=1, keepdims=True)
        T64 = T64 - xp.mean(T64, axis=1, keepdims=True)
    H = a64 @ a64.T
    al = xp.astype(xp.reshape(xp.asarray(alpha), (-1, 1)), f64)
    if al.shape[0] == 1:
        al = al * xp.ones((Q.shape[0], 1), dtype=f64)
    Q64 = xp.astype(Q, f64)
    E = (al * Q64) @ H - T64 @ a64.T
    diag = xp.linalg.diagonal(H)
    n_in = int(Q.shape[1])
    cols = [Q64[:, j:j + 1] for j in range(n_in)]
    for _ in range(sweeps):
        changed = 0
        for j in range(n_in):
            h = float(diag[j])
            if h <= 0:
                continue
            q = cols[j]
            q_new = round_to_codes(q - E[:, j:j + 1] / (al * h), level_set)
            d = q_new - q
            if bool(xp.any(d != 0)):
                E = E + (al * d) @ H[j:j + 1, :]
                cols[j] = q_new
                changed += 1
        if changed == 0:
            break
    return xp.astype(xp.concat(cols, axis=1), Q.dtype)


def quantize_layer(a, T, level_set: LevelSet, *, W0, bias: bool = True, ridge: float = 0.0,
                   rho: float = 1e-2, rho_growth: float = 1.25, n_iter: int = 30,
                   granularity: str = "layer", proj_max_iter: int = 50, proj_patience: int = 3,
                   cd_sweeps: int = 0, kern: Kernels | None = None) -> LayerFit:
    r"""One layer of the gradient-free layerwise quantizer (module docstring).

    ``a``: the layer's input features (n_in x m), ``T``: its targets (n_out x m),
    ``W0``: the full-precision weights (the start of V and, projected, of G).
    Runs ``n_iter`` ADMM iterations (V-step, G-step, dual) with rho growing by
    ``rho_growth``, then ``cd_sweeps`` sweeps of exact coordinate descent on the codes
    (:func:`refine_codes`), then refits the scale(s) and bias for the final codes. The
    returned objective is never above the one of the ADMM's last G with its own
    best bias (the refit is the exact minimiser over scale and bias).
    """
    _check_layer_args(n_iter, rho, rho_growth)
    xp = get_namespace(a, T, W0)
    m = int(a.shape[1])
    row_sums = (kern.row_sums if kern is not None else None) or _row_sums
    gram = (gemm.gram(a), row_sums(a))
    TaT = gemm.mm(T, a.T)
    res, G, alpha, residuals = _layer_admm(gram, TaT, row_sums(T) if bias else None, m, level_set, W0=W0, bias=bias,
                                           ridge=ridge, rho=rho, rho_growth=rho_growth, n_iter=n_iter,
                                           granularity=granularity, proj_max_iter=proj_max_iter,
                                           proj_patience=proj_patience, kern=kern)
    Q = res.Q
    # objective of the ADMM's G with its best bias (the bias alone is a mean)
    b_before = xp.mean(T - gemm.mm(G, a), axis=1, keepdims=True) if bias else None
    before = layer_objective(G, b_before, a, T)
    if cd_sweeps:
        Q = refine_codes(Q, alpha, a, T, level_set, bias=bias, sweeps=cd_sweeps)
    alpha_new, b_new = refit_scale_bias(Q, a, T, granularity=granularity, bias=bias, alpha_prev=alpha)
    shape_alpha = (-1, 1) if granularity == "row" else ()
    alpha_new = xp.reshape(alpha_new, shape_alpha)
    G_new = alpha_new * Q
    after = layer_objective(G_new, b_new, a, T)
    if not after <= before:          # float noise only: keep the ADMM's point
        G_new, alpha_new, b_new, after, Q = G, alpha, b_before, before, res.Q
    return LayerFit(G=G_new, alpha=alpha_new, Q=Q, b=b_new, objective=after,
                    objective_before_refit=before, residuals=residuals)


@dataclass
class LayerSums:
    """What one layer of the quantizer needs from its samples, each a sum over them:
    ``gram = (a a^T, a 1)``, ``taT = T a^T``, ``t_sum = T 1`` (None without a bias),
    ``tt = ||T||^2`` and the number of samples ``m``. The sharded solver adds these over
    its shards (:mod:`admmnet.admm.sharded`); no per-sample array is needed."""

    gram: tuple
    taT: object
    t_sum: object
    tt: float
    m: int


def layer_objective_from_sums(G, b, S: LayerSums) -> float:
    r""":func:`layer_objective` from the sums: ``1/2 ||G a + b 1^T - T||^2 = 1/2 [tr(G a a^T G^T)
    - 2 tr(G (T a^T)^T) + ||T||^2 + 2 b^T G a 1 - 2 b^T T 1 + m ||b||^2]`` (in float64)."""
    xp = get_namespace(G)
    f64 = xp.float64
    G64, A, TA = xp.astype(G, f64), xp.astype(S.gram[0], f64), xp.astype(S.taT, f64)
    val = to_float(xp.sum((G64 @ A) * G64)) - 2.0 * to_float(xp.sum(G64 * TA)) + float(S.tt)
    if b is not None:
        b64 = xp.astype(xp.reshape(b, (-1, 1)), f64)
        Ga1 = G64 @ xp.astype(S.gram[1], f64)
        val += to_float(2.0 * xp.sum(b64 * Ga1) - 2.0 * xp.sum(b64 * xp.astype(S.t_sum, f64))
                        + S.m * xp.sum(b64 * b64))
    return 0.5 * max(val, 0.0)


def quantize_layer_from_sums(S: LayerSums, level_set: LevelSet, *, W0, bias: bool = True, ridge: float = 0.0,
                             rho: float = 1e-2, rho_growth: float = 1.25, n_iter: int = 30,
                             granularity: str = "layer", proj_max_iter: int = 50, proj_patience: int = 3,
                             cd_sweeps: int = 0, kern: Kernels | None = None) -> LayerFit:
    """:func:`quantize_layer` from the layer's sums over samples alone (:class:`LayerSums`):
    the same ADMM, and the scale/bias refit and objectives from the moments
    ``(Q T a^T)_rr``, ``(Q a a^T Q^T)_rr``, ``Q a 1``, ``T 1``. Equal to :func:`quantize_layer`
    up to the order of floating-point sums. The coordinate-descent sweeps on the codes need
    the samples themselves (``cd_sweeps`` must be 0)."""
    if cd_sweeps:
        raise ValueError("cd_sweeps needs the samples (quantize_layer); from sums it must be 0")
    _check_layer_args(n_iter, rho, rho_growth)
    xp = get_namespace(S.taT, W0)
    f64 = xp.float64
    res, G, alpha, residuals = _layer_admm(S.gram, S.taT, S.t_sum, S.m, level_set, W0=W0, bias=bias, ridge=ridge,
                                           rho=rho, rho_growth=rho_growth, n_iter=n_iter, granularity=granularity,
                                           proj_max_iter=proj_max_iter, proj_patience=proj_patience, kern=kern)
    Q = res.Q
    b_before = xp.astype((S.t_sum - G @ S.gram[1]) / S.m, G.dtype) if bias else None
    before = layer_objective_from_sums(G, b_before, S)
    Q64 = xp.astype(Q, f64)
    cov = xp.sum(Q64 * xp.astype(S.taT, f64), axis=1, keepdims=True)
    var = xp.sum((Q64 @ xp.astype(S.gram[0], f64)) * Q64, axis=1, keepdims=True)
    sP = Q64 @ xp.astype(S.gram[1], f64) if bias else None
    sT = xp.astype(S.t_sum, f64) if bias else None
    alpha_new, b_new = _scale_bias(xp, cov, var, sP, sT, S.m, granularity, alpha, G.dtype)
    alpha_new = xp.reshape(alpha_new, (-1, 1) if granularity == "row" else ())
    G_new = alpha_new * Q
    after = layer_objective_from_sums(G_new, b_new, S)
    if not after <= before:
        G_new, alpha_new, b_new, after, Q = G, alpha, b_before, before, res.Q
    return LayerFit(G=G_new, alpha=alpha_new, Q=Q, b=b_new, objective=after,
                    objective_before_refit=before, residuals=residuals)


def _check_layer_args(n_iter, rho, rho_growth) -> None:
    if not (isinstance(n_iter, int) and n_iter >= 0):
        raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}")
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")
    if not (math.isfinite(rho_growth) and rho_growth >= 1):
        raise ValueError(f"rho_growth must be >= 1, got {rho_growth!r}")


def _layer_admm(gram, TaT, t_sum, m: int, level_set, *, W0, bias, ridge, rho, rho_growth, n_iter, granularity,
                proj_max_iter, proj_patience, kern):
    """The ADMM of :func:`quantize_layer` (V-step, G-step, dual, rho growth) on the layer's
    sums; returns ``(last projection result, G, alpha, residuals)``."""
    xp = get_namespace(TaT, W0)
    n_in = int(gram[0].shape[0])
    solve = kern.spd_solve if kern is not None else None
    factor_of = kern.spd_factor if kern is not None else None
    step = kern.proj_step if kern is not None else None
    r = float(rho) * max(to_float(xp.sum(xp.linalg.diagonal(gram[0]))) / max(n_in, 1), 1e-12)

    def proj(V, alpha0=None):
        return project(V, level_set, granularity=granularity, max_iter=proj_max_iter,
                       patience=proj_patience, alpha0=alpha0, kernel=step)

    res = proj(W0)
    G, alpha = res.G, res.alpha
    Ud = xp.zeros_like(W0)
    residuals = []
    for _ in range(n_iter):
        factor = factor_of(U_.W_exact_system(gram, m, 1.0, r + ridge, bias)) if factor_of else None
        V, _b = U_.W_exact_from_sums(gram, TaT, t_sum, m, 1.0, G=G - Ud, mu=r, ridge=ridge, bias=bias,
                                     solve=solve or _solve, factor=factor, dtype=W0.dtype)
        res = proj(V + Ud, alpha0=alpha)
        G, alpha = res.G, res.alpha
        D = V - G
        Ud = Ud + D
        residuals.append(math.sqrt(to_float(xp.sum(D * D))) / (math.sqrt(to_float(xp.sum(V * V))) + 1e-30))
        r *= float(rho_growth)
        Ud = Ud / float(rho_growth)
    return res, G, alpha, residuals


def quantize_network(X, Ws, bs, activation, level_set: LevelSet, *, ridge: float = 0.0,
                     rho: float = 1e-2, rho_growth: float = 1.25, n_iter: int = 30,
                     granularity: str = "layer", proj_max_iter: int = 50, proj_patience: int = 3,
                     cd_sweeps: int = 0, equalize: str | None = None,
                     kern: Kernels | None = None) -> list[LayerFit]:
    r"""Quantize a full-precision network layer by layer (module docstring).

    ``X``: the training inputs (n_features x m, samples in columns); ``Ws``,
    ``bs``: the full-precision weights and biases (``bs`` None without bias).
    ``equalize`` ("max" or "l2"): first rescale the hidden units of the FP network by
    cross-layer equalization (:func:`admmnet.admm.equalize.equalize_network`; the same
    function, every unit's row and outgoing column of equal range), so that one scale per
    layer fits them all; None leaves the network as it is.
    Layer l's targets are the FP pre-activations ``W_l a_{l-1} + b_l`` on the FP
    features, its inputs the features of the quantized layers below. Only one
    layer's features of each network are held at a time.
    """
    if equalize is not None:
        Ws, bs = equalize_network(Ws, bs, activation, norm=equalize)
    L = len(Ws)
    fits = []
    a_fp = a_q = X
    bias = bs is not None
    for l in range(L):
        T = gemm.mm(Ws[l], a_fp)
        if bias:
            T = T + bs[l]
        fit = quantize_layer(a_q, T, level_set, W0=Ws[l], bias=bias, ridge=ridge, rho=rho,
                             rho_growth=rho_growth, n_iter=n_iter, granularity=granularity,
                             proj_max_iter=proj_max_iter, proj_patience=proj_patience,
                             cd_sweeps=cd_sweeps, kern=kern)
        fits.append(fit)
        if l < L - 1:
            zq = gemm.mm(fit.G, a_q)
            if bias:
                zq = zq + fit.b
            a_q = activation(zq)
            a_fp = activation(T)
        del T
    return fits


def _row_sums(a):
    xp = get_namespace(a)
    return xp.sum(a, axis=1, keepdims=True)


def _solve(M, B):
    xp = get_namespace(M, B)
    return xp.linalg.solve(M, B)
