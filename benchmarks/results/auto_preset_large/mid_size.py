"""Scratch (not part of the package): does doubling the automatic preset's width pay under 20,000 rows too?

Validation rows only: two make_classification sets (80/20 of the training part of a 75/25 split,
as benchmarks/auto_preset_large.py), Pendigits writer-dependent split 0 without copies (5,994 rows,
held-out and distorted held-out rows), 8,000 MNIST training images scored on 2,000 others; the
automatic preset at the width of its rule under 5,000 rows (AUTO_WIDE_SAMPLES, which this run
chose) and at twice it, FP and 2 bits (5 restarts under 20,000 rows).

    python -u benchmarks/results/auto_preset_large/mid_size.py syn-12k-20f-5c pendigits-6k syn-30k-50f-10c mnist-8k
    python -u benchmarks/results/auto_preset_large/mid_size.py mnist-8k --bits 2     # the pair the first run lacked
"""
import argparse
import json
import sys
import time
import warnings
warnings.simplefilter("ignore")
sys.path.insert(0, "benchmarks")
import numpy as np
import admmnet
import auto_preset_large as APL
from admmnet.presets import auto_base_width, auto_params
from admmnet.datasets import load_dataset

APL.SYNTHETIC.update({"syn-12k-20f-5c": dict(n_samples=12000, n_features=20, n_informative=10, n_classes=5,
                                             random_state=2),
                      "syn-30k-50f-10c": dict(n_samples=30000, n_features=50, n_informative=25, n_classes=10,
                                              n_clusters_per_class=2, random_state=1)})


def pendigits_real():
    from pendigits_validation import _data
    d = _data(0, 0)
    return d["fit"], {"val": d["val"], "distorted": d["distorted"]}


def mnist8k():
    ds = load_dataset("mnist")
    r = np.random.default_rng(0).permutation(ds.X_train.shape[0])
    fit, val = r[:8000], r[8000:10000]
    return (ds.X_train[fit], ds.y_train[fit]), {"val": (ds.X_train[val], ds.y_train[val])}


probs = {"syn-12k-20f-5c": lambda: APL.synthetic("syn-12k-20f-5c", 0, True),
         "syn-30k-50f-10c": lambda: APL.synthetic("syn-30k-50f-10c", 0, True),
         "pendigits-6k": pendigits_real, "mnist-8k": mnist8k}
ap = argparse.ArgumentParser()
ap.add_argument("problems", nargs="+", choices=list(probs))
ap.add_argument("--bits", nargs="+", default=["fp", "2"], choices=["fp", "2"])
args = ap.parse_args()
for name in args.problems:
    fit, evals = probs[name]()
    n, d, k = APL.shape_of(fit)
    for bits in [None if b == "fp" else int(b) for b in args.bits]:
        for f in (1, 2):
            kw = auto_params(n, d, k, bits)     # its width: the one under AUTO_WIDE_SAMPLES rows, times f
            w = int(min(200, auto_base_width(d, k) * f))
            kw["hidden_sizes"] = (w, w)
            t = time.time()
            m = admmnet.QNNADMM(**kw, bits=bits, seed=0, device="cpu").fit(*fit)
            scores = {e: round(100 * m.score(*v), 2) for e, v in evals.items()}
            print(json.dumps(dict(problem=name, n=n, bits=bits, width=w, **scores, seconds=round(time.time() - t))),
                  flush=True)
