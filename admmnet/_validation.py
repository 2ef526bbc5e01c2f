"""Input checks at the library boundary (the estimator validates once; the
numeric core below trusts its inputs). Every message names the argument."""
from __future__ import annotations

import numpy as np

__all__ = ["check_X", "check_labels", "check_layer_sizes"]


def check_X(X, name: str = "X", *, n_features: int | None = None, dtype: str = "float32") -> np.ndarray:
    """A finite 2-D float array (n_samples, n_features) in ``dtype``."""
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be array-like, got {type(X).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {arr.shape})")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(dtype, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s)")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, but the model expects {n_features}")
    return arr


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
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold class labels (integers or strings), got non-integral floats")
        arr = arr.astype(np.int64)
    if classes is None:
        classes, encoded = np.unique(arr, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"{name} has a single class ({classes.tolist()}); need at least 2")
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
    """A tuple of positive ints."""
    if isinstance(sizes, (int, np.integer)):
        sizes = (int(sizes),)
    try:
        out = tuple(int(s) for s in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of positive integers, got {sizes!r}") from None
    if any(s < 1 for s in out) or any(float(s) != float(t) for s, t in zip(out, sizes)):
        raise ValueError(f"{name} must be a sequence of positive integers, got {sizes!r}")
    return out
