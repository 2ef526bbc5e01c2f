"""benchmarks/kernels.py on a small problem: the JSON fields issue #4 asks for, the ratios
they are defined by, and the --profile breakdown adding up to the iteration it times."""
import json
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow     # subprocesses / whole benchmark runs: not in the quick subset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import kernels as bench  # noqa: E402


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    if "numba" not in bench.available_backends():
        pytest.skip("the fast CPU table needs Numba (pip install numba; ADMMNET_NO_NUMBA unset)")
    out = tmp_path_factory.mktemp("bench") / "k.json"
    argv = ["--quick", "--samples", "600", "--backends", "reference,numba", "--configs", "fp,2bit",
            "--iters", "2", "--profile", "--json", str(out)]
    assert bench.main(argv) == 0
    return json.loads(out.read_text())


def test_iteration_rows_have_the_issue_fields(result):
    rows = result["iterations"]
    assert {(r["backend"], r["config"]) for r in rows} == {(b, c) for b in ("reference", "numba")
                                                            for c in ("fp", "2bit")}
    for r in rows:
        for key in ("backend", "seconds_per_iteration", "gemm_flops_per_iteration",
                    "measured_gemm_flops_per_second", "roofline_fraction", "speedup_vs_reference"):
            assert key in r, key
        assert r["samples"] == 600 and r["layer_sizes"] == [784, 200, 200, 10]
        assert r["seconds_per_iteration"] > 0 and len(r["seconds_all"]) == 2
        # the definition: time the GEMM FLOPs need at the measured rate / measured time
        need = r["gemm_flops_per_iteration"] / r["measured_gemm_flops_per_second"]
        assert r["roofline_fraction"] == pytest.approx(need / r["seconds_per_iteration"])
    ref = {r["config"]: r["seconds_per_iteration"] for r in rows if r["backend"] == "reference"}
    for r in rows:
        assert r["speedup_vs_reference"] == pytest.approx(ref[r["config"]] / r["seconds_per_iteration"])
    # quantized iterations do the same products plus the G-update's: never fewer GEMM FLOPs
    flops = {(r["backend"], r["config"]): r["gemm_flops_per_iteration"] for r in rows}
    assert flops["reference", "2bit"] >= flops["reference", "fp"] > 0
    assert result["measured_gemm_flops_per_second"] > 0
    # every kernel of the table, timed against its array-API version
    kern = result["kernels"]
    assert {k["backend"] for k in kern} == {"numba"} and len(kern) == len(bench.kernel_cases(10, "float32"))
    for k in kern:
        assert k["speedup_vs_reference"] == pytest.approx(k["reference_seconds"] / k["seconds"])


def test_profile_adds_up(result):
    prof = result["profile"]
    assert {(p["backend"], p["config"]) for p in prof} == {(b, c) for b in ("reference", "numba")
                                                           for c in ("fp", "2bit")}
    for p in prof:
        sb, calls = p["seconds_by_update"], p["calls_per_iteration"]
        parts = sb["update_W"] + sb["update_G"] + sb["update_a"] + sb["update_z"] + sb["rest"]
        assert parts == pytest.approx(p["seconds_per_iteration"])
        assert min(sb[k] for k in ("update_W", "update_a", "update_z")) > 0 and sb["rest"] > -1e-3
        # 3 layers, W and G updated in both sweeps, a in both sweeps of the 2 hidden layers
        assert calls["update_W"] == calls["update_G"] == 6 and calls["update_a"] == 4
        assert calls["update_z"] == 6
        if p["config"] == "fp":
            assert sb["update_G"] < 1e-3 and calls["proj_step"] == 0
        else:
            # the projection's parts lie inside the G-update; one initial search per projection
            assert calls["exact_init"] + calls["grid_init"] == 6 and calls["proj_step"] >= 6
            assert sb["exact_init"] + sb["grid_init"] + sb["proj_step"] <= sb["update_G"] * 1.001
