r"""Scratch (not part of the package): equalize the input layer's columns before a low-bit quantizer.

Cross-layer equalization (:mod:`admmnet.admm.equalize`) balances the hidden units, whose scales a
ReLU lets move between two layers; the input layer's columns have no layer below them, so one
scale per layer (``alpha_1 Q_1``) must serve input features the FP network weighs very
differently: a feature whose column of W_1 is small falls to the zero code or takes a code as
large as the important features'. The preprocessing can take the scale instead: with ``c_j``
the range of column j of W_1 (``max |w|`` or the Euclidean norm, divided by their geometric
mean), the network ``W_1 x = (W_1 diag(c)^-1)(diag(c) x)`` is the same function on inputs
``x' = diag(c) x``, and the quantizer sees a first layer whose columns have equal ranges. ``c``
joins the standardisation's per-feature scale (one float per feature, as the standardisation
already stores), so the model's size does not change. ``p`` < 1 equalizes partly (``c**p``).
Weights and training rows alone choose ``c``: no labels, no gradient.

Each problem's 5 FP phases (the preset's, seeds s..s+4) are shared by every variant; each
variant quantizes each of them (the preset's quantizer, ``n_init=1``) on its rescaled rows and
keeps the lowest training cross-entropy of the 5, as the preset's restarts do. The fold's
held-out rows (rescaled by the same ``c``) only score.

    python -u benchmarks/results/quantizer_validation/input_scale/inrun.py --dataset seeds --splits 10 --bits 1
    python benchmarks/results/quantizer_validation/input_scale/inrun.py --dataset seeds --bits 1 --report
"""
import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
import quantizer_validation as qv                           # noqa: E402
from admmnet.presets import fp_phase_params, qnn_admm_params  # noqa: E402
from _runs import FPPhases, fit_finished, paired_difference, timed_fit  # noqa: E402

HERE = Path(__file__).parent
N = 5
VARIANTS = {"none": None, "max": ("max", 1.0), "l2": ("l2", 1.0), "max p=0.5": ("max", 0.5)}


def column_scales(W1, norm, p):
    r = np.max(np.abs(W1), axis=0) if norm == "max" else np.sqrt(np.sum(W1 * W1, axis=0))
    r = np.where(r > 0, r, np.max(r))
    c = (r / np.exp(np.mean(np.log(r)))) ** p
    return c


def run(dataset, splits, bits, start, stop, tag):
    out = HERE / f"{dataset}_{bits}_{tag}.jsonl"
    done = set()
    if out.exists():
        done = {r["problem"] for r in map(json.loads, out.read_text().splitlines())}
    t0 = time.perf_counter()
    kw = {**qnn_admm_params(dataset, int(bits)), "n_init": 1}
    for j, (name, seed, fit_rows, real_rows, evals) in enumerate(qv.problems(dataset, splits)):
        if name in done or not start <= j < stop:
            continue
        phases = FPPhases(lambda i: timed_fit(admmnet.QNNADMM(**fp_phase_params(dataset), seed=seed + i), *fit_rows))
        fps, _ = phases.first(N)
        X, y = real_rows
        rec = {}
        for v, spec in VARIANTS.items():
            inits = []
            for i, fp in enumerate(fps):
                W = fp.weights()
                c = np.ones(X.shape[1]) if spec is None else column_scales(W[0], *spec)
                fpc = copy.copy(fp)
                fpc.weights = lambda W=W, c=c: [W[0] / c[None, :], *W[1:]]
                Xc = (X * c).astype(X.dtype)
                q = fit_finished(admmnet.QNNADMM(**kw, bits=int(bits), seed=seed + i), Xc, y, fp_model=fpc)
                inits.append(dict(loss=float(q.training_loss(Xc, y)),
                                  **{k: 100 * q.score((Xe * c).astype(Xe.dtype), ye) for k, (Xe, ye) in evals.items()}))
            rec[v] = inits
        with open(out, "a") as f:
            f.write(json.dumps(dict(problem=name, bits=str(bits), variants=rec)) + "\n")
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)


def report(dataset, bits):
    recs = {}
    for path in sorted(HERE.glob(f"{dataset}_{bits}_*.jsonl")):
        for r in map(json.loads, path.read_text().splitlines()):
            recs[r["problem"]] = r
    names = sorted(recs)
    scores = [k for k in recs[names[0]]["variants"]["none"][0] if k != "loss"]
    pick = lambda I: I[min(range(len(I)), key=lambda i: I[i]["loss"])]      # noqa: E731
    lines = [f"| {dataset} {bits} bit, {len(names)} problems, best of {N} by training loss | "
             + " | ".join(scores) + f" | paired difference ({scores[0]}) | single start, mean ({scores[0]}) |",
             "| --- " * (len(scores) + 3) + "|"]
    base = [pick(recs[n]["variants"]["none"]) for n in names]
    for v in VARIANTS:
        chosen = [pick(recs[n]["variants"][v]) for n in names]
        _, text = paired_difference([c[scores[0]] - b[scores[0]] for c, b in zip(chosen, base)])
        single = np.mean([i[scores[0]] for n in names for i in recs[n]["variants"][v]])
        lines.append(f"| {v} | " + " | ".join(f"{np.mean([c[s] for c in chosen]):.2f}" for s in scores)
                     + f" | {text if v != 'none' else ''} | {single:.2f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="seeds")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--bits", default="1")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--stop", type=int, default=10**9)
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not a.report:
        run(a.dataset, a.splits, a.bits, a.start, a.stop, f"{a.start}")
    report(a.dataset, a.bits)
