r"""What unscaled features cost QNN-ADMM: the threshold of ``FeatureScaleWarning``.

QNN-ADMM's penalties (beta, gamma, layer_scale), its presets and its one-scale-per-layer level
sets were all chosen on standardised features. This scores the automatic preset
(``QNNADMM(bits=...)``, nothing else set) on scikit-learn's wine and breast-cancer data
(bundled, no download) with the features standardised on the training rows and then multiplied
by ``s``: the accuracy lost as the features' scale grows. Stratified 80/20 splits (seed s for
split s); test rows of each split. ``admmnet._validation.FEATURE_SCALE_WARN`` (10) is set where
the loss starts.

    python benchmarks/feature_scale.py                       # 3 splits, s = 1, 3, 10, 30, 100
    python benchmarks/feature_scale.py --splits 5 --scales 1 10

Writes ``<out>/summary.json`` and ``<out>/table.md`` (default
``benchmarks/results/feature_scale``) and prints the table.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import admmnet

from _runs import write_results

DATASETS = {"wine": load_wine, "breast_cancer": load_breast_cancer}


@functools.cache
def standardised_split(name: str, split: int):
    """``(Xtr, Xte, ytr, yte)`` of split ``split``, standardised with the training part (made once
    and shared by every scale and bit width)."""
    X, y = DATASETS[name](return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=split, stratify=y)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xte), ytr, yte


def score(name: str, scale: float, bits, split: int) -> float:
    Xtr, Xte, ytr, yte = standardised_split(name, split)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", admmnet.FeatureScaleWarning)     # the point of the measurement
        model = admmnet.QNNADMM(bits=bits, seed=split).fit(Xtr * scale, ytr)
    return float(model.score(Xte * scale, yte))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 3, 10, 30, 100])
    ap.add_argument("--bits", nargs="+", default=["fp", "1"], help="fp or thesis bit widths")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/feature_scale"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    bits_list = [None if b == "fp" else int(b) for b in args.bits]
    cells = []
    for name in DATASETS:
        for s in args.scales:
            for bits in bits_list:
                acc = [score(name, s, bits, k) for k in range(args.splits)]
                cells.append({"dataset": name, "scale": s, "bits": "fp" if bits is None else bits,
                              "accuracy": acc, "mean": float(np.mean(acc)), "std": float(np.std(acc))})
                print(f"{name} x{s:g} {cells[-1]['bits']}: {100 * cells[-1]['mean']:.2f}", file=sys.stderr, flush=True)
    lines = [f"QNN-ADMM's automatic preset on standardised features times s: test accuracy %, mean ± std "
             f"over {args.splits} stratified 80/20 splits", "",
             "| dataset | bits | " + " | ".join(f"s = {s:g}" for s in args.scales) + " |",
             "| --- | --- | " + " | ".join("---" for _ in args.scales) + " |"]
    for name in DATASETS:
        for bits in bits_list:
            b = "fp" if bits is None else bits
            row = [c for c in cells if c["dataset"] == name and c["bits"] == b]
            lines.append(f"| {name} | {b} | " + " | ".join(f"{100 * c['mean']:.1f} ± {100 * c['std']:.1f}" for c in row) + " |")
    write_results(args.out, {"cells": cells, "splits": args.splits}, "\n".join(lines) + "\n", t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
