"""UCI "Pen-Based Recognition of Handwritten Digits": 16 integer features in
0..100, 10 classes, with the standard writer-independent train/test split
(``pendigits.tra``: 7494 rows, ``pendigits.tes``: 3498 rows)."""
from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np

from ._fetch import CorruptFileError, fetch_file, read_text_file
from ._preprocess import Dataset, check_dtype
from ._preprocess import standardize as _standardize

__all__ = ["load_pendigits", "read_pendigits"]

N_FEATURES = 16
N_CLASSES = 10
#: Expected class counts (digits 0..9) of each file.
CLASS_COUNTS = {
    "pendigits.tra": (780, 779, 780, 719, 780, 720, 720, 778, 719, 719),
    "pendigits.tes": (363, 364, 364, 336, 364, 335, 336, 364, 336, 336),
}


def read_pendigits(path: os.PathLike | str, expected_counts: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse and check one pendigits file; returns ``(X int64 (n, 16), y int64 in 0..9)``.

    Each row is 17 comma-separated integers (space padded): 16 features in
    0..100, then the digit. With ``expected_counts`` the rows per class must
    match. Raises :class:`CorruptFileError` naming the file (and line).
    """
    path = Path(path)
    text = read_text_file(path)
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != N_FEATURES + 1:
            raise CorruptFileError(path, f"line {lineno} has {len(fields)} comma-separated values, expected {N_FEATURES + 1}")
        try:
            rows.append([int(v) for v in fields])
        except ValueError as exc:
            raise CorruptFileError(path, f"line {lineno} holds a value that is not an integer ({exc})") from exc
    if not rows:
        raise CorruptFileError(path, "holds no data rows")
    data = np.asarray(rows, dtype=np.int64)
    X, y = data[:, :N_FEATURES], data[:, N_FEATURES]
    if X.min() < 0 or X.max() > 100:
        raise CorruptFileError(path, f"features must lie in 0..100, found {X.min()}..{X.max()}")
    if y.min() < 0 or y.max() >= N_CLASSES:
        raise CorruptFileError(path, f"class labels must lie in 0..9, found {y.min()}..{y.max()}")
    if expected_counts is not None:
        counts = tuple(np.bincount(y, minlength=N_CLASSES).tolist())
        if len(y) != sum(expected_counts):
            raise CorruptFileError(path, f"has {len(y)} data rows, expected {sum(expected_counts)}")
        if counts != tuple(expected_counts):
            raise CorruptFileError(path, f"class counts are {list(counts)}, expected {list(expected_counts)}")
    return X, y


def load_pendigits(
    *,
    data_home: os.PathLike | str | None = None,
    dtype="float32",
    standardize: bool = True,
    download: bool = True,
) -> Dataset:
    """Load pendigits with its standard writer-independent split (7494/3498).

    With ``standardize=True`` the features are centred and scaled with the
    mean/std of the TRAIN part (``pendigits.tra``), applied to both parts;
    otherwise they are the raw integers 0..100 as floats. See
    :func:`admmnet.datasets.load_dataset` for ``data_home`` and ``download``.
    """
    dt = check_dtype(dtype)
    parts = {}
    for filename in ("pendigits.tra", "pendigits.tes"):
        read = partial(read_pendigits, expected_counts=CLASS_COUNTS[filename])
        parts[filename] = fetch_file("pendigits", filename, read, data_home=data_home, download=download)
    (X_train, y_train), (X_test, y_test) = parts["pendigits.tra"], parts["pendigits.tes"]
    if standardize:
        X_train, X_test, _, _ = _standardize(X_train, X_test, dt)
    else:
        X_train, X_test = X_train.astype(dt), X_test.astype(dt)
    return Dataset(
        name="pendigits",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        n_classes=N_CLASSES,
        n_features=N_FEATURES,
        split="UCI writer-independent train/test",
    )
