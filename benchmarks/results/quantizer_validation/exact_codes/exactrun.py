r"""Scratch (not part of the package): the layerwise quantizer's codes chosen exactly, by enumeration.

For a narrow layer the layer objective of the quantizer (``admmnet.admm.layerwise``),

.. math:: \min_{\alpha > 0,\, Q \in L^{n \times d},\, b}\ \tfrac12 \|\alpha Q a + b 1^T - T\|^2,

separates over rows once the layer's scale alpha is fixed: with the bias eliminated
(``a``, ``T`` centred over samples), row j's codes minimise
``f_j(q) = alpha^2/2 q^T H q - alpha q^T g_j`` (``H = a a^T``, ``g_j = a T_j^T``), and every
``q`` in ``L^d`` (``|L|^d`` candidates, 3^7 = 2,187 for a 7-input ternary row) can be
evaluated at once: ``q^T H q`` for all candidates is one product, independent of the row and
of alpha. So for each alpha of a grid (the ADMM's alpha times 0.25..4, 121 values) the best
codes of every row are exact, the best alpha of the grid is taken, then codes and alpha
alternate (codes exact for alpha, alpha exact for codes, ``refit_scale_bias``) until the
objective stops falling. The result is kept only when its objective is below the ADMM's (it
starts from the ADMM's alpha, so that holds up to the grid). Layers whose ``|L|^d`` exceeds
``MAX_CANDIDATES`` keep the ADMM's fit. Layer-local, no gradient.

``"_exact": 1`` switches it on (by wrapping ``layerwise.quantize_layer``). From the repository root:

    python benchmarks/results/quantizer_validation/exact_codes/exactrun.py --dataset seeds --splits 10 \
        --bits 1 --grid '[{}, {"_exact": 1}]' --out /tmp/exact
"""
import itertools
import sys

sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/results/quantizer_validation")

import numpy as np                          # noqa: E402

import admmnet.admm.layerwise as LW         # noqa: E402
import quantizer_validation as qv           # noqa: E402
from scratch_option import install_patches  # noqa: E402

MAX_CANDIDATES = 600_000
_orig_layer = LW.quantize_layer
_cache = {}
STATS = []


def candidates(levels, d):
    key = (tuple(levels), d)
    if key not in _cache:
        _cache[key] = np.array(list(itertools.product(levels, repeat=d)), dtype=np.float64)
    return _cache[key]


def exact_codes(S, qHq, G, alpha):
    """Per row, the candidate minimising ``alpha^2/2 qHq - alpha S g_j``; returns (codes, total)."""
    F = 0.5 * alpha * alpha * qHq[:, None] - alpha * (S @ G)   # N x n_out
    idx = np.argmin(F, axis=0)
    return S[idx], float(F[idx, np.arange(F.shape[1])].sum())


def quantize_layer(a, T, level_set, *, W0, bias=True, granularity="layer", **kw):
    fit = _orig_layer(a, T, level_set, W0=W0, bias=bias, granularity=granularity, **kw)
    d = int(a.shape[0])
    n_lev = len(level_set.levels)
    if granularity != "layer" or n_lev ** d > MAX_CANDIDATES:
        return fit
    a64, T64 = np.asarray(a, np.float64), np.asarray(T, np.float64)
    if bias:
        a64 = a64 - a64.mean(axis=1, keepdims=True)
        T64 = T64 - T64.mean(axis=1, keepdims=True)
    S = candidates(level_set.levels, d)
    qHq = np.einsum("nd,nd->n", S @ (a64 @ a64.T), S)
    G = a64 @ T64.T                                            # d x n_out
    alpha0 = float(np.asarray(fit.alpha))
    best = None
    for al in alpha0 * np.exp(np.linspace(np.log(0.25), np.log(4.0), 121)):
        Q, val = exact_codes(S, qHq, G, al)
        if best is None or val < best[2]:
            best = (al, Q, val)
    al, Q, val = best
    for _ in range(50):
        alpha_new, _b = LW.refit_scale_bias(Q.astype(np.float64), np.asarray(a, np.float64),
                                            np.asarray(T, np.float64), bias=bias, alpha_prev=al)
        al = float(alpha_new)
        Q_new, val_new = exact_codes(S, qHq, G, al)
        if not val_new < val - 1e-12 * abs(val):
            break
        Q, val = Q_new, val_new
    Qd = Q.astype(np.asarray(fit.Q).dtype)
    alpha_new, b_new = LW.refit_scale_bias(Qd, a, T, bias=bias, alpha_prev=fit.alpha)
    G_new = alpha_new * Qd
    after = LW.layer_objective(G_new, b_new, a, T)
    STATS.append((d, fit.objective, after))
    if not after < fit.objective:
        return fit
    return LW.LayerFit(G=G_new, alpha=alpha_new, Q=Qd, b=b_new, objective=after,
                       objective_before_refit=fit.objective_before_refit, residuals=fit.residuals)


# the exact codes ("_exact": 1) in effect while a fit runs
install_patches(qv, "_exact", (LW, "quantize_layer", quantize_layer))
if __name__ == "__main__":
    rc = qv.main(sys.argv[1:])
    if STATS:
        r = np.array([(s[2] / s[1]) for s in STATS])
        print(f"exact / ADMM layer objective: median {np.median(r):.3f}, min {r.min():.3f}, max {r.max():.3f}"
              f" over {len(r)} layer fits")
    sys.exit(rc)
