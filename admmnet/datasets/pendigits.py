"""UCI "Pen-Based Recognition of Handwritten Digits": 16 integer features in
0..100, 10 classes: the standard writer-independent train/test split
(``pendigits.tra``: 7494 rows, ``pendigits.tes``: 3498 rows) or a writer-dependent
split of ``pendigits.tra``."""
from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np

from ._fetch import CorruptFileError, fetch_file, read_text_file
from ._preprocess import Dataset, check_dtype, check_split_seed, check_test_fraction, stratified_split
from ._preprocess import standardize as _standardize

__all__ = ["DISTORTION", "SPLITS", "augment_pendigits", "augmentation_record", "load_pendigits", "read_pendigits"]

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


#: Default distortion of :func:`augment_pendigits` (what ``load_pendigits(augment=k)`` uses).
DISTORTION = {"rotation": 0.45, "shear": 0.45, "noise": 4.0}


def augment_pendigits(
    X,
    copies: int,
    *,
    seed: int = 0,
    rotation: float = DISTORTION["rotation"],
    shear: float = DISTORTION["shear"],
    noise: float = DISTORTION["noise"],
) -> np.ndarray:
    """``copies`` randomly distorted copies of every row of RAW pendigits features.

    A row is the pen trajectory resampled to 8 points ``(x_1, y_1, ..., x_8, y_8)``, each axis
    scaled by the UCI preprocessing to span exactly 0..100. A copy moves the points about the
    centre (50, 50) by ``p' = A p + e`` with

        A = [[cos t, -sin t + s], [sin t, cos t]],   t ~ U(-rotation, rotation) (radians),
        s ~ U(-shear, shear),   e ~ N(0, noise^2) per coordinate (units of the 0..100 box),

    one (t, s) per copy of a row, then rescales each axis to span 0..100 again (as the UCI
    preprocessing does), so a copy is a plausible digit in the same coordinates. Returns the
    ``(copies * n, 16)`` float64 copies, copy-major (``copies`` blocks of the ``n`` rows in
    order; labels are ``numpy.tile(y, copies)``); the originals are not included. Same seed,
    same copies.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != N_FEATURES:
        raise ValueError(f"X must have shape (n, {N_FEATURES}) (raw pendigits features), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X holds NaN or inf")
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 0:
        raise ValueError(f"copies must be a non-negative integer, got {copies!r}")
    for name, v in (("rotation", rotation), ("shear", shear), ("noise", noise)):
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    P = np.tile(X.reshape(n, 8, 2) - 50.0, (copies, 1, 1))                # (copies*n, 8, 2)
    t = rng.uniform(-rotation, rotation, P.shape[0])
    sh = rng.uniform(-shear, shear, P.shape[0])
    c, s = np.cos(t), np.sin(t)
    A = np.stack([np.stack([c, -s + sh], -1), np.stack([s, c], -1)], 1)  # (copies*n, 2, 2)
    Q = np.einsum("kij,kpj->kpi", A, P)
    if noise > 0:
        Q += rng.normal(0.0, noise, P.shape)
    lo, hi = Q.min(axis=1, keepdims=True), Q.max(axis=1, keepdims=True)
    Q = 100.0 * (Q - lo) / np.maximum(hi - lo, 1e-9)                      # each axis spans 0..100
    return Q.reshape(-1, N_FEATURES)


def augmentation_record(copies: int) -> dict | None:
    """What ``load_pendigits(augment=copies)`` does to the training rows, for run records:
    the copies and the distortion (:data:`DISTORTION`), or None without augmentation."""
    return {"copies": copies, **DISTORTION} if copies else None


#: The two evaluation protocols of :func:`load_pendigits`.
SPLITS = ("writer-independent", "writer-dependent")


def load_pendigits(
    *,
    data_home: os.PathLike | str | None = None,
    dtype="float32",
    standardize: bool = True,
    download: bool = True,
    split: str = "writer-independent",
    split_seed: int = 0,
    test_fraction: float = 0.2,
    augment: int = 0,
    augment_seed: int = 0,
) -> Dataset:
    """Load pendigits with one of its two evaluation protocols (:data:`SPLITS`).

    The 10,992 digits come from 44 writers: ``pendigits.tra`` holds the 7494 of 30 writers,
    ``pendigits.tes`` the 3498 of 14 others. UCI sets the 30 writers' digits aside "for
    training, cross-validation and writer-dependent testing" and the other 14 writers' for
    writer-independent testing:

    * ``split="writer-independent"`` (default): train on ``pendigits.tra``, test on
      ``pendigits.tes``, i.e. on writers never seen in training (the standard split; ignores
      ``split_seed`` and ``test_fraction``).
    * ``split="writer-dependent"``: the rows of ``pendigits.tra`` only, split stratified at
      random (:func:`admmnet.datasets._preprocess.stratified_split`, ``test_fraction`` of each
      class, seed ``split_seed``) into train and test, so that the test digits come from the
      writers of the training digits. This is the protocol of the thesis's dataset section
      (its section 6.1.1 quotes the UCI sentence above and states no other split); it is
      easier: a [16,12,12,10] network scores about a point higher than on the
      writer-independent test.

    With ``standardize=True`` the features are centred and scaled with the mean/std of the
    TRAIN part's real rows, applied to both parts; otherwise they are the raw integers 0..100
    as floats. ``augment=k`` appends ``k`` distorted copies of the training rows
    (:func:`augment_pendigits`, seed ``augment_seed``) after the originals;
    ``Dataset.n_augmented`` counts them and ``Dataset.original_train()`` gives the real rows.
    The test part is never augmented. See :func:`admmnet.datasets.load_dataset` for
    ``data_home`` and ``download``.
    """
    dt = check_dtype(dtype)
    if split not in SPLITS:
        raise ValueError(f"pendigits split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}")
    fetch = dict(data_home=data_home, download=download)
    read_tra = partial(read_pendigits, expected_counts=CLASS_COUNTS["pendigits.tra"])
    X_train, y_train = fetch_file("pendigits", "pendigits.tra", read_tra, **fetch)
    if split == "writer-independent":
        read_tes = partial(read_pendigits, expected_counts=CLASS_COUNTS["pendigits.tes"])
        X_test, y_test = fetch_file("pendigits", "pendigits.tes", read_tes, **fetch)
        desc = "UCI writer-independent train/test"
    else:
        seed, fraction = check_split_seed(split_seed), check_test_fraction(test_fraction)
        train, test = stratified_split(y_train, fraction, seed)
        X_train, y_train, X_test, y_test = X_train[train], y_train[train], X_train[test], y_train[test]
        desc = (f"UCI writer-dependent: pendigits.tra stratified {(1 - fraction) * 100:g}/{fraction * 100:g}, "
                f"seed {seed}")
    X_aug = augment_pendigits(X_train, augment, seed=augment_seed)
    if augment:
        desc += f", train + {augment} augmented copies (seed {augment_seed})"
    if standardize:
        _, _, mean, std = _standardize(X_train, X_test, dt)
        X_train, X_test, X_aug = (((A - mean) / std).astype(dt) for A in (X_train, X_test, X_aug))
    else:
        X_train, X_test, X_aug = X_train.astype(dt), X_test.astype(dt), X_aug.astype(dt)
    return Dataset(
        name="pendigits",
        X_train=np.concatenate([X_train, X_aug]) if augment else X_train,
        y_train=np.tile(y_train, augment + 1),
        X_test=X_test,
        y_test=y_test,
        n_classes=N_CLASSES,
        n_features=N_FEATURES,
        split=desc,
        n_augmented=X_aug.shape[0],
    )
