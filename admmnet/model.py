"""The user-facing estimator :class:`QNNADMM` and :func:`load`.

The estimator validates and converts its inputs once (samples in rows, as in
scikit-learn), hands the solver arrays with samples in columns (the thesis's
convention), runs :func:`admmnet.admm.solver.admm_iteration` and keeps the
quantized network it produces as a :class:`admmnet.network.Network`.
"""
from __future__ import annotations

import contextvars
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import io as _io
from ._backend import get_namespace, to_numpy
from .exceptions import DivergenceError, DivergenceWarning, InvalidParameterError, NonFiniteError
from ._validation import check_labels, check_layer_sizes, check_X, warn_feature_scale
from .admm import solver as S
from .admm.activations import ACTIVATIONS, get_activation
from .kernels import get_kernels
from .network import Layer, Network
from .admm.equalize import HOMOGENEOUS
from .presets import LAYERWISE_EQUALIZE, LAYERWISE_RHO_DEFAULT
from .quant import make_level_set

__all__ = ["NetworkModel", "QNNADMM", "History", "load", "register_model", "MODEL_CLASSES"]

MODEL_CLASSES: dict[str, type] = {}


def register_model(cls):
    """Class decorator: make ``cls`` loadable by :func:`load` under its name."""
    MODEL_CLASSES[cls.__name__] = cls
    return cls


# How many QNNADMM.fit calls are under way in this context: restarts and FP phases fit inner
# estimators, and only the outermost call checks the user's features (warn_feature_scale).
_FIT_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("admmnet_qnnadmm_fit_depth", default=0)


class History(list):
    """Per-iteration records of a fit (a list of dicts) plus how the fit ended.

    Each record has ``iteration, objective, loss, residual_z, residual_a,
    residual_w, train_loss, train_accuracy, val_accuracy, seconds, elapsed, beta, gamma,
    mu``, ``phase`` ("fp" or "quantized"), ``extrapolated`` (the iteration started from
    an inertial step), ``restart`` (that step was undone) and the inner-search counts ``backtracks, backtrack_caps,
    fista_iters, fista_caps, proj_iters``. ``stop`` is ``"max_iter"`` or
    ``"interrupted"``; ``resumed_from`` the iteration a checkpoint restarted at.
    ``final``: when a stage ran after the last iteration (the switch to the quantized
    network, the output refit), a dict ``stage, train_loss, train_accuracy,
    val_accuracy, seconds`` of the network the fit returns; else None.
    """

    def __init__(self, records=(), stop: str = "max_iter", resumed_from: int | None = None):
        super().__init__(records)
        self.stop = stop
        self.resumed_from = resumed_from
        self.final = None   # after the iterations: the quantizer / output refit stage, if any ran

    @property
    def interrupted(self) -> bool:
        return self.stop == "interrupted"

    def column(self, key: str) -> list:
        """One field over all iterations, e.g. ``history.column("train_accuracy")``."""
        return [rec.get(key) for rec in self]


def _check_eval_set(eval_set, n_features: int, classes, dtype: str):
    """``(X_val, y_val_encoded)`` from ``eval_set=(X_val, y_val)``."""
    if not (isinstance(eval_set, (tuple, list)) and len(eval_set) == 2):
        raise ValueError(f"eval_set must be a pair (X_val, y_val), got {type(eval_set).__name__}")
    X_val = check_X(eval_set[0], "eval_set X", n_features=n_features, dtype=dtype)
    yv, _ = check_labels(eval_set[1], "eval_set y", n_samples=X_val.shape[0], classes=classes)
    return X_val, yv


class _named:
    """Context manager: a plain ``ValueError``/``TypeError`` raised inside (scikit-learn's
    validation messages) is raised again with the argument names in front, the original
    message kept whole (scikit-learn's own checks match on it)."""

    def __init__(self, names: str):
        self.names = names

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind in (ValueError, TypeError) and not str(exc).startswith(self.names):
            raise kind(f"{self.names}: {exc}") from None
        return False


def _plain_value(v):
    """``v`` as JSON would give it back: tuples as lists, NumPy scalars as Python ones."""
    if isinstance(v, tuple):
        return [_plain_value(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _bits_to_level_set(bits, levels):
    if bits is None or (isinstance(bits, str) and bits.lower() == "fp"):
        if levels in ("binary", "ternary"):
            return make_level_set(levels, None)
        return None
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ValueError(f"bits must be an integer, None or 'fp', got {bits!r}")
    return make_level_set(levels, int(bits))


class NetworkModel(ClassifierMixin, BaseEstimator):
    """What every admmnet estimator shares once it holds a fitted :class:`Network`
    (``network_``, ``classes_``, ``n_features_in_``): a scikit-learn classifier
    (``get_params``/``set_params``, ``clone``, pipelines, grid search), prediction,
    scoring, weights, storage counts and :meth:`save`. Subclasses implement
    ``__init__`` (their parameters, stored unchanged as scikit-learn requires) and
    ``fit`` (returning ``self``), and set ``method``.

    Input validation uses scikit-learn's own utilities (``validate_data``,
    ``check_classification_targets``, ``check_is_fitted``) and then admmnet's
    (:mod:`admmnet._validation`: the float range of the fit's dtype, label encoding)."""

    method = "?"

    # -- parameters ----------------------------------------------------------
    def json_params(self) -> dict:
        """The constructor arguments as JSON gives them back (tuples as lists): what saved
        models, checkpoints and benchmark records store and compare."""
        out = {}
        for name, v in self.get_params(deep=False).items():
            out[name] = _plain_value(v)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.non_deterministic = False
        return tags

    # -- validation ------------------------------------------------------------
    def _validate_fit_data(self, X, y, dtype: str):
        """``(X, y_enc, classes)`` for ``fit``: scikit-learn's checks (2-D, numeric, finite,
        not sparse, consistent lengths, a classification target; sets ``n_features_in_`` and
        ``feature_names_in_``), then admmnet's (the range of ``dtype``, label encoding)."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        with _named("X, y"):
            X, y = validate_data(self, X, y, reset=True, dtype=[np.float64, np.float32],
                                 ensure_min_samples=1, ensure_min_features=1)
        y_arr = np.asarray(y)
        if not (y_arr.dtype.kind == "f" and np.all(np.isfinite(y_arr)) and np.all(y_arr == np.round(y_arr))):
            # (integral floats are classes, however large: scikit-learn's check would call
            # labels beyond the int64 range "continuous")
            check_classification_targets(y)
        X = check_X(X, "X", dtype=dtype)
        y_enc, classes = check_labels(y, "y", n_samples=X.shape[0])
        return X, y_enc, classes

    def _validate_X(self, X):
        """Rows to predict: fitted model, the fitted number of features (and names)."""
        check_is_fitted(self, "network_")
        with _named("X"):
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return check_X(X, "X", n_features=self.n_features_in_, dtype=self.network_.dtype)

    # -- prediction ------------------------------------------------------------
    def _logits(self, X) -> np.ndarray:
        X = self._validate_X(X)
        return np.asarray(self.network_.logits(X, compute_dtype="float64"))

    def decision_function(self, X) -> np.ndarray:
        """Logits of the (quantized) network: n_samples x n_classes; with two classes, as
        scikit-learn's classifiers, the 1-D score of the second class, ``z_1 - z_0``."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def _predict_encoded(self, X) -> np.ndarray:
        return np.argmax(np.asarray(self.network_.logits(X, compute_dtype="float64")), axis=1)

    def predict_proba(self, X) -> np.ndarray:
        """Softmax class probabilities, n_samples x n_classes (columns in ``classes_`` order)."""
        z = self._logits(X).astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels."""
        z = self._logits(X)
        return self.classes_[np.argmax(z, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (fraction in [0, 1]) of :meth:`predict` on ``(X, y)``."""
        if sample_weight is not None:
            return super().score(X, y, sample_weight=sample_weight)
        X = self._validate_X(X)
        y_enc, _ = check_labels(y, "y", n_samples=X.shape[0], classes=self.classes_)
        return float(np.mean(self._predict_encoded(X) == y_enc))

    def _check_fitted(self):
        check_is_fitted(self, "network_")

    def weights(self) -> list[np.ndarray]:
        """Effective weight matrices (``scale * codes`` for quantized layers), each n_l x n_{l-1}."""
        self._check_fitted()
        return self.network_.weights()

    def biases(self) -> list[np.ndarray] | None:
        self._check_fitted()
        return self.network_.biases()

    @property
    def storage_bits_per_weight(self) -> int:
        self._check_fitted()
        return self.network_.storage_bits_per_weight

    @property
    def model_bytes(self) -> int:
        self._check_fitted()
        return self.network_.model_bytes

    def compression_report(self, path=None) -> dict:
        """Sizes of a network with pruned layers of their own bit widths (the budget methods,
        docs/budget.md; :func:`admmnet.quant.compressed.compression_report`), from the fitted
        network's stored arrays (``path=None``) or from those a saved file holds (then also
        ``file_bytes``, the file's size on disk with its headers and metadata)."""
        import os

        from .quant.compressed import compression_report

        self._check_fitted()
        if not all(layer.compressed is not None for layer in self.network_.layers):
            raise ValueError(f"this {type(self).__name__} has no budget-compressed layers (method budget, "
                             "or qnn-admm with a budget)")
        if path is None:
            return compression_report(self.network_.payload(), self.network_.meta())
        arrays, meta = _io.load_npz(path, kind="model")
        rep = compression_report(arrays, meta["network"])
        rep["file_bytes"] = os.path.getsize(path)
        return rep

    # -- persistence -------------------------------------------------------------
    def save(self, path, *, history: bool = True) -> Path:
        """Save the trained network atomically (.npz): packed integer codes and scales
        (so that weights are exactly scale x codes), biases, parameters, classes and,
        unless ``history=False`` (the smallest file that predicts), the training history."""
        self._check_fitted()
        meta = {"class": type(self).__name__, "method": self.method, "params": self.json_params(),
                "network": self.network_.meta(), "classes": self.classes_.tolist(),
                "n_features": int(self.n_features_in_),
                "history": list(getattr(self, "history_", [])) if history else []}
        if getattr(self, "n_iter_", None) is not None:
            meta["n_iter"] = int(self.n_iter_)
        if getattr(self, "data_", None) is not None:   # the dataset and split it was trained on (CLI)
            meta["data"] = dict(self.data_)
        if getattr(self, "params_", None) is not None:
            meta["resolved_params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params_.items()}
        return _io.save_npz(path, self.network_.payload(), meta, kind="model")


@register_model
class QNNADMM(NetworkModel):
    r"""A multilayer perceptron trained without backpropagation by QNN-ADMM.

    The network ``a_l = h(W_l a_{l-1} + b_l)`` is split into per-layer
    variables (weights W_l, their quantized copy G_l = alpha_l Q_l,
    pre-activations z_l, activations a_l) and one multiplier lambda on the
    output; each is updated in closed form, by a backtracking step or by FISTA
    in a backward then forward sweep per iteration (docs/method.md, thesis ch. 3–4).
    The network that is evaluated, saved and reported is the quantized one.

    The defaults include two levers beyond the thesis (``forward_reset``,
    ``layer_scale``) that lift MNIST from the thesis's ~86% plateau; the
    thesis's own algorithm is ``QNNADMM(bias=False, beta=1, gamma=1,
    forward_reset=0, layer_scale=1, mu_growth=1, w_solver="backtracking",
    a_solver="backtracking")``.

    Parameters left at None are taken from ``preset`` when ``fit`` sees the data
    (the values used are in ``params_`` afterwards; :meth:`resolved_params`).

    Parameters
    ----------
    hidden_sizes : sequence of int, default None (preset)
        Widths of the hidden layers; input and output widths come from the data.
    preset : "auto", "seeds", "pendigits", "mnist" or None, default "auto"
        Where unset parameters come from. "auto": :func:`admmnet.presets.auto_params`
        of (n_samples, n_features, n_classes), a good run on data no preset has
        seen; a dataset name: that dataset's preset; None: the fixed values of
        ``QNNADMM.PRESET_PARAMS`` (the thesis-style schedule of admmnet < 0.4).
    activation : {"relu", "hardsigmoid", "identity", "leaky_relu"}, default None (preset)
        Hidden activation h (piecewise linear, so its z-update is closed-form;
        :mod:`admmnet.admm.activations`). The presets use the ReLU, except Seeds' ternary
        (1-bit) preset: ``leaky_relu`` (:data:`admmnet.presets.LOW_BIT_OVERRIDES`).
    bits : int, None or "fp"
        Quantization bit width N (its meaning depends on ``levels``); None/"fp"
        trains full precision (no G, no mu).
    levels : {"thesis", "signed", "binary", "ternary"}
        The level set (docs/method.md, "Level sets"): ``thesis`` N-bit is the integers
        -(2^N-1)..2^N-1 (its 1 bit is ternary), ``signed`` N-bit is
        -(2^(N-1)-1)..2^(N-1)-1; ``binary``/``ternary`` ignore ``bits``.
    granularity : {"layer", "row"}
        One scale alpha per layer (thesis) or per output row.
    bias : bool, default True
        Full-precision bias per layer, fitted in closed form jointly with W.
        The thesis has none (``bias=False`` is thesis-exact); we default to a
        bias because the small Seeds/Pendigits nets need it and it costs only
        n_l floats per layer (counted in ``model_bytes``).
    beta, gamma, mu : float, default None (preset)
        Penalties of the constraints z_l = W_l a_{l-1} + b_l, a_l = h(z_l),
        W_l = G_l (eq. 3.6). 1/beta is roughly the step the output logits take
        towards the labels per iteration: small beta learns faster. The
        coupling terms are sums over the m training samples while
        ``mu/2 ||W - G||^2`` is not, so mu only binds W to G once it has grown to
        the order of ``beta * m`` (see ``mu_growth``); the presets do this.
    penalty_growth, mu_growth, max_penalty : float, default None (preset), None (preset), 1e6
        Continuation: after each iteration beta and gamma are multiplied by
        ``penalty_growth``, mu by ``mu_growth``, none beyond ``max_penalty``.
        Growing mu drives W onto its quantized copy by the end of training;
        growing beta and gamma starts with long steps and ends with short ones
        (the Seeds, Pendigits and small-data automatic FP presets: 1.02 for 300
        iterations; 1 in MNIST's and in every quantized preset).
    w_solver, a_solver : {"exact", "backtracking"}
        Exact solves (eq. 4.4 / 4.27, Cholesky) or one backtracking gradient
        step (Algorithms 3 / 6, factors ``kappa`` / ``tau``, at most
        ``max_backtrack`` trials).
    fista_eta, fista_max_iter, fista_tol : FISTA for z_L (Algorithm 7).
    proj_max_iter, proj_patience : the alpha/Q alternation of the G-update (Algorithm 4).
    ridge : float, default None (preset)
        Tikhonov weight ``ridge/2 ||W||^2`` in the W-subproblem; keeps the exact
        solve well posed when inputs are rank deficient (MNIST's constant
        border pixels) and mu = 0.
    forward_reset : int, default None (preset; 1 in every preset)
        Every ``forward_reset`` iterations the lifted z_l, a_l restart from a
        forward pass of the evaluated network (0: never, as in the thesis).
        Without it the free activations a_l absorb the training labels and the
        weights stop learning (the lifted network fits 100% while the real one
        plateaus); see README "What makes QNN-ADMM accurate".
    layer_scale : float, default None (preset)
        r >= 1 scales the penalties per layer, beta_l = beta r^(2(l-L)) and
        gamma_l = gamma r^(2(l-L)+1) (mu_l and ridge follow beta_l), so that
        beta_{l+1} > gamma_l > beta_l: the a-update then follows the layer above
        and the z-update follows a, and the output error reaches the first
        layers undiluted instead of shrinking about 4x per layer (r = 1).
    refit_output : bool, default None (preset)
        After the last iteration, refit the output layer (and its bias) to the
        cross-entropy on the forward features of the evaluated hidden layers
        (a convex single-layer problem; alternated with the projection when
        quantized): :func:`admmnet.admm.solver.refit_output`.
    refit_ridge : float, default 1e-5
        Weight decay per sample of the output refit (its ridge is ``refit_ridge * m``).
        Chosen on validation splits (MNIST after 30 iterations, 2 bits: 1e-5 95.45%,
        1e-4 95.01%, 1e-3 93.24%; Pendigits 2 bits: 1e-6 96.48%, 1e-5 96.88%, 1e-4 96.72%);
        without it the refit of nearly separable features gives weights in the hundreds.
    momentum : float in [0, 1), default None (preset)
        Inertial extrapolation: every iteration starts from
        ``W + momentum (W - W_prev)`` (and the same for b; G re-projected), the
        previous two iterations' results (:func:`admmnet.admm.solver.extrapolate`).
        With ``forward_reset`` the next sweep then sees the errors of the
        extrapolated network; the fitted network is never an extrapolated point.
    momentum_restart : bool, default True
        Adaptive restart of the inertial step: an iteration that started from an
        extrapolated point and raised the training cross-entropy of the evaluated
        network is undone (its weights return to the iterate it started from) and
        the next iteration starts without extrapolation. The monitored loss is a
        forward pass: no gradient is involved.
    monitor_rows : int or None, default 10000
        The per-iteration training loss and accuracy (the restart's monitored
        objective, ``train_loss`` / ``train_accuracy`` in the history) are measured
        on this many training rows, a fixed subset drawn once from ``seed``; None
        or a number >= n_samples: all rows. On MNIST the full pass was a fifth of
        an iteration; 10,000 rows estimate the mean cross-entropy to about 1%,
        well under the rises the restart acts on. The post-iteration record
        (``history.final``) is always on all rows.
    fp_iter : int, default None (preset: all of ``max_iter`` when quantized)
        Quantized fits: iterations of full-precision ADMM (no G, no mu term)
        before the network is quantized; 0 quantizes from the first iteration (the
        thesis). At the switch the FP network gets its output refit (if
        ``refit_output``) and G comes from the layerwise quantizer (``layerwise``)
        or the projection of W; mu then starts at ``mu``.
    layerwise : bool, default None (preset: True when quantized)
        Quantize at the switch with the gradient-free layerwise ADMM quantizer
        (:mod:`admmnet.admm.layerwise`): each layer's alpha Q and bias fitted to
        reproduce the FP layer's pre-activations on the features of the quantized
        layers below.
    layerwise_iter, layerwise_rho, layerwise_rho_growth : int, float, float, default None, None, 1.25
        Its ADMM iterations per layer and penalty schedule (rho relative to the
        mean eigenvalue of the layer's Gram matrix). None: the preset's; iterations 30 (60 for
        Seeds at 1 bit, :data:`admmnet.presets.LOW_BIT_OVERRIDES`), rho 1e-3 for level sets
        with largest code 1, ternary and binary, else 1e-2, :data:`admmnet.presets.LAYERWISE_RHO`.
    layerwise_equalize : {"max", "l2", "none"}, default None (preset: "max" for Pendigits, else "none")
        Cross-layer equalization of the FP network before the layerwise quantizer
        (:mod:`admmnet.admm.equalize`): each hidden unit's row and outgoing column rescaled to
        equal range (``max |w|`` or the Euclidean norm), which keeps the function of a ReLU
        network and lets one scale per layer represent every unit. Applies to positively
        homogeneous activations (ReLU, identity); the preset leaves other activations as they
        are, and an explicit "max" or "l2" with one is an error.
    max_iter : int, default None (preset)
        ADMM iterations.
    n_init : int, default None (preset: 5 for ternary to 3-bit runs under 20,000 rows, 10 for Seeds at 1 bit, else 1)
        Restarts, as scikit-learn's ``KMeans(n_init=...)``: the whole fit runs from ``n_init``
        initialisations (seeds ``seed``, ``seed + 1``, ...) and keeps the network with the lowest
        training cross-entropy on the fit's rows (a forward pass: no gradient). The losses are in
        ``init_losses_``, the kept one's index in ``best_init_``. Few-level networks fitted to a
        small FP network vary much with the start, and the training loss tells the good starts
        from the bad ones (:data:`admmnet.presets.N_INIT`). With ``checkpoint`` every
        initialisation has its own file (``<stem>.init<i><suffix>``), so a stopped fit resumes
        without redoing finished initialisations. A sharded fit (``client=``/``n_shards=``)
        trains one initialisation (the preset's restarts do not apply; an explicit n_init > 1 is
        refused).
    seed : int
        Seed of the initialisation (the only randomness): same seed, same result.
    dtype : {"float32", "float64"}
    device : {"auto", "cpu", "gpu"}
        Where the solver runs. "cpu": NumPy arrays, with the Numba kernels when
        Numba is installed; "gpu": CuPy arrays (the training data is moved to
        the GPU once, at the start of ``fit``; needs CuPy and a GPU); "auto"
        (default): the GPU when CuPy sees one, else the CPU. Same iterates
        within float tolerance on either.
    verbose : bool
        Print one progress line per iteration (to stderr).
    budget : str, int or None, default None
        A model-size budget instead of ``bits`` (docs/budget.md): ``"2000x"``, ``"800B"``,
        ``"12KB"``, ``"0.5bpw"`` or bits. The G-update becomes the budget projection
        (:mod:`admmnet.admm.budget_g`: per-layer widths from ``bit_choices`` and sparsity,
        ``sum_l b_l nnz_l <= budget``), still without gradients; the fitted layers are stored
        pruned at their own widths (:meth:`compression_report`). With a budget the preset's
        schedule is its FP phase (``fp_iter`` = the preset's ``max_iter``) followed by
        ``BUDGET_ITERS`` quantized iterations (with ``max_iter`` given: its last
        ``BUDGET_ITERS``), without the layerwise quantizer; checkpoints are not supported.
    bit_choices : sequence of int in 1..8, default 1..8
    quantizer : {"kmeans", "uniform"}, default "kmeans"
        The budget's candidate widths and quantizer (see :class:`admmnet.baselines.Budget`).
    blas_threads : "auto", int or None, default "auto"
        BLAS threads while ``fit`` runs on the CPU (threadpoolctl). A matrix product adds its
        float32 sums in another order on another number of threads, so a fit drifts apart at
        rounding level, and a low-bit fit with restarts can then keep another initialisation
        (docs/reliability.md, "Reproducibility and thread counts"). "auto": one thread when
        the fit has restarts (``n_init > 1``: their choice amplifies rounding) or is small (rows
        x widest layer <= ``BLAS_ONE_THREAD_WORK``, 2^20: Seeds, Pendigits, scikit-learn's toy
        sets), where one thread costs little time; the result is then the same whatever the
        machine's thread count. Larger fits without restarts (MNIST) keep the process's
        setting. An int: that many threads; None: the process's setting, always.
        The fitted ``blas_threads_`` is the count the fit ran with.
    """

    method = "qnn-admm"
    #: quantized iterations after the preset's FP phase when a budget is given
    BUDGET_ITERS = 10
    #: ``blas_threads="auto"`` runs a CPU fit on one BLAS thread up to this many rows x widest
    #: layer (2^20: Seeds, Pendigits with its copies, scikit-learn's toy sets; not MNIST), and
    #: always when it has restarts (benchmarks/blas_threads.py: one thread cost 0-2% on Seeds and
    #: Pendigits, 32% on 60,000 x 64)
    BLAS_ONE_THREAD_WORK = 1 << 20

    def __init__(self, hidden_sizes=None, *, activation=None, bits=None, levels="thesis",
                 granularity="layer", bias=True, beta=None, gamma=None, mu=None, penalty_growth=None,
                 mu_growth=None, max_penalty=1e6, w_solver="exact", a_solver="exact", kappa=2.0,
                 tau=2.0, max_backtrack=50, fista_eta=0.5, fista_max_iter=100, fista_tol=1e-4,
                 proj_max_iter=50, proj_patience=3, ridge=None, forward_reset=None, layer_scale=None,
                 refit_output=None, refit_ridge=1e-5, momentum=None, momentum_restart=True, monitor_rows=10000, fp_iter=None,
                 layerwise=None,
                 layerwise_iter=None, layerwise_rho=None, layerwise_rho_growth=1.25, layerwise_equalize=None,
                 max_iter=None, n_init=None, preset="auto", seed=0,
                 dtype="float32", device="auto", verbose=False, budget=None,
                 bit_choices=(1, 2, 3, 4, 5, 6, 7, 8), quantizer="kmeans", blas_threads="auto"):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.bits = bits
        self.levels = levels
        self.granularity = granularity
        self.bias = bias
        self.beta = beta
        self.gamma = gamma
        self.mu = mu
        self.penalty_growth = penalty_growth
        self.mu_growth = mu_growth
        self.max_penalty = max_penalty
        self.w_solver = w_solver
        self.a_solver = a_solver
        self.kappa = kappa
        self.tau = tau
        self.max_backtrack = max_backtrack
        self.fista_eta = fista_eta
        self.fista_max_iter = fista_max_iter
        self.fista_tol = fista_tol
        self.proj_max_iter = proj_max_iter
        self.proj_patience = proj_patience
        self.ridge = ridge
        self.forward_reset = forward_reset
        self.layer_scale = layer_scale
        self.refit_output = refit_output
        self.refit_ridge = refit_ridge
        self.momentum = momentum
        self.momentum_restart = momentum_restart
        self.monitor_rows = monitor_rows
        self.fp_iter = fp_iter
        self.layerwise = layerwise
        self.layerwise_iter = layerwise_iter
        self.layerwise_rho = layerwise_rho
        self.layerwise_rho_growth = layerwise_rho_growth
        self.layerwise_equalize = layerwise_equalize
        self.max_iter = max_iter
        self.n_init = n_init
        self.preset = preset
        self.seed = seed
        self.dtype = dtype
        self.device = device
        self.verbose = verbose
        self.budget = budget
        self.bit_choices = bit_choices
        self.quantizer = quantizer
        self.blas_threads = blas_threads

    # parameters that None leaves to the preset, and their values when preset=None
    PRESET_PARAMS = {"hidden_sizes": (200, 200), "beta": 0.1, "gamma": 0.1, "mu": 1.0, "penalty_growth": 1.0,
                     "mu_growth": 1.1,
                     "ridge": 1e-3, "forward_reset": 1, "layer_scale": 4.0, "refit_output": False,
                     "momentum": 0.0, "fp_iter": 0, "layerwise": False, "max_iter": 30, "n_init": 1,
                     "layerwise_rho": LAYERWISE_RHO_DEFAULT, "layerwise_equalize": LAYERWISE_EQUALIZE,
                     "activation": "relu", "layerwise_iter": 30}

    def _quantized(self) -> bool:
        """Whether this estimator trains a quantized network: bits, a binary/ternary level set or
        a budget."""
        return _bits_to_level_set(self.bits, self.levels) is not None or self.budget is not None

    def _separate_fp_phase(self) -> bool:
        """Whether the FP phase is a fit of its own, which ``fit(..., fp_data=...)`` can train on
        other rows: a quantized estimator without a budget (a budgeted fit is one ADMM run whose
        budget iterations continue its FP phase on the same rows)."""
        return self._quantized() and self.budget is None

    def resolved_params(self, n_samples: int, n_features: int, n_classes: int) -> dict:
        """Every parameter that ``fit`` uses, the ones left at None filled in from ``preset``:
        ``"auto"`` (:func:`admmnet.presets.auto_params` of the data's shape), a dataset name of
        :data:`admmnet.presets.TOPOLOGIES`, or None (the fixed values of ``PRESET_PARAMS``).
        With a quantized preset, an unset ``fp_iter`` follows ``max_iter`` (the FP phase is the
        whole run, then the layerwise quantizer)."""
        from . import presets

        # quantized (bits, or a binary/ternary level set): the preset's quantized schedule; the
        # level set's largest code decides the restarts (low bits only)
        bits = "q" if self._quantized() else None
        ls = _bits_to_level_set(self.bits, self.levels)
        qmax = ls.qmax if ls is not None else None
        if self.preset == "auto":
            base = presets.auto_params(int(n_samples), int(n_features), int(n_classes), bits, qmax=qmax)
        elif self.preset is None:
            base = dict(self.PRESET_PARAMS)
        elif isinstance(self.preset, str) and self.preset in presets.TOPOLOGIES:
            base = presets.qnn_admm_params(self.preset, bits, qmax=qmax)
        else:
            raise ValueError(f"preset must be 'auto', None or one of {sorted(presets.TOPOLOGIES)}, "
                             f"got {self.preset!r}")
        out = self.json_params()
        for name, fallback in self.PRESET_PARAMS.items():
            if out[name] is None:
                out[name] = base.get(name, fallback)
        if self.fp_iter is None and base.get("fp_iter") is not None and base.get("fp_iter") == base.get("max_iter"):
            out["fp_iter"] = out["max_iter"]
        if self.budget is not None:        # FP phase, then quantized iterations with the budget G-update
            if self.layerwise is None:
                out["layerwise"] = False
            if self.fp_iter is None:
                out["fp_iter"] = int(base.get("max_iter", out["max_iter"])) if self.max_iter is None else \
                    max(0, int(out["max_iter"]) - self.BUDGET_ITERS)
            if self.max_iter is None:
                out["max_iter"] = int(out["fp_iter"]) + self.BUDGET_ITERS
        if isinstance(out["hidden_sizes"], list):      # (JSON form) a sequence stays a tuple
            out["hidden_sizes"] = tuple(out["hidden_sizes"])
        return out

    #: One rule per parameter (admmnet._validation): the kind, then its bounds.
    _RULES = {
        "beta": ("real", dict(lo=0, lo_open=True)), "gamma": ("real", dict(lo=0, lo_open=True)),
        "mu": ("real", dict(lo=0)), "penalty_growth": ("real", dict(lo=1)), "mu_growth": ("real", dict(lo=1)),
        "max_penalty": ("real", dict(lo=0, lo_open=True)), "kappa": ("real", dict(lo=1, lo_open=True)),
        "tau": ("real", dict(lo=1, lo_open=True)), "fista_eta": ("real", dict(lo=0, lo_open=True, hi=1)),
        "fista_tol": ("real", dict(lo=0, lo_open=True)), "ridge": ("real", dict(lo=0)),
        "layer_scale": ("real", dict(lo=1, hi=1e3)), "refit_ridge": ("real", dict(lo=0)),
        "momentum": ("real", dict(lo=0, hi=1, hi_open=True)),
        "layerwise_rho": ("real", dict(lo=0, lo_open=True)), "layerwise_rho_growth": ("real", dict(lo=1)),
        "max_backtrack": ("int", dict(lo=1)), "fista_max_iter": ("int", dict(lo=1)),
        "proj_max_iter": ("int", dict(lo=1)), "proj_patience": ("int", dict(lo=1)),
        "forward_reset": ("int", dict(lo=0)), "max_iter": ("int", dict(lo=0)), "fp_iter": ("int", dict(lo=0)),
        "layerwise_iter": ("int", dict(lo=0)), "monitor_rows": ("int", dict(lo=1, none=True)),
        "n_init": ("int", dict(lo=1)),
        "seed": ("int", dict(lo=0, none=True)),
        "bias": ("bool", {}), "refit_output": ("bool", {}), "momentum_restart": ("bool", {}),
        "layerwise": ("bool", {}), "verbose": ("bool", {}),
        "levels": ("choice", ("thesis", "signed", "binary", "ternary")),
        "granularity": ("choice", ("layer", "row")), "layerwise_equalize": ("choice", ("max", "l2", "none")),
        "dtype": ("choice", ("float32", "float64")),
        "w_solver": ("choice", ("exact", "backtracking")), "a_solver": ("choice", ("exact", "backtracking")),
        "activation": ("choice", tuple(ACTIVATIONS)),
    }

    def _validate_params(self, n_samples: int, n_features: int, n_classes: int):
        from ._validation import check_bool, check_choice, check_int, check_real

        P = self.resolved_params(n_samples, n_features, n_classes)
        checks = {"real": check_real, "int": check_int, "bool": check_bool}
        for name, (kind, opts) in self._RULES.items():
            if kind == "choice":
                check_choice(name, P[name], opts)
            else:
                P[name] = checks[kind](name, P[name], **opts)
        hidden = check_layer_sizes(P["hidden_sizes"])
        P["hidden_sizes"] = hidden
        self.params_ = P
        level_set = _bits_to_level_set(self.bits, self.levels)
        if self.budget is not None:
            from .admm.budget_g import BudgetG
            from .quant import budget as QB

            choices = QB.check_budget_params(self.budget, self.bit_choices, self.quantizer)
            if level_set is not None:
                raise InvalidParameterError(f"give either bits ({self.bits!r}) or budget ({self.budget!r}): a budget picks "
                                 "every layer's bit width itself")
            if P["layerwise"]:
                raise InvalidParameterError("layerwise=True does not apply with a budget (its G-update is the budget projection)")
            sizes = (int(n_features),) + tuple(hidden) + (int(n_classes),)
            s_bits = QB.parse_budget(self.budget, sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))
            if s_bits < min(choices):
                raise InvalidParameterError(f"budget {self.budget!r} is {s_bits} bits: less than one weight at "
                                 f"{min(choices)} bit(s)")
            level_set = BudgetG(s_bits, choices, self.quantizer)
            self.budget_bits_ = s_bits
        resolve_device(self.device)
        activation = get_activation(P["activation"])
        params = S.ADMMParams(
            beta=P["beta"], gamma=P["gamma"], mu=P["mu"], penalty_growth=P["penalty_growth"],
            mu_growth=P["mu_growth"], max_penalty=P["max_penalty"], w_solver=P["w_solver"],
            a_solver=P["a_solver"], kappa=P["kappa"], tau=P["tau"], max_backtrack=P["max_backtrack"],
            fista_eta=P["fista_eta"], fista_max_iter=P["fista_max_iter"], fista_tol=P["fista_tol"],
            proj_max_iter=P["proj_max_iter"], proj_patience=P["proj_patience"], granularity=P["granularity"],
            ridge=P["ridge"], forward_reset=P["forward_reset"], layer_scale=P["layer_scale"],
            refit_output=P["refit_output"], refit_ridge=P["refit_ridge"], momentum=P["momentum"])
        if level_set is not None and params.mu <= 0:
            raise ValueError("mu must be > 0 when training a quantized network (bits is set)")
        depth = len(hidden)      # the lowest layer's penalties are beta, gamma x layer_scale^(-2 depth)
        low = min(P["beta"], P["gamma"]) * P["layer_scale"] ** (-2.0 * depth)
        if not (low > 1e-250 and math.isfinite(P["beta"] * P["gamma"])):
            raise InvalidParameterError(
                f"beta={P['beta']!r}, gamma={P['gamma']!r} and layer_scale={P['layer_scale']!r} give the first "
                f"layer of this {depth + 1}-layer network a penalty of {low:.3g}: out of floating-point range")
        lw = None
        if P["layerwise"]:
            eq = P["layerwise_equalize"]
            if eq != "none" and activation.name not in HOMOGENEOUS:
                if self.layerwise_equalize is not None:
                    raise InvalidParameterError(f"layerwise_equalize={eq!r} needs a positively homogeneous activation "
                                                f"{HOMOGENEOUS}, got activation={activation.name!r}")
                eq = "none"         # the preset's: rescaling would change this network's function
            lw = dict(n_iter=P["layerwise_iter"], rho=P["layerwise_rho"], rho_growth=P["layerwise_rho_growth"],
                      equalize=None if eq == "none" else eq)
        return hidden, level_set, activation, params, lw

    # -- training ------------------------------------------------------------
    def fit(self, X, y, *, eval_set=None, checkpoint=None, checkpoint_every: int = 5,
            callback=None, fp_model=None, fp_data=None, client=None, n_shards=None) -> "QNNADMM":
        """Train on ``X`` (n_samples x n_features) and labels ``y``; returns ``self``, the
        per-iteration records in ``history_`` (a :class:`History`).

        ``eval_set=(X_val, y_val)`` adds a validation accuracy to every record (it never
        steers training).
        ``checkpoint`` names a file: the solver state is saved there every
        ``checkpoint_every`` iterations, at the end and on Ctrl-C; if the file
        exists when ``fit`` starts (same data and parameters), training
        resumes from it instead of starting again. A resume from a periodic
        checkpoint reproduces the uninterrupted run exactly. Ctrl-C stops
        training cleanly: the model keeps the last state and
        ``history.stop == "interrupted"``. ``callback(model, record)`` is
        called after every iteration.

        ``fp_model``: a fitted full-precision :class:`QNNADMM` to take the FP phase
        from (a quantized fit with ``fp_iter`` equal to ``fp_model.n_iter_``): its
        weights and history replace the FP iterations, and the fit goes on with the
        quantization. When ``fp_model`` was fitted on the same rows with this
        estimator's resolved parameters (``bits=None``, ``max_iter=fp_iter``; a preset's FP
        phase: :func:`admmnet.presets.fp_phase_params`, ``auto_params(..., fp_phase=True)``,
        which the Seeds, Pendigits and small-data FP presets extend) and
        ``fp_iter >= max_iter`` (no quantized iterations, the presets' schedule),
        the result is the one of the uninterrupted fit; otherwise the quantized
        iterations start with the multiplier at 0. ``benchmarks/`` use it to train
        the FP network of a seed once for every bit width.

        ``fp_data=(X_fp, y_fp)``: a quantized fit whose FP phase trains on other rows than
        the quantizer, e.g. ``X`` plus distorted copies of it (what ``admmnet train`` does on
        Pendigits, :data:`admmnet.presets.AUGMENT`): the FP phase of every initialisation
        (:meth:`fp_phase`) is fitted on ``fp_data`` (with ``checkpoint`` and ``client``, each
        initialisation its own checkpoint file when ``n_init > 1``), then the quantizer and any
        quantized iterations run on ``X, y`` in this process, as with ``fp_model``. An FP
        phase stopped by Ctrl-C (or divergence) ends the fit there: the model is that FP
        network, ``history_.stop`` says why, and a rerun with the same checkpoint resumes it.

        ``client``: a ``distributed.Client``: the fit runs data-parallel on its workers, the
        rows split into ``n_shards`` blocks (default: one per worker) held in the workers'
        memory, with the iterates of this single-process fit up to the order of
        floating-point sums (:mod:`admmnet.dask_fit`, docs/distributed.md). ``n_shards``
        without a client runs the same split in this process.

        On the CPU the fit runs with ``blas_threads`` BLAS threads (``"auto"``: one for a fit
        with restarts or a small one, so that its result does not depend on the machine's thread
        count).
        """
        if _FIT_DEPTH.get() == 0:      # the user's call, not a restart's or an FP phase's inner fit
            warn_feature_scale(X, stacklevel=3)
        limit = self._blas_limit(X, y, fp_data)
        kw = dict(eval_set=eval_set, checkpoint=checkpoint, checkpoint_every=checkpoint_every, callback=callback,
                  fp_model=fp_model, fp_data=fp_data, client=client, n_shards=n_shards)
        from threadpoolctl import threadpool_limits

        depth = _FIT_DEPTH.set(_FIT_DEPTH.get() + 1)
        try:
            with threadpool_limits(limits=limit, user_api="blas"):     # limits=None: as it is
                threads = _blas_threads_now()
                self._fit(X, y, **kw)
        finally:
            _FIT_DEPTH.reset(depth)
        self.blas_threads_ = threads
        return self

    def _blas_limit(self, X, y, fp_data) -> int | None:
        """The BLAS thread count ``fit`` runs with (None: leave the process's setting), from
        ``blas_threads``; ``"auto"``: 1 on the CPU for a fit with restarts (``n_init > 1``) or
        with rows x (widest layer) <= :attr:`BLAS_ONE_THREAD_WORK`, the rows being the most any
        phase trains on."""
        bt = self.blas_threads
        if bt is None:
            return None
        if isinstance(bt, str):
            if bt != "auto":
                raise InvalidParameterError(f"blas_threads must be 'auto', a positive int or None, got {bt!r}")
        else:
            if isinstance(bt, bool) or not isinstance(bt, (int, np.integer)) or bt < 1:
                raise InvalidParameterError(f"blas_threads must be 'auto', a positive int or None, got {bt!r}")
            return int(bt)
        if self.device not in ("auto", "cpu") or resolve_device(self.device) != "cpu":
            return None             # the GPU's sums do not depend on CPU threads; a bad device is refused later
        try:
            n, d = np.shape(X)
            rows = max(n, np.shape(fp_data[0])[0] if fp_data is not None else 0)
            k = np.unique(np.asarray(y)).size
            P = self.resolved_params(n, d, k)
            width = max((int(d), k, *(int(h) for h in P["hidden_sizes"])))
            restarts = int(P["n_init"] or 1) > 1
        except Exception:           # malformed input: fit's own validation says what is wrong
            return None
        return 1 if restarts or rows * width <= self.BLAS_ONE_THREAD_WORK else None

    def _fit(self, X, y, *, eval_set, checkpoint, checkpoint_every, callback, fp_model, fp_data, client,
             n_shards) -> "QNNADMM":
        """:meth:`fit` under its BLAS thread limit."""
        from ._validation import check_choice, check_int

        if fp_data is not None:
            return self._fit_fp_data(X, y, fp_data, fp_model=fp_model, eval_set=eval_set, checkpoint=checkpoint,
                                     checkpoint_every=checkpoint_every, callback=callback, client=client,
                                     n_shards=n_shards)
        if client is not None or n_shards is not None:
            if self.n_init not in (None, 1):
                raise InvalidParameterError(f"n_init={self.n_init!r} is not supported by a sharded fit "
                                            "(client=/n_shards=): it trains one initialisation")
            if fp_model is not None:
                raise ValueError("fp_model is not supported by a sharded fit (client=/n_shards=)")
            if self.budget is not None:
                raise InvalidParameterError("budget is not supported by a sharded fit (client=/n_shards=): its G-update "
                                 "splits the budget over the layers in one process; fit without a client")
            from .dask_fit import fit_sharded

            return fit_sharded(self, X, y, client=client, n_shards=n_shards, eval_set=eval_set,
                               checkpoint=checkpoint, checkpoint_every=checkpoint_every, callback=callback)

        check_choice("dtype", self.dtype, ("float32", "float64"))
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, lo=1)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        X_in, y_in = X, y
        X, y_enc, classes = self._validate_fit_data(X, y, self.dtype)
        hidden, level_set, activation, params, lw = self._validate_params(X.shape[0], X.shape[1], classes.size)
        if int(self.params_["n_init"]) > 1:
            return self._fit_restarts(X_in, y_in, int(self.params_["n_init"]), fp_model=fp_model,
                                      eval_set=eval_set, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                                      callback=callback)
        if isinstance(fp_model, (list, tuple)):       # one FP model per initialisation
            if len(fp_model) != 1:
                raise ValueError(f"fp_model: {len(fp_model)} FP models for n_init=1; give one")
            fp_model = fp_model[0]
        X_val = None
        if eval_set is not None:
            X_val, yv_enc = _check_eval_set(eval_set, X.shape[1], classes, self.dtype)
        self.classes_ = classes
        sizes = (X.shape[1],) + hidden + (classes.size,)
        self.layer_sizes_ = sizes

        if resolve_device(self.device) == "cpu":     # the memory guard: refuse before allocating
            from .admm.sharded import solver_bytes
            from .memory import available_bytes, check_memory

            check_memory(solver_bytes(X.shape[0], sizes, self.dtype)["total"] - X.nbytes, available_bytes(),
                         f"fitting {X.shape[0]} samples")
        # samples as columns (on the CPU a view of X: no second copy of the data), moved to the
        # solver's device once
        A0, Y = _solver_arrays(X.T,
                               np.ascontiguousarray(np.eye(classes.size, dtype=self.dtype)[y_enc].T),
                               resolve_device(self.device))
        kern = get_kernels(A0)
        fingerprint = _fingerprint(X, y_enc)

        history = History()
        state = None
        fp_refit_done = False
        if fp_model is not None:
            state, history = self._from_fp_model(fp_model, A0, activation, level_set, params, hidden)
            fp_refit_done = bool(getattr(fp_model, "params_", {}).get("refit_output", False))
        elif checkpoint is not None and Path(checkpoint).exists():
            state, history = self._resume(checkpoint, A0, fingerprint, level_set)
        P = self.params_
        max_iter = int(P["max_iter"])
        fp_iter = int(P["fp_iter"]) if level_set is not None else 0
        if state is None:
            state = S.init_state(A0, sizes, activation, level_set if fp_iter == 0 else None, params,
                                 np.random.default_rng(self.seed), bias=bool(self.bias))
        self._level_set = level_set

        switched = []

        def switch_if_due(force=False):
            # the end of the full-precision phase: the FP network's output refit (as an FP
            # fit ends), then quantization (layerwise or by projection)
            if level_set is not None and state.G is None and (state.k >= fp_iter or force):
                if params.refit_output and state.k > 0 and not fp_refit_done:
                    S.refit_output(state, Y, activation, None, params, kern)
                switched.append(S.start_quantized(state, activation, level_set, params, kern, layerwise=lw, Y=Y))

        A_mon, Y_mon = _monitor_rows(A0, Y, self.monitor_rows, self.seed)
        m = int(A_mon.shape[1])
        # the monitored training loss and correct count of the last accepted iterate
        prev = (history[-1].get("train_loss"), round(history[-1]["train_accuracy"] * m)) if history else None
        restart = bool(params.momentum) and bool(P["momentum_restart"])
        t_start = time.perf_counter() - (history[-1]["elapsed"] if history else 0.0)
        try:
            while state.k < max_iter:
                t0 = time.perf_counter()
                switch_if_due()
                ls_now = level_set if state.G is not None else None
                extrapolated = restart and state.W_prev is not None
                # the iterate the step starts from (the solver never writes in place): the
                # restart's and the divergence guard's way back
                snap = (list(state.W), list(state.b) if state.b is not None else None,
                        state.G and list(state.G), state.alpha and list(state.alpha),
                        state.Q and list(state.Q))
                try:
                    with np.errstate(over="ignore", invalid="ignore"):
                        stats = S.admm_iteration(state, Y, activation, ls_now, params, kern)
                        loss, correct = S.network_loss(state.weights(), state.b, A_mon, Y_mon, activation, kern)
                except (NonFiniteError, FloatingPointError, np.linalg.LinAlgError):
                    state.k += 1            # the iteration that broke down counts as run (undone below)
                    loss, correct = float("nan"), 0
                train_loss = loss / m
                if not math.isfinite(train_loss):
                    self._diverged(state, snap, prev, A_mon, Y_mon, activation, kern, history)
                    break
                rejected = False
                if extrapolated and prev is not None and prev[0] is not None and train_loss > prev[0]:
                    # adaptive restart: an extrapolated step raised the training loss of the
                    # evaluated network; return to the iterate it started from (whose loss and
                    # count are ``prev``), drop the momentum
                    state.W, state.b = snap[0], snap[1]
                    if state.G is not None and snap[2] is not None:
                        state.G, state.alpha, state.Q = snap[2], snap[3], snap[4]
                    state.W_prev = state.b_prev = None
                    S.reset_from_forward(state, activation, kern)
                    train_loss, correct = prev
                    rejected = True
                prev = (train_loss, correct)
                dt = time.perf_counter() - t0
                self._set_network(state, activation)
                rec = S.evaluate_objective(state, Y, activation, kern)
                rec = {"iteration": state.k, **rec,
                       "train_loss": train_loss,
                       "train_accuracy": correct / m,
                       "val_accuracy": (float(np.mean(self._predict_encoded(X_val) == yv_enc))
                                        if X_val is not None else None),
                       "seconds": dt, "elapsed": time.perf_counter() - t_start,
                       "beta": state.beta, "gamma": state.gamma, "mu": state.mu,
                       "phase": "fp" if ls_now is None else "quantized",
                       "extrapolated": extrapolated, "restart": rejected,
                       **vars(stats)}
                history.append(rec)
                if self.verbose:
                    _print_progress(rec, max_iter)
                if callback is not None:
                    callback(self, rec)
                if checkpoint is not None and (state.k % checkpoint_every == 0 or state.k == max_iter):
                    self._save_checkpoint(checkpoint, state, history, fingerprint)
        except KeyboardInterrupt:
            history.stop = "interrupted"
            if checkpoint is not None:
                self._save_checkpoint(checkpoint, state, history, fingerprint)
            print(f"\ninterrupted after {state.k} finished iteration(s)"
                  + (f"; state saved to {checkpoint}" if checkpoint else ""), file=sys.stderr)
        if history.stop not in ("interrupted", "diverged"):
            t0 = time.perf_counter()
            stages = []
            if level_set is not None and state.G is None:
                switch_if_due(force=True)    # fp_iter >= max_iter: FP-ADMM, then the quantizer at the end
                stages.append(switched[-1])
            if params.refit_output and state.k > 0:
                S.refit_output(state, Y, activation, level_set, params, kern)
                stages.append("refit_output")
            if stages:
                loss, correct = S.network_loss(state.weights(), state.b, A0, Y, activation, kern)
                self._set_network(state, activation)
                n_all = int(A0.shape[1])
                history.final = {"stage": "+".join(stages), "train_loss": loss / n_all,
                                 "train_accuracy": correct / n_all,
                                 "val_accuracy": (float(np.mean(self._predict_encoded(X_val) == yv_enc))
                                                  if X_val is not None else None),
                                 "seconds": time.perf_counter() - t0}
                if self.verbose:
                    f = history.final
                    print(f"{f['stage']}: train={f['train_accuracy']:.4f}"
                          + (f" val={f['val_accuracy']:.4f}" if f["val_accuracy"] is not None else "")
                          + f"  {f['seconds']:.2f}s", file=sys.stderr, flush=True)
        self._set_network(state, activation)
        self.history_ = history
        self.n_iter_ = state.k
        return self

    def _fit_restarts(self, X, y, n_init: int, *, fp_model, eval_set, checkpoint, checkpoint_every,
                      callback) -> "QNNADMM":
        """``n_init`` whole fits from seeds ``seed, seed + 1, ...``; keep the one whose network has
        the lowest training cross-entropy on ``X`` (docstring of ``n_init``). ``fp_model``: None or
        one fitted FP model per initialisation (the FP phase of each). An initialisation that
        stops with a :class:`DivergenceError` (no finite iterate) counts as an infinite loss; when
        every one does, the last error is raised. A fit interrupted by Ctrl-C ends the restarts
        and is the result (``history_.stop == "interrupted"``; its checkpoint resumes it)."""
        from sklearn.base import clone

        if fp_model is not None:
            if isinstance(fp_model, QNNADMM) or not isinstance(fp_model, (list, tuple)) or len(fp_model) != n_init:
                raise ValueError(f"fp_model: with n_init={n_init} give a list of {n_init} fitted FP models "
                                 "(the FP phase of each initialisation, seeds seed, seed + 1, ...)")
        best, best_loss, losses, error = None, math.inf, [], None
        for i in range(n_init):
            est = clone(self).set_params(n_init=1, seed=None if self.seed is None else int(self.seed) + i)
            if self.verbose:
                print(f"initialisation {i + 1}/{n_init} (seed {est.seed})", file=sys.stderr, flush=True)
            try:
                est.fit(X, y, eval_set=eval_set, checkpoint=init_checkpoint(checkpoint, i),
                        checkpoint_every=checkpoint_every, callback=callback,
                        fp_model=None if fp_model is None else fp_model[i])
            except DivergenceError as exc:
                losses.append(math.inf)
                error = exc
                continue
            loss = est.training_loss(X, y)
            losses.append(loss)
            if est.history_.stop == "interrupted":
                best, best_i = est, i
                break
            if best is None or loss < best_loss:
                best, best_loss, best_i = est, loss, i
        if best is None:
            raise error
        self._adopt(best)
        self.params_ = dict(best.params_, n_init=n_init, seed=self.seed)
        self.init_losses_ = losses
        self.best_init_ = best_i
        if self.verbose:
            print(f"kept initialisation {best_i + 1}/{n_init} (training loss "
                  + ", ".join(f"{v:.4g}" for v in losses) + ")", file=sys.stderr, flush=True)
        return self

    def _adopt(self, est: "QNNADMM") -> None:
        """Take over the fitted state (the attributes ending in ``_``) of the fitted ``est``."""
        for k, v in vars(est).items():
            if k.endswith("_") and not k.startswith("__") or k == "_level_set":
                setattr(self, k, v)

    def fp_phase(self, n_samples: int, n_features: int, n_classes: int, init: int = 0) -> "QNNADMM":
        """The unfitted full-precision estimator whose fit is the FP phase of this quantized
        estimator on data of that shape, of its initialisation ``init`` (seed ``seed + init``):
        every resolved setting (:meth:`resolved_params`), ``max_iter`` = ``fp_iter``, no
        quantization, one initialisation. ``fit(X, y, fp_model=...)`` takes it fitted."""
        if not self._quantized():
            raise ValueError("fp_phase: a full-precision estimator has no separate FP phase")
        P = self.resolved_params(n_samples, n_features, n_classes)
        kw = self.get_params(deep=False)
        kw.update({k: P[k] for k in self.PRESET_PARAMS})
        kw.update(bits=None, levels="thesis", budget=None, layerwise=None, fp_iter=None, n_init=1,
                  max_iter=int(P["fp_iter"]), seed=None if self.seed is None else int(self.seed) + int(init))
        return QNNADMM(**kw)

    def _fit_fp_data(self, X, y, fp_data, *, fp_model, eval_set, checkpoint, checkpoint_every, callback,
                     client, n_shards) -> "QNNADMM":
        """``fit(X, y, fp_data=(X_fp, y_fp))`` (its docstring): every initialisation's FP phase on
        ``fp_data``, then the quantized fit on ``X, y`` from them."""
        if fp_model is not None:
            raise ValueError("give fp_model or fp_data, not both (fp_data trains the FP phases fp_model would give)")
        if not self._quantized():
            raise ValueError("fp_data is the training rows of a quantized fit's FP phase; a full-precision "
                             "fit trains on X, y (pass fp_data's rows as X, y)")
        if self.budget is not None:
            raise InvalidParameterError("fp_data does not apply with a budget: its FP phase is not a separate fit")
        if not isinstance(fp_data, (list, tuple)) or len(fp_data) != 2:
            raise ValueError("fp_data must be a pair (X_fp, y_fp)")
        Xv, _, classes = self._validate_fit_data(X, y, self.dtype)
        shape = (Xv.shape[0], Xv.shape[1], classes.size)
        self._validate_params(*shape)
        n_init = int(self.params_["n_init"])
        fps = []
        for i in range(n_init):
            fp = self.fp_phase(*shape, init=i)
            fp.fit(*fp_data, eval_set=eval_set, checkpoint=init_checkpoint(checkpoint, i) if n_init > 1 else checkpoint,
                   checkpoint_every=checkpoint_every, callback=callback, client=client, n_shards=n_shards)
            if fp.history_.stop in ("interrupted", "diverged"):
                self._adopt(fp)
                return self
            fps.append(fp)
        return self.fit(X, y, fp_model=fps, eval_set=eval_set, callback=callback)

    def training_loss(self, X, y) -> float:
        """Mean cross-entropy of the fitted network on ``(X, y)`` (labels in ``classes_``): the
        criterion by which ``n_init`` keeps a fit. Infinite when it is not finite."""
        self._check_fitted()
        lp = self.predict_log_proba(X)
        idx = np.searchsorted(self.classes_, np.asarray(y))
        if np.any(idx >= self.classes_.size) or np.any(self.classes_[np.minimum(idx, self.classes_.size - 1)]
                                                        != np.asarray(y)):
            raise ValueError("y holds labels the model was not fitted on")
        v = float(-np.mean(lp[np.arange(idx.size), idx]))
        return v if math.isfinite(v) else math.inf

    def _diverged(self, state, snap, prev, A_mon, Y_mon, activation, kern, history) -> None:
        """The iteration just run gave a non-finite training loss: return to the iterate it
        started from and stop (``history.stop = "diverged"``, a :class:`DivergenceWarning`);
        when that iterate is not finite either (no finite iterate at all), raise
        :class:`DivergenceError`."""
        state.W, state.b = snap[0], snap[1]
        if snap[2] is not None:
            state.G, state.alpha, state.Q = snap[2], snap[3], snap[4]
        state.W_prev = state.b_prev = None
        state.k -= 1
        if prev is None:
            loss, _ = S.network_loss(state.weights(), state.b, A_mon, Y_mon, activation, kern)
            finite = math.isfinite(loss) and all(np.all(np.isfinite(to_numpy(w))) for w in state.weights())
        else:
            finite = True
        if not finite:
            scale = float(np.max(np.abs(to_numpy(state.a[0])))) if state.a[0].size else 0.0
            raise DivergenceError(
                f"QNN-ADMM diverged at iteration {state.k + 1} and no iterate was finite (largest |X| = "
                f"{scale:.3g}): standardise the features (large inputs overflow the forward pass in "
                f"{self.dtype}) or use smaller penalties (beta, gamma, mu)")
        history.stop = "diverged"
        warnings.warn(f"QNN-ADMM diverged at iteration {state.k + 1} (non-finite training loss); rolled back to "
                      f"iteration {state.k}'s network and stopped: try smaller penalties (beta, gamma, mu), "
                      "momentum=0 or standardised features", DivergenceWarning, stacklevel=3)

    def _set_network(self, state: S.ADMMState, activation) -> None:
        layers = []
        for l in range(state.n_layers):
            shape = tuple(int(s) for s in state.W[l].shape)
            bias = to_numpy(state.b[l]).copy() if state.b is not None else None
            if state.G is not None and getattr(self._level_set, "kind", None) == "budget":
                layers.append(Layer(shape, bias=bias, compressed=self._level_set.compressed(state.G[l], l, self.dtype)))
            elif state.G is not None:
                codes = to_numpy(state.Q[l]).astype(self._level_set.code_dtype)
                layers.append(Layer(shape, codes=codes, scale=to_numpy(state.alpha[l]).copy(), bias=bias))
            else:
                layers.append(Layer(shape, weight=to_numpy(state.W[l]).copy(), bias=bias))
        self.network_ = Network(layers, activation=activation.name,
                                level_set=self._level_set if state.G is not None and
                                getattr(self._level_set, "kind", None) != "budget" else None,
                                granularity=self.granularity, dtype=self.dtype)

    def _from_fp_model(self, fp, A0, activation, level_set, params, hidden):
        """The solver state at the end of ``fp``'s fit (weights, biases, a forward pass)."""
        if not isinstance(fp, QNNADMM) or not hasattr(fp, "network_"):
            raise ValueError("fp_model must be a fitted QNNADMM")
        if level_set is None or int(self.params_["fp_iter"]) != int(getattr(fp, "n_iter_", -1)):
            raise ValueError(f"fp_model is the FP phase of a quantized fit: bits must be set and "
                             f"fp_iter ({self.params_['fp_iter']}) equal to the iterations fp_model ran "
                             f"({getattr(fp, 'n_iter_', None)})")
        if fp.network_.level_set is not None:
            raise ValueError("fp_model must be a full-precision QNNADMM (bits=None)")
        if tuple(fp.layer_sizes_) != self.layer_sizes_ or fp.network_.activation != activation.name \
                or bool(fp.bias) != bool(self.bias) or list(fp.classes_) != list(self.classes_):
            raise ValueError(f"fp_model has another network ({fp.layer_sizes_}, {fp.network_.activation}, "
                             f"bias={fp.bias}) than this fit ({self.layer_sizes_}, {activation.name}, "
                             f"bias={self.bias}) or other classes")
        xp = get_namespace(A0)
        Ws = [xp.asarray(w, dtype=A0.dtype) for w in fp.weights()]
        bs = fp.biases()
        bs = [xp.asarray(b, dtype=A0.dtype) for b in bs] if bs is not None else None
        state = S.state_from_weights(A0, Ws, bs, activation, params, k=int(getattr(fp, "n_iter_", 0)))
        return state, History(fp.history_)

    # -- checkpoints -----------------------------------------------------------
    _RESUME_FREE = ("max_iter", "verbose", "device", "blas_threads")

    def _save_checkpoint(self, path, state, history, fingerprint):
        meta = {"class": type(self).__name__, "params": self.json_params(),
                "scalars": S.state_scalars(state), "history": list(history),
                "history_stop": history.stop, "fingerprint": fingerprint,
                "classes": self.classes_.tolist()}
        if getattr(self._level_set, "kind", None) == "budget":     # the layers' shares (admm/budget_g.py)
            meta["budget_state"] = self._level_set.state()
        _io.save_npz(path, S.state_arrays(state), meta, kind="checkpoint")

    def _resume(self, path, A0, fingerprint, level_set=None):
        arrays, meta = _io.load_npz(path, kind="checkpoint")
        mine = {k: v for k, v in self.json_params().items() if k not in self._RESUME_FREE}
        theirs = {k: v for k, v in meta["params"].items() if k not in self._RESUME_FREE}
        if meta.get("class") != type(self).__name__ or mine != theirs:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise _io.CheckpointError(
                f"{path}: checkpoint was made with other parameters ({', '.join(diff) or 'class'}); "
                "delete it or pass another path to start afresh")
        if meta["fingerprint"] != fingerprint:
            raise _io.CheckpointError(f"{path}: checkpoint was made on other training data; "
                                      "delete it or pass another path to start afresh")
        try:
            state = S.state_from_arrays(arrays, meta["scalars"], A0)
            _check_state_shapes(state, self.layer_sizes_, int(A0.shape[1]))
            if getattr(level_set, "kind", None) == "budget":
                level_set.load_state(meta["budget_state"])
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise _io.CheckpointError(f"{path}: inconsistent checkpoint ({exc}); delete it or pass another "
                                      "path to start afresh") from None
        history = History(meta["history"], resumed_from=state.k)
        if self.verbose:
            print(f"resuming from {path} at iteration {state.k}", file=sys.stderr)
        return state, history

def init_checkpoint(path, i: int):
    """The checkpoint file of initialisation ``i`` of a fit with ``n_init > 1``:
    ``<stem>.init<i><suffix>`` next to ``path`` (None stays None)."""
    if path is None:
        return None
    p = Path(path)
    return p.with_name(f"{p.stem}.init{i}{p.suffix}")


DEVICES = ("auto", "cpu", "gpu")


def _blas_threads_now() -> int | None:
    """The BLAS thread count in effect (the largest over loaded BLAS libraries; None: none found)."""
    from threadpoolctl import threadpool_info

    counts = [int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


def resolve_device(device) -> str:
    """``"cpu"`` or ``"gpu"`` for ``device`` in :data:`DEVICES` ("auto": the GPU when CuPy sees one)."""
    from .kernels import cupy_gpu

    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(map(repr, DEVICES))}, got {device!r}")
    if device == "auto":
        return "gpu" if cupy_gpu.available() else "cpu"
    if device == "gpu" and not cupy_gpu.available():
        raise ValueError("device='gpu' needs CuPy and a CUDA GPU (pip install 'admmnet[gpu]'); "
                         "use device='cpu' or 'auto'")
    return device


def _monitor_rows(A0, Y, rows, seed):
    """The columns (samples) of ``A0, Y`` on which the per-iteration training loss is
    measured: all of them, or ``rows`` of them drawn once from ``seed`` (sorted, so the
    subset is a plain gather of the solver's arrays)."""
    m = int(A0.shape[1])
    if rows is None or rows >= m:
        return A0, Y
    xp = get_namespace(A0)
    idx = np.sort(np.random.default_rng([int(seed), 0x6D6F6E]).choice(m, size=int(rows), replace=False))
    idx = xp.asarray(idx)
    return xp.take(A0, idx, axis=1), xp.take(Y, idx, axis=1)


def _solver_arrays(A0: np.ndarray, Y: np.ndarray, device: str):
    """The solver's input arrays in the namespace of ``device`` (one host-to-device copy each)."""
    if device == "gpu":
        from .kernels import cupy_gpu

        return cupy_gpu.to_device(A0), cupy_gpu.to_device(Y)
    import array_api_compat.numpy as xp

    return xp.asarray(A0), xp.asarray(Y)


def load(path):
    """Load a model saved by ``save``; returns the fitted estimator."""
    arrays, meta = _io.load_npz(path, kind="model")
    cls = MODEL_CLASSES.get(meta.get("class"))
    if cls is None:
        raise _io.CheckpointError(f"{path}: unknown model class {meta.get('class')!r}")
    # JSON gave sequences back as lists: the constructor arguments were tuples
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
    model = cls(**params)
    try:
        model.network_ = Network.from_payload(arrays, meta["network"])
    except (KeyError, ValueError) as exc:
        raise _io.CheckpointError(f"{path}: corrupt model payload ({exc})") from None
    model._level_set = model.network_.level_set
    model.classes_ = np.asarray(meta["classes"])
    model.n_features_in_ = int(meta["n_features"])
    _check_loaded(path, model)
    model.layer_sizes_ = tuple(meta["network"]["layer_sizes"])
    model.history_ = History(meta.get("history", []))
    if meta.get("resolved_params") is not None:
        model.params_ = dict(meta["resolved_params"])
    if meta.get("n_iter") is not None:
        model.n_iter_ = int(meta["n_iter"])
    if isinstance(meta.get("data"), dict):
        model.data_ = dict(meta["data"])
    return model


def _check_state_shapes(state, sizes, m: int) -> None:
    """Raise ValueError unless the state's arrays fit layer sizes ``sizes`` and ``m`` samples."""
    L = len(sizes) - 1
    if state.n_layers != L or len(state.z) != L:
        raise ValueError(f"{state.n_layers} layers, expected {L}")
    for l in range(L):
        want = {"W": (sizes[l + 1], sizes[l]), "z": (sizes[l + 1], m)}
        got = {"W": tuple(state.W[l].shape), "z": tuple(state.z[l].shape)}
        if state.b is not None:
            want["b"], got["b"] = (sizes[l + 1], 1), tuple(state.b[l].shape)
        if state.G is not None:
            want["G"], got["G"] = want["W"], tuple(state.G[l].shape)
        if l > 0:
            want["a"], got["a"] = (sizes[l], m), tuple(state.a[l].shape)
        for k in want:
            if tuple(int(v) for v in got[k]) != want[k]:
                raise ValueError(f"{k}{l} has shape {got[k]}, expected {want[k]}")
    if tuple(state.lam.shape) != (sizes[-1], m):
        raise ValueError(f"lam has shape {tuple(state.lam.shape)}, expected {(sizes[-1], m)}")


def _check_loaded(path, model) -> None:
    """The loaded network is consistent with itself and with the model's metadata: layer
    shapes chain, the first takes ``n_features_in_`` inputs, the last gives one logit per
    class, biases have one entry per output, scales one per layer or per row, every
    number is finite. Else a :class:`CheckpointError` naming the file."""
    net = model.network_

    def bad(what):
        raise _io.CheckpointError(f"{path}: inconsistent model ({what}); the file was edited or damaged: "
                                  "save or train it again")

    layers = net.layers
    if not layers:
        bad("no layers")
    arch = None
    if net.arch is not None:
        try:
            arch = net._arch_obj()
            shapes = [tuple(int(v) for v in s) for s in arch.weight_shapes]
        except Exception as exc:       # a damaged layer description
            bad(f"architecture ({type(exc).__name__}: {exc})")
        if shapes != [tuple(layer.shape) for layer in layers]:
            bad(f"layer shapes {[tuple(layer.shape) for layer in layers]} do not fit the architecture's {shapes}")
    for l, layer in enumerate(layers):
        n_out, n_in = layer.shape
        if arch is None and l > 0 and n_in != layers[l - 1].shape[0]:
            bad(f"layer {l} takes {n_in} inputs but layer {l - 1} gives {layers[l - 1].shape[0]}")
        if layer.bias is not None and np.asarray(layer.bias).size != n_out:
            bad(f"layer {l} has {np.asarray(layer.bias).size} biases for {n_out} outputs")
        if layer.quantized and np.asarray(layer.scale).size not in (1, n_out):
            bad(f"layer {l} has {np.asarray(layer.scale).size} scales for {n_out} rows")
        for name in ("weight", "scale", "bias"):
            arr = getattr(layer, name)
            if arr is not None and not np.all(np.isfinite(np.asarray(arr, dtype=np.float64))):
                bad(f"layer {l}'s {name} holds NaN or inf")
    if net.layer_sizes[0] != model.n_features_in_:
        bad(f"n_features is {model.n_features_in_} but the network takes {net.layer_sizes[0]} inputs")
    classes = model.classes_
    if classes.ndim != 1 or classes.size != layers[-1].shape[0] or np.unique(classes).size != classes.size:
        bad(f"{classes.size} class label(s) for {layers[-1].shape[0]} outputs")


def _fingerprint(X: np.ndarray, y: np.ndarray) -> list:
    """What a checkpoint remembers of its training data: the shape, and a SHA-256 of the
    bytes of ``X`` (in the fit's dtype) and of the encoded labels (BLAKE2b: about a second
    per GB, once per fit): resuming on data that differs in one bit is refused."""
    import hashlib

    h = hashlib.blake2b(digest_size=32)
    h.update(np.ascontiguousarray(X).view(np.uint8).reshape(-1) if X.size else b"")
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return [list(X.shape), h.hexdigest()]


def _print_progress(rec: dict, total: int) -> None:
    res = math.sqrt(sum(r * r for r in rec["residual_z"]))
    val = f" val={rec['val_accuracy']:.4f}" if rec["val_accuracy"] is not None else ""
    print(f"iter {rec['iteration']:4d}/{total}  obj={rec['objective']:.4e}  |z-Wa|={res:.3e}  "
          f"train={rec['train_accuracy']:.4f}{val}  {rec['seconds']:.2f}s", file=sys.stderr, flush=True)
