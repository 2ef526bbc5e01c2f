r"""The G-update: projection of a weight matrix onto a scaled level set
(thesis Section 4.2, eq. 4.11-4.17, Algorithm 4).

Subproblem (eq. 4.11/4.12; mu does not change the minimiser)::

    minimise  J(alpha, Q) = ||W - alpha Q||^2   over alpha > 0, Q in C^{n_out x n_in}

with C the integer codes of a :class:`~admmnet.quant.levels.LevelSet`
(``{-(2^N-1), ..., 2^N-1}`` for the thesis). Expanding (eq. 4.13),
``J = sum w^2 + alpha^2 sum q^2 - 2 alpha sum w q``, so

* for fixed Q, J is a convex parabola in alpha and dJ/dalpha = 0 (eq. 4.14/4.15)
  gives ``alpha = <W, Q> / <Q, Q>`` (eq. 4.16);
* for fixed alpha, J separates over entries and ``Q = Pi_C(W / alpha)``, the
  nearest code of every entry (eq. 4.17, :func:`~admmnet.quant.levels.round_to_codes`).

:func:`project` alternates these two steps (Algorithm 4) with early stopping on
patience, in the order Q-step then alpha-step, so that the returned alpha always
satisfies eq. 4.16 for the returned Q (and Q satisfies eq. 4.17 for alpha once
Q stops changing). Rounding ties go to the even code (``xp.round``). The best
iterate (per row) is returned; "no improvement" for the patience counter means
a decrease of less than 8 eps ||W_row||^2 (float noise). ``granularity="row"`` solves the same problem independently for every
output row of W (one alpha per row, shape ``(n_out, 1)``): the objective is a
sum over rows with no coupling, so each row is its own instance of eq. 4.12.

Initialisation. The alternation is a coordinate descent: each step can only
lower J, but it stops in the first fixed point it meets, and for multi-level
grids almost every unclipped alpha is (nearly) a fixed point (e.g. uniform W:
<W, round(W/alpha)>/<round(W/alpha), round(W/alpha)> ~ alpha), so the start
decides the answer. admmnet therefore starts from a global search over alpha:

* ``init="exact"``: the global optimum by breakpoint enumeration. As alpha
  decreases from +inf, ``Pi_C(W/alpha)`` changes only when alpha crosses a
  threshold ``|w_i| / (k + 1/2)``, k = 0..qmax-1, where ``|q_i|`` grows from k
  to k+1 (adding ``|w_i|`` to ``<W,Q>`` and ``2k+1`` to ``<Q,Q>``). Every
  candidate Q is a prefix of these events sorted by decreasing threshold, and
  its best loss is ``||W||^2 - <W,Q>^2/<Q,Q>``; cumulative sums score all
  prefixes at once. The best prefix's ``alpha = <W,Q>/<Q,Q>`` starts the
  alternation, whose first Q-step then lands on the global minimiser (its loss
  can only be lower, and nothing is lower than the minimum). Cost: a sort of
  ``size(W) * qmax`` events.
* ``init="grid"``: a zooming search over alpha, each candidate scored exactly
  (``<W,Q>`` and ``<Q,Q>`` of ``Q = Pi_C(W/alpha)`` read off the sorted |W| by
  binary search, O(qmax log n) per candidate per row). Candidates (normalised
  so that max|w| = 1 per row/layer): log-spaced scales ``1/t``, t (the code
  the largest weight would get) from 0.7 to 1000*qmax, plus per row the
  classic ``mean|W|`` (optimal for binary, near it for ternary), ``3 rms(W)/qmax``
  (Gaussian-like weights) and the warm start ``alpha0``; then 9-point rounds
  spanning one step either side of the best, the step shrinking 4x per round
  down to 0.05%. Near-optimal for the large matrices it is meant for (and
  exact up to that resolution where the loss is smooth in alpha).
* ``init="auto"`` (default): "exact" when ``size(W) * qmax <= EXACT_MAX_EVENTS``
  (2**18), else "grid". Binary needs neither: Q = sign(W) for every alpha > 0,
  so ``alpha = mean|W|`` is exact after one step.

The searches score candidates in float64 (where the namespace has it): the
score ``<W,Q>^2/<Q,Q> = ||W||^2 - loss`` must resolve losses far below
``||W||^2``, which float32 cumulative sums cannot for many-level grids.

All arithmetic is done on W divided by its max |entry| (per row/layer), so
weights of 1e30 or 1e-30 neither overflow nor underflow; the scale is put back
into alpha at the end and ``G = alpha * Q`` is computed once, exactly, in W's
dtype. Only array-API functions of W's namespace are used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._backend import get_namespace, to_float
from ..kernels.reference import proj_step as _reference_step
from .levels import LevelSet, round_to_codes

__all__ = ["ProjectionResult", "project", "quantize_weights", "GRANULARITIES", "INITS", "EXACT_MAX_EVENTS"]

GRANULARITIES = ("layer", "row")
INITS = ("auto", "exact", "grid")
#: ``init="auto"`` uses the exact breakpoint search up to this many events (size(W) * qmax).
EXACT_MAX_EVENTS = 1 << 18
_GRID_SIZE = 96                  # coarse candidates (at most)
_GRID_MIN = 24                   # coarse candidates (at least)
_GRID_QUERY_BUDGET = 1 << 21     # coarse rows * candidates * qmax binary searches
_ZOOM_SIZE = 9
_ZOOM_STOP = 5e-4                # stop zooming once the step is below 0.05%
_GRID_T_MIN = 0.7
_GRID_T_MAX_PER_QMAX = 1000.0


@dataclass
class ProjectionResult:
    """Output of :func:`project`.

    G : ``alpha * Q`` (exactly), shape and dtype of W
    alpha : positive scale(s): shape ``()`` for granularity "layer",
        ``(n_out, 1)`` for "row"; W's namespace and dtype
    Q : integer-valued codes in the level set, W's shape and dtype
    loss : ``||W - G||^2`` as a Python float
    n_iter : alternation iterations run (0 for an all-zero W)
    stop : "converged" (Q stopped changing in every row: a fixed point of both
        updates), "patience" (every row converged or did not improve its loss
        for ``patience`` consecutive iterations), "max_iter", or "zero_input"
    """

    G: Any
    alpha: Any
    Q: Any
    loss: float
    n_iter: int
    stop: str


def _check_int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")


def _refine_alpha(xp, Wn, Q, alpha_prev):
    """eq. 4.16 per row: alpha = <W,Q>/<Q,Q>; rows where <Q,Q> == 0 or <W,Q> <= 0
    (all codes zero, or an all-zero binary row) keep ``alpha_prev``."""
    dot = xp.sum(Wn * Q, axis=1, keepdims=True)
    qq = xp.sum(Q * Q, axis=1, keepdims=True)
    ok = (qq > 0) & (dot > 0)
    return xp.where(ok, dot / xp.where(ok, qq, xp.ones_like(qq)), alpha_prev)


def _work_dtype(xp, dt):
    return xp.float64 if hasattr(xp, "float64") else dt


def _pick(xp, score, values):
    """Per row, ``values[r, argmax_m score[r, m]]`` and that score, both (R, 1)."""
    R, M = score.shape
    j = xp.argmax(score, axis=1)
    flat = j + xp.arange(R, dtype=j.dtype) * M
    v = xp.reshape(xp.take(xp.reshape(values, (-1,)), flat), (R, 1))
    s = xp.reshape(xp.take(xp.reshape(score, (-1,)), flat), (R, 1))
    return v, s


def _exact_init(xp, An, level_set):
    """Global minimiser's alpha per row by breakpoint enumeration (module docstring).

    ``An``: |W| normalised, shape (R, C), in the working dtype. Returns alpha
    (R, 1); 0 for an all-zero row."""
    R, C = An.shape
    K = level_set.qmax
    E = K * C
    dt = An.dtype
    half = xp.arange(K, dtype=dt) + 0.5                                   # (K,)
    thr = xp.reshape(An[:, None, :] / half[None, :, None], (R, E))        # event e = k*C + i
    # unstable (10x faster in NumPy): the order inside a group of equal thresholds only changes
    # which partial groups are scored, and those are valid codes too; every full group is a
    # prefix in any order, so the best prefix's loss is the global minimum either way
    order = xp.argsort(thr, axis=1, descending=True, stable=False)
    rows = xp.reshape(xp.arange(R, dtype=order.dtype), (R, 1))
    col = order % C
    a = xp.reshape(xp.take(xp.reshape(An, (-1,)), xp.reshape(col + rows * C, (-1,))), (R, E))
    b = xp.astype(2 * (order // C) + 1, dt)
    D = xp.cumulative_sum(a, axis=1)                                      # <W,Q> of each prefix
    P = xp.cumulative_sum(b, axis=1)                                      # <Q,Q> of each prefix (>= 1)
    alpha, _ = _pick(xp, D * D / P, D / P)                                # score = ||W||^2 - loss
    return alpha


def _grid_scores(xp, Aoff, T, C, alphas, K):
    """Score of ``Q = Pi_C(W / alpha)`` for every candidate ``alphas[r, m]`` of every row r,
    without touching W: O(log C) per (r, m, k) by binary search in the sorted |W| rows.

    ``Aoff``: the rows of |W| (normalised to [0, 1]) sorted ascending, row r shifted by
    +4r and flattened, so that one 1-D searchsorted serves all rows. ``T[r, p]``:
    suffix sums ``sum_{i >= p} A[r, i]``. With ``p_k`` = #{|w| < (k + 1/2) alpha}
    (entries whose code is <= k), ``<W,Q> = sum_k T[p_k]`` and
    ``<Q,Q> = sum_k (2k + 1)(C - p_k)`` (sums of non-negative terms: no
    cancellation). Returns (score = <W,Q>^2/<Q,Q>, the refined alpha = <W,Q>/<Q,Q>),
    both (R, M); score -1 and alpha 0 where Q = 0."""
    R, M = alphas.shape
    dt = T.dtype
    half = xp.arange(K, dtype=dt) + 0.5
    rows = xp.reshape(xp.arange(R, dtype=dt), (R, 1, 1))
    # thresholds above 1 (= max |w|) all count the whole row: clip so rows cannot overlap
    query = xp.clip(alphas[:, :, None] * half[None, None, :], 0.0, 2.0) + 4.0 * rows
    pos = xp.reshape(xp.searchsorted(Aoff, xp.reshape(query, (-1,)), side="left"), (R, M, K))
    ri = xp.reshape(xp.arange(R, dtype=pos.dtype), (R, 1, 1))
    p = pos - ri * C                                                      # 0..C within the row
    Tp = xp.reshape(xp.take(xp.reshape(T, (-1,)), xp.reshape(p + ri * (C + 1), (-1,))), (R, M, K))
    dot = xp.sum(Tp, axis=2)
    odd = xp.reshape(2 * xp.arange(K, dtype=p.dtype) + 1, (1, 1, K))
    qq = xp.astype(xp.sum(odd * (C - p), axis=2), dt)
    ok = (qq > 0) & (dot > 0)
    safe = xp.where(ok, qq, xp.ones_like(qq))
    score = xp.where(ok, dot * dot / safe, -xp.ones_like(dot))
    return score, xp.where(ok, dot / safe, xp.zeros_like(dot))


def _grid_init(xp, An, level_set, alpha0n):
    """Zooming search over candidate scales, each scored exactly (:func:`_grid_scores`).

    ``An``: |W| normalised to max 1 per row, (R, C), working dtype. Coarse
    level: M log-spaced scales 1/t, t from 0.7 to 1000*qmax (M = 96, fewer for
    large R*qmax to bound the work), plus per row ``mean|W|``, ``3 rms(W)/qmax``
    and ``alpha0``; then 9-point rounds spanning one step either side of the
    best so far, the step shrinking 4x per round until it is below 0.05%.
    Returns the refined alpha (R, 1) of the best candidate (0 for a zero row)."""
    R, C = An.shape
    K = level_set.qmax
    dt = An.dtype
    A = xp.sort(An, axis=1, stable=False)       # values only: ties are indistinguishable, and the
                                                # stable default (NumPy: merge sort) is ~10x slower
    T = xp.flip(xp.cumulative_sum(xp.flip(A, axis=1), axis=1, include_initial=True), axis=1)
    Aoff = xp.reshape(A + 4.0 * xp.reshape(xp.arange(R, dtype=dt), (R, 1)), (-1,))
    M = max(_GRID_MIN, min(_GRID_SIZE, _GRID_QUERY_BUDGET // (R * K)))
    t_lo, t_hi = _GRID_T_MIN, _GRID_T_MAX_PER_QMAX * K
    log_step = math.log(t_hi / t_lo) / (M - 1)
    coarse = xp.asarray([1.0 / (t_lo * math.exp(i * log_step)) for i in range(M)], dtype=dt)
    cands = [xp.broadcast_to(coarse[None, :], (R, M)),
             xp.mean(A, axis=1, keepdims=True),
             3.0 * xp.sqrt(xp.mean(A * A, axis=1, keepdims=True)) / K]
    if alpha0n is not None:
        cands.append(xp.broadcast_to(alpha0n, (R, 1)))
    alphas = xp.concat(cands, axis=1)
    alphas = xp.where(alphas > 0, alphas, xp.ones_like(alphas))
    score, refined = _grid_scores(xp, Aoff, T, C, alphas, K)
    centre, best_score = _pick(xp, score, alphas)
    best_alpha, _ = _pick(xp, score, refined)
    while log_step > _ZOOM_STOP:
        offsets = [math.exp(log_step * (-1.0 + 2.0 * i / (_ZOOM_SIZE - 1))) for i in range(_ZOOM_SIZE)]
        cand = centre * xp.asarray(offsets, dtype=dt)[None, :]
        score, refined = _grid_scores(xp, Aoff, T, C, cand, K)
        c2, s2 = _pick(xp, score, cand)
        a2, _ = _pick(xp, score, refined)
        better = s2 > best_score
        centre = xp.where(better, c2, centre)
        best_alpha = xp.where(better, a2, best_alpha)
        best_score = xp.where(better, s2, best_score)
        log_step /= 4.0
    return best_alpha


def _alpha0_normalised(xp, alpha0, scale, R, granularity, dtype):
    try:
        a = xp.asarray(alpha0, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"alpha0 must be a positive number or array, got {alpha0!r}") from exc
    n = math.prod(a.shape)
    if n == 1:
        a = xp.reshape(a, (1, 1))
    elif granularity == "row" and n == R:
        a = xp.reshape(a, (R, 1))
    else:
        per_row = f" or {R} (one per row)" if granularity == "row" else ""
        raise ValueError(f"alpha0 has {n} entries; expected 1{per_row}")
    a = a / xp.astype(scale, dtype)
    ok = xp.isfinite(a) & (a > 0)
    return xp.where(ok, a, xp.zeros_like(a))        # non-positive or non-finite entries are ignored


def project(W, level_set: LevelSet, *, granularity: str = "layer", max_iter: int = 50, patience: int = 3,
            alpha0=None, init: str = "auto", kernel=None) -> ProjectionResult:
    r"""Project W onto ``{alpha * Q : alpha > 0, Q in level_set}`` (thesis Algorithm 4).

    Minimises ``||W - alpha Q||^2`` (eq. 4.12) by alternating, per layer or per row,

    * ``Q <- Pi_C(W / alpha)`` (eq. 4.17: nearest code, ties to even), then
    * ``alpha <- <W, Q> / <Q, Q>`` (eq. 4.16; kept unchanged where ``<Q,Q> = 0``),

    starting from ``init`` (see the module docstring: "exact" breakpoint search,
    "grid" zooming search, or "auto" = exact when ``W.size * qmax <= 2**18``).
    ``alpha0`` (a warm start: a scalar, or one per row for "row", in W's units)
    is one more candidate of the grid search; the exact search does not need it.
    The best
    ``(alpha, Q)`` seen (by loss, per row for "row") is returned, not the last
    iterate; since every Q-step is followed by an alpha-step, the returned alpha
    always satisfies eq. 4.16 for the returned Q, and on ``stop="converged"``
    the Q satisfies eq. 4.17 for that alpha too.

    Stops when Q no longer changes ("converged"), when each row has either
    converged or not improved its loss for ``patience`` consecutive iterations
    ("patience"), or after ``max_iter`` iterations.

    ``kernel``: the alternation step ``(Wn, alpha, Q_prev, qmax, zero) -> (Q, alpha, loss, same)``
    of a kernel table (``Kernels.proj_step``: Numba / CuPy do the rounding and
    both sums in one pass); default the array-API reference.

    W: a real floating array (any array-API backend; 2-D for "row", any shape
    for "layer"). Raises ValueError on NaN/inf in W, a bad granularity, or a
    bad ``max_iter``/``patience``/``init``/``alpha0``.
    """
    if not isinstance(level_set, LevelSet):
        raise ValueError(f"level_set must be a LevelSet (see make_level_set), got {type(level_set).__name__}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    _check_int("max_iter", max_iter, 1)
    _check_int("patience", patience, 1)
    xp = get_namespace(W)
    if not xp.isdtype(W.dtype, "real floating"):
        raise ValueError(f"W must be a real floating array, got dtype {W.dtype}")
    if granularity == "row" and W.ndim != 2:
        raise ValueError(f"granularity='row' needs a 2-D W (n_out x n_in), got shape {tuple(W.shape)}")
    if not bool(xp.all(xp.isfinite(W))):
        from ..exceptions import NonFiniteError

        raise NonFiniteError("W contains NaN or inf")
    dt = W.dtype
    shape = tuple(W.shape)
    W2 = xp.reshape(W, (1, -1)) if granularity == "layer" else W
    R, C = W2.shape
    # positive default scale for rows with nothing to scale (all-zero W row): 1.0 in
    # normalised units (G = 0 * 1 there), the smallest normal number for binary (G = +tiny)
    default_value = 1.0 if level_set.zero else float(xp.finfo(dt).smallest_normal)
    default = xp.full((R, 1), default_value, dtype=dt)

    absW = xp.abs(W2)
    gmax = xp.max(absW) if R * C > 0 else xp.asarray(0.0, dtype=dt)
    if R * C == 0 or not bool(gmax > 0):
        Q = round_to_codes(xp.zeros_like(W2), level_set)
        alpha = default
        return _result(xp, W, shape, granularity, alpha, Q, gmax, 0, "zero_input")

    scale = xp.max(absW, axis=1, keepdims=True)
    scale = xp.where(scale > 0, scale, xp.ones_like(scale))
    Wn = W2 / scale
    An = absW / scale

    Q_prev = None
    if not level_set.zero:
        # binary: Q = sign(W) whatever alpha > 0 is, so eq. 4.16 (alpha = mean|W|) is exact
        Q_prev = round_to_codes(Wn, level_set)
        alpha = _refine_alpha(xp, Wn, Q_prev, default)
    else:
        wt = _work_dtype(xp, dt)
        An_w = xp.astype(An, wt)
        if init == "exact" or (init == "auto" and R * C * level_set.qmax <= EXACT_MAX_EVENTS):
            alpha = _exact_init(xp, An_w, level_set)
        else:
            a0 = None if alpha0 is None else _alpha0_normalised(xp, alpha0, scale, R, granularity, wt)
            alpha = _grid_init(xp, An_w, level_set, a0)
        alpha = xp.astype(alpha, dt)
        alpha = xp.where(alpha > 0, alpha, default)     # all-zero rows

    # "improved" for the patience counter means by more than float noise; the best
    # iterate is still kept on any decrease
    tol = 8.0 * float(xp.finfo(dt).eps) * xp.sum(Wn * Wn, axis=1, keepdims=True)
    best_loss = xp.full((R, 1), math.inf, dtype=dt)
    best_alpha, best_Q = alpha, xp.zeros_like(Wn)
    bad = xp.zeros((R, 1), dtype=xp.int32)
    stop = "max_iter"
    n_iter = 0
    step = kernel if kernel is not None else _reference_step
    for n_iter in range(1, max_iter + 1):
        # eq. 4.17 (Q = nearest code of Wn / alpha), then eq. 4.16 (alpha = <W,Q>/<Q,Q>) and the row loss
        Q, alpha, loss, same = step(Wn, alpha, Q_prev, level_set.qmax, level_set.zero)
        better = loss < best_loss
        prev_best = best_loss
        best_alpha = xp.where(better, alpha, best_alpha)
        best_Q = xp.where(better, Q, best_Q)
        best_loss = xp.where(better, loss, best_loss)
        progress = loss < prev_best - tol
        bad = xp.where(progress, xp.zeros_like(bad), bad + 1)
        if Q_prev is not None:
            if bool(xp.all(same)):
                stop = "converged"
                break
            if bool(xp.all(same | (bad >= patience))):
                stop = "patience"
                break
        elif bool(xp.all(bad >= patience)):
            stop = "patience"
            break
        Q_prev = Q
    return _result(xp, W, shape, granularity, best_alpha * scale, best_Q, gmax, n_iter, stop)


def _result(xp, W, shape, granularity, alpha, Q2, gmax, n_iter, stop) -> ProjectionResult:
    G = xp.reshape(alpha * Q2, shape)
    Q = xp.reshape(Q2, shape)
    if granularity == "layer":
        alpha = xp.reshape(alpha, ())
    # ||W - G||^2 computed relative to max|W| so that float32 weights of 1e30 do not overflow
    g = gmax if bool(gmax > 0) else xp.asarray(1.0, dtype=W.dtype)
    r = (W - G) / g
    loss = to_float(xp.sum(r * r)) * to_float(g) ** 2
    return ProjectionResult(G=G, alpha=alpha, Q=Q, loss=loss, n_iter=n_iter, stop=stop)


def quantize_weights(W, level_set: LevelSet, **kw):
    """``project(W, level_set, **kw).G``: W's nearest point ``alpha * Q`` of the scaled level set."""
    return project(W, level_set, **kw).G
