r"""The automatic preset on unusual shapes of data: where do its defaults break?

``benchmarks/auto_preset.py`` scores ``QNNADMM()`` on three bundled scikit-learn datasets; this
scores it on synthetic shapes none of the presets resembles (all generated here, no download):

* ``tiny-40``: 40 rows, 5 features, 2 classes;
* ``classes-20``: 2,000 rows, 30 features, 20 classes (one cluster each);
* ``imbalanced``: 1,500 rows, 10 features, classes 95% / 5%;
* ``wide-500``: 300 rows, 500 features (10 informative), 3 classes;
* ``constant-column``: 500 Gaussian rows, 8 features of which one is constant, 2 classes;
* ``binary-features``: 800 rows of 20 Bernoulli(0.3) features, 2 classes.

Each is split 75/25 (stratified, seed s for split s), standardised with the training part,
and scored on the test part: scikit-learn's ``LogisticRegression`` (a reference that needs no
tuning), QNN-ADMM with its automatic preset at full precision, 2 bits and 1 bit (thesis
levels), and the backprop FP baseline with its defaults (``FPMLP()``). Nothing here chose a
setting: it reports. Writes ``<out>/summary.json`` and ``<out>/table.md`` (default
``benchmarks/results/auto_preset_shapes``) and prints the table.

    python benchmarks/auto_preset_shapes.py                 # 3 splits each, about 5 minutes
    python benchmarks/auto_preset_shapes.py --splits 1 --cases classes-20
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import admmnet

from _runs import write_results


def _constant_column():
    r = np.random.default_rng(0)
    X = r.standard_normal((500, 8))
    X[:, 3] = 1.0
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _binary_features():
    r = np.random.default_rng(0)
    X = (r.random((800, 20)) < 0.3).astype(float)
    return X, (X[:, :5].sum(1) > 1.5).astype(int)


CASES = {
    "tiny-40": lambda: make_classification(n_samples=40, n_features=5, n_informative=3, n_redundant=0,
                                           n_classes=2, random_state=0),
    "classes-20": lambda: make_classification(n_samples=2000, n_features=30, n_informative=20, n_classes=20,
                                              n_clusters_per_class=1, random_state=0),
    "imbalanced": lambda: make_classification(n_samples=1500, n_features=10, n_informative=5, weights=[0.95, 0.05],
                                              random_state=0),
    "wide-500": lambda: make_classification(n_samples=300, n_features=500, n_informative=10, n_classes=3,
                                            random_state=0),
    "constant-column": _constant_column,
    "binary-features": _binary_features,
}


@functools.cache
def data(case: str):
    """``(X, y)`` of ``case``, generated once."""
    return CASES[case]()


METHODS = ("logistic", "qnn-admm-fp", "qnn-admm-2", "qnn-admm-1", "backprop-fp")


def run(case: str, split: int) -> dict:
    X, y = data(case)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=split, stratify=y)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)      # constant columns, small classes
        out["logistic"] = LogisticRegression(max_iter=5000).fit(Xtr, ytr).score(Xte, yte)
        for bits in (None, 2, 1):
            t = time.perf_counter()
            m = admmnet.QNNADMM(bits=bits, seed=split, device="cpu").fit(Xtr, ytr)
            out[f"qnn-admm-{'fp' if bits is None else bits}"] = m.score(Xte, yte)
            out[f"seconds-{'fp' if bits is None else bits}"] = time.perf_counter() - t
        out["backprop-fp"] = admmnet.FPMLP(seed=split).fit(Xtr, ytr).score(Xte, yte)
    return {k: float(v) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/auto_preset_shapes"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    runs = []
    for case in args.cases:
        for split in range(args.splits):
            runs.append({"case": case, "split": split, **run(case, split)})
            print(f"{case} split {split}: " + ", ".join(f"{k} {100 * runs[-1][k]:.1f}" for k in METHODS),
                  file=sys.stderr, flush=True)
    lines = [f"Test accuracy (%), mean ± std over {args.splits} stratified 75/25 splits; QNN-ADMM with its "
             "automatic preset (`QNNADMM(bits=...)`), nothing tuned on these sets.", "",
             "| case | shape | " + " | ".join(METHODS) + " | QNN-ADMM 2-bit seconds |",
             "| --- | --- | " + " | ".join("---" for _ in METHODS) + " | --- |"]
    for case in args.cases:
        rs = [r for r in runs if r["case"] == case]
        X, y = data(case)
        cells = [f"{100 * np.mean([r[k] for r in rs]):.1f} ± {100 * np.std([r[k] for r in rs]):.1f}" for k in METHODS]
        lines.append(f"| {case} | {X.shape[0]} × {X.shape[1]}, {np.unique(y).size} classes | " + " | ".join(cells)
                     + f" | {np.mean([r['seconds-2'] for r in rs]):.1f} |")
    write_results(args.out, {"runs": runs, "splits": args.splits}, "\n".join(lines) + "\n", t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
