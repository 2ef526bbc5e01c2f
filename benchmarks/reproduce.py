"""Reproduce the thesis's study (Tables 6.3-6.5, Figures 6.1-6.12) with one command.

Runs every method (FP, PTQ, QNN-STE, QNN-ADMM, LQ, DQ, QAT, and the other sources' TWN, TTQ,
ADMM-ternary, MD-tanh-s and MD-softmax-s) at every bit width it supports (thesis levels 8, 4,
2, 1 and full precision; DQ and QAT int8; the other sources' methods ternary = the thesis's 1
bit, the mirror-descent ones also binary, a "binary" row of the tables) on Seeds, Pendigits (both of
its test protocols) and MNIST for seeds 0..N-1, with the presets of ``admmnet.presets``
(QNN-ADMM) and ``admmnet.baseline_presets`` (the others). Per dataset and seed one FP network
is trained first (kept under ``<out>/models/``); every other backprop method starts from it, as
``admmnet train --from`` does. Seeds has no official split: run s uses the stratified 80/20
split of seed s. MNIST and ``pendigits`` keep their standard splits (Pendigits' test digits
come from 14 writers outside the training set); ``pendigits-wd`` is the writer-dependent
protocol the thesis's dataset section describes: run s splits the training writers' digits
(``pendigits.tra``) 80/20 with seed s (``load_dataset("pendigits", split="writer-dependent")``).
Both Pendigits tables are compared with the thesis's Pendigits table. On Pendigits the backprop
methods train on the real rows plus the preset's distorted copies of them
(``admmnet.baseline_presets.AUGMENT``, seeded by the run's seed), QNN-ADMM on the real rows
plus its own preset's copies (``admmnet.presets.AUGMENT``); train accuracy is always measured
on the real rows.

Each finished run is appended to ``<out>/runs.jsonl`` at once (atomically), so an interrupted
study resumes where it stopped and loses nothing. Then it writes

* ``<csv>`` (default ``benchmarks/results/runs.csv``): one row per run, columns
  ``dataset,method,bits,levels,seed,test_accuracy,train_accuracy,seconds,model_bytes`` and more
  (accuracies as fractions; ``model_bytes``: the model's arrays as stored in its file -
  packed codes, scales, biases or float weights; ``file_bytes``: the whole ``.npz`` file of
  ``model.save(path, history=False)``, i.e. with its metadata but without the training history),
* ``<out>/tables.md``: per dataset the thesis layout (rows bits, columns methods), each cell
  "ours mean ± std (thesis mean)", the best of each row in bold, then the storage table
  (levels, bits per weight, bytes, compression vs float32) and the cell-by-cell verdict,
* ``<out>/study.json``: every cell, the verdicts, the hyper-parameters of every method,
  machine, versions, commands and the time the study took,
* ``<out>/figures/<dataset>_<bits>bit.png``: box plots of test accuracy per method (thesis
  means as red marks), like the thesis's Figures 6.1-6.12 (needs matplotlib, the ``plots``
  extra; without it the figures are skipped with a note).

Usage::

    python benchmarks/reproduce.py --jobs 2                 # the whole study, 10 seeds
    python benchmarks/reproduce.py --seeds 5 --jobs 2       # 5 seeds (the committed results)
    python benchmarks/reproduce.py --quick                  # Seeds only, 2 seeds, ~1 minute
    python benchmarks/reproduce.py --dataset pendigits --methods ptq lq --bits 8 4
    python benchmarks/reproduce.py --tables-only            # tables and figures of the stored runs

``--jobs J`` runs J worker processes with ``cpus // J`` BLAS threads each (the FP networks
first, since the other methods load them). Ctrl-C stops; the next call resumes.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

from admmnet.baseline_presets import augmentation
from admmnet.cli import environment
from admmnet.io import atomic_write, write_json
from _runs import (FROM_FP, METHODS, STUDY_DATASETS, TERNARY_STUDY, accuracy_stats, base_dataset, append_run, bits_order,
                   cell_text, group_cells, is_stale, is_wanted, load_runs, method_bits, model_kwargs, plan, progress_printer,
                   run_all, run_task)
from _thesis import TABLE_BITS, TABLE_METHODS, THESIS, thesis_mean

DATASETS = tuple(STUDY_DATASETS)
NAMES = {"seeds": "Seeds", "pendigits": "Pendigits, writer-independent test",
         "pendigits-wd": "Pendigits, writer-dependent test", "mnist": "MNIST"}
LABELS = {"fp": "FP", "ptq": "PTQ", "ste": "QNN-STE", "qnn-admm": "QNN-ADMM", "lq": "LQ", "dq": "DQ",
          "qat": "QAT", "twn": "TWN", "ttq": "TTQ", "admm-ternary": "ADMM-ternary", "md-tanh-s": "MD-tanh-s",
          "md-softmax-s": "MD-softmax-s"}
#: The tables' columns (the thesis's, then the other sources' methods) and rows (bit widths).
COLUMNS = TABLE_METHODS + TERNARY_STUDY
ROWS = TABLE_BITS + ("binary",)
CSV_COLUMNS = ("dataset", "method", "bits", "levels", "seed", "test_accuracy", "train_accuracy", "seconds",
               "model_bytes", "file_bytes", "n_levels", "storage_bits_per_weight", "n_weights", "iterations",
               "threads")


# -- summaries -------------------------------------------------------------------------
def columns(summary: dict, dataset: str) -> list[str]:
    """The methods with at least one cell of ``dataset`` in ``summary``, in table order."""
    return [m for m in COLUMNS if any(f"{dataset}/{m}/{b}" in summary for b in ROWS)]


def rows(summary: dict, dataset: str) -> list:
    """The quantized bit widths with at least one cell of ``dataset``, in table order."""
    return [b for b in ROWS if any(f"{dataset}/{m}/{b}" in summary for m in COLUMNS)]


def summarise(runs: list[dict]) -> dict:
    """Per (dataset, method, bits): mean/std of test accuracy (percent), storage, thesis figures."""
    out = {}
    for (d, m, b), rs in group_cells(runs):
        bits = b if b in ("fp", "binary") else int(b)
        thesis = THESIS.get(d, {}).get(m, {}).get(bits)
        cell = {"dataset": d, "method": m, "bits": bits, **accuracy_stats(rs),
                "test_accuracy_runs": [r["test_accuracy"] * 100 for r in rs],
                "seconds_mean": float(np.mean([r["seconds"] for r in rs])),
                "seconds_total": float(np.sum([r["seconds"] for r in rs])),
                "levels": rs[0]["levels"], "n_levels": rs[0]["n_levels"], "n_weights": rs[0]["n_weights"],
                "file_bytes_mean": float(np.mean([r["file_bytes"] for r in rs])),
                "thesis_mean": None if thesis is None else thesis[0],
                "thesis_std": None if thesis is None else thesis[1]}
        if thesis is not None:
            margin = cell["test_accuracy_mean"] - thesis[0]
            cell.update(margin=margin, meets_thesis=bool(margin >= 0),
                        beats_by_more_than_one_std=bool(margin > max(cell["test_accuracy_std"], thesis[1])))
        out[f"{d}/{m}/{b}"] = cell
    return out


def accuracy_table(summary: dict, dataset: str) -> list[str]:
    fp, qfp = summary.get(f"{dataset}/fp/fp"), summary.get(f"{dataset}/qnn-admm/fp")
    head = [f"full precision, thesis {THESIS[dataset]['fp']['fp'][0]:.2f} ± {THESIS[dataset]['fp']['fp'][1]:.2f}"]
    if fp:
        head.append(f"ours (backprop) {fp['test_accuracy_mean']:.2f} ± {fp['test_accuracy_std']:.2f}")
    if qfp:
        head.append(f"QNN-ADMM {qfp['test_accuracy_mean']:.2f} ± {qfp['test_accuracy_std']:.2f}")
    cols = columns(summary, dataset)
    lines = [f"### {NAMES[dataset]} ({'; '.join(head)})", "",
             "| bits | " + " | ".join(LABELS[m] for m in cols) + " |",
             "| --- |" + " --- |" * len(cols)]
    for b in rows(summary, dataset):
        row = {m: summary.get(f"{dataset}/{m}/{b}") for m in cols}
        means = [c["test_accuracy_mean"] for c in row.values() if c]
        best = max(means) if means else None
        cells = ["–" if c is None else
                 cell_text(c, bold=c["test_accuracy_mean"] == best,
                           mark=" ↓" if c.get("meets_thesis") is False else "")
                 for c in row.values()]
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    return lines + [""]


def storage_table(summary: dict, dataset: str) -> list[str]:
    fp = summary.get(f"{dataset}/fp/fp")
    ref = None if fp is None else fp["model_bytes"]
    lines = [f"Storage, {NAMES[dataset]}: levels per weight, bits per weight actually needed "
             "(ceil log2 levels), model bytes as stored (packed codes + scales + float biases), "
             "the whole .npz file (`save(path, history=False)`: arrays, parameters and zip headers), "
             "compression of the "
             "stored model vs the float32 network.", "",
             "| method | bits | levels | bits/weight | model bytes | .npz bytes | vs float32 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    cells = [("fp", "fp")] + [(m, b) for b in rows(summary, dataset) for m in columns(summary, dataset)]
    for m, b in cells:
        c = summary.get(f"{dataset}/{m}/{b}")
        if c is None:
            continue
        ratio = "–" if ref is None else f"{ref / c['model_bytes']:.1f}×"
        lines.append(f"| {LABELS[m]} | {b} | {c['n_levels'] or 'float'} | {c['storage_bits_per_weight']} | "
                     f"{c['model_bytes']:,} | {c['file_bytes_mean']:,.0f} | {ratio} |")
    return lines + [""]


def verdicts(summary: dict, datasets) -> dict:
    """The thesis-table cells (Tables 6.3-6.5) split into beaten by more than one std,
    beaten by less, and not beaten; plus the ones the study did not run."""
    out = {"beats_by_more_than_one_std": [], "beats_within_one_std": [], "below_thesis": [], "missing": []}
    for d in datasets:
        for m in TABLE_METHODS:
            for b in TABLE_BITS:
                if thesis_mean(d, m, b) is None:
                    continue
                key = f"{d}/{m}/{b}"
                c = summary.get(key)
                if c is None:
                    out["missing"].append(key)
                elif not c["meets_thesis"]:
                    out["below_thesis"].append(key)
                elif c["beats_by_more_than_one_std"]:
                    out["beats_by_more_than_one_std"].append(key)
                else:
                    out["beats_within_one_std"].append(key)
    return out


def markdown(summary: dict, datasets, verdict: dict, seconds: dict) -> str:
    lines = ["Test accuracy (%), mean ± std over seeds, thesis mean in parentheses (thesis, "
             "Tables 6.3-6.5); bold: the best of the row; ↓: below the thesis mean. "
             "\"N bits\" is the thesis level set {-(2^N-1)..2^N-1}·α (1 bit = ternary); DQ and QAT are int8.",
             ""]
    for d in datasets:
        lines += accuracy_table(summary, d)
    for d in datasets:
        lines += storage_table(summary, d)
    n_runs = sorted({c["n_runs"] for c in summary.values()})
    per_table = []
    for d in datasets:
        cells = [k for ks in verdict.values() for k in ks if k.split("/")[0] == d]
        met = [k for k in cells if k not in verdict["below_thesis"] and k not in verdict["missing"]]
        per_table.append(f"{NAMES[d]} {len(met)} of {len(cells)}")
    lines += ["Verdict (\"more than one std\": the margin over the thesis mean exceeds the larger of the two "
              "standard deviations):", "",
              f"* runs per cell: {', '.join(map(str, n_runs))}",
              "* cells at or above the thesis mean, per table: " + "; ".join(per_table),
              f"* cells beaten by more than one std ({len(verdict['beats_by_more_than_one_std'])}): "
              + (", ".join(verdict["beats_by_more_than_one_std"]) or "none"),
              f"* cells beaten by less ({len(verdict['beats_within_one_std'])}): "
              + (", ".join(verdict["beats_within_one_std"]) or "none"),
              f"* cells below the thesis mean ({len(verdict['below_thesis'])}): "
              + (", ".join(verdict["below_thesis"]) or "none")]
    if verdict["missing"]:
        lines.append(f"* cells not run ({len(verdict['missing'])}): " + ", ".join(verdict["missing"]))
    lines += [f"* compute: {seconds['runs'] / 3600:.2f} h of run time in all; "
              f"wall-clock of the invocations that made these runs: {seconds['wall'] / 3600:.2f} h", ""]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, runs: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    order = {m: i for i, m in enumerate(METHODS)}
    for r in sorted(runs, key=lambda r: (DATASETS.index(r["dataset"]), order[r["method"]],
                                         bits_order(r["bits"]), r["seed"])):
        w.writerow({**r, "n_levels": "" if r["n_levels"] is None else r["n_levels"]})
    atomic_write(path, lambda fh: fh.write(buf.getvalue().encode()))


def box_plots(summary: dict, datasets, folder: Path) -> list[str]:
    """One PNG per dataset and bit width: test accuracy of every method over the seeds (box),
    thesis mean (red mark); the FP reference as a dashed line. Needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[plots]'): no box plots", file=sys.stderr)
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for d in datasets:
        fp = summary.get(f"{d}/fp/fp")
        for b in rows(summary, d):
            cells = [(m, summary.get(f"{d}/{m}/{b}")) for m in columns(summary, d)]
            cells = [(m, c) for m, c in cells if c is not None]
            if not cells:
                continue
            fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
            ax.boxplot([c["test_accuracy_runs"] for _, c in cells], showmeans=False)
            ax.set_xticks(range(1, len(cells) + 1), [LABELS[m] for m, _ in cells])
            th = [(i + 1, c["thesis_mean"]) for i, (_, c) in enumerate(cells) if c["thesis_mean"] is not None]
            if th:
                ax.scatter(*zip(*th), marker="_", s=400, color="tab:red", label="thesis mean", zorder=3)
            if fp is not None:
                ax.axhline(fp["test_accuracy_mean"], ls="--", lw=0.8, color="0.4", label="FP (ours)")
            ax.set_ylabel("test accuracy (%)")
            n = max(c["n_runs"] for _, c in cells)
            width = "binary" if b == "binary" else f"{b} bit{'s' if b > 1 else ''}"
            ax.set_title(f"{NAMES[d]}, {width} ({n} seeds)")
            ax.legend(loc="lower left", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            path = folder / (f"{d}_binary.png" if b == "binary" else f"{d}_{b}bit.png")
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            plt.close(fig)
            atomic_write(path, lambda fh, data=buf.getvalue(): fh.write(data))
            written.append(str(path))
    return written


def hyper_parameters(datasets, methods) -> dict:
    """The keyword arguments every (dataset, method, bits) runs with, and its training data's
    augmentation (``augmentation``: copies and distortion, or None)."""
    return {d: {m: {str(b): {**model_kwargs(d, m, b), "augmentation": augmentation(m, base_dataset(d))} for b in method_bits(m)}
                for m in methods} for d in datasets}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", "--datasets", dest="datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--bits", nargs="+", default=["fp", "8", "4", "2", "1", "binary"],
                   help="bit widths (each method runs those it supports); default all")
    p.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--out", default="benchmarks/results/study", help="run store, tables, JSON, figures")
    p.add_argument("--csv", default="benchmarks/results/runs.csv", help="one row per run")
    p.add_argument("--quick", action="store_true", help="Seeds only, 2 seeds (about a minute)")
    p.add_argument("--tables-only", action="store_true",
                   help="write the tables, CSV, JSON and figures from the stored runs; run nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds = ["seeds"], 2
    if args.seeds < 1 or args.jobs < 1:
        p.error("--seeds and --jobs must be positive")
    try:
        wanted = {b if b in ("fp", "binary") else int(b) for b in args.bits}
    except ValueError:
        p.error(f"--bits takes fp, 8, 4, 2, 1 or binary, got {args.bits}")
    if not wanted <= {"fp", 8, 4, 2, 1, "binary"}:
        p.error(f"--bits takes fp, 8, 4, 2, 1 or binary, got {args.bits}")
    methods = list(args.methods)
    if any(m in FROM_FP for m in methods) and "fp" not in methods:
        methods.insert(0, "fp")  # the others start from the FP network
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    if args.tables_only:    # the stored runs as they are (plan() would redo stale or model-less ones)
        runs, phases = [r for r in load_runs(out / "runs.jsonl") if not is_stale(r)], []
    else:
        runs, phases = plan(out, args.datasets, methods, wanted, args.seeds)
    n_todo = sum(map(len, phases))
    print(f"{len(runs)} runs stored in {out / 'runs.jsonl'}; {n_todo} to do with {args.jobs} job(s)",
          file=sys.stderr)
    t_start = time.perf_counter()
    store = progress_printer(out / "runs.jsonl", runs, n_todo)

    interrupted = False
    try:
        for todo in phases:
            run_all(run_task, todo, args.jobs, store)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted: {store.count[0]} run(s) of {n_todo} stored; run the same command to resume",
              file=sys.stderr)
    finally:  # the wall-clock of every invocation that stored runs, even one that failed
        log_path = out / "invocations.jsonl"
        if store.count[0]:
            append_run(log_path, {"command": " ".join(["python"] + sys.argv), "runs": store.count[0],
                                  "wall_seconds": time.perf_counter() - t_start, "jobs": args.jobs,
                                  "interrupted": interrupted, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    keep = [r for r in runs if is_wanted(r, args.datasets, methods, wanted, args.seeds)]
    summary = summarise(keep)
    verdict = verdicts(summary, args.datasets)
    seconds = {"runs": float(sum(r["seconds"] for r in keep)),
               "wall": float(sum(rec["wall_seconds"] for rec in load_runs(log_path)))}
    table = markdown(summary, args.datasets, verdict, seconds)
    write_csv(Path(args.csv), keep)
    figures = box_plots(summary, args.datasets, out / "figures")
    write_json(out / "study.json", {
        "command": " ".join(["python"] + sys.argv), "environment": environment(),
        "seeds": args.seeds, "datasets": args.datasets, "methods": methods, "bits": sorted(map(str, wanted)),
        "seconds": seconds, "invocations": load_runs(log_path), "verdict": verdict, "cells": summary,
        "hyper_parameters": hyper_parameters(args.datasets, methods), "figures": figures,
        "csv": args.csv})
    atomic_write(out / "tables.md", lambda fh: fh.write(table.encode()))
    print(table)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
