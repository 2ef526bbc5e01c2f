"""Scratch (not part of the package): which restart a low-bit fit should keep.

``QNNADMM(n_init=5)`` keeps the initialisation whose quantized network has the lowest training
cross-entropy. This fits every initialisation i = 0..N-1 of each validation problem of
``benchmarks/quantizer_validation.py`` on its own (``n_init=1``, seed s + i, its FP phase from
the shared FP phases: the i-th fit of a restarted run) and records, per initialisation, the
training cross-entropy and training accuracy on the quantizer's rows and the validation scores.
Selection rules are then read off the records (``--report``): lowest cross-entropy (the preset),
highest training accuracy (ties by cross-entropy), each over the first 5 and the first 10
initialisations. Forward passes on training rows only choose; test rows are never read.

    python -u benchmarks/results/quantizer_validation/restart_selection/pick.py --dataset seeds --splits 10 --bits 1 --inits 10
    python benchmarks/results/quantizer_validation/restart_selection/pick.py --dataset seeds --report
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
import quantizer_validation as qv                           # noqa: E402
from admmnet.presets import fp_phase_params, qnn_admm_params  # noqa: E402
from _runs import FPPhases, fit_finished, paired_difference, timed_fit   # noqa: E402

HERE = Path(__file__).parent


def run(dataset, splits, bits_list, n):
    out = HERE / f"{dataset}.jsonl"
    done = set()
    if out.exists():
        done = {(r["problem"], r["bits"]) for r in map(json.loads, out.read_text().splitlines())}
    t0 = time.perf_counter()
    for name, seed, fit_rows, real_rows, evals in qv.problems(dataset, splits):
        if all((name, str(b)) in done for b in bits_list):
            continue
        phase_kw = fp_phase_params(dataset)
        phases = FPPhases(lambda i: timed_fit(admmnet.QNNADMM(**phase_kw, seed=seed + i), *fit_rows))
        fps, _ = phases.first(n)
        for bits in bits_list:
            if (name, str(bits)) in done:
                continue
            kw = {**qnn_admm_params(dataset, int(bits)), "n_init": 1}
            inits = []
            for i in range(n):
                q = fit_finished(admmnet.QNNADMM(**kw, bits=int(bits), seed=seed + i), *real_rows, fp_model=fps[i])
                X, y = real_rows
                inits.append(dict(loss=float(q.training_loss(X, y)), train_acc=100 * q.score(X, y),
                                  **{k: 100 * q.score(*rows) for k, rows in evals.items()}))
            with open(out, "a") as f:
                f.write(json.dumps(dict(problem=name, bits=str(bits), inits=inits)) + "\n")
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)


RULES = {
    "cross-entropy (preset)": lambda I: min(range(len(I)), key=lambda i: I[i]["loss"]),
    "training accuracy, ties by cross-entropy": lambda I: min(range(len(I)), key=lambda i: (-I[i]["train_acc"], I[i]["loss"])),
}


def report(dataset):
    rows = [json.loads(line) for line in (HERE / f"{dataset}.jsonl").read_text().splitlines()]
    scores = [k for k in rows[0]["inits"][0] if k not in ("loss", "train_acc")]
    lines = ["| bits | rule | starts | problems | " + " | ".join(scores) + f" | paired difference ({scores[0]}) |",
             "| --- | --- | --- | --- | " + "--- | " * len(scores) + "--- |"]
    for bits in sorted({r["bits"] for r in rows}):
        rs = [r for r in rows if r["bits"] == bits]
        base = [r["inits"][RULES["cross-entropy (preset)"](r["inits"][:5])] for r in rs]
        for n in (5, 10):
            if any(len(r["inits"]) < n for r in rs):
                continue
            for rule, pick in RULES.items():
                chosen = [r["inits"][pick(r["inits"][:n])] for r in rs]
                _, text = paired_difference([c[scores[0]] - b[scores[0]] for c, b in zip(chosen, base)])
                lines.append(f"| {bits} | {rule} | {n} | {len(rs)} | "
                             + " | ".join(f"{np.mean([c[s] for c in chosen]):.2f}" for s in scores) + f" | {text} |")
    print("\n".join(lines))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="seeds")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--bits", nargs="+", default=["1"])
    p.add_argument("--inits", type=int, default=10)
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not a.report:
        run(a.dataset, a.splits, a.bits, a.inits)
    report(a.dataset)
