"""UCI "seeds" (wheat kernels): 210 samples, 7 real features, 3 classes.

The file has no official split; :func:`load_seeds` makes a stratified one
with a fixed seed.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._fetch import CorruptFileError, fetch_file, read_text_file
from ._preprocess import Dataset, check_dtype, check_split_seed, check_test_fraction, stratified_split
from ._preprocess import standardize as _standardize

__all__ = ["load_seeds", "read_seeds"]

FILENAME = "seeds_dataset.txt"
N_ROWS = 210
N_FEATURES = 7
N_CLASSES = 3
PER_CLASS = 70


def read_seeds(path: os.PathLike | str) -> tuple[np.ndarray, np.ndarray]:
    """Parse and check ``seeds_dataset.txt``; returns ``(X float64 (210, 7), y int64 in 0..2)``.

    White space is split robustly (the UCI file has irregular tabs). Raises
    :class:`CorruptFileError` naming the file (and line) when the content is
    not 210 rows of 8 numbers with 70 rows per class 1..3.
    """
    path = Path(path)
    text = read_text_file(path)
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != N_FEATURES + 1:
            raise CorruptFileError(path, f"line {lineno} has {len(fields)} values, expected {N_FEATURES + 1}")
        try:
            rows.append([float(v) for v in fields])
        except ValueError as exc:
            raise CorruptFileError(path, f"line {lineno} holds a value that is not a number ({exc})") from exc
    if len(rows) != N_ROWS:
        raise CorruptFileError(path, f"has {len(rows)} data rows, expected {N_ROWS}")
    data = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise CorruptFileError(path, "holds NaN or infinite values")
    labels = data[:, -1]
    if not np.all(np.isin(labels, (1.0, 2.0, 3.0))):
        raise CorruptFileError(path, f"class column holds values other than 1, 2, 3: {sorted(set(labels) - {1.0, 2.0, 3.0})[:5]}")
    y = labels.astype(np.int64) - 1
    counts = np.bincount(y, minlength=N_CLASSES).tolist()
    if counts != [PER_CLASS] * N_CLASSES:
        raise CorruptFileError(path, f"class counts are {counts}, expected {[PER_CLASS] * N_CLASSES}")
    return data[:, :N_FEATURES], y


def load_seeds(
    *,
    data_home: os.PathLike | str | None = None,
    dtype="float32",
    standardize: bool = True,
    download: bool = True,
    split_seed: int = 0,
    test_fraction: float = 0.2,
) -> Dataset:
    """Load UCI seeds with a stratified train/test split.

    Classes 1..3 of the file become labels 0..2. The split draws
    ``round(test_fraction * 70)`` test rows per class (14 with the default
    0.2: 168 train / 42 test) with ``numpy.random.Generator(PCG64(split_seed))``,
    so it is the same for the same seed. With ``standardize=True`` the
    features are centred and scaled with the mean/std of the TRAIN part,
    applied to both parts. See :func:`admmnet.datasets.load_dataset` for
    ``data_home`` and ``download``.
    """
    dt = check_dtype(dtype)
    seed = check_split_seed(split_seed)
    fraction = check_test_fraction(test_fraction)
    X, y = fetch_file("seeds", FILENAME, read_seeds, data_home=data_home, download=download)
    train, test = stratified_split(y, fraction, seed)
    if standardize:
        X_train, X_test, _, _ = _standardize(X[train], X[test], dt)
    else:
        X_train, X_test = X[train].astype(dt), X[test].astype(dt)
    return Dataset(
        name="seeds",
        X_train=X_train,
        y_train=y[train],
        X_test=X_test,
        y_test=y[test],
        n_classes=N_CLASSES,
        n_features=N_FEATURES,
        split=f"stratified {(1 - fraction) * 100:g}/{fraction * 100:g}, seed {seed}",
    )

