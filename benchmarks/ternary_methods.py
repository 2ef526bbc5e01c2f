"""Ternary weights by the other sources' methods (TWN, TTQ, ADMM ternary, MD-tanh, MD-softmax,
MD-tanh-s, MD-softmax-s; docs/baselines.md "Ternary methods") on Pendigits (writer-independent,
the UCI test writers) and MNIST [784,200,200,10], with the presets of ``admmnet.baseline_presets``.

Per dataset and seed one FP network is trained with the FP preset (saved under
``<out>/models/``, reused by a rerun) and every method starts from it (as ``admmnet train
--from`` does), ternary = the thesis's 1 bit. Writes

* ``<out>/runs.jsonl``   one record per run, appended per (dataset, seed) group (a rerun resumes),
* ``<out>/summary.json`` mean/std per cell, machine, command (``_runs.write_results``),
* ``<out>/table.md``     mean ± std test accuracy per dataset and method,

and prints the table. Usage::

    python benchmarks/ternary_methods.py                                  # pendigits x 3 seeds, mnist x 1
    python benchmarks/ternary_methods.py --datasets pendigits --seeds 1 --methods twn ttq
    python benchmarks/ternary_methods.py --report                         # table of the stored runs

``--validate GRID.json`` instead scores settings on validation rows of the training data
only (how the presets were chosen; nothing is written): Seeds: 20% of the training rows of
split s; Pendigits: the writer-dependent split (held-out digits of the training writers);
MNIST: the last 10000 training rows. GRID maps a method to a list of overrides of its preset,
e.g. ``{"twn": [{"twn_lr": 1e-3}, {"twn_lr": 3e-3}]}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet import baselines as B
from admmnet.baseline_presets import TERNARY_METHODS, augment_copies, baseline_params
from admmnet.datasets import load_dataset

from _runs import blas_threads, fit_finished, load_runs, run_groups, small_validation_rows, write_results

SEEDS = {"pendigits": 3, "mnist": 1, "seeds": 5}


def make_model(method: str, dataset: str, seed: int, **over):
    """The estimator of ``method`` with the preset of ``dataset`` (ternary, thesis 1 bit)."""
    kw = {**baseline_params(method, dataset, 1), **over, "seed": seed}
    if method.startswith("md-"):
        return B.MirrorDescent(variant=method[3:], bits=1, levels="thesis", **kw)
    return {"twn": B.TWN, "ttq": B.TTQ, "admm-ternary": B.ADMMTernary}[method](bits=1, levels="thesis", **kw)


def fp_model(out: Path, dataset: str, seed: int, X, y, tag: str = ""):
    """The FP network of ``dataset`` and ``seed`` (trained once, then loaded)."""
    path = out / "models" / f"fp_{dataset}{tag}_seed{seed}.npz"
    if path.exists():
        return admmnet.load(path), 0.0
    t0 = time.perf_counter()
    fp = B.FPMLP(seed=seed, **baseline_params("fp", dataset))
    fit_finished(fp, X, y)
    seconds = time.perf_counter() - t0
    fp.save(path)
    return fp, seconds


def run_seed(out: Path, dataset: str, seed: int, methods) -> list[dict]:
    augment = augment_copies("twn", dataset)
    ds = load_dataset(dataset, split_seed=seed if dataset == "seeds" else 0, augment=augment, augment_seed=seed)
    X_real, y_real = ds.original_train()
    fp, fp_seconds = fp_model(out, dataset, seed, ds.X_train, ds.y_train)
    runs = [dict(dataset=dataset, method="fp", seed=seed, test_accuracy=fp.score(ds.X_test, ds.y_test),
                 train_accuracy=fp.score(X_real, y_real), seconds=fp_seconds, model_bytes=int(fp.model_bytes))]
    for m in methods:
        model = make_model(m, dataset, seed)
        t0 = time.perf_counter()
        hist = fit_finished(model, ds.X_train, ds.y_train, fp_model=fp).history_
        seconds = time.perf_counter() - t0
        runs.append(dict(dataset=dataset, method=m, bits=1, levels="thesis", seed=seed,
                         test_accuracy=model.score(ds.X_test, ds.y_test),
                         train_accuracy=model.score(X_real, y_real), seconds=seconds,
                         model_bytes=int(model.model_bytes), storage_bits_per_weight=model.storage_bits_per_weight,
                         epochs=len(hist), stop=hist.stop, split=ds.split, augment=augment, threads=blas_threads(),
                         params=model.json_params(), admmnet=admmnet.__version__))
        print(f"  {dataset} seed {seed} {m}: {100 * runs[-1]['test_accuracy']:.2f}% ({seconds:.0f} s)",
              file=sys.stderr, flush=True)
    return runs


def table(runs: list[dict], datasets, methods) -> tuple[dict, str]:
    summary, lines = {}, ["Ternary (thesis 1 bit) test accuracy (%), mean ± std over seeds "
                          "(FP = the network every method starts from).", ""]
    cols = ["fp"] + list(methods)
    for d in datasets:
        rs = [r for r in runs if r["dataset"] == d]
        if not rs:
            continue
        lines += [f"### {d}", "", "| " + " | ".join(["method", "test accuracy", "seeds", "seconds", "model bytes"]) + " |",
                  "| --- | --- | --- | --- | --- |"]
        for m in cols:
            acc = [100 * r["test_accuracy"] for r in rs if r["method"] == m]
            if not acc:
                continue
            sec = [r["seconds"] for r in rs if r["method"] == m]
            nb = [r["model_bytes"] for r in rs if r["method"] == m][0]
            cell = dict(mean=float(np.mean(acc)), std=float(np.std(acc)), n=len(acc), accuracies=acc,
                        seconds_mean=float(np.mean(sec)), model_bytes=nb)
            summary[f"{d}/{m}"] = cell
            lines.append(f"| {m} | {cell['mean']:.2f} ± {cell['std']:.2f} | {len(acc)} | {cell['seconds_mean']:.1f} "
                         f"| {nb} |")
        lines.append("")
    return summary, "\n".join(lines)


def validate(grid: dict, datasets, seeds: int, out: Path) -> None:
    """Score preset overrides on validation rows of the training data (module docstring)."""
    for d in datasets:
        for s in range(seeds):
            if d in ("pendigits", "seeds"):
                Xt, yt, Xv, yv = small_validation_rows(d, s, "twn")
            else:
                ds = load_dataset(d)
                Xt, yt, Xv, yv = ds.X_train[:-10000], ds.y_train[:-10000], ds.X_train[-10000:], ds.y_train[-10000:]
            fp, _ = fp_model(out, d, s, Xt, yt, tag="-validation")
            print(f"{d} seed {s} fp {100 * fp.score(Xv, yv):.2f}", flush=True)
            for m, overrides in grid.items():
                for over in overrides:
                    model = make_model(m, d, s, **over)
                    t0 = time.perf_counter()
                    fit_finished(model, Xt, yt, fp_model=fp)
                    print(f"{d} seed {s} {m} {json.dumps(over)} validation {100 * model.score(Xv, yv):.2f} "
                          f"({time.perf_counter() - t0:.0f} s)", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["pendigits", "mnist"], choices=["seeds", "pendigits", "mnist"])
    p.add_argument("--methods", nargs="+", default=list(TERNARY_METHODS), choices=TERNARY_METHODS)
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds 0..N-1 per dataset (default: pendigits 3, mnist 1, seeds 5)")
    p.add_argument("--out", default="benchmarks/results/ternary_methods")
    p.add_argument("--report", action="store_true",
                   help="only summarise the stored runs (e.g. runs merged from several machines)")
    p.add_argument("--validate", metavar="GRID.json", default=None,
                   help="score preset overrides on validation rows of the training data instead")
    args = p.parse_args(argv)
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    if args.validate:
        validate(json.loads(Path(args.validate).read_text()), args.datasets, args.seeds or 1, out)
        return 0
    t_start = time.perf_counter()
    runs = [r for r in load_runs(out / "runs.jsonl") if r["dataset"] in args.datasets]
    for d in ([] if args.report else args.datasets):
        n = args.seeds or SEEDS[d]
        got = run_groups(out / "runs.jsonl", [d], n, "seed", lambda ds, s: run_seed(out, ds, s, args.methods),
                         lambda rs: ", ".join(f"{r['method']} {100 * r['test_accuracy']:.2f}" for r in rs))
        runs = [r for r in got if r["dataset"] in args.datasets]
    summary, text = table(runs, args.datasets, args.methods)
    write_results(out, {"cells": summary}, text, t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
