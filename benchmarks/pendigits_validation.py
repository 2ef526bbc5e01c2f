"""How Pendigits' QNN-ADMM preset was chosen: validation on the training writers' rows only.

Pendigits' test digits come from 14 writers the training rows never saw, so a held-out part
of ``pendigits.tra`` (same writers) flatters a model that learns its writers' habits. This
script scores every setting twice, on data built from the training rows only:

* ``val``: the held-out rows of the writer-dependent 80/20 split of seed s
  (``load_dataset("pendigits", split="writer-dependent", split_seed=s)``);
* ``distorted``: 3 distorted copies of those held-out rows
  (:func:`admmnet.datasets.pendigits.augment_pendigits`, seed 1000 + s): rotated, sheared and
  jittered pen trajectories, a model of unseen writers.

Settings (``--configs``, a JSON list of dicts; each holds QNNADMM keyword arguments over the
Pendigits preset plus ``augment`` (distorted copies of the training rows the FP phase trains
on), ``bits`` and ``quantize_on`` ("all": the quantizer sees the augmented rows too, "real":
only the real rows, what ``admmnet train`` does). A quantized setting takes its FP phase from
the FP fit of the same seed and settings. The test rows are never read.

Each (setting, seed) is appended to ``<out>/runs.jsonl`` as it finishes (a rerun resumes);
``summary.json`` and ``table.md`` give the mean per setting.

    python benchmarks/pendigits_validation.py                     # the comparison in admmnet/presets.py
    python benchmarks/pendigits_validation.py --seeds 3 --configs '[{"augment": 4, "bits": 1}]'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet.datasets import load_dataset
from admmnet.datasets._preprocess import standardize
from admmnet.datasets.pendigits import augment_pendigits
from admmnet.presets import fp_phase_params, qnn_admm_params

from _runs import append_runs, fit_finished, load_runs, write_results

CONFIGS = [
    {"max_iter": 100}, {"max_iter": 100, "ridge": 3.0}, {"max_iter": 100, "augment": 2},
    {"max_iter": 100, "augment": 4}, {"max_iter": 150, "augment": 4}, {"max_iter": 100, "augment": 9},
    {"max_iter": 150, "augment": 4, "bits": 2, "quantize_on": "all"},
    {"max_iter": 150, "augment": 4, "bits": 2, "quantize_on": "real"},
    {"max_iter": 150, "augment": 4, "bits": 1, "quantize_on": "all"},
    {"max_iter": 150, "augment": 4, "bits": 1, "quantize_on": "real"},
    {"max_iter": 100, "bits": 2}, {"max_iter": 100, "bits": 1},
]


def key(cfg: dict) -> str:
    return json.dumps(cfg, sort_keys=True)


def _data(seed: int, augment: int):
    raw = load_dataset("pendigits", split="writer-dependent", split_seed=seed, standardize=False, dtype="float64")
    _, _, mean, std = standardize(raw.X_train, raw.X_test)     # the loader's statistics

    def scale(A):
        return ((A - mean) / std).astype(np.float32)

    X_aug = np.concatenate([raw.X_train, augment_pendigits(raw.X_train, augment, seed=seed)])
    X_dist = augment_pendigits(raw.X_test, 3, seed=1000 + seed)
    return dict(real=(scale(raw.X_train), raw.y_train), fit=(scale(X_aug), np.tile(raw.y_train, augment + 1)),
                val=(scale(raw.X_test), raw.y_test), distorted=(scale(X_dist), np.tile(raw.y_test, 3)))


def run_one(cfg: dict, seed: int) -> dict:
    c = dict(cfg)
    augment, bits, quantize_on = c.pop("augment", 0), c.pop("bits", None), c.pop("quantize_on", "all")
    d = _data(seed, augment)
    t0 = time.perf_counter()
    # an FP config: the FP preset; a quantized one: its preset's FP phase (no FP_OVERRIDES)
    base = qnn_admm_params("pendigits", None) if bits is None else fp_phase_params("pendigits")
    fp = fit_finished(admmnet.QNNADMM(**{**base, **c}, seed=seed), *d["fit"])
    model = fp
    if bits is not None:
        # one start, as these configs were measured (before restarts; a config may set n_init)
        kw = {**qnn_admm_params("pendigits", bits), "n_init": 1, **c}
        kw["fp_iter"] = kw["max_iter"]
        X, y = d["real"] if quantize_on == "real" else d["fit"]
        model = fit_finished(admmnet.QNNADMM(**kw, bits=bits, seed=seed), X, y, fp_model=fp)
    return dict(config=key(cfg), seed=seed, val=100 * model.score(*d["val"]),
                distorted=100 * model.score(*d["distorted"]), seconds=time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="split seeds 0..N-1 (default 3)")
    ap.add_argument("--configs", type=json.loads, default=CONFIGS)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/pendigits_validation"))
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "runs.jsonl"
    runs = load_runs(log)
    done = {(r["config"], r["seed"]) for r in runs}
    for cfg in args.configs:
        for s in range(args.seeds):
            if (key(cfg), s) in done:
                continue
            r = run_one(cfg, s)
            append_runs(log, [r])
            runs.append(r)
            print(f"{r['config']} seed {s}: val {r['val']:.2f} distorted {r['distorted']:.2f} "
                  f"({r['seconds']:.0f} s)", file=sys.stderr, flush=True)
    cells = []
    for cfg in args.configs:
        rs = [r for r in runs if r["config"] == key(cfg) and r["seed"] < args.seeds]
        if rs:
            cells.append(dict(config=cfg, seeds=len(rs), val=float(np.mean([r["val"] for r in rs])),
                              distorted=float(np.mean([r["distorted"] for r in rs]))))
    lines = ["Pendigits QNN-ADMM on validation data built from the training writers' rows (mean over split "
             "seeds): held-out rows, and distorted copies of them.", "",
             "| setting | seeds | held-out % | distorted held-out % |", "| --- | --- | --- | --- |"]
    lines += [f"| `{json.dumps(c['config'])}` | {c['seeds']} | {c['val']:.2f} | {c['distorted']:.2f} |" for c in cells]
    write_results(args.out, {"cells": cells}, "\n".join(lines) + "\n", t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
