"""admmnet shortens OpenBLAS's idle spin (admmnet._blas_spin): checked through what each
loaded OpenBLAS itself reports (``openblas_thread_timeout()``), in fresh interpreters."""
import json
import os
import subprocess
import sys

import pytest

from admmnet._blas_spin import SPIN_TIMEOUT, loaded_openblas

pytestmark = pytest.mark.skipif(not loaded_openblas(), reason="no OpenBLAS loaded (not Linux or another BLAS)")

_REPORT = "import json, admmnet._blas_spin as b; print(json.dumps(b.openblas_spin_status()))"


def _run(code: str, **env) -> list[str]:
    """stdout lines of ``code`` in a fresh interpreter, without the user's spin settings plus ``env``."""
    e = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "ADMMNET_KEEP_BLAS_SPIN")}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


def _status(code: str, **env) -> dict:
    return json.loads(_run(code, **env)[-1])


def _timeouts(status):
    return [lib["thread_timeout"] for lib in status["libraries"]]


def test_admmnet_imported_first_sets_the_timeout():
    st = _status("import admmnet, numpy, scipy.linalg; " + _REPORT)
    assert st["source"] == "admmnet" and st["timeout"] == str(SPIN_TIMEOUT)
    assert st["libraries"] and _timeouts(st) == [SPIN_TIMEOUT] * len(st["libraries"])


def test_libraries_loaded_before_admmnet_are_reconfigured():
    # NumPy's and SciPy's OpenBLAS are loaded and their threads started before admmnet is imported
    code = ("import numpy as np, scipy.linalg as sl; a = np.ones((300, 300)); a @ a; "
            "sl.cholesky(a + 300 * np.eye(300)); import admmnet; a @ a; " + _REPORT)
    st = _status(code)
    assert len(st["libraries"]) >= 2
    assert _timeouts(st) == [SPIN_TIMEOUT] * len(st["libraries"])


def test_products_are_unchanged_after_the_threads_restart():
    code = ("import numpy as np; r = np.random.default_rng(0); a = r.random((400, 300)); b = r.random((300, 500)); "
            "c0 = a @ b; import admmnet; c1 = a @ b; print(float(abs(c1 - c0).max())); " + _REPORT)
    assert float(_run(code)[0]) == 0.0


@pytest.mark.parametrize("env, expect", [({"OPENBLAS_THREAD_TIMEOUT": "28"}, 28),
                                         ({"ADMMNET_KEEP_BLAS_SPIN": "1"}, 0)])
def test_user_setting_is_left_alone(env, expect):
    st = _status("import numpy; import admmnet; " + _REPORT, **env)
    assert st["source"] != "admmnet"
    assert _timeouts(st) == [expect] * len(st["libraries"])     # 0: OpenBLAS's built-in default (28)


def test_environment_records_the_spin():
    from admmnet.cli import environment

    spin = environment()["openblas_spin"]
    assert {"source", "timeout", "libraries"} <= set(spin)
