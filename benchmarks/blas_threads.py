"""What one BLAS thread costs a small fit: QNNADMM(blas_threads=1) against all threads.

``QNNADMM(blas_threads="auto")`` runs fits of at most ``QNNADMM.BLAS_ONE_THREAD_WORK`` (2^22)
rows x widest layer on one BLAS thread, so that their result does not depend on the thread
count (docs/reliability.md). This script times that choice side by side, in one process,
alternating the two settings ``--reps`` times (the machine is shared and noisy: the ratio of
medians is the figure), on

* ``seeds-1bit``: the Seeds 1-bit preset, restarts included (``admmnet train --dataset seeds --bits 1``);
* ``pendigits-fp``: the Pendigits FP preset on its 4 distorted copies (37,470 rows), the FP
  phase of every quantized Pendigits run;
* ``synthetic``: 60,000 random rows x 64 features, hidden (64, 64), 30 iterations
  (``preset=None``): 3.9 M rows x width, just under the threshold.

For each case: median seconds at 1 thread and at all threads, their ratio, and whether the two
models are bit-identical. Results: ``<out>/summary.json`` (machine, versions, command) and
``table.md``.

    python benchmarks/blas_threads.py                 # 3 reps
    python benchmarks/blas_threads.py --cases seeds-1bit --reps 1
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from admmnet import QNNADMM
from admmnet.datasets import load_dataset
from admmnet.presets import AUGMENT, qnn_admm_params

from _runs import fit_finished, write_results


def _case(name: str):
    """(estimator keyword arguments, X, y) of case ``name``."""
    if name == "seeds-1bit":
        ds = load_dataset("seeds", split_seed=0)
        return dict(preset="seeds", **qnn_admm_params("seeds", 1)), ds.X_train, ds.y_train
    if name == "pendigits-fp":
        ds = load_dataset("pendigits", augment=AUGMENT["pendigits"], augment_seed=0)
        return dict(preset="pendigits", **qnn_admm_params("pendigits")), ds.X_train, ds.y_train
    if name == "synthetic":
        r = np.random.default_rng(0)
        X = r.standard_normal((60000, 64)).astype(np.float32)
        y = (X[:, :8] @ r.standard_normal((8, 10))).argmax(1)
        return dict(preset=None, hidden_sizes=(64, 64), max_iter=30), X, y
    raise ValueError(f"unknown case {name!r}")


CASES = ("seeds-1bit", "pendigits-fp", "synthetic")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default="benchmarks/results/blas_threads")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    all_threads = os.cpu_count() or 1
    rows, cases = [], {}
    for name in args.cases:
        kw, X, y = _case(name)
        times = {1: [], all_threads: []}
        weights = {}
        for rep in range(args.reps):
            for bt in times:
                t = time.perf_counter()
                m = fit_finished(QNNADMM(**kw, seed=0, device="cpu", blas_threads=bt), X, y)
                times[bt].append(time.perf_counter() - t)
                weights[bt] = [np.asarray(w) for w in m.weights()]
                print(f"{name} rep {rep} threads {m.blas_threads_}: {times[bt][-1]:.2f} s", flush=True)
        med = {bt: float(np.median(v)) for bt, v in times.items()}
        same = all(np.array_equal(a, b) for a, b in zip(weights[1], weights[all_threads]))
        cases[name] = dict(rows=int(X.shape[0]), seconds={str(k): v for k, v in times.items()},
                           median_seconds={str(k): v for k, v in med.items()},
                           ratio_one_to_all=med[1] / med[all_threads], identical=bool(same))
        rows.append(f"| {name} | {X.shape[0]:,} | {med[1]:.2f} | {med[all_threads]:.2f} | "
                    f"{med[1] / med[all_threads]:.2f} | {'yes' if same else 'no'} |")
    table = (f"Fit seconds (median of {args.reps}, alternating) on 1 BLAS thread and on all {all_threads}; "
             "ratio = 1 thread / all; identical: the two models bit for bit.\n\n"
             f"| case | rows | 1 thread | {all_threads} threads | ratio | identical |\n"
             "| --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n")
    write_results(out, {"cases": cases, "reps": args.reps, "all_threads": all_threads}, table, t_all)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
