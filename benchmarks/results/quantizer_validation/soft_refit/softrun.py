"""Scratch (not part of the package): the quantized output refit on soft targets of the FP phases.

A quantized fit ends with a refit of the output layer on the quantized hidden features (a convex
one-layer cross-entropy fit, alternated with the projection; ``admmnet.admm.solver.refit_output``).
Here its targets become ``(1 - w) onehot(y) + w p``, ``p`` the mean class probabilities of the
fit's FP phases (the 5 restarts' FP networks, which a restarted fit trains anyway) on the training
rows: distillation into the last layer only, still layer-local and gradient-free (the hidden
layers and the FP phases are untouched; the restart is still kept by the hard-label
cross-entropy). ``w = 0`` is the preset. The fold's held-out rows only score.

    python -u benchmarks/results/quantizer_validation/soft_refit/softrun.py --dataset seeds --splits 10 --bits 1 \
        --w 0 0.3 0.6
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
import quantizer_validation as qv                           # noqa: E402
from admmnet.admm import solver as S                        # noqa: E402
from admmnet.presets import fp_phase_params, qnn_admm_params  # noqa: E402
from _runs import FPPhases, append_run, fit_finished, load_runs, paired_difference, timed_fit  # noqa: E402

HERE = Path(__file__).parent
SOFT = {}
_refit = S.refit_output


def soft_refit(state, Y, activation, level_set, params, kern, **kw):
    if level_set is not None and SOFT.get("w", 0) > 0:
        P = SOFT["P"].astype(Y.dtype)
        assert P.shape == Y.shape, (P.shape, Y.shape)
        Y = (1 - SOFT["w"]) * Y + SOFT["w"] * P
    return _refit(state, Y, activation, level_set, params, kern, **kw)


S.refit_output = soft_refit


def run(dataset, splits, bits, ws):
    out = HERE / f"{dataset}.jsonl"
    done = {(r["problem"], r["bits"], r["w"]) for r in load_runs(out)}
    t0 = time.perf_counter()
    for name, seed, fit_rows, real_rows, evals in qv.problems(dataset, splits):
        if all((name, str(bits), w) in done for w in ws):
            continue
        kw = qnn_admm_params(dataset, int(bits))
        n = kw.get("n_init", 1)
        phases = FPPhases(lambda i: timed_fit(admmnet.QNNADMM(**fp_phase_params(dataset), seed=seed + i), *fit_rows))
        fps, _ = phases.first(n)
        X, y = real_rows
        SOFT["P"] = np.mean([m.predict_proba(X) for m in fps], axis=0).T      # classes x rows, as Y
        for w in ws:
            if (name, str(bits), w) in done:
                continue
            SOFT["w"] = w
            q = fit_finished(admmnet.QNNADMM(**kw, bits=int(bits), seed=seed), X, y, fp_model=fps)
            append_run(out, dict(problem=name, bits=str(bits), w=w,
                                 **{k: 100 * q.score(*rows) for k, rows in evals.items()}))
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)


def report(dataset, bits):
    rows = [r for r in load_runs(HERE / f"{dataset}.jsonl") if r["bits"] == str(bits)]
    scores = [k for k in rows[0] if k not in ("problem", "bits", "w")]
    base = {r["problem"]: r for r in rows if r["w"] == 0}
    print(f"| bits | w | problems | {' | '.join(scores)} | paired difference ({scores[0]}) |")
    print("| --- | --- | --- | " + "--- | " * len(scores) + "--- |")
    for w in sorted({r["w"] for r in rows}):
        rs = [r for r in rows if r["w"] == w and r["problem"] in base]
        _, text = paired_difference([r[scores[0]] - base[r["problem"]][scores[0]] for r in rs])
        print(f"| {bits} | {w} | {len(rs)} | " + " | ".join(f"{np.mean([r[s] for r in rs]):.2f}" for s in scores)
              + f" | {text} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="seeds")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--bits", default="1")
    p.add_argument("--w", type=float, nargs="+", default=[0.0, 0.3, 0.6])
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not a.report:
        run(a.dataset, a.splits, a.bits, a.w)
    report(a.dataset, a.bits)
