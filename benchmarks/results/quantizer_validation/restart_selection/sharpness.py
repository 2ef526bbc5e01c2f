"""Scratch (not part of the package): can the restarts choose by flatness instead of loss?

A restart whose training loss barely moves when its weights are perturbed sits in a flat
region, the usual forward-only proxy of generalisation (Keskar et al. 2017; the PAC-Bayes
bound's expected loss under weight noise). Records, per validation problem of
``benchmarks/quantizer_validation.py`` and per initialisation i = 0..N-1 (``n_init=1``, seed
s + i, its FP phase from the shared FP phases), the training cross-entropy of the quantized and
of the FP network with every weight matrix perturbed, ``W_l + sigma * rms(W_l) * E`` (E standard
normal, 32 draws shared by the restarts, biases untouched), for sigma in SIGMAS, beside the
unperturbed loss and the held-out score (``records/sharp-<dataset>-<bits>-<problem>.npz``,
ignored). Forward passes on training rows only choose, held-out rows only score, test rows are
never read.

    python -u benchmarks/results/quantizer_validation/restart_selection/sharpness.py --dataset seeds --splits 10 --bits 1
    python benchmarks/results/quantizer_validation/restart_selection/sharpness.py --dataset seeds --bits 1 --report
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np                                          # noqa: E402

import admmnet                                              # noqa: E402
from admmnet.presets import qnn_admm_params                 # noqa: E402
from _runs import fit_finished                              # noqa: E402
from consensus import load_records, main, rule_rows, todo   # noqa: E402

SIGMAS = (0.05, 0.1, 0.2, 0.4)
DRAWS = 32


def perturbed_losses(model, X, y, noise):
    """Mean training cross-entropy of ``model`` with ``W_l + sigma rms(W_l) E_l`` for every sigma
    in SIGMAS, over the draws in ``noise`` (a list over draws of lists over layers of E_l)."""
    net = model.network_
    A0 = np.asarray(net.transform_input(X), dtype=np.float64).T
    Ws = [np.asarray(W, dtype=np.float64) for W in net.weights()]
    bs = [np.asarray(b, dtype=np.float64).reshape(-1, 1) for b in net.biases()]
    idx = np.searchsorted(model.classes_, y)
    out = []
    for sigma in SIGMAS:
        vals = []
        for E in noise:
            a = A0
            for l, (W, b) in enumerate(zip(Ws, bs)):
                rms = np.sqrt(np.mean(W ** 2))
                z = (W + sigma * rms * E[l]) @ a + b
                a = np.maximum(z, 0) if l < len(Ws) - 1 else z
            z = a - a.max(axis=0, keepdims=True)
            lp = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
            vals.append(-lp[idx, np.arange(idx.size)].mean())
        out.append(np.mean(vals))
    return out


def run(dataset, first, splits, bits, n):
    t0 = time.perf_counter()
    for name, seed, real_rows, evals, fps, out in todo(dataset, splits, n, f"sharp-{dataset}-{bits}", first):
        X, y = real_rows
        kw = {**qnn_admm_params(dataset, int(bits)), "n_init": 1}
        rng = np.random.default_rng(1000 + seed)
        shapes = [W.shape for W in fps[0].weights()]
        noise = [[rng.standard_normal(s) for s in shapes] for _ in range(DRAWS)]
        rec = {k: [] for k in ("loss", "held", "sq", "sf")}
        for i in range(n):
            q = fit_finished(admmnet.QNNADMM(**kw, bits=int(bits), seed=seed + i), *real_rows, fp_model=fps[i])
            rec["loss"].append(q.training_loss(X, y))
            rec["held"].append([100 * q.score(*rows) for rows in evals.values()])
            rec["sq"].append(perturbed_losses(q, X, y, noise))
            rec["sf"].append(perturbed_losses(fps[i], X, y, noise))
        np.savez(out, **{k: np.asarray(v) for k, v in rec.items()})
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)


def report(dataset, bits, first, splits):
    recs = load_records(f"sharp-{dataset}-{bits}", first, splits)
    print(f"{dataset} {bits} bits, {len(recs)} problems (splits {first}..{splits - 1})")
    keys = {"cross-entropy (preset)": lambda r: r["loss"]}
    for j, s in enumerate(SIGMAS):
        keys[f"quantized, sigma {s}"] = lambda r, j=j: r["sq"][:, j]
        keys[f"FP, sigma {s}"] = lambda r, j=j: r["sf"][:, j]
        keys[f"quantized, sharpness at sigma {s}"] = lambda r, j=j: r["sq"][:, j] - r["loss"]
    keys["oracle (held-out)"] = lambda r: -r["held"][:, 0]
    k = recs[0]["held"].shape[1]
    print("| starts | rule | " + " | ".join(f"held-out % ({j})" if k > 1 else "held-out %" for j in range(k))
          + " | against the preset |")
    print("| --- " * (k + 3) + "|")
    rule_rows(recs, {name: lambda r, n, key=key: np.argmin(key(r)[:n]) for name, key in keys.items()})


if __name__ == "__main__":
    main(run, report)
