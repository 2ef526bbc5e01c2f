r"""Compression under a model-size budget: the two projections of "Automatic Neural Network
Compression by Sparsity-Quantization Joint Learning" (Yang et al., docs/budget.md).

The constraint (their eq. 1) on the weight tensors W_1..W_L of a network::

    sum_l b(W_l) ||W_l||_0 <= S        (S: the budget in bits)

with ``b(W) = ceil(log2 #{unique non-zero values of W})`` (zero is free: it is encoded by
the positions of the non-zeros, not by a code) and ``||W||_0`` the number of non-zeros.
ADMM splits it (eq. 2-7) into two projections, both functions of plain arrays here:

* **fixed bit widths** (eq. 8/9, :func:`knapsack_greedy`, :func:`project_sparsity`): with
  b_l fixed, ``min ||W - Wbar||^2 s.t. sum_l b_l ||W_l||_0 <= S`` keeps a subset X of the
  entries, ``W = X * Wbar``; it is the 0-1 knapsack ``max <Wbar^2, X> s.t. <A, X> <= S``
  with profit ``Wbar_i^2`` and weight ``A_i = b_l`` (Proposition 1). Greedy: entries by
  profit/weight, descending, taken while they fit.
* **fixed sparsity** (eq. 10, :func:`mckp_greedy`, :func:`project_bits`): with the
  non-zero counts n_l fixed, choose one bit width j per layer from the candidates B,
  profit ``-E_j(Vbar_l)`` and weight ``j n_l`` (Proposition 2): a multiple-choice knapsack,
  solved by the greedy on incremental profit density (Zemel; Kellerer et al. ch. 11).

``E_j(v) = min_{V : b(V) <= j} ||V - v||^2`` is the error of the best j-bit quantizer of the
entries v: at most 2^j non-zero values plus the free value 0.

* ``quantizer="kmeans"`` (non-uniform): the 2^j values are free, so E_j is 1-D k-means with
  k = 2^j free centres and one centre fixed at 0. In 1-D the optimal clusters are
  contiguous runs of the sorted values, so :func:`kmeans_1d` solves it exactly by dynamic
  programming (below).
* ``quantizer="uniform"``: the values are ``alpha {+-1, ..., +-2^(j-1)}`` (2^j non-zero
  levels plus 0), i.e. the integer grid ``-2^(j-1) .. 2^(j-1)`` scaled by the best alpha:
  the projection of :func:`admmnet.quant.projection.project` (global alpha by breakpoint
  enumeration where ``n 2^(j-1) <= 2^18``, else its zooming search).

The k-means DP. Sort the values x_1 <= ... <= x_n (exact zeros dropped: they cost nothing in
the zero cluster). With prefix sums of counts C, sums S and squares Q, a run (j, i] costs
``sse(j, i) = (Q_i - Q_j) - (S_i - S_j)^2 / (C_i - C_j)`` as a free cluster (centre = its mean)
and ``Q_i - Q_j`` as the zero cluster. Then, F[k][i] being the best cost of the first i values
in k free runs and Z[k][i] the same with the zero run placed somewhere::

    F[k][i] = min_{j<i} F[k-1][j] + sse(j, i)
    Z[k][i] = min( min_{j<i} Z[k-1][j] + sse(j, i),  min_{j<=i} F[k][j] + Q_i - Q_j )

with F[0][0] = 0, Z[0][i] = Q_i; E for at most k centres is ``min_{k'<=k} Z[k'][n]``. sse is
a Monge cost, so the argmin of the first minimum is non-decreasing in i and each row is
computed by divide and conquer in O(n log n); the second minimum is a running minimum, O(n).
One DP up to k = 2^max(B) gives E_j for every candidate j. Above ``max_points`` values the DP
runs on ``max_points`` runs of consecutive sorted values (each assigned whole; then one
nearest-centre / mean step on the original values): its E_j are upper bounds, and the
returned error is the exact error of the returned quantization.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .._validation import check_choice, check_int
from ..exceptions import InvalidParameterError
from .levels import LevelSet

__all__ = ["parse_budget", "BudgetQuantizer", "kmeans_1d", "kmeans_errors", "quant_errors", "quantize_values",
           "knapsack_greedy", "mckp_greedy", "MCKPResult", "project_sparsity", "project_bits",
           "budget_project", "BudgetProjection", "QUANTIZERS", "DEFAULT_BIT_CHOICES", "weight_bits",
           "check_budget_params"]

QUANTIZERS = ("kmeans", "uniform")
DEFAULT_BIT_CHOICES = (1, 2, 3, 4, 5, 6, 7, 8)
#: DP points above which the k-means DP runs on runs of sorted values (module docstring)
KMEANS_MAX_POINTS = 4096

_UNITS = {"b": 1, "bits": 1, "bit": 1, "B": 8, "KB": 8_000, "KiB": 8 * 1024, "MB": 8_000_000,
          "MiB": 8 * 1024 * 1024}


def parse_budget(spec, n_weights: int, float_bits: int = 32) -> int:
    """The budget S in bits from ``spec``, for a network of ``n_weights`` weights:

    * ``"2000x"``: compression rate over ``float_bits``-bit weights, ``floor(float_bits n / 2000)``;
    * ``"800B"``, ``"12KB"`` (1000 bytes), ``"12KiB"`` (1024), ``"1MB"``, ``"1MiB"``: bytes of weight data;
    * ``"0.5bpw"``: bits per weight, ``floor(0.5 n)``;
    * ``"6888bits"`` / ``"6888b"`` or a plain integer: bits.

    The budget counts weight bits only (the source's metric, eq. 1). Raises InvalidParameterError (a ValueError) on
    anything else or a budget below one bit."""
    if isinstance(n_weights, bool) or not isinstance(n_weights, (int, np.integer)) or n_weights < 1:
        raise InvalidParameterError(f"n_weights must be a positive integer, got {n_weights!r}")
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        bits = int(spec)
    elif isinstance(spec, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]+)?\s*", spec)
        if m is None:
            raise InvalidParameterError(f"budget {spec!r}: expected e.g. '2000x', '800B', '12KB', '0.5bpw' or '6888bits'")
        value, unit = float(m.group(1)), m.group(2) or "bits"
        if not math.isfinite(value) or value <= 0:
            raise InvalidParameterError(f"budget {spec!r} must be positive")
        if unit.lower() == "x":
            bits = math.floor(float_bits * n_weights / value)
        elif unit.lower() == "bpw":
            bits = math.floor(value * n_weights)
        elif unit in _UNITS:
            bits = math.floor(value * _UNITS[unit])
        else:
            raise InvalidParameterError(f"budget {spec!r}: unknown unit {unit!r} (x, bpw, bits, B, KB, KiB, MB, MiB)")
    else:
        raise InvalidParameterError(f"budget must be a string such as '2000x' or an integer of bits, got {spec!r}")
    if bits < 1:
        raise InvalidParameterError(f"budget {spec!r} is {bits} bits for {n_weights} weights: too small")
    return int(bits)


def weight_bits(bits, nnz) -> int:
    """The source's size, ``sum_l b_l n_l`` bits."""
    return int(sum(int(b) * int(n) for b, n in zip(bits, nnz)))


def check_budget_params(budget, bit_choices, quantizer):
    """The shared checks of ``budget``, ``bit_choices`` and ``quantizer`` (Budget, QNN-ADMM)."""
    if budget is None:
        raise InvalidParameterError("budget must be given, e.g. '2000x', '800B', '12KB', '0.5bpw' or an integer of bits")
    parse_budget(budget, 10 ** 9)           # the syntax; the size is checked against the network at fit
    if isinstance(bit_choices, (str, bytes)) or not hasattr(bit_choices, "__iter__"):
        raise InvalidParameterError(f"bit_choices must be a sequence of integers in 1..8, got {bit_choices!r}")
    ch = tuple(bit_choices)
    if not ch:
        raise InvalidParameterError("bit_choices must not be empty")
    for j in ch:
        check_int("bit_choices", j, lo=1, hi=8)
    if len(set(int(j) for j in ch)) != len(ch):
        raise InvalidParameterError(f"bit_choices has repeated widths: {ch!r}")
    check_choice("quantizer", quantizer, QUANTIZERS)
    return tuple(sorted(int(j) for j in ch))


# ----------------------------------------------------------------------------- k-means DP
def _njit(fn):
    try:
        from numba import njit
    except ImportError:          # pragma: no cover - numba is a dependency
        return fn
    return njit(cache=True)(fn)


@_njit
def _dc_row(prev, out, arg, C, S, Q, lo, hi, optlo, opthi):
    """out[i] = min_{optlo<=j<min(i,opthi+1)} prev[j] + sse(j, i) for i in [lo, hi], divide and conquer."""
    stack = [(lo, hi, optlo, opthi)]
    while len(stack) > 0:
        a, b, oa, ob = stack.pop()
        if a > b:
            continue
        mid = (a + b) // 2
        best = np.inf
        bj = oa
        top = min(mid - 1, ob)
        for j in range(oa, top + 1):
            p = prev[j]
            if p == np.inf:
                continue
            c = C[mid] - C[j]
            s = S[mid] - S[j]
            v = p + (Q[mid] - Q[j]) - s * s / c
            if v < best:
                best = v
                bj = j
        out[mid] = best
        arg[mid] = bj
        stack.append((a, mid - 1, oa, bj))
        stack.append((mid + 1, b, bj, ob))


@_njit
def _kmeans_dp(C, S, Q, K):
    """Rows F, Z (K+1 x n+1) and their argmins (module docstring); Zsrc[k, i] = 1 when Z's best
    is the zero-run branch (then Zarg is the j of F[k][j])."""
    n = C.shape[0] - 1
    F = np.full((K + 1, n + 1), np.inf)
    Z = np.full((K + 1, n + 1), np.inf)
    Farg = np.zeros((K + 1, n + 1), dtype=np.int64)
    Zarg = np.zeros((K + 1, n + 1), dtype=np.int64)
    Zsrc = np.zeros((K + 1, n + 1), dtype=np.int8)
    F[0, 0] = 0.0
    for i in range(n + 1):
        Z[0, i] = Q[i]
        Zarg[0, i] = 0
        Zsrc[0, i] = 1
    tmp = np.empty(n + 1)
    targ = np.zeros(n + 1, dtype=np.int64)
    for k in range(1, K + 1):
        if k <= n:
            _dc_row(F[k - 1], F[k], Farg[k], C, S, Q, k, n, k - 1, n - 1)
        tmp[:] = np.inf
        _dc_row(Z[k - 1], tmp, targ, C, S, Q, 1, n, 0, n - 1)
        best, bj = np.inf, 0
        for i in range(n + 1):
            v = F[k, i] - Q[i]
            if v < best:
                best = v
                bj = i
            zr = best + Q[i]
            if tmp[i] <= zr:
                Z[k, i] = tmp[i]
                Zarg[k, i] = targ[i]
                Zsrc[k, i] = 0
            else:
                Z[k, i] = zr
                Zarg[k, i] = bj
                Zsrc[k, i] = 1
        Z[k, 0] = 0.0
    return F, Z, Farg, Zarg, Zsrc


def _runs(x: np.ndarray, max_points: int):
    """Sorted non-zero values of x grouped into at most ``max_points`` runs: (counts, sums, squares, starts)."""
    v = np.sort(x[x != 0].astype(np.float64))
    n = v.size
    m = min(n, max_points)
    starts = (np.arange(m, dtype=np.int64) * n) // m if m else np.zeros(0, dtype=np.int64)
    ends = np.append(starts[1:], n)
    cs = np.concatenate([[0.0], np.cumsum(v)])
    qs = np.concatenate([[0.0], np.cumsum(v * v)])
    return v, (ends - starts).astype(np.float64), cs[ends] - cs[starts], qs[ends] - qs[starts]


@dataclass
class _DP:
    v: np.ndarray          # sorted non-zero values
    counts: np.ndarray     # per run
    F: np.ndarray
    Z: np.ndarray
    Farg: np.ndarray
    Zarg: np.ndarray
    Zsrc: np.ndarray
    S: np.ndarray
    C: np.ndarray

    def best(self, k: int) -> tuple[float, int]:
        """(min_{k' <= k} Z[k'][n], that k')."""
        col = self.Z[: k + 1, -1]
        kk = int(np.argmin(col))
        return float(col[kk]), kk

    def centres(self, k: int) -> np.ndarray:
        """The free centres of the optimum with at most k of them (backtracking)."""
        _, k = self.best(k)
        i, zero_used, out = self.C.size - 1, False, []
        while i > 0:
            if not zero_used and self.Zsrc[k, i] == 1:
                j = int(self.Zarg[k, i])        # zero run (j, i]; F[k][j] before it
                zero_used, i = True, j
                continue
            j = int(self.Zarg[k, i]) if not zero_used else int(self.Farg[k, i])
            out.append((self.S[i] - self.S[j]) / (self.C[i] - self.C[j]))
            i, k = j, k - 1
        return np.array(sorted(out), dtype=np.float64)


def _dp(x, K: int, max_points: int) -> _DP:
    v, c, s, q = _runs(np.asarray(x).reshape(-1), max_points)
    C = np.concatenate([[0.0], np.cumsum(c)])
    S = np.concatenate([[0.0], np.cumsum(s)])
    Q = np.concatenate([[0.0], np.cumsum(q)])
    F, Z, Farg, Zarg, Zsrc = _kmeans_dp(C, S, Q, int(K))
    return _DP(v, c, F, Z, Farg, Zarg, Zsrc, S, C)


def _assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index (into ``centres``) of the nearest of {0} + centres for every entry, -1 for 0."""
    grid = np.concatenate([[0.0], centres])
    order = np.argsort(grid, kind="stable")
    g = grid[order]
    mids = (g[1:] + g[:-1]) / 2
    pos = np.searchsorted(mids, x, side="left")
    idx = order[pos] - 1
    return idx


def kmeans_1d(x, k: int, *, max_points: int = KMEANS_MAX_POINTS):
    """Best quantizer of the entries of ``x`` with at most ``k`` free values plus 0:
    ``(error, centres, labels)``, labels -1 for entries set to 0 and else the index of their
    centre (ascending centres, unused ones dropped). Exact for at most ``max_points`` non-zero
    entries (module docstring); above, the DP's clusters are then refined by one
    nearest-centre and one mean step, and ``error`` is that quantizer's exact error."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    dp = _dp(x, int(k), max_points)
    cen = dp.centres(int(k))
    if dp.v.size > max_points and cen.size:
        lab = _assign(x, cen)
        cen = np.array([x[lab == c].mean() if np.any(lab == c) else cen[c] for c in range(cen.size)])
        cen = np.sort(cen)
    lab = _assign(x, cen)
    used = np.unique(lab[lab >= 0])
    remap = np.full(cen.size, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    cen = cen[used]
    if cen.size == 0:
        return float(np.sum(x * x)), cen, np.full(x.size, -1, dtype=np.int64)
    lab = np.where(lab >= 0, remap[np.maximum(lab, 0)], -1)
    q = np.where(lab >= 0, cen[np.maximum(lab, 0)], 0.0)
    return float(np.sum((x - q) ** 2)), cen, lab


def kmeans_errors(x, bit_choices, *, max_points: int = KMEANS_MAX_POINTS) -> np.ndarray:
    """E_j of the k-means quantizer for every j of ``bit_choices`` from one DP (upper bounds
    above ``max_points`` non-zeros, module docstring)."""
    K = 2 ** max(bit_choices)
    dp = _dp(x, K, max_points)
    return np.array([dp.best(2 ** j)[0] for j in bit_choices])


def _uniform(x, j: int):
    from .projection import project

    ls = LevelSet("thesis", None, 2 ** (j - 1), True)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.any(x):
        return 0.0, np.array([1.0]), np.zeros(x.size)
    r = project(x, ls, init="auto")
    return float(np.sum((x - r.G) ** 2)), np.array([float(r.alpha)]), np.asarray(r.Q)


def quant_errors(x, bit_choices, quantizer: str = "kmeans", *, max_points: int = KMEANS_MAX_POINTS) -> np.ndarray:
    """E_j(x) for every j of ``bit_choices`` (``quantizer``: "kmeans" or "uniform", module docstring)."""
    if quantizer == "kmeans":
        return kmeans_errors(x, bit_choices, max_points=max_points)
    if quantizer == "uniform":
        return np.array([_uniform(x, j)[0] for j in bit_choices])
    raise InvalidParameterError(f"quantizer must be one of {QUANTIZERS}, got {quantizer!r}")


@dataclass
class BudgetQuantizer:
    """One layer's quantization at ``bits``: ``values[codes]`` at the non-zero positions.

    kind : "kmeans" (``codebook`` = the non-zero values, ascending, at most 2^bits) or
        "uniform" (``codebook = [alpha]``; value of code c is ``alpha * levels[c]`` with
        levels ``-2^(bits-1)..-1, 1..2^(bits-1)``)
    codes : per entry of the input the code, or -1 where the value is 0
    error : ``||x - quantized||^2``
    """

    kind: str
    bits: int
    codebook: np.ndarray
    codes: np.ndarray
    error: float

    @property
    def values(self) -> np.ndarray:
        return codebook_values(self.kind, self.bits, self.codebook)

    def dequantized(self) -> np.ndarray:
        v = self.values
        return np.where(self.codes >= 0, v[np.maximum(self.codes, 0)] if v.size else 0.0, 0.0)


def codebook_values(kind: str, bits: int, codebook) -> np.ndarray:
    """The non-zero values a code indexes (see :class:`BudgetQuantizer`)."""
    cb = np.asarray(codebook, dtype=np.float64).reshape(-1)
    if kind == "kmeans":
        return cb
    if kind == "uniform":
        q = 2 ** (int(bits) - 1)
        lv = np.concatenate([np.arange(-q, 0), np.arange(1, q + 1)]).astype(np.float64)
        return cb[0] * lv
    raise ValueError(f"unknown quantizer kind {kind!r}")


def quantize_values(x, bits: int, quantizer: str = "kmeans", *, max_points: int = KMEANS_MAX_POINTS) -> BudgetQuantizer:
    """The best ``bits``-bit quantizer of the entries of ``x`` (E_j's minimiser), zero free."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if quantizer == "kmeans":
        err, cen, lab = kmeans_1d(x, 2 ** int(bits), max_points=max_points)
        return BudgetQuantizer("kmeans", int(bits), cen, lab, err)
    if quantizer == "uniform":
        err, cb, Q = _uniform(x, int(bits))
        q = 2 ** (int(bits) - 1)
        Qi = np.rint(Q).astype(np.int64)
        codes = np.where(Qi < 0, Qi + q, Qi + q - 1)
        codes = np.where(Qi == 0, -1, codes)
        return BudgetQuantizer("uniform", int(bits), cb, codes, err)
    raise InvalidParameterError(f"quantizer must be one of {QUANTIZERS}, got {quantizer!r}")


# ----------------------------------------------------------------------------- knapsacks
def knapsack_greedy(profit, weight, capacity) -> np.ndarray:
    """Greedy for the 0-1 knapsack ``max <p, x> s.t. <w, x> <= capacity`` (p >= 0, w > 0):
    items by ``p/w`` descending (ties: the earlier item first) are taken while they fit; at
    the first that does not (the split item s), the remaining ones are still scanned in the
    same order and taken where they fit (the "greedy fill"). Returns the boolean selection.

    What it guarantees (tests/test_budget.py): its profit z_G satisfies
    ``z_LP - p_s <= z_G <= z* <= z_LP`` (z_LP: the fractional optimum, the prefix plus a
    fraction of s), so z_G >= z* - p_s; it is optimal (z_G = z*) when every item fits,
    when the prefix fills the capacity exactly, or when all weights are equal (then the
    knapsack is "keep the k largest profits"). Sorting makes it O(n log n)."""
    p = np.asarray(profit, dtype=np.float64).reshape(-1)
    w = np.asarray(weight, dtype=np.float64).reshape(-1)
    if p.shape != w.shape:
        raise ValueError(f"profit and weight must have the same size, got {p.size} and {w.size}")
    if np.any(w <= 0) or np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError("knapsack_greedy needs finite profits >= 0 and weights > 0")
    order = np.argsort(-(p / w), kind="stable")
    cw = np.cumsum(w[order])
    k = int(np.searchsorted(cw, capacity, side="right"))       # items order[:k] fit
    take = np.zeros(p.size, dtype=bool)
    take[order[:k]] = True
    left = capacity - (cw[k - 1] if k else 0.0)
    rest = order[k + 1:]
    wmin = w[rest].min() if rest.size else np.inf
    pos = 0
    while left >= wmin and pos < rest.size:        # greedy fill: each take lowers `left`
        ok = np.flatnonzero(w[rest[pos:]] <= left)
        if ok.size == 0:
            break
        i = rest[pos + ok[0]]
        take[i] = True
        left -= w[i]
        pos += ok[0] + 1
    return take


@dataclass
class MCKPResult:
    """``choice[i]``: the item taken from group i; ``profit``, ``weight``: their sums;
    ``lp_bound``: the optimum of the linear relaxation (an upper bound of the MCKP optimum);
    ``split_gain``: the profit step of the first refused upgrade (0 when none was refused), so
    that ``lp_bound - split_gain <= profit``."""

    choice: np.ndarray
    profit: float
    weight: float
    lp_bound: float
    split_gain: float = 0.0


def _hull(w, p):
    """Indices of the upper-left convex hull of group items (w, p): the LP-undominated items,
    by weight ascending, with strictly increasing profit and decreasing incremental density."""
    order = np.lexsort((-p, w))
    hull = []
    for i in order:
        if hull and w[i] == w[hull[-1]]:
            continue                                       # same weight, lower profit
        if hull and p[i] <= p[hull[-1]]:
            continue                                       # dominated: heavier and not better
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # b is LP-dominated when the slope a->i is at least the slope a->b
            if (p[b] - p[a]) * (w[i] - w[a]) <= (p[i] - p[a]) * (w[b] - w[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def mckp_greedy(profits, weights, capacity) -> MCKPResult:
    """Greedy for the multiple-choice knapsack (one item per group,
    ``max sum p_ij x_ij s.t. sum w_ij x_ij <= capacity``), the source's Section 3.4:

    1. per group, the LP-undominated items (:func:`_hull`: weight ascending, profit and
       incremental density ``(p_t - p_{t-1}) / (w_t - w_{t-1})`` monotone);
    2. start from every group's lightest item (ValueError if even they do not fit);
    3. apply the upgrades ``t-1 -> t`` of all groups by density, descending, while they fit;
       after the first that does not, later upgrades of *other* groups are still taken where
       they fit (a group whose upgrade was refused stays where it is).

    Guarantees (tests/test_budget.py): the result is feasible and
    ``lp_bound - dp_s <= profit <= opt <= lp_bound`` with dp_s the profit step of the first
    refused upgrade (the LP optimum takes a fraction of it), so it is optimal when no upgrade
    is refused or the accepted upgrades fill the capacity exactly (the LP solution is then
    integral). ``profits``, ``weights``: sequences of per-group 1-D arrays."""
    P = [np.asarray(p, dtype=np.float64).reshape(-1) for p in profits]
    Wt = [np.asarray(w, dtype=np.float64).reshape(-1) for w in weights]
    if len(P) != len(Wt) or any(p.shape != w.shape or p.size == 0 for p, w in zip(P, Wt)):
        raise ValueError("profits and weights must be per-group arrays of equal, non-zero sizes")
    hulls = [_hull(w, p) for w, p in zip(Wt, P)]
    choice = np.array([h[0] for h in hulls], dtype=np.int64)
    weight = float(sum(Wt[g][choice[g]] for g in range(len(P))))
    if weight > capacity:
        raise ValueError(f"infeasible: the lightest choices weigh {weight:g} > capacity {capacity:g}")
    steps = []
    for g, h in enumerate(hulls):
        for t in range(1, len(h)):
            dw = Wt[g][h[t]] - Wt[g][h[t - 1]]
            dp = P[g][h[t]] - P[g][h[t - 1]]
            steps.append((-dp / dw, g, t, dw, dp))
    steps.sort(key=lambda s: (s[0], s[1], s[2]))
    pos = np.zeros(len(P), dtype=np.int64)
    blocked = np.zeros(len(P), dtype=bool)
    profit = float(sum(P[g][choice[g]] for g in range(len(P))))
    split = None              # (weight before it, profit before it, dw, dp) of the first refused upgrade
    for _, g, t, dw, dp in steps:
        if blocked[g] or pos[g] != t - 1:
            continue
        if weight + dw <= capacity:
            weight += dw
            profit += dp
            pos[g] = t
            choice[g] = hulls[g][t]
        else:
            blocked[g] = True
            if split is None:
                split = (weight, profit, dw, dp)
    if split is None:
        return MCKPResult(choice, profit, weight, profit, 0.0)
    w0, p0, dw, dp = split     # the LP optimum: the accepted prefix plus the fitting fraction of the split upgrade
    return MCKPResult(choice, profit, weight, p0 + dp * (capacity - w0) / dw, dp)


# ----------------------------------------------------------------------------- projections
def project_sparsity(Wbar, bits, budget: int) -> list[np.ndarray]:
    """The compression projection with fixed bit widths (eq. 8, Proposition 1): boolean masks
    X_l of the entries kept, by :func:`knapsack_greedy` on profit ``Wbar^2`` and weight
    ``bits_l`` per entry of layer l; the projection is ``X_l * Wbar_l``."""
    flat = [np.asarray(W, dtype=np.float64).reshape(-1) for W in Wbar]
    if len(flat) != len(bits):
        raise ValueError(f"{len(flat)} layers but {len(bits)} bit widths")
    p = np.concatenate(flat) ** 2
    w = np.concatenate([np.full(f.size, float(b)) for f, b in zip(flat, bits)])
    take = knapsack_greedy(p, w, float(budget))
    out, s = [], 0
    for W, f in zip(Wbar, flat):
        out.append(take[s:s + f.size].reshape(np.shape(W)))
        s += f.size
    return out


def project_bits(Vbar, nnz, budget: int, bit_choices=DEFAULT_BIT_CHOICES, quantizer: str = "kmeans",
                 *, max_points: int = KMEANS_MAX_POINTS):
    """The compression projection with fixed sparsity (eq. 10, Proposition 2): per layer the bit
    width j of ``bit_choices`` by :func:`mckp_greedy` on profit ``-E_j(Vbar_l)`` and weight
    ``j nnz_l``; returns ``(bits, quantizers, mckp_result)``, the projection being each
    quantizer's dequantized values. ValueError when even the smallest width does not fit."""
    choices = tuple(int(j) for j in bit_choices)
    E = [quant_errors(V, choices, quantizer, max_points=max_points) for V in Vbar]
    res = mckp_greedy([-e for e in E], [np.array(choices, dtype=np.float64) * n for n in nnz], float(budget))
    bits = [choices[c] for c in res.choice]
    qs = [quantize_values(V, b, quantizer, max_points=max_points) for V, b in zip(Vbar, bits)]
    return bits, qs, res


@dataclass
class BudgetProjection:
    """Result of :func:`budget_project`: per layer the bit width, the keep mask, the quantizer
    (whose ``dequantized()`` is the projected layer), and ``weight_bits`` = sum b_l nnz_l."""

    bits: list
    masks: list
    quantizers: list
    weight_bits: int
    n_rounds: int

    def weights(self, shapes, dtype="float64"):
        return [q.dequantized().reshape(s).astype(dtype) for q, s in zip(self.quantizers, shapes)]


def budget_project(Ws, budget: int, bit_choices=DEFAULT_BIT_CHOICES, quantizer: str = "kmeans", *,
                   bits0=None, max_rounds: int = 5, max_points: int = KMEANS_MAX_POINTS) -> BudgetProjection:
    """An approximate projection of the layers ``Ws`` onto ``{sum_l b(G_l) ||G_l||_0 <= budget}``
    by alternating the two projections: masks by :func:`project_sparsity` at the current bit
    widths (start: ``bits0``, default the smallest choice), then bit widths by
    :func:`project_bits` on the kept entries ``X_l * W_l`` (the others are 0, whose error is
    the same at every width); until the widths repeat or ``max_rounds``. The result is the
    quantization of the kept entries at the final widths; quantizing can only turn non-zeros
    into zeros, so ``weight_bits <= budget``."""
    choices = tuple(int(j) for j in bit_choices)
    bits = [min(choices)] * len(Ws) if bits0 is None else [int(b) for b in bits0]
    flat = [np.asarray(W, dtype=np.float64).reshape(-1) for W in Ws]
    seen = set()
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        masks = project_sparsity(flat, bits, budget)
        kept = [f * m for f, m in zip(flat, masks)]
        nnz = [int(m.sum()) for m in masks]
        new_bits, qs, _ = project_bits(kept, nnz, budget, choices, quantizer, max_points=max_points)
        key = tuple(new_bits)
        done = key == tuple(bits) or key in seen
        seen.add(tuple(bits))
        bits = new_bits
        if done:
            break
    # final: the masks of the final widths (the budget is met for them), quantized at those widths
    masks = project_sparsity(flat, bits, budget)
    qs = [quantize_values(f * m, b, quantizer, max_points=max_points) for f, m, b in zip(flat, masks, bits)]
    wb = weight_bits(bits, [int(np.sum(q.codes >= 0)) for q in qs])
    masks = [np.asarray(q.codes >= 0).reshape(np.shape(W)) for q, W in zip(qs, Ws)]
    return BudgetProjection(bits, masks, qs, wb, rounds)
