"""Scratch (not part of the package): after the quantized output refit, exact coordinate descent
on the output layer's codes (CE on the fixed hidden features; alpha fixed; the bias refitted).
Layer-local. ``refit_output`` replaces :func:`admmnet.admm.solver.refit_output` (``_orig``) where
``cdrun.py`` switches it on; ``SWEEPS`` (set there per fit) caps the sweeps."""
import sys

import numpy as np

sys.path.insert(0, "benchmarks")

import admmnet.admm.solver as S          # noqa: E402
from admmnet.admm import updates as U    # noqa: E402

SWEEPS = 3
_orig = S.refit_output

def _lse(Z):
    M = Z.max(0)
    return M + np.log(np.exp(Z - M).sum(0))

def cd(Q, alpha, b, a, Y, codes):
    Q = np.array(Q, dtype=np.float64); a64 = np.asarray(a, dtype=np.float64); Y = np.asarray(Y, dtype=np.float64)
    al = np.asarray(alpha, dtype=np.float64).reshape(-1, 1) * np.ones((Q.shape[0], 1))
    bb = np.zeros((Q.shape[0], 1)) if b is None else np.asarray(b, dtype=np.float64).reshape(-1, 1)
    Z = (al * Q) @ a64 + bb
    L = float((_lse(Z) - (Y * Z).sum(0)).sum())
    for _ in range(SWEEPS):
        moved = 0
        for i in range(Q.shape[0]):
            for j in range(Q.shape[1]):
                q0 = Q[i, j]
                best, bestc = L, q0
                for c in codes:
                    if c == q0:
                        continue
                    zi = Z[i] + al[i, 0] * (c - q0) * a64[j]
                    Zc = Z.copy(); Zc[i] = zi
                    Lc = float((_lse(Zc) - (Y * Zc).sum(0)).sum())
                    if Lc < best - 1e-9 * abs(best):
                        best, bestc = Lc, c
                if bestc != q0:
                    Z[i] += al[i, 0] * (bestc - q0) * a64[j]
                    Q[i, j] = bestc; L = best; moved += 1
        if not moved:
            break
    return Q

def refit_output(state, Y, activation, level_set, params, kern, **kw):
    _orig(state, Y, activation, level_set, params, kern, **kw)
    if level_set is None or getattr(level_set, "kind", None) == "budget":
        return
    if level_set.qmax > 3:   # wide grids: only the neighbours would matter; skip in the scratch
        return
    L = state.n_layers
    a = state.a[L - 1]
    codes = [c for c in range(-level_set.qmax, level_set.qmax + 1) if level_set.zero or c != 0]
    Ql = np.asarray(state.Q[L - 1])
    alpha = state.alpha[L - 1]
    b0 = state.b[L - 1] if state.b is not None else None
    before = S._output_loss(state.G[L - 1], b0, a, Y, kern)
    Qn = cd(Ql, alpha, b0, a, Y, codes).astype(Ql.dtype)
    al = np.asarray(alpha).reshape(-1, 1) if np.ndim(alpha) else alpha
    G = (al * Qn).astype(state.G[L - 1].dtype)
    b = b0
    if b0 is not None:
        xkw = dict(xent=kern.softmax_xent, factor=kern.spd_factor)
        _, b, _ = U.refit_output_layer(a, Y, G, b0, update_W=False, **xkw)
    if S._output_loss(G, b, a, Y, kern) < before:
        state.G[L - 1], state.Q[L - 1], state.W[L - 1] = G, Qn, G
        if b is not None:
            state.b[L - 1] = b
        z = G @ a
        state.z[L - 1] = z + state.b[L - 1] if state.b is not None else z
