r"""Data-parallel QNN-ADMM on a Dask cluster: ``QNNADMM(...).fit(X, y, client=client)``.

The training rows are split into one contiguous block per Dask worker (or ``n_shards``
blocks, spread round-robin); each block lives in a :class:`admmnet.admm.sharded.Shard`
held by its worker as a Dask *actor*, which keeps the block's lifted variables
(z_l, a_l, lambda) in the worker's memory for the whole fit. The driver (this process)
keeps the weights and runs :class:`admmnet.admm.sharded.ShardedSolver`: per layer it
receives sums over samples, solves the W-update and projects G, and sends the new
weights back. After the first scatter of the rows no per-sample array crosses the
network (docs/distributed.md). With the same seed the fit gives the single-process
iterates up to the order of floating-point sums (``tests/test_distributed.py``).

Data that is generated on the workers (``sources``: picklable callables, one per shard,
returning ``(X_rows, y_encoded)``) is never shipped at all; ``benchmarks/dask_scale.py``
enlarges MNIST that way.

Checkpoints: every shard writes its lifted variables to ``<checkpoint>.k<K>.shard<i>of<n>.npz``
(the workers need the path, i.e. a shared file system for a multi-machine cluster), then the
driver writes the weights and history to ``<checkpoint>`` itself; a resumed fit reloads
each shard from its file. A worker that dies mid-fit raises :class:`WorkerLostError`
naming the shard and the checkpoint to resume from.

Supported: the exact W and a solvers (the presets' choice), full precision and quantized
(the presets' layerwise quantizer, run on each layer's sums over the shards, or G by
projection with ``layerwise=False``), forward reset, momentum with its restart, the output
refit, eval sets, callbacks and checkpoints. Not sharded (an :class:`InvalidParameterError`
says so): the backtracking solvers; a budget is refused too.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import io as _io
from .admm import solver as S
from .admm.sharded import Shard, ShardedSolver, shard_bounds, solver_bytes
from .exceptions import DivergenceError, DivergenceWarning, InvalidParameterError, NonFiniteError

__all__ = ["fit_sharded", "WorkerLostError", "DaskShards", "dry_run_report"]


class WorkerLostError(RuntimeError):
    """A Dask worker holding a shard died (or its connection was lost) during a fit."""


class DaskShards:
    """The shards of a fit as Dask actors, one per block; ``self(lists)`` runs
    ``lists[i]`` on shard i (all at once) and returns their results."""

    def __init__(self, client, data, n_classes: int, *, dtype: str, device: str, workers=None, classes=None):
        info = client.scheduler_info()["workers"]
        workers = list(workers) if workers is not None else sorted(info)
        if not workers:
            raise ValueError("the Dask cluster has no workers")
        self.client = client
        self.workers = [workers[i % len(workers)] for i in range(len(data))]
        futs = []
        for item, w in zip(data, self.workers):
            if isinstance(item, _DaskBlock):  # row chunks of dask arrays: computed on their worker
                item = client.compute(item.delayed, workers=[w])
            elif not callable(item):      # the rows (X, y): scattered to their worker once
                item = tuple(client.scatter(list(item), workers=[w], direct=True))
            futs.append(client.submit(Shard, item, int(n_classes), dtype=dtype, device=device, classes=classes,
                                      actor=True, workers=[w], allow_other_workers=False, pure=False))
        self.actors = [f.result() for f in futs]
        self._futures = futs          # an actor lives while its future is held
        self.memory_limits = [int(info.get(w, {}).get("memory_limit") or 0) for w in self.workers]

    def _lost(self, i: int, step):
        """``step()``, with a lost worker of shard i (seen when the call is made or when its
        result is awaited) turned into a :class:`WorkerLostError`."""
        try:
            return step()
        except RuntimeError as exc:
            if "lost" in str(exc).lower() or "closed" in str(exc).lower():
                raise WorkerLostError(f"the Dask worker {self.workers[i]} holding shard {i} was lost "
                                      f"({exc})") from None
            raise
        except OSError as exc:       # connection closed, or the worker cannot be contacted
            raise WorkerLostError(f"the connection to the Dask worker {self.workers[i]} holding shard {i} "
                                  f"was lost ({type(exc).__name__}: {exc})") from None

    def _gather(self, futs) -> list:
        """The results of one call per shard; a lost worker becomes a :class:`WorkerLostError`."""
        return [self._lost(i, f.result) for i, f in enumerate(futs)]

    def _calls(self, method: str, args_per_shard) -> list:
        """One actor call per shard (``actor.method(*args)``), its result awaited."""
        futs = [self._lost(i, lambda a=a, args=args: getattr(a, method)(*args))
                for i, (a, args) in enumerate(zip(self.actors, args_per_shard))]
        return self._gather(futs)

    def __call__(self, lists):
        return self._calls("run", [(ops,) for ops in lists])

    def info(self) -> list[dict]:
        return self._calls("info", [()] * len(self.actors))

    def close(self) -> None:
        self.actors = []
        for f in self._futures:
            f.release()
        self._futures = []


class _DaskBlock:
    """Consecutive row chunks of a dask array X (and of y) that make one shard."""

    def __init__(self, delayed):
        self.delayed = delayed


def _stack(xs, ys):
    return np.concatenate(xs), np.concatenate(ys)


def _dask_blocks(X, y, n_shards: int) -> tuple[list, list[tuple[int, int]]]:
    """Group the row chunks of the dask arrays ``X`` (one chunk across the columns) and ``y``
    into ``n_shards`` blocks of about equal rows; their row ranges."""
    import dask
    import dask.array as da

    X = X.rechunk({1: -1})
    y = y.rechunk((X.chunks[0],)) if hasattr(y, "rechunk") else da.from_array(np.asarray(y), chunks=(X.chunks[0],))
    sizes = list(X.chunks[0])
    if any(math.isnan(s) for s in sizes):
        raise ValueError("X is a dask array of unknown chunk sizes: call X.compute_chunk_sizes() first")
    xs, ys = X.to_delayed().ravel(), y.to_delayed().ravel()
    starts = np.cumsum([0] + sizes)
    m = int(starts[-1])
    n_shards = max(1, min(int(n_shards), len(sizes)))
    # chunk i goes to the shard of its first row's position among n_shards equal parts
    owner = [min(n_shards - 1, int(starts[i] * n_shards // max(m, 1))) for i in range(len(sizes))]
    blocks, bounds = [], []
    for s in range(n_shards):
        idx = [i for i in range(len(sizes)) if owner[i] == s]
        if not idx:
            continue
        stack = dask.delayed(_stack, pure=True)
        blocks.append(_DaskBlock(stack([xs[i] for i in idx], [ys[i] for i in idx])))
        bounds.append((int(starts[idx[0]]), int(starts[idx[-1] + 1])))
    return blocks, bounds


class LocalShards:
    """The shards of a fit in this process (no Dask): the reference for the sharded path."""

    def __init__(self, data, n_classes: int, *, dtype: str, device: str):
        self.actors = [Shard(item, int(n_classes), dtype=dtype, device=device) for item in data]
        self.memory_limits = [0] * len(self.actors)

    def __call__(self, lists):
        return [a.run(ops) for a, ops in zip(self.actors, lists)]

    def info(self) -> list[dict]:
        return [a.info() for a in self.actors]

    def close(self) -> None:
        self.actors = []


def _shard_paths(checkpoint, k: int, n: int) -> list[Path]:
    p = Path(checkpoint)
    return [p.with_name(f"{p.name}.k{k}.shard{i}of{n}.npz") for i in range(n)]


def dry_run_report(n_samples: int, layer_sizes, dtype: str, n_workers: int = 1) -> dict:
    """What ``admmnet train --dry-run`` prints: the solver's memory estimate in total and per
    worker (:func:`admmnet.admm.sharded.solver_bytes`) against the memory available here."""
    from .memory import available_bytes

    per_worker = solver_bytes(math.ceil(n_samples / max(1, n_workers)), layer_sizes, dtype)
    total = solver_bytes(n_samples, layer_sizes, dtype)
    return {"n_samples": int(n_samples), "layer_sizes": [int(s) for s in layer_sizes], "dtype": dtype,
            "workers": int(n_workers), "bytes_per_sample": total["per_sample"], "bytes_total": total["total"],
            "bytes_per_worker": per_worker["total"], "available_bytes": available_bytes()}


def fit_sharded(model, X=None, y=None, *, client=None, n_shards: int | None = None, sources=None,
                classes=None, n_features: int | None = None, eval_set=None, checkpoint=None,
                checkpoint_every: int = 5, callback=None):
    """Fit ``model`` (a :class:`admmnet.QNNADMM`) data-parallel; the body of
    ``QNNADMM.fit(X, y, client=...)``. Returns ``model``.

    ``client``: a ``distributed.Client`` (None: the shards run in this process, one after
    the other: the same computation, used to test the split without a cluster).
    ``n_shards``: row blocks (default: one per worker). Instead of ``X, y``, ``sources``
    (one picklable callable per shard returning ``(X_rows, y_encoded)``, run on the
    worker) with ``classes`` and ``n_features``.
    """
    from ._validation import check_int
    from .memory import check_memory
    from .model import History, _check_eval_set, _fingerprint

    checkpoint_every = check_int("checkpoint_every", checkpoint_every, lo=1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    is_dask = sources is None and hasattr(X, "to_delayed") and hasattr(X, "chunks")
    if is_dask:        # a dask array: its chunks are computed on the workers, never here
        if client is None:
            from distributed import default_client

            client = default_client()
        if X.ndim != 2 or X.shape[0] != (y.shape[0] if hasattr(y, "shape") else len(y)):
            raise ValueError(f"X, y: X must be a 2-D dask array with one label per row, got {X.shape} and "
                             f"{getattr(y, 'shape', None)}")
        m, d = int(X.shape[0]), int(X.shape[1])
        if hasattr(y, "compute"):       # only the distinct labels come here
            import dask.array as da

            classes = np.asarray(client.compute(da.unique(y)).result())
        else:
            classes = np.unique(np.asarray(y))
        if classes.size < 2:
            raise ValueError(f"y: need at least 2 classes, got {classes.size}")
        model.n_features_in_ = d
        fingerprint = ["dask", X.name, getattr(y, "name", None), [m, d]]
    elif sources is None:
        X, y_enc, classes = model._validate_fit_data(X, y, model.dtype)
        m, d = int(X.shape[0]), int(X.shape[1])
        fingerprint = _fingerprint(X, y_enc)
    else:
        if X is not None or y is not None:
            raise ValueError("give either X, y or sources, not both")
        if classes is None or n_features is None:
            raise ValueError("sources need classes and n_features")
        classes = np.asarray(classes)
        d = int(n_features)
        model.n_features_in_ = d
        fingerprint = ["sources", [repr(s) for s in sources]]
    n_workers = len(client.scheduler_info()["workers"]) if client is not None else 1
    if n_shards is None:
        n_shards = len(sources) if sources is not None else n_workers
    n_shards = check_int("n_shards", n_shards, lo=1)
    if sources is not None and len(sources) != n_shards:
        raise ValueError(f"n_shards={n_shards} but {len(sources)} sources")

    raw_classes = None
    if is_dask:
        data, bounds = _dask_blocks(X, y, n_shards)
        n_shards = len(bounds)
        raw_classes = classes
    elif sources is None:
        bounds = shard_bounds(m, n_shards)
        n_shards = len(bounds)
        data = [(X[a:b], y_enc[a:b]) for a, b in bounds]
    else:
        data = list(sources)
    dtype = model.dtype
    device = model.device          # "auto": each worker takes its GPU if CuPy sees one
    if client is not None:
        shards = DaskShards(client, data, classes.size, dtype=dtype, device=device, classes=raw_classes)
    else:
        shards = LocalShards(data, classes.size, dtype=dtype, device=device)
    del data
    try:
        sizes_m = [i["m"] for i in shards.info()]
        if sources is not None:
            m = int(sum(sizes_m))
            starts = np.cumsum([0] + sizes_m)
            bounds = [(int(starts[i]), int(starts[i + 1])) for i in range(n_shards)]
        hidden, level_set, activation, params, lw = model._validate_params(m, d, classes.size)
        if params.w_solver != "exact" or params.a_solver != "exact":
            raise InvalidParameterError("a sharded fit (client=...) needs w_solver='exact' and a_solver='exact': "
                                        "the backtracking searches are not sharded")
        sizes = (d,) + hidden + (classes.size,)
        model.classes_ = classes
        model.layer_sizes_ = sizes
        model._level_set = level_set
        # the memory guard: each shard's state against its worker's memory limit
        for i, lim in enumerate(shards.memory_limits):
            if lim:
                check_memory(solver_bytes(bounds[i][1] - bounds[i][0], sizes, dtype)["total"], lim,
                             f"shard {i} ({bounds[i][1] - bounds[i][0]} samples)", workers=n_workers)
        X_val = None
        if eval_set is not None:
            X_val, yv_enc = _check_eval_set(eval_set, d, classes, dtype)
        P = model.params_
        # the monitored rows: the single-process subset, each shard its own columns of it
        rows = model.monitor_rows
        if rows is None or rows >= m:
            mon = [None] * n_shards
            m_mon = m
        else:
            idx = np.sort(np.random.default_rng([int(model.seed), 0x6D6F6E]).choice(m, size=int(rows),
                                                                                 replace=False))
            mon = [idx[(idx >= a) & (idx < b)] - a for a, b in bounds]
            m_mon = int(rows)
        shards([[("configure", sizes, activation.name, params.to_dict(), mon[i])] for i in range(n_shards)])
        drv = ShardedSolver(shards, n_shards, m, sizes, activation, level_set, params, bias=bool(model.bias),
                            dtype=dtype)
        history = History()
        max_iter = int(P["max_iter"])
        fp_iter = int(P["fp_iter"]) if level_set is not None else 0
        resumed = False
        if checkpoint is not None and Path(checkpoint).exists():
            history = _resume(model, drv, checkpoint, fingerprint, bounds, X_like=np.zeros((1, 1), dtype=dtype))
            resumed = True
        if not resumed:
            drv.level_set = level_set if fp_iter == 0 else None
            drv.init(np.random.default_rng(model.seed))
            drv.level_set = level_set
        state = drv.state
        switched = []

        def switch_if_due(force=False):
            if level_set is not None and state.G is None and (state.k >= fp_iter or force):
                if params.refit_output and state.k > 0:
                    drv.refit_output(None)
                switched.append(drv.start_quantized(layerwise=lw))

        prev = (history[-1].get("train_loss"), round(history[-1]["train_accuracy"] * m_mon)) if history else None
        restart = bool(params.momentum) and bool(P["momentum_restart"])
        t_start = time.perf_counter() - (history[-1]["elapsed"] if history else 0.0)

        def save():
            _save_checkpoint(model, drv, checkpoint, history, fingerprint, bounds)

        try:
            while state.k < max_iter:
                t0 = time.perf_counter()
                sent0, recv0, trips0 = drv.sent_bytes, drv.received_bytes, drv.round_trips
                cpu0 = [i["cpu_seconds"] for i in shards.info()]
                switch_if_due()
                ls_now = level_set if state.G is not None else None
                extrapolated = restart and state.W_prev is not None
                snap = (list(state.W), list(state.b) if state.b is not None else None,
                        state.G and list(state.G), state.alpha and list(state.alpha), state.Q and list(state.Q))
                try:
                    with np.errstate(over="ignore", invalid="ignore"):
                        stats = drv.iteration()
                        loss, correct = drv.network_loss()
                except (NonFiniteError, FloatingPointError, np.linalg.LinAlgError):
                    state.k += 1
                    loss, correct = float("nan"), 0
                train_loss = loss / m_mon
                if not math.isfinite(train_loss):
                    _diverged(model, drv, snap, prev, history)
                    break
                rejected = False
                if extrapolated and prev is not None and prev[0] is not None and train_loss > prev[0]:
                    state.W, state.b = snap[0], snap[1]
                    if state.G is not None and snap[2] is not None:
                        state.G, state.alpha, state.Q = snap[2], snap[3], snap[4]
                    state.W_prev = state.b_prev = None
                    drv.push_weights(reset=True)
                    train_loss, correct = prev
                    rejected = True
                prev = (train_loss, correct)
                dt = time.perf_counter() - t0
                cpu = [i["cpu_seconds"] - c for i, c in zip(shards.info(), cpu0)]
                model._set_network(state, activation)
                rec = drv.evaluate_objective()
                rec = {"iteration": state.k, **rec, "train_loss": train_loss, "train_accuracy": correct / m_mon,
                       "val_accuracy": (float(np.mean(model._predict_encoded(X_val) == yv_enc))
                                        if X_val is not None else None),
                       "seconds": dt, "elapsed": time.perf_counter() - t_start,
                       "beta": state.beta, "gamma": state.gamma, "mu": state.mu,
                       "phase": "fp" if ls_now is None else "quantized",
                       "extrapolated": extrapolated, "restart": rejected, **vars(stats),
                       "shards": n_shards, "bytes_sent_per_shard": drv.sent_bytes - sent0,
                       "bytes_received_per_shard": drv.received_bytes - recv0,
                       "round_trips": drv.round_trips - trips0, "shard_cpu_seconds": cpu}
                history.append(rec)
                if model.verbose:
                    from .model import _print_progress

                    _print_progress(rec, max_iter)
                if callback is not None:
                    callback(model, rec)
                if checkpoint is not None and (state.k % checkpoint_every == 0 or state.k == max_iter):
                    save()
        except KeyboardInterrupt:
            history.stop = "interrupted"
            if checkpoint is not None:
                save()
            print(f"\ninterrupted after {state.k} finished iteration(s)"
                  + (f"; state saved to {checkpoint}" if checkpoint else ""), file=sys.stderr)
        except WorkerLostError as exc:
            last = _io.load_npz(checkpoint, kind="checkpoint")[1]["scalars"]["k"] if (
                checkpoint is not None and Path(checkpoint).exists()) else None
            hint = (f"; fit again with checkpoint={str(checkpoint)!r} to resume from iteration {last}"
                    if last is not None else "; no checkpoint was written (pass checkpoint=PATH to be able "
                    "to resume)")
            raise WorkerLostError(f"sharded QNN-ADMM fit: {exc} during iteration {state.k + 1}{hint}") from None
        if history.stop not in ("interrupted", "diverged"):
            t0 = time.perf_counter()
            stages = []
            if level_set is not None and state.G is None:
                switch_if_due(force=True)
                stages.append(switched[-1])
            if params.refit_output and state.k > 0:
                drv.refit_output(level_set if state.G is not None else None)
                stages.append("refit_output")
            if stages:
                loss, correct = drv.network_loss(all_rows=True)
                model._set_network(state, activation)
                history.final = {"stage": "+".join(stages), "train_loss": loss / m, "train_accuracy": correct / m,
                                 "val_accuracy": (float(np.mean(model._predict_encoded(X_val) == yv_enc))
                                                  if X_val is not None else None),
                                 "seconds": time.perf_counter() - t0}
        model._set_network(state, activation)
        model.history_ = history
        model.n_iter_ = state.k
        model.sharding_ = {"shards": n_shards, "rows": [b - a for a, b in bounds],
                           "workers": list(getattr(shards, "workers", [])),
                           "bytes_sent_per_shard": drv.sent_bytes, "bytes_received_per_shard": drv.received_bytes,
                           "round_trips": drv.round_trips}
        return model
    finally:
        shards.close()


def _diverged(model, drv, snap, prev, history) -> None:
    """:meth:`QNNADMM._diverged` for the sharded driver: roll back to the iterate the step
    started from and stop, or raise when no iterate was finite."""
    state = drv.state
    state.W, state.b = snap[0], snap[1]
    if snap[2] is not None:
        state.G, state.alpha, state.Q = snap[2], snap[3], snap[4]
    state.W_prev = state.b_prev = None
    state.k -= 1
    finite = prev is not None
    if prev is None:
        drv.push_weights()
        loss, _ = drv.network_loss()
        finite = math.isfinite(loss) and all(np.all(np.isfinite(np.asarray(w))) for w in state.weights())
    if not finite:
        raise DivergenceError(f"QNN-ADMM diverged at iteration {state.k + 1} and no iterate was finite: "
                              f"standardise the features or use smaller penalties (beta, gamma, mu)")
    history.stop = "diverged"
    warnings.warn(f"QNN-ADMM diverged at iteration {state.k + 1} (non-finite training loss); rolled back to "
                  f"iteration {state.k}'s network and stopped", DivergenceWarning, stacklevel=3)


def _save_checkpoint(model, drv, path, history, fingerprint, bounds) -> None:
    """Shards first (each worker writes its file), then the driver's file, which names them;
    the previous checkpoint's shard files are removed last."""
    state = drv.state
    n = drv.n_shards
    paths = _shard_paths(path, state.k, n)
    meta = {"k": state.k, "fingerprint": fingerprint}
    drv.call([], per_shard=[[("save", str(paths[i]), dict(meta, shard=i, rows=list(bounds[i])))]
                            for i in range(n)])
    arrays = {}
    L = state.n_layers
    for l in range(L):
        arrays[f"W{l}"] = np.asarray(state.W[l])
        if state.b is not None:
            arrays[f"b{l}"] = np.asarray(state.b[l])
        if state.G is not None:
            arrays[f"G{l}"] = np.asarray(state.G[l])
            arrays[f"alpha{l}"] = np.asarray(state.alpha[l])
            arrays[f"Q{l}"] = np.asarray(state.Q[l])
        if state.W_prev is not None:
            arrays[f"W_prev{l}"] = np.asarray(state.W_prev[l])
            if state.b_prev is not None:
                arrays[f"b_prev{l}"] = np.asarray(state.b_prev[l])
    old = None
    if Path(path).exists():
        try:
            old = _io.load_npz(path, kind="checkpoint")[1].get("shard_files")
        except _io.CheckpointError:
            old = None
    meta = {"class": type(model).__name__, "params": model.json_params(), "scalars": S.state_scalars(state),
            "history": list(history), "history_stop": history.stop, "fingerprint": fingerprint,
            "classes": model.classes_.tolist(), "sharded": True, "bounds": [list(b) for b in bounds],
            "shard_files": [p.name for p in paths]}
    _io.save_npz(path, arrays, meta, kind="checkpoint")
    for name in old or []:
        p = Path(path).with_name(name)
        if p not in paths and p.exists():
            p.unlink()


def _resume(model, drv, path, fingerprint, bounds, X_like):
    from .model import History

    arrays, meta = _io.load_npz(path, kind="checkpoint")
    mine = {k: v for k, v in model.json_params().items() if k not in model._RESUME_FREE}
    theirs = {k: v for k, v in meta["params"].items() if k not in model._RESUME_FREE}
    if meta.get("class") != type(model).__name__ or mine != theirs:
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        raise _io.CheckpointError(f"{path}: checkpoint was made with other parameters ({', '.join(diff) or 'class'}); "
                                  "delete it or pass another path to start afresh")
    if meta["fingerprint"] != fingerprint:
        raise _io.CheckpointError(f"{path}: checkpoint was made on other training data; "
                                  "delete it or pass another path to start afresh")
    if not meta.get("sharded") or [list(b) for b in bounds] != meta.get("bounds"):
        raise _io.CheckpointError(f"{path}: checkpoint was made with another split into shards "
                                  f"({meta.get('bounds')} rows, this fit: {[list(b) for b in bounds]}): fit with "
                                  "the same number of shards (n_shards) to resume")
    sc = meta["scalars"]
    L = int(sc["n_layers"])

    def A(key):
        return np.asarray(arrays[key], dtype=X_like.dtype)

    quant = "G0" in arrays
    state = S.ADMMState(
        W=[A(f"W{l}") for l in range(L)], b=[A(f"b{l}") for l in range(L)] if "b0" in arrays else None,
        G=[A(f"G{l}") for l in range(L)] if quant else None,
        alpha=[A(f"alpha{l}") for l in range(L)] if quant else None,
        Q=[A(f"Q{l}") for l in range(L)] if quant else None,
        z=[None] * L, a=[None] * L, lam=None, beta=float(sc["beta"]), gamma=float(sc["gamma"]),
        mu=float(sc["mu"]), nu=[float(v) for v in sc["nu"]], theta=[float(v) for v in sc["theta"]],
        k=int(sc["k"]), layer_scale=float(sc.get("layer_scale", 1.0)),
        W_prev=[A(f"W_prev{l}") for l in range(L)] if "W_prev0" in arrays else None,
        b_prev=[A(f"b_prev{l}") for l in range(L)] if "b_prev0" in arrays else None)
    files = [Path(path).with_name(n) for n in meta["shard_files"]]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise _io.CheckpointError(f"{path}: its shard file(s) {', '.join(missing)} are missing")
    drv.restore(state, [[("restore", str(f))] for f in files])
    if model.verbose:
        print(f"resuming from {path} at iteration {state.k}", file=sys.stderr)
    return History(meta["history"], resumed_from=state.k)
