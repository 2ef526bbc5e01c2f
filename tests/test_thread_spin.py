"""admmnet shortens the idle spin of OpenBLAS and OpenMP threads (admmnet._thread_spin): OpenBLAS
checked through what each loaded library itself reports (``openblas_thread_timeout()``),
OpenMP through the environment libgomp reads when Numba loads it; in fresh interpreters."""
import json
import os
import subprocess
import sys

import pytest

from admmnet._thread_spin import GOMP_SPIN, SPIN_TIMEOUT, loaded_openblas

pytestmark = pytest.mark.slow     # subprocesses / whole benchmark runs: not in the quick subset

needs_openblas = pytest.mark.skipif(not loaded_openblas(), reason="no OpenBLAS loaded (not Linux or another BLAS)")

_REPORT = "import json, admmnet._thread_spin as b; print(json.dumps(b.openblas_spin_status()))"
_OMP_REPORT = "import json, os, admmnet._thread_spin as b; print(json.dumps(b.openmp_spin_status()))"


def _run(code: str, **env) -> list[str]:
    """stdout lines of ``code`` in a fresh interpreter, without the user's spin settings plus ``env``."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("OPENBLAS_THREAD_TIMEOUT", "ADMMNET_KEEP_BLAS_SPIN", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


def _status(code: str, **env) -> dict:
    return json.loads(_run(code, **env)[-1])


def _timeouts(status):
    return [lib["thread_timeout"] for lib in status["libraries"]]


@needs_openblas
def test_admmnet_imported_first_sets_the_timeout():
    st = _status("import admmnet, numpy, scipy.linalg; " + _REPORT)
    assert st["source"] == "admmnet" and st["timeout"] == str(SPIN_TIMEOUT)
    assert st["libraries"] and _timeouts(st) == [SPIN_TIMEOUT] * len(st["libraries"])


@needs_openblas
def test_libraries_loaded_before_admmnet_are_reconfigured():
    # NumPy's and SciPy's OpenBLAS are loaded and their threads started before admmnet is imported
    code = ("import numpy as np, scipy.linalg as sl; a = np.ones((300, 300)); a @ a; "
            "sl.cholesky(a + 300 * np.eye(300)); import admmnet; a @ a; " + _REPORT)
    st = _status(code)
    assert len(st["libraries"]) >= 2
    assert _timeouts(st) == [SPIN_TIMEOUT] * len(st["libraries"])


@needs_openblas
def test_products_are_unchanged_after_the_threads_restart():
    code = ("import numpy as np; r = np.random.default_rng(0); a = r.random((400, 300)); b = r.random((300, 500)); "
            "c0 = a @ b; import admmnet; c1 = a @ b; print(float(abs(c1 - c0).max())); " + _REPORT)
    assert float(_run(code)[0]) == 0.0


@needs_openblas
@pytest.mark.parametrize("env, expect", [({"OPENBLAS_THREAD_TIMEOUT": "28"}, 28),
                                         ({"ADMMNET_KEEP_BLAS_SPIN": "1"}, 0)])
def test_user_setting_is_left_alone(env, expect):
    st = _status("import numpy; import admmnet; " + _REPORT, **env)
    assert st["source"] != "admmnet"
    assert _timeouts(st) == [expect] * len(st["libraries"])     # 0: OpenBLAS's built-in default (28)


def test_environment_records_the_spin():
    from admmnet.cli import environment

    env = environment()
    assert {"source", "timeout", "libraries"} <= set(env["openblas_spin"])
    assert {"source", "spincount", "loaded_before", "libraries"} <= set(env["openmp_spin"])


def test_openmp_spin_is_set_before_libgomp_loads():
    """GOMP_SPINCOUNT is in the environment before Numba loads libgomp (at its first parallel
    kernel), so the runtime Numba uses reads it."""
    code = ("import admmnet, os, numpy as np; from admmnet.kernels import numba_cpu as nc; "
            "nc.row_sums(np.ones((400, 4000))) if nc.AVAILABLE else None; "
            "print(os.environ.get('GOMP_SPINCOUNT')); " + _OMP_REPORT)
    out = _run(code)
    st = json.loads(out[-1])
    assert out[0] == str(GOMP_SPIN) and st["source"] == "admmnet" and st["spincount"] == str(GOMP_SPIN)
    assert st["loaded_before"] == []           # nothing had loaded libgomp before admmnet


@pytest.mark.parametrize("env", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5000"},
                                 {"ADMMNET_KEEP_BLAS_SPIN": "1"}])
def test_openmp_user_setting_is_left_alone(env):
    out = _run("import admmnet, os; print(os.environ.get('GOMP_SPINCOUNT')); " + _OMP_REPORT, **env)
    st = json.loads(out[-1])
    assert st["source"] != "admmnet"
    assert out[0] == env.get("GOMP_SPINCOUNT", "None")
