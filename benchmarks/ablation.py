"""Ablation of QNN-ADMM's quantized-training levers, same seeds for every row.

Each row changes one thing against the row it names; every run uses the dataset's
standard split (Pendigits: writer-independent test; MNIST: official) and seeds
0..N-1, thesis level sets. Rows (``--bits`` 2 and 1 by default):

* ``quantize from iteration 0``: the schedule of admmnet < 0.4 (``fp_iter=0``: G from
  the first iteration, mu grows geometrically; no momentum, the preset's other values;
  Pendigits ridge 3 as its old quantized preset);
* ``FP phase, then rounding``: all iterations full precision (with the preset's
  momentum), then G = the projection of W; no output refit;
* ``+ layerwise quantizer``: G from :mod:`admmnet.admm.layerwise` instead; no refit;
* ``+ output refits``: the FP output refit before, the quantized one after;
* ``+ restarts``: the best of 5 whole fits by training loss (``n_init=5``);
* ``+ FP phase on distorted copies`` (Pendigits): the FP phase of every restart on the
  training rows and 4 distorted copies, the quantizer on the real rows (what
  ``admmnet train`` does);
* ``... without momentum``, ``... + 10 quantized iterations`` (after the quantizer,
  QNN-ADMM iterations on the quantized network: mu continuation, momentum with adaptive
  restart), ``... + coordinate descent on codes`` (``cd_sweeps=2`` in the layerwise
  quantizer), ``..., per-row scales`` (``granularity="row"``): one change each against the
  ``+ output refits`` row (one initialisation, real rows only).

The row that is the dataset's preset says so. Rows that share an FP phase take it from one
FP fit (``fit(..., fp_model=...)``, which gives the result of the whole fit,
``tests/test_layerwise.py``). Writes ``<out>/<dataset>.json`` (every run, machine, versions,
command) and prints a markdown table: test accuracy mean ± std per row and bit width.

    python benchmarks/ablation.py --dataset pendigits --seeds 3
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet.admm import solver as S
from admmnet.cli import environment
from admmnet.datasets import load_dataset
from admmnet.io import write_json
from admmnet.presets import AUGMENT, fp_phase_params, qnn_admm_params

from _runs import FPPhases, fit_finished, timed_fit

OLD_QUANTIZED = {"seeds": dict(ridge=0.1, momentum=0.0), "pendigits": dict(ridge=3.0, momentum=0.0),
                 "mnist": dict(max_iter=25, ridge=1e-3, momentum=0.0)}
RESTARTS = 5
BASE = "+ output refits"


def rows(dataset: str, bits: int) -> list[tuple[str, dict, dict, str | None]]:
    """(name, estimator keyword arguments, layerwise options, FP phase) of every row; the FP
    phase is "real" or "augmented" (shared FP fits on those rows, the quantizer on the real
    rows) or None (the whole fit on the real rows)."""
    pre = {**qnn_admm_params(dataset, bits), "bits": bits}
    equalize = pre.get("layerwise_equalize", "none")
    # the rows before the cross-layer equalization row quantize the FP network as it is
    eq_off = {"layerwise_equalize": "none"} if equalize != "none" else {}
    one = {**pre, "n_init": 1, **eq_off}
    n = pre["max_iter"]
    augment = AUGMENT.get(dataset, 0)
    out = [
        ("quantize from iteration 0", {**one, "fp_iter": 0, "layerwise": False, **OLD_QUANTIZED[dataset]}, {}, None),
        ("FP phase, then rounding", {**one, "layerwise": False, "refit_output": False}, {}, None),
        ("+ layerwise quantizer", {**one, "refit_output": False}, {}, None),
        (BASE, one, {}, "real"),
        (f"+ restarts (best of {RESTARTS} by training loss)", {**one, "n_init": RESTARTS}, {}, "real"),
    ]
    if augment:
        out.append((f"+ FP phase on {augment} distorted copies", {**one, "n_init": RESTARTS}, {}, "augmented"))
    if eq_off:
        out.append(("+ cross-layer equalization", {**one, "n_init": RESTARTS, "layerwise_equalize": equalize}, {},
                    "augmented" if augment else "real"))
    preset_row = (pre, "augmented" if augment else "real")
    out = [(name + (" (the preset)" if (kw, fp) == preset_row else ""), kw, lw, fp) for name, kw, lw, fp in out]
    return out + [
        (f"{BASE}, without momentum", {**one, "momentum": 0.0}, {}, None),
        (f"{BASE}, + 10 quantized iterations", {**one, "max_iter": n + 10, "fp_iter": n}, {}, None),
        (f"{BASE}, + coordinate descent on codes", one, {"cd_sweeps": 2}, "real"),
        (f"{BASE}, per-row scales", {**one, "granularity": "row"}, {}, "real"),
    ]


def run(data: dict, phases: dict, kw: dict, lw_extra: dict, fp: str | None, seed: int) -> dict:
    """One row's fit and scores; ``phases``: the shared FP phases ("real", "augmented")."""
    orig = S.start_quantized
    if lw_extra:                     # pass extra layerwise options through the switch
        def patched(*a, layerwise=None, **k):
            return orig(*a, layerwise=None if layerwise is None else {**layerwise, **lw_extra}, **k)
        S.start_quantized = patched
    X, y = data["real"]
    try:
        m = admmnet.QNNADMM(**kw, seed=seed)
        fit_kw, fp_seconds = {}, 0.0
        if fp is not None:
            fit_kw["fp_model"], fp_seconds = phases[fp].first(int(kw.get("n_init") or 1))
        t = time.perf_counter()
        fit_finished(m, X, y, **fit_kw)
        dt = time.perf_counter() - t + fp_seconds
    finally:
        S.start_quantized = orig
    return {"test_accuracy": m.score(*data["test"]), "train_accuracy": m.score(X, y),
            "seconds": dt, "final_stage": m.history_.final["stage"] if m.history_.final else None}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="pendigits", choices=("seeds", "pendigits", "mnist"))
    p.add_argument("--bits", nargs="+", type=int, default=[2, 1])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default="benchmarks/results/ablation")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    results = []
    for seed in range(args.seeds):
        augment = AUGMENT.get(args.dataset, 0)
        ds = load_dataset(args.dataset, split_seed=seed, augment=augment, augment_seed=seed)
        data = {"real": ds.original_train(), "augmented": (ds.X_train, ds.y_train), "test": (ds.X_test, ds.y_test)}
        fp_kw = fp_phase_params(args.dataset)      # the quantized presets' FP phase
        # the FP phases shared by the rows and bit widths: initialisation i from seed + i
        phases = {k: FPPhases(lambda i, k=k: timed_fit(admmnet.QNNADMM(**fp_kw, seed=seed + i), *data[k]))
                  for k in ("real", "augmented")}
        for bits in args.bits:
            for name, kw, extra, fp in rows(args.dataset, bits):
                r = run(data, phases, kw, extra, fp, seed)
                r.update(row=name, bits=bits, seed=seed)
                results.append(r)
                print(f"seed {seed} {bits} bits  {name}: {100 * r['test_accuracy']:.2f}%  ({r['seconds']:.1f} s)",
                      file=sys.stderr, flush=True)
    names = [r[0] for r in rows(args.dataset, args.bits[0])]
    lines = [f"Ablation on {args.dataset} (test accuracy %, mean ± std over seeds 0..{args.seeds - 1}; "
             "seconds per run in parentheses)", "",
             "| lever | " + " | ".join(f"{b} bits" for b in args.bits) + " |", "| --- |" + " --- |" * len(args.bits)]
    table = {}
    for n in names:
        cells = []
        for b in args.bits:
            rs = [r for r in results if r["row"] == n and r["bits"] == b]
            acc = [100 * r["test_accuracy"] for r in rs]
            table[f"{n}/{b}"] = {"mean": float(np.mean(acc)), "std": float(np.std(acc)),
                                 "seconds_mean": float(np.mean([r["seconds"] for r in rs]))}
            cells.append(f"{np.mean(acc):.2f} ± {np.std(acc):.2f} ({table[f'{n}/{b}']['seconds_mean']:.0f} s)")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    write_json(out / f"{args.dataset}.json", {"command": " ".join(["python"] + sys.argv), "environment": environment(),
                                             "table": table, "runs": results, "markdown": text,
                                             "seconds_this_invocation": time.perf_counter() - t_all})
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
