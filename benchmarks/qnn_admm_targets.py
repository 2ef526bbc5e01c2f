"""QNN-ADMM's default presets against the accuracy targets of issue 14.

For each dataset and seed, trains the full-precision QNN-ADMM preset
(``admmnet train --dataset D --bits fp``) and then every quantized preset
(``--bits 8, 4, 2, 1``, thesis levels). A quantized preset runs full-precision ADMM
and then quantizes (``fp_iter = max_iter``); that FP phase is trained once per seed and
restart and shared by the bit widths: each quantized fit takes it from there
(``fit(..., fp_model=fp)``), which gives the result of the whole quantized fit
(``tests/test_layerwise.py::test_fp_model_warm_start_equals_the_uninterrupted_fit``)
at the cost of one FP training per seed. Where the FP preset has settings of its own
(``admmnet.presets.FP_OVERRIDES``: Seeds and Pendigits), the quantized runs' FP phases
(:func:`admmnet.presets.fp_phase_params`) are trained apart from the FP run. A quantized
cell's ``seconds`` is its FP phases' plus its own quantization: the time of
``admmnet train --bits B``.

Seeds run s trains and tests on the stratified 80/20 split of seed s; Pendigits uses
UCI's writer-independent split, MNIST its official split. Each seed's runs are
appended to ``<out>/runs.jsonl`` as they finish (a stopped benchmark resumes);
``<out>/summary.json`` has mean ± std per cell, the targets and whether each is met,
machine, versions and command; ``<out>/table.md`` the table.

    python benchmarks/qnn_admm_targets.py                       # 3 datasets x 10 seeds
    python benchmarks/qnn_admm_targets.py --datasets seeds --seeds 3

The study (``python benchmarks/reproduce.py --methods qnn-admm``) runs the same presets on the
same splits and seeds; where its store holds a (dataset, seed) group, the group is taken
over (``--from-study``) instead of trained again. A stored group made with other preset
settings than the presets give now is moved to ``runs.stale.jsonl`` and redone.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet.baseline_presets import augment_copies, augmentation
from admmnet.datasets import load_dataset
from admmnet.presets import fp_phase_params, qnn_admm_params

from _runs import (append_runs, drop_runs, fit_finished, is_stale, load_runs, phases_after, preset_filled,
                   run_groups, settings_changed, write_results)

BITS = ("fp", 8, 4, 2, 1)
# issue 14's targets (test accuracy %, mean of 10 seeds); MNIST 8 bits: fp - 0.2
TARGETS = {
    "mnist": {"fp": 97.0, 8: "fp-0.2", 4: 96.5, 2: 95.5, 1: 93.0},
    "pendigits": {"fp": 96.0, 8: 95.0, 4: 95.0, 2: 93.0, 1: 88.0},
    "seeds": {"fp": 95.0, 8: 94.5, 4: 94.5, 2: 94.0, 1: 93.5},
}


def run_seed(dataset: str, seed: int) -> list[dict]:
    # the preset's augmented copies of the training rows (Pendigits), seeded by the run's seed;
    # train accuracy on the real rows
    augment = augment_copies("qnn-admm", dataset)
    ds = load_dataset(dataset, split_seed=seed, augment=augment, augment_seed=seed)
    X_real, y_real = ds.original_train()
    out = []
    p = qnn_admm_params(dataset, None)
    fp = admmnet.QNNADMM(**p, bits=None, seed=seed)
    t = time.perf_counter()
    fit_finished(fp, ds.X_train, ds.y_train)
    t_fp = time.perf_counter() - t
    out.append(dict(bits="fp", test_accuracy=fp.score(ds.X_test, ds.y_test),
                    train_accuracy=fp.score(X_real, y_real), seconds=t_fp,
                    seconds_after_iterations=fp.history_.final["seconds"] if fp.history_.final else 0.0,
                    seconds_per_iteration=float(np.mean(fp.history_.column("seconds")))))
    # the FP phase of each restart (n_init), trained once per seed and shared by the bit widths
    # whose presets have the same FP phase (Seeds at 1 bit has a network of its own,
    # admmnet.presets.LOW_BIT_OVERRIDES)
    shared = {}
    for bits in BITS[1:]:
        kw = qnn_admm_params(dataset, bits)
        n_init = int(kw.get("n_init", 1))
        phase_kw = fp_phase_params(dataset, bits)
        key = json.dumps(phase_kw, sort_keys=True)
        if key not in shared:
            shared[key] = phases_after(fp, t_fp, p, phase_kw, seed, ds.X_train, ds.y_train, bits=None)
        fps, t_fps = shared[key].first(n_init)
        q = admmnet.QNNADMM(**kw, bits=bits, levels="thesis", seed=seed)
        t = time.perf_counter()
        # the quantizer on the real rows (as admmnet train)
        fit_finished(q, X_real, y_real, fp_model=fps)
        dt = time.perf_counter() - t
        out.append(dict(bits=bits, test_accuracy=q.score(ds.X_test, ds.y_test),
                        train_accuracy=q.score(X_real, y_real), seconds=t_fps + dt,
                        seconds_after_iterations=dt, storage_bits_per_weight=q.storage_bits_per_weight,
                        model_bytes=q.model_bytes, n_init=n_init, best_init=getattr(q, "best_init_", None),
                        layerwise_rho=q.params_["layerwise_rho"], iterations=int(q.params_["fp_iter"]),
                        params={k: _plain(v) for k, v in q.params_.items()}))
    out[0].update(iterations=int(p["max_iter"]), params={k: _plain(v) for k, v in fp.params_.items()})
    for r in out:
        r.update(dataset=dataset, seed=seed, augmentation=augmentation("qnn-admm", dataset))
    return out


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def drop_stale(log: Path, datasets) -> None:
    """Move stored groups made with other preset settings than now to ``runs.stale.jsonl``."""
    def stale_run(r):
        fp = r["bits"] == "fp"
        want = qnn_admm_params(r["dataset"], None if fp else r["bits"])
        # the FP run's settings, or a quantized run's FP phase's (its own quantizer's below)
        solver = qnn_admm_params(r["dataset"], None) if fp else fp_phase_params(r["dataset"], r["bits"])
        # settings that became preset settings after runs stored them (the ReLU, 30 layerwise
        # iterations): None or absent is the value of a preset that leaves them out
        have = preset_filled(r["params"])
        return not (
            all(_plain(have.get(k)) == _plain(v) for k, v in solver.items() if k != "layerwise_rho")
            and r.get("augmentation") == augmentation("qnn-admm", r["dataset"])
            and run_n_init(r) == (1 if fp else want.get("n_init", 1))
            and (fp or run_layerwise_rho(r) == want["layerwise_rho"])
            and (fp or not settings_changed({k: want.get(k, v0) for k, v0 in QUANTIZER_ABSENT.items()},
                                            have, QUANTIZER_ABSENT)))

    bad = {(r["dataset"], r["seed"]) for r in load_runs(log) if r["dataset"] in datasets and stale_run(r)}

    def stale(r):       # a group is redone whole (its FP run is the FP phase of the others)
        return (r["dataset"], r["seed"]) in bad

    drop_runs(log, stale, "made with other presets", keep_in=log.with_name("runs.stale.jsonl"))


#: Quantizer settings a stored quantized run is compared on, with the value of a run that predates
#: the setting (and of a preset that leaves it out).
QUANTIZER_ABSENT = {k: admmnet.QNNADMM.PRESET_PARAMS[k] for k in ("layerwise_equalize", "layerwise_iter")}


def run_layerwise_rho(r: dict) -> float:
    """The layerwise quantizer's rho a stored quantized run was made with: its own record, else
    its parameters (a run taken over from the study stores the quantized run's; one made here
    before the field existed, the FP phase's, whose value was the quantized run's too), else the
    default before the presets set it (1e-2)."""
    if r.get("layerwise_rho") is not None:
        return float(r["layerwise_rho"])
    v = r.get("params", {}).get("layerwise_rho")
    return 1e-2 if v is None else float(v)


def run_n_init(r: dict) -> int:
    """The restarts (``n_init``) a stored run was made with: its own record, else its parameters
    (study runs), else 1 (runs made before restarts existed)."""
    if r.get("n_init") is not None:
        return int(r["n_init"])
    return int(r.get("params", {}).get("n_init") or 1) if r["bits"] != "fp" else 1


def take_from_study(log: Path, study: Path, datasets, n_seeds: int) -> None:
    """Take over the study's QNN-ADMM runs (``benchmarks/reproduce.py``, same presets, same
    splits, same seeds: the same deterministic runs) for every (dataset, seed) whose five bit
    widths it holds and this store lacks. They keep the study's ``seconds`` and gain
    ``reused_from``; the study does not record the post-iteration seconds."""
    have = {(r["dataset"], r["seed"]) for r in load_runs(log)}
    by_group: dict = {}
    for r in load_runs(study):
        if r["method"] == "qnn-admm" and r["dataset"] in datasets and r["seed"] < n_seeds and not is_stale(r):
            by_group.setdefault((r["dataset"], r["seed"]), {})[str(r["bits"])] = r
    new = []
    for key, rs in sorted(by_group.items()):
        if key in have or set(rs) != {str(b) for b in BITS}:
            continue
        for b in BITS:
            r = rs[str(b)]
            new.append({k: r[k] for k in ("bits", "test_accuracy", "train_accuracy", "seconds", "dataset", "seed",
                                          "iterations", "model_bytes", "storage_bits_per_weight")}
                       | {"seconds_after_iterations": None, "params": r["params"], "reused_from": str(study),
                          "augmentation": r.get("augmentation"), "n_init": run_n_init(r),
                          "layerwise_rho": None if b == "fp" else run_layerwise_rho(r),
                          "best_init": r.get("best_init")})
    if new:
        append_runs(log, new)
        print(f"{len(new)} run(s) taken over from {study}", file=sys.stderr)


def target_value(dataset, bits, fp_mean):
    t = TARGETS[dataset][bits]
    return fp_mean - 0.2 if t == "fp-0.2" else t


def summarise(runs, datasets) -> dict:
    cells = {}
    for d in datasets:
        fp_mean = None
        for b in BITS:
            cell = [r for r in runs if r["dataset"] == d and r["bits"] == b]
            if not cell:
                continue
            acc = [100 * r["test_accuracy"] for r in cell]
            sec = [r["seconds"] for r in cell]
            post = [r["seconds_after_iterations"] for r in cell if r.get("seconds_after_iterations") is not None]
            c = {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "n": len(acc),
                 "seconds_mean": float(np.mean(sec)),
                 "runs_from_study": sum(1 for r in cell if r.get("reused_from")),
                 "seconds_after_iterations_mean": float(np.mean(post)) if post else None}
            if b == "fp":
                fp_mean = c["mean"]
            if fp_mean is not None:
                c["target"] = target_value(d, b, fp_mean)
                c["meets_target"] = bool(c["mean"] >= c["target"])
            cells[f"{d}/{b}"] = c
    return cells


def markdown(cells, datasets) -> str:
    lines = ["Test accuracy (%) of the default presets, mean ± std over seeds (target in parentheses, "
             "✓ met, ✗ not met).", "", "| dataset | fp | 8 bits | 4 bits | 2 bits | 1 bit |",
             "| --- | --- | --- | --- | --- | --- |"]
    for d in datasets:
        row = []
        for b in BITS:
            c = cells.get(f"{d}/{b}")
            row.append("–" if c is None else f"{c['mean']:.2f} ± {c['std']:.2f} (≥ {c['target']:.2f} "
                                             f"{'✓' if c['meets_target'] else '✗'})")
        lines.append(f"| {d} | " + " | ".join(row) + " |")
    lines += ["", "Seconds per run, everything included (a quantized run: its FP iterations, the quantizer "
              "and the output refit; after the iterations in parentheses):", "",
              "| dataset | fp | 8 bits | 4 bits | 2 bits | 1 bit |", "| --- | --- | --- | --- | --- | --- |"]
    for d in datasets:
        row = []
        for b in BITS:
            c = cells.get(f"{d}/{b}")
            post = None if c is None else c["seconds_after_iterations_mean"]
            row.append("–" if c is None else f"{c['seconds_mean']:.1f}" + ("" if post is None else f" ({post:.1f})"))
        lines.append(f"| {d} | " + " | ".join(row) + " |")
    reused = [d for d in datasets if any(cells.get(f"{d}/{b}", {}).get("runs_from_study") for b in BITS)]
    if reused:
        lines += ["", "The runs of " + ", ".join(reused) + " were taken over from the study "
                  "(`benchmarks/reproduce.py`, `reused_from` in runs.jsonl) and keep its seconds, measured "
                  "with two workers on a machine other experiments shared: they are not idle-machine timings "
                  "(those: docs/quantized_training.md, \"Time to accuracy and run time\")."]
    n = sorted({c["n"] for c in cells.values()})
    lines += ["", f"Seeds per cell: {n}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["seeds", "pendigits", "mnist"], choices=list(TARGETS))
    p.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    p.add_argument("--out", default="benchmarks/results/qnn_admm_targets")
    p.add_argument("--from-study", default="benchmarks/results/study/runs.jsonl", metavar="RUNS.jsonl",
                   help="take over the study's QNN-ADMM runs where it has them ('' to run everything here)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    drop_stale(out / "runs.jsonl", args.datasets)
    if args.from_study:
        take_from_study(out / "runs.jsonl", Path(args.from_study), args.datasets, args.seeds)
    runs = run_groups(out / "runs.jsonl", args.datasets, args.seeds, "seed", run_seed,
                      lambda rs: ", ".join(f"{r['bits']} {100 * r['test_accuracy']:.2f}" for r in rs)
                      + f"  ({rs[-1]['seconds']:.0f} s for the 1-bit run)")
    wanted = [r for r in runs if r["dataset"] in args.datasets and r["seed"] < args.seeds]
    cells = summarise(wanted, args.datasets)
    table = markdown(cells, args.datasets)
    write_results(out, {"cells": cells, "all_targets_met": all(c["meets_target"] for c in cells.values())},
                  table, t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
