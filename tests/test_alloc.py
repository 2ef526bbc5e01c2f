"""The opt-in reuse of large freed blocks (admmnet._alloc): off by default, and when on, a
freed 64 MB array's pages serve the next one (counted in page faults, in fresh processes)."""
import os
import subprocess
import sys

import pytest

from admmnet import _alloc

_FAULTS = """
import resource, numpy as np
from admmnet._alloc import reuse_large_blocks
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with reuse_large_blocks():
    a = np.empty(1 << 24, np.float32); a.fill(1.0); del a      # first use: faulted in either way
    f0 = faults()
    for _ in range(6):
        a = np.empty(1 << 24, np.float32); a.fill(1.0); del a
    print(faults() - f0)
"""


def _run(code, **env):
    e = {k: v for k, v in os.environ.items() if k != "ADMMNET_MALLOC_REUSE"}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_off_by_default(monkeypatch):
    monkeypatch.delenv("ADMMNET_MALLOC_REUSE", raising=False)
    assert not _alloc.available()
    with _alloc.reuse_large_blocks(), _alloc.reuse_large_blocks():   # nests, does nothing
        pass


@pytest.mark.skipif(not sys.platform.startswith("linux") or _alloc._glibc() is None, reason="glibc only")
def test_freed_blocks_are_reused_when_switched_on():
    off = int(_run(_FAULTS))
    on = int(_run(_FAULTS, ADMMNET_MALLOC_REUSE="1"))
    assert on * 4 < off, (on, off)          # six fresh 64 MB arrays fault in their pages; reused ones do not
    assert _run("import admmnet._alloc as a; print(a.available())", ADMMNET_MALLOC_REUSE="1") == "True"
