"""Accuracy of the comparison methods (FP, PTQ, QNN-STE, DQ, QAT, LQ) on Seeds, Pendigits and
MNIST against the thesis (thesis Tables 6.3-6.5, in benchmarks/_thesis.py) and the issue's targets.

Every method runs at every bit width it supports (thesis levels 8, 4, 2, 1; DQ and QAT int8)
with the presets of ``admmnet.baseline_presets``. Per dataset and seed one FP network is
trained first (saved under ``<out>/models/``); PTQ, QNN-STE, DQ, QAT and LQ start from that
network (as ``admmnet train --from`` does). Seeds: run s uses the
stratified 80/20 split of seed s (as ``benchmarks/qnn_admm_accuracy.py``). Writes

* ``<out>/runs.jsonl``   one record per run, appended as runs finish (a rerun resumes),
* ``<out>/summary.json`` mean/std per cell, thesis mean, target checks, machine, command,
* ``<out>/table.md``     mean ± std test accuracy (thesis mean) per dataset, method and bits,

and prints the table. Usage::

    python benchmarks/baselines_accuracy.py                       # everything, 5 seeds
    python benchmarks/baselines_accuracy.py --quick               # 1 seed, Seeds + Pendigits
    python benchmarks/baselines_accuracy.py --datasets mnist --methods fp ptq --seeds 5 --jobs 2

With ``--jobs J`` the runs go to J worker processes with ``cpus // J`` BLAS threads each.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from admmnet.baseline_presets import BASELINE_METHODS
from admmnet.cli import environment
from admmnet.io import atomic_write, write_json

from _runs import (FROM_FP, STUDY_DATASETS, accuracy_stats, base_dataset, cell_text, group_cells, is_wanted, plan,
                   progress_printer, run_all, run_task)
from _thesis import thesis_mean

# The absolute targets (percent); relative ones ("within x points of FP") in RELATIVE.
TARGETS = {
    ("mnist", "fp", "fp"): 98.0, ("pendigits", "fp", "fp"): 97.0, ("seeds", "fp", "fp"): 92.0,
    ("mnist", "ptq", 4): 95.0,
    ("mnist", "lq", 8): 97.5, ("mnist", "lq", 4): 97.5, ("mnist", "lq", 2): 96.0, ("mnist", "lq", 1): 94.0,
}
RELATIVE = {("seeds", "ptq", 8): 0.3, ("pendigits", "ptq", 8): 0.3, ("mnist", "ptq", 8): 0.3,
            ("mnist", "dq", 8): 0.5, ("mnist", "qat", 8): 0.5}


def summarise(runs: list[dict]) -> dict:
    cells = group_cells(runs)
    fp_mean = {d: accuracy_stats(rs)["test_accuracy_mean"] for (d, m, _), rs in cells if m == "fp"}
    out = {}
    for (d, m, b), rs in cells:
        bits = "fp" if b == "fp" else int(b)
        thesis = thesis_mean(d, m, bits)
        target = TARGETS.get((base_dataset(d), m, bits))  # the floors hold for both Pendigits splits
        if (base_dataset(d), m, bits) in RELATIVE and d in fp_mean:
            target = fp_mean[d] - RELATIVE[(base_dataset(d), m, bits)]
        stats = accuracy_stats(rs)
        mean = stats["test_accuracy_mean"]
        out[f"{d}/{m}/{b}"] = {
            "dataset": d, "method": m, "bits": bits, **stats,
            "seconds_mean": float(np.mean([r["seconds"] for r in rs])), "iterations": rs[0]["iterations"],
            "threads": rs[0].get("threads"),
            "thesis_mean": thesis, "meets_thesis": None if thesis is None else bool(mean >= thesis),
            "target": target, "meets_target": None if target is None else bool(mean >= target),
        }
    return out


def markdown(summary: dict, datasets, methods) -> str:
    lines = ["Test accuracy (%), mean ± std over seeds; thesis mean in parentheses; "
             "`!` marks a cell below the thesis mean or the issue's target.", ""]
    qmethods = [m for m in methods if m != "fp"]
    for d in datasets:
        fp = summary.get(f"{d}/fp/fp")
        head = f"### {d}"
        if fp:
            head += (f" (FP {fp['test_accuracy_mean']:.2f} ± {fp['test_accuracy_std']:.2f}, "
                     f"thesis {fp['thesis_mean']}, target {fp['target']})")
        lines += [head, "", "| bits | " + " | ".join(m.upper() for m in qmethods) + " |",
                  "| --- |" + " --- |" * len(qmethods)]
        for b in (8, 4, 2, 1):
            cells = []
            for m in qmethods:
                c = summary.get(f"{d}/{m}/{b}")
                if c is None:
                    cells.append("–")
                    continue
                flag = "" if (c["meets_thesis"] is not False and c["meets_target"] is not False) else " !"
                cells.append(cell_text(c, mark=flag))
            lines.append(f"| {b} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Seconds per run (mean; the methods other than FP exclude the shared FP training), "
              "runs per cell:", "",
              "| cell | seconds | runs | target | meets target |", "| --- | --- | --- | --- | --- |"]
    for key, c in summary.items():
        tgt = "–" if c["target"] is None else f"{c['target']:.2f}"
        ok = "–" if c["meets_target"] is None else ("yes" if c["meets_target"] else "NO")
        lines.append(f"| {key} | {c['seconds_mean']:.1f} | {c['n_runs']} | {tgt} | {ok} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["seeds", "pendigits", "mnist"], choices=list(STUDY_DATASETS))
    p.add_argument("--methods", nargs="+", default=list(BASELINE_METHODS), choices=BASELINE_METHODS)
    p.add_argument("--bits", nargs="+", default=["fp", "8", "4", "2", "1"],
                   help="bit widths to run (each method runs those it supports)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--out", default="benchmarks/results/baselines")
    p.add_argument("--quick", action="store_true", help="1 seed on Seeds and Pendigits only")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--reuse", nargs="*", default=[], metavar="RUNS.jsonl",
                   help="take over the matching runs of other stores (e.g. benchmarks/results/study/runs.jsonl) "
                        "instead of running them again: same presets and seed give the same run on the CPU")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds = [d for d in args.datasets if d != "mnist"], 1
    wanted = {"fp" if b == "fp" else int(b) for b in args.bits}
    methods = list(dict.fromkeys(["fp"] + args.methods)) if any(m in FROM_FP for m in args.methods) \
        else args.methods
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    runs, phases = plan(out, args.datasets, methods, wanted, args.seeds, reuse=args.reuse)
    n_todo = len(phases[0]) + len(phases[1])
    print(f"{len(runs)} runs stored in {out / 'runs.jsonl'}; {n_todo} to do", file=sys.stderr)
    t_all = time.perf_counter()
    store = progress_printer(out / "runs.jsonl", runs, n_todo)
    for todo in phases:  # the FP models first: the other methods load them
        run_all(run_task, todo, args.jobs, store)
    keep = [r for r in runs if is_wanted(r, args.datasets, methods, wanted, args.seeds)]
    summary = summarise(keep)
    table = markdown(summary, args.datasets, methods)
    write_json(out / "summary.json", {"command": " ".join(["python"] + sys.argv), "environment": environment(),
                                      "cells": summary, "seconds_this_invocation": time.perf_counter() - t_all})
    atomic_write(out / "table.md", lambda fh: fh.write(table.encode()))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
