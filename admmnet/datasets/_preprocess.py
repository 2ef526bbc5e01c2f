"""The :class:`Dataset` container and the preprocessing shared by the
loaders: dtype checks, standardisation, one-hot encoding and the stratified
train/test split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "check_dtype", "standardize", "one_hot", "stratified_split", "check_test_fraction",
           "check_split_seed"]

_FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A train/test split of a classification dataset.

    ``X_train``/``X_test`` are ``(n_samples, n_features)`` float arrays (rows
    are samples; transpose for the solver's column convention), ``y_train``/
    ``y_test`` int64 labels in ``0..n_classes-1``; ``split`` says how the two
    parts were made. The last ``n_augmented`` training rows, if any, are synthetic
    (data augmentation); :meth:`original_train` gives the real ones.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    n_features: int
    split: str
    n_augmented: int = 0

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
            if X.ndim != 2 or X.shape[1] != self.n_features:
                raise ValueError(f"X_{part} must have shape (n, {self.n_features}), got {X.shape}")
            if y.shape != (X.shape[0],):
                raise ValueError(f"y_{part} must have shape ({X.shape[0]},), got {y.shape}")
        if not 0 <= self.n_augmented < max(self.X_train.shape[0], 1):
            raise ValueError(f"n_augmented must lie in [0, {self.X_train.shape[0]}), got {self.n_augmented}")

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.X_train.shape[0])

    def original_train(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of the real training rows (without the augmented copies)."""
        n = self.X_train.shape[0] - self.n_augmented
        return self.X_train[:n], self.y_train[:n]

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.X_test.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.X_train.shape}, test={self.X_test.shape}, "
            f"n_classes={self.n_classes}, dtype={self.X_train.dtype}, split={self.split!r}"
            + (f", n_augmented={self.n_augmented})" if self.n_augmented else ")")
        )


def check_dtype(dtype) -> np.dtype:
    """``dtype`` as a numpy dtype; it must be float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if dt not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


def standardize(
    X_train: np.ndarray, X_test: np.ndarray, dtype="float32"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre and scale both parts with the per-feature mean/std of ``X_train``.

    Statistics are computed in float64 from the training part only (a
    feature with std 0 gets std 1) and applied to both parts. Returns
    ``(X_train_std, X_test_std, mean, std)``, the arrays in ``dtype``.
    """
    dt = check_dtype(dtype)
    train = np.asarray(X_train, dtype=np.float64)
    test = np.asarray(X_test, dtype=np.float64)
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            f"X_train and X_test must be 2-D with the same number of features, "
            f"got shapes {train.shape} and {test.shape}"
        )
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return ((train - mean) / std).astype(dt), ((test - mean) / std).astype(dt), mean, std


def one_hot(y, n_classes: int, dtype="float32") -> np.ndarray:
    """One-hot encode labels ``y`` in ``0..n_classes-1``.

    Returns an array of shape ``(n_classes, n_samples)``: samples are
    COLUMNS, the solver's convention. Raises ValueError when ``y`` is not a
    1-D integer array or holds labels outside ``[0, n_classes)``.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y must be a 1-D array of integer labels, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"y must hold integer labels, got dtype {labels.dtype}")
    labels = labels.astype(np.int64, copy=False)
    bad = (labels < 0) | (labels >= n_classes)
    if np.any(bad):
        raise ValueError(
            f"y has {int(bad.sum())} label(s) outside [0, {n_classes}) "
            f"(min {labels.min()}, max {labels.max()}); n_classes={n_classes}"
        )
    out = np.zeros((int(n_classes), labels.size), dtype=check_dtype(dtype))
    out[labels, np.arange(labels.size)] = 1
    return out


def check_test_fraction(test_fraction: float) -> float:
    """``test_fraction`` as a float strictly between 0 and 1."""
    try:
        value = float(test_fraction)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}") from exc
    if not 0.0 < value < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    return value


def check_split_seed(split_seed) -> int:
    """``split_seed`` as a non-negative int."""
    if isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer)) or split_seed < 0:
        raise ValueError(f"split_seed must be a non-negative integer, got {split_seed!r}")
    return int(split_seed)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` of a stratified random split of labels ``y``.

    Each class contributes ``round(test_fraction * n_class)`` rows (at least
    one, and at least one left for training) to the test part, chosen with
    ``numpy.random.Generator(PCG64(seed))``. Both index arrays are sorted, so
    the rows keep their original order.
    """
    fraction = check_test_fraction(test_fraction)
    rng = np.random.Generator(np.random.PCG64(seed))
    labels = np.asarray(y)
    test_parts = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if members.size < 2:
            raise ValueError(f"class {cls} has {members.size} sample(s); a stratified split needs 2 or more")
        n_test = int(np.floor(fraction * members.size + 0.5))
        n_test = min(max(n_test, 1), members.size - 1)
        test_parts.append(rng.permutation(members)[:n_test])
    test = np.sort(np.concatenate(test_parts))
    mask = np.ones(labels.size, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask), test
