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
