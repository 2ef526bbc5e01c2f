"""How much memory a fit needs, how much there is, and the refusal when it would not fit.

:func:`admmnet.admm.sharded.solver_bytes` estimates the solver state of a QNN-ADMM fit
from (samples, layer sizes, dtype); :func:`available_bytes` reads what the machine can
give (``MemAvailable`` of ``/proc/meminfo``, else the free physical pages); and
:func:`check_memory` refuses a fit that would not fit with a message that says what to
do (more workers, a smaller dtype or fewer rows) before anything is allocated. Tests
inject the available figure by passing it (or by replacing :func:`available_bytes`).
"""
from __future__ import annotations

import os

__all__ = ["available_bytes", "check_memory", "InsufficientMemoryError", "format_bytes"]


class InsufficientMemoryError(MemoryError):
    """A fit's estimated state does not fit in the memory available to it."""


def available_bytes() -> int | None:
    """Memory this process can still allocate without swapping, in bytes (None: unknown).

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free memory plus reclaimable caches),
    else ``os.sysconf`` free physical pages times the page size."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"


def check_memory(need: int, available: int | None, what: str, *, workers: int = 1) -> None:
    """Raise :class:`InsufficientMemoryError` when ``need`` bytes exceed ``available``
    (None: unknown, nothing is checked); the message names ``what`` needs it and suggests
    spreading the rows over more Dask workers."""
    if available is None or need <= available:
        return
    more = max(2, -(-int(need) * int(workers) // max(int(available), 1)) + 1)
    raise InsufficientMemoryError(
        f"{what} needs about {format_bytes(need)} for the QNN-ADMM solver state but only "
        f"{format_bytes(available)} is available: spread the rows over more machines "
        f"(admmnet train --workers {more} or --scheduler tcp://HOST:PORT; "
        f"QNNADMM.fit(X, y, client=distributed.Client(...))), or train on fewer rows")
