"""Reading the user's own data files: CSV with a header, ``.npz`` with ``X`` and ``y``,
svmlight/libsvm.

>>> from admmnet.datasets.files import load_file, fit_standardisation
>>> data = load_file("train.csv")                         # doctest: +SKIP
>>> data.X.shape, data.y[:3], data.target                 # doctest: +SKIP
((150, 4), array(['setosa', 'setosa', 'setosa'], ...), 'species')

Formats, chosen by the file's suffix:

* ``.csv`` / ``.tsv`` / ``.txt``: a header line, then one row per sample; comma
  separated (tab for ``.tsv``; a ``.txt`` file with tabs and no commas in the
  header is read as tab separated). The target column is ``target`` (a header
  name or a 0-based index) or, by default, the LAST column. Labels may be strings
  or integers (a column whose labels all parse as integers gives integer labels).
  Every other column must be numeric; blank lines are skipped.
* ``.npz``: arrays ``X`` (2-D, numeric) and ``y`` (1-D, one label per row); for
  prediction ``y`` may be absent.
* ``.svm`` / ``.svmlight`` / ``.libsvm``: read with scikit-learn's
  ``load_svmlight_file`` (scikit-learn is then required) and made dense.

Every problem raises :class:`FileFormatError` (a ``ValueError``) whose message
names the file and, for text files, the line: a missing or empty file, a ragged
row, a non-numeric or empty feature value, a missing target column, too few
rows, a file with the wrong number of features for a model.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FileFormatError", "FileData", "load_file", "fit_standardisation", "apply_standardisation",
           "SUFFIXES"]

#: Suffix -> format.
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".npz": "npz",
            ".svm": "svmlight", ".svmlight": "svmlight", ".libsvm": "svmlight"}


class FileFormatError(ValueError):
    """A data file that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True, eq=False)
class FileData:
    """Features ``X`` (float64, n x d), labels ``y`` (or None when the file has no target),
    the feature names (CSV header, else ``x0..``), the target column's name, the file."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: tuple[str, ...]
    target: str | None
    path: str


def load_file(path, *, target=None, require_target: bool = True, n_features: int | None = None) -> FileData:
    """Read a data file (module docstring). ``require_target=False`` (prediction): a file
    may hold only the feature columns; a CSV then has a target column only when it has
    ``n_features + 1`` columns or ``target`` names one of its columns. ``n_features``: the
    number of features a model expects; another number is refused with a message."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(f"{p}: no such file")
    if p.is_dir():
        raise FileFormatError(f"{p}: is a folder, not a data file")
    fmt = SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise FileFormatError(f"{p}: unknown file type {p.suffix!r}; use .csv/.tsv/.txt (a header line, "
                              f"then one row per sample), .npz (arrays X and y) or .svm/.svmlight/.libsvm")
    if p.stat().st_size == 0:
        raise FileFormatError(f"{p}: the file is empty")
    if fmt == "csv":
        data = _read_csv(p, target, require_target, n_features)
    elif fmt == "npz":
        data = _read_npz(p, require_target)
    else:
        data = _read_svmlight(p, n_features)
    if data.X.shape[0] == 0:
        raise FileFormatError(f"{p}: no data rows")
    if n_features is not None and data.X.shape[1] != n_features:
        raise FileFormatError(f"{p}: {data.X.shape[1]} feature column(s), but the model expects {n_features}"
                              + (f" (target column {data.target!r} left out)" if data.target else ""))
    if require_target and data.y is None:
        raise FileFormatError(f"{p}: no target labels")
    return data


def _read_csv(p: Path, target, require_target, n_features) -> FileData:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{p}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise FileFormatError(f"{p}: the file is empty (no header line)")
    delim = "\t" if p.suffix.lower() == ".tsv" or ("\t" in lines[first] and "," not in lines[first]) else ","
    rows = csv.reader(io.StringIO(text), delimiter=delim)
    header, body = None, []
    try:
        for row in rows:
            if not row or all(not c.strip() for c in row):
                continue
            if header is None:
                header = [c.strip() for c in row]
                header_line = rows.line_num
            else:
                body.append((rows.line_num, row))
    except csv.Error as exc:
        raise FileFormatError(f"{p}, line {rows.line_num}: {exc}") from None
    ncol = len(header)
    if not body:
        raise FileFormatError(f"{p}: a header (line {header_line}) but no data rows")
    for line, row in body:
        if len(row) != ncol:
            raise FileFormatError(f"{p}, line {line}: {len(row)} field(s), but the header (line {header_line}) "
                                  f"has {ncol} column(s)")
    # which column is the target
    t_idx = None
    if target is not None:
        t_idx = _column_index(p, header, target)
    elif require_target or (n_features is not None and ncol == n_features + 1):
        t_idx = ncol - 1
    if t_idx is not None and ncol < 2:
        raise FileFormatError(f"{p}: only one column ({header[0]!r}); need feature columns and a target column")
    f_idx = [j for j in range(ncol) if j != t_idx]
    X = np.empty((len(body), len(f_idx)), dtype=np.float64)
    for i, (line, row) in enumerate(body):
        for k, j in enumerate(f_idx):
            cell = row[j].strip()
            try:
                X[i, k] = float(cell)
            except ValueError:
                what = "an empty value" if not cell else f"{cell[:40]!r} is not a number"
                raise FileFormatError(f"{p}, line {line}, column {j + 1} ({header[j]!r}): {what}") from None
            if not np.isfinite(X[i, k]):
                raise FileFormatError(f"{p}, line {line}, column {j + 1} ({header[j]!r}): {cell!r} is not finite")
    y = None
    if t_idx is not None:
        labels = [row[t_idx].strip() for _, row in body]
        for (line, _), lab in zip(body, labels):
            if not lab:
                raise FileFormatError(f"{p}, line {line}, target column {header[t_idx]!r}: an empty label")
        y = _labels(labels)
    return FileData(X, y, tuple(header[j] for j in f_idx), None if t_idx is None else header[t_idx], str(p))


def _column_index(p, header, target) -> int:
    if isinstance(target, (int, np.integer)) or (isinstance(target, str) and target.strip().lstrip("-").isdigit()
                                                 and target.strip() not in header):
        j = int(target)
        if not -len(header) <= j < len(header):
            raise FileFormatError(f"{p}: target column index {j} is out of range ({len(header)} columns)")
        return j % len(header)
    if target not in header:
        shown = ", ".join(map(repr, header[:12])) + (", ..." if len(header) > 12 else "")
        raise FileFormatError(f"{p}: no target column {target!r} in the header (columns: {shown})")
    return header.index(target)


def _labels(labels: list[str]) -> np.ndarray:
    """Integer labels when every label is an integer (``"3"``, ``"3.0"``), else strings."""
    try:
        f = np.array([float(s) for s in labels])
        if np.all(np.isfinite(f)) and np.all(f == np.round(f)) and np.all(np.abs(f) < 2**53):
            return f.astype(np.int64)
    except ValueError:
        pass
    return np.array(labels, dtype=str)


def _read_npz(p: Path, require_target) -> FileData:
    try:
        with np.load(p, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise FileFormatError(f"{p}: a single array, not an .npz archive with arrays X and y")
            names = list(data.files)
            if "X" not in names:
                raise FileFormatError(f"{p}: no array 'X' (arrays: {', '.join(names) or 'none'})")
            X = data["X"]
            y = data["y"] if "y" in names else None
    except FileFormatError:
        raise
    except Exception as exc:
        raise FileFormatError(f"{p}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if y is None and require_target:
        raise FileFormatError(f"{p}: no array 'y' of labels (arrays: {', '.join(names)})")
    if X.ndim != 2:
        raise FileFormatError(f"{p}: X must be 2-D (samples x features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise FileFormatError(f"{p}: X must be real numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        r = int(np.argwhere(~np.isfinite(X))[0][0])
        raise FileFormatError(f"{p}: X holds NaN or inf (first in row {r})")
    if y is not None:
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise FileFormatError(f"{p}: y must be 1-D with one label per row of X ({X.shape[0]}), "
                                  f"got shape {y.shape}")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                raise FileFormatError(f"{p}: y holds non-integral or non-finite floats; admmnet needs class labels")
            y = y.astype(np.int64)
    return FileData(X, y, tuple(f"x{j}" for j in range(X.shape[1])), "y" if y is not None else None, str(p))


def _read_svmlight(p: Path, n_features) -> FileData:
    try:
        from sklearn.datasets import load_svmlight_file
    except ImportError:
        raise FileFormatError(f"{p}: reading svmlight/libsvm files needs scikit-learn "
                              "(pip install scikit-learn), or convert the file to .csv or .npz") from None
    try:
        Xs, y = load_svmlight_file(str(p), n_features=n_features)
    except Exception as exc:   # ValueError from the parser, with its own detail
        raise FileFormatError(f"{p}: not a valid svmlight/libsvm file ({exc})") from None
    X = np.asarray(Xs.toarray(), dtype=np.float64)
    if not np.all(np.isfinite(X)):
        raise FileFormatError(f"{p}: holds NaN or inf feature values")
    if np.all(y == np.round(y)) and np.all(np.isfinite(y)):
        y = y.astype(np.int64)
    else:
        raise FileFormatError(f"{p}: labels must be class labels (integers), got non-integral values")
    return FileData(X, y, tuple(f"x{j + 1}" for j in range(X.shape[1])), "label", str(p))


def fit_standardisation(X) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature ``(mean, std)`` of ``X`` in float64 (a constant feature gets std 1): the
    statistics of the TRAINING rows only, as :func:`admmnet.datasets.load_dataset` uses."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[~(std > 0)] = 1.0
    return mean, std


def apply_standardisation(X, mean, scale, dtype="float32") -> np.ndarray:
    """``(X - mean) / scale`` in ``dtype`` arithmetic: bit for bit what a network with this input
    transform (:func:`admmnet.with_standardisation`) applies in ``logits``."""
    dt = np.dtype(dtype)
    return (np.asarray(X).astype(dt) - np.asarray(mean).astype(dt)) / np.asarray(scale).astype(dt)
