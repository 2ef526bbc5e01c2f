"""What a plain ``pip install admmnet`` (no extras) must bring: every third-party module that
the package imports unconditionally at module level is in ``install_requires``.

CI installs the ``test`` extra, which pulls scikit-learn in anyway, so a missing core
dependency would otherwise go unnoticed until a user's ``import admmnet`` fails."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DIST = {"sklearn": "scikit-learn", "array_api_compat": "array-api-compat"}


def _install_requires() -> set[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            reqs = ast.literal_eval(node.value)
            return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in reqs}
    raise AssertionError("setup.py has no install_requires")


def _unconditional_imports(path: Path) -> set[str]:
    """Top-level package names of the module-level import statements of ``path`` that run on
    every import (not under try/if, not inside a function or class)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_unconditional_imports_are_core_dependencies():
    required = _install_requires()
    missing = {}
    for path in sorted((ROOT / "admmnet").rglob("*.py")):
        for name in _unconditional_imports(path):
            if name in sys.stdlib_module_names or name in ("admmnet", "__future__"):
                continue
            if DIST.get(name, name).lower() not in required:
                missing.setdefault(DIST.get(name, name), []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported at module level but not in setup.py's install_requires: {missing}"


def test_the_scan_sees_what_it_checks():
    # the scan itself: the model module's scikit-learn import is found, a guarded one is not
    assert "sklearn" in _unconditional_imports(ROOT / "admmnet" / "model.py")
    assert "numba" not in _unconditional_imports(ROOT / "admmnet" / "kernels" / "numba_cpu.py")
    assert {"numpy", "scikit-learn", "threadpoolctl"} <= _install_requires()


def test_every_source_folder_is_a_package():
    # setup.py's find_packages() ships only folders with an __init__.py: a folder of modules
    # without one works in an editable install (CI's) and is missing from a wheel
    from setuptools import find_packages

    shipped = set(find_packages(str(ROOT), include=["admmnet", "admmnet.*"]))
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "admmnet").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert folders - shipped == set(), f"folders of modules that a wheel would leave out: {folders - shipped}"


def test_what_an_install_ships_loads_the_bundled_datasets(tmp_path):
    # setup.py's build step (what a wheel holds): every module folder, and Seeds and Pendigits
    # byte for byte, found by the installed loader without ADMMNET_DATA or a network
    import hashlib
    import os
    import subprocess

    lib = tmp_path / "lib"
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)], cwd=ROOT,
                   check=True, capture_output=True)
    assert (lib / "admmnet" / "admm" / "__init__.py").is_file()
    for rel in ("seeds/seeds_dataset.txt", "pendigits/pendigits.tra", "pendigits/pendigits.tes"):
        shipped, repo = lib / "admmnet" / "bundled_data" / rel, ROOT / "data" / rel
        assert hashlib.sha256(shipped.read_bytes()).digest() == hashlib.sha256(repo.read_bytes()).digest(), rel
    env = {k: v for k, v in os.environ.items() if k not in ("ADMMNET_DATA", "PYTHONPATH")}
    env.update(PYTHONPATH=str(lib), ADMMNET_CACHE=str(tmp_path / "empty-cache"))
    code = ("import admmnet, admmnet.datasets as d; from admmnet.datasets._fetch import bundled_dir; "
            "assert admmnet.__file__.startswith(%r), admmnet.__file__; "
            "s = d.load_dataset('seeds', download=False); p = d.load_dataset('pendigits', download=False); "
            "print(bundled_dir(), s.X_train.shape[0] + s.X_test.shape[0], p.X_train.shape[0] + p.X_test.shape[0])"
            % str(lib))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    folder, n_seeds, n_pen = out.stdout.split()
    assert Path(folder) == lib / "admmnet" / "bundled_data"
    assert (int(n_seeds), int(n_pen)) == (210, 10992)
