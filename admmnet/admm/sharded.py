r"""QNN-ADMM over row shards: the per-sample updates where the samples live, the rest on a driver.

Which quantities of one iteration (:func:`admmnet.admm.solver.admm_iteration`) need
all samples, and which only one sample's column (docs/distributed.md):

=========================================  =====================================================
per sample (run on the shard holding it)   sums over samples (added on the driver)
=========================================  =====================================================
z_l (hidden, closed form, eq. 4.18-4.25)   ``a a^T``, ``a 1`` of each layer input (W-update, eq. 4.4)
a_l (eq. 4.27: the operator is W alone)    ``t a^T``, ``t 1`` of each layer (W-update)
z_L by FISTA (eq. 4.39)                    FISTA's stopping sums ``||z^s - z^{s-1}||^2``, ``||z^s||^2``
lambda (eq. 4.41)                          objective and residual sums (:func:`evaluate_objective`)
forward reset, forward passes              monitored loss and correct count (momentum restart)
                                           output refit: ``a a^T`` and the gradient ``(g a^T, g 1)``
=========================================  =====================================================

The W-update (:func:`admmnet.admm.updates.W_exact_from_sums`, the same solve as the
single-process path), the G-projection, the momentum extrapolation and the penalty
continuation act on W alone and run on the driver. So a shard receives the new
(W_l, b_l, G_l) of a layer when they change, and sends back only sums whose size is
independent of its number of samples; no per-sample array leaves a shard.

FISTA's stopping test is a global one (the relative step over *all* samples), so each
FISTA step is one round trip: every shard takes the step on its columns and returns
its two partial sums, and the driver tells every shard whether to continue. With that,
the sharded iterates are those of the single-process solver up to the order of the
floating-point sums (``tests/test_distributed.py``).

:class:`Shard` is the worker side (a plain object: Dask holds it as an actor, tests can
hold it in-process); :class:`ShardedSolver` is the driver, with the sweep of
:func:`admmnet.admm.solver._iteration` written against a list of shards. Exact W and
a solvers only (the backtracking searches need a global sum per trial: not sharded).
"""
from __future__ import annotations

import math
import time

import numpy as np

from .._backend import get_namespace, to_float, to_numpy
from ..kernels import gemm, get_kernels
from . import solver as S
from . import updates as U
from .activations import get_activation

__all__ = ["Shard", "ShardedSolver", "solver_bytes", "shard_bounds"]


def shard_bounds(m: int, n_shards: int) -> list[tuple[int, int]]:
    """Row ranges ``[(start, stop), ...]`` splitting ``m`` rows into ``n_shards`` contiguous
    blocks whose sizes differ by at most one (the first ``m % n_shards`` one larger)."""
    n_shards = max(1, min(int(n_shards), int(m)))
    q, r = divmod(int(m), n_shards)
    out, start = [], 0
    for i in range(n_shards):
        stop = start + q + (i < r)
        out.append((start, stop))
        start = stop
    return out


def solver_bytes(n_samples: int, layer_sizes, dtype="float32") -> dict:
    r"""Memory the solver state needs for ``n_samples`` samples (docs/distributed.md).

    Per sample, in the fit's dtype: the input column (n_0), the one-hot labels and
    the multiplier (2 n_L), z_l for every layer and a_l for every hidden layer
    (:math:`\sum_{l\ge1} n_l + \sum_{l<L} n_l`), the cached products
    ``p_l = W_l a_{l-1} + b_l`` and ``h(z_l)`` that the sweep reuses
    (:math:`\sum_l n_l + \sum_{l<L} n_l`), and the transient peak of one update
    (FISTA holds four n_L columns; an a-update two n_l ones: ``4 max_l n_l``).
    Plus the weights: W, G and their momentum copies (4 per weight, float32/64)
    and the float64 normal equations of the largest layer. Returns
    ``{"per_sample": bytes, "state": bytes, "weights": bytes, "total": bytes}``.
    """
    sizes = [int(s) for s in layer_sizes]
    item = np.dtype(dtype).itemsize
    hidden = sizes[1:-1]
    per = (sizes[0] + 2 * sizes[-1] + sum(sizes[1:]) + sum(hidden)     # X, Y, lam, z, a
           + sum(sizes[1:]) + sum(hidden)                              # p_l, h(z_l) caches
           + 4 * max(sizes[1:]))                                       # one update's transients
    per_bytes = per * item
    n_w = sum(sizes[l + 1] * (sizes[l] + 1) for l in range(len(sizes) - 1))
    big = max((sizes[l] + 1) ** 2 for l in range(len(sizes) - 1))
    weights = 4 * n_w * item + 3 * big * 8
    state = int(n_samples) * per_bytes
    return {"per_sample": per_bytes, "state": state, "weights": weights, "total": state + weights}


class Shard:
    """One block of training columns and its lifted variables z_l, a_l, lambda (worker side).

    ``data``: ``(X_rows, y_enc)`` (samples in rows, labels encoded 0..n_classes-1) or a
    callable returning them, called here (on the worker: data generated where it lives
    never crosses the network). ``mon_idx``: this shard's columns of the monitored
    training rows (None: all). The weights are copies sent by the driver
    (:meth:`run` op ``"set"``); the solver code of :mod:`.solver` runs on a state
    holding them, so the per-sample updates are the single-process ones.
    """

    def __init__(self, data, n_classes: int, *, dtype: str = "float32", device: str = "cpu", classes=None):
        if callable(data):
            data = data()
        X, y = data
        X = np.asarray(X, dtype=dtype)
        if classes is not None:         # raw labels: encoded here, against the sorted classes
            classes = np.asarray(classes)
            y = np.asarray(y)
            enc = np.searchsorted(classes, y)
            if y.size and (enc.max() >= classes.size or np.any(classes[np.minimum(enc, classes.size - 1)] != y)):
                raise ValueError("a shard's labels include a class that is not among the fit's classes")
            y = enc
        y = np.asarray(y, dtype=np.int64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"a shard needs X of shape (rows, features) and y of shape (rows,), got "
                             f"{X.shape} and {y.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("a shard's X holds NaN or inf")
        if y.size and (y.min() < 0 or y.max() >= int(n_classes)):
            raise ValueError(f"a shard's labels must be encoded 0..{int(n_classes) - 1}")
        Y = np.ascontiguousarray(np.eye(int(n_classes), dtype=dtype)[y].T)
        if device == "auto":
            from ..kernels import cupy_gpu

            device = "gpu" if cupy_gpu.available() else "cpu"
        if device == "gpu":
            from ..kernels import cupy_gpu

            A0, Y = cupy_gpu.to_device(X.T), cupy_gpu.to_device(Y)
        else:
            import array_api_compat.numpy as xp

            A0, Y = xp.asarray(X.T), xp.asarray(Y)
        self.m = int(A0.shape[1])
        self.A0, self.Y = A0, Y
        self.kern = get_kernels(A0)
        self.state = None
        self._fista = None
        self._feat = None
        self.sent_bytes = 0
        self.cpu_seconds = 0.0

    def _op_configure(self, sizes, activation: str, params: dict, mon_idx):
        """The network, the solver's parameters and this shard's monitored columns (None: all)."""
        self.activation = get_activation(activation)
        self.params = S.ADMMParams(**params)
        self.sizes = tuple(int(s) for s in sizes)
        if mon_idx is None:
            self.A_mon, self.Y_mon = self.A0, self.Y
        else:
            xp = self._xp()
            idx = xp.asarray(np.asarray(mon_idx, dtype=np.int64))
            self.A_mon, self.Y_mon = xp.take(self.A0, idx, axis=1), xp.take(self.Y, idx, axis=1)

    # -- the op table -------------------------------------------------------------------
    def run(self, ops: list) -> list:
        """Run ``ops`` (a list of ``(name, *args)``) in order; return the results of those that
        give one, as host NumPy arrays / Python numbers. One call is one round trip."""
        out = []
        c0 = time.thread_time()
        with gemm.pooled(self.kern.pool), np.errstate(over="ignore", invalid="ignore"):
            for op in ops:
                r = getattr(self, "_op_" + op[0])(*op[1:])
                if r is not None:
                    out.append(r)
        self.cpu_seconds += time.thread_time() - c0
        self.sent_bytes += _nbytes(out)
        return out

    def info(self) -> dict:
        """Rows, bytes sent so far, and the CPU seconds spent in :meth:`run` (this thread's:
        what the shard computed, whatever else the machine ran meanwhile)."""
        return {"m": self.m, "sent_bytes": int(self.sent_bytes), "cpu_seconds": float(self.cpu_seconds)}

    def _xp(self):
        return get_namespace(self.A0)

    def _dev(self, x):
        """A driver array (host NumPy) in this shard's namespace and dtype."""
        if x is None:
            return None
        return self._xp().asarray(np.asarray(x), dtype=self.A0.dtype)

    # -- state --------------------------------------------------------------------------
    def _op_init(self, Ws, bs, beta, gamma, layer_scale):
        """The lifted variables from a forward pass of ``(Ws, bs)`` (:func:`.solver.init_state`)."""
        xp = self._xp()
        W = [self._dev(w) for w in Ws]
        b = [self._dev(v) for v in bs] if bs is not None else None
        z, a = [], [self.A0]
        L = len(W)
        for l in range(L):
            zl = W[l] @ a[l]
            if b is not None:
                zl = zl + b[l]
            z.append(zl)
            if l < L - 1:
                a.append(self.activation(zl))
        self.state = S.ADMMState(W=W, b=b, G=None, alpha=None, Q=None, z=z, a=a,
                                 lam=xp.zeros((self.sizes[-1], self.m), dtype=self.A0.dtype),
                                 beta=float(beta), gamma=float(gamma), mu=0.0, nu=[1.0] * L, theta=[1.0] * L,
                                 layer_scale=float(layer_scale))

    def _op_load(self, arrays: dict):
        """Lifted variables z_l, a_l, lambda from a checkpoint's arrays of this shard."""
        xp = self._xp()
        L = len(self.sizes) - 1
        dt = self.A0.dtype
        z = [xp.asarray(arrays[f"z{l}"], dtype=dt) for l in range(L)]
        a = [self.A0] + [xp.asarray(arrays[f"a{l}"], dtype=dt) for l in range(1, L)]
        self.state = S.ADMMState(W=[None] * L, b=None, G=None, alpha=None, Q=None, z=z, a=a,
                                 lam=xp.asarray(arrays["lam"], dtype=dt), beta=1.0, gamma=1.0, mu=0.0,
                                 nu=[1.0] * L, theta=[1.0] * L, layer_scale=1.0)

    def _op_arrays(self):
        """z_l, a_l, lambda of this shard as host arrays (what its checkpoint file holds)."""
        st = self.state
        out = {f"z{l}": to_numpy(st.z[l]) for l in range(st.n_layers)}
        out.update({f"a{l}": to_numpy(st.a[l]) for l in range(1, st.n_layers)})
        out["lam"] = to_numpy(st.lam)
        return out

    def _op_save(self, path, meta):
        """Write this shard's lifted variables to ``path`` (atomic, digest: :mod:`admmnet.io`)."""
        from .. import io as _io

        _io.save_npz(path, self._op_arrays(), meta, kind="checkpoint")
        return str(path)

    def _op_restore(self, path):
        from .. import io as _io

        arrays, meta = _io.load_npz(path, kind="checkpoint")
        if tuple(np.shape(arrays.get("lam"))) != (self.sizes[-1], self.m):
            raise _io.CheckpointError(f"{path}: holds {np.shape(arrays.get('lam'))[-1:]} samples, this shard "
                                      f"{self.m}")
        self._op_load(arrays)
        return int(meta["k"])

    def _op_set(self, l, W, b, G):
        """Layer l's weights (b, G may be None) from the driver."""
        st = self.state
        st.W[l] = self._dev(W)
        if b is not None:
            if st.b is None:
                st.b = [None] * st.n_layers
            st.b[l] = self._dev(b)
        if G is not None:
            if st.G is None:
                st.G = [None] * st.n_layers
            st.G[l] = self._dev(G)

    def _op_unquantize(self):
        self.state.G = None

    def _op_scalars(self, beta, gamma, layer_scale, reuse):
        st = self.state
        st.beta, st.gamma, st.layer_scale = float(beta), float(gamma), float(layer_scale)
        st.memo.enabled = bool(reuse)

    def _op_reset(self):
        S.reset_from_forward(self.state, self.activation, self.kern)

    # -- the sweep ----------------------------------------------------------------------
    def _op_gram0(self):
        a = self.state.a[0]
        return (to_numpy(gemm.gram(a)), to_numpy(self.kern.row_sums(a)))

    def _op_a(self, l, last):
        S._update_a(self.state, l, self.activation, self.params, self.kern, S.IterationStats(), last=bool(last))

    def _op_z(self, l):
        S._update_z(self.state, l, self.Y, self.activation, self.params, self.kern, S.IterationStats())

    def _op_wsums(self, l, with_gram):
        """The sums of layer l's W-update: ``(a a^T, a 1)`` (unless the input layer's), ``t a^T``, ``t 1``."""
        st, kern = self.state, self.kern
        t, a = S._target(st, l), st.a[l]
        memo = st.memo
        gram = None
        if with_gram:
            gram = memo.get(("gram", l), (a,), lambda: (gemm.gram(a), kern.row_sums(a)))
            gram = (to_numpy(gram[0]), to_numpy(gram[1]))
        taT = memo.get(("taT", l), (t, a), lambda: gemm.mm(t, a.T)) if memo.enabled else gemm.mm(t, a.T)
        t_sum = to_numpy(kern.row_sums(t)) if st.b is not None else None
        return (gram, to_numpy(taT), t_sum)

    def _op_fista_start(self):
        """Begin the z_L update: ``q = W_L a_{L-1} + b_L - lambda/beta`` (:func:`.updates.update_zL_fista`)."""
        st = self.state
        L = st.n_layers
        p = S._pre(st, L - 1, self.kern)
        q = p - st.lam / st.beta
        z0 = st.z[L - 1]
        self._fista = {"prev": z0, "old": z0, "bq": st.beta * q, "new": None}

    def _op_fista_step(self, c):
        f = self._fista
        P = self.params
        z, step2, norm2 = self.kern.fista_step(f["prev"], f["old"], c, f["bq"], self.Y, P.fista_eta,
                                               self.state.beta)
        f["new"] = z
        return (float(step2), float(norm2))

    def _op_fista_next(self, accept):
        """The driver's verdict on the last step: ``accept`` it as the new iterate (shift the
        momentum pair) or drop it (a non-finite step: restart from the last finite iterate)."""
        f = self._fista
        if accept:
            f["old"], f["prev"] = f["prev"], f["new"]
        f["new"] = None

    def _op_fista_end(self, use_new):
        """z_L is the last step (converged) or the last accepted iterate (cap reached)."""
        f = self._fista
        self.state.z[self.state.n_layers - 1] = f["new"] if use_new else f["prev"]
        self._fista = None

    def _op_lam(self):
        st = self.state
        L = st.n_layers
        pL = S._pre(st, L - 1, self.kern)
        st.lam = U.update_lambda(st.lam, st.z[L - 1], pL, st.beta)

    def _op_end_iter(self, reset_next):
        st = self.state
        st.memo.discard("WTt", "taT", "a_op", "t")
        if reset_next:
            st.memo.discard("hz")

    # -- sums over samples outside the sweep -----------------------------------------------
    def _op_monitor(self, all_rows=False):
        """Summed cross-entropy and correct count of the evaluated network on the monitored
        columns (``all_rows``: on every column)."""
        st = self.state
        A, Y = (self.A0, self.Y) if all_rows else (self.A_mon, self.Y_mon)
        loss, correct = S.network_loss(st.weights(), st.b, A, Y, self.activation, self.kern)
        return (loss, correct)

    def _op_objective(self):
        """This shard's parts of :func:`.solver.evaluate_objective`: the loss, the multiplier
        term and, per layer, ``||z - W a - b||^2`` and ``||a - h(z)||^2``."""
        st, kern = self.state, self.kern
        xp = self._xp()
        L = st.n_layers
        loss, _ = kern.softmax_xent(st.z[-1], self.Y)
        rz, ra, lam_term = [], [], 0.0
        for l in range(L):
            p = S._pre(st, l, kern)
            rz.append(to_float(kern.sq_norm_axpy(st.z[l], p, -1.0)))
            if l == L - 1:
                lam_term = to_float(xp.sum((st.z[l] - p) * st.lam))
            else:
                hz = st.memo.peek(("hz", l), (st.z[l],))
                if hz is None:
                    hz = kern.activate(st.z[l], self.activation)
                ra.append(to_float(kern.sq_norm_axpy(st.a[l + 1], hz, -1.0)))
        return (to_float(loss), lam_term, rz, ra)

    def _op_features(self):
        """Output refit, start: the features ``a_{L-1}`` of the evaluated hidden layers (a forward
        pass, one layer at a time; z_L and a_{L-1} released meanwhile), and their sums."""
        st = self.state
        L = st.n_layers
        Ws = st.weights()
        a = st.a[0]
        st.z[L - 1] = None
        if L > 1:
            st.a[L - 1] = None
        for l in range(L - 1):
            z = Ws[l] @ a
            a = None
            if st.b is not None:
                z += st.b[l]
            a = self.activation(z)
            z = None
        self._feat = a
        return (to_numpy(gemm.gram(a)), to_numpy(self.kern.row_sums(a)))

    def _op_refit_grad(self, X, n_in, has_b, update_W):
        """``(g a^T, g 1)`` with ``g = S(W a + b) - y`` at ``X = [W b]`` on the features."""
        X = self._dev(X)
        a = self._feat
        W = X[:, :n_in]
        z = gemm.mm(W, a)
        if has_b:
            z = z + X[:, n_in:]
        _, g = self.kern.softmax_xent(z, self.Y)
        xp = self._xp()
        gaT = to_numpy(gemm.mm(g, a.T)) if update_W else None
        g1 = to_numpy(xp.sum(g, axis=1, keepdims=True)) if has_b else None
        return (gaT, g1)

    def _op_refit_loss(self, W, b):
        """Summed cross-entropy of the output layer ``(W, b)`` on the features."""
        z = gemm.mm(self._dev(W), self._feat)
        if b is not None:
            z = z + self._dev(b)
        return to_float(self.kern.softmax_xent(z, self.Y)[0])

    def _op_features_end(self):
        """Output refit, end: a_{L-1} and z_L consistent with the refitted output layer."""
        st = self.state
        L = st.n_layers
        a = self._feat
        self._feat = None
        st.a[L - 1] = a
        z = st.weights()[L - 1] @ a
        st.z[L - 1] = z + st.b[L - 1] if st.b is not None else z


    # -- the layerwise quantizer (the switch to quantized iterations) --------------------------
    def _op_lw_begin(self):
        """Layerwise quantizer, start: the FP and the quantized network's features are both a_0."""
        self._lw = [self.A0, self.A0, None]       # a_fp, a_q, T of the current layer

    def _op_lw_sums(self, W, b):
        """Layer sums of :class:`.layerwise.LayerSums` for the FP layer ``(W, b)``: targets
        ``T = W a_fp + b`` on the FP features, inputs the quantized features ``a_q``."""
        a_fp, a_q, _ = self._lw
        T = gemm.mm(self._dev(W), a_fp)
        if b is not None:
            T = T + self._dev(b)
        self._lw[2] = T
        xp = self._xp()
        rs = self.kern.row_sums
        return (to_numpy(gemm.gram(a_q)), to_numpy(rs(a_q)), to_numpy(gemm.mm(T, a_q.T)),
                to_numpy(rs(T)) if b is not None else None, to_float(xp.sum(T * T, dtype=xp.float64)))

    def _op_lw_next(self, G, b):
        """The next layer's features: ``a_q = h(G a_q + b)``, ``a_fp = h(T)``."""
        a_fp, a_q, T = self._lw
        zq = gemm.mm(self._dev(G), a_q)
        if b is not None:
            zq = zq + self._dev(b)
        self._lw = [self.activation(T), self.activation(zq), None]

    def _op_lw_end(self):
        self._lw = None

    def _op_net_loss(self, Ws, bs):
        """Summed cross-entropy and correct count of the network ``(Ws, bs)`` on all columns."""
        W = [self._dev(w) for w in Ws]
        b = None if bs is None else [self._dev(v) for v in bs]
        return S.network_loss(W, b, self.A0, self.Y, self.activation, self.kern)


def _nbytes(obj) -> int:
    """Bytes of the arrays and numbers in ``obj`` (nested tuples/lists/dicts)."""
    if obj is None:
        return 0
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(x) for x in obj)
    if isinstance(obj, dict):
        return sum(_nbytes(x) for x in obj.values())
    if isinstance(obj, (int, float, np.generic)):
        return 8
    return 0


class ShardedSolver:
    """The driver of a sharded fit: the weights (an :class:`.solver.ADMMState` without
    per-sample arrays), the shards, and the sweep of :func:`.solver._iteration`.

    ``call(ops_per_shard) -> results_per_shard`` runs one op list on every shard and
    returns their results (Dask actors, or local :class:`Shard` objects in a loop):
    one call is one round trip. ``sent_bytes`` counts what the driver sent (weights
    and scalars), ``received_bytes`` what the shards sent back (sums), both per shard.
    """

    def __init__(self, call, n_shards: int, m: int, sizes, activation, level_set, params: S.ADMMParams,
                 *, bias: bool, dtype: str):
        self._call = call
        self.n_shards = int(n_shards)
        self.m = int(m)
        self.sizes = tuple(int(s) for s in sizes)
        self.activation = activation
        self.level_set = level_set
        self.params = params
        self.bias = bool(bias)
        self.dtype = np.dtype(dtype)
        self.kern = get_kernels(np.zeros((1, 1), dtype=self.dtype))
        self.state = None
        self.gram0 = None
        self.memo = S.ProductCache()
        self.sent_bytes = 0
        self.received_bytes = 0
        self.round_trips = 0

    # -- communication ------------------------------------------------------------------
    def call(self, ops, per_shard=None) -> list:
        """Run ``ops`` on every shard (``per_shard[i]`` appended for shard i); their results."""
        lists = [list(ops) + (per_shard[i] if per_shard else []) for i in range(self.n_shards)]
        self.sent_bytes += sum(_nbytes(o) for o in lists) // self.n_shards
        out = self._call(lists)
        self.received_bytes += sum(_nbytes(r) for r in out) // self.n_shards
        self.round_trips += 1
        return out

    @staticmethod
    def _sum(parts):
        """Sum of the shards' arrays in float64 (None stays None)."""
        if parts[0] is None:
            return None
        acc = np.array(parts[0], dtype=np.float64)
        for p in parts[1:]:
            acc += p
        return acc

    def _np(self, x):
        return None if x is None else np.asarray(x)

    def _set_ops(self, layers) -> list:
        st = self.state
        return [("set", l, self._np(st.W[l]), self._np(st.b[l]) if st.b is not None else None,
                 self._np(st.G[l]) if st.G is not None else None) for l in layers]

    def _scalar_op(self):
        st = self.state
        return ("scalars", st.beta, st.gamma, st.layer_scale, self.params.reuse_products)

    # -- start ----------------------------------------------------------------------------
    def init(self, rng: np.random.Generator) -> None:
        """:func:`.solver.init_state` with the draws on the driver, the forward pass on the shards."""
        xp = get_namespace(np.zeros(1))
        p = self.params
        L = len(self.sizes) - 1
        W = []
        for l in range(L):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            Wl = rng.standard_normal((n_out, n_in)) * math.sqrt(2.0 / n_in)
            W.append(xp.asarray(Wl.astype(np.float64), dtype=self.dtype))
        b = [xp.zeros((self.sizes[l + 1], 1), dtype=self.dtype) for l in range(L)] if self.bias else None
        G = alpha = Q = None
        if self.level_set is not None:
            res = [S._project(Wl, self.level_set, p) for Wl in W]
            G, alpha, Q = [r.G for r in res], [r.alpha for r in res], [r.Q for r in res]
        self.state = S.ADMMState(W=W, b=b, G=G, alpha=alpha, Q=Q, z=[None] * L, a=[None] * L, lam=None,
                                 beta=float(p.beta), gamma=float(p.gamma),
                                 mu=float(p.mu) if self.level_set is not None else 0.0,
                                 nu=[1.0] * L, theta=[1.0] * L, k=0, layer_scale=float(p.layer_scale))
        self.call([("init", W, b, p.beta, p.gamma, p.layer_scale)] + self._set_ops(range(L) if G else []))

    def restore(self, state: S.ADMMState, shard_ops) -> None:
        """Continue from ``state`` (driver arrays; from a checkpoint), the shards' lifted
        variables loaded by ``shard_ops[i]`` (e.g. ``[("restore", path_i)]``)."""
        self.state = state
        self.call([], per_shard=[list(o) for o in shard_ops])
        self.call([self._scalar_op()] + self._set_ops(range(state.n_layers)))

    # -- one iteration ----------------------------------------------------------------------
    def _W_update(self, l, sums) -> None:
        """Driver side of :func:`.solver._update_W` (exact): sum the shards' parts, solve eq. 4.4."""
        st, params = self.state, self.params
        grams, taTs, tsums = zip(*sums)
        gram = self.gram0 if l == 0 else (self._sum([g[0] for g in grams]), self._sum([g[1] for g in grams]))
        taT = self._sum(taTs)
        t_sum = self._sum(tsums) if self.bias else None
        G = st.G[l] if st.G is not None else None
        beta, mu, ridge = st.beta_l(l), st.mu * st.scale(l), params.ridge * st.scale(l)
        factor = None
        if params.reuse_products and mu + ridge > 0:
            factor = self.memo.get(("W_factor", l), (gram, float(beta), float(mu + ridge), self.bias),
                                   lambda: self.kern.spd_factor(U.W_exact_system(gram, self.m, beta, mu + ridge,
                                                                                 self.bias)))
        W, b = U.W_exact_from_sums(gram, taT, t_sum, self.m, beta, G=G, mu=mu, ridge=ridge, bias=self.bias,
                                   solve=self.kern.spd_solve, factor=factor, dtype=self.dtype)
        st.W[l] = W
        if self.bias:
            st.b[l] = b

    def _fista(self, pre_ops, stats) -> list:
        """z_L by FISTA (:func:`.updates.update_zL_fista`) with the stopping test on the summed
        step and norm: one round trip per step. ``pre_ops`` run first (in the first call).
        Returns the ops that finish it (to be sent with the next call)."""
        P = self.params
        c, t = 0.0, 1.0
        inf = float("inf")
        ops = list(pre_ops) + [("fista_start",)]
        for s in range(1, P.fista_max_iter + 1):
            parts = self.call(ops + [("fista_step", c)])
            step2 = sum(r[-1][0] for r in parts)
            norm2 = sum(r[-1][1] for r in parts)
            if step2 != step2 or step2 == inf:
                c, t = 0.0, 1.0
                ops = [("fista_next", False)]
                continue
            if step2 ** 0.5 <= P.fista_tol * max(1.0, norm2 ** 0.5):
                stats.add(U.SearchInfo(s, "converged", P.fista_eta), "fista")
                return [("fista_end", True)]
            t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
            c = (t - 1.0) / t_next
            t = t_next
            ops = [("fista_next", True)]
        stats.add(U.SearchInfo(P.fista_max_iter, "max_iter", P.fista_eta), "fista")
        return ops + [("fista_end", False)]

    def iteration(self) -> S.IterationStats:
        """One QNN-ADMM iteration, the sweep of :func:`.solver._iteration` (exact solvers)."""
        st, params, ls = self.state, self.params, self.level_set if self.state.G is not None else None
        L = st.n_layers
        stats = S.IterationStats()
        ops = []
        if params.momentum:
            S.extrapolate(st, params.momentum, ls, params, self.kern)
            ops += self._set_ops(range(L))
        ops.append(self._scalar_op())
        if params.forward_reset and st.k > 0 and st.k % params.forward_reset == 0:
            ops.append(("reset",))
        if self.gram0 is None:
            parts = self.call(ops + [("gram0",)])
            self.gram0 = (self._sum([r[-1][0] for r in parts]), self._sum([r[-1][1] for r in parts]))
            ops = []
        # Backward sweep: l = L .. 1.
        pending = []
        for l in range(L - 1, -1, -1):
            if l == L - 1:
                pending = self._fista(ops, stats)
                ops = []
            else:
                pending = ops + pending + [("a", l + 1, False), ("z", l)]
                ops = []
            parts = self.call(pending + [("wsums", l, l > 0)])
            pending = []
            self._W_update(l, [r[-1] for r in parts])
            S._update_G(st, l, ls, params, stats, self.kern)
            ops = self._set_ops([l])
        # Forward sweep: l = 1 .. L.
        sums0 = [r[-1] for r in parts]          # layer 0's sums: z_1 and a_0 unchanged since
        ops = []                                # (the backward W_1 is superseded before any use)
        for l in range(L):
            if l > 0:
                parts = self.call(ops + [("wsums", l, True)])
                ops = []
                sums = [r[-1] for r in parts]
            else:
                sums = sums0
            self._W_update(l, sums)
            S._update_G(st, l, ls, params, stats, self.kern)
            ops += self._set_ops([l])
            if l < L - 1:
                ops += [("z", l), ("a", l + 1, True)]
            else:
                ops = self._fista(ops, stats)
        k_next = st.k + 1
        ops += [("lam",), ("end_iter", bool(params.forward_reset and k_next % params.forward_reset == 0))]
        # Penalty continuation.
        cap = params.max_penalty
        st.beta = min(st.beta * params.penalty_growth, max(cap, params.beta))
        st.gamma = min(st.gamma * params.penalty_growth, max(cap, params.gamma))
        if ls is not None:
            st.mu = min(st.mu * params.mu_growth, max(cap, params.mu))
        st.k += 1
        self.call(ops + [self._scalar_op()])
        return stats

    # -- outside the sweep ----------------------------------------------------------------------
    def push_weights(self, reset: bool = False) -> None:
        """Send every layer's weights (after a rollback or a restart), then optionally reset
        the lifted variables from a forward pass."""
        ops = [self._scalar_op()] + self._set_ops(range(self.state.n_layers))
        if self.state.G is None:
            ops.append(("unquantize",))
        self.call(ops + ([("reset",)] if reset else []))

    def network_loss(self, all_rows: bool = False) -> tuple[float, int]:
        """Summed cross-entropy and correct count of the evaluated network on the monitored rows."""
        parts = self.call([("monitor", all_rows)])
        return sum(r[-1][0] for r in parts), int(sum(r[-1][1] for r in parts))

    def evaluate_objective(self) -> dict:
        """:func:`.solver.evaluate_objective` from the shards' sums."""
        st = self.state
        L = st.n_layers
        parts = [r[-1] for r in self.call([("objective",)])]
        loss = sum(p[0] for p in parts)
        rz = [sum(p[2][l] for p in parts) for l in range(L)]
        ra = [sum(p[3][l] for p in parts) for l in range(L - 1)]
        obj = loss + sum(p[1] for p in parts) + 0.5 * st.beta * rz[L - 1]
        for l in range(L - 1):
            obj += 0.5 * st.beta_l(l) * rz[l] + 0.5 * st.gamma_l(l) * ra[l]
        rw = []
        if st.G is not None:
            for l in range(L):
                D = np.asarray(st.W[l], dtype=np.float64) - np.asarray(st.G[l], dtype=np.float64)
                ww = float(np.sum(D * D))
                rw.append(math.sqrt(ww))
                obj += 0.5 * st.mu * st.scale(l) * ww
        return {"objective": obj, "loss": loss, "residual_z": [math.sqrt(v) for v in rz],
                "residual_a": [math.sqrt(v) for v in ra], "residual_w": rw}

    def start_quantized(self, layerwise: dict | None = None) -> str:
        """:func:`.solver.start_quantized` with the samples on the shards: G by projection, or
        (``layerwise``) by the layerwise quantizer from each layer's sums over the shards
        (:func:`.layerwise.quantize_layer_from_sums`, two round trips a layer), kept only when
        its training cross-entropy (summed over the shards) is not above the projection's."""
        from .equalize import equalize_network
        from .layerwise import LayerSums, quantize_layer_from_sums

        st, params = self.state, self.params
        res = [S._project(W, self.level_set, params, kern=self.kern) for W in st.W]
        G, alpha, Q, b, W = [r.G for r in res], [r.alpha for r in res], [r.Q for r in res], st.b, st.W
        kept = "projection"
        if layerwise is not None:
            dt = self.dtype
            fits = []
            layerwise = dict(layerwise)
            eq = layerwise.pop("equalize", None)
            Wf, bf = (st.W, st.b) if eq is None else equalize_network(st.W, st.b, self.activation, norm=eq)
            self.call([("lw_begin",)])
            for l in range(st.n_layers):
                bl = None if bf is None else self._np(bf[l])
                parts = [r[-1] for r in self.call([("lw_sums", self._np(Wf[l]), bl)])]
                t_sum = self._sum([p[3] for p in parts])
                sums = LayerSums(gram=(self._sum([p[0] for p in parts]).astype(dt),
                                       self._sum([p[1] for p in parts]).astype(dt)),
                                 taT=self._sum([p[2] for p in parts]).astype(dt),
                                 t_sum=None if t_sum is None else t_sum.astype(dt),
                                 tt=float(sum(p[4] for p in parts)), m=self.m)
                fit = quantize_layer_from_sums(sums, self.level_set, W0=Wf[l], bias=st.b is not None, ridge=0.0,
                                               granularity=params.granularity, proj_max_iter=params.proj_max_iter,
                                               proj_patience=params.proj_patience, kern=self.kern, **layerwise)
                fits.append(fit)
                if l < st.n_layers - 1:
                    self.call([("lw_next", self._np(fit.G), self._np(fit.b))])
            self.call([("lw_end",)])
            lw_b = [f.b for f in fits] if st.b is not None else None

            def loss(Ws, bs):
                out = [r[-1] for r in self.call([("net_loss", [self._np(w) for w in Ws],
                                                   None if bs is None else [self._np(v) for v in bs])])]
                return sum(o[0] for o in out)

            if loss([f.G for f in fits], lw_b) <= loss(G, st.b):
                G, alpha, Q, b = [f.G for f in fits], [f.alpha for f in fits], [f.Q for f in fits], lw_b
                W = list(G)
                kept = "layerwise"
        st.G, st.alpha, st.Q, st.W, st.b = G, alpha, Q, W, b
        st.mu = float(params.mu)
        st.W_prev = st.b_prev = None
        self.push_weights(reset=True)
        return kept

    def refit_output(self, level_set, *, rounds: int = 6) -> None:
        """:func:`.solver.refit_output` with the features on the shards: their Gram matrix and the
        gradient's data part ``(g a^T, g 1)`` are sums over the shards."""
        st, params, kern = self.state, self.params, self.kern
        L = st.n_layers
        parts = [r[-1] for r in self.call([("features",)])]
        gram = (self._sum([p[0] for p in parts]), self._sum([p[1] for p in parts]))
        m = self.m
        n_in = int(st.W[L - 1].shape[1])
        has_b = st.b is not None
        cur = {"update_W": True}

        def data_grad(X):
            res = [r[-1] for r in self.call([("refit_grad", np.asarray(X), n_in, has_b, cur["update_W"])])]
            gaT = self._sum([r[0] for r in res])
            g1 = self._sum([r[1] for r in res])
            return (gaT.astype(self.dtype) if gaT is not None else None,
                    g1.astype(self.dtype) if g1 is not None else None)

        def out_loss(W, b):
            return sum(r[-1] for r in self.call([("refit_loss", np.asarray(W), self._np(b))]))

        b0 = st.b[L - 1] if has_b else None
        ridge = params.refit_ridge * m
        kw = dict(xent=kern.softmax_xent, factor=kern.spd_factor, gram=gram, data_grad=data_grad, m=m)
        if level_set is None:
            W, b, _ = U.refit_output_layer(None, None, st.W[L - 1], b0, ridge=ridge, **kw)
            st.W[L - 1] = W
        else:
            GL, aL, QL, W, b = st.G[L - 1], st.alpha[L - 1], st.Q[L - 1], st.G[L - 1], b0
            before = out_loss(GL, b0)
            mu = 1e-2 * m
            for r in range(rounds):
                W, b, _ = U.refit_output_layer(None, None, W, b, G=GL, mu=mu, ridge=ridge, **kw)
                res = S._project(W, level_set, params, alpha0=aL, kern=kern)
                GL, aL, QL = res.G, res.alpha, res.Q
                mu *= 4.0
            if b0 is not None:
                cur["update_W"] = False
                _, b, _ = U.refit_output_layer(None, None, GL, b, update_W=False, **kw)
            if out_loss(GL, b) < before:
                st.G[L - 1], st.alpha[L - 1], st.Q[L - 1] = GL, aL, QL
                st.W[L - 1] = W
            else:
                b = b0
        if has_b:
            st.b[L - 1] = b
        self.call(self._set_ops([L - 1]) + [("features_end",)])
