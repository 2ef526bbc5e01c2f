"""Scratch (not part of the package): choose a low-bit fit's restart on rows it was not fitted on.

Every forward-only rule on the training rows failed to pick among the 1-bit restarts
(``../restart_selection``: the preset's pick 92.61, the oracle of 5 starts 95.23 on the 50 Seeds
folds). This scores the standard alternative: each initialisation i is fitted (its own FP phase,
then the preset's quantizer) on a stratified 80% of the quantizer's rows and scored on the other
20% (rows of the training part only); the restart with the best inner held-out accuracy (ties by
inner cross-entropy) is kept, fitted on 80% of the rows. Two ways to draw the inner split:
``bag`` (restart i draws its own split, seed 1000 + i) and ``shared`` (one split, seed 1000, for
all restarts). Also read off: the full-row fit of the chosen seed (``../restart_selection``'s
records of the same seeds, fitted on all the rows). The fold's held-out rows only score.

    python -u benchmarks/results/quantizer_validation/restart_holdout/holdout.py --dataset seeds --splits 10 --bits 1
    python benchmarks/results/quantizer_validation/restart_holdout/holdout.py --dataset seeds --report
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
import quantizer_validation as qv                           # noqa: E402
from admmnet.datasets._preprocess import stratified_split   # noqa: E402
from admmnet.presets import fp_phase_params, qnn_admm_params  # noqa: E402
from _runs import append_run, fit_finished, load_runs, paired_difference  # noqa: E402

HERE = Path(__file__).parent


def run(dataset, splits, bits, n, modes):
    out = HERE / f"{dataset}.jsonl"
    done = {(r["problem"], r["bits"], r["mode"]) for r in load_runs(out)}
    t0 = time.perf_counter()
    for name, seed, fit_rows, real_rows, evals in qv.problems(dataset, splits):
        assert fit_rows is real_rows, "one row set for both phases (not Pendigits' copies)"
        X, y = real_rows
        for mode in modes:
            if (name, str(bits), mode) in done:
                continue
            inits = []
            for i in range(n):
                tr, va = stratified_split(y, 0.2, 1000 + (i if mode == "bag" else 0))
                fp = fit_finished(admmnet.QNNADMM(**fp_phase_params(dataset), seed=seed + i), X[tr], y[tr])
                kw = {**qnn_admm_params(dataset, int(bits)), "n_init": 1}
                q = fit_finished(admmnet.QNNADMM(**kw, bits=int(bits), seed=seed + i), X[tr], y[tr], fp_model=fp)
                inits.append(dict(loss=float(q.training_loss(X[tr], y[tr])),
                                  inner_loss=float(q.training_loss(X[va], y[va])),
                                  inner_acc=100 * q.score(X[va], y[va]),
                                  **{k: 100 * q.score(*rows) for k, rows in evals.items()}))
            append_run(out, dict(problem=name, bits=str(bits), mode=mode, inits=inits))
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)


def report(dataset):
    rows = load_runs(HERE / f"{dataset}.jsonl")
    full = {(r["problem"], r["bits"]): r["inits"]
            for r in load_runs(HERE.parent / "restart_selection" / f"{dataset}.jsonl")}
    lines = ["| bits | inner split | rule | problems | held-out | paired difference against the preset's pick |",
             "| --- | --- | --- | --- | --- | --- |"]
    for (bits, mode) in sorted({(r["bits"], r["mode"]) for r in rows}):
        rs = [r for r in rows if r["bits"] == bits and r["mode"] == mode]
        base = []
        for r in rs:
            F = full[(r["problem"], bits)][:5]
            base.append(F[min(range(5), key=lambda i: F[i]["loss"])]["held-out"])
        n = len(rs[0]["inits"])
        pick = [max(range(n), key=lambda i: (I["inits"][i]["inner_acc"], -I["inits"][i]["inner_loss"])) for I in rs]
        lowest = lambda I, key: I[min(range(n), key=lambda i: I[i][key])]["held-out"]     # noqa: E731
        cands = {
            "preset (5 starts, all rows, lowest training CE)": base,
            "one start on 80% of the rows": [r["inits"][0]["held-out"] for r in rs],
            "80% fit, lowest training CE": [lowest(r["inits"], "loss") for r in rs],
            "80% fit, best inner held-out": [r["inits"][p]["held-out"] for r, p in zip(rs, pick)],
            "80% fit, lowest inner CE": [lowest(r["inits"], "inner_loss") for r in rs],
            "all-row fit of the seed with the best inner held-out":
                [full[(r["problem"], bits)][p]["held-out"] for r, p in zip(rs, pick)],
            "oracle of the 80% fits": [max(x["held-out"] for x in r["inits"]) for r in rs],
        }
        for rule, v in cands.items():
            _, text = paired_difference([a - b for a, b in zip(v, base)])
            lines.append(f"| {bits} | {mode} | {rule} | {len(rs)} | {np.mean(v):.2f} | {text} |")
    print("\n".join(lines))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="seeds")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--bits", default="1")
    p.add_argument("--inits", type=int, default=5)
    p.add_argument("--modes", nargs="+", default=["bag", "shared"])
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not a.report:
        run(a.dataset, a.splits, a.bits, a.inits, a.modes)
    report(a.dataset)
