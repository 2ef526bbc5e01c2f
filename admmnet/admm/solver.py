r"""QNN-ADMM state and sweeps (docs/method.md; thesis Algorithm 2).

The lifted problem (eq. 3.6), with an optional full-precision bias b_l:

.. math::
    \min\; L(z_L, y) + \langle z_L - W_L a_{L-1} - b_L, \lambda\rangle
      + \tfrac{\beta}{2}\|z_L - W_L a_{L-1} - b_L\|^2
      + \sum_{l<L}\Big[\tfrac{\beta}{2}\|z_l - W_l a_{l-1} - b_l\|^2
      + \tfrac{\gamma}{2}\|a_l - h(z_l)\|^2\Big] + \sum_l \tfrac{\mu}{2}\|W_l - G_l\|^2,
    \quad G_l = \alpha_l Q_l \in C_l.

One iteration (:func:`admm_iteration`) is a backward sweep l = L..1
(layer L: z_L -> W_L -> G_L; layer l < L: a_l -> z_l -> W_l -> G_l), a forward
sweep l = 1..L (layer l < L: W_l -> G_l -> z_l -> a_l; layer L: W_L -> G_L -> z_L)
and the multiplier update. ``level_set=None`` is full-precision ADMM: no G, no
mu term (the dlADMM-style baseline).

Penalty continuation: beta, gamma and mu are multiplied by ``penalty_growth``
(``mu_growth`` for mu) after every iteration up to ``max_penalty``, so the
lifted variables are driven towards a consistent forward pass and W towards
its quantized copy G. With growth 1 this is the thesis's fixed-penalty ADMM.

Matrix products per iteration (m samples; counted by
:func:`admmnet.kernels.gemm.count_gemms`, ``benchmarks/kernels.py`` prints the
schedule). MNIST [784,200,200,10], full-precision preset (exact solves, bias,
forward reset, momentum), in multiply-adds per sample:

=====================================  ===========  ===========
product                                every time   reused
=====================================  ===========  ===========
W_1 a_0 (reset, backward, forward)     3 x 156.8k   2 x 156.8k  (backward = the reset's)
t_1 a_0^T (W_1 update, both sweeps)    2 x 156.8k   1 x 156.8k  (forward = backward's)
W_2 a_1, W_3 a_2 (reset, bwd, fwd)     3 x 42k      2 x 42k
W_2^T t_2 (a_1 update, both sweeps)    2 x 40k      1 x 40k
a_1 update solve / inverse product     2 x 40k      2 x 40k     (GEMM with M^{-1}: not triangular solves)
a_2 update (eq. 4.27, W_3 is 10x200)   2 x 42k      2 x 4.1k    (push-through form, 10x10 inverse)
a a^T, t a^T of layers 2 and 3         2 x 82k      2 x 82k
a_0 a_0^T                              once per fit
=====================================  ===========  ===========

In total 1318k -> 846k multiply-adds per sample: 158 -> 102 GFLOP per iteration
on 60,000 samples (27 -> 24 products; the 4 triangular-solve pairs of the
a-updates counted as products). What makes the reuse safe is
:class:`ProductCache`: products are looked up by the identity of their inputs,
and the solver never modifies an array in place once another array was derived
from it. ``ADMMParams(reuse_products=False)`` recomputes every product (the
reference path of the benchmark); both give the same iterates within float
tolerance (``tests/test_kernels.py``).
"""
from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, field, fields

import numpy as np

from .._backend import get_namespace, to_float, to_numpy
from ..kernels import Kernels, gemm
from ..quant import LevelSet, project
from . import updates as U
from .activations import Activation

__all__ = ["ADMMParams", "ADMMState", "init_state", "admm_iteration", "forward", "evaluate_objective",
           "start_quantized", "network_loss", "refit_output", "extrapolate"]


@dataclass(frozen=True)
class ADMMParams:
    """Every knob of the solver (defaults documented in :class:`admmnet.QNNADMM`)."""

    beta: float = 1.0
    gamma: float = 1.0
    mu: float = 1.0
    penalty_growth: float = 1.0
    mu_growth: float = 1.0
    max_penalty: float = 1e6
    w_solver: str = "exact"          # "exact" (eq. 4.4) | "backtracking" (Algorithm 3)
    a_solver: str = "exact"          # "exact" (eq. 4.27) | "backtracking" (Algorithm 6)
    kappa: float = 2.0               # backtracking growth factor for nu (W)
    tau: float = 2.0                 # backtracking growth factor for theta (a)
    max_backtrack: int = 50
    fista_eta: float = 0.5
    fista_max_iter: int = 100
    fista_tol: float = 1e-4
    proj_max_iter: int = 50
    proj_patience: int = 3
    granularity: str = "layer"       # "layer" | "row" scale of G
    ridge: float = 1e-3              # Tikhonov weight on W (keeps the exact solve posed when mu = 0)
    refit_output: bool = False       # after the last iteration, refit the output layer on the real features
    refit_ridge: float = 1e-5        # the refit's ridge per sample (ridge = refit_ridge * m)
    forward_reset: int = 0           # every k iterations, z_l and a_l restart from a forward pass (0: never)
    layer_scale: float = 1.0         # r: beta_l = beta r^(2(l-L)), gamma_l = gamma r^(2(l-L)+1) (1: uniform)
    momentum: float = 0.0            # omega: each iteration starts from W + omega (W - W_prev) (0: off)
    reuse_products: bool = True      # reuse matrix products whose inputs did not change (ProductCache)

    def __post_init__(self):
        for name in ("beta", "gamma", "fista_eta"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        for name in ("mu", "ridge", "refit_ridge"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        for name in ("penalty_growth", "mu_growth", "layer_scale"):
            if not getattr(self, name) >= 1.0:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("kappa", "tau"):
            if not getattr(self, name) > 1.0:
                raise ValueError(f"{name} must be > 1, got {getattr(self, name)!r}")
        if not (isinstance(self.momentum, (int, float)) and 0.0 <= self.momentum < 1.0):
            raise ValueError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        if not (isinstance(self.forward_reset, int) and self.forward_reset >= 0):
            raise ValueError(f"forward_reset must be an integer >= 0, got {self.forward_reset!r}")
        for name in ("max_backtrack", "fista_max_iter", "proj_max_iter", "proj_patience"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.w_solver not in ("exact", "backtracking"):
            raise ValueError(f"w_solver must be 'exact' or 'backtracking', got {self.w_solver!r}")
        if self.a_solver not in ("exact", "backtracking"):
            raise ValueError(f"a_solver must be 'exact' or 'backtracking', got {self.a_solver!r}")
        if self.granularity not in ("layer", "row"):
            raise ValueError(f"granularity must be 'layer' or 'row', got {self.granularity!r}")
        if not isinstance(self.reuse_products, bool):
            raise ValueError(f"reuse_products must be True or False, got {self.reuse_products!r}")

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ProductCache:
    r"""Matrix products of one iteration, reused while their inputs are unchanged.

    The solver never modifies an array in place: every update binds a new
    array. So "the inputs have not changed" is "they are the same objects",
    and a product can be looked up by the identity of its inputs. Each slot
    (e.g. ``("p", l)`` for :math:`W_l a_{l-1} + b_l`) holds one value and weak
    references to the inputs it was computed from; :meth:`get` returns the
    value while every input is still the same object (scalars: equal), and
    recomputes and replaces it otherwise. One value per slot bounds the memory
    to one array per product kind and layer, and a slot is dropped as soon as
    one of its inputs is garbage-collected (its value could never be hit again).

    What it saves per QNN-ADMM iteration (see ``gemm_schedule`` in
    ``benchmarks/kernels.py`` for the measured counts):

    * ``p_l = W_l a_{l-1} + b_l`` — computed by the z-update and reused by the
      lambda update, by :func:`evaluate_objective`, by the forward reset of a
      full-precision run (whose ``z_l`` is the same product) and by the next
      backward sweep where neither W_l nor a_{l-1} has changed;
    * ``t_l a_{l-1}^T`` of the exact W-update — the forward sweep of layer 1 reuses
      the backward sweep's (z_1 and a_0 unchanged);
    * ``a a^T`` per layer input — the input layer's is computed once per fit;
    * ``W_{l+1}^T (t_{l+1} - b_{l+1})`` and the inverse of eq. 4.27's matrix — the
      forward-sweep a-update reuses the backward sweep's;
    * backtracking: ``W' a + b'`` of an accepted step is ``t - r'`` + the bias
      shift (no GEMM), stored for the next user of the slot.
    """

    def __init__(self):
        self.enabled = True
        self.hits = 0
        self.misses = 0
        self._slots: dict = {}

    @staticmethod
    def _ref(x, on_death=None):
        if x is None or isinstance(x, (int, float, str)):
            return ("v", x)
        try:
            return ("w", weakref.ref(x, on_death))
        except TypeError:  # objects without weak references (tuples): hold the object itself
            return ("s", x)

    @staticmethod
    def _same(ref, x) -> bool:
        kind, r = ref
        if kind == "v":
            return r is x if r is None or x is None else (type(r) is type(x) and r == x)
        if kind == "w":
            return r() is x
        return r is x

    def _store(self, slot, inputs: tuple, value) -> None:
        # The slot is dropped as soon as one of its inputs is garbage-collected: a value
        # whose inputs are gone can never be hit again, and its memory is freed at once.
        # (no reference cycle: the callback knows the entry by a token, not the entry itself,
        # so a dropped entry and its value are freed at once by reference counting)
        slots = self._slots
        token = object()

        def drop(_ref, slot=slot, token=token, slots=slots):
            ent = slots.get(slot)
            if ent is not None and ent[2] is token:
                del slots[slot]

        slots[slot] = (tuple(self._ref(x, drop) for x in inputs), value, token)

    def get(self, slot, inputs: tuple, compute):
        """The value of ``slot`` for ``inputs``: cached if every input is the same object, else ``compute()``."""
        if not self.enabled:
            return compute()
        ent = self._slots.get(slot)
        if ent is not None and len(ent[0]) == len(inputs) and all(
                self._same(r, x) for r, x in zip(ent[0], inputs)):
            self.hits += 1
            return ent[1]
        self.misses += 1
        self._slots.pop(slot, None)      # free the stale value before computing the new one
        value = compute()
        self._store(slot, inputs, value)
        return value

    def peek(self, slot, inputs: tuple):
        """The cached value of ``slot`` for ``inputs``, or None (nothing is computed or stored)."""
        ent = self._slots.get(slot) if self.enabled else None
        if ent is not None and len(ent[0]) == len(inputs) and all(
                self._same(r, x) for r, x in zip(ent[0], inputs)):
            self.hits += 1
            return ent[1]
        return None

    def put(self, slot, inputs: tuple, value) -> None:
        """Store a value computed elsewhere (e.g. ``W' a + b'`` of a backtracking step)."""
        if self.enabled:
            self._slots.pop(slot, None)
            self._store(slot, inputs, value)

    # a copied or pickled state starts with an empty cache (weak references cannot be copied)
    def __deepcopy__(self, memo):
        new = ProductCache()
        new.enabled = self.enabled
        return new

    def __getstate__(self):
        return {"enabled": self.enabled}

    def __setstate__(self, d):
        self.__init__()
        self.enabled = d.get("enabled", True)

    def discard_slot(self, slot) -> None:
        self._slots.pop(slot, None)

    def discard(self, *kinds) -> None:
        """Drop every slot whose name (first element) is one of ``kinds``."""
        for k in [k for k in self._slots if k[0] in kinds]:
            del self._slots[k]


@dataclass
class ADMMState:
    """All lifted variables (index l = 1..L stored at position l-1; ``a[0]`` is the input).

    ``W, b, G, alpha, Q`` have one entry per layer; ``z`` one per layer; ``a``
    holds ``a_0 .. a_{L-1}``; ``lam`` is the output multiplier. ``nu``/``theta``
    remember the last accepted backtracking parameters; ``beta, gamma, mu`` are
    the current (continued) penalties; ``k`` counts finished iterations.
    """

    W: list
    b: list | None
    G: list | None
    alpha: list | None
    Q: list | None
    z: list
    a: list
    lam: object
    beta: float
    gamma: float
    mu: float
    nu: list = field(default_factory=list)
    theta: list = field(default_factory=list)
    k: int = 0
    layer_scale: float = 1.0
    gram0: tuple | None = None  # (a_0 a_0^T, a_0 1): the input never changes
    W_prev: list | None = None  # W, b as the previous iteration started them (momentum only)
    b_prev: list | None = None
    memo: ProductCache = field(default_factory=ProductCache, repr=False, compare=False)

    @property
    def n_layers(self) -> int:
        return len(self.W)

    def scale(self, l: int) -> float:
        """s_l = r^(2(l-L)) (0-based l; 1 for the output layer): beta_l = beta s_l."""
        return self.layer_scale ** (2 * (l - (self.n_layers - 1)))

    def beta_l(self, l: int) -> float:
        """Penalty of z_l = W_l a_{l-1} + b_l."""
        return self.beta * self.scale(l)

    def gamma_l(self, l: int) -> float:
        """Penalty of a_l = h(z_l) (hidden layers): gamma r^(2(l-L)+1), between beta_l and beta_{l+1}."""
        return self.gamma * self.scale(l) * self.layer_scale

    def weights(self) -> list:
        """The weights the evaluated network uses: G if quantized, else W."""
        return self.G if self.G is not None else self.W


def _project(W, level_set: LevelSet, params: ADMMParams, alpha0=None, kern: Kernels | None = None,
             layer: int | None = None):
    if getattr(level_set, "kind", None) == "budget":     # the budget set (admm/budget_g.py) of layer ``layer``
        return level_set.project_layer(W, layer)
    return project(W, level_set, granularity=params.granularity, max_iter=params.proj_max_iter,
                   patience=params.proj_patience, alpha0=alpha0,
                   kernel=kern.proj_step if kern is not None else None)


def forward(weights, biases, X, activation: Activation):
    """Forward pass of the network ``a_l = h(W_l a_{l-1} + b_l)``; returns the logits z_L."""
    a = X
    L = len(weights)
    for l in range(L):
        z = weights[l] @ a
        if biases is not None:
            z = z + biases[l]
        a = activation(z) if l < L - 1 else z
    return a


def init_state(X, layer_sizes, activation: Activation, level_set: LevelSet | None,
               params: ADMMParams, rng: np.random.Generator, *, bias: bool) -> ADMMState:
    """Initialise from a forward pass.

    W_l ~ N(0, 2/n_{l-1}) (He), b_l = 0, then z_l = W_l a_{l-1} + b_l,
    a_l = h(z_l): the lifted variables start consistent, so the first sweeps
    refine a network instead of repairing random noise. lam = 0; G_l is the
    projection of W_l. The random draws come from ``rng`` on the host (same
    seed, same start on any backend) and are moved to X's namespace.
    """
    xp = get_namespace(X)
    dt = X.dtype
    L = len(layer_sizes) - 1
    W, b, z, a = [], [] if bias else None, [], [X]
    for l in range(L):
        n_in, n_out = layer_sizes[l], layer_sizes[l + 1]
        Wl = rng.standard_normal((n_out, n_in)) * math.sqrt(2.0 / n_in)
        W.append(xp.asarray(Wl.astype(np.float64), dtype=dt))
        if bias:
            b.append(xp.zeros((n_out, 1), dtype=dt))
        zl = W[l] @ a[l]
        if bias:
            zl = zl + b[l]
        z.append(zl)
        if l < L - 1:
            a.append(activation(zl))
    G = alpha = Q = None
    if level_set is not None:
        if getattr(level_set, "kind", None) == "budget":
            level_set.allocate(W)
        res = [_project(Wl, level_set, params, layer=l) for l, Wl in enumerate(W)]
        G, alpha, Q = [r.G for r in res], [r.alpha for r in res], [r.Q for r in res]
    m = X.shape[1]
    return ADMMState(
        W=W, b=b, G=G, alpha=alpha, Q=Q, z=z, a=a,
        lam=xp.zeros((layer_sizes[-1], m), dtype=dt),
        beta=float(params.beta), gamma=float(params.gamma),
        mu=float(params.mu) if level_set is not None else 0.0,
        nu=[1.0] * L, theta=[1.0] * L, k=0, layer_scale=float(params.layer_scale),
    )


def state_from_weights(X, Ws, bs, activation: Activation, params: ADMMParams, *, k: int = 0) -> ADMMState:
    """A full-precision state holding the network ``(Ws, bs)`` after ``k`` iterations:
    z_l, a_l from a forward pass (the constraints hold), lam = 0, penalties at their
    values after k iterations of continuation."""
    xp = get_namespace(X)
    L = len(Ws)
    z, a = [], [X]
    for l in range(L):
        zl = Ws[l] @ a[l]
        if bs is not None:
            zl = zl + bs[l]
        z.append(zl)
        if l < L - 1:
            a.append(activation(zl))
    cap = params.max_penalty
    grow = params.penalty_growth ** k
    return ADMMState(
        W=list(Ws), b=list(bs) if bs is not None else None, G=None, alpha=None, Q=None, z=z, a=a,
        lam=xp.zeros((Ws[-1].shape[0], X.shape[1]), dtype=X.dtype),
        beta=min(params.beta * grow, max(cap, params.beta)), gamma=min(params.gamma * grow, max(cap, params.gamma)),
        mu=0.0, nu=[1.0] * L, theta=[1.0] * L, k=int(k), layer_scale=float(params.layer_scale))


@dataclass
class IterationStats:
    """Counts of the inner searches of one iteration (SciPy-style: say what happened)."""

    backtracks: int = 0
    backtrack_caps: int = 0
    fista_iters: int = 0
    fista_caps: int = 0
    proj_iters: int = 0

    def add(self, info: U.SearchInfo, kind: str):
        if kind == "fista":
            self.fista_iters += info.n_iter
            self.fista_caps += info.stop == "max_iter"
        else:
            self.backtracks += info.n_iter
            self.backtrack_caps += info.stop == "max_iter"


def _affine(W, a, b, kern: Kernels):
    p = gemm.mm(W, a)
    if b is not None:
        p = kern.add_bias(p, b)     # in place: p is a fresh product
    return p


def _pre(state: ADMMState, l: int, kern: Kernels):
    """p_l = W_l a_{l-1} + b_l (0-based l), reused while W_l, a_{l-1}, b_l are unchanged."""
    W, a = state.W[l], state.a[l]
    b = state.b[l] if state.b is not None else None
    return state.memo.get(("p", l), (W, a, b), lambda: _affine(W, a, b, kern))


def _target(state: ADMMState, l: int):
    """t_l: z_l, or z_L + lam/beta for the output layer (the multiplier's coupling)."""
    if l == state.n_layers - 1:
        z, lam, beta = state.z[l], state.lam, state.beta
        return state.memo.get(("t", l), (z, lam, float(beta)), lambda: z + lam / beta)
    return state.z[l]


def _update_W(state, l, params, kern, stats):
    G = state.G[l] if state.G is not None else None
    t = _target(state, l)
    bias = state.b is not None
    a = state.a[l]
    memo = state.memo
    if params.w_solver == "exact":
        if l == 0 and state.gram0 is not None:
            gram = state.gram0
        else:
            gram = memo.get(("gram", l), (a,), lambda: (gemm.gram(a), kern.row_sums(a)))
        taT = memo.get(("taT", l), (t, a), lambda: gemm.mm(t, a.T)) if memo.enabled else None
        beta, mu, ridge = state.beta_l(l), state.mu * state.scale(l), params.ridge * state.scale(l)
        factor = None
        if memo.enabled and mu + ridge > 0:
            m = int(a.shape[1])
            factor = memo.get(("W_factor", l), (gram, float(beta), float(mu + ridge), bias),
                              lambda: kern.spd_factor(U.W_exact_system(gram, m, beta, mu + ridge, bias)))
        W, b = U.update_W_exact(t, a, beta, G=G, mu=mu, ridge=ridge, bias=bias, gram=gram, taT=taT,
                                solve=kern.spd_solve, factor=factor, row_sums=kern.row_sums)
    else:
        start = max(state.nu[l] / params.kappa, 1e-12)
        pre = _pre(state, l, kern) if memo.enabled else None
        W, b, info, p_new = U.update_W_backtracking(
            state.W[l], state.b[l] if bias else None, t, a, state.beta_l(l), start,
            G=G, mu=state.mu * state.scale(l), ridge=params.ridge * state.scale(l), kappa=params.kappa,
            max_iter=params.max_backtrack, pre=pre, sq=kern.sq_norm_axpy, return_pre=True)
        state.nu[l] = info.step
        stats.add(info, "w")
        memo.put(("p", l), (W, a, b), p_new)  # W' a + b' without a GEMM
    state.W[l] = W
    if bias:
        state.b[l] = b


def _update_G(state, l, level_set, params, stats, kern=None):
    if level_set is None:
        return
    res = _project(state.W[l], level_set, params, alpha0=state.alpha[l], kern=kern, layer=l)
    state.G[l], state.alpha[l], state.Q[l] = res.G, res.alpha, res.Q
    stats.proj_iters += res.n_iter


def _WTt(W, t, b):
    """W^T (t - b) as W^T t - (W^T b) 1^T: the bias is subtracted from the small product, in place."""
    v = gemm.mm(W.T, t)
    if b is not None:
        v -= W.T @ b
    return v


def _h(state, l, activation, kern: Kernels):
    """h(z_l) (0-based l), reused while z_l is unchanged (the forward reset computes it as a_{l+1})."""
    z = state.z[l]
    return state.memo.get(("hz", l), (z,), lambda: kern.activate(z, activation))


def _update_a(state, l, activation, params, kern, stats, last: bool = False):
    """a_l for hidden layer l (0-based index l into a, i.e. a[l] with 1 <= l <= L-1).
    ``last``: the forward sweep's update, the last user of this iteration's W^T t."""
    nxt = l  # layer whose input a[l] is
    z = state.z[l - 1]
    hz = state.memo.peek(("hz", l - 1), (z,))      # the forward reset's a_l = h(z_{l-1})
    fresh = hz is None
    if fresh:                                      # used once: not cached, and free to overwrite
        hz = kern.activate(z, activation)
    t = _target(state, nxt)
    bn = state.b[nxt] if state.b is not None else None
    Wn = state.W[nxt]
    beta, gamma = state.beta_l(nxt), state.gamma_l(l - 1)
    memo = state.memo
    if params.a_solver == "exact" and not memo.enabled:
        state.a[l] = U.update_a_exact(Wn, bn, t, hz, beta, gamma, solve=kern.spd_solve)
    elif params.a_solver == "exact":
        op = memo.get(("a_op", l), (Wn, float(beta), float(gamma)),
                      lambda: U.a_exact_operator(Wn, beta, gamma, inverse=kern.spd_inverse))
        WTt = scratch = None
        if op[0] == "direct":
            WTt = memo.get(("WTt", l), (Wn, t, bn), lambda: _WTt(Wn, t, bn))
            if last:             # its last use: drop it from the cache and let the update overwrite it
                memo.discard_slot(("WTt", l))
                scratch = WTt
            elif fresh:
                scratch = hz
        state.a[l] = U.update_a_exact_op(op, Wn, bn, t, hz, beta, gamma, WTt=WTt, axpby=kern.axpby,
                                         scratch=scratch)
    else:
        start = max(state.theta[l] / params.tau, 1e-12)
        pre = _pre(state, nxt, kern) if memo.enabled else None
        state.a[l], info = U.update_a_backtracking(state.a[l], Wn, bn, t, hz, beta, gamma, start,
                                                   tau=params.tau, max_iter=params.max_backtrack,
                                                   pre=pre, sq=kern.sq_norm_axpy)
        state.theta[l] = info.step
        stats.add(info, "a")


def _update_z(state, l, Y, activation, params, kern, stats):
    p = _pre(state, l, kern)
    if l == state.n_layers - 1:
        q = p - state.lam / state.beta
        state.z[l], info = U.update_zL_fista(state.z[l], q, Y, state.beta, eta=params.fista_eta,
                                             max_iter=params.fista_max_iter, tol=params.fista_tol,
                                             xent=kern.softmax_xent, step=kern.fista_step)
        stats.add(info, "fista")
    else:
        state.z[l] = U.update_z_hidden(p, state.a[l + 1], state.beta_l(l), state.gamma_l(l), activation,
                                       kernel=kern.z_update_piecewise)
    return p


def reset_from_forward(state: ADMMState, activation: Activation, kern: Kernels) -> None:
    """Make the lifted variables a forward pass of the evaluated network:
    ``z_l = G_l a_{l-1} + b_l`` (W_l when full precision), ``a_l = h(z_l)``.

    The constraints z_l = W a + b and a_l = h(z_l) then hold (up to W - G), so
    the next backward sweep sees the errors of the network that is actually
    evaluated rather than of lifted activations that have absorbed them."""
    Ws = state.weights()
    for l in range(state.n_layers):
        if state.G is None:
            z = _pre(state, l, kern)    # full precision: the same product as the z-update's
        else:
            z = _affine(Ws[l], state.a[l], state.b[l] if state.b is not None else None, kern)
        state.z[l] = z
        if l < state.n_layers - 1:
            state.a[l + 1] = _h(state, l, activation, kern)


def admm_iteration(state: ADMMState, Y, activation: Activation, level_set: LevelSet | None,
                   params: ADMMParams, kern: Kernels) -> IterationStats:
    """One QNN-ADMM iteration (Algorithm 2) in place; see :func:`_iteration`. Large outputs
    (products included) reuse the memory of dead ones through the kernel table's buffer
    pool, if it has one (:mod:`admmnet.kernels.pool`); its idle blocks are freed when the
    iteration ends, so the pool holds nothing between iterations."""
    with gemm.pooled(kern.pool):
        return _iteration(state, Y, activation, level_set, params, kern)


def _iteration(state: ADMMState, Y, activation: Activation, level_set: LevelSet | None,
               params: ADMMParams, kern: Kernels) -> IterationStats:
    """One QNN-ADMM iteration (Algorithm 2) in place: backward sweep, forward sweep, multiplier,
    then penalty continuation. With ``params.forward_reset = k > 0`` the lifted
    variables restart from a forward pass before every k-th iteration
    (:func:`reset_from_forward`)."""
    L = state.n_layers
    stats = IterationStats()
    state.memo.enabled = params.reuse_products
    if getattr(level_set, "kind", None) == "budget":     # the layers' shares of the budget (admm/budget_g.py)
        level_set.allocate(state.W)
    if params.momentum:
        extrapolate(state, params.momentum, level_set, params, kern)
    if params.forward_reset and state.k > 0 and state.k % params.forward_reset == 0:
        reset_from_forward(state, activation, kern)
    if params.w_solver == "exact" and state.gram0 is None:
        state.gram0 = (gemm.gram(state.a[0]), kern.row_sums(state.a[0]))
    # Backward sweep: l = L .. 1 (0-based L-1 .. 0).
    for l in range(L - 1, -1, -1):
        if l == L - 1:
            _update_z(state, l, Y, activation, params, kern, stats)
        else:
            _update_a(state, l + 1, activation, params, kern, stats)
            _update_z(state, l, Y, activation, params, kern, stats)
        _update_W(state, l, params, kern, stats)
        _update_G(state, l, level_set, params, stats, kern)
    # Forward sweep: l = 1 .. L.
    pL = None
    for l in range(L):
        _update_W(state, l, params, kern, stats)
        _update_G(state, l, level_set, params, stats, kern)
        p = _update_z(state, l, Y, activation, params, kern, stats)
        if l < L - 1:
            _update_a(state, l + 1, activation, params, kern, stats, last=True)
        else:
            pL = p  # W_L, b_L and a_{L-1} are unchanged since: reuse W_L a_{L-1} + b_L
    state.lam = U.update_lambda(state.lam, state.z[L - 1], pL, state.beta)
    # products that can only be hit inside one iteration (their W or z changes before the
    # next one uses them): free their memory now. p_l and h(z_l) stay: evaluate_objective
    # and the next backward sweep (without a forward reset) reuse them.
    state.memo.discard("WTt", "taT", "a_op", "t")
    k_next = state.k + 1
    if params.forward_reset and k_next % params.forward_reset == 0:
        state.memo.discard("hz")     # the reset replaces every z_l: h(z_l) cannot be hit again
    # Penalty continuation.
    cap = params.max_penalty
    state.beta = min(state.beta * params.penalty_growth, max(cap, params.beta))
    state.gamma = min(state.gamma * params.penalty_growth, max(cap, params.gamma))
    if level_set is not None:
        state.mu = min(state.mu * params.mu_growth, max(cap, params.mu))
    state.k += 1
    return stats


def extrapolate(state: ADMMState, omega: float, level_set: LevelSet | None, params: ADMMParams,
                kern: Kernels | None = None) -> None:
    r"""Inertial step: start the iteration from ``W + omega (W - W_prev)`` (and the same for b).

    ``W`` is the result of the last iteration and ``W_prev`` that of the one
    before (both before extrapolation). This is the heavy-ball / inertial
    block-coordinate-descent extrapolation: the exact W-solves do not depend on
    the previous W, so its effect is on the forward pass the next sweep starts
    from (``forward_reset``) and on the backtracking steps. Quantized, G is
    re-projected from the extrapolated W so that the forward pass is the
    extrapolated quantized network. The final network of a fit is the last
    iteration's result, never an extrapolated point.
    """
    cur_W = list(state.W)
    cur_b = list(state.b) if state.b is not None else None
    if state.W_prev is not None and omega:
        for l in range(state.n_layers):
            state.W[l] = cur_W[l] + omega * (cur_W[l] - state.W_prev[l])
            if cur_b is not None:
                state.b[l] = cur_b[l] + omega * (cur_b[l] - state.b_prev[l])
            if level_set is not None:
                res = _project(state.W[l], level_set, params, alpha0=state.alpha[l], kern=kern, layer=l)
                state.G[l], state.alpha[l], state.Q[l] = res.G, res.alpha, res.Q
    state.W_prev, state.b_prev = cur_W, cur_b


def refit_output(state: ADMMState, Y, activation: Activation, level_set: LevelSet | None,
                 params: ADMMParams, kern: Kernels, *, rounds: int = 6) -> None:
    """Final exact refit of the output layer on the evaluated hidden features (docs/fp_admm_levers.md).

    The features are a forward pass of the hidden layers with the weights the
    network is evaluated with (G when quantized). Full precision: W_L, b_L
    minimise the summed cross-entropy plus ``refit_ridge * m / 2 ||W_L||^2`` (a weight
    decay per sample: without it the nearly separable training features of MNIST give
    an output layer with weights in the hundreds, which no few-bit grid can hold)
    (:func:`admmnet.admm.updates.refit_output_layer`). Quantized: ``rounds``
    ADMM-style alternations of that refit with the coupling ``mu/2||W_L - G_L||^2``
    and the projection G_L = proj(W_L), starting from the current G_L with
    mu = m/100 and growing 4x per round, so that the final G_L is fitted to the
    loss, not only to W_L; the result is kept only if it lowers the training
    cross-entropy of the quantized output layer. On return ``a_{L-1}`` and
    ``z_L`` are consistent with the refitted layer (they are released while it runs).
    """
    L = state.n_layers
    Ws = state.weights()
    # a_{L-1} and z_L are recomputed at the end: drop them now, and hold one layer's
    # features at a time in the forward pass (it is the peak of a training run's memory).
    a = state.a[0]
    state.z[L - 1] = None
    if L > 1:                   # (with one layer a_0 is the data itself: kept)
        state.a[L - 1] = None
    for l in range(L - 1):
        z = Ws[l] @ a
        a = None
        if state.b is not None:
            z += state.b[l]
        a = activation(z)
        z = None
    m = a.shape[1]
    b0 = state.b[L - 1] if state.b is not None else None
    ridge = params.refit_ridge * m      # weight decay per sample: the loss is a sum over m samples
    gram = (gemm.gram(a), kern.row_sums(a))         # shared by every refit on these features
    kw = dict(xent=kern.softmax_xent, factor=kern.spd_factor, gram=gram)
    if level_set is None:
        W, b, _ = U.refit_output_layer(a, Y, state.W[L - 1], b0, ridge=ridge, **kw)
        state.W[L - 1] = W
    else:
        # start from the current quantized layer: the coupling begins binding (mu ~ m/100,
        # against a Hessian bound of ~m/2 per feature) and grows 4x per round
        GL, aL, QL, W, b = state.G[L - 1], state.alpha[L - 1], state.Q[L - 1], state.G[L - 1], b0
        before = _output_loss(GL, b0, a, Y, kern)
        mu = 1e-2 * m
        for r in range(rounds):
            W, b, _ = U.refit_output_layer(a, Y, W, b, G=GL, mu=mu, ridge=ridge, **kw)
            res = _project(W, level_set, params, alpha0=aL, kern=kern, layer=L - 1)
            GL, aL, QL = res.G, res.alpha, res.Q
            mu *= 4.0
        if b0 is not None:  # the bias that fits the final, fixed G_L
            _, b, _ = U.refit_output_layer(a, Y, GL, b, update_W=False, **kw)
        # safeguard: the refit is kept only if it lowers the training loss of the quantized
        # output layer (a projected point need not be better than the one it replaces)
        if _output_loss(GL, b, a, Y, kern) < before:
            state.G[L - 1], state.alpha[L - 1], state.Q[L - 1] = GL, aL, QL
            state.W[L - 1] = W
        else:
            b = b0
    if state.b is not None:
        state.b[L - 1] = b
    # keep the lifted output consistent with the refitted layer
    state.a[L - 1] = a
    z = state.weights()[L - 1] @ a
    state.z[L - 1] = z + state.b[L - 1] if state.b is not None else z


def start_quantized(state: ADMMState, activation: Activation, level_set: LevelSet, params: ADMMParams,
                    kern: Kernels, *, layerwise: dict | None = None, Y=None) -> str:
    r"""Turn a full-precision state into a quantized one: the switch from the FP phase of a fit.

    ``layerwise=None``: G_l is the projection of W_l (the thesis's start).
    ``layerwise={...}``: G_l and b_l come from the gradient-free layerwise quantizer
    (:func:`admmnet.admm.layerwise.quantize_network`, keyword arguments ``layerwise``)
    run on the FP weights and the training inputs ``a_0``; W_l is then set to G_l,
    so the quantized phase starts from the quantized network it is evaluated with.
    mu starts at ``params.mu``, the momentum memory is cleared (the FP iterates are not
    quantized ones), and the lifted variables restart from a forward pass of the
    quantized network (:func:`reset_from_forward`).

    Safeguard (``Y`` given, layerwise): the layerwise network is kept only if its
    training cross-entropy is not above that of the projected FP network (a forward
    pass each), so the quantizer never does worse on the training rows than rounding.
    Returns which network was kept: ``"layerwise"`` or ``"projection"``.
    """
    from .layerwise import quantize_network

    if getattr(level_set, "kind", None) == "budget":
        level_set.allocate(state.W)
    res = [_project(W, level_set, params, kern=kern, layer=l) for l, W in enumerate(state.W)]
    G, alpha, Q, b, W = [r.G for r in res], [r.alpha for r in res], [r.Q for r in res], state.b, state.W
    kept = "projection"
    if layerwise is not None:
        fits = quantize_network(state.a[0], state.W, state.b, activation, level_set, ridge=0.0,
                                granularity=params.granularity, proj_max_iter=params.proj_max_iter,
                                proj_patience=params.proj_patience, kern=kern, **layerwise)
        lw_b = [f.b for f in fits] if state.b is not None else None
        better = True
        if Y is not None:
            lw_loss, _ = network_loss([f.G for f in fits], lw_b, state.a[0], Y, activation, kern)
            pr_loss, _ = network_loss(G, state.b, state.a[0], Y, activation, kern)
            better = lw_loss <= pr_loss
        if better:
            G, alpha, Q, b = [f.G for f in fits], [f.alpha for f in fits], [f.Q for f in fits], lw_b
            W = list(G)
            kept = "layerwise"
    state.G, state.alpha, state.Q, state.W, state.b = G, alpha, Q, W, b
    state.mu = float(params.mu)
    state.W_prev = state.b_prev = None
    reset_from_forward(state, activation, kern)
    return kept


def network_loss(weights, biases, X, Y, activation: Activation, kern: Kernels):
    """Summed cross-entropy and the number of correct predictions of the network
    ``(weights, biases)`` on ``X`` (samples in columns) against one-hot ``Y``:
    one forward pass, no gradient (the monitored objective of the momentum restart).
    The products go through :mod:`admmnet.kernels.gemm` (the kernel table's layouts and
    buffer pool), one layer's features held at a time."""
    xp = get_namespace(X)
    a = X
    L = len(weights)
    with gemm.pooled(kern.pool):
        for l in range(L):
            z = _affine(weights[l], a, biases[l] if biases is not None else None, kern)
            a = kern.activate(z, activation) if l < L - 1 else z
            z = None
        loss, _ = kern.softmax_xent(a, Y)
        correct = xp.sum(xp.astype(xp.argmax(a, axis=0) == xp.argmax(Y, axis=0), xp.float64))
        return to_float(loss), int(to_float(correct))


def _output_loss(W, b, a, Y, kern: Kernels) -> float:
    z = gemm.mm(W, a)
    if b is not None:
        z = z + b
    return to_float(kern.softmax_xent(z, Y)[0])


def evaluate_objective(state: ADMMState, Y, activation: Activation, kern: Kernels) -> dict:
    """The augmented Lagrangian (eq. 3.6) and its constraint residuals at the current state.

    Returns ``objective``, ``loss`` (summed cross-entropy of z_L), per-layer
    ``residual_z`` = ||z_l - W_l a_{l-1} - b_l||, ``residual_a`` =
    ||a_l - h(z_l)|| and ``residual_w`` = ||W_l - G_l|| (empty when full precision).
    """
    xp = get_namespace(state.z[0])
    L = state.n_layers
    loss, _ = kern.softmax_xent(state.z[-1], Y)
    obj = to_float(loss)
    rz, ra, rw = [], [], []
    for l in range(L):
        p = _pre(state, l, kern)
        rr = to_float(kern.sq_norm_axpy(state.z[l], p, -1.0))     # ||z - W a - b||^2, no temporaries
        rz.append(math.sqrt(rr))
        if l == L - 1:
            obj += to_float(xp.sum((state.z[l] - p) * state.lam)) + 0.5 * state.beta * rr
        else:
            obj += 0.5 * state.beta_l(l) * rr
            hz = state.memo.peek(("hz", l), (state.z[l],))
            if hz is None:
                hz = kern.activate(state.z[l], activation)
            dd = to_float(kern.sq_norm_axpy(state.a[l + 1], hz, -1.0))
            ra.append(math.sqrt(dd))
            obj += 0.5 * state.gamma_l(l) * dd
        if state.G is not None:
            D = state.W[l] - state.G[l]
            ww = to_float(xp.sum(D * D))
            rw.append(math.sqrt(ww))
            obj += 0.5 * state.mu * state.scale(l) * ww
    return {"objective": obj, "loss": to_float(loss), "residual_z": rz, "residual_a": ra, "residual_w": rw}


def state_arrays(state: ADMMState) -> dict:
    """Every array of the state as host NumPy arrays (for checkpoints)."""
    out = {}
    L = state.n_layers
    for l in range(L):
        out[f"W{l}"] = to_numpy(state.W[l])
        out[f"z{l}"] = to_numpy(state.z[l])
        if state.b is not None:
            out[f"b{l}"] = to_numpy(state.b[l])
        if state.G is not None:
            out[f"G{l}"] = to_numpy(state.G[l])
            out[f"alpha{l}"] = to_numpy(state.alpha[l])
            out[f"Q{l}"] = to_numpy(state.Q[l])
    for l in range(1, L):
        out[f"a{l}"] = to_numpy(state.a[l])
    if state.W_prev is not None:
        for l in range(L):
            out[f"W_prev{l}"] = to_numpy(state.W_prev[l])
            if state.b_prev is not None:
                out[f"b_prev{l}"] = to_numpy(state.b_prev[l])
    out["lam"] = to_numpy(state.lam)
    return out


def state_from_arrays(arrays: dict, scalars: dict, X) -> ADMMState:
    """Rebuild a state saved by :func:`state_arrays` in X's namespace and dtype."""
    xp = get_namespace(X)
    dt = X.dtype
    L = int(scalars["n_layers"])

    def A(key):
        return xp.asarray(np.asarray(arrays[key]), dtype=dt)

    quant = "G0" in arrays
    bias = "b0" in arrays
    return ADMMState(
        W=[A(f"W{l}") for l in range(L)],
        b=[A(f"b{l}") for l in range(L)] if bias else None,
        G=[A(f"G{l}") for l in range(L)] if quant else None,
        alpha=[A(f"alpha{l}") for l in range(L)] if quant else None,
        Q=[A(f"Q{l}") for l in range(L)] if quant else None,
        z=[A(f"z{l}") for l in range(L)],
        a=[X] + [A(f"a{l}") for l in range(1, L)],
        lam=A("lam"),
        beta=float(scalars["beta"]), gamma=float(scalars["gamma"]), mu=float(scalars["mu"]),
        nu=[float(v) for v in scalars["nu"]], theta=[float(v) for v in scalars["theta"]],
        k=int(scalars["k"]), layer_scale=float(scalars.get("layer_scale", 1.0)),
        W_prev=[A(f"W_prev{l}") for l in range(L)] if "W_prev0" in arrays else None,
        b_prev=[A(f"b_prev{l}") for l in range(L)] if "b_prev0" in arrays else None,
    )


def state_scalars(state: ADMMState) -> dict:
    return {"n_layers": state.n_layers, "beta": state.beta, "gamma": state.gamma, "mu": state.mu,
            "layer_scale": state.layer_scale,
            "nu": list(state.nu), "theta": list(state.theta), "k": state.k}


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0
