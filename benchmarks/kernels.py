"""Kernel and iteration speed of the QNN-ADMM solver against the hardware's GEMM rate.

For every available backend (``reference``: the array-API kernels with every
product recomputed, i.e. the solver before the fast paths; ``numpy``: the
previous default, reference kernels + SciPy Cholesky; ``numba``: Numba kernels
+ product reuse, the CPU default; ``cupy`` on a GPU) this measures, in one run:

* a large SGEMM (or DGEMM for ``--dtype float64``): ``measured_gemm_flops_per_second``;
* each kernel of the dispatch table on MNIST-sized arrays (z-update 200 x m,
  softmax cross-entropy and FISTA step 10 x m, backtracking objective 200 x m,
  projection step on a 200 x 784 weight matrix; the activation and bias-add
  helpers 200 x m), fast vs reference;
* full QNN-ADMM iterations on MNIST [784,200,200,10] (and [784,1000,1000,10]):
  ``seconds_per_iteration``, the GEMM FLOPs the iteration actually executed
  (counted by :func:`admmnet.kernels.gemm.count_gemms`, SYRK as half a GEMM),
  ``roofline_fraction = (gemm_flops / measured GEMM rate) / seconds_per_iteration``
  and ``speedup_vs_reference``. The paths are timed interleaved (one iteration
  of each in turn), so a background load slows all of them alike;
* optionally (``--profile``) where the time of the [784,200,200,10] iteration
  goes, per backend: seconds per iteration in each update (W, G, a, z, and
  the rest: multiplier, continuation, resets), each timed with the device
  synchronised on both sides;
* optionally (``--memory``) the peak RSS of an ``admmnet train --dataset mnist``
  run, against the bytes of the data plus the solver state.

Usage::

    python benchmarks/kernels.py                      # full: 60k samples, both sizes, fp + 2-bit
    python benchmarks/kernels.py --quick              # < 1 min on 2 cores: 10k samples, fp, one size
    python benchmarks/kernels.py --memory --json benchmarks/results/kernels/kernels.json

Writes JSON (``--json``, default ``benchmarks/results/kernels/kernels[-quick].json``)
and prints tables. The load average before and after is recorded: timings on a
shared machine are inflated; the ratios of one run are what to compare.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from admmnet.admm import solver as S
from admmnet.admm.activations import get_activation
from admmnet.cli import environment
from admmnet.kernels import available_backends, get_kernels, gemm, numba_cpu, reference
from admmnet.presets import qnn_admm_params
from admmnet.quant import make_level_set

ROOT = Path(__file__).resolve().parent.parent


def _sync(xp_mod):
    if xp_mod is not None:
        xp_mod.cuda.Device().synchronize()


def best_time(fn, reps: int, sync=None, min_seconds: float = 0.005) -> float:
    """Seconds per call: the best of ``reps`` timings, each of a loop of calls that lasts at
    least ``min_seconds`` (as ``timeit`` does: a sub-millisecond kernel timed one call at a
    time measures the timer and the scheduler as much as the kernel)."""
    t0 = time.perf_counter()
    fn()
    _sync(sync)
    first = time.perf_counter() - t0
    n = max(1, min(1000, int(min_seconds / max(first, 1e-7))))
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        _sync(sync)
        best = min(best, (time.perf_counter() - t0) / n)
    return best


# --------------------------------------------------------------------------- GEMM rate
def gemm_rate(n: int, dtype, reps: int, device: str = "cpu") -> float:
    """FLOP/s of an n x n x n matrix product (best of ``reps``)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    sync = None
    if device == "gpu":
        import cupy

        A, B, sync = cupy.asarray(A), cupy.asarray(B), cupy
    A @ B
    return 2.0 * n ** 3 / best_time(lambda: A @ B, reps, sync)


# --------------------------------------------------------------------------- kernels
def kernel_cases(m: int, dtype):
    """(name, shape, args builder, reference fn, table attribute)."""
    from admmnet.admm.activations import ACTIVATIONS

    rng = np.random.default_rng(0)
    p = rng.standard_normal((200, m)).astype(dtype)
    a = np.abs(rng.standard_normal((200, m))).astype(dtype)
    z = rng.standard_normal((10, m)).astype(dtype)
    y = np.eye(10, dtype=dtype)[rng.integers(0, 10, m)].T.copy()
    Wn = rng.standard_normal((200, 784)).astype(dtype)
    Wn /= np.abs(Wn).max()
    alpha_l = np.full((1, 1), 0.1, dtype=dtype)
    alpha_r = np.full((200, 1), 0.1, dtype=dtype)
    relu, hs = ACTIVATIONS["relu"].pieces, ACTIVATIONS["hardsigmoid"].pieces
    return [
        ("z_update relu", (200, m), "z_update_piecewise", (p, a, 0.1, 0.01, relu)),
        ("z_update hardsigmoid", (200, m), "z_update_piecewise", (p, a, 0.1, 0.01, hs)),
        ("softmax_xent", (10, m), "softmax_xent", (z, y)),
        ("fista_step", (10, m), "fista_step", (z, z * 0.9, 0.5, z * 0.1, y, 0.5, 0.1)),
        ("backtracking objective", (200, m), "sq_norm_axpy", (p, a, 0.25)),
        ("projection step (layer)", (1, 200 * 784), "proj_step", (Wn.reshape(1, -1), alpha_l, None, 3, True)),
        ("projection step (row)", (200, 784), "proj_step", (Wn, alpha_r, None, 3, True)),
        # helpers the solver passes through the table too (memory-bound one-pass loops; not
        # among the hot spots the kernel targets name)
        ("activation relu", (200, m), "activate", (p, ACTIVATIONS["relu"])),
        ("bias add (in place)", (200, m), "add_bias", (p.copy(), rng.standard_normal((200, 1)).astype(dtype))),
        ("row sums", (200, m), "row_sums", (p,)),
        ("axpby", (200, m), "axpby", (0.3, p, 2.0, a)),
    ]


def bench_kernels(m: int, dtype, backends, reps: int) -> list[dict]:
    out = []
    cases = kernel_cases(m, dtype)
    for name, shape, attr, args in cases:
        ref_fn = getattr(reference, attr)
        t_ref = best_time(lambda: ref_fn(*args), reps)
        for be in backends:
            if be in ("reference", "numpy"):
                continue
            sync = None
            a = args
            if be == "cupy":
                import cupy

                sync = cupy
                a = tuple(cupy.asarray(v) if isinstance(v, np.ndarray) else v for v in args)
            fn = getattr(get_kernels(backend=be), attr)
            fn(*a)  # compile / load from cache
            _sync(sync)
            t = best_time(lambda: fn(*a), reps, sync)
            out.append({"kernel": name, "shape": list(shape), "dtype": np.dtype(dtype).name, "backend": be,
                        "seconds": t, "reference_seconds": t_ref, "speedup_vs_reference": t_ref / t})
    return out


# --------------------------------------------------------------------------- iterations
PATHS = {  # name: (kernel table, reuse_products)
    "reference": ("reference", False),
    "numpy": ("numpy", False),
    "numba": ("numba", True),
    "cupy": ("cupy", True),
}


def load_mnist(m: int, dtype):
    try:
        from admmnet.datasets import load_dataset

        ds = load_dataset("mnist", dtype=np.dtype(dtype).name, download=False)
        X, y, src = ds.X_train[:m], ds.y_train[:m], "mnist"
    except Exception as exc:  # no data here: same shapes, random pixels
        print(f"(MNIST not available: {exc}; using random data of the same shape)", file=sys.stderr)
        rng = np.random.default_rng(0)
        X = rng.random((m, 784)).astype(dtype)
        y = rng.integers(0, 10, m)
        src = "synthetic"
    A0 = np.ascontiguousarray(X.T)
    Y = np.ascontiguousarray(np.eye(10, dtype=dtype)[y].T)
    return A0, Y, src


def solver_params(config: str, reuse: bool) -> tuple:
    """The MNIST preset's solver settings; "2bit" times a quantized iteration as the solver
    runs it when quantizing during the iterations (``fp_iter=0``, no inertial step: the
    schedule the quantized preset used before its FP phase; the preset itself now runs FP
    iterations and quantizes after them)."""
    bits = None if config == "fp" else int(config.rstrip("bit"))
    kw = qnn_admm_params("mnist", bits)
    if bits is not None:
        kw["momentum"] = 0.0
    fields = S.ADMMParams.__dataclass_fields__
    params = S.ADMMParams(**{k: v for k, v in kw.items() if k in fields}, reuse_products=reuse)
    return params, (None if bits is None else make_level_set("thesis", bits))


def setup_path(A0, Y, sizes, config: str, backend: str, act) -> dict:
    """One path's solver state from the same seed (data on the GPU for ``cupy``): state, Y,
    params, level set, kernel table and the module to synchronise (None on the CPU)."""
    table, reuse = PATHS[backend]
    params, ls = solver_params(config, reuse)
    X, Yb, sync = A0, Y, None
    if backend == "cupy":
        import cupy

        X, Yb, sync = cupy.asarray(A0), cupy.asarray(Y), cupy
    st = S.init_state(X, sizes, act, ls, params, np.random.default_rng(0), bias=True)
    return dict(state=st, Y=Yb, params=params, ls=ls, kern=get_kernels(X, backend=table), sync=sync)


def bench_iterations(A0, Y, sizes, config: str, backends, n_timed: int, n_warm: int, gemm_flops_s: dict) -> list[dict]:
    act = get_activation("relu")
    runs = {be: dict(setup_path(A0, Y, sizes, config, be, act), times=[], flops=[], calls=[], table=None)
            for be in backends}
    for _ in range(n_warm):  # the first iteration computes a_0 a_0^T and compiles the kernels
        for be, r in runs.items():
            S.admm_iteration(r["state"], r["Y"], act, r["ls"], r["params"], r["kern"])
            _sync(r["sync"])
    for _ in range(n_timed):  # interleaved: a background load slows every path alike
        for be, r in runs.items():
            with gemm.count_gemms() as c:
                t0 = time.perf_counter()
                S.admm_iteration(r["state"], r["Y"], act, r["ls"], r["params"], r["kern"])
                _sync(r["sync"])
                r["times"].append(time.perf_counter() - t0)
            r["flops"].append(c.flops)
            r["calls"].append(c.n)
            r["table"] = c.table()
    t_ref = float(np.median(runs["reference"]["times"])) if "reference" in runs else None
    out = []
    for be, r in runs.items():
        sec = float(np.median(r["times"]))
        flops = float(np.median(r["flops"]))
        rate = gemm_flops_s["gpu" if be == "cupy" else "cpu"]
        out.append({
            "case": "mnist-" + "-".join(map(str, sizes)), "layer_sizes": list(sizes), "config": config,
            "samples": int(A0.shape[1]), "dtype": A0.dtype.name, "backend": be,
            "kernel_table": r["kern"].name, "reuse_products": r["params"].reuse_products,
            "seconds_per_iteration": sec, "seconds_all": r["times"],
            "gemm_flops_per_iteration": flops, "gemm_calls_per_iteration": float(np.median(r["calls"])),
            "measured_gemm_flops_per_second": rate,
            "roofline_fraction": (flops / rate) / sec,
            "speedup_vs_reference": (t_ref / sec) if t_ref else None,
            "gemm_schedule": r["table"],
        })
        r["state"] = None
    return out


# --------------------------------------------------------------------------- profile
PHASES = ("_update_W", "_update_G", "_update_a", "_update_z")
G_PARTS = ("_exact_init", "_grid_init")            # admmnet.quant.projection: the alpha searches


def profile_iteration(A0, Y, sizes, config: str, backend: str, n_timed: int, n_warm: int = 2) -> dict:
    """Seconds per iteration spent in each update of :func:`admmnet.admm.solver.admm_iteration`
    (the solver's module-level update functions wrapped with synchronised timers; they do not
    call each other), and inside the G-update: the initial alpha searches of the projection
    (exact and grid) and its alternation steps (the kernel table's ``proj_step``)."""
    from dataclasses import replace

    from admmnet.quant import projection as P

    act = get_activation("relu")
    r = setup_path(A0, Y, sizes, config, backend, act)
    st, Yb, params, ls, kern, sync = (r[k] for k in ("state", "Y", "params", "ls", "kern", "sync"))
    for _ in range(n_warm):                  # compiles (Numba, CuPy's kernel cache) and fills pools
        S.admm_iteration(st, Yb, act, ls, params, kern)
    _sync(sync)
    spent, calls = {}, {}

    def timed(label, fn):
        spent[label], calls[label] = 0.0, 0

        def wrapper(*args, **kw):
            _sync(sync)
            t0 = time.perf_counter()
            out = fn(*args, **kw)
            _sync(sync)
            spent[label] += time.perf_counter() - t0
            calls[label] += 1
            return out
        return wrapper

    patched = [(S, name) for name in PHASES] + [(P, name) for name in G_PARTS]
    originals = [(mod, name, getattr(mod, name)) for mod, name in patched]
    tkern = replace(kern, proj_step=timed("proj_step", kern.proj_step))
    total = 0.0
    try:
        for mod, name, fn in originals:
            setattr(mod, name, timed(name.lstrip("_"), fn))
        for _ in range(n_timed):
            _sync(sync)
            t0 = time.perf_counter()
            S.admm_iteration(st, Yb, act, ls, params, tkern)
            _sync(sync)
            total += time.perf_counter() - t0
    finally:
        for mod, name, fn in originals:
            setattr(mod, name, fn)
    per_it = {k: v / n_timed for k, v in spent.items()}
    per_it["rest"] = total / n_timed - sum(per_it[p.lstrip("_")] for p in PHASES)
    return {"case": "mnist-" + "-".join(map(str, sizes)), "config": config, "backend": backend,
            "seconds_per_iteration": total / n_timed, "seconds_by_update": per_it,
            "calls_per_iteration": {k: v / n_timed for k, v in calls.items()},
            "note": "exact_init, grid_init and proj_step are parts of update_G (not added to the total)"}


# --------------------------------------------------------------------------- memory
_HWM = ("import atexit, runpy, sys\n"
        "def _hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM'):\n"
        "            print('ADMMNET_VMHWM_KB', line.split()[1], file=sys.stderr)\n"
        "atexit.register(_hwm)\n")


def _peak_rss(code: str) -> tuple[int | None, object]:
    """Peak RSS (bytes) of a fresh Python process running ``code``: its own VmHWM, read at exit
    (getrusage of a child would report the parent's size at fork)."""
    proc = subprocess.run([sys.executable, "-c", _HWM + code], capture_output=True, text=True, cwd=ROOT)
    kb = [ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("ADMMNET_VMHWM_KB")]
    return (int(kb[-1]) * 1024 if kb else None), proc


def bench_memory(iters: int, dtype: str) -> dict:
    """Peak RSS of ``admmnet train --dataset mnist --iters N`` (a fresh process), against the
    bytes of the data (train + test features, labels, one-hot targets) plus the solver state
    (z, a, lambda, W, G, Q, W_prev of [784,200,200,10] on 60k samples); also the peak of a
    process that only imports admmnet and compiles its kernels (the interpreter and libraries)."""
    argv = ["admmnet", "train", "--dataset", "mnist", "--iters", str(iters), "--dtype", dtype, "--quiet"]
    t0 = time.perf_counter()
    peak, proc = _peak_rss(f"sys.argv = {argv!r}\nrunpy.run_module('admmnet', run_name='__main__')\n")
    wall = time.perf_counter() - t0
    base, _ = _peak_rss("import admmnet\nfrom admmnet.kernels import numba_cpu\nnumba_cpu.warm_up()\n")
    itemsize = np.dtype(dtype).itemsize
    m, mt, sizes = 60000, 10000, (784, 200, 200, 10)
    data = (m + mt) * 784 * itemsize + (m + mt) * 8 + 10 * m * itemsize   # X_train, X_test, labels, one-hot Y
    L = len(sizes) - 1
    state = sum(sizes[l + 1] * m for l in range(L)) * itemsize           # z_1..z_L
    state += sum(sizes[l] * m for l in range(1, L)) * itemsize           # a_1..a_{L-1}
    state += sizes[-1] * m * itemsize                                    # lambda
    state += 4 * sum(sizes[l] * sizes[l + 1] for l in range(L)) * itemsize  # W, G, Q, W_prev
    out = {"command": " ".join(argv), "returncode": proc.returncode, "wall_seconds": wall,
           "peak_rss_bytes": peak, "runtime_rss_bytes": base, "data_bytes": data, "state_bytes": state,
           "ratio_to_data_plus_state": peak / (data + state) if peak else None,
           "ratio_excluding_runtime": (peak - base) / (data + state) if peak and base else None,
           "stderr_tail": proc.stderr[-400:] if proc.returncode else ""}
    return out


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10k samples, fp only, [784,200,200,10] only: < 1 min")
    ap.add_argument("--samples", type=int, default=None, help="training samples (default 60000; quick 10000)")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--backends", default=None,
                    help="comma-separated subset of reference,numpy,numba,cupy (default: all available)")
    ap.add_argument("--configs", default=None, help="comma-separated: fp,2bit,... (default fp,2bit; quick fp)")
    ap.add_argument("--no-wide", action="store_true", help="skip [784,1000,1000,10]")
    ap.add_argument("--iters", type=int, default=None, help="timed iterations per path (default 3; quick 1)")
    ap.add_argument("--memory", action="store_true", help="also measure the peak RSS of an MNIST training run")
    ap.add_argument("--profile", action="store_true",
                    help="also time each update of the [784,200,200,10] iteration, per backend and config")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    quick = args.quick
    m = args.samples or (10000 if quick else 60000)
    dtype = np.dtype(args.dtype).type
    backends = [b for b in (args.backends.split(",") if args.backends else available_backends())]
    for b in backends:
        if b not in available_backends():
            ap.error(f"backend {b!r} is not available here (available: {', '.join(available_backends())})")
    configs = args.configs.split(",") if args.configs else (["fp"] if quick else ["fp", "2bit"])
    n_timed = args.iters or (1 if quick else 3)
    out_path = Path(args.json) if args.json else ROOT / "benchmarks" / "results" / "kernels" / (
        "kernels-quick.json" if quick else "kernels.json")

    t_start = time.perf_counter()
    load0 = os.getloadavg()
    if load0[0] > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average {load0[0]:.1f} on {os.cpu_count()} CPUs: other jobs are running. Threaded "
              "BLAS and Numba regions can wait whole scheduler time slices for a descheduled thread; "
              "compare ratios of one run, or rerun with OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.",
              file=sys.stderr)
    numba_cpu.warm_up()
    rates = {"cpu": max(gemm_rate(1024 if quick else 3072, dtype, 3), gemm_rate(2048 if quick else 4096, dtype, 2))}
    if "cupy" in backends:
        rates["gpu"] = gemm_rate(8192, dtype, 5, device="gpu")
    print("GEMM rate: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in rates.items()))

    kern_rows = bench_kernels(m, dtype, backends, 3 if quick else 7)
    print(f"\nkernels ({m} samples, {np.dtype(dtype).name}; best of runs):")
    print(f"{'kernel':28s} {'shape':>14s} {'backend':8s} {'ms':>9s} {'ref ms':>9s} {'speedup':>8s}")
    for r in kern_rows:
        print(f"{r['kernel']:28s} {'x'.join(map(str, r['shape'])):>14s} {r['backend']:8s} "
              f"{1e3 * r['seconds']:9.2f} {1e3 * r['reference_seconds']:9.2f} {r['speedup_vs_reference']:7.1f}x")

    cases = [(784, 200, 200, 10)] + ([] if (quick or args.no_wide) else [(784, 1000, 1000, 10)])
    A0, Y, src = load_mnist(m, dtype)
    it_rows = []
    for sizes in cases:
        for config in configs:
            rows = bench_iterations(A0, Y, sizes, config, backends, n_timed, 2, rates)
            it_rows += rows
            print(f"\niteration {sizes} {config}, {m} samples ({src}), {np.dtype(dtype).name}, "
                  f"median of {n_timed}:")
            print(f"{'backend':10s} {'s/iter':>8s} {'GEMM GFLOP':>10s} {'GEMMs':>6s} {'roofline':>9s} {'speedup':>8s}")
            for r in rows:
                sp = r["speedup_vs_reference"]
                print(f"{r['backend']:10s} {r['seconds_per_iteration']:8.3f} {r['gemm_flops_per_iteration'] / 1e9:10.1f} "
                      f"{r['gemm_calls_per_iteration']:6.0f} {r['roofline_fraction']:9.2f} "
                      + (f"{sp:7.2f}x" if sp else ""))
    prof_rows = []
    if args.profile:
        print(f"\nwhere the time goes: {cases[0]}, {m} samples, seconds per iteration (mean of {n_timed}):")
        print(f"{'backend':8s} {'config':6s} {'total':>8s} " + " ".join(f"{p.lstrip('_'):>10s}" for p in PHASES)
              + f" {'rest':>8s}   inside update_G: {'exact':>7s} {'grid':>7s} {'steps':>7s} (calls)")
        for config in configs:
            for be in backends:
                r = profile_iteration(A0, Y, cases[0], config, be, n_timed)
                prof_rows.append(r)
                sb = r["seconds_by_update"]
                n = r["calls_per_iteration"]
                print(f"{be:8s} {config:6s} {r['seconds_per_iteration']:8.4f} "
                      + " ".join(f"{sb[p.lstrip('_')]:10.4f}" for p in PHASES) + f" {sb['rest']:8.4f}"
                      + f"                    {sb['exact_init']:7.4f} {sb['grid_init']:7.4f} {sb['proj_step']:7.4f}"
                      + f" ({n['exact_init']:.0f}/{n['grid_init']:.0f}/{n['proj_step']:.0f})")
    mem = None
    if args.memory:
        mem = bench_memory(2 if not quick else 1, args.dtype)
        if mem["peak_rss_bytes"]:
            print(f"\npeak RSS of '{mem['command']}': {mem['peak_rss_bytes'] / 2**20:.0f} MiB "
                  f"(interpreter + libraries alone: {(mem['runtime_rss_bytes'] or 0) / 2**20:.0f} MiB); data "
                  f"{mem['data_bytes'] / 2**20:.0f} MiB + state {mem['state_bytes'] / 2**20:.0f} MiB -> "
                  f"ratio {mem['ratio_to_data_plus_state']:.2f} ({mem['ratio_excluding_runtime']:.2f} "
                  "without the interpreter and libraries)")
    result = {
        "benchmark": "kernels", "quick": quick, "samples": m, "dtype": np.dtype(dtype).name, "data": src,
        "backends": backends, "measured_gemm_flops_per_second": rates["cpu"], "gemm_rates": rates,
        "kernels": kern_rows, "iterations": it_rows, "profile": prof_rows, "memory": mem,
        "load_average_before": load0, "load_average_after": os.getloadavg(),
        "threads": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                    "NUMBA_NUM_THREADS")},
        "seconds": time.perf_counter() - t_start,
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
        "environment": environment(),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out_path} ({result['seconds']:.0f} s; load average {load0[0]:.1f} -> {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
