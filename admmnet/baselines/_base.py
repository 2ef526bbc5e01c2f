"""What the backprop-trained estimators share: parameters of the full-precision
stage, input validation, the held-out split, the training call and building
the fitted :class:`~admmnet.network.Network`."""
from __future__ import annotations

import time

import numpy as np

from .._validation import check_labels, check_layer_sizes, check_X
from ..backprop import init_params, make_optimizer, train
from ..backprop.optim import OPTIMIZERS
from ..model import History, NetworkModel
from ..network import Layer, Network
from ..quant import make_level_set

__all__ = ["BackpropModel", "stratified_holdout", "FP_PARAM_NAMES"]

#: Constructor arguments that describe the full-precision training stage.
FP_PARAM_NAMES = ("hidden_sizes", "activation", "bias", "optimizer", "lr", "lr_schedule", "momentum",
                  "weight_decay", "batch_size", "max_epochs", "patience", "holdout_fraction")


def stratified_holdout(y_enc: np.ndarray, fraction: float, rng: np.random.Generator):
    """``(train_idx, hold_idx)``: ``round(fraction * n_c)`` rows of every class c (at least one
    when the class has two or more rows) go to the held-out part; both sorted."""
    hold = []
    for c in np.unique(y_enc):
        idx = np.flatnonzero(y_enc == c)
        k = int(round(fraction * idx.size))
        if idx.size >= 2:
            k = min(max(k, 1), idx.size - 1)
        else:
            k = 0
        hold.append(rng.permutation(idx)[:k])
    hold = np.sort(np.concatenate(hold)) if hold else np.array([], dtype=np.int64)
    mask = np.ones(y_enc.size, dtype=bool)
    mask[hold] = False
    return np.flatnonzero(mask), hold


class BackpropModel(NetworkModel):
    """Base of the gradient-trained estimators (FP, PTQ, QNN-STE, DQ, QAT, LQ).

    Subclasses define ``__init__`` (calling :meth:`_set_fp_params`) and
    ``_fit(xp, Xt, yt, Xh, yh, fp_model)`` returning ``(network, records, stop)``: the fitted
    :class:`Network`, the history records and how training stopped."""

    def _set_fp_params(self, hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum,
                       weight_decay, batch_size, max_epochs, patience, holdout_fraction, seed, dtype,
                       verbose):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.bias = bias
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.holdout_fraction = holdout_fraction
        self.seed = seed
        self.dtype = dtype
        self.verbose = verbose

    # -- validation ----------------------------------------------------------------
    def _validate_fp(self):
        hidden = check_layer_sizes(self.hidden_sizes)
        if self.activation not in ("relu", "hardsigmoid", "identity"):
            raise ValueError(f"activation must be 'relu', 'hardsigmoid' or 'identity', got {self.activation!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        _check_pos_int("batch_size", self.batch_size)
        _check_pos_int("max_epochs", self.max_epochs, lo=0)
        if self.patience is not None:
            _check_pos_int("patience", self.patience)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not (0 <= float(self.weight_decay)):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not (0 <= float(self.holdout_fraction) < 1):
            raise ValueError(f"holdout_fraction must lie in [0, 1), got {self.holdout_fraction!r}")
        return hidden

    def _xp(self):
        import array_api_compat.numpy as xp

        return xp

    # -- fit -----------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None, *, fp_model=None) -> History:
        """Train on ``X`` (n_samples x n_features) and labels ``y``; returns the :class:`History`
        (one record per epoch, every stage). ``X_val, y_val`` only add ``val_accuracy`` to the
        records (early stopping uses a held-out part of the *training* rows,
        ``holdout_fraction``, so that a test set passed here never steers training).
        ``fp_model``: a fitted full-precision model (e.g. :class:`FPMLP`) to start from instead
        of training one first (PTQ, QNN-STE, DQ, QAT, LQ). Ctrl-C stops training cleanly: the
        stage under way keeps its best epoch so far, later training stages are skipped, the
        conversion/projection still runs, and ``history.stop == "interrupted"``."""
        hidden = self._validate_fp()
        self._validate()
        X = check_X(X, "X", dtype=self.dtype)
        y_enc, classes = check_labels(y, "y", n_samples=X.shape[0])
        Xv = yv = None
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("X_val and y_val must be given together")
            Xv = check_X(X_val, "X_val", n_features=X.shape[1], dtype=self.dtype)
            yv, _ = check_labels(y_val, "y_val", n_samples=Xv.shape[0], classes=classes)
        if fp_model is not None:
            self._check_fp_model(fp_model, X.shape[1], classes)
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.layer_sizes_ = (X.shape[1],) + hidden + (classes.size,)
        rng = np.random.default_rng(self.seed)
        tr, ho = stratified_holdout(y_enc, float(self.holdout_fraction), rng) if self.holdout_fraction > 0 \
            else (np.arange(y_enc.size), np.array([], dtype=np.int64))
        xp = self._xp()
        Xt, yt = xp.asarray(X[tr]), y_enc[tr]
        Xh, yh = (xp.asarray(X[ho]), y_enc[ho]) if ho.size else (None, None)
        self._rng = rng
        self._interrupted = False
        self._val_data = None if Xv is None else (xp.asarray(Xv), yv)
        t0 = time.perf_counter()
        network, records, stop = self._fit(xp, Xt, yt, Xh, yh, fp_model)
        self.network_ = network
        self._level_set = network.level_set
        self.history_ = History(records, stop="interrupted" if self._interrupted else stop)
        self.n_iter_ = len(records)
        self.fit_seconds_ = time.perf_counter() - t0
        return self.history_

    def _validate(self):
        """Method-specific parameter checks (subclasses)."""

    def _validate_quantization(self):
        """``bits``/``levels`` name a level set and ``granularity`` is 'layer' or 'row'
        (the checks every weight-quantizing baseline shares)."""
        level_set_for(self.bits, self.levels)
        if self.granularity not in ("layer", "row"):
            raise ValueError(f"granularity must be 'layer' or 'row', got {self.granularity!r}")

    def _check_fp_model(self, fp_model, n_features, classes):
        if not hasattr(fp_model, "network_"):
            raise ValueError("fp_model must be a fitted model (call fit() or admmnet.load() first)")
        net = fp_model.network_
        if any(layer.quantized for layer in net.layers):
            raise ValueError(f"fp_model must be a full-precision network; got a quantized "
                             f"{type(fp_model).__name__} ({getattr(fp_model, 'method', '?')})")
        if fp_model.n_features_in_ != n_features:
            raise ValueError(f"fp_model expects {fp_model.n_features_in_} features, X has {n_features}")
        hidden = tuple(net.layer_sizes[1:-1])
        if hidden != check_layer_sizes(self.hidden_sizes):
            raise ValueError(f"fp_model has hidden sizes {list(hidden)}, this model hidden_sizes="
                             f"{list(self.hidden_sizes)}: pass the same hidden_sizes")
        if list(np.asarray(fp_model.classes_)) != list(classes):
            raise ValueError("fp_model was trained on other classes than y holds")
        if (net.layers[0].bias is not None) != bool(self.bias):
            raise ValueError(f"fp_model has bias={net.layers[0].bias is not None}, this model bias={self.bias}")
        if net.activation != self.activation:
            raise ValueError(f"fp_model uses activation {net.activation!r}, this model {self.activation!r}")

    # -- helpers for subclasses ----------------------------------------------------------
    def _report(self, objective):
        """Per-epoch extra fields: ``val_accuracy`` of the evaluated network on ``X_val``."""
        from ..backprop import evaluate

        def rep(Ws, bs):
            if self._val_data is None:
                return {"val_accuracy": None}
            return {"val_accuracy": evaluate(Ws, bs, *self._val_data, self.activation, objective)[0]}
        return rep

    def _stage_record(self, net, stage, iteration, seconds, Xt, yt):
        """One history record for a non-iterative stage (projection, conversion): train accuracy
        (first 10000 training rows) and ``val_accuracy`` of the fitted network ``net``."""
        n = min(Xt.shape[0], 10000)
        rec = {"iteration": iteration, "epoch": None, "stage": stage,
               "train_accuracy": _net_accuracy(net, Xt[:n, ...], yt[:n]), "val_accuracy": None,
               "seconds": seconds}
        if self._val_data is not None:
            rec["val_accuracy"] = _net_accuracy(net, *self._val_data)
        return rec

    def _initial_params(self, xp, fp_model=None):
        dt = getattr(xp, self.dtype)
        if fp_model is not None:
            net = fp_model.network_
            Ws = [xp.asarray(np.array(W, dtype=self.dtype)) for W in net.weights()]
            bs = None if net.layers[0].bias is None else \
                [xp.asarray(np.array(b, dtype=self.dtype).reshape(-1, 1)) for b in net.biases()]
            self.layer_sizes_ = tuple(net.layer_sizes)
            return Ws, bs
        return init_params(self.layer_sizes_, self.activation, self._rng, xp, dt, bias=bool(self.bias))

    def _run(self, Ws, bs, Xt, yt, Xh, yh, *, epochs, lr, objective=None, trainable=None, train_bias=None,
             report=None, stage="fp", patience="default", use_holdout=True, schedule=None, weight_decay=None):
        if self._interrupted:      # Ctrl-C in an earlier stage: skip the remaining training
            epochs = 0
        wd = self.weight_decay if weight_decay is None else weight_decay
        opt = make_optimizer(self.optimizer, weight_decay=float(wd),
                             momentum=float(self.momentum))
        res = train(Ws, bs, Xt, yt, activation=self.activation, optimizer=opt, lr=float(lr), epochs=int(epochs),
                    batch_size=int(self.batch_size), rng=self._rng,
                    X_hold=Xh if use_holdout else None, y_hold=yh if use_holdout else None,
                    patience=self.patience if patience == "default" else patience,
                    lr_schedule=schedule or self.lr_schedule, objective=objective, trainable=trainable,
                    train_bias=train_bias, report=report, verbose=bool(self.verbose), label=f"[{stage}] ")
        for r in res.records:
            r["stage"] = stage
        if res.stop == "interrupted":
            self._interrupted = True
        return res

    def _train_fp(self, xp, Xt, yt, Xh, yh, fp_model):
        """The full-precision stage: ``fp_model``'s weights, or a fresh training run."""
        if fp_model is not None:
            Ws, bs = self._initial_params(xp, fp_model)
            return Ws, bs, [], "from_model"
        Ws, bs = self._initial_params(xp)
        from ..backprop import Objective
        obj = Objective()
        res = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.max_epochs, lr=self.lr, objective=obj,
                        report=self._report(obj), stage="fp")
        return res.Ws, res.bs, res.records, res.stop

    def _network(self, Ws, bs, *, codes=None, scales=None, level_set=None, granularity="layer",
                 inference="float", scales_neg=None):
        """A host :class:`Network` from namespace arrays (codes/scales per layer or None;
        ``scales_neg``: per layer the scale of the negative codes, asymmetric ternary (TTQ))."""
        from .._backend import to_numpy

        layers = []
        for l, W in enumerate(Ws):
            W = to_numpy(W)
            b = None if bs is None else to_numpy(bs[l]).astype(self.dtype).reshape(-1, 1)
            if codes is not None and codes[l] is not None:
                c = to_numpy(codes[l]).astype(level_set.code_dtype)
                sn = None if scales_neg is None else to_numpy(scales_neg[l]).astype(self.dtype)
                layers.append(Layer(tuple(W.shape), codes=c, scale=to_numpy(scales[l]).astype(self.dtype),
                                    bias=b, scale_neg=sn))
            else:
                layers.append(Layer(tuple(W.shape), weight=W.astype(self.dtype), bias=b))
        return Network(layers, activation=self.activation, level_set=level_set, granularity=granularity,
                       dtype=self.dtype, inference=inference)


def _net_accuracy(net, X, y) -> float:
    from .._backend import to_numpy

    return float(np.mean(np.argmax(to_numpy(net.logits(X)), axis=1) == y))


def _check_pos_int(name, v, lo=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")


def level_set_for(bits, levels):
    """The level set of a quantized baseline (bits required)."""
    if bits is None or bits == "fp":
        if levels in ("binary", "ternary"):
            return make_level_set(levels, None)
        raise ValueError("bits must be set (an integer) for a quantized method")
    return make_level_set(levels, bits)

