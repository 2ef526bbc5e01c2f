r"""Mini-batch training loop with seeded shuffling and early stopping.

:func:`train` minimises the mean softmax cross-entropy of an MLP (plus an
optional penalty) by mini-batch gradient steps of an optimizer from
:mod:`admmnet.backprop.optim`:

* every epoch visits the training rows in a fresh order drawn from the
  seeded generator ``rng`` (same seed, same order, same result);
* after every epoch the *evaluated* network (for quantized methods: the
  quantized one, :meth:`Objective.eval_weights`) is scored on a held-out
  split; the best epoch (highest held-out accuracy, ties broken by lower
  held-out loss) is kept, and training stops after ``patience`` epochs
  without improvement (early stopping) or after ``epochs`` epochs.

Divergence: an epoch whose training loss (or the probe's) is not finite, or one of whose
steps leaves a non-finite parameter (the epoch then ends at that step), is undone
(parameters, optimizer state and the objective's own state, :meth:`Objective.checkpoint`,
back to the epoch's start) and run again at a tenth of
the learning rate, at most :data:`MAX_LR_CUTS` times; then training stops
(``stop="diverged"``, a :class:`~admmnet.exceptions.DivergenceWarning`) with the best
finite epoch, or raises :class:`~admmnet.exceptions.DivergenceError` when no epoch was
finite. A fitted network never holds NaN.

What differs between methods is an :class:`Objective`: which weights the
forward pass uses (straight-through quantization for QNN-STE and QAT), what
happens to the activations (QAT's fake quantization), an extra penalty (LQ's
``rho/2 ||W_l - G_l + lambda/rho||^2``) and a projection after each step
(QNN-STE's clipping of the latent weights).
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._backend import get_namespace, to_float, to_numpy
from ..exceptions import DivergenceError, DivergenceWarning
from .engine import backward, distillation_loss, forward, softmax_cross_entropy
from .optim import lr_at

__all__ = ["Objective", "TrainResult", "train", "evaluate", "logits"]


class Objective:
    """Plain full-precision training; subclasses override the hooks."""

    def forward_weights(self, Ws):
        """Weights used in the training forward pass (STE: the quantized ones)."""
        return Ws

    def eval_weights(self, Ws):
        """Weights of the evaluated network (held-out scoring, the fitted model)."""
        return self.forward_weights(Ws)

    def act_quant(self, training: bool):
        """None, or ``f(l, a) -> (a_q, ste_mask)`` applied to the input of every layer."""
        return None

    def weight_grads(self, Ws, dWs):
        """Map gradients w.r.t. the forward weights to gradients w.r.t. ``Ws`` (STE: identity)."""
        return dWs

    def penalty(self, Ws):
        """Extra term of the objective: ``(value as float, per-layer gradients or None)``."""
        return 0.0, None

    def after_step(self, Ws):
        """Projection applied after every optimizer step (e.g. clipping)."""
        return Ws

    def start_epoch(self, Ws, epoch: int):
        """Called before every epoch (e.g. re-estimating scales); returns ``Ws``."""
        return Ws

    def checkpoint(self) -> dict:
        """The objective's own state (duals, projections, masks, step counters) as it is, for
        :func:`train`'s roll-back of a diverged epoch (:func:`_state_of`)."""
        return _state_of(self)

    def restore(self, saved: dict) -> None:
        """Back to the state of :meth:`checkpoint` ``saved`` (which stays usable again)."""
        _set_state(self, saved)


def _state_of(obj) -> dict:
    """A snapshot of ``obj``'s attributes (an objective's, an optimizer's) for the roll-back of
    a diverged epoch: lists and dicts copied one level deep (their items are replaced, never
    written in place, and arrays are never written in place in this package, so sharing them
    is a snapshot)."""
    return _copy_state(vars(obj))


def _set_state(obj, saved: dict) -> None:
    """``obj``'s attributes back to the snapshot ``saved`` of :func:`_state_of` (which stays
    usable again)."""
    obj.__dict__.clear()
    obj.__dict__.update(_copy_state(saved))


def _copy_state(d: dict) -> dict:
    return {k: list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v for k, v in d.items()}


def _all_finite(xp, arrays) -> bool:
    """Whether every entry of every array (None skipped) is finite: one host sync."""
    flags = [xp.all(xp.isfinite(a)) for a in arrays if a is not None]
    return bool(xp.all(xp.stack(flags))) if flags else True


@dataclass
class TrainResult:
    """What :func:`train` did. ``Ws, bs``: the kept (best held-out) parameters;
    ``records``: one dict per epoch; ``best_epoch``; ``stop``: "max_epochs", "diverged",
    "early_stopping" or "interrupted"."""

    Ws: list
    bs: list | None
    records: list = field(default_factory=list)
    best_epoch: int = 0
    stop: str = "max_epochs"


def evaluate(Ws, bs, X, y_enc, activation, objective: Objective | None = None, batch: int = 8192, arch=None):
    """``(accuracy, mean loss)`` of the evaluated network on rows ``X`` with labels ``y_enc``
    (``arch``: None for the MLP, else the :class:`~admmnet.backprop.arch.Arch`)."""
    objective = objective or Objective()
    xp = get_namespace(X)
    We = objective.eval_weights(Ws)
    n = X.shape[0]
    K = We[-1].shape[0]
    correct, loss = 0, 0.0
    for s, Z in _logit_blocks(We, bs, X, activation, batch, arch, objective.act_quant(False)):
        yb = y_enc[s:s + Z.shape[1]]
        pred = to_numpy(xp.argmax(Z, axis=0))
        correct += int(np.sum(pred == yb))
        Yb = _one_hot(xp, yb, K, Z.dtype)
        ll, _ = softmax_cross_entropy(Z, Yb)
        loss += to_float(ll) * Z.shape[1]
    return correct / n, loss / n


def _logit_blocks(Ws, bs, X, activation, batch: int, arch, act_quant=None):
    """``(first row, logits)`` of consecutive blocks of ``batch`` rows of ``X`` (a CNN: at most
    1024, its activations being ~50x wider than its input)."""
    if arch is not None:
        batch = min(batch, 1024)
    for s in range(0, X.shape[0], batch):
        yield s, forward(Ws, bs, X[s:s + batch, ...].T, activation, act_quant=act_quant, keep=False, arch=arch)[0]


def logits(Ws, bs, X, activation, batch: int = 8192, arch=None):
    """The network's logits on rows ``X`` (K x n), computed in blocks of ``batch`` rows (a
    CNN: at most 1024)."""
    return get_namespace(X).concat([Z for _, Z in _logit_blocks(Ws, bs, X, activation, batch, arch)], axis=1)


#: Learning-rate cuts (by 10 each) after which a diverging run stops.
MAX_LR_CUTS = 4


def _one_hot(xp, y_enc, K, dtype):
    Y = np.zeros((K, y_enc.size))
    Y[y_enc, np.arange(y_enc.size)] = 1.0
    return xp.asarray(Y, dtype=dtype)


def train(Ws, bs, X, y_enc, *, activation: str, optimizer, lr: float, epochs: int, batch_size: int,
          rng: np.random.Generator, X_hold=None, y_hold=None, patience: int | None = None,
          lr_schedule: str = "constant", objective: Objective | None = None, trainable=None,
          train_bias=None, report=None, verbose: bool = False, label: str = "", arch=None,
          keep: str = "last", teacher=None) -> TrainResult:
    """Train ``Ws, bs`` (lists of arrays; ``bs`` may be None) on rows ``X`` (m x n_0) and
    encoded labels ``y_enc`` (host int array).

    ``trainable[l]`` / ``train_bias[l]`` freeze weights / biases of layer l when False.
    ``X_hold, y_hold``: held-out split for early stopping and best-epoch selection.
    Without it ``keep`` says which epoch is kept: ``"last"``, or ``"train"``, the epoch whose
    evaluated network fits the training rows best (highest accuracy on the training probe,
    ties broken by its lower loss; for quantizing stages, whose evaluated network can swing
    from epoch to epoch). ``report(Ws, bs) -> dict`` adds fields
    (e.g. ``val_accuracy``) to every record. Ctrl-C stops cleanly (``stop="interrupted"``).
    ``arch``: None for the MLP, else the :class:`~admmnet.backprop.arch.Arch` of a CNN (``X``
    then holds its flat input rows, ``C*H*W`` features each).
    ``teacher``: None, or ``(Zt, weight, temperature)`` with ``Zt`` a teacher's logits on the
    training rows (K x m, columns in the order of ``X``'s rows): the training loss is then
    :func:`~admmnet.backprop.engine.distillation_loss` (held-out scoring stays the
    cross-entropy)."""
    if keep not in ("last", "train"):
        raise ValueError(f"keep must be 'last' or 'train', got {keep!r}")
    objective = objective or Objective()
    xp = get_namespace(X)
    L = len(Ws)
    trainable = [True] * L if trainable is None else list(trainable)
    train_bias = list(trainable) if train_bias is None else list(train_bias)
    need = [t or (bs is not None and tb) for t, tb in zip(trainable, train_bias)]
    m = X.shape[0]
    K = Ws[-1].shape[0]
    dtype = X.dtype
    Y_all = _one_hot(xp, y_enc, K, dtype)                      # K x m
    decay = [True] * L + [False] * L
    n_probe = min(m, 10000)
    probe = np.sort(np.random.default_rng(0).permutation(m)[:n_probe])
    X_probe, y_probe = xp.take(X, xp.asarray(probe), axis=0), y_enc[probe]

    result = TrainResult(list(Ws), None if bs is None else list(bs))
    best_key = None
    bad = 0
    lr_scale, retries, finite_epochs = 1.0, 0, 0
    t_start = time.perf_counter()
    try:
        epoch = -1
        while epoch + 1 < epochs:
            epoch += 1
            t0 = time.perf_counter()
            # the epoch's starting point: parameters, optimizer state and the objective's own
            # state (their arrays are never written in place, so shallow copies are snapshots)
            snap = (list(Ws), None if bs is None else list(bs), _state_of(optimizer), objective.checkpoint())
            Ws = objective.start_epoch(Ws, epoch)
            lr_e = lr_at(lr, lr_schedule, epoch, epochs) * lr_scale
            perm = rng.permutation(m)
            tot_loss, n_seen = 0.0, 0
            aq = objective.act_quant(True)
            for s in range(0, m, batch_size):
                idx = xp.asarray(perm[s:s + batch_size])
                Ab = xp.take(X, idx, axis=0).T
                Yb = xp.take(Y_all, idx, axis=1)
                Wf = objective.forward_weights(Ws)
                Z, cache = forward(Wf, bs, Ab, activation, act_quant=aq, arch=arch)
                if teacher is None:
                    loss, dZ = softmax_cross_entropy(Z, Yb)
                else:
                    loss, dZ = distillation_loss(Z, Yb, xp.take(teacher[0], idx, axis=1), teacher[1], teacher[2])
                dWs, dbs = backward(Wf, cache, dZ, activation, need=need, arch=arch)
                dWs = objective.weight_grads(Ws, dWs)
                pen, pgrads = objective.penalty(Ws)
                if pgrads is not None:
                    dWs = [d if (g is None or d is None) else d + g for d, g in zip(dWs, pgrads)]
                gW = [d if trainable[l] else None for l, d in enumerate(dWs)]
                gb = [None] * L if bs is None else [d if train_bias[l] else None for l, d in enumerate(dbs)]
                params = Ws + ([] if bs is None else bs)
                grads = gW + ([] if bs is None else gb)
                params = optimizer.step(params, grads, lr_e, decay=decay)
                if not _all_finite(xp, params):
                    # the step overflowed: end the epoch here, before a projection of
                    # after_step (a knapsack, a k-means) meets the non-finite weights; the
                    # epoch is rolled back below
                    tot_loss = float("nan")
                    break
                Ws = objective.after_step(params[:L])
                if bs is not None:
                    bs = params[L:]
                nb = int(idx.shape[0])
                tot_loss += (to_float(loss) + pen) * nb
                n_seen += nb
            # a non-finite training loss is not evaluated: the evaluated network's projection
            # (a knapsack, a k-means) may reject non-finite weights before the roll-back below
            train_acc, probe_loss = (evaluate(Ws, bs, X_probe, y_probe, activation, objective, arch=arch)
                                     if math.isfinite(tot_loss) else (float("nan"), float("nan")))
            if not (math.isfinite(tot_loss) and math.isfinite(probe_loss)):
                # divergence: back to the epoch's start, a tenth of the step, the epoch again
                Ws, bs = snap[0], snap[1]
                _set_state(optimizer, snap[2])
                objective.restore(snap[3])
                if retries < MAX_LR_CUTS:
                    retries += 1
                    lr_scale /= 10.0
                    warnings.warn(f"{label}epoch {epoch + 1}: the training loss became non-finite at learning rate "
                                  f"{lr_e:.3g}; rolled back to the epoch's start and retrying at "
                                  f"{lr_e / 10:.3g}", DivergenceWarning, stacklevel=2)
                    epoch -= 1
                    continue
                result.stop = "diverged"
                if finite_epochs == 0:
                    raise DivergenceError(
                        f"{label}training diverged: the loss is non-finite even at {lr_e:.3g}, a "
                        f"{10 ** MAX_LR_CUTS:g}th of the learning rate, with the initial weights' first steps; "
                        "standardise the features (large inputs overflow) or lower lr")
                warnings.warn(f"{label}training diverged at epoch {epoch + 1} after {MAX_LR_CUTS} learning-rate "
                              "cuts; stopped with the best finite epoch", DivergenceWarning, stacklevel=2)
                if X_hold is None and keep == "last":
                    result.Ws, result.bs = list(Ws), None if bs is None else list(bs)
                break
            finite_epochs += 1
            rec = {"iteration": epoch + 1, "epoch": epoch + 1, "loss": tot_loss / n_seen,
                   "train_accuracy": train_acc, "lr": lr_e}
            if X_hold is not None:
                h_acc, h_loss = evaluate(Ws, bs, X_hold, y_hold, activation, objective, arch=arch)
                rec.update(holdout_accuracy=h_acc, holdout_loss=h_loss)
                key = (h_acc, -h_loss)
                if best_key is None or key > best_key:
                    best_key, bad = key, 0
                    result.Ws, result.bs, result.best_epoch = list(Ws), None if bs is None else list(bs), epoch + 1
                else:
                    bad += 1
            else:
                key = (train_acc, -probe_loss)
                if keep == "last" or best_key is None or key > best_key:
                    best_key = key
                    result.Ws, result.bs, result.best_epoch = list(Ws), None if bs is None else list(bs), epoch + 1
            if report is not None:
                rec.update(report(Ws, bs))
            rec["seconds"] = time.perf_counter() - t0
            rec["elapsed"] = time.perf_counter() - t_start
            result.records.append(rec)
            if verbose:
                hold = f" hold={rec['holdout_accuracy']:.4f}" if "holdout_accuracy" in rec else ""
                val = f" val={rec['val_accuracy']:.4f}" if rec.get("val_accuracy") is not None else ""
                print(f"{label}epoch {epoch + 1:3d}/{epochs}  loss={rec['loss']:.4f}  train={train_acc:.4f}"
                      f"{hold}{val}  lr={lr_e:.2e}  {rec['seconds']:.2f}s", file=sys.stderr, flush=True)
            if patience is not None and X_hold is not None and bad >= patience:
                result.stop = "early_stopping"
                break
    except KeyboardInterrupt:
        result.stop = "interrupted"
        if X_hold is None and keep == "last":
            result.Ws, result.bs = list(Ws), None if bs is None else list(bs)
        print(f"\ninterrupted after {len(result.records)} finished epoch(s)", file=sys.stderr)
    return result
