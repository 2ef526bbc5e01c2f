r"""OpenBLAS's idle spin, shortened so that its worker threads do not starve the Numba kernels.

After every call, an OpenBLAS worker thread busy-waits ``2**OPENBLAS_THREAD_TIMEOUT``
CPU cycles before it goes to sleep. OpenBLAS's default is 28, about 0.1 s at 3 GHz.

A QNN-ADMM iteration switches every few milliseconds between three kinds of work:
BLAS products (NumPy's OpenBLAS), Numba's parallel elementwise kernels, and small
LAPACK factorisations (SciPy's own OpenBLAS copy). Threads still spinning from the
last call hold the cores the next step needs.

Measured on the 2-core CI machine: MNIST [784,200,200,10], 60,000 samples, float32, full
precision, Numba kernels. Each row is one timed iteration after two warm-up iterations, in a
fresh process started with that ``OPENBLAS_THREAD_TIMEOUT``. ``benchmarks/kernels.py``
gives 0.65 s per iteration (median of 3) with admmnet's setting.

=====================  ======================  ==============================
timeout (log2 cycles)  seconds per iteration   Cholesky of a 201 x 201 matrix
=====================  ======================  ==============================
28 (OpenBLAS default)  1.07 - 1.25             0.2 - 98 ms
24                     0.68                    0.5 ms
16 (admmnet)           0.65                    0.5 ms
4 (OpenBLAS minimum)   0.67                    0.5 ms
=====================  ======================  ==============================

OpenBLAS reads the variable when it starts its worker threads. So
:func:`shorten_openblas_spin`, called when :mod:`admmnet` is imported, does two things:

* It sets ``OPENBLAS_THREAD_TIMEOUT=16`` in the environment. Libraries loaded
  later and child processes (the study's workers) pick it up.
* Each OpenBLAS already loaded in this process (NumPy's, SciPy's) re-reads its
  environment (``openblas_read_env``) and stops its worker threads
  (``blas_thread_shutdown_``). The next BLAS call restarts them with the new timeout.

Both steps are skipped when the user set ``OPENBLAS_THREAD_TIMEOUT`` (any value, e.g.
28 to keep OpenBLAS's behaviour) or ``ADMMNET_KEEP_BLAS_SPIN=1``. A spin of
``2**16`` cycles (about 20 microseconds) still covers back-to-back calls. Results
do not depend on it: only idle threads are affected, never the arithmetic. Stopping the
threads is only safe while no other thread is inside OpenBLAS: import admmnet before
starting BLAS work in other threads.

This module imports nothing heavier than :mod:`ctypes`, so that it can run
before NumPy is loaded.
"""
from __future__ import annotations

import ctypes
import os

__all__ = ["SPIN_TIMEOUT", "shorten_openblas_spin", "openblas_spin_status", "loaded_openblas"]

#: log2 of the cycles an idle OpenBLAS worker spins before it sleeps, as admmnet sets it.
SPIN_TIMEOUT = 16

_ENV = "OPENBLAS_THREAD_TIMEOUT"
_OPT_OUT = "ADMMNET_KEEP_BLAS_SPIN"
_STATUS: dict = {"source": "not applied", "timeout": None}


def loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux ``/proc/self/maps``;
    an empty list elsewhere)."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(maxsplit=5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    name = os.path.basename(path).lower()
                    if "openblas" in name and ".so" in name and path not in paths:
                        paths.append(path)
    except OSError:
        pass
    return paths


def _library(path: str):
    try:
        return ctypes.CDLL(path)       # already loaded: dlopen returns the same handle
    except OSError:
        return None


def _timeout_of(lib) -> int | None:
    fn = getattr(lib, "openblas_thread_timeout", None)
    if fn is None:
        return None
    fn.restype = ctypes.c_int
    return int(fn())


def shorten_openblas_spin(timeout: int = SPIN_TIMEOUT) -> None:
    """Set OpenBLAS's idle spin to ``2**timeout`` cycles (see the module docstring); what was
    done is what :func:`openblas_spin_status` reports. A no-op when ``OPENBLAS_THREAD_TIMEOUT``
    or ``ADMMNET_KEEP_BLAS_SPIN`` is set in the environment."""
    if os.environ.get(_OPT_OUT, "").strip() not in ("", "0"):
        _STATUS.update(source=f"left alone ({_OPT_OUT} is set)", timeout=None)
        return
    if _ENV in os.environ:
        _STATUS.update(source=f"user ({_ENV}={os.environ[_ENV]})", timeout=os.environ[_ENV])
        return
    os.environ[_ENV] = str(int(timeout))
    _STATUS.update(source="admmnet", timeout=str(int(timeout)))
    for path in loaded_openblas():
        lib = _library(path)
        read_env = getattr(lib, "openblas_read_env", None) if lib is not None else None
        shutdown = getattr(lib, "blas_thread_shutdown_", None) if lib is not None else None
        if read_env is None or shutdown is None:
            continue
        read_env.restype = None
        shutdown.restype = ctypes.c_int
        read_env()
        shutdown()


def openblas_spin_status() -> dict:
    """What was done and what each loaded OpenBLAS now uses: ``{"source", "timeout",
    "libraries": [{"path", "thread_timeout"}]}`` (``thread_timeout`` as the library reports
    it, ``openblas_thread_timeout()``; 0 means OpenBLAS's default, 28)."""
    libs = []
    for path in loaded_openblas():
        lib = _library(path)
        libs.append({"path": path, "thread_timeout": None if lib is None else _timeout_of(lib)})
    return {**_STATUS, "libraries": libs}
