"""Scratch (not part of the package): can the restarts choose by agreement instead of loss?

Records, per validation problem of ``benchmarks/quantizer_validation.py`` and per initialisation
i = 0..N-1 (``n_init=1``, seed s + i, its FP phase from the shared FP phases), the quantized and
the FP network's class probabilities on the training rows and on unlabelled neighbours of them
(4 copies, x + 0.3 noise, standardised features), the training cross-entropy and the held-out
score (``records/<dataset>-<bits>-<problem>.npz``, ignored). Selection rules are read off the
records (``--report``); forward passes on training rows (and their noisy copies) only choose,
held-out rows only score, test rows are never read.

    python -u benchmarks/results/quantizer_validation/restart_selection/consensus.py --dataset seeds --splits 10 --bits 1
    python benchmarks/results/quantizer_validation/restart_selection/consensus.py --dataset seeds --bits 1 --report
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
import quantizer_validation as qv                           # noqa: E402
from admmnet.presets import fp_phase_params, qnn_admm_params  # noqa: E402
from _runs import FPPhases, fit_finished, paired_difference, timed_fit   # noqa: E402

HERE = Path(__file__).parent / "records"


def todo(dataset, splits, n, stem, first=0):
    """``(problem, seed, quantizer rows, {score: rows}, FP phases of the first n initialisations,
    record path)`` of every validation problem (splits >= first) whose record
    ``records/<stem>-<problem>.npz`` does not exist yet."""
    HERE.mkdir(exist_ok=True)
    for name, seed, fit_rows, real_rows, evals in qv.problems(dataset, splits):
        out = HERE / f"{stem}-{name}.npz"
        if seed < first or out.exists():
            continue
        phases = FPPhases(lambda i: timed_fit(admmnet.QNNADMM(**fp_phase_params(dataset), seed=seed + i), *fit_rows))
        yield name, seed, real_rows, evals, phases.first(n)[0], out


def run(dataset, first, splits, bits, n):
    t0 = time.perf_counter()
    for name, seed, real_rows, evals, fps, out in todo(dataset, splits, n, f"{dataset}-{bits}", first):
        X, y = real_rows
        rng = np.random.default_rng(1000 + seed)
        Xn = np.concatenate([X + 0.3 * rng.standard_normal(X.shape) for _ in range(4)]).astype(X.dtype)
        kw = {**qnn_admm_params(dataset, int(bits)), "n_init": 1}
        rec = {k: [] for k in ("loss", "held", "pq", "pf", "nq", "nf")}
        for i in range(n):
            q = fit_finished(admmnet.QNNADMM(**kw, bits=int(bits), seed=seed + i), *real_rows, fp_model=fps[i])
            rec["loss"].append(q.training_loss(X, y))
            rec["held"].append([100 * q.score(*rows) for rows in evals.values()])
            rec["pq"].append(q.predict_proba(X)); rec["pf"].append(fps[i].predict_proba(X))
            rec["nq"].append(q.predict_proba(Xn)); rec["nf"].append(fps[i].predict_proba(Xn))
        np.savez(out, y=y, classes=q.classes_, **{k: np.asarray(v) for k, v in rec.items()})
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)


def rules():
    def agree(P, ref):                 # fraction of rows where argmax P == argmax ref
        return (P.argmax(-1) == ref.argmax(-1)[None]).mean(-1)

    def kl(ref, P):                    # mean KL(ref || P) over rows
        return (ref[None] * (np.log(ref[None] + 1e-12) - np.log(P + 1e-12))).sum(-1).mean(-1)

    return {
        "cross-entropy (preset)": lambda r, n: np.argmin(r["loss"][:n]),
        "FP phase's own agreement (train)": lambda r, n: np.argmax((r["pq"][:n].argmax(-1) == r["pf"][:n].argmax(-1)).mean(-1)),
        "consensus of quantized (train)": lambda r, n: np.argmax(agree(r["pq"][:n], r["pq"][:n].mean(0))),
        "consensus of quantized (noisy copies)": lambda r, n: np.argmax(agree(r["nq"][:n], r["nq"][:n].mean(0))),
        "consensus of FP (noisy copies)": lambda r, n: np.argmax(agree(r["nq"][:n], r["nf"][:n].mean(0))),
        "KL to mean FP (train)": lambda r, n: np.argmin(kl(r["pf"][:n].mean(0), r["pq"][:n])),
        "KL to mean FP (noisy copies)": lambda r, n: np.argmin(kl(r["nf"][:n].mean(0), r["nq"][:n])),
        "KL to mean quantized (noisy copies)": lambda r, n: np.argmin(kl(r["nq"][:n].mean(0), r["nq"][:n])),
        "oracle (held-out)": lambda r, n: np.argmax(r["held"][:n, 0]),
    }


def load_records(stem, first, splits):
    """The records ``records/<stem>-split<s>-fold<f>.npz`` of splits first..splits-1."""
    recs = []
    for f in sorted(HERE.glob(f"{stem}-*.npz")):
        s = int(f.stem[len(stem) + 1:].split("-")[0].replace("split", ""))
        if first <= s < splits:
            recs.append(dict(np.load(f)))
    return recs


def rule_rows(recs, R):
    """One table row per number of starts (5, 10) and rule of ``R`` (name -> ``pick(record, n)``,
    the start it keeps of the first n): the kept starts' mean held-out scores and the paired
    difference from the preset's rule (lowest training cross-entropy of the first 5)."""
    base = [r["held"][np.argmin(r["loss"][:5])] for r in recs]
    for n in (5, 10):
        for name, pick in R.items():
            chosen = [r["held"][pick(r, n)] for r in recs]
            _, text = paired_difference([c[0] - b[0] for c, b in zip(chosen, base)])
            print(f"| {n} | {name} | " + " | ".join(f"{np.mean([c[j] for c in chosen]):.2f}"
                                              for j in range(len(chosen[0]))) + f" | {text} |")


def report(dataset, bits, first, splits):
    recs = load_records(f"{dataset}-{bits}", first, splits)
    print(f"{dataset} {bits} bits, {len(recs)} problems (splits {first}..{splits - 1})")
    rule_rows(recs, rules())


def main(run, report):
    """The command line of this script and of the others that read its problems (sharpness.py):
    fit and record the problems not recorded yet, then print the report."""
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="seeds")
    p.add_argument("--first-split", type=int, default=0)
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--bits", default="1")
    p.add_argument("--inits", type=int, default=10)
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not a.report:
        run(a.dataset, a.first_split, a.splits, a.bits, a.inits)
    report(a.dataset, a.bits, a.first_split, a.splits)


if __name__ == "__main__":
    main(run, report)
