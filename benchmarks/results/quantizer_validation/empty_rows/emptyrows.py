"""Scratch (not part of the package): 1-bit units that lose every weight, and keeping one.

Diagnosis first: on the Seeds validation folds a ternary layer fitted by the layerwise quantizer
sometimes keeps no non-zero code in a row (the unit then outputs ``relu(b)``, a constant, and is
lost to a 5-unit layer), and sometimes a unit the FP network uses is active on no training row
after quantization. Each fit records, per layer, its empty rows and its dead units (active on
no training row) beside the FP network's.

Then the lever: every row keeps a code. With the scale alpha fixed, the projection onto ternary
codes with at least one non-zero per row is exact and simple: where the nearest codes of a row
are all 0 (every ``|v_j| < alpha / 2``), setting code j to ``sign(v_j)`` changes
``||v - alpha q||^2`` by ``alpha^2 - 2 alpha |v_j| > 0``, least for the largest ``|v_j|``, and a
second non-zero only adds another positive change. Variants (``--variant``):

* ``none``: the preset (the diagnosis alone);
* ``every``: that projection at every G-step of the layerwise ADMM (a patch of the ``project`` the
  quantizer calls; ``v`` the projected ``V + U``);
* ``final``: the ADMM as it is, then the final codes of an empty row given the one code at the
  largest ``|W0|`` (the FP weights) before the closed-form refit of scale and bias.

Each of the 5 initialisations of a problem is fitted alone (``n_init=1``, seed s + i, FP phases
shared through ``consensus.todo``) and recorded (training cross-entropy, held-out score); the
preset's rule, the lowest training cross-entropy of the 5, is read off the records. Records:
``<variant>-<dataset>-<bits>.jsonl`` beside this script (appended atomically, a rerun skips
stored problems). Forward passes on training rows choose, held-out rows only score; test rows
are never read.

    python -u benchmarks/results/quantizer_validation/empty_rows/emptyrows.py --dataset seeds --splits 10 --variant none every final
    python benchmarks/results/quantizer_validation/empty_rows/emptyrows.py --dataset seeds --report
"""
import argparse
import collections
import dataclasses
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, "benchmarks")
sys.path.insert(0, str(HERE.parent / "restart_selection"))

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
import admmnet.admm.layerwise as LW                         # noqa: E402
from admmnet.presets import qnn_admm_params                 # noqa: E402
from _runs import append_runs, fit_finished, load_runs, paired_difference   # noqa: E402
import consensus                                            # noqa: E402
from consensus import todo                                  # noqa: E402

INITS = 5
_project, _layer_admm = LW.project, LW._layer_admm


def keep_one_code(res, V, level_set):
    """``res`` (a :class:`ProjectionResult` of V) with one code ``sign(v_j)`` at the largest
    ``|v_j|`` of every row whose codes are all 0 (alpha unchanged); ``(res, rows fixed)``."""
    if not level_set.zero:
        return res, 0
    Q, Vn = np.array(res.Q), np.asarray(V)
    empty = np.flatnonzero(np.all(Q == 0, axis=1) & np.any(Vn != 0, axis=1))
    for r in empty:
        j = int(np.argmax(np.abs(Vn[r])))
        Q[r, j] = np.sign(Vn[r, j])
    if empty.size == 0:
        return res, 0
    Q = Q.astype(res.Q.dtype)
    G = (res.alpha * Q).astype(res.G.dtype)
    return dataclasses.replace(res, Q=Q, G=G, loss=float(np.sum((Vn - G) ** 2))), int(empty.size)


FIXED = [0]


def patch(variant):
    LW.project, LW._layer_admm = _project, _layer_admm
    if variant == "every":
        def project(V, level_set, **kw):
            res, k = keep_one_code(_project(V, level_set, **kw), V, level_set)
            FIXED[0] += k
            return res
        LW.project = project
    elif variant == "final":
        def layer_admm(gram, TaT, t_sum, m, level_set, **kw):
            res, G, alpha, residuals = _layer_admm(gram, TaT, t_sum, m, level_set, **kw)
            res, k = keep_one_code(res, kw["W0"], level_set)
            FIXED[0] += k
            return res, res.G, res.alpha, residuals
        LW._layer_admm = layer_admm


def structure(model, X):
    """Per layer: rows whose weights are all 0, and hidden units active on no row of X."""
    net = model.network_
    a = np.asarray(net.transform_input(X), dtype=np.float64).T
    Ws = [np.asarray(W, dtype=np.float64) for W in net.weights()]
    bs = [np.asarray(b, dtype=np.float64).reshape(-1, 1) for b in net.biases()]
    empty = [int(np.all(W == 0, axis=1).sum()) for W in Ws]
    dead = []
    for W, b in zip(Ws[:-1], bs[:-1]):
        z = W @ a + b
        dead.append(int((~(z > 0).any(axis=1)).sum()))
        a = np.maximum(z, 0)
    return {"empty_rows": empty, "dead_units": dead}


_PROBLEMS = consensus.qv.problems       # the unpatched one (run() may replace it, once per variant)


def other_folds(offset):
    """Seeds validation problems with the folds shuffled with seed s + offset instead of s
    (``quantizer_validation.problems(..., fold_offset=offset)``): another 5-fold partition of
    the same training rows, a second set of 50 problems to confirm a choice made on the first."""
    return lambda dataset, splits: _PROBLEMS(dataset, splits, offset)


def run(dataset, splits, bits, variant, offset=0):
    out = HERE / f"{variant}-{dataset}-{bits}{f'-folds{offset}' if offset else ''}.jsonl"
    if offset:
        consensus.qv.problems = other_folds(offset)
    done = {r["problem"] for r in load_runs(out)}
    patch(variant)
    t0 = time.perf_counter()
    try:
        for name, seed, real_rows, evals, fps, _ in todo(dataset, splits, INITS, "none"):
            if name in done:
                continue
            X, y = real_rows
            kw = {**qnn_admm_params(dataset, int(bits)), "n_init": 1}
            recs = []
            for i in range(INITS):
                before = FIXED[0]
                q = fit_finished(admmnet.QNNADMM(**kw, bits=int(bits), seed=seed + i), *real_rows, fp_model=fps[i])
                recs.append(dict(problem=name, init=i, loss=q.training_loss(X, y), train=q.score(X, y),
                                 held=[100 * q.score(*rows) for rows in evals.values()], fixed=FIXED[0] - before,
                                 quantized=structure(q, X), fp=structure(fps[i], X)))
            append_runs(out, recs)
            print(f"{variant} {name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        patch("none")


def picks(recs):
    """Problem -> the record of the preset's rule (lowest training cross-entropy of the 5)."""
    by = collections.defaultdict(list)
    for r in recs:
        by[r["problem"]].append(r)
    return {p: min(v, key=lambda r: r["loss"]) for p, v in by.items()}


def report(dataset, bits, offset=0):
    sfx = f"-folds{offset}" if offset else ""
    base = load_runs(HERE / f"none-{dataset}-{bits}{sfx}.jsonl")
    print(f"{dataset} {bits} bit(s), {len(picks(base))} problems, {INITS} starts each\n")
    print("Diagnosis (the preset's single starts, first held-out score), by the quantized network's structure:\n")
    print("| single starts | count | held-out % |")
    print("| --- | --- | --- |")
    rows = {"no empty row, no dead unit":
            lambda r: sum(r["quantized"]["empty_rows"]) + sum(r["quantized"]["dead_units"]) == 0,
            "an empty row": lambda r: sum(r["quantized"]["empty_rows"]) > 0,
            "an empty row where the FP unit is live": lambda r: any(
                e > 0 and (l == len(r["fp"]["dead_units"]) or r["fp"]["dead_units"][l] == 0)
                for l, e in enumerate(r["quantized"]["empty_rows"])),
            "a dead unit (not dead in FP)": lambda r: any(
                q > f for q, f in zip(r["quantized"]["dead_units"], r["fp"]["dead_units"])),
            "all": lambda r: True}
    for label, f in rows.items():
        sel = [r["held"][0] for r in base if f(r)]
        print(f"| {label} | {len(sel)} | {np.mean(sel):.2f} |")
    P0 = picks(base)
    chosen = list(P0.values())
    print(f"\nThe preset's picks with an empty row: {sum(sum(r['quantized']['empty_rows']) > 0 for r in chosen)} "
          f"of {len(chosen)}; with a dead unit: {sum(sum(r['quantized']['dead_units']) > 0 for r in chosen)}.\n")
    print("| variant | fits changed | single starts | against the preset | best of 5 (preset's rule) "
          "| against the preset |")
    print("| --- | --- | --- | --- | --- | --- |")
    ref = {(r["problem"], r["init"]): r["held"][0] for r in base}
    for variant in ("none", "every", "final"):
        recs = load_runs(HERE / f"{variant}-{dataset}-{bits}{sfx}.jsonl")
        if not recs:
            continue
        P = picks(recs)
        _, single = paired_difference([r["held"][0] - ref[(r["problem"], r["init"])] for r in recs])
        _, best = paired_difference([P[p]["held"][0] - P0[p]["held"][0] for p in P])
        print(f"| {variant} | {sum(r['fixed'] > 0 for r in recs)} of {len(recs)} | "
              f"{np.mean([r['held'][0] for r in recs]):.2f} | {single} | "
              f"{np.mean([P[p]['held'][0] for p in P]):.2f} | {best} |")
        if variant == "final":
            # the preset's pick (training cross-entropy of the fits as they are), then that start's
            # fit with the final codes kept non-empty
            same = {(r["problem"], r["init"]): r for r in recs}
            fixed = [same[(p, P0[p]["init"])]["held"][0] for p in P0]
            _, text = paired_difference([f - P0[p]["held"][0] for f, p in zip(fixed, P0)])
            print(f"| final, the preset's pick then repaired | | | | {np.mean(fixed):.2f} | {text} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="seeds")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--bits", default="1")
    p.add_argument("--variant", nargs="+", default=["none", "every", "final"], choices=["none", "every", "final"])
    p.add_argument("--fold-offset", type=int, default=0,
                   help="Seeds: shuffle the folds with seed s + this (another partition of the same rows)")
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not a.report:
        for v in a.variant:
            run(a.dataset, a.splits, a.bits, v, a.fold_offset)
    report(a.dataset, a.bits, a.fold_offset)
