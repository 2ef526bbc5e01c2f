"""The automatic preset on data no preset has seen: scikit-learn's bundled datasets.

For each of ``load_digits``, ``load_wine`` and ``load_breast_cancer`` (shipped inside
scikit-learn, no download) and each of 10 stratified 80/20 splits (split s: seed s),
features standardised with the training rows' statistics, this trains

* QNN-ADMM with ``preset="auto"`` (:func:`admmnet.presets.auto_params`: nothing was
  tuned on these datasets) at full precision, 2 bits and 1 bit (thesis levels). The
  quantized runs take their FP phases (``auto_params(..., fp_phase=True)``, the FP run itself
  for restart 0, each other restart trained once per split) through ``fit(...,
  fp_model=...)``: the same result as a full quantized fit, tested in ``tests/test_layerwise.py``;
* the backprop FP baseline (:class:`admmnet.baselines.FPMLP`) on the same network, with
  the FP-stage settings of the dataset preset of the same size class (the rule the
  automatic preset uses: under 1,000 rows Seeds', under 20,000 Pendigits', else
  MNIST's; :data:`admmnet.baseline_presets.FP_STAGE`),

and reports test accuracy, mean ± std over the splits, against the issue's floors:
QNN-ADMM fp >= backprop fp - 1.0 and 2 bits >= backprop fp - 2.5 (points). Each run is
appended to ``<out>/runs.jsonl`` as it finishes (an interrupted benchmark resumes; a split
made with another automatic preset than today's is redone);
``<out>/summary.json`` holds the table, the floors, machine, versions and command.

    python benchmarks/auto_preset.py                 # 3 datasets x 10 splits
    python benchmarks/auto_preset.py --datasets wine --splits 3
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet.baseline_presets import FP_STAGE
from admmnet.baselines import FPMLP
from admmnet.datasets._preprocess import standardize, stratified_split
from admmnet.presets import auto_params

from _runs import drop_runs, fit_finished, load_runs, phases_after, run_groups, write_results

DATASETS = ("digits", "wine", "breast_cancer")
METHODS = ("backprop-fp", "qnn-admm-fp", "qnn-admm-2", "qnn-admm-1")
FLOORS = {"qnn-admm-fp": 1.0, "qnn-admm-2": 2.5}     # points below backprop fp allowed


def load(name: str, split: int):
    from sklearn import datasets as skd

    X, y = getattr(skd, f"load_{name}")(return_X_y=True)
    tr, te = stratified_split(y, 0.2, split)
    X_tr, X_te, _, _ = standardize(X[tr], X[te])       # the training part's statistics
    return X_tr, y[tr], X_te, y[te]


def backprop_settings(n_samples: int) -> dict:
    """The FP-stage settings of the dataset preset of ``n_samples``' size class."""
    size_class = "seeds" if n_samples < 1000 else ("pendigits" if n_samples < 20000 else "mnist")
    return dict(FP_STAGE[size_class])


def preset_used(n_samples: int, n_features: int, n_classes: int, bits=None) -> dict:
    """The automatic preset of a run's shape and bit width, as stored with its record (JSON form)."""
    return json.loads(json.dumps(auto_params(n_samples, n_features, n_classes, bits)))


def drop_stale(log: Path) -> None:
    """Remove from ``log`` every split whose QNN-ADMM runs were made with another automatic
    preset than today's (each run is checked against the preset of its own bit width; a record
    without one predates the check: stale too), so it is redone."""
    runs = load_runs(log)
    shapes = {(r["dataset"], r["split"]): (r["n_train"], r["n_features"], r["n_classes"]) for r in runs
              if r["method"] == "qnn-admm-fp"}
    bits = {"qnn-admm-fp": None, "qnn-admm-2": 2, "qnn-admm-1": 1}
    stale = {(r["dataset"], r["split"]) for r in runs if r["method"] in bits
             and ((r["dataset"], r["split"]) not in shapes
                  or r.get("params") != preset_used(*shapes[(r["dataset"], r["split"])], bits[r["method"]]))}
    drop_runs(log, lambda r: (r["dataset"], r["split"]) in stale, "of splits made with another automatic preset")


def run_split(name: str, split: int) -> list[dict]:
    Xtr, ytr, Xte, yte = load(name, split)
    shape = (Xtr.shape[0], Xtr.shape[1], int(np.unique(ytr).size))       # what the automatic preset reads
    out = []
    fp = admmnet.QNNADMM(preset="auto", seed=split, device="cpu")
    t = time.perf_counter()
    fit_finished(fp, Xtr, ytr)
    t_fp = time.perf_counter() - t
    hidden = fp.params_["hidden_sizes"]
    out.append(dict(method="qnn-admm-fp", test_accuracy=fp.score(Xte, yte), seconds=t_fp,
                    params=preset_used(*shape)))
    # the FP phase of each restart (n_init), shared by the bit widths
    phases = phases_after(fp, t_fp, auto_params(*shape), auto_params(*shape, fp_phase=True), split, Xtr, ytr,
                          device="cpu")
    for bits in (2, 1):
        q = admmnet.QNNADMM(preset="auto", bits=bits, seed=split, device="cpu")
        n_init = int(q.resolved_params(*shape)["n_init"])
        fps, t_fps = phases.first(n_init)
        t = time.perf_counter()
        fit_finished(q, Xtr, ytr, fp_model=fps)
        out.append(dict(method=f"qnn-admm-{bits}", test_accuracy=q.score(Xte, yte),
                        seconds=t_fps + time.perf_counter() - t, n_init=n_init,
                        best_init=getattr(q, "best_init_", None),
                        params=preset_used(*shape, bits)))
    bp = FPMLP(hidden_sizes=hidden, **backprop_settings(Xtr.shape[0]), seed=split)
    t = time.perf_counter()
    fit_finished(bp, Xtr, ytr)
    out.append(dict(method="backprop-fp", test_accuracy=bp.score(Xte, yte), seconds=time.perf_counter() - t))
    for r in out:
        r.update(dataset=name, split=split, hidden_sizes=list(hidden), n_train=int(Xtr.shape[0]),
                 n_features=int(Xtr.shape[1]), n_classes=shape[2])
    return out


def summarise(runs: list[dict], datasets) -> dict:
    cells = {}
    for d in datasets:
        for m in METHODS:
            acc = [100 * r["test_accuracy"] for r in runs if r["dataset"] == d and r["method"] == m]
            if acc:
                cells[f"{d}/{m}"] = {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "n": len(acc),
                                     "seconds_mean": float(np.mean([r["seconds"] for r in runs
                                                                    if r["dataset"] == d and r["method"] == m]))}
        bp = cells.get(f"{d}/backprop-fp")
        for m, slack in FLOORS.items():
            c = cells.get(f"{d}/{m}")
            if c and bp:
                c["floor"] = bp["mean"] - slack
                c["meets_floor"] = bool(c["mean"] >= c["floor"])
    return cells


def markdown(cells: dict, datasets) -> str:
    lines = ["Test accuracy (%), mean ± std over stratified 80/20 splits; QNN-ADMM with `preset=\"auto\"` "
             "(floor in parentheses: backprop fp − 1.0 for fp, − 2.5 for 2 bits).", "",
             "| dataset | hidden | backprop fp | QNN-ADMM fp | QNN-ADMM 2 bits | QNN-ADMM 1 bit |",
             "| --- | --- | --- | --- | --- | --- |"]
    for d in datasets:
        row = []
        for m in METHODS:
            c = cells.get(f"{d}/{m}")
            if c is None:
                row.append("–")
                continue
            txt = f"{c['mean']:.2f} ± {c['std']:.2f}"
            if "floor" in c:
                txt += f" (≥ {c['floor']:.2f} {'✓' if c['meets_floor'] else '✗'})"
            row.append(txt)
        hidden = cells.get(f"{d}/hidden", "")
        lines.append(f"| {d} | {hidden} | " + " | ".join(row) + " |")
    n = sorted({c["n"] for k, c in cells.items() if isinstance(c, dict) and "n" in c})
    lines += ["", f"Splits per cell: {n}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--splits", type=int, default=10, help="splits 0..N-1 (default 10)")
    p.add_argument("--out", default="benchmarks/results/auto_preset")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    drop_stale(out / "runs.jsonl")
    runs = run_groups(out / "runs.jsonl", args.datasets, args.splits, "split", run_split,
                      lambda rs: ", ".join(f"{r['method']} {100 * r['test_accuracy']:.2f}" for r in rs))
    wanted = [r for r in runs if r["dataset"] in args.datasets and r["split"] < args.splits]
    cells = summarise(wanted, args.datasets)
    for d in args.datasets:
        hs = {tuple(r["hidden_sizes"]) for r in wanted if r["dataset"] == d}
        cells[f"{d}/hidden"] = ",".join(str(h) for h in next(iter(hs))) if len(hs) == 1 else str(sorted(hs))
    table = markdown(cells, args.datasets)
    ok = all(c.get("meets_floor", True) for c in cells.values() if isinstance(c, dict))
    write_results(out, {"cells": cells, "all_floors_met": ok}, table, t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
