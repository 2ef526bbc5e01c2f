r"""Choosing the budget method's MNIST presets on validation rows (docs/budget.md).

MNIST [784,200,200,10] (or ``--arch lenet5-caffe``, the budget source's LeNet-5, with the
convolutional presets of :data:`admmnet.baseline_presets.ARCH_PRESETS`): a stratified 80/20
split of the 60,000 training rows (split seed s for seed s; the test rows are never read).
``--dataset seeds``: a stratified 80/20 split of split s's training rows; ``--dataset
pendigits``: the writer-dependent split (held-out digits of the training writers; the
training rows with the preset's augmented copies), as the other validation scripts.
The FP network of the baselines' preset (:class:`admmnet.baselines.FPMLP`) is trained once per
seed on the 80% part and kept in ``<out>/models/``; then :class:`admmnet.baselines.Budget` with
the preset (``baseline_params("budget", dataset, arch=arch)``) and each override of ``--grid``
runs from it, for each ``--budgets``, and is scored on the validation rows. Every run is appended to
``<out>/runs.jsonl`` as it finishes (a rerun resumes; a run counts for a grid entry when its
preset and overrides come to the same settings, so a run made under an earlier preset is not
redone), with each stage's held-out and validation accuracy per epoch (``stages``: where a
setting gains or loses); ``summary.json`` and ``table.md`` hold the validation accuracy per (budget, setting),
with weight bits and seconds (``--report``: tabulate only, run nothing). ``--fp-epochs``: the
runs start from FP networks of that many epochs (the benchmarks' 20 for LeNet-5) instead of the
FP preset's.

    python benchmarks/budget_validation.py
    python benchmarks/budget_validation.py --budgets 2000x --grid '[{}, {"finetune_epochs": 20}]'
    python benchmarks/budget_validation.py --arch lenet5-caffe --budgets 2000x --fp-epochs 20 --seeds 2 \
        --grid '[{}, {"distill": 0.0}]' --out benchmarks/results/budget_validation_lenet5-caffe_fp20
    python benchmarks/budget_validation.py --arch lenet5-caffe --budgets 2000x 128x \
        --grid '[{}, {"retrain_epochs": 10, "finetune_epochs": 3, "finetune_recode": false}]'
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
from admmnet.baseline_presets import baseline_params
from admmnet.datasets import load_dataset
from admmnet.datasets._preprocess import stratified_split

from _runs import (_plain, append_runs, blas_threads, estimator_defaults, fit_finished, load_runs, results_dir,
                   small_validation_rows, write_results)

GRID = [{"finetune_epochs": 0}, {"finetune_epochs": 10}, {"finetune_epochs": 20}]


def _fp(out: Path, seed: int, X, y, arch: str = "mlp", dataset: str = "mnist", epochs: int | None = None):
    """The seed's FP network (the preset's, or ``epochs`` epochs of it), trained once and kept."""
    path = out / "models" / (f"fp_val_seed{seed}.npz" if epochs is None else f"fp_val_seed{seed}_ep{epochs}.npz")
    if path.exists():
        return admmnet.load(path)
    params = baseline_params("fp", dataset, arch=arch)
    if epochs is not None:
        params["max_epochs"] = epochs
    m = fit_finished(B.FPMLP(**params, seed=seed), X, y)
    m.save(path, history=False)
    return m


def _settings(preset: dict, overrides: dict) -> str:
    """The settings a run used, every Budget parameter named (JSON text): a run stored under an
    earlier preset counts for a grid entry of today's when the two come to the same settings."""
    return json.dumps(_plain({**estimator_defaults(B.Budget), **preset, **overrides}), sort_keys=True)


def _rows(dataset: str, seed: int):
    """``(X_fit, y_fit, X_val, y_val)`` of seed ``seed``'s validation problem (module docstring)."""
    if dataset != "mnist":
        return small_validation_rows(dataset, seed, "budget")
    ds = load_dataset(dataset)
    tr, va = stratified_split(ds.y_train, 0.2, seed)
    return ds.X_train[tr], ds.y_train[tr], ds.X_train[va], ds.y_train[va]


def _stages(history) -> dict:
    """Per stage of a fit, its epochs' held-out accuracy (the estimator's own held-out rows, which
    pick each stage's kept epoch) and validation accuracy: where along the stages a setting gains
    or loses. The validation rows only score here; they steer nothing."""
    out = {}
    for r in history:
        st = out.setdefault(r["stage"], {"holdout": [], "val": []})
        st["holdout"].append(r.get("holdout_accuracy"))
        st["val"].append(r.get("val_accuracy"))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", nargs="+", default=["2000x", "512x", "128x"])
    p.add_argument("--grid", type=json.loads, default=GRID, help="JSON list of Budget keyword overrides")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--dataset", default="mnist", choices=("mnist", "seeds", "pendigits"))
    p.add_argument("--arch", default="mlp", choices=("mlp", "lenet5-caffe"))
    p.add_argument("--fp-epochs", type=int, default=None,
                   help="epochs of the FP network the runs start from (default: the FP preset's)")
    p.add_argument("--out", default=None, help="default: benchmarks/results/budget_validation[_<arch>]")
    p.add_argument("--report", action="store_true",
                   help="run nothing: tabulate the finished runs of --grid (mean over the seeds < --seeds each has)")
    args = p.parse_args(argv)
    if args.arch != "mlp" and args.dataset != "mnist":
        p.error("--arch lenet5-caffe needs --dataset mnist (images)")
    name = "budget_validation" if args.dataset == "mnist" else f"budget_validation_{args.dataset}"
    out = Path(args.out) if args.out else results_dir(name, args.arch)
    (out / "models").mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    log = out / "runs.jsonl"
    runs = load_runs(log)
    preset = baseline_params("budget", args.dataset, arch=args.arch)
    plain = _plain(preset)          # its JSON form, as stored with each run
    key = lambda r: (r["seed"], r["budget"], _settings(r["preset"], r["overrides"]), r.get("fp_epochs"))
    have = {key(r) for r in runs}
    for seed in range(0 if args.report else args.seeds):
        Xt, yt, Xv, yv = _rows(args.dataset, seed)
        fp = None
        for budget in args.budgets:
            for g in args.grid:
                rec = dict(seed=seed, budget=budget, overrides=g, preset=plain)
                if args.fp_epochs is not None:
                    rec["fp_epochs"] = args.fp_epochs
                if key(rec) in have:
                    continue
                if fp is None:          # once a seed: the FP network and its validation score
                    fp = _fp(out, seed, Xt, yt, args.arch, args.dataset, args.fp_epochs)
                    fp_val = fp.score(Xv, yv)
                t = time.perf_counter()
                m = fit_finished(B.Budget(**{**preset, **g}, budget=budget, seed=seed), Xt, yt, fp_model=fp,
                                 eval_set=(Xv, yv))
                rec.update(val_accuracy=m.score(Xv, yv), fp_val_accuracy=fp_val,
                           seconds=time.perf_counter() - t, weight_bits=m.compression_report()["weight_bits"],
                           budget_bits=m.budget_bits_, stages=_stages(m.history_),
                           threads=blas_threads(), admmnet=admmnet.__version__)
                append_runs(log, [rec])
                runs.append(rec)
                have.add(key(rec))
                print(f"  seed {seed} {budget} {json.dumps(g)}: {100 * rec['val_accuracy']:.2f}% "
                      f"({rec['seconds']:.0f} s)", file=sys.stderr, flush=True)
    pj = json.dumps(plain, sort_keys=True)
    net = {"mnist": "[784,200,200,10]", "seeds": "[7,5,5,3]", "pendigits": "[16,12,12,10]"}[args.dataset] \
        if args.arch == "mlp" else args.arch
    rows = "held-out digits of the training writers" if args.dataset == "pendigits" else "80/20 of the training rows"
    fpe = "the FP preset's epochs" if args.fp_epochs is None else f"{args.fp_epochs} epochs"
    lines = [f"Budget on {args.dataset} {net}, validation rows ({rows}), mean over seeds; FP network: {fpe}; "
             f"preset {pj}", "",
             "| budget | overrides | validation accuracy | FP validation accuracy | seeds | weight bits / budget "
             "| seconds |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    summary = {}
    for budget in args.budgets:
        for g in args.grid:
            rs = [r for r in runs if r["budget"] == budget and r["seed"] < args.seeds
                  and _settings(r["preset"], r["overrides"]) == _settings(plain, g)
                  and r.get("fp_epochs") == args.fp_epochs]
            if not rs:
                continue
            acc = 100 * float(np.mean([r["val_accuracy"] for r in rs]))
            name = f"{budget} {json.dumps(g, sort_keys=True)}"
            fp_acc = 100 * float(np.mean([r["fp_val_accuracy"] for r in rs]))
            summary[name] = dict(mean=acc, fp_mean=fp_acc, seeds=len(rs),
                                 seconds=float(np.mean([r["seconds"] for r in rs])))
            lines.append(f"| {budget} | `{json.dumps(g)}` | {acc:.2f} | {fp_acc:.2f} | {len(rs)} | "
                         f"{rs[0]['weight_bits']:,} / {rs[0]['budget_bits']:,} | {summary[name]['seconds']:.0f} |")
    write_results(out, {"cells": summary, "preset": preset, "fp_epochs": args.fp_epochs}, "\n".join(lines) + "\n",
                  t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
