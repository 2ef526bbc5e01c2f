"""MNIST: 28x28 grey-level digits, the official 60000/10000 train/test split.

Files are the gzip-compressed IDX files. Each is checked by the sha256 of its
DECOMPRESSED bytes (mirrors recompress the gzip wrapper, so the ``.gz``
bytes may differ) and by its IDX header (magic number and shape). Parsed
arrays are cached per process, keyed by (resolved path, mtime, size), so
loading MNIST again is cheap.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from ._fetch import CorruptFileError, fetch_file
from ._preprocess import Dataset, check_dtype

__all__ = ["load_mnist", "read_idx", "FILES"]

N_CLASSES = 10
N_FEATURES = 28 * 28

#: filename -> (sha256 of the decompressed content, IDX magic number, shape)
FILES: dict[str, tuple[str, int, tuple[int, ...]]] = {
    "train-images-idx3-ubyte.gz": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 0x0803, (60000, 28, 28)),
    "train-labels-idx1-ubyte.gz": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 0x0801, (60000,)),
    "t10k-images-idx3-ubyte.gz": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 0x0803, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 0x0801, (10000,)),
}


def read_idx(path: os.PathLike | str) -> np.ndarray:
    """Decompress, verify and parse one MNIST ``.gz`` IDX file.

    The file name selects the expected sha256, magic number and shape
    (see :data:`FILES`). Returns a read-only uint8 array. Raises
    :class:`CorruptFileError` naming the file when anything differs. The
    sha256 check is remembered per process for an unchanged file (same path,
    mtime and size); the arrays are not kept, so a training run holds only the
    float features it uses, not a second copy of the raw images.
    """
    path = Path(path)
    if path.name not in FILES:
        raise ValueError(f"{path}: not an MNIST file name; expected one of {sorted(FILES)}")
    resolved = path.resolve()
    stat = resolved.stat()
    try:
        return _parse_idx(resolved, (str(resolved), stat.st_mtime_ns, stat.st_size))
    except CorruptFileError as exc:
        if exc.path != path:  # report the path the caller used, not the resolved one
            raise CorruptFileError(path, exc.reason) from None
        raise


_VERIFIED: set[tuple[str, int, int]] = set()


def _parse_idx(file: Path, key: tuple[str, int, int]) -> np.ndarray:
    """:func:`read_idx` proper; ``key`` (path, mtime, size) marks a file whose sha256 already matched."""
    sha256, magic, shape = FILES[file.name]
    try:
        raw = gzip.decompress(file.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(file, f"not a valid gzip file ({exc})") from exc
    if key not in _VERIFIED:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != sha256:
            raise CorruptFileError(file, f"sha256 of the decompressed content is {digest}, expected {sha256}")
        _VERIFIED.add(key)
    header_len = 4 + 4 * len(shape)
    found_magic = int.from_bytes(raw[:4], "big")
    found_shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(len(shape)))
    if found_magic != magic or found_shape != shape:
        raise CorruptFileError(
            file, f"IDX header says magic {found_magic:#06x}, shape {found_shape}; expected {magic:#06x}, {shape}")
    if len(raw) != header_len + int(np.prod(shape)):
        raise CorruptFileError(file, f"holds {len(raw) - header_len} data bytes, expected {int(np.prod(shape))}")
    arr = np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)
    if len(shape) == 1 and arr.max() >= N_CLASSES:
        raise CorruptFileError(file, f"labels must lie in 0..9, found up to {arr.max()}")
    arr.flags.writeable = False
    return arr


def _fetch(filename: str, data_home, download: bool) -> np.ndarray:
    """One verified MNIST array, found or downloaded."""
    return fetch_file("mnist", filename, read_idx, data_home=data_home, download=download)


def load_mnist(
    *,
    data_home: os.PathLike | str | None = None,
    dtype="float32",
    standardize: bool = True,
    download: bool = True,
) -> Dataset:
    """Load MNIST with the official 60k/10k split; images flattened to 784 features.

    Unlike the other datasets, ``standardize=True`` does NOT centre the
    features: pixels are scaled to ``[0, 1]`` by dividing by 255, which is
    what MLP users expect and keeps the images sparse (about 81% zeros).
    With ``standardize=False`` the features are the raw pixel values 0..255
    as floats. See :func:`admmnet.datasets.load_dataset` for ``data_home``
    and ``download``.
    """
    dt = check_dtype(dtype)
    arrays = {name: _fetch(name, data_home, download) for name in FILES}

    def features(images: np.ndarray) -> np.ndarray:
        X = images.reshape(images.shape[0], N_FEATURES).astype(dt)
        if standardize:
            X /= dt.type(255)
        return X

    return Dataset(
        name="mnist",
        X_train=features(arrays["train-images-idx3-ubyte.gz"]),
        y_train=arrays["train-labels-idx1-ubyte.gz"].astype(np.int64),
        X_test=features(arrays["t10k-images-idx3-ubyte.gz"]),
        y_test=arrays["t10k-labels-idx1-ubyte.gz"].astype(np.int64),
        n_classes=N_CLASSES,
        n_features=N_FEATURES,
        split="official 60k/10k",
    )
