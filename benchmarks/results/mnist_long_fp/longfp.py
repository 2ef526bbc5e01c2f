"""Scratch (not part of the package): MNIST's FP preset run longer, on validation split 0.

The MNIST preset stops at 75 iterations (the 2-minute limit on a quantized run); its validation
accuracy was still rising there (``benchmarks/results/mnist_iterations``: 50 / 60 / 75 iterations
96.64 / 96.95 / 97.15). This runs the FP preset for ``--iters`` iterations on 80% of the training
rows (stratified split, seed 0) and records the validation accuracy of the evaluated network at
every iteration (``eval_set``), and of the finished fit (output refit included). Test rows unread.

    python -u benchmarks/results/mnist_long_fp/longfp.py --iters 300 [--extra '{"penalty_growth": 1.005}']
"""
import argparse
import json
import sys
import time

sys.path.insert(0, "benchmarks")

import admmnet                                                    # noqa: E402
from admmnet.datasets import load_dataset                         # noqa: E402
from admmnet.datasets._preprocess import stratified_split        # noqa: E402
from _runs import fit_finished                                    # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--iters", type=int, default=300)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--extra", default="{}")
p.add_argument("--out", default="benchmarks/results/mnist_long_fp/runs.jsonl")
a = p.parse_args()
extra = json.loads(a.extra)
ds = load_dataset("mnist")
tr, va = stratified_split(ds.y_train, 0.2, a.seed)
curve = []


def cb(model, rec):
    curve.append({k: rec[k] for k in ("iteration", "train_accuracy", "val_accuracy")})
    if len(curve) % 25 == 0:
        print(len(curve), curve[-1], flush=True)


m = admmnet.QNNADMM(preset="mnist", max_iter=a.iters, seed=a.seed, device="cpu", **extra)
t = time.perf_counter()
fit_finished(m, ds.X_train[tr], ds.y_train[tr], eval_set=(ds.X_train[va], ds.y_train[va]), callback=cb)
sec = time.perf_counter() - t
val = m.score(ds.X_train[va], ds.y_train[va])
hist = [dict(it=i, **r) for i, r in enumerate(curve)]
row = dict(seed=a.seed, max_iter=a.iters, extra=extra, val_accuracy=val, seconds=sec, curve=hist,
           command=" ".join(sys.argv))
with open(a.out, "a") as f:
    f.write(json.dumps(row) + "\n")
print("final validation", val, "seconds", round(sec))
