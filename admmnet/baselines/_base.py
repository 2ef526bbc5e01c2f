"""What the backprop-trained estimators share: parameters of the full-precision
stage, input validation, the held-out split, the training call and building
the fitted :class:`~admmnet.network.Network`."""
from __future__ import annotations

import time

import numpy as np

from .._validation import check_bool, check_choice, check_int, check_layer_sizes, check_real
from ..backprop import init_params, make_optimizer, train
from ..backprop.arch import ARCH_NAMES, Arch, arch_param, get_arch, init_arch_params
from ..backprop.optim import OPTIMIZERS
from ..model import History, NetworkModel, _check_eval_set
from ..network import Layer, Network
from ..quant import make_level_set
from ..admm.activations import ACTIVATIONS

__all__ = ["BackpropModel", "stratified_holdout", "FP_PARAM_NAMES"]

#: Constructor arguments that describe the full-precision training stage.
FP_PARAM_NAMES = ("hidden_sizes", "arch", "activation", "bias", "optimizer", "lr", "lr_schedule", "momentum",
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
                       verbose, arch="mlp"):
        self.hidden_sizes = hidden_sizes
        self.arch = arch
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

    def json_params(self) -> dict:
        """The constructor arguments as JSON (a layer-list ``arch`` as its JSON form)."""
        out = super().json_params()
        out["arch"] = arch_param(self.arch)
        return out

    # -- validation ----------------------------------------------------------------
    def _validate_fp(self):
        """The full-precision stage's parameters, by the shared rules of :mod:`admmnet._validation`."""
        if not (isinstance(self.arch, str) and self.arch in ARCH_NAMES) and not isinstance(
                self.arch, (list, tuple, dict, Arch)):
            raise ValueError(f"arch must be one of {list(ARCH_NAMES)} or a layer list, got {self.arch!r}")
        hidden = check_layer_sizes(self.hidden_sizes)
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("lr_schedule", self.lr_schedule, ("constant", "cosine"))
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_bool("bias", self.bias)
        check_bool("verbose", self.verbose)
        check_int("batch_size", self.batch_size, lo=1)
        check_int("max_epochs", self.max_epochs, lo=0)
        check_int("patience", self.patience, lo=1, none=True)
        check_int("seed", self.seed, lo=0, none=True)
        check_real("lr", self.lr, lo=0, lo_open=True)
        check_real("momentum", self.momentum, lo=0, hi=1, hi_open=True)
        check_real("weight_decay", self.weight_decay, lo=0)
        check_real("holdout_fraction", self.holdout_fraction, lo=0, hi=1, hi_open=True)
        return hidden

    def _xp(self):
        import array_api_compat.numpy as xp

        return xp

    # -- fit -----------------------------------------------------------------------
    def fit(self, X, y, *, eval_set=None, fp_model=None):
        """Train on ``X`` (n_samples x n_features) and labels ``y``; returns ``self``, with
        one record per epoch (every stage) in ``history_``. ``eval_set=(X_val, y_val)`` only
        adds ``val_accuracy`` to the records (early stopping uses a held-out part of the *training* rows,
        ``holdout_fraction``, so that a test set passed here never steers training).
        ``fp_model``: a fitted full-precision model (e.g. :class:`FPMLP`) to start from instead
        of training one first (PTQ, QNN-STE, DQ, QAT, LQ). Ctrl-C stops training cleanly: the
        stage under way keeps its best epoch so far, later training stages are skipped, the
        conversion/projection still runs, and ``history.stop == "interrupted"``."""
        hidden = self._validate_fp()
        self._validate()
        X, y_enc, classes = self._validate_fit_data(X, y, self.dtype)
        Xv = yv = None
        if eval_set is not None:
            Xv, yv = _check_eval_set(eval_set, X.shape[1], classes, self.dtype)
        self._arch = get_arch(self.arch, X.shape[1], classes.size)
        if fp_model is not None:
            self._check_fp_model(fp_model, X.shape[1], classes)
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        if self._arch is None:
            self.layer_sizes_ = (X.shape[1],) + hidden + (classes.size,)
        else:
            self.layer_sizes_ = (X.shape[1],) + tuple(n for n, _ in self._arch.weight_shapes)
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
        return self

    def _validate(self):
        """Method-specific parameter checks (subclasses)."""

    def _validate_quantization(self):
        """``bits``/``levels`` name a level set and ``granularity`` is 'layer' or 'row'
        (the checks every weight-quantizing baseline shares)."""
        check_choice("levels", self.levels, ("thesis", "signed", "binary", "ternary"))
        if self.bits is not None and self.bits != "fp":
            check_int("bits", self.bits, lo=1, hi=8)
        level_set_for(self.bits, self.levels)
        check_choice("granularity", self.granularity, ("layer", "row"))

    def _check_fp_model(self, fp_model, n_features, classes, name="fp_model"):
        """A clear error unless ``fp_model`` is a fitted FP network this model can start from (or,
        ``name`` naming the argument, distil from): features, arch or hidden sizes, classes, bias,
        activation."""
        if not hasattr(fp_model, "network_"):
            raise ValueError(f"{name} must be a fitted model (call fit() or admmnet.load() first)")
        net = fp_model.network_
        if any(layer.quantized for layer in net.layers):
            raise ValueError(f"{name} must be a full-precision network; got a quantized "
                             f"{type(fp_model).__name__} ({getattr(fp_model, 'method', '?')})")
        if fp_model.n_features_in_ != n_features:
            raise ValueError(f"{name} expects {fp_model.n_features_in_} features, X has {n_features}")
        fp_arch = None if net.arch is None else Arch.from_json(net.arch)
        if (fp_arch is None) != (self._arch is None) or (
                fp_arch is not None and (fp_arch.input_shape, fp_arch.layers) != (self._arch.input_shape,
                                                                                  self._arch.layers)):
            raise ValueError(f"{name} has arch {_arch_label(fp_arch)}, this model arch {_arch_label(self._arch)}: "
                             f"pass the same arch")
        hidden = tuple(net.layer_sizes[1:-1])
        if fp_arch is None and hidden != check_layer_sizes(self.hidden_sizes):
            raise ValueError(f"{name} has hidden sizes {list(hidden)}, this model hidden_sizes="
                             f"{list(self.hidden_sizes)}: pass the same hidden_sizes")
        if list(np.asarray(fp_model.classes_)) != list(classes):
            raise ValueError(f"{name} was trained on other classes than y holds")
        if (net.layers[0].bias is not None) != bool(self.bias):
            raise ValueError(f"{name} has bias={net.layers[0].bias is not None}, this model bias={self.bias}")
        if net.activation != self.activation:
            raise ValueError(f"{name} uses activation {net.activation!r}, this model {self.activation!r}")

    # -- helpers for subclasses ----------------------------------------------------------
    def _report(self, objective):
        """Per-epoch extra fields: ``val_accuracy`` of the evaluated network on ``X_val``."""
        from ..backprop import evaluate

        def rep(Ws, bs):
            if self._val_data is None:
                return {"val_accuracy": None}
            return {"val_accuracy": evaluate(Ws, bs, *self._val_data, self.activation, objective,
                                             arch=self._arch)[0]}
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
        if self._arch is not None:
            return init_arch_params(self._arch, self.activation, self._rng, xp, dt, bias=bool(self.bias))
        return init_params(self.layer_sizes_, self.activation, self._rng, xp, dt, bias=bool(self.bias))

    #: Without held-out rows, whether a quantizing stage keeps the epoch whose evaluated network
    #: fits the training rows best (:func:`admmnet.backprop.trainer.train`'s ``keep="train"``)
    #: instead of the last one; the other sources' ternary methods do (their quantized network
    #: can swing between epochs on small data).
    _keep_best_train = False

    def _run(self, Ws, bs, Xt, yt, Xh, yh, *, epochs, lr, objective=None, trainable=None, train_bias=None,
             report=None, stage="fp", patience="default", use_holdout=True, schedule=None, weight_decay=None,
             teacher=None):
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
                    train_bias=train_bias, report=report, verbose=bool(self.verbose), label=f"[{stage}] ",
                    arch=self._arch, keep="train" if stage != "fp" and self._keep_best_train else "last",
                    teacher=teacher)
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
                       dtype=self.dtype, inference=inference,
                       arch=None if self._arch is None else self._arch.to_json())


def _arch_label(arch) -> str:
    return "'mlp'" if arch is None else repr(arch.name or "layer list")


def _net_accuracy(net, X, y) -> float:
    from .._backend import to_numpy

    return float(np.mean(np.argmax(to_numpy(net.logits(X)), axis=1) == y))


def level_set_for(bits, levels):
    """The level set of a quantized baseline (bits required)."""
    if bits is None or bits == "fp":
        if levels in ("binary", "ternary"):
            return make_level_set(levels, None)
        raise ValueError("bits must be set (an integer) for a quantized method")
    return make_level_set(levels, bits)

