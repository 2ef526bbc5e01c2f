"""Scratch (not part of the package): the restarts' choice over a larger pool of candidates.

``QNNADMM(n_init=5)`` quantizes each of 5 FP phases once and keeps the network with the lowest
training cross-entropy. Here each FP phase is quantized by several variants of the layerwise
quantizer (``VARIANTS``) and the lowest training cross-entropy is taken over the whole pool.
Records per problem, initialisation and variant: training cross-entropy, held-out score
(``records/pool-<dataset>-<bits>-<problem>.npz``, ignored). Forward passes on training rows
choose; held-out rows only score; test rows are never read.

    python -u benchmarks/results/quantizer_validation/restart_selection/pool.py --dataset seeds --splits 10 --bits 1
"""
import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
from admmnet.presets import qnn_admm_params                   # noqa: E402
from _runs import fit_finished, paired_difference   # noqa: E402
from consensus import HERE, todo   # noqa: E402

VARIANTS = [{}, {"layerwise_equalize": "max"}, {"layerwise_equalize": "l2"}, {"granularity": "row"},
            {"layerwise_iter": 60}, {"layerwise_rho": 3e-4}, {"layerwise_rho": 3e-3}]


def run(dataset, splits, bits, n):
    t0 = time.perf_counter()
    for name, seed, real_rows, evals, fps, out in todo(dataset, splits, n, f"pool-{dataset}-{bits}"):
        X, y = real_rows
        kw = {**qnn_admm_params(dataset, int(bits)), "n_init": 1}
        loss = np.zeros((n, len(VARIANTS)))
        held = np.zeros((n, len(VARIANTS), len(evals)))
        for i, (v, var) in itertools.product(range(n), enumerate(VARIANTS)):
            q = fit_finished(admmnet.QNNADMM(**{**kw, **var}, bits=int(bits), seed=seed + i), *real_rows,
                             fp_model=fps[i])
            loss[i, v] = q.training_loss(X, y)
            held[i, v] = [100 * q.score(*rows) for rows in evals.values()]
        np.savez(out, loss=loss, held=held)
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)


def report(dataset, bits, splits):
    recs = [dict(np.load(f)) for f in sorted(HERE.glob(f"pool-{dataset}-{bits}-*.npz"))
            if int(f.stem.split("-")[3].replace("split", "")) < splits]
    print(f"{dataset} {bits} bits, {len(recs)} problems")

    def pick(r, inits, variants):
        sub = r["loss"][np.ix_(inits, variants)]
        i, v = np.unravel_index(np.argmin(sub), sub.shape)
        return r["held"][inits[i], variants[v]]

    n = recs[0]["loss"].shape[0]
    base = [pick(r, [0, 1, 2, 3, 4], [0]) for r in recs]
    pools = {f"variant {v} {VARIANTS[v]} alone": [v] for v in range(len(VARIANTS))}
    pools.update({f"preset + {VARIANTS[v]}": [0, v] for v in range(1, len(VARIANTS))})
    pools["all variants"] = list(range(len(VARIANTS)))
    for label, vs in pools.items():
        chosen = [pick(r, list(range(min(n, 5))), vs) for r in recs]
        _, text = paired_difference([c[0] - b[0] for c, b in zip(chosen, base)])
        print(f"| {label} | " + " | ".join(f"{np.mean([c[j] for c in chosen]):.2f}" for j in range(len(chosen[0])))
              + f" | {text} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="seeds")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--bits", default="1")
    p.add_argument("--inits", type=int, default=5)
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not a.report:
        run(a.dataset, a.splits, a.bits, a.inits)
    report(a.dataset, a.bits, a.splits)
