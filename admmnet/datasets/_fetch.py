"""Locating, downloading and verifying dataset files.

A file ``<dataset>/<filename>`` is looked for, in this order, in

1. the ``data_home`` argument, when given;
2. the folder named by the environment variable ``ADMMNET_DATA``;
3. the cache folder (:func:`cache_dir`): ``ADMMNET_CACHE`` when set, else the
   repository's ``data/`` folder when it exists and is writable, else
   ``~/.cache/admmnet``.

When no folder holds it and downloading is allowed, it is downloaded from its
canonical source (trying mirrors in order) into the cache: the bytes go to a
temporary file in the target folder, which is moved into place with
:func:`os.replace` (so nothing half-written is ever left), then its content is
checked. A downloaded file whose content is wrong is deleted.

Every file, found or downloaded, goes through a dataset-specific ``read``
function that parses it and checks its content; it raises
:class:`CorruptFileError` when the content is wrong.
"""
from __future__ import annotations

import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, TypeVar

__all__ = [
    "DatasetError",
    "CorruptFileError",
    "SOURCES",
    "cache_dir",
    "search_dirs",
    "fetch_file",
]

T = TypeVar("T")

#: Base URLs (mirrors, tried in order) per dataset; a file's URL is base + filename.
SOURCES: dict[str, tuple[str, ...]] = {
    "seeds": ("https://archive.ics.uci.edu/ml/machine-learning-databases/00236/",),
    "pendigits": ("https://archive.ics.uci.edu/ml/machine-learning-databases/pendigits/",),
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
}

#: Seconds to wait on a blocking network operation before giving up on a mirror.
TIMEOUT_S = 30.0
_CHUNK = 1 << 20
_PROGRESS_MIN_BYTES = 1 << 20


class DatasetError(Exception):
    """A dataset file is missing or corrupt; the message names the file and the fix."""


class CorruptFileError(DatasetError):
    """A dataset file exists but its content is not what it should be."""

    def __init__(self, path: os.PathLike | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"{self.path}: {reason}. Delete it and it will be downloaded again, "
            f"or point ADMMNET_DATA at a folder holding a good copy."
        )


def read_text_file(path: os.PathLike | str) -> str:
    """The text of a dataset file (UTF-8, BOM tolerated); :class:`CorruptFileError` if it is not text."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(path, f"not a text file ({exc.reason} at byte {exc.start})") from exc


def _env_path(var: str) -> Path | None:
    """The folder named by environment variable ``var``, or None when unset/empty."""
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The folder downloads go to (it may not exist yet).

    ``ADMMNET_CACHE`` when set; else ``<repo root>/data`` when that folder
    exists and is writable (a source checkout); else ``~/.cache/admmnet``.
    """
    env = _env_path("ADMMNET_CACHE")
    if env is not None:
        return env
    repo_data = Path(__file__).resolve().parents[2] / "data"
    if repo_data.is_dir() and os.access(repo_data, os.W_OK):
        return repo_data
    return Path.home() / ".cache" / "admmnet"


def bundled_dir() -> Path:
    """Where Seeds and Pendigits ship (UCI, CC BY 4.0): the repository's ``data/`` folder, which
    an installed package (a wheel) holds as ``admmnet/bundled_data`` (setup.py)."""
    installed = Path(__file__).resolve().parents[1] / "bundled_data"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "data"


def search_dirs(data_home: os.PathLike | str | None = None) -> list[Path]:
    """The folders searched for dataset files, in order, without duplicates."""
    candidates = []
    if data_home is not None:
        candidates.append(Path(data_home).expanduser())
    env = _env_path("ADMMNET_DATA")
    if env is not None:
        candidates.append(env)
    candidates.append(cache_dir())
    candidates.append(bundled_dir())     # Seeds and Pendigits ship with the source
    unique: list[Path] = []
    seen: set[Path] = set()
    for folder in candidates:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(folder)
    return unique


def fetch_file(
    dataset: str,
    filename: str,
    read: Callable[[Path], T],
    *,
    data_home: os.PathLike | str | None = None,
    download: bool = True,
) -> T:
    """Find (or download) ``<dataset>/<filename>`` and return ``read(path)``.

    ``read`` parses the file and raises :class:`CorruptFileError` when its
    content is wrong; a found file that fails is reported as is (never
    deleted), a downloaded one is deleted and the next mirror is tried.
    Raises :class:`DatasetError` naming the file, the folders searched and
    the fix when the file cannot be had.
    """
    folders = search_dirs(data_home)
    for folder in folders:
        path = folder / dataset / filename
        if path.is_file():
            return read(path)
    rel = f"{dataset}/{filename}"
    searched = ", ".join(
        str(f) + ("" if f.is_dir() else " (does not exist)") for f in folders
    )
    fix = (
        f"Set ADMMNET_DATA (or pass data_home=) to a folder holding {rel}"
    )
    if not download:
        raise DatasetError(
            f"dataset file {rel} not found; searched: {searched}. "
            f"{fix}, or allow download (download=True)."
        )
    target = cache_dir() / dataset / filename
    failures: list[str] = []
    for base in SOURCES.get(dataset, ()):
        url = base + filename
        try:
            _download(url, target)
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
            failures.append(f"{url}: {_describe(exc)}")
            continue
        try:
            return read(target)
        except CorruptFileError as exc:
            target.unlink(missing_ok=True)
            failures.append(f"{url}: downloaded content is wrong ({exc.reason}); the file was deleted")
    tried = "; ".join(failures) if failures else f"no download source is known for {dataset!r}"
    raise DatasetError(
        f"dataset file {rel} not found (searched: {searched}) and could not be "
        f"downloaded to {target}: {tried}. {fix}, or retry when the network is available."
    )


def _describe(exc: BaseException) -> str:
    """A one-line description of a download error."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _download(url: str, target: Path) -> None:
    """Download ``url`` to ``target`` atomically (temporary file + os.replace). Says on stderr
    what it is waiting for before connecting; on failure the partial file and any folder
    this call created are removed."""
    created = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    print(f"admmnet: fetching {target.name} from {url} (gives up after {TIMEOUT_S:g} s without an answer)",
          file=sys.stderr, flush=True)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "admmnet"})
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                total = _content_length(response)
                progress = _Progress(target.name, url, total)
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    progress.update(len(chunk))
                progress.done()
            out.flush()
            os.fsync(out.fileno())
        if total is not None and progress.received != total:
            raise OSError(f"truncated download: got {progress.received} of {total} bytes")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        for folder in created:          # innermost first: only the empty ones this call made
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _content_length(response) -> int | None:
    """The Content-Length of a response, or None when unknown."""
    value = response.headers.get("Content-Length") if response.headers else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _Progress:
    """A short progress line on stderr, only for big (or unknown-size) files."""

    def __init__(self, name: str, url: str, total: int | None) -> None:
        self.name, self.total, self.received = name, total, 0
        self.show = total is None or total >= _PROGRESS_MIN_BYTES
        self.tty = sys.stderr.isatty()
        if self.show:
            print(f"admmnet: downloading {name} ({'size unknown' if total is None else f'{total / 1e6:.1f} MB'})",
                  file=sys.stderr, flush=True)

    def update(self, n: int) -> None:
        """Count ``n`` more bytes received."""
        self.received += n
        if self.show and self.tty:
            total = f"/{self.total / 1e6:.1f}" if self.total else ""
            print(f"\r  {self.name}: {self.received / 1e6:.1f}{total} MB", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        """End the progress line."""
        if self.show:
            print(("\r" if self.tty else "") + f"  {self.name}: {self.received / 1e6:.1f} MB done",
                  file=sys.stderr, flush=True)
