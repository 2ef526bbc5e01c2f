"""Input checks at the library boundary (the estimator validates once; the
numeric core below trusts its inputs). Every message names the argument.

One rule per kind of parameter, shared by every estimator:

* :func:`check_int`: an integer (Python or NumPy; never a bool, a float or a string)
  within bounds;
* :func:`check_real`: a finite real number (Python or NumPy int/float; never a bool or a
  string) within bounds, each bound open or closed;
* :func:`check_bool`: True or False (NumPy's too), nothing that merely converts to one;
* :func:`check_choice`: one of a fixed set of values;
* :func:`check_layer_sizes`: a sequence (not a string) of positive integers.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ._backend import get_namespace
from .exceptions import FeatureScaleWarning, InvalidParameterError

__all__ = ["check_X", "check_labels", "check_layer_sizes", "check_int", "check_real", "check_bool",
           "check_choice"]


def check_int(name: str, v, *, lo: int | None = None, hi: int | None = None, none: bool = False):
    """``v`` as a Python int, or None when ``none`` allows it; else ValueError/TypeError naming ``name``."""
    if v is None and none:
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise InvalidParameterError(f"{name} must be an integer{' or None' if none else ''}, got {v!r}")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise InvalidParameterError(f"{name} must be an integer {rng}, got {v!r}")
    return v


def check_real(name: str, v, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
               hi_open: bool = False, none: bool = False):
    """``v`` as a finite Python float within ``lo``/``hi`` (open or closed), or None when allowed."""
    if v is None and none:
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise InvalidParameterError(f"{name} must be a number{' or None' if none else ''}, got {v!r}")
    v = float(v)
    ok = math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        parts = []
        if lo is not None:
            parts.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            parts.append(f"{'<' if hi_open else '<='} {hi:g}")
        raise InvalidParameterError(f"{name} must be a finite number{' ' + ' and '.join(parts) if parts else ''}, got {v!r}")
    return v


def check_bool(name: str, v) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise InvalidParameterError(f"{name} must be True or False, got {v!r}")
    return bool(v)


def check_choice(name: str, v, choices):
    if isinstance(v, (list, dict, set, np.ndarray)) or v not in tuple(choices):
        raise InvalidParameterError(f"{name} must be one of {', '.join(map(repr, choices))}, got {v!r}")
    return v


def check_X(X, name: str = "X", *, n_features: int | None = None, dtype: str = "float32") -> np.ndarray:
    """A finite 2-D float array (n_samples, n_features) in ``dtype``."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a sparse matrix ({type(X).__name__}); admmnet needs dense arrays: "
                        f"pass {name}.toarray()")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and other exotic inputs
        raise TypeError(f"{name} must be a 2-D numeric array, got {type(X).__name__} ({exc})") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {arr.shape})")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real numeric, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s)")
    with np.errstate(over="ignore"):
        out = arr.astype(dtype, copy=False)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} has values beyond the range of {dtype} (largest |value| "
                         f"{float(np.max(np.abs(arr))):.3g}): rescale the features or use dtype='float64'")
    arr = out
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, but the model expects {n_features}")
    return arr


# A column whose mean or standard deviation exceeds this gets a FeatureScaleWarning from
# QNNADMM.fit. Measured (3 splits each, QNN-ADMM's automatic preset, standardised features times
# s): wine FP / 1 bit 98.1 / 97.2 at s = 1, 96.3 / 92.6 at s = 10, 90.7 / 82.4 at s = 30,
# 88.9 / 64.8 at s = 100; breast cancer 96.2 / 96.8 at s = 1, 95.0 / 94.2 at 10, 93.0 / 80.4
# at 100 (python benchmarks/feature_scale.py, benchmarks/results/feature_scale/).
FEATURE_SCALE_WARN = 10.0


def feature_scale(X):
    """``(column, mean, std)`` of the column of ``X`` (n_samples x n_features, any array
    namespace) with the largest ``max(|mean|, std)``; the statistics as floats (integer or
    boolean input in float32: no float64 copy of a large image set for a warning)."""
    xp = get_namespace(X)
    Xf = X if xp.isdtype(X.dtype, "real floating") else xp.astype(X, xp.float32)
    mean = xp.mean(Xf, axis=0)
    std = xp.std(Xf, axis=0)
    size = xp.maximum(xp.abs(mean), std)
    j = int(xp.argmax(size))
    return j, float(mean[j]), float(std[j])


def warn_feature_scale(X, who: str = "QNN-ADMM", stacklevel: int = 3) -> None:
    """A :class:`~admmnet.exceptions.FeatureScaleWarning` when a column of ``X`` has a mean or
    standard deviation above :data:`FEATURE_SCALE_WARN` (in absolute value), naming the column
    and the fix; nothing for standardised features, for input the fit's own validation will
    refuse (its error says what is wrong), or for a dask array (lazy: its chunks are computed on
    the workers of a sharded fit, never read here for a warning)."""
    if hasattr(X, "to_delayed") and hasattr(X, "chunks"):
        return
    try:
        if not hasattr(X, "shape"):         # lists and other array-likes
            X = np.asarray(X, dtype=np.float64)
        if len(X.shape) != 2 or X.shape[0] < 2:
            return
        j, mean, std = feature_scale(X)
    except Exception:
        return
    if not (max(abs(mean), std) > FEATURE_SCALE_WARN):
        return
    warnings.warn(f"{who} expects standardised features, but column {j} of X has mean {mean:.3g} and std "
                  f"{std:.3g}: its penalties, presets and one-scale-per-layer level sets assume unit scale "
                  "and the fit will be less accurate. Standardise with the training rows' statistics: "
                  "make_pipeline(StandardScaler(), QNNADMM(...)), or admmnet.datasets.files."
                  "fit_standardisation + admmnet.with_standardisation (the CLI does this for --data)",
                  FeatureScaleWarning, stacklevel=stacklevel)


def check_labels(y, name: str = "y", *, n_samples: int | None = None, classes=None):
    """1-D labels; returns ``(encoded, classes)`` with ``encoded`` in 0..K-1.

    With ``classes`` given (prediction/validation time), every label must be
    one of them."""
    arr = np.asarray(y)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels, got shape {np.asarray(y).shape}")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but X has {n_samples} samples")
    if hasattr(y, "toarray"):
        raise TypeError(f"{name} is a sparse matrix; pass 1-D class labels")
    if arr.dtype.kind == "c" or arr.dtype == object and any(isinstance(v, complex) for v in arr.ravel()[:100]):
        raise TypeError(f"{name} must hold class labels (integers or strings), got complex values")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold class labels (integers or strings), got non-integral floats "
                             "(a continuous target: admmnet trains classifiers)")
        if np.all(np.abs(arr) < 2.0 ** 53):     # exactly representable as int64: integer classes
            arr = arr.astype(np.int64)
    if arr.dtype == object:
        try:
            arr = arr.astype(str) if all(isinstance(v, str) for v in arr) else arr
            np.unique(arr)
        except TypeError:
            raise TypeError(f"{name} mixes label types that cannot be ordered (e.g. numbers and strings)") from None
    if classes is None:
        classes, encoded = np.unique(arr, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"{name} has a single class (1 class: {classes.tolist()}); a classifier needs at least 2")
        return encoded.astype(np.int64), classes
    classes = np.asarray(classes)
    idx = np.searchsorted(classes, arr)
    idx = np.clip(idx, 0, classes.size - 1)
    bad = classes[idx] != arr
    if np.any(bad):
        unknown = np.unique(arr[bad])[:5].tolist()
        raise ValueError(f"{name} has labels {unknown} not seen in training (classes {classes.tolist()[:10]})")
    return idx.astype(np.int64), classes


def check_layer_sizes(sizes, name: str = "hidden_sizes") -> tuple[int, ...]:
    """A tuple of positive ints from a sequence of integers (or one integer); strings,
    floats and bools are refused, not converted."""
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, (bool, np.bool_)):
        sizes = (sizes,)
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple, np.ndarray, range)):
        raise InvalidParameterError(f"{name} must be a sequence of positive integers, e.g. (200, 200), got {sizes!r}")
    out = []
    for s in (sizes.tolist() if isinstance(sizes, np.ndarray) else sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s < 1:
            raise InvalidParameterError(f"{name} must be a sequence of positive integers, got {sizes!r}")
        out.append(int(s))
    return tuple(out)
