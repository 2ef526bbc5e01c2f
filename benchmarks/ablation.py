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
* ``+ output refits (the preset)``: the FP output refit before, the quantized one after
  (the default preset);
* ``preset without momentum``: the preset with ``momentum=0``;
* ``preset + 10 quantized iterations``: after the quantizer, 10 QNN-ADMM iterations on
  the quantized network (mu continuation from ``mu``, momentum with adaptive restart);
* ``preset + coordinate descent on codes``: ``cd_sweeps=2`` in the layerwise quantizer;
* ``preset, per-row scales``: ``granularity="row"``.

Writes ``<out>/<dataset>.json`` (every run, machine, versions, command) and prints a
markdown table: test accuracy mean ± std per row and bit width.

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
from admmnet.presets import qnn_admm_params

OLD_QUANTIZED = {"seeds": dict(ridge=0.1, momentum=0.0), "pendigits": dict(ridge=3.0, momentum=0.0),
                 "mnist": dict(max_iter=25, ridge=1e-3, momentum=0.0)}


def rows(dataset: str, bits: int) -> list[tuple[str, dict, dict]]:
    """(name, estimator keyword arguments, layerwise options) of every row."""
    pre = {**qnn_admm_params(dataset, bits), "bits": bits}
    n = pre["max_iter"]
    return [
        ("quantize from iteration 0", {**pre, "fp_iter": 0, "layerwise": False, **OLD_QUANTIZED[dataset]}, {}),
        ("FP phase, then rounding", {**pre, "layerwise": False, "refit_output": False}, {}),
        ("+ layerwise quantizer", {**pre, "refit_output": False}, {}),
        ("+ output refits (the preset)", pre, {}),
        ("preset without momentum", {**pre, "momentum": 0.0}, {}),
        ("preset + 10 quantized iterations", {**pre, "max_iter": n + 10, "fp_iter": n}, {}),
        ("preset + coordinate descent on codes", pre, {"cd_sweeps": 2}),
        ("preset, per-row scales", {**pre, "granularity": "row"}, {}),
    ]


def run(ds, kw: dict, lw_extra: dict, seed: int) -> dict:
    orig = S.start_quantized
    if lw_extra:                     # pass extra layerwise options through the switch
        def patched(*a, layerwise=None, **k):
            return orig(*a, layerwise=None if layerwise is None else {**layerwise, **lw_extra}, **k)
        S.start_quantized = patched
    try:
        m = admmnet.QNNADMM(**kw, seed=seed)
        t = time.perf_counter()
        m.fit(ds.X_train, ds.y_train)
        dt = time.perf_counter() - t
    finally:
        S.start_quantized = orig
    return {"test_accuracy": m.score(ds.X_test, ds.y_test), "train_accuracy": m.score(ds.X_train, ds.y_train),
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
        ds = load_dataset(args.dataset, split_seed=seed)
        for bits in args.bits:
            for name, kw, extra in rows(args.dataset, bits):
                r = run(ds, kw, extra, seed)
                r.update(row=name, bits=bits, seed=seed)
                results.append(r)
                print(f"seed {seed} {bits} bits  {name}: {100 * r['test_accuracy']:.2f}%  ({r['seconds']:.1f} s)",
                      file=sys.stderr, flush=True)
    names = [n for n, _, _ in rows(args.dataset, args.bits[0])]
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
