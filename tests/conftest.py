"""Shared pytest fixtures."""
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real dataset files named by ``ADMMNET_DATA``; skips the test when unset."""
    value = os.environ.get("ADMMNET_DATA", "").strip()
    if not value:
        pytest.skip("ADMMNET_DATA is not set: point it at a folder holding seeds/, pendigits/, mnist/ "
                    "(the folder CI uses) to run the tests that need the real dataset files")
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        pytest.skip(f"ADMMNET_DATA={value!r} is not a folder")
    return path


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
