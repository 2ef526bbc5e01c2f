"""Atomic writing and checked reading of admmnet's ``.npz`` files.

Nothing is ever left half-written: a file is written to a temporary name in
the target folder and moved into place with :func:`os.replace`, which is
atomic on POSIX and Windows; it gets the permissions the process's umask gives
a new file (``0o666 & ~umask``), as any tool's output does.

Nothing read is trusted: every ``.npz`` admmnet writes carries in its metadata
a SHA-256 digest of its arrays (name, dtype, shape, bytes) and of the rest of
its metadata (:func:`payload_digest`), verified on load. A file that is
missing, truncated, not an admmnet file, of another kind or version, or whose
digest does not match is refused with a :class:`CheckpointError` that names
the file and says what to do.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["FORMAT_VERSION", "CheckpointError", "atomic_write", "save_npz", "load_npz", "write_json",
           "payload_digest", "check_writable"]

#: Version 2 added the digest; version 1 files (no digest) are still read.
FORMAT_VERSION = 2
_READABLE = (1, 2)
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
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path, what: str = "output") -> Path:
    """Refuse, before any work is done, an output ``path`` that cannot be written: a
    directory, or a file whose folder cannot be created or written to. Creates the
    folder (as the final write would) and returns ``path``."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} path {str(path)!r} is a directory; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{what} path {str(path)!r}: cannot create folder {str(folder)!r} "
                         f"({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise ValueError(f"{what} path {str(path)!r}: {str(folder)!r} is not a folder")
    try:     # a real probe: permissions, read-only file systems and /proc all answer here
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{what} path {str(path)!r}: cannot write in {str(folder)!r} "
                         f"({exc.strerror or exc})") from None
    return path


def payload_digest(arrays: dict, meta: dict) -> str:
    """SHA-256 over every array (sorted by name: name, dtype, shape, C-order bytes) and the
    metadata without its ``sha256`` entry (canonical JSON, sorted keys)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    rest = {k: v for k, v in meta.items() if k != "sha256"}
    h.update(json.dumps(rest, sort_keys=True, default=_json_default).encode("utf-8"))
    return h.hexdigest()


def save_npz(path, arrays: dict, meta: dict, *, kind: str) -> Path:
    """Write ``arrays`` plus JSON metadata (``kind``, format version, digest) atomically as an ``.npz``."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    # the metadata as it will be read back (JSON round trip), so the digest compares like with like
    meta = json.loads(json.dumps(dict(meta, kind=kind, format_version=FORMAT_VERSION), default=_json_default))
    meta["sha256"] = payload_digest(payload, meta)
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
            if not hasattr(data, "files"):
                raise ValueError("a single array, not an .npz archive")
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile, zlib, struct, NotImplementedError (bad compression id), ...
        raise CheckpointError(f"{path}: not a readable admmnet file ({type(exc).__name__}: {exc}); "
                              "the file is damaged or not an admmnet file: save or train it again") from None
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise CheckpointError(f"{path}: not an admmnet file (no metadata record)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: corrupt metadata (not a JSON object)")
    if meta.get("format_version") not in _READABLE:
        raise CheckpointError(
            f"{path}: format version {meta.get('format_version')!r} is not supported "
            f"(this admmnet reads versions {', '.join(map(str, _READABLE))})")
    if meta["format_version"] >= 2 and meta.get("sha256") != payload_digest(arrays, meta):
        raise CheckpointError(f"{path}: checksum mismatch: the file was changed or damaged after it was "
                              "written; save or train it again")
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
