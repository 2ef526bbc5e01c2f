"""How many ADMM iterations the MNIST preset needs: validation accuracy against the budget.

The issue's run-time limit (a quantized MNIST run under 2 minutes on the 2-core
machine, everything included) caps the iterations of the MNIST preset. This script
chooses that number on **validation splits of the training rows only**: for each seed
s, a stratified 80/20 split of MNIST's 60,000 training rows (split seed s), and for each
budget ``max_iter`` in ``--iters``

* QNN-ADMM at full precision with the MNIST preset and that ``max_iter`` (its output
  refit included), scored on the validation rows;
* the 2-bit and 1-bit runs of the same budget, taking their FP phase from that FP fit
  (``fit(..., fp_model=fp)``: the same result as a whole quantized fit with
  ``fp_iter = max_iter``; tested in ``tests/test_layerwise.py``).

The test rows are never read. Each (seed, budget) group is appended to
``<out>/runs.jsonl`` as it finishes (an interrupted run resumes);
``<out>/summary.json`` and ``table.md`` hold mean validation accuracy and seconds per cell.

    python benchmarks/mnist_iterations.py                       # seeds 0-1, budgets 50 60 75 100
    python benchmarks/mnist_iterations.py --seeds 1 --iters 60 100
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet.datasets import load_dataset
from admmnet.datasets._preprocess import stratified_split

from _runs import append_runs, fit_finished, load_runs, write_results

BITS = ("fp", 2, 1)


def run_group(X, y, seed: int, iters: int, monitor_rows) -> list[dict]:
    tr, va = stratified_split(y, 0.2, seed)
    out = []
    fp = admmnet.QNNADMM(preset="mnist", max_iter=iters, seed=seed, device="cpu", monitor_rows=monitor_rows)
    t = time.perf_counter()
    fit_finished(fp, X[tr], y[tr])
    t_fp = time.perf_counter() - t
    out.append(dict(bits="fp", val_accuracy=fp.score(X[va], y[va]), seconds=t_fp))
    for bits in (2, 1):
        q = admmnet.QNNADMM(preset="mnist", bits=bits, max_iter=iters, seed=seed, device="cpu",
                            monitor_rows=monitor_rows)
        t = time.perf_counter()
        fit_finished(q, X[tr], y[tr], fp_model=fp)
        out.append(dict(bits=bits, val_accuracy=q.score(X[va], y[va]), seconds=t_fp + time.perf_counter() - t))
    for r in out:
        r.update(seed=seed, max_iter=iters, monitor_rows=monitor_rows, n_train=int(tr.size), n_val=int(va.size))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=2, help="seeds (validation splits) 0..N-1 (default 2)")
    p.add_argument("--iters", type=int, nargs="+", default=[50, 60, 75, 100])
    p.add_argument("--monitor-rows", type=int, default=10000)
    p.add_argument("--out", default="benchmarks/results/mnist_iterations")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    t_all = time.perf_counter()
    ds = load_dataset("mnist")
    X, y = ds.X_train, ds.y_train
    runs = load_runs(log)
    done = {(r["seed"], r["max_iter"], r["monitor_rows"]) for r in runs}
    for seed in range(args.seeds):
        for it in args.iters:
            if (seed, it, args.monitor_rows) in done:
                continue
            rs = run_group(X, y, seed, it, args.monitor_rows)
            append_runs(log, rs)
            runs += rs
            print(f"seed {seed} max_iter {it}: " + ", ".join(
                f"{r['bits']} {100 * r['val_accuracy']:.2f} ({r['seconds']:.0f} s)" for r in rs),
                file=sys.stderr, flush=True)
    cells = {}
    lines = ["Validation accuracy (%) on 20% of MNIST's training rows, mean ± std over seeds; "
             "seconds of the run on the other 80% (48,000 rows).", "",
             "| max_iter | fp | 2 bits | 1 bit | seconds (fp / 2 bits) |", "| --- | --- | --- | --- | --- |"]
    for it in args.iters:
        row = []
        for b in BITS:
            rs = [r for r in runs if r["max_iter"] == it and str(r["bits"]) == str(b)
                  and r["monitor_rows"] == args.monitor_rows and r["seed"] < args.seeds]
            if not rs:
                row.append("–")
                continue
            acc = [100 * r["val_accuracy"] for r in rs]
            cells[f"{it}/{b}"] = {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "n": len(acc),
                                  "seconds_mean": float(np.mean([r["seconds"] for r in rs]))}
            row.append(f"{np.mean(acc):.2f} ± {np.std(acc):.2f}")
        secs = " / ".join(f"{cells[f'{it}/{b}']['seconds_mean']:.0f}" for b in ("fp", 2) if f"{it}/{b}" in cells)
        lines.append(f"| {it} | " + " | ".join(row) + f" | {secs} |")
    write_results(out, {"cells": cells, "monitor_rows": args.monitor_rows}, "\n".join(lines) + "\n", t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
