"""Atomic writing and checked reading of admmnet's ``.npz`` files.

Nothing is ever left half-written: a file is written to a temporary name in
the target folder and moved into place with :func:`os.replace`, which is
atomic on POSIX and Windows. Reading checks that the file is an admmnet file
of a known format and says what is wrong when it is not.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["FORMAT_VERSION", "CheckpointError", "atomic_write", "save_npz", "load_npz", "write_json"]

FORMAT_VERSION = 1
_META_KEY = "__admmnet_meta__"


class CheckpointError(ValueError):
    """A model or checkpoint file that cannot be read; the message names the file."""


def atomic_write(path, write_fn, *, suffix: str = ".tmp") -> Path:
    """Call ``write_fn(fileobj)`` on a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write_fn(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def save_npz(path, arrays: dict, meta: dict, *, kind: str) -> Path:
    """Write ``arrays`` plus JSON metadata (``kind``, format version) atomically as an ``.npz``."""
    meta = dict(meta, kind=kind, format_version=FORMAT_VERSION)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    return atomic_write(path, lambda fh: np.savez(fh, **payload))


def load_npz(path, *, kind: str) -> tuple[dict, dict]:
    """Read a file written by :func:`save_npz`; returns ``(arrays, meta)``.

    Raises :class:`CheckpointError` naming the file when it is missing, not
    an ``.npz``, truncated, not an admmnet file, of another kind or of an
    unknown format version."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable admmnet file ({exc})") from None
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise CheckpointError(f"{path}: not an admmnet file (no metadata record)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt metadata ({exc})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format version {meta.get('format_version')!r} is not supported "
            f"(this admmnet reads version {FORMAT_VERSION})")
    if meta.get("kind") != kind:
        raise CheckpointError(f"{path}: holds a {meta.get('kind')!r}, expected a {kind!r}")
    return arrays, meta


def write_json(path, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, default=_json_default).encode("utf-8")
    return atomic_write(path, lambda fh: fh.write(text + b"\n"))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
