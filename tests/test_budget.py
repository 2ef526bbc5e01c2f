"""The budget projections (admmnet.quant.budget) against brute force on small instances.

What is exact and what is only bounded (docs/budget.md):

* E_j: exact. k-means (zero free) by DP == brute force over every labelling and over every
  contiguous partition; uniform == brute force over every code vector.
* 0-1 knapsack greedy: feasible, z_G <= z* <= z_LP and z_G >= z_LP - p_split; exact when all
  weights are equal (top-k) or when no item is refused.
* MCKP greedy: feasible, z_G <= z* <= z_LP, z_G >= z_LP - split_gain, and its LP bound is the
  LP relaxation's optimum (scipy's linprog); exact when split_gain == 0.
"""
import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from admmnet.quant import budget as B
from admmnet.exceptions import InvalidParameterError


# --------------------------------------------------------------------------- brute forces
def brute_kmeans_labels(x, k):
    """min over every labelling of x into {zero} + k free clusters (centre = mean)."""
    best = np.inf
    for lab in itertools.product(range(k + 1), repeat=x.size):
        lab = np.array(lab)
        cost = np.sum(x[lab == 0] ** 2)
        for c in range(1, k + 1):
            v = x[lab == c]
            if v.size:
                cost += np.sum((v - v.mean()) ** 2)
        best = min(best, cost)
    return best


def brute_kmeans_partitions(x, k):
    """min over every partition of sorted x into contiguous runs, at most one the zero run."""
    v = np.sort(x)
    n = v.size
    best = np.inf
    for r in range(0, n):
        for cuts in itertools.combinations(range(1, n), r):
            bounds = (0,) + cuts + (n,)
            runs = [v[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            sse = [np.sum((u - u.mean()) ** 2) for u in runs]
            for z in [None] + list(range(len(runs))):
                free = len(runs) - (z is not None)
                if free > k:
                    continue
                cost = sum(s for i, s in enumerate(sse) if i != z)
                if z is not None:
                    cost += np.sum(runs[z] ** 2)
                best = min(best, cost)
    return best


def brute_uniform(x, j):
    q = 2 ** (j - 1)
    best = np.sum(x ** 2)
    for Q in itertools.product(range(-q, q + 1), repeat=x.size):
        Q = np.array(Q, dtype=np.float64)
        qq = Q @ Q
        if qq:
            best = min(best, np.sum(x ** 2) - (x @ Q) ** 2 / qq if x @ Q > 0 else best)
    return best


def brute_knapsack(p, w, cap):
    best = 0.0
    for sel in itertools.product((0, 1), repeat=p.size):
        s = np.array(sel, dtype=bool)
        if w[s].sum() <= cap:
            best = max(best, p[s].sum())
    return best


def lp_knapsack(p, w, cap):
    r = linprog(-p, A_ub=[w], b_ub=[cap], bounds=[(0, 1)] * p.size, method="highs")
    return -r.fun


def brute_mckp(P, W, cap):
    best, arg = -np.inf, None
    for ch in itertools.product(*[range(len(p)) for p in P]):
        wt = sum(W[g][c] for g, c in enumerate(ch))
        if wt <= cap:
            pr = sum(P[g][c] for g, c in enumerate(ch))
            if pr > best:
                best, arg = pr, ch
    return best, arg


def lp_mckp(P, W, cap):
    sizes = [len(p) for p in P]
    n = sum(sizes)
    c = -np.concatenate(P)
    A_eq = np.zeros((len(P), n))
    s = 0
    for g, m in enumerate(sizes):
        A_eq[g, s:s + m] = 1
        s += m
    r = linprog(c, A_ub=[np.concatenate(W)], b_ub=[cap], A_eq=A_eq, b_eq=np.ones(len(P)),
                bounds=[(0, 1)] * n, method="highs")
    return -r.fun


# --------------------------------------------------------------------------- E_j
@pytest.mark.parametrize("seed", range(6))
def test_kmeans_dp_is_exact(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    x = rng.normal(size=n) * rng.choice([0.1, 1.0, 10.0])
    if seed % 2:
        x[rng.integers(n)] = 0.0          # exact zeros are free
    for k in (1, 2, 3):
        err, cen, lab = B.kmeans_1d(x, k)
        assert err == pytest.approx(brute_kmeans_labels(x, k), rel=1e-9, abs=1e-12)
        assert err == pytest.approx(brute_kmeans_partitions(x, k), rel=1e-9, abs=1e-12)
        assert cen.size <= k
        q = np.where(lab >= 0, cen[np.maximum(lab, 0)] if cen.size else 0, 0)
        assert np.sum((x - q) ** 2) == pytest.approx(err, rel=1e-9, abs=1e-12)   # the returned quantizer has that error


def test_kmeans_errors_match_per_k_and_decrease():
    rng = np.random.default_rng(3)
    x = rng.laplace(size=60)
    E = B.kmeans_errors(x, (1, 2, 3, 4))
    for j, e in zip((1, 2, 3, 4), E):
        assert e == pytest.approx(B.kmeans_1d(x, 2 ** j)[0], rel=1e-12)
    assert np.all(np.diff(E) <= 1e-12)


def test_kmeans_binned_is_an_upper_bound_and_its_quantizer_error_is_exact():
    rng = np.random.default_rng(4)
    x = rng.normal(size=500)
    exact = B.kmeans_errors(x, (1, 2, 3))
    binned = B.kmeans_errors(x, (1, 2, 3), max_points=50)
    assert np.all(binned >= exact - 1e-9)
    q = B.quantize_values(x, 2, "kmeans", max_points=50)
    assert np.sum((q.dequantized() - x) ** 2) == pytest.approx(q.error, rel=1e-12)
    assert q.error >= exact[1] - 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_uniform_error_is_exact(seed):
    rng = np.random.default_rng(10 + seed)
    x = rng.normal(size=5)
    for j in (1, 2):
        e = B.quant_errors(x, (j,), "uniform")[0]
        assert e == pytest.approx(brute_uniform(x, j), rel=1e-9)
        q = B.quantize_values(x, j, "uniform")
        assert np.unique(q.dequantized()[q.codes >= 0]).size <= 2 ** j
        assert np.sum((q.dequantized() - x) ** 2) == pytest.approx(e, rel=1e-9)


# --------------------------------------------------------------------------- knapsack
@pytest.mark.parametrize("seed", range(30))
def test_knapsack_greedy_bounds(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    p = rng.random(n) ** 2
    w = rng.integers(1, 9, size=n).astype(float)
    cap = float(rng.integers(1, int(w.sum()) + 1))
    take = B.knapsack_greedy(p, w, cap)
    zg, opt, lp = p[take].sum(), brute_knapsack(p, w, cap), lp_knapsack(p, w, cap)
    assert w[take].sum() <= cap
    assert zg <= opt + 1e-12 and opt <= lp + 1e-9
    order = np.argsort(-(p / w), kind="stable")
    k = np.searchsorted(np.cumsum(w[order]), cap, side="right")
    p_split = p[order[k]] if k < n else 0.0
    assert zg >= lp - p_split - 1e-9
    if k == n:
        assert zg == pytest.approx(opt)


@pytest.mark.parametrize("seed", range(10))
def test_knapsack_greedy_exact_for_equal_weights(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(3, 12))
    p = rng.random(n)
    b = float(rng.integers(1, 9))
    cap = float(rng.integers(0, n + 1) * b + rng.integers(0, int(b)))
    take = B.knapsack_greedy(p, np.full(n, b), cap)
    assert p[take].sum() == pytest.approx(brute_knapsack(p, np.full(n, b), cap))
    assert take.sum() == min(n, int(cap // b))


def test_project_sparsity_equal_bits_is_the_exact_projection():
    rng = np.random.default_rng(7)
    W = [rng.normal(size=(2, 3)), rng.normal(size=(1, 4))]
    masks = B.project_sparsity(W, [2, 2], 9)          # 4 entries at 2 bits
    flat = np.concatenate([w.ravel() for w in W])
    kept = np.concatenate([m.ravel() for m in masks])
    best = min(np.sum(flat[~np.isin(np.arange(10), s)] ** 2) for s in itertools.combinations(range(10), 4))
    assert kept.sum() == 4
    assert np.sum(flat[~kept] ** 2) == pytest.approx(best)


# --------------------------------------------------------------------------- MCKP
def _mckp_instance(rng, realistic):
    L = int(rng.integers(2, 5))
    choices = (1, 2, 3, 4)
    if realistic:     # profits -E_j of random small layers, weights j * nnz
        P = [-B.quant_errors(rng.normal(size=int(rng.integers(3, 9))) * rng.random(), choices, "kmeans")
             for _ in range(L)]
        W = [np.array(choices, float) * int(rng.integers(1, 20)) for _ in range(L)]
    else:
        P = [np.sort(rng.random(4)) for _ in range(L)]
        W = [np.sort(rng.integers(1, 30, size=4)).astype(float) for _ in range(L)]
    lo = sum(w.min() for w in W)
    cap = float(rng.uniform(lo, sum(w.max() for w in W) * 1.05))
    return P, W, cap


@pytest.mark.parametrize("seed", range(40))
def test_mckp_greedy_bounds(seed):
    rng = np.random.default_rng(seed)
    P, W, cap = _mckp_instance(rng, realistic=seed % 2 == 0)
    r = B.mckp_greedy(P, W, cap)
    opt, _ = brute_mckp(P, W, cap)
    assert r.weight <= cap + 1e-9
    assert r.weight == pytest.approx(sum(W[g][c] for g, c in enumerate(r.choice)))
    assert r.profit == pytest.approx(sum(P[g][c] for g, c in enumerate(r.choice)))
    assert r.lp_bound == pytest.approx(lp_mckp(P, W, cap), rel=1e-7, abs=1e-9)
    assert r.profit <= opt + 1e-9 and opt <= r.lp_bound + 1e-7
    assert r.profit >= r.lp_bound - r.split_gain - 1e-9
    if r.split_gain == 0:
        assert r.profit == pytest.approx(opt)


def test_mckp_infeasible_raises():
    with pytest.raises(ValueError, match="infeasible"):
        B.mckp_greedy([np.array([0.0, 1.0])], [np.array([5.0, 6.0])], 4.0)


def test_project_bits_and_budget_project_meet_the_budget():
    rng = np.random.default_rng(5)
    Ws = [rng.normal(size=(20, 30)), rng.normal(size=(10, 20)) * 0.3]
    n = sum(w.size for w in Ws)
    for q in ("kmeans", "uniform"):
        for spec in ("16x", "64x", "0.25bpw"):
            S = B.parse_budget(spec, n)
            r = B.budget_project(Ws, S, (1, 2, 3, 4), q)
            nnz = [int(np.sum(x.codes >= 0)) for x in r.quantizers]
            assert r.weight_bits == B.weight_bits(r.bits, nnz) <= S
            for x, b in zip(r.quantizers, r.bits):
                assert np.unique(x.dequantized()[x.codes >= 0]).size <= 2 ** b
        bits, qs, res = B.project_bits(Ws, [w.size // 4 for w in Ws], 2 * n // 4, (1, 2, 3), q)
        assert sum(b * (w.size // 4) for b, w in zip(bits, Ws)) <= 2 * n // 4


def test_the_alternation_keeps_the_smallest_widths_it_starts_from():
    """docs/budget.md: the knapsack fills the budget at the current widths, so the MCKP at those
    non-zero counts has no room to widen a layer; from the smallest width (the default start)
    the widths never move, while a wider start does move (here: away from its start)."""
    rng = np.random.default_rng(6)
    Ws = [rng.normal(size=(30, 40)), rng.normal(size=(20, 30)) * 0.3, rng.normal(size=(10, 20)) * 2]
    S = B.parse_budget("32x", sum(w.size for w in Ws))
    for choices in ((1, 2, 3, 4), (2, 4, 8)):
        r = B.budget_project(Ws, S, choices)
        assert r.bits == [min(choices)] * 3 and r.n_rounds == 1
        sparse = B.project_sparsity(Ws, r.bits, S)
        assert B.weight_bits(r.bits, [int(m.sum()) for m in sparse]) > S - max(choices)    # the knapsack fills S
    wide = B.budget_project(Ws, S, (1, 2, 3, 4), bits0=[4, 4, 4])
    assert wide.bits != [4, 4, 4] and wide.weight_bits <= S


def test_parse_budget():
    assert B.parse_budget("2000x", 430500) == 6888
    assert B.parse_budget("800B", 10) == 6400
    assert B.parse_budget("12KB", 10) == 96000
    assert B.parse_budget("1KiB", 10) == 8192
    assert B.parse_budget("0.5bpw", 1001) == 500
    assert B.parse_budget("6888bits", 5) == 6888
    assert B.parse_budget(77, 5) == 77
    for bad in ("", "x", "-3x", "2000y", "0B", "nanx", True, 1.5):
        with pytest.raises(InvalidParameterError):
            B.parse_budget(bad, 100)
    with pytest.raises(InvalidParameterError, match="too small"):
        B.parse_budget("100000x", 10)
