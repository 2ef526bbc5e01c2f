"""Shared pytest fixtures."""
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real dataset files: ``ADMMNET_DATA`` when set (a folder that must exist:
    a missing file then fails its tests instead of skipping them), else the repository's
    ``data/``, where Seeds and Pendigits ship."""
    from admmnet.datasets._fetch import bundled_dir

    value = os.environ.get("ADMMNET_DATA", "").strip()
    if not value:
        return bundled_dir()
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        pytest.fail(f"ADMMNET_DATA={value!r} is not a folder")
    return path


MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="session")
def mnist_data(real_data) -> Path:
    """``real_data`` holding MNIST: skipped without ``ADMMNET_DATA`` (MNIST does not ship),
    a failure when ``ADMMNET_DATA`` is set but lacks a file."""
    missing = [f for f in MNIST_FILES if not (real_data / "mnist" / f).is_file()]
    if missing:
        if os.environ.get("ADMMNET_DATA", "").strip():
            pytest.fail(f"ADMMNET_DATA={real_data} lacks mnist/{', mnist/'.join(missing)}")
        pytest.skip("MNIST does not ship with admmnet: set ADMMNET_DATA to a folder holding mnist/ "
                    "to run the MNIST tests")
    return real_data


def pytest_addoption(parser):
    parser.addoption("--fuzz", choices=("fast", "deep"), default="fast",
                     help="profile of the fuzz suite (tests/test_fuzz.py): 'fast' (the normal run, a few "
                          "hundred examples) or 'deep' (thousands; minutes)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: longer tests left out of the quick subset (pytest -m 'not slow')")
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:     # the fuzz suite skips itself without hypothesis
        return
    common = dict(deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    settings.register_profile("fast", max_examples=40, **common)
    settings.register_profile("deep", max_examples=500, **common)
    settings.load_profile(config.getoption("--fuzz"))
