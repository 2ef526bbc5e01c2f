r"""Two full-precision levers for the small-data cells, scored on validation rows only.

The Seeds and Pendigits FP cells of the issue's targets sat a few hundredths under them
(docs/quantized_training.md, "The cells that were under target", which lists them too). This script measures two
levers that need no option of the estimator, on the validation problems of
``quantizer_validation.py`` (Seeds: 5-fold cross-validation on the training rows of splits
0..N-1; Pendigits: the writer-dependent 80/20 splits, scored on the held-out rows and on 3
distorted copies of them); the test rows are never read.

* ``--lever average`` (tail averaging of the ADMM iterates, Polyak-Ruppert): the preset's FP
  fit records its network after every iteration (``fit(callback=...)``); for each k in
  ``--tails``, the hidden layers are averaged over the last k iterations,

  .. math:: \bar W_l = \frac1k \sum_{t=T-k+1}^{T} W_l^{(t)}, \qquad
            \bar b_l = \frac1k \sum_{t=T-k+1}^{T} b_l^{(t)} \quad (l < L),

  and the output layer is refitted on the averaged network's features exactly as a fit ends
  (:func:`admmnet.admm.updates.refit_output_layer`, ridge ``refit_ridge * m``). ``k = 1`` is
  the fitted network itself up to the refit's tolerance (a check of the harness). Every
  update stays layer-local: the average is of iterates, the refit a convex one-layer fit.
* ``--lever noise`` (Gaussian-noise copies, a data-side Tikhonov regulariser): the FP fit on
  the training rows plus k copies ``X + sigma N(0, I)`` (standardised features) for each
  ``(k, sigma)`` of ``--copies``.

Differences are paired (the same problems), mean ± standard error, with how many problems
moved up and down. Writes ``<out>/<dataset>_<lever>.json`` (every score, machine, versions,
command) and prints the table.

    python benchmarks/small_data_levers.py --dataset seeds --lever average
    python benchmarks/small_data_levers.py --dataset pendigits --splits 5 --lever average
    python benchmarks/small_data_levers.py --dataset seeds --lever noise
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet.admm import updates as U
from admmnet.admm.activations import get_activation
from admmnet.admm.solver import forward
from admmnet.cli import environment
from admmnet.io import write_json
from admmnet.kernels import get_kernels
from admmnet.presets import qnn_admm_params

from _runs import paired_difference
from quantizer_validation import problems

RELU = get_activation("relu")


def averaged_network(iterates, k: int, X, y_index, n_classes: int, refit_ridge: float, activation=RELU):
    """The hidden layers averaged over the last ``k`` of ``iterates`` (per iteration a list of
    ``(W_l, b_l)``), the output layer refitted on their features (module docstring)."""
    tail = iterates[-k:]
    L = len(tail[0])
    Ws = [np.mean([t[l][0] for t in tail], axis=0) for l in range(L)]
    bs = [np.mean([t[l][1] for t in tail], axis=0).reshape(-1, 1) for l in range(L)]
    a = activation(forward(Ws[:-1], bs[:-1], np.asarray(X, dtype=np.float64).T, activation))
    Y = np.eye(n_classes)[y_index].T
    kern = get_kernels(a)
    W, b, _ = U.refit_output_layer(a, Y, Ws[-1], bs[-1], ridge=refit_ridge * a.shape[1],
                                   xent=kern.softmax_xent, factor=kern.spd_factor)
    return Ws[:-1] + [W], bs[:-1] + [np.asarray(b).reshape(-1, 1)]


def run_average(dataset, seed, fit_rows, evals, tails):
    kw = qnn_admm_params(dataset, None)
    iterates = []
    cb = lambda model, rec: iterates.append([(l.weight.astype(np.float64), l.bias.astype(np.float64))
                                             for l in model.network_.layers])
    X, y = fit_rows
    q = admmnet.QNNADMM(**kw, seed=seed).fit(X, y, callback=cb)
    out = {"preset": {n: 100 * q.score(*r) for n, r in evals.items()}}
    act = get_activation(q.network_.activation)
    y_index = np.searchsorted(q.classes_, y)
    for k in tails:
        Ws, bs = averaged_network(iterates, min(k, len(iterates)), X, y_index, q.classes_.size, q.refit_ridge, act)
        out[f"last {k}"] = {n: 100 * float(np.mean(q.classes_[forward(Ws, bs, np.asarray(Xe, np.float64).T,
                                                                      act).argmax(0)] == ye))
                            for n, (Xe, ye) in evals.items()}
    return out


def run_noise(dataset, seed, fit_rows, evals, copies):
    kw = qnn_admm_params(dataset, None)
    X, y = fit_rows
    out = {}
    for k, sigma in [(0, 0.0)] + copies:
        rng = np.random.default_rng(10_000 + seed)
        Xa = np.concatenate([X] + [X + sigma * rng.standard_normal(X.shape) for _ in range(k)]).astype(X.dtype)
        q = admmnet.QNNADMM(**kw, seed=seed).fit(Xa, np.concatenate([y] * (k + 1)))
        out["preset" if k == 0 else f"{k} copies, sigma {sigma}"] = {n: 100 * q.score(*r) for n, r in evals.items()}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("seeds", "pendigits"), default="seeds")
    p.add_argument("--splits", type=int, default=None, help="split seeds 0..N-1 (default: seeds 10, pendigits 5)")
    p.add_argument("--lever", choices=("average", "noise"), default="average")
    p.add_argument("--tails", type=int, nargs="+", default=[1, 10, 20, 40, 80],
                   help="--lever average: the numbers of last iterations averaged")
    p.add_argument("--copies", type=json.loads, default=[[2, 0.1], [4, 0.1], [4, 0.2], [4, 0.3]],
                   help="--lever noise: JSON list of [copies, sigma]")
    p.add_argument("--out", default="benchmarks/results/small_data_levers")
    args = p.parse_args(argv)
    splits = args.splits if args.splits is not None else {"seeds": 10, "pendigits": 5}[args.dataset]
    if min(args.tails) < 1:
        raise SystemExit("--tails: every number of iterations must be >= 1")
    copies = [(int(k), float(s)) for k, s in args.copies]
    if any(k < 1 or s < 0 for k, s in copies):
        raise SystemExit("--copies: each entry is [copies >= 1, sigma >= 0]")
    t_all = time.perf_counter()
    runs, scores = [], None
    for name, seed, fit_rows, _, evals in problems(args.dataset, splits):
        scores = list(evals)
        res = (run_average(args.dataset, seed, fit_rows, evals, args.tails) if args.lever == "average"
               else run_noise(args.dataset, seed, fit_rows, evals, copies))
        runs.append({"problem": name, **res})
        print(f"{name}: done ({time.perf_counter() - t_all:.0f} s)", file=sys.stderr, flush=True)
    settings = [k for k in runs[0] if k != "problem"]
    lines = ["| setting | problems | " + " | ".join(scores) + " | paired difference from the preset |",
             "| --- | --- | " + "--- | " * len(scores) + "--- |"]
    table = {}
    for s in settings:
        means = {n: float(np.mean([r[s][n] for r in runs])) for n in scores}
        diff, text = paired_difference([r[s][scores[0]] - r["preset"][scores[0]] for r in runs])
        table[s] = {**means, **diff}
        lines.append(f"| {s} | {len(runs)} | " + " | ".join(f"{means[n]:.2f}" for n in scores) + f" | {text} |")
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{args.dataset}_{args.lever}.json",
               {"command": " ".join(["python"] + sys.argv), "environment": environment(), "table": table,
                "runs": runs, "markdown": text, "seconds": time.perf_counter() - t_all})
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
