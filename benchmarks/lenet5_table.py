"""The ternary-methods source's LeNet-5/MNIST table, reproduced (issue: the other sources' methods).

LeNet-5 as the source describes it (conv 1->32 5x5, pool, conv 32->64 5x5, pool, dense
1024->512, dense 512->10; 581,408 weights; ``arch="lenet5"``) on MNIST, for FP, TWN, TTQ,
ADMM-ternary, MD-tanh-s, MD-softmax-s, QNN-STE (ternary) and LQ (ternary), under

* ``--protocol source``: the source's training: every model trained for 3 epochs with Adam
  from a fresh initialisation (the quantizing methods train their quantized network from
  the start: no FP stage), TWN and TTQ at lr 1e-3 with batch 64, ADMM at lr 2e-3, batch 128,
  rho 1e-5; FP at lr 1e-3, batch 64 (the source's figures: FP 98.96, ADMM 98.67, TWN 95.46,
  TTQ 94.60). MD, STE and LQ, which the source does not run, get TWN's settings;
* ``--protocol ours``: every method starts from the same FP network trained with the
  LeNet-5 preset (``admmnet.baseline_presets.ARCH_PRESETS``) and runs its own stage with the
  presets (``baseline_params(method, "mnist", 1, arch="lenet5")``).

Each run is appended to ``<out>/runs.jsonl`` as it finishes and our protocol's FP network of
each seed is kept in ``<out>/fp/`` (a rerun resumes; a stored run made with other settings than
today's presets is redone, and so is one made from another FP network than the one kept for its
seed: every run records the digest of its FP network, and one trained again after its file was
lost need not be the same network; such runs move to ``runs.stale.jsonl``). ``summary.json``
and ``table.md`` hold mean ± std per method beside the source's figure, with the weights and
the saved bytes (packed codes + scales; the source: 2.2 MB -> 142 KB).

    python benchmarks/lenet5_table.py --protocol source --seeds 5
    python benchmarks/lenet5_table.py --protocol ours --seeds 5 --methods fp twn admm-ternary
    python benchmarks/lenet5_table.py --validate GRID.json --seeds 1
    python benchmarks/lenet5_table.py --validate benchmarks/results/lenet5/validation_grid.json --seeds 2 --table-only

``--validate GRID.json`` chooses our protocol's presets without test rows: the last 6,000 of the
60,000 training images are the validation rows, the first 54,000 train (the estimators still
hold out 10% of those for their best epoch); GRID maps a method to a list of preset overrides,
e.g. ``{"admm-ternary": [{}, {"rho_growth": 5.0}], "md-tanh-s": [{"md_lr": 1e-3}]}`` (``{}``: the
preset; a stored run counts for the overrides that give its settings with today's presets).
Every (seed, method, overrides) gets one line in ``<out>/validation.jsonl``, the FP
network of each seed is trained once; the validation table is ``<out>/validation.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet import baselines as B
from admmnet.baseline_presets import baseline_params
from admmnet.datasets import load_dataset
from admmnet.io import atomic_write

from _runs import (_plain, append_runs, blas_threads, drop_runs, estimator_defaults, fit_finished, load_runs,
                   network_digest, same_fp_network, settings_changed, write_results)

METHODS = ("fp", "twn", "ttq", "admm-ternary", "md-tanh-s", "md-softmax-s", "ste", "lq")
SOURCE = {"fp": 98.96, "admm-ternary": 98.67, "twn": 95.46, "ttq": 94.60}

# The source's settings: 3 epochs of Adam; TWN/TTQ lr 1e-3 batch 64; ADMM lr 2e-3 batch 128 rho 1e-5.
_SRC_COMMON = dict(arch="lenet5", optimizer="adam", lr_schedule="constant", max_epochs=0, patience=None)
SOURCE_PROTOCOL = {
    "fp": dict(arch="lenet5", optimizer="adam", lr=1e-3, batch_size=64, max_epochs=3, lr_schedule="constant",
               patience=None),
    "twn": dict(_SRC_COMMON, twn_epochs=3, twn_lr=1e-3, batch_size=64),
    "ttq": dict(_SRC_COMMON, ttq_epochs=3, ttq_lr=1e-3, batch_size=64),
    "admm-ternary": dict(_SRC_COMMON, admm_epochs=3, admm_lr=2e-3, rho=1e-5, batch_size=128),
    "md-tanh-s": dict(_SRC_COMMON, md_epochs=3, md_lr=1e-3, batch_size=64),
    "md-softmax-s": dict(_SRC_COMMON, md_epochs=3, md_lr=1e-3, batch_size=64),
    "ste": dict(_SRC_COMMON, ste_epochs=3, ste_lr=1e-3, batch_size=64),
    "lq": dict(_SRC_COMMON, admm_iters=3, w_epochs=1, retrain_epochs=0, lq_lr=1e-3, batch_size=64),
}


def make(method: str, protocol: str, seed: int, **over):
    """The estimator of ``method`` (ternary = the thesis's 1 bit) under ``protocol``, with
    preset overrides ``over``."""
    kw = dict(SOURCE_PROTOCOL[method]) if protocol == "source" else baseline_params(
        method, "mnist", None if method == "fp" else 1, arch="lenet5")
    kw.update(over, seed=seed)
    if method == "fp":
        return B.FPMLP(**kw)
    q = dict(bits=1, levels="thesis")
    if method.startswith("md-"):
        return B.MirrorDescent(variant=method[3:], **q, **kw)
    cls = {"twn": B.TWN, "ttq": B.TTQ, "admm-ternary": B.ADMMTernary, "ste": B.QNNSTE, "lq": B.LQ}[method]
    return cls(**q, **kw)


def is_stale(rec: dict) -> bool:
    """Whether a stored run was made with other settings than ``make`` gives now (a changed
    preset): then it is redone. A parameter added after the run was made counts at its default."""
    return not _same_settings(make(rec["method"], rec["protocol"], rec["seed"]), rec.get("params", {}))


def _same_settings(model, params: dict) -> bool:
    """Whether a stored run's ``params`` are ``model``'s settings (a parameter the run predates
    counts at the estimator's default; ``verbose`` is ignored)."""
    want = {k: v for k, v in model.json_params().items() if k != "verbose"}
    return not settings_changed(want, params, estimator_defaults(type(model)))


def fp_network(protocol: str, seed: int, ds, out: Path):
    """The FP network our protocol's methods start from: trained once per seed and kept in
    ``<out>/fp/seed<seed>.npz`` (a stopped run resumes without training it again; its fit
    time beside it in ``seed<seed>.json``), or loaded from there when its settings still match
    the preset. Returns the model and its fit seconds."""
    path, side = out / "fp" / f"seed{seed}.npz", out / "fp" / f"seed{seed}.json"
    want = make("fp", protocol, seed)
    if path.exists() and side.exists():
        fp = admmnet.load(path)
        if _plain(fp.json_params()) == _plain(want.json_params()):
            return fp, json.loads(side.read_text())["seconds"]
    t0 = time.perf_counter()
    fp = fit_finished(want, ds.X_train, ds.y_train)
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    fp.save(path, history=False)
    atomic_write(side, lambda fh: fh.write(json.dumps({"seconds": seconds}).encode()))
    return fp, seconds


def from_other_fp_network(rec: dict, seed: int, digest: str) -> bool:
    """Whether stored run ``rec`` (our protocol, ``seed``) recorded another FP network than the
    one of digest ``digest`` (:func:`network_digest`): the FP run its own network, every other
    run the one it started from. A run that predates the digests counts as the same."""
    if rec["protocol"] != "ours" or rec["seed"] != seed:
        return False
    if rec["method"] == "fp":
        return rec.get("network_sha256") not in (None, digest)
    return not same_fp_network(rec, digest)


def run_group(protocol: str, seed: int, methods, ds, log: Path | None = None, fp=None) -> list[dict]:
    """Fit ``methods`` for one (protocol, seed); each run is appended to ``log`` as it finishes
    (a stop loses at most the run under way). ``fp``: our protocol's ``(model, fit seconds)``
    (:func:`fp_network`), whose digest every run records; None under the source's protocol."""
    recs = []
    fp, fp_seconds = fp if protocol == "ours" else (None, None)
    digest = network_digest(fp) if fp is not None else None
    for m in methods:
        if protocol == "ours" and m == "fp":
            model, seconds = fp, fp_seconds
        else:
            model = make(m, protocol, seed)
            t0 = time.perf_counter()
            fit_finished(model, ds.X_train, ds.y_train, **({"fp_model": fp} if protocol == "ours" else {}))
            seconds = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            file_bytes = model.save(Path(tmp) / "m.npz", history=False).stat().st_size
        rec = dict(protocol=protocol, seed=seed, method=m, test_accuracy=model.score(ds.X_test, ds.y_test),
                   seconds=seconds, n_weights=int(model.network_.n_weights), model_bytes=int(model.model_bytes),
                   file_bytes=int(file_bytes), epochs=len(model.history_), threads=blas_threads(),
                   params=model.json_params(), admmnet=admmnet.__version__)
        if digest is not None:
            rec["network_sha256" if m == "fp" else "fp_network_sha256"] = digest
        if log is not None:
            append_runs(log, [rec])
        recs.append(rec)
        print(f"  {protocol} seed {seed} {m}: {100 * rec['test_accuracy']:.2f}% ({seconds:.0f} s, "
              f"{rec['model_bytes']:,} bytes)", file=sys.stderr, flush=True)
    return recs


def combined_table(runs: list[dict], seeds: int) -> tuple[list[str], dict]:
    """Both protocols side by side: mean ± std over seeds 0..seeds-1 (and how many ran), the
    source's figure, weights and stored bytes (packed codes + scales; FP: float32)."""
    cells: dict = {}
    for proto in ("source", "ours"):
        for m in METHODS:
            rs = [r for r in runs if r["protocol"] == proto and r["method"] == m and r["seed"] < seeds]
            if rs:
                acc = [100 * r["test_accuracy"] for r in rs]
                cells[f"{proto}/{m}"] = dict(
                    mean=float(np.mean(acc)), std=float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0,
                    n=len(acc), accuracies=acc, model_bytes=rs[0]["model_bytes"], n_weights=rs[0]["n_weights"],
                    seconds_mean=float(np.mean([r["seconds"] for r in rs])), source=SOURCE.get(m))
    lines = ["LeNet-5 on MNIST, ternary (the thesis's 1 bit) except FP: test accuracy %, mean ± std "
             "(sample std) over seeds [number of seeds]; stored bytes = packed 2-bit codes + scales + float "
             "biases (the source: 2.2 MB -> 142 KB).", "",
             "| method | the source | source's protocol | our protocol | weights | stored bytes |",
             "| --- | --- | --- | --- | --- | --- |"]
    for m in METHODS:
        row = [cells.get(f"{p}/{m}") for p in ("source", "ours")]
        if not any(row):
            continue
        ref = next(c for c in row if c)
        txt = ["–" if c is None else f"{c['mean']:.2f} ± {c['std']:.2f} [{c['n']}]" for c in row]
        src = f"{SOURCE[m]:.2f}" if m in SOURCE else "–"
        lines.append(f"| {m} | {src} | {txt[0]} | {txt[1]} | {ref['n_weights']:,} | {ref['model_bytes']:,} |")
    return lines, cells


def _validation_runs(runs: list[dict], method: str, over: dict, seed: int) -> list[dict]:
    """The stored validation runs of ``method`` with the preset plus ``over`` at ``seed``, matched
    by the settings they ran with (so a run made before a preset change counts under the
    overrides that give its settings now, and ``{}`` always means today's preset)."""
    model = make(method, "ours", seed, **over)
    return [r for r in runs
            if r["seed"] == seed and r["method"] == method and _same_settings(model, r.get("params", {}))]


def validate(grid: dict, seeds: int, out: Path, run: bool = True) -> None:
    """Our protocol on validation rows (module docstring): each grid entry from the seed's FP net.
    ``run=False``: only the table of the stored runs (an entry shows the seeds it has)."""
    from types import SimpleNamespace

    ds = None
    log = out / "validation.jsonl"
    runs = load_runs(log)
    for seed in range(seeds):
        fp = None
        for m, overrides in grid.items():
            for over in overrides:
                if not run or _validation_runs(runs, m, over, seed):
                    continue
                if ds is None:      # loaded when something is left to run
                    full = load_dataset("mnist")
                    ds = SimpleNamespace(X_train=full.X_train[:-6000], y_train=full.y_train[:-6000],
                                         X_test=full.X_train[-6000:], y_test=full.y_train[-6000:])
                if fp is None:
                    fp = fit_finished(make("fp", "ours", seed), ds.X_train, ds.y_train)
                    print(f"validation seed {seed} fp: {100 * fp.score(ds.X_test, ds.y_test):.2f}%", flush=True)
                model = make(m, "ours", seed, **over)
                t0 = time.perf_counter()
                fit_finished(model, ds.X_train, ds.y_train, fp_model=fp)
                rec = dict(seed=seed, method=m, overrides=over, fp_validation_accuracy=fp.score(ds.X_test, ds.y_test),
                           validation_accuracy=model.score(ds.X_test, ds.y_test),
                           seconds=time.perf_counter() - t0, params=model.json_params())
                append_runs(log, [rec])
                runs.append(rec)
                print(f"validation seed {seed} {m} {json.dumps(over)}: {100 * rec['validation_accuracy']:.2f}% "
                      f"({rec['seconds']:.0f} s)", flush=True)
    lines = ["LeNet-5, our protocol, validation accuracy % (last 6,000 training images; mean over seeds)", "",
             "| method | overrides | validation accuracy | seeds |", "| --- | --- | --- | --- |"]
    for m, overrides in grid.items():
        for over in overrides:
            acc = [100 * r["validation_accuracy"]       # a seed's latest run of the setting
                   for seed in range(seeds) for r in _validation_runs(runs, m, over, seed)[-1:]]
            if acc:
                lines.append(f"| {m} | `{json.dumps(over)}` | {np.mean(acc):.2f} | {len(acc)} |")
    fp_acc = {r["seed"]: 100 * r["fp_validation_accuracy"] for r in runs if r["seed"] < seeds}
    if fp_acc:
        lines += ["", f"The FP network every method starts from: {np.mean(list(fp_acc.values())):.2f} "
                      f"({len(fp_acc)} seed(s)). Grid: the --validate file; `{{}}`: the preset as it is now."]
    atomic_write(out / "validation.md", lambda fh: fh.write(("\n".join(lines) + "\n").encode()))
    print("\n".join(lines))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=("source", "ours"), default="source")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--out", default="benchmarks/results/lenet5")
    p.add_argument("--validate", metavar="GRID.json", help="choose our presets on validation rows (docstring)")
    p.add_argument("--table-only", action="store_true", help="with --validate: the table of the stored runs only")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.validate:
        validate(json.loads(Path(args.validate).read_text()), args.seeds, out, run=not args.table_only)
        return 0
    if args.protocol == "ours" and args.methods[0] != "fp":
        args.methods = ["fp"] + [m for m in args.methods if m != "fp"]
    t_all = time.perf_counter()
    ds = load_dataset("mnist")
    log = out / "runs.jsonl"
    runs = drop_runs(log, is_stale, "made with other settings than today's presets")
    def todo(seed):     # the methods of ``seed`` not stored yet
        have = {r["method"] for r in runs if r["protocol"] == args.protocol and r["seed"] == seed}
        return [m for m in args.methods if m not in have]

    for seed in range(args.seeds):
        fp = None
        if args.protocol == "ours" and (todo(seed) or (out / "fp" / f"seed{seed}.npz").exists()):
            # the runs of a seed must come from the FP network kept for it: one trained again
            # after its file was lost need not be the same network (then its runs are redone)
            fp = fp_network(args.protocol, seed, ds, out)
            digest = network_digest(fp[0])
            runs = drop_runs(log, lambda r: from_other_fp_network(r, seed, digest),
                             f"of seed {seed} were made from another FP network", keep_in=out / "runs.stale.jsonl")
        left = todo(seed)           # again: the drop above may have removed runs of this seed
        if left:
            runs += run_group(args.protocol, seed, left, ds, log, fp=fp)
    lines, cells = combined_table(runs, args.seeds)
    write_results(out, {"protocol": args.protocol, "seeds": args.seeds, "cells": cells}, "\n".join(lines) + "\n", t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
