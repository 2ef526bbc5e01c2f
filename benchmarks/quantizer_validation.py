"""How the low-bit quantizer settings were chosen: validation rows only, FP phases shared.

The restarts (``n_init``) and the layerwise quantizer's starting penalty (``layerwise_rho``)
of the presets were chosen by this comparison (the restarts on 25 Seeds folds, before this
script existed). It scores quantized
QNN-ADMM settings (``--grid``, a JSON list of keyword arguments over the dataset preset of
each bit width) on validation problems built from the training rows alone:

* ``seeds``: 5-fold cross-validation (stratified, shuffled with seed s) on the training rows
  of split s, for s in 0..``--splits``-1; features standardised with each fold's training
  part; score: the held-out fold. ``--fold-offset N`` shuffles with seed s + N instead:
  another partition of the same rows, to confirm a choice read off the first;
* ``pendigits``: the writer-dependent 80/20 split of ``pendigits.tra`` with seed s; the FP
  phase trains on those rows plus the preset's 4 distorted copies, the quantizer on the real
  rows (as ``admmnet train``); scores: the held-out rows and 3 distorted copies of them
  (:func:`pendigits_validation._data`).

Every setting of a problem takes its FP phases from the same FP fits (initialisation i:
seed s + i, trained once, :class:`_runs.FPPhases`), so the settings differ only in what they
change, and the comparison is paired: the table gives each setting's mean and its mean
difference from the first setting of the grid with the standard error over problems.
The test rows are never read. Writes ``<out>/<dataset>.json`` (every score, machine,
versions, command) and prints the table. Each problem's scores are appended to
``<out>/<dataset>.runs.jsonl`` as it finishes, so a stopped run resumes with the problem it was
on (a record counts for the same grid, bit widths, partition and presets).

    python benchmarks/quantizer_validation.py --dataset seeds --splits 10          # the rho sweep
    python benchmarks/quantizer_validation.py --dataset pendigits --splits 3 --bits 1
    python benchmarks/quantizer_validation.py --dataset mnist --grid '[{"layerwise_rho": 0.01}, {"layerwise_rho": 0.001}]'
    python benchmarks/quantizer_validation.py --dataset seeds --grid '[{"n_init": 5}, {"n_init": 10}]'
    python benchmarks/quantizer_validation.py --dataset seeds --bits fp --grid '[{}, {"max_iter": 300}]'

``--bits fp`` scores full-precision settings the same way (each its own FP fit over the FP
preset, which may differ from the quantized presets' FP phase, ``admmnet.presets.FP_OVERRIDES``;
``{}`` is the FP preset). The quantized settings' FP phases are trained with
:func:`admmnet.presets.fp_phase_params`; a setting that changes the network itself
(``NETWORK_KEYS``: ``activation``, ``hidden_sizes``, ``bias``) or the FP solver's schedule
(``SOLVER_KEYS``: ``beta``, ``gamma``, ``penalty_growth``, ...) gets FP phases of its own, trained
with it from the same seeds, at every bit width. So does a length: ``max_iter`` (a quantized
setting's FP phase is then that long, as in the presets, where ``fp_iter`` follows ``max_iter``)
or ``fp_iter`` (with a larger ``max_iter``: quantized ADMM iterations after an FP phase of
``fp_iter``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

import admmnet
from admmnet.cli import environment
from admmnet.datasets import load_dataset
from admmnet.datasets._preprocess import standardize, stratified_split
from admmnet.io import write_json
from admmnet.presets import NETWORK_KEYS, fp_phase_params, qnn_admm_params

from _runs import FPPhases, append_run, fit_finished, load_runs, paired_difference, timed_fit
from pendigits_validation import _data as pendigits_data

#: The sweep behind ``admmnet.presets.LAYERWISE_RHO`` (the preset's 5 restarts each).
GRID = [{"layerwise_rho": r} for r in (1e-2, 0.1, 3e-3, 1e-3, 3e-4, 1e-4)]


def problems(dataset: str, splits: int, fold_offset: int = 0):
    """``(name, seed, FP-phase rows, quantizer rows, {score name: rows})`` per validation problem.

    ``fold_offset`` (Seeds): the folds of split s shuffled with seed ``s + fold_offset``, another
    5-fold partition of the same training rows: a second set of problems to confirm a choice
    read off the first (0: the partition every preset was chosen on)."""
    if dataset == "mnist":
        ds = load_dataset("mnist")
        for s in range(splits):
            tr, va = stratified_split(ds.y_train, 0.2, s)
            rows = (ds.X_train[tr], ds.y_train[tr])
            yield f"split{s}", s, rows, rows, {"held-out": (ds.X_train[va], ds.y_train[va])}
        return
    if dataset == "pendigits":
        for s in range(splits):
            d = pendigits_data(s, 4)
            yield f"split{s}", s, d["fit"], d["real"], {"held-out": d["val"], "distorted": d["distorted"]}
        return
    for s in range(splits):
        raw = load_dataset(dataset, split_seed=s, standardize=False, dtype="float64")
        folds = StratifiedKFold(5, shuffle=True, random_state=s + fold_offset).split(raw.X_train, raw.y_train)
        for f, (tr, va) in enumerate(folds):
            X_tr, X_va, _, _ = standardize(raw.X_train[tr], raw.X_train[va])     # the fold's own statistics
            rows = (X_tr, raw.y_train[tr])
            yield f"split{s}-fold{f}", s, rows, rows, {"held-out": (X_va, raw.y_train[va])}


def level_kwargs(bits) -> dict:
    return {"bits": None, "levels": "binary"} if bits == "binary" else {"bits": int(bits)}


# NETWORK_KEYS (admmnet.presets): settings that change the network itself. A quantized setting
# with any of them gets FP phases of its own (same seeds, trained with them), since a quantized
# fit takes its FP phase's network.
#: Settings of the FP solver's schedule: a quantized setting with any of them likewise gets FP phases
#: trained with them (the quantizer that follows does not read them).
SOLVER_KEYS = ("beta", "gamma", "penalty_growth", "max_penalty", "ridge", "momentum", "layer_scale",
               "forward_reset")
FP_PHASE_KEYS = NETWORK_KEYS + SOLVER_KEYS


def phase_settings(cfg: dict) -> dict:
    """The settings of ``cfg`` that its FP phases are trained with (over the quantized presets' FP
    phase): those of ``FP_PHASE_KEYS``, and the length ``fp_iter``, else ``max_iter``."""
    net = {k: cfg[k] for k in FP_PHASE_KEYS if k in cfg}
    length = cfg.get("fp_iter", cfg.get("max_iter"))
    if length is not None:
        net["max_iter"] = length
    return net


def run_problem(dataset: str, seed: int, fit_rows, real_rows, evals: dict, grid: list, bits_list) -> list[dict]:
    fp_kw = qnn_admm_params(dataset, None)      # the FP preset
    phase_kw = fp_phase_params(dataset)         # the quantized presets' FP phase (no FP_OVERRIDES)
    shared: dict = {}           # FP phases per network and schedule, keyed by its settings (the preset's: "{}")

    def phases_for(cfg, bits=None):
        # the FP phase of the quantized preset of ``bits`` (Seeds at 1 bit: a network of its own,
        # admmnet.presets.LOW_BIT_OVERRIDES), with the setting's network and schedule
        kw = {**fp_phase_params(dataset, bits), **phase_settings(cfg)}
        key = json.dumps(kw, sort_keys=True)
        if key not in shared:
            shared[key] = FPPhases(lambda i: timed_fit(admmnet.QNNADMM(**kw, seed=seed + i), *fit_rows))
        return shared[key]

    out = []
    for bits in bits_list:
        for k, cfg in enumerate(grid):
            if bits == "fp":        # a full-precision setting over the FP preset: its own fit on the FP phase's rows
                kw = {**fp_kw, **cfg}
                if kw != {**phase_kw, **phase_settings(cfg)}:
                    q, seconds = timed_fit(admmnet.QNNADMM(**kw, seed=seed), *fit_rows)
                else:               # the same fit as an FP phase: that FP phase of initialisation 0
                    (q,), seconds = phases_for(cfg).first(1)
                out.append({"bits": "fp", "setting": k, "seconds": seconds,
                            **{name: 100 * q.score(*rows) for name, rows in evals.items()}})
                continue
            b = 1 if bits == "binary" else int(bits)
            kw = {**qnn_admm_params(dataset, b), **cfg}
            if "max_iter" in cfg and "fp_iter" not in cfg:
                kw["fp_iter"] = cfg["max_iter"]         # the whole run is the FP phase, as in the presets
            n_init = int(kw.get("n_init") or 1)
            fps, _ = phases_for(cfg, b).first(n_init)
            t = time.perf_counter()
            q = fit_finished(admmnet.QNNADMM(**kw, **level_kwargs(bits), seed=seed), *real_rows, fp_model=fps)
            out.append({"bits": str(bits), "setting": k, "seconds": time.perf_counter() - t,
                        **{name: 100 * q.score(*rows) for name, rows in evals.items()}})
    return out


def run_key(dataset: str, grid: list, bits_list, fold_offset: int) -> str:
    """What a stored problem's scores were made with: the grid, bit widths and partition, and
    the presets they ran over (every bit width's quantized preset and FP phase, the FP preset)."""
    widths = {str(b): None if b == "fp" else 1 if b == "binary" else int(b) for b in bits_list}
    presets = {b: (qnn_admm_params(dataset, w), fp_phase_params(dataset, w)) for b, w in widths.items()}
    return json.dumps({"grid": grid, "bits": list(map(str, bits_list)), "fold_offset": fold_offset,
                       "presets": presets}, sort_keys=True, default=list)


def summarise(results: list[dict], grid: list, bits_list, scores) -> tuple[dict, str]:
    table, lines = {}, ["| bits | setting | problems | " + " | ".join(scores) + " | paired difference from the first |",
                        "| --- | --- | --- | " + "--- | " * len(scores) + "--- |"]
    for bits in map(str, bits_list):
        base = {r["problem"]: r for r in results if r["bits"] == bits and r["setting"] == 0}
        for k, cfg in enumerate(grid):
            rs = [r for r in results if r["bits"] == bits and r["setting"] == k and r["problem"] in base]
            if not rs:
                continue
            means = {s: float(np.mean([r[s] for r in rs])) for s in scores}
            diff, text = paired_difference([r[scores[0]] - base[r["problem"]][scores[0]] for r in rs])
            table[f"{bits}/{json.dumps(cfg, sort_keys=True)}"] = {"problems": len(rs), **means, **diff}
            lines.append(f"| {bits} | `{json.dumps(cfg, sort_keys=True)}` | {len(rs)} | "
                         + " | ".join(f"{means[s]:.2f}" for s in scores) + f" | {text} |")
    return table, "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("seeds", "pendigits", "mnist"), default="seeds")
    p.add_argument("--splits", type=int, default=None,
                   help="split seeds 0..N-1 (default: seeds 10, pendigits 3, mnist 2)")
    p.add_argument("--bits", nargs="+", default=["1", "2"],
                   help="thesis bit widths, 'binary' and/or 'fp' (full-precision settings: each its own FP fit)")
    p.add_argument("--grid", type=json.loads, default=GRID, help="JSON list of settings (the first is the reference)")
    p.add_argument("--fold-offset", type=int, default=0,
                   help="seeds: shuffle split s's folds with seed s + N (another partition of the same rows)")
    p.add_argument("--out", default="benchmarks/results/quantizer_validation")
    args = p.parse_args(argv)
    if args.fold_offset and args.dataset != "seeds":
        raise SystemExit("--fold-offset: only the seeds problems are folds")
    splits = args.splits if args.splits is not None else {"seeds": 10, "pendigits": 3, "mnist": 2}[args.dataset]
    for b in args.bits:
        if b not in ("fp", "binary", "1", "2", "3", "4", "8"):
            raise SystemExit(f"--bits: {b!r} is not a thesis bit width, 'binary' or 'fp'")
    if not isinstance(args.grid, list) or not args.grid or not all(isinstance(c, dict) for c in args.grid):
        raise SystemExit("--grid must be a non-empty JSON list of objects")
    t_all = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # each problem's scores are stored as it finishes: a stopped run resumes, redoing only the
    # problem under way; a record counts for the same grid, bit widths, partition and presets
    log = out / f"{args.dataset}.runs.jsonl"
    key = run_key(args.dataset, args.grid, args.bits, args.fold_offset)
    stored = {r["problem"]: r["runs"] for r in load_runs(log) if r.get("key") == key}
    results, scores = [], None
    for name, seed, fit_rows, real_rows, evals in problems(args.dataset, splits, args.fold_offset):
        scores = list(evals)
        if name not in stored:
            stored[name] = run_problem(args.dataset, seed, fit_rows, real_rows, evals, args.grid, args.bits)
            append_run(log, {"problem": name, "key": key, "runs": stored[name]})
            done = "done"
        else:
            done = "stored before"
        results.extend({"problem": name, **r} for r in stored[name])
        print(f"{name}: {done} ({time.perf_counter() - t_all:.0f} s)", file=sys.stderr, flush=True)
    table, text = summarise(results, args.grid, args.bits, scores)
    write_json(out / f"{args.dataset}.json", {"command": " ".join(["python"] + sys.argv), "environment": environment(),
                                             "grid": args.grid, "table": table, "runs": results, "markdown": text,
                                             "seconds": time.perf_counter() - t_all})
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
