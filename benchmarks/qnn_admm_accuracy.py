"""QNN-ADMM accuracy on Seeds, Pendigits and MNIST against the thesis (Tables 6.3-6.5).

Runs QNN-ADMM for every dataset x bit width x seed with the dataset presets
(Seeds: run s trains and tests on the stratified 80/20 split of seed s, since Seeds
has no official split and a single 42-row test set measures mostly that split)
(``admmnet.presets``), stores each finished run as one JSON line (so an
interrupted benchmark resumes where it stopped), then writes

* ``<out>/runs.jsonl``   one record per run (appended as runs finish),
* ``<out>/summary.json`` mean/std per cell, machine, versions, command,
* ``<out>/table.md``     mean ± std test accuracy (thesis mean) and seconds per iteration,

and prints the table. Usage::

    python benchmarks/qnn_admm_accuracy.py                      # everything, 5 seeds
    python benchmarks/qnn_admm_accuracy.py --datasets seeds pendigits --seeds 3
    python benchmarks/qnn_admm_accuracy.py --quick              # 1 seed, Seeds + Pendigits
    python benchmarks/qnn_admm_accuracy.py --jobs 2             # 2 worker processes, 1 BLAS thread each

With ``--jobs J`` the runs go to J worker processes, each limited to
``cpus // J`` BLAS threads (recorded in every run as ``threads``); a run's
``seconds_per_iteration`` is then the time on that many threads.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from admmnet.cli import environment
from admmnet.io import atomic_write, write_json

from _runs import STUDY_DATASETS, accuracy_stats, cell_text, group_cells, is_wanted, plan, progress_printer, run_all, run_task
from _thesis import thesis_mean

# The full-precision ADMM target (no thesis number: the thesis has no FP QNN-ADMM run).
FP_TARGET = {"mnist": 95.0}
BITS = ("fp", 8, 4, 2, 1)


def summarise(runs: list[dict]) -> dict:
    out = {}
    for (dataset, _, bits), rs in group_cells(runs):
        b = "fp" if bits == "fp" else int(bits)
        thesis = FP_TARGET.get(dataset) if b == "fp" else thesis_mean(dataset, "qnn-admm", b)
        stats = accuracy_stats(rs)
        out[f"{dataset}/{bits}"] = {
            "dataset": dataset, "bits": b, **stats,
            "seconds_per_iteration_mean": float(np.mean([r["seconds_per_iteration"] for r in rs])),
            "iterations": rs[0]["iterations"], "threads": rs[0].get("threads"),
            "thesis_mean": thesis,
            "meets_thesis": None if thesis is None else bool(stats["test_accuracy_mean"] >= thesis),
        }
    return out


def markdown(summary: dict, datasets, bits_list) -> str:
    lines = ["Test accuracy (%), mean ± std over seeds (thesis QNN-ADMM mean in parentheses; "
             "fp: full-precision ADMM, target in parentheses for MNIST).", "",
             "| dataset | " + " | ".join(f"{b} bits" if b != "fp" else "fp" for b in bits_list) + " |",
             "| --- |" + " --- |" * len(bits_list)]
    for d in datasets:
        cells = []
        for b in bits_list:
            c = summary.get(f"{d}/{b}")
            if c is None:
                cells.append("–")
                continue
            cells.append(cell_text(c))
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    threads = sorted({c["threads"] for c in summary.values() if c.get("threads")})
    lines += ["", "Seconds per iteration (mean over seeds) and iterations per run"
              + (f" ({', '.join(map(str, threads))} BLAS thread(s) per run)." if threads else "."), "",
              "| dataset | " + " | ".join(str(b) for b in bits_list) + " |", "| --- |" + " --- |" * len(bits_list)]
    for d in datasets:
        cells = []
        for b in bits_list:
            c = summary.get(f"{d}/{b}")
            cells.append("–" if c is None else f"{c['seconds_per_iteration_mean']:.3f} s × {c['iterations']}")
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    n = {c["n_runs"] for c in summary.values()}
    lines += ["", f"Runs per cell: {sorted(n)}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["seeds", "pendigits", "mnist"], choices=list(STUDY_DATASETS))
    p.add_argument("--bits", nargs="+", default=[str(b) for b in BITS])
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--out", default="benchmarks/results/qnn_admm")
    p.add_argument("--quick", action="store_true", help="1 seed on Seeds and Pendigits only")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds = [d for d in args.datasets if d != "mnist"], 1
    bits_list = ["fp" if b == "fp" else int(b) for b in args.bits]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs, phases = plan(out, args.datasets, ["qnn-admm"], set(bits_list), args.seeds)
    todo = phases[1]
    print(f"{len(runs)} runs stored in {out / 'runs.jsonl'}; {len(todo)} to do", file=sys.stderr)
    t_all = time.perf_counter()
    run_all(run_task, todo, args.jobs, progress_printer(out / "runs.jsonl", runs, len(todo)))
    summary = summarise([r for r in runs if is_wanted(r, args.datasets, ["qnn-admm"], bits_list, args.seeds)])
    table = markdown(summary, args.datasets, bits_list)
    write_json(out / "summary.json", {"command": " ".join(["python"] + sys.argv),
                                      "environment": environment(), "cells": summary,
                                      "seconds_this_invocation": time.perf_counter() - t_all})
    atomic_write(out / "table.md", lambda fh: fh.write(table.encode()))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
