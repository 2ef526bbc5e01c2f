r"""Idle spinning of the two thread pools the solver alternates between, kept short.

A QNN-ADMM iteration switches every few milliseconds between three kinds of work:
BLAS products (NumPy's OpenBLAS), Numba's parallel elementwise kernels (run by
GNU OpenMP, Numba's default threading layer on Linux), and small LAPACK
factorisations (SciPy's own OpenBLAS copy). Both pools busy-wait after their work
is done, and on a machine with as many cores as threads a spinning pool holds the
cores the next step needs. admmnet therefore shortens both spins when it is imported.

**OpenBLAS.** After every call a worker thread busy-waits
``2**OPENBLAS_THREAD_TIMEOUT`` CPU cycles before it sleeps; OpenBLAS's default is
28, about 0.1 s at 3 GHz. Measured on the 2-core CI machine: MNIST
[784,200,200,10], 60,000 samples, float32, full precision, Numba kernels; one
timed iteration after two warm-up iterations, in a fresh process started with
that ``OPENBLAS_THREAD_TIMEOUT``:

=====================  ======================  ==============================
timeout (log2 cycles)  seconds per iteration   Cholesky of a 201 x 201 matrix
=====================  ======================  ==============================
28 (OpenBLAS default)  1.07 - 1.25             0.2 - 98 ms
24                     0.68                    0.5 ms
16 (admmnet)           0.65                    0.5 ms
4 (OpenBLAS minimum)   0.67                    0.5 ms
=====================  ======================  ==============================

OpenBLAS reads the variable when it starts its worker threads. So
:func:`shorten_openblas_spin` does two things:

* It sets ``OPENBLAS_THREAD_TIMEOUT=16`` in the environment. Libraries loaded
  later and child processes (the study's workers) pick it up.
* Each OpenBLAS already loaded in this process (NumPy's, SciPy's) re-reads its
  environment (``openblas_read_env``) and stops its worker threads
  (``blas_thread_shutdown_``). The next BLAS call restarts them with the new timeout.

A spin of ``2**16`` cycles (about 20 microseconds) still covers back-to-back calls.
Stopping the threads is only safe while no other thread is inside OpenBLAS: import
admmnet before starting BLAS work in other threads.

**OpenMP.** After a parallel region, libgomp's workers spin ``GOMP_SPINCOUNT``
rounds (300,000 by default: milliseconds) before they sleep, so every Numba kernel
took a core away from the product that followed it. :func:`shorten_openmp_spin`
sets ``GOMP_SPINCOUNT=3000`` (tens of microseconds: enough for back-to-back
kernels, such as a FISTA loop). libgomp reads it when it is loaded, which Numba
does at its first parallel kernel, after ``import admmnet``; a libgomp loaded
before (by another library) keeps its setting, and :func:`openmp_spin_status`
says so. Same machine and problem, after the OpenBLAS fix, median of 5-6
iterations per fresh process (two runs each where two values are given; the
2-bit configuration of ``benchmarks/kernels.py``), and the best time of a
200 x 784 projection step (a small kernel that pays for waking sleeping threads):

===========================  ===========  ===========  ===============
libgomp setting              full prec.   2 bits       projection step
===========================  ===========  ===========  ===============
default (spin 300,000)       0.74-0.75 s  0.80-0.85 s  0.04 ms
``GOMP_SPINCOUNT=30000``     0.62-0.65 s  0.67-0.85 s  0.04 ms
``GOMP_SPINCOUNT=10000``     0.60-0.61 s  0.71-0.72 s  0.04 ms
``GOMP_SPINCOUNT=3000``      0.60-0.63 s  0.67-0.69 s  0.04 ms
``OMP_WAIT_POLICY=PASSIVE``  0.59-0.72 s  0.66-0.69 s  0.15 ms
===========================  ===========  ===========  ===============

Each setting is skipped when the user set one of its variables
(``OPENBLAS_THREAD_TIMEOUT``; ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``), and both
when ``ADMMNET_KEEP_BLAS_SPIN=1``. Results do not depend on them: only idle
threads are affected, never the arithmetic.

This module imports nothing heavier than :mod:`ctypes`, so that it can run
before NumPy is loaded.
"""
from __future__ import annotations

import ctypes
import os

__all__ = ["SPIN_TIMEOUT", "shorten_openblas_spin", "openblas_spin_status", "loaded_openblas",
           "GOMP_SPIN", "shorten_openmp_spin", "openmp_spin_status", "loaded_libgomp", "shorten_spins"]

#: log2 of the cycles an idle OpenBLAS worker spins before it sleeps, as admmnet sets it.
SPIN_TIMEOUT = 16

_ENV = "OPENBLAS_THREAD_TIMEOUT"
_OPT_OUT = "ADMMNET_KEEP_BLAS_SPIN"
_STATUS: dict = {"source": "not applied", "timeout": None}
_OMP_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_OMP_STATUS: dict = {"source": "not applied", "spincount": None, "loaded_before": []}

#: spin rounds of an idle libgomp worker (``GOMP_SPINCOUNT``) as admmnet sets it.
GOMP_SPIN = 3000


def _loaded(fragment: str) -> list[str]:
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(maxsplit=5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    name = os.path.basename(path).lower()
                    if fragment in name and ".so" in name and path not in paths:
                        paths.append(path)
    except OSError:
        pass
    return paths


def loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux ``/proc/self/maps``;
    an empty list elsewhere)."""
    return _loaded("openblas")


def loaded_libgomp() -> list[str]:
    """Paths of the GNU OpenMP runtimes mapped into this process (as :func:`loaded_openblas`)."""
    return _loaded("libgomp")


def _opted_out() -> bool:
    """``ADMMNET_KEEP_BLAS_SPIN`` set (to anything but 0): leave both thread pools alone."""
    return os.environ.get(_OPT_OUT, "").strip() not in ("", "0")


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
    if _opted_out():
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


def shorten_openmp_spin(spincount: int = GOMP_SPIN) -> None:
    """Set ``GOMP_SPINCOUNT`` for the OpenMP runtime Numba loads later (module docstring);
    :func:`openmp_spin_status` reports what was done. A no-op when ``OMP_WAIT_POLICY``,
    ``GOMP_SPINCOUNT`` or ``ADMMNET_KEEP_BLAS_SPIN`` is set."""
    if _opted_out():
        _OMP_STATUS.update(source=f"left alone ({_OPT_OUT} is set)", spincount=None)
        return
    user = [f"{k}={os.environ[k]}" for k in _OMP_ENV if k in os.environ]
    if user:
        _OMP_STATUS.update(source=f"user ({', '.join(user)})", spincount=os.environ.get("GOMP_SPINCOUNT"))
        return
    os.environ["GOMP_SPINCOUNT"] = str(int(spincount))
    _OMP_STATUS.update(source="admmnet", spincount=str(int(spincount)), loaded_before=loaded_libgomp())


def openmp_spin_status() -> dict:
    """``{"source", "spincount", "loaded_before", "libraries"}``: what was done, the libgomp
    copies that were already loaded when it was done (they keep their own setting), and those
    loaded now."""
    return {**_OMP_STATUS, "libraries": loaded_libgomp()}


def shorten_spins() -> None:
    """Both settings, as ``import admmnet`` applies them."""
    shorten_openblas_spin()
    shorten_openmp_spin()
