r"""The budget source's LeNet-5/MNIST table (Yang et al. Table 3), reproduced (docs/budget.md).

LeNet-5 of Deep Compression (``arch="lenet5-caffe"``: conv 1->20 5x5, pool, conv 20->50 5x5,
pool, dense 800->500, dense 500->10; 430,500 weights) on MNIST. Per seed:

1. the dense network (Algorithm 1 starts from a pretrained model): ``--fp-epochs`` epochs of
   Adam, lr 1e-3, batch 128, cosine, best of a 10% held-out part;
2. ``Budget(budget=...)`` from it under the source's protocol (Section 4.1): momentum SGD,
   lr 0.1, cosine, batch 256, rho 0.05, one projection per epoch, ``--epochs`` epochs (the
   source: 120), k-means quantizer, widths 1..8.

With ``--preset``, step 2 is instead the settings of ``admmnet train --dataset mnist --arch
lenet5-caffe --method budget`` (:data:`admmnet.baseline_presets.ARCH_PRESETS`: Adam, gradual
pruning, the ADMM stage, retraining and fine-tuning with the structure fixed) from the same
``--fp-epochs`` FP network; ``--epochs`` and the stage options are then ignored.
``--distill-teachers N`` (with ``--preset``) makes the distillation teacher the mean logits of
that FP network and N - 1 more of the same ``--fp-epochs`` training (seeds 1000 k + seed;
``Budget(distill_teachers=N)``, their test accuracies and the ensemble's recorded beside;
``fp_seconds`` is then the time of all N FP trainings).

Every epoch prints a progress line (stderr); each (budget, seed) run is appended to
``<out>/runs.jsonl`` as it finishes, so a rerun resumes with the runs not stored yet (a run
stopped part-way starts again); ``summary.json`` and ``table.md`` hold the source's rows beside
ours (non-zero %, average bits, compression from the saved file's weight bits and from all its
bytes, accuracy and its drop from our FP network).

    python benchmarks/budget_lenet5.py --budgets 2000x --seeds 5               # the source's protocol
    python benchmarks/budget_lenet5.py --budgets 2000x --seeds 5 --preset                      # the CLI preset
    python benchmarks/budget_lenet5.py --budgets 2000x --seeds 5 --preset --distill-teachers 3 \
        --out benchmarks/results/budget_lenet5_preset_teachers3               # an ensemble teacher
    python benchmarks/budget_lenet5.py --budgets 2000x --seeds 1 --epochs 2 --fp-epochs 1   # a smoke run
    python benchmarks/budget_lenet5.py --budgets 2000x --seeds 1 --epochs 10 --fp-epochs 3 --finetune-epochs 10
    python benchmarks/budget_lenet5.py --budgets 2000x --seeds 1 --epochs 30 --fp-epochs 20 \
        --finetune-epochs 20 --finetune-keep-codes
    python benchmarks/budget_lenet5.py --budgets 2000x --seeds 1 --epochs 30 --fp-epochs 20 \
        --retrain-epochs 10 --finetune-epochs 10 --finetune-keep-codes
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet import baselines as B
from admmnet.baseline_presets import baseline_params
from admmnet.datasets import load_dataset

from _runs import _plain, append_runs, blas_threads, fit_finished, load_runs, write_results

#: The source's Table 3: method -> (non-zero %, average bits, compression, accuracy drop %); FP 99.2%.
SOURCE = {"Deep Compression": (8.3, 5.3, 70, 0.1), "BC-GNJ": (0.9, 5, 573, 0.1), "BC-GHS": (0.6, 5, 771, 0.1),
          "Ye et al.": (0.6, 2.8, 1910, 0.1), "Yang et al. (the source)": (1.0, 1.46, 2120, 0.0)}
FP = dict(arch="lenet5-caffe", optimizer="adam", lr=1e-3, lr_schedule="cosine", batch_size=128, patience=None,
          holdout_fraction=0.1)
PROTOCOL = dict(arch="lenet5-caffe", optimizer="sgd", momentum=0.9, lr_schedule="cosine", batch_size=256,
                budget_lr=0.1, rho=0.05, admm_interval=1, quantizer="kmeans", bit_choices=(1, 2, 3, 4, 5, 6, 7, 8),
                patience=None, holdout_fraction=0.1)


def _preset() -> dict:
    """The CLI's LeNet-5 budget preset in its JSON form (what a ``--preset`` run records)."""
    return _plain(baseline_params("budget", "mnist", arch="lenet5-caffe"))


def run_seed(seed: int, budgets, ds, epochs: int, fp_epochs: int, finetune_epochs: int = 0,
             finetune_lr: float | None = None, finetune_recode: bool = True, retrain_epochs: int = 0,
             preset: bool = False, teachers: int = 1) -> list[dict]:
    t0 = time.perf_counter()
    fps = [fit_finished(B.FPMLP(**FP, max_epochs=fp_epochs, seed=1000 * k + seed, verbose=True), ds.X_train,
                        ds.y_train) for k in range(teachers)]
    fp, fp_acc, fp_s = fps[0], fps[0].score(ds.X_test, ds.y_test), time.perf_counter() - t0
    extra = {}
    if teachers > 1:
        Z = [m.network_.logits(ds.X_test) for m in fps]
        extra = dict(teacher_accuracies=[m.score(ds.X_test, ds.y_test) for m in fps],
                     ensemble_accuracy=float(np.mean(np.argmax(sum(Z), axis=1) == ds.y_test)))
    out = []
    for b in budgets:
        t0 = time.perf_counter()
        if preset:
            m = B.Budget(**{**_preset(), "max_epochs": 0}, budget=b, seed=seed, verbose=True,
                         distill_teachers=teachers)
        else:
            m = B.Budget(budget=b, budget_epochs=epochs, retrain_epochs=retrain_epochs,
                         finetune_epochs=finetune_epochs, finetune_lr=finetune_lr, finetune_recode=finetune_recode,
                         max_epochs=0, seed=seed, verbose=True, **PROTOCOL)
        fit_finished(m, ds.X_train, ds.y_train, fp_model=fp, **({"teacher_models": fps[1:]} if teachers > 1 else {}))
        seconds = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            path = m.save(Path(tmp) / "m.npz", history=False)
            rep = m.compression_report(path)
        out.append(dict(budget=b, seed=seed, preset=_preset() if preset else None, epochs=epochs, fp_epochs=fp_epochs,
                        retrain_epochs=retrain_epochs,
                        finetune_epochs=finetune_epochs,
                        finetune_lr=finetune_lr, finetune_recode=finetune_recode, fp_accuracy=fp_acc,
                        fp_seconds=fp_s, test_accuracy=m.score(ds.X_test, ds.y_test), seconds=seconds,
                        compression=rep, threads=blas_threads(), params=m.json_params(), admmnet=admmnet.__version__,
                        distill_teachers=teachers, **extra))
        print(f"  {b} seed {seed}: {100 * out[-1]['test_accuracy']:.2f}% (FP {100 * fp_acc:.2f}%), "
              f"{rep['compression']:.0f}x weight bits, {rep['model_bytes']:,} bytes in all, bits "
              f"{[l['bits'] for l in rep['layers']]}, {seconds:.0f} s", file=sys.stderr, flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", nargs="+", default=["2000x"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=120, help="budget ADMM epochs (the source: 120)")
    p.add_argument("--fp-epochs", type=int, default=20)
    p.add_argument("--retrain-epochs", type=int, default=0,
                   help="epochs of retraining the kept weights at full precision with the structure fixed, pulled "
                        "to their quantized values by ADMM (Budget(retrain_epochs=...)), before the fine-tuning")
    p.add_argument("--finetune-epochs", type=int, default=0,
                   help="epochs of fine-tuning with the chosen structure fixed after the ADMM stage "
                        "(Budget(finetune_epochs=...); the source's MNIST protocol: 0)")
    p.add_argument("--finetune-lr", type=float, default=None,
                   help="its learning rate (default: the ADMM stage's, 0.1)")
    p.add_argument("--finetune-keep-codes", action="store_true",
                   help="fine-tune the code values with the first epoch's codes kept (Budget(finetune_recode=False))")
    p.add_argument("--preset", action="store_true",
                   help="the CLI's LeNet-5 budget preset from the --fp-epochs FP network instead of the source's "
                        "protocol (--epochs and the stage options are ignored)")
    p.add_argument("--distill-teachers", type=int, default=1,
                   help="with --preset: the distillation teacher averages this many FP networks' logits (seeds "
                        "1000 k + seed; Budget(distill_teachers=...))")
    p.add_argument("--out", default="benchmarks/results/budget_lenet5")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    ds = load_dataset("mnist")
    log = out / "runs.jsonl"
    runs = load_runs(log)
    if args.distill_teachers != 1 and not args.preset:
        p.error("--distill-teachers needs --preset (the source's protocol has no distillation)")
    if args.preset:
        same = [r for r in runs if r.get("preset") == _preset() and r["fp_epochs"] == args.fp_epochs
                and r.get("distill_teachers", 1) == args.distill_teachers]
    else:
        same = [r for r in runs if not r.get("preset") and r["epochs"] == args.epochs
                and r["fp_epochs"] == args.fp_epochs
                and r.get("finetune_epochs", 0) == args.finetune_epochs and r.get("finetune_lr") == args.finetune_lr
                and r.get("finetune_recode", True) == (not args.finetune_keep_codes)
                and r.get("retrain_epochs", 0) == args.retrain_epochs]
    for seed in range(args.seeds):
        todo = [b for b in args.budgets if not any(r["budget"] == b and r["seed"] == seed for r in same)]
        if todo:
            rs = run_seed(seed, todo, ds, args.epochs, args.fp_epochs, finetune_epochs=args.finetune_epochs,
                          finetune_lr=args.finetune_lr, finetune_recode=not args.finetune_keep_codes,
                          retrain_epochs=args.retrain_epochs, preset=args.preset, teachers=args.distill_teachers)
            append_runs(log, rs)
            runs += rs
            same += rs
    ft = (f", then {args.finetune_epochs} fine-tuning epochs with the structure fixed"
          + (f" at lr {args.finetune_lr:g}" if args.finetune_lr is not None else "")
          + (", codes kept" if args.finetune_keep_codes else "")) if args.finetune_epochs else ""
    if args.retrain_epochs:
        ft = f", then {args.retrain_epochs} retraining epochs with the structure fixed" + ft
    teachers = (f", the teacher the mean logits of {args.distill_teachers} FP networks"
                if args.distill_teachers > 1 else "")
    how = (f"the CLI preset {_preset()}" if args.preset else f"{args.epochs} ADMM epochs") + teachers + \
        f" from {args.fp_epochs} FP epochs" + ("" if args.preset else ft)
    lines = [f"LeNet-5 (lenet5-caffe, 430,500 weights) on MNIST under a size budget: {how}; sizes from the "
             "saved file. The source's Table 3 first.", "",
             "| method | seeds | non-zero | avg bits | compression (weight bits) | compression (all bytes) | "
             "accuracy | drop |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, (nz, bits, comp, drop) in SOURCE.items():
        lines.append(f"| {name} | | {nz}% | {bits} | {comp:,}x | | 99.2 - drop (FP 99.2) | {drop}% |")
    cells = {}
    for b in args.budgets:
        rs = [r for r in same if r["budget"] == b and r["seed"] < args.seeds]
        if not rs:
            continue
        acc = [100 * r["test_accuracy"] for r in rs]
        fp = [100 * r["fp_accuracy"] for r in rs]
        c = dict(seeds=len(rs), mean=float(np.mean(acc)), std=float(np.std(acc)), fp_mean=float(np.mean(fp)),
                 drop=float(np.mean(np.array(fp) - np.array(acc))),
                 nz=float(np.mean([100 * r["compression"]["nz_fraction"] for r in rs])),
                 avg_bits=float(np.mean([r["compression"]["avg_bits"] for r in rs])),
                 compression=float(np.mean([r["compression"]["compression"] for r in rs])),
                 compression_total=float(np.mean([r["compression"]["compression_total"] for r in rs])),
                 bits=[[l["bits"] for l in r["compression"]["layers"]] for r in rs])
        cells[b] = c
        lines.append(f"| admmnet budget {b} | {c['seeds']} | {c['nz']:.2f}% | {c['avg_bits']:.2f} | "
                     f"{c['compression']:,.0f}x | {c['compression_total']:,.0f}x | {c['mean']:.2f} ± {c['std']:.2f} "
                     f"(FP {c['fp_mean']:.2f}) | {c['drop']:.2f}% |")
    write_results(out, {"preset": _preset() if args.preset else None, "epochs": args.epochs,
                        "fp_epochs": args.fp_epochs, "retrain_epochs": args.retrain_epochs,
                        "finetune_epochs": args.finetune_epochs,
                        "finetune_lr": args.finetune_lr, "finetune_recode": not args.finetune_keep_codes,
                        "distill_teachers": args.distill_teachers, "cells": cells, "source": SOURCE},
                  "\n".join(lines) + "\n", t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
