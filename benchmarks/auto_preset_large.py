r"""The automatic preset from 20,000 rows: how it was chosen, and what it scores.

Until 2026-12-03, ``auto_params`` switched at 20,000 samples to MNIST's preset (75 iterations at
fixed penalties, beta = gamma = 0.1, layer_scale 10), made for MNIST's [0, 1] pixels; on
standardised tabular data of that size it underfit by 10-25 points. This script holds the
measurement that replaced it (:data:`admmnet.presets.AUTO_LARGE_SAMPLES`).

Problems of 24,000-37,500 fitting rows that no preset was made on (no download):

* ``syn-40k-20f-5c``: ``make_classification``, 40,000 rows, 20 features (10 informative), 5 classes;
* ``syn-50k-50f-10c``: 50,000 rows, 50 features (25 informative), 10 classes, 2 clusters each;
* ``pendigits-30k`` (validation only): 80% of ``pendigits.tra`` with 4 distorted copies of each row
  (29,970 rows), scored on the other 20% and on distorted copies of them (as
  ``benchmarks/pendigits_validation.py``);
* ``mnist-24k`` (validation only): 24,000 MNIST training images, scored on 6,000 others.

Two modes:

* ``--grid JSON`` scores settings on **validation rows** (the synthetic sets: 75/25 split, then
  80/20 of the training part; nothing of their test part is read). A setting is a dict of
  estimator overrides plus ``"_rule": "before" | "auto"`` (the preset before 2026-12-03 or today's),
  ``"_width": f`` (the preset's width times f, at most 200) and ``"_bits": B``. Runs are appended
  to ``<out>/validation.jsonl`` (resumable) and tabulated.
* without ``--grid``, the **test** report: on the synthetic sets' 75/25 splits (split s: seed s),
  QNN-ADMM with today's automatic preset and with the rule before, at full precision, 2 and 1
  bits, beside the backprop FP baseline on the same network (``FPMLP`` with the FP-stage settings
  of the size class, :func:`auto_preset.backprop_settings`). Runs go to ``<out>/runs.jsonl``
  (resumable), the table to ``<out>/table.md`` and ``<out>/summary.json``.

    python benchmarks/auto_preset_large.py --grid '[{"_rule": "before"}, {}]'     # validation
    python benchmarks/auto_preset_large.py --splits 3                             # test report
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import admmnet
from admmnet.io import atomic_write
from admmnet.presets import QNN_ADMM, auto_base_width, auto_params

from _runs import append_run, fit_finished, load_runs, write_results
from auto_preset import backprop_settings

OUT = Path("benchmarks/results/auto_preset_large")
SYNTHETIC = {"syn-40k-20f-5c": dict(n_samples=40000, n_features=20, n_informative=10, n_classes=5, random_state=0),
             "syn-50k-50f-10c": dict(n_samples=50000, n_features=50, n_informative=25, n_classes=10,
                                     n_clusters_per_class=2, random_state=1)}
PROBLEMS = (*SYNTHETIC, "pendigits-30k", "mnist-24k")


def before_params(n: int, d: int, k: int, bits=None) -> dict:
    """The automatic preset before 2026-12-03 for ``n >= AUTO_LARGE_SAMPLES`` rows: the widths of
    the small-data rule and MNIST's preset (75 iterations, fixed penalties), one start."""
    p = auto_params(n, d, k, bits)
    width = auto_base_width(d, k)                             # the widths, not doubled
    p.update(QNN_ADMM["mnist"], penalty_growth=1.0, hidden_sizes=(width, width))
    if bits is not None:
        p.update(fp_iter=p["max_iter"], n_init=1)
    return p


def params(setting: dict, n: int, d: int, k: int) -> dict:
    """Estimator keyword arguments of a ``--grid`` setting on an ``n x d``, ``k``-class problem."""
    s = dict(setting)
    rule, factor, bits = s.pop("_rule", "auto"), s.pop("_width", 1), s.pop("_bits", None)
    p = before_params(n, d, k, bits) if rule == "before" else auto_params(n, d, k, bits)
    width = int(min(200, max(8, round(p["hidden_sizes"][0] * factor))))
    p.update(s, hidden_sizes=(width, width), bits=bits)
    return p


def synthetic(name: str, split: int, validation: bool):
    """``(fit rows, {score name: rows})`` of a synthetic problem, standardised with the fit rows."""
    X, y = make_classification(**SYNTHETIC[name])
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=split)
    if validation:              # 80/20 of the training part; its test part is never read
        Xtr, Xte, ytr, yte = train_test_split(Xtr, ytr, test_size=0.2, stratify=ytr, random_state=split)
    sc = StandardScaler().fit(Xtr)
    f32 = np.float32
    return (sc.transform(Xtr).astype(f32), ytr), {"val" if validation else "test": (sc.transform(Xte).astype(f32), yte)}


def validation_problem(name: str):
    if name in SYNTHETIC:
        return synthetic(name, 0, True)
    if name == "pendigits-30k":
        from pendigits_validation import _data
        d = _data(0, 4)
        return d["fit"], {"val": d["val"], "distorted": d["distorted"]}
    from admmnet.datasets import load_dataset
    ds = load_dataset("mnist")
    r = np.random.default_rng(0).permutation(ds.X_train.shape[0])
    return (ds.X_train[r[:24000]], ds.y_train[r[:24000]]), {"val": (ds.X_train[r[24000:30000]],
                                                                     ds.y_train[r[24000:30000]])}


def shape_of(rows) -> tuple[int, int, int]:
    X, y = rows
    return int(X.shape[0]), int(X.shape[1]), int(np.unique(y).size)


def validate(grid: list[dict], problems, out: Path) -> None:
    log = out / "validation.jsonl"
    done = {(r["problem"], json.dumps(r["setting"], sort_keys=True)) for r in load_runs(log)}
    for name in problems:
        todo = [s for s in grid if (name, json.dumps(s, sort_keys=True)) not in done]
        if not todo:
            continue
        fit_rows, evals = validation_problem(name)
        for s in todo:
            kw = params(s, *shape_of(fit_rows))
            t = time.perf_counter()
            m = fit_finished(admmnet.QNNADMM(**kw, seed=0, device="cpu"), *fit_rows)
            rec = dict(problem=name, setting=s, width=kw["hidden_sizes"][0], n_fit=shape_of(fit_rows)[0],
                       seconds=time.perf_counter() - t, **{k: 100 * m.score(*v) for k, v in evals.items()})
            append_run(log, rec)
            print(json.dumps(rec), file=sys.stderr, flush=True)
    runs = [r for r in load_runs(log) if r["problem"] in problems]
    keys = [json.dumps(s, sort_keys=True) for s in grid]
    lines = ["Validation accuracy (%) of each setting (seconds of the fit); `_rule` before = the automatic "
             "preset until 2026-12-03, auto = today's.", "",
             "| setting | " + " | ".join(problems) + " |", "| --- | " + " | ".join("---" for _ in problems) + " |"]
    for key in keys:
        cells = []
        for name in problems:
            r = next((r for r in runs
                      if r["problem"] == name and json.dumps(r["setting"], sort_keys=True) == key), None)
            cells.append("" if r is None else " / ".join(f"{r[k]:.2f}" for k in ("val", "distorted") if k in r)
                         + f" ({r['seconds']:.0f} s)")
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    atomic_write(out / "validation.md", lambda fh: fh.write(table.encode()))
    print(table)


METHODS = ("backprop-fp", "auto-fp", "auto-2", "auto-1", "before-fp", "before-2", "before-1")


def run_split(name: str, split: int) -> list[dict]:
    (X, y), evals = synthetic(name, split, False)
    Xte, yte = evals["test"]
    shape = shape_of((X, y))
    out = []
    for rule in ("auto", "before"):
        for bits in (None, 2, 1):
            kw = params({"_rule": rule, "_bits": bits}, *shape)
            t = time.perf_counter()
            m = fit_finished(admmnet.QNNADMM(**kw, seed=split, device="cpu"), X, y)
            out.append(dict(method=f"{rule}-{'fp' if bits is None else bits}", test_accuracy=100 * m.score(Xte, yte),
                            train_accuracy=100 * m.score(X, y), seconds=time.perf_counter() - t,
                            hidden_sizes=list(kw["hidden_sizes"])))
    hidden = out[0]["hidden_sizes"]
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bp = fit_finished(admmnet.FPMLP(hidden_sizes=tuple(hidden), **backprop_settings(shape[0]), seed=split), X, y)
    out.append(dict(method="backprop-fp", test_accuracy=100 * bp.score(Xte, yte), train_accuracy=100 * bp.score(X, y),
                    seconds=time.perf_counter() - t, hidden_sizes=hidden))
    for r in out:
        r.update(problem=name, split=split, n_train=shape[0], n_features=shape[1], n_classes=shape[2])
    return out


def score_test_rows(splits: int, out: Path, t0: float) -> None:
    log = out / "runs.jsonl"
    done = {(r["problem"], r["split"]) for r in load_runs(log)}
    for name in SYNTHETIC:
        for split in range(splits):
            if (name, split) in done:
                continue
            for r in run_split(name, split):
                append_run(log, r)
            print(f"{name} split {split} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    runs = [r for r in load_runs(log) if r["split"] < splits]
    lines = [f"Test accuracy (%), mean ± std over {splits} stratified 75/25 splits; `auto`: today's automatic "
             "preset, `before`: the rule until 2026-12-03 (MNIST's preset from 20,000 rows); backprop FP on "
             "`auto`'s network. Seconds per fit in brackets.", "",
             "| problem | " + " | ".join(METHODS) + " |", "| --- | " + " | ".join("---" for _ in METHODS) + " |"]
    cells = {}
    for name in SYNTHETIC:
        row = []
        for m in METHODS:
            rs = [r for r in runs if r["problem"] == name and r["method"] == m]
            acc = [r["test_accuracy"] for r in rs]
            cells[f"{name}/{m}"] = dict(mean=float(np.mean(acc)), std=float(np.std(acc)), n=len(acc),
                                        seconds=float(np.mean([r["seconds"] for r in rs])))
            row.append(f"{np.mean(acc):.2f} ± {np.std(acc):.2f} ({cells[f'{name}/{m}']['seconds']:.0f} s)")
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    write_results(out, {"splits": splits, "cells": cells, "runs": runs}, "\n".join(lines) + "\n", t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", type=json.loads, default=None, help="validation mode: a JSON list of settings")
    ap.add_argument("--problems", nargs="+", choices=PROBLEMS, default=list(PROBLEMS))
    ap.add_argument("--splits", type=int, default=3, help="test mode: splits of each synthetic problem")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    for s in args.grid or []:
        if not isinstance(s, dict) or s.get("_rule", "auto") not in ("auto", "before"):
            ap.error(f"--grid: each setting is a dict whose '_rule' is 'auto' or 'before', got {s!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.grid is not None:
        validate(args.grid, args.problems, args.out)
    else:
        score_test_rows(args.splits, args.out, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
