"""How the automatic preset's settings are chosen: validation rows of a pool of small datasets.

``QNNADMM()`` takes its settings from :func:`admmnet.presets.auto_params` of the data's shape.
A change to those rules is scored here, on validation rows (never test rows) of a pool of
datasets that ``benchmarks/auto_preset.py`` (scikit-learn's digits, wine and breast cancer, the
report of how the preset carries to data it was not tuned on) does not use:

* ``iris`` (scikit-learn, 150 rows), ``seeds`` (the training rows of Seeds' split 0, 168 rows),
  ``blobs`` (``make_classification``: 400 rows, 20 features, 4 informative, 3 classes);
* ``pendigits-300`` / ``pendigits-800`` / ``pendigits-3000``: random samples of
  ``pendigits.tra``; ``mnist-500`` / ``mnist-2000``: random samples of MNIST's training
  images (pixels / 255).

Each dataset is split 80/20 (stratified, seed r for repetition r in ``--reps``), the features
standardised with the training part (MNIST: as they are), and every setting of ``--grid`` (a
JSON list of keyword arguments over the automatic preset of the training part's shape; the
first is the reference, ``{}`` = the preset; ``"_width": f`` multiplies the preset's hidden
widths by f, at most 200) is fitted on the training part and scored on the validation part. The
table gives each dataset's mean validation accuracy per setting, the pool's mean, and the paired
difference from the first setting over all (dataset, repetition) problems
(mean ± standard error, how many moved up and down). ``--bits`` scores quantized settings
(thesis levels) instead of full precision. Writes ``<out>/<bits>.json`` (every score, machine,
versions, command) and prints the table. Each fit is appended to ``<out>/<bits>.runs.jsonl`` as
it finishes, with the setting and the automatic preset it ran over: a stopped run resumes where
it stopped, and a later grid reuses the scores of the settings it shares while the preset is
unchanged.

    python benchmarks/auto_preset_validation.py --grid '[{}, {"penalty_growth": 1.02}]'
    python benchmarks/auto_preset_validation.py --bits 2 --reps 0 1 --grid '[{}, {"ridge": 0.1}]'
    python benchmarks/auto_preset_validation.py --datasets pendigits-3000 --grid '[{}, {"_width": 2}]'
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet.cli import environment
from admmnet.datasets import load_dataset
from admmnet.datasets._preprocess import standardize, stratified_split
from admmnet.io import write_json
from admmnet.presets import auto_params

from _runs import append_run, fit_finished, load_runs, paired_difference

POOL = ("iris", "seeds", "blobs", "pendigits-300", "pendigits-800", "pendigits-3000", "mnist-500", "mnist-2000")


@functools.cache
def pool_dataset(name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(X, y, standardise)`` of a pool dataset (module docstring); samples drawn with seed 0.
    Loaded once per dataset (every repetition splits the same arrays; none is written to)."""
    from sklearn.datasets import load_iris, make_classification

    rng = np.random.default_rng(0)
    if name == "iris":
        X, y = load_iris(return_X_y=True)
        return X, y, True
    if name == "seeds":
        ds = load_dataset("seeds", split_seed=0, standardize=False, dtype="float64")
        return ds.X_train, ds.y_train, True
    if name == "blobs":
        X, y = make_classification(400, n_features=20, n_informative=4, n_redundant=2, n_classes=3,
                                   random_state=0)
        return X, y, True
    base, n = name.rsplit("-", 1)
    ds = load_dataset(base, standardize=False, dtype="float64")
    idx = np.sort(rng.choice(ds.X_train.shape[0], int(n), replace=False))
    X = ds.X_train[idx]
    return (X / 255.0 if base == "mnist" else X), ds.y_train[idx], base != "mnist"


def problem(name: str, rep: int, bits) -> tuple:
    """``(Xtr, ytr, Xva, yva, preset, level)`` of one (dataset, repetition): the split, its
    features, the automatic preset of the training part's shape and the level-set keywords."""
    X, y, scale = pool_dataset(name)
    tr, va = stratified_split(y, 0.2, rep)
    Xtr, Xva = X[tr], X[va]
    if scale:
        Xtr, Xva, _, _ = standardize(Xtr, Xva)
    Xtr, Xva = np.asarray(Xtr, np.float32), np.asarray(Xva, np.float32)
    _, yt = np.unique(y, return_inverse=True)
    ytr, yva = yt[tr], yt[va]
    n_classes = int(yt.max()) + 1
    preset = auto_params(int(Xtr.shape[0]), int(Xtr.shape[1]), n_classes, None if bits == "fp" else "q",
                         qmax=None if bits == "fp" else 2 ** int(bits) - 1)
    level = {} if bits == "fp" else {"bits": int(bits), "levels": "thesis"}
    return Xtr, ytr, Xva, yva, preset, level


def score_setting(prob: tuple, cfg: dict, rep: int) -> float:
    """Validation accuracy (%) of setting ``cfg`` (over the automatic preset) on ``prob``."""
    Xtr, ytr, Xva, yva, preset, level = prob
    cfg = dict(cfg)
    factor = cfg.pop("_width", 1)
    kw = {**preset, **cfg}
    if factor != 1:
        kw["hidden_sizes"] = tuple(int(min(200, max(1, round(h * factor)))) for h in preset["hidden_sizes"])
    if "max_iter" in cfg and "fp_iter" in preset and "fp_iter" not in cfg:
        kw["fp_iter"] = cfg["max_iter"]          # the whole run is the FP phase, as in the preset
    m = fit_finished(admmnet.QNNADMM(**kw, **level, preset=None, seed=rep), Xtr, ytr)
    return 100 * m.score(Xva, yva)


def _preset_key(preset: dict) -> str:
    return json.dumps(preset, sort_keys=True, default=list)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", choices=POOL, default=list(POOL))
    p.add_argument("--reps", nargs="+", type=int, default=[0, 1, 2], help="split seeds")
    p.add_argument("--bits", default="fp", help="'fp' or a thesis bit width")
    p.add_argument("--grid", type=json.loads, default=[{}], help="JSON list of settings (the first is the reference)")
    p.add_argument("--out", default="benchmarks/results/auto_preset_validation")
    args = p.parse_args(argv)
    if args.bits != "fp" and not args.bits.isdigit():
        p.error(f"--bits must be 'fp' or a bit width, got {args.bits!r}")
    if not (isinstance(args.grid, list) and args.grid and all(isinstance(g, dict) for g in args.grid)):
        p.error("--grid must be a non-empty JSON list of objects")
    for g in args.grid:
        f = g.get("_width", 1)
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not f > 0:
            p.error(f"--grid: _width must be a positive number, got {f!r}")
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # every fit is stored as it finishes: a stopped run resumes, and a later grid reuses the
    # settings it shares with an earlier one, while the automatic preset is still the same
    log = out / f"{args.bits}.runs.jsonl"
    stored = {(r["dataset"], r["rep"], r["config"], r["preset"]): r["accuracy"] for r in load_runs(log)}
    runs = []
    for name in args.datasets:
        for rep in args.reps:
            t, reused = time.perf_counter(), 0
            prob = problem(name, rep, args.bits)
            for k, cfg in enumerate(args.grid):
                key = (name, rep, json.dumps(cfg, sort_keys=True), _preset_key(prob[4]))
                if key in stored:
                    reused += 1
                else:
                    stored[key] = score_setting(prob, cfg, rep)
                    append_run(log, dict(zip(("dataset", "rep", "config", "preset"), key), accuracy=stored[key]))
                runs.append({"dataset": name, "rep": rep, "setting": k, "accuracy": stored[key]})
            print(f"{name} rep {rep}: done ({time.perf_counter() - t:.0f} s"
                  + (f"; {reused} of {len(args.grid)} settings stored before)" if reused else ")"), flush=True)
    names = list(args.datasets)
    lines = ["| setting | " + " | ".join(names) + " | pool mean | paired difference from the first |",
             "| --- | " + "--- | " * len(names) + "--- | --- |"]
    table = {}
    base = {(r["dataset"], r["rep"]): r["accuracy"] for r in runs if r["setting"] == 0}
    for k, cfg in enumerate(args.grid):
        per = {n: float(np.mean([r["accuracy"] for r in runs if r["dataset"] == n and r["setting"] == k]))
               for n in names}
        diff, text = paired_difference([r["accuracy"] - base[(r["dataset"], r["rep"])]
                                        for r in runs if r["setting"] == k])
        pool = float(np.mean(list(per.values())))
        table[json.dumps(cfg, sort_keys=True)] = {"per_dataset": per, "pool_mean": pool, **diff}
        lines.append(f"| `{json.dumps(cfg, sort_keys=True)}` | " + " | ".join(f"{per[n]:.2f}" for n in names)
                     + f" | {pool:.2f} | {text} |")
    md = "\n".join(lines) + "\n"
    write_json(out / f"{args.bits}.json", {"command": " ".join(["python"] + sys.argv), "environment": environment(),
                                           "grid": args.grid, "reps": args.reps, "table": table, "runs": runs,
                                           "markdown": md, "seconds": time.perf_counter() - t0})
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
