"""Accuracy against model size under a budget (docs/budget.md): MNIST [784,200,200,10], or
the budget source's LeNet-5 (``--arch lenet5-caffe``, 430,500 weights).

For every seed and budget (a compression rate over float32 weights, e.g. 16x .. 2000x) it runs

* ``budget``: :class:`admmnet.baselines.Budget` (Yang et al.'s ADMM, backprop) from the seed's
  FP network (:data:`admmnet.baseline_presets.FP_STAGE`, trained once per seed and kept);
* ``qnn-admm-budget``: :class:`admmnet.QNNADMM` with ``budget=`` (no gradients), from the
  seed's full-precision QNN-ADMM phase (the MNIST preset's 75 iterations, trained once per
  seed and kept), then its ``BUDGET_ITERS`` quantized iterations with the budget G-update
  (MLP only);
* ``--uniform ptq ste lq``: those methods at uniform 8/4/2/1 thesis bits from the same FP
  network (the default for LeNet-5, whose uniform points ``runs.csv`` does not hold); when run,
  they are the figure's and the table's reference instead of ``runs.csv``'s;

and records the test accuracy and the sizes read back from the saved file (weight bits: the
source's metric; ``model_bytes``: every stored array, positions, codebooks and biases
included; ``file_bytes``). Runs are appended to ``<out>/runs.jsonl`` as they finish (a rerun
resumes). ``summary.json``, ``table.md``, ``accuracy_vs_bytes.png`` (beside the uniform
8/4/2/1-bit PTQ, QNN-STE, LQ and QNN-ADMM of ``benchmarks/results/runs.csv``) and
``layers.png`` (per-layer bit widths and non-zeros of one run, the source's Figure 3). The
settings are the presets, ``baseline_params(method, "mnist", bits, arch=arch)``: what
``admmnet train --dataset mnist [--arch lenet5-caffe] --method M`` runs.

    python benchmarks/budget_sweep.py --budgets 16x 64x 256x 1000x --seeds 1
    python benchmarks/budget_sweep.py --arch lenet5-caffe --seeds 1
    python benchmarks/budget_sweep.py --methods qnn-admm-budget --budgets 74550B 49700B --seeds 1
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import admmnet
from admmnet import QNNADMM
from admmnet import baselines as B
from admmnet.baseline_presets import baseline_params
from admmnet.datasets import load_dataset
from admmnet.presets import qnn_admm_params

from _runs import (append_runs, blas_threads, drop_runs, estimator_defaults, fit_finished, results_dir,
                   settings_changed, write_results)

METHODS = ("budget", "qnn-admm-budget")
UNIFORM = {"ptq": B.PTQ, "ste": B.QNNSTE, "lq": B.LQ}
UNIFORM_BITS = (8, 4, 2, 1)
BUDGETS = ("16x", "32x", "64x", "128x", "256x", "512x", "1000x", "2000x")
REFERENCE = Path(__file__).parent / "results" / "runs.csv"


def fp_model(out: Path, seed: int, ds, arch: str = "mlp"):
    path = out / "models" / f"fp_seed{seed}.npz"
    if path.exists():
        return admmnet.load(path)
    m = fit_finished(B.FPMLP(**baseline_params("fp", "mnist", arch=arch), seed=seed), ds.X_train, ds.y_train)
    m.save(path, history=False)
    return m


def qnn_fp_model(out: Path, seed: int, ds):
    path = out / "models" / f"qnn_fp_seed{seed}.npz"
    if path.exists():
        return admmnet.load(path)
    kw = qnn_admm_params("mnist", None)
    m = fit_finished(QNNADMM(**kw, preset="mnist", seed=seed, device="cpu"), ds.X_train, ds.y_train)
    m.save(path)             # the history is part of what a quantized fit continues from
    return m


def run_one(out: Path, method: str, budget: str, seed: int, ds, epochs=None, arch: str = "mlp") -> dict:
    t0 = time.perf_counter()
    if method == "budget":
        kw = budget_kwargs(epochs, arch)
        model = fit_finished(B.Budget(budget=budget, **kw, seed=seed), ds.X_train, ds.y_train,
                             fp_model=fp_model(out, seed, ds, arch))
    else:
        fp = qnn_fp_model(out, seed, ds)
        model = fit_finished(QNNADMM(budget=budget, preset="mnist", seed=seed, device="cpu"), ds.X_train,
                             ds.y_train, fp_model=fp)
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / "m.npz", history=False)
        rep = model.compression_report(path)
    return dict(method=method, budget=budget, seed=seed, budget_bits=int(model.budget_bits_),
                test_accuracy=model.score(ds.X_test, ds.y_test), seconds=seconds, compression=rep,
                threads=blas_threads(), params=model.json_params(), admmnet=admmnet.__version__)


def run_uniform(out: Path, method: str, bits: int, seed: int, ds, arch: str) -> dict:
    """``method`` (PTQ, QNN-STE or LQ) at uniform ``bits`` from the seed's FP network: its test
    accuracy and saved size, recorded like a budget run (``budget`` is None)."""
    t0 = time.perf_counter()
    model = fit_finished(UNIFORM[method](**uniform_kwargs(method, bits, arch), seed=seed), ds.X_train, ds.y_train,
                         fp_model=fp_model(out, seed, ds, arch))
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / "m.npz", history=False)
        size = path.stat().st_size
    return dict(method=method, budget=None, bits=bits, seed=seed, test_accuracy=model.score(ds.X_test, ds.y_test),
                model_bytes=int(model.model_bytes), file_bytes=int(size), seconds=seconds, threads=blas_threads(),
                params=model.json_params(), admmnet=admmnet.__version__)


def uniform_kwargs(method: str, bits: int, arch: str) -> dict:
    return dict(baseline_params(method, "mnist", bits, arch=arch), bits=bits, levels="thesis")


def budget_kwargs(epochs=None, arch: str = "mlp") -> dict:
    """The ``budget`` method's settings of a run: the MNIST preset (``epochs``: its ADMM epochs)."""
    kw = baseline_params("budget", "mnist", arch=arch)
    if epochs is not None:
        kw["budget_epochs"] = epochs
    return kw


def is_stale(rec: dict, epochs=None, arch: str = "mlp") -> bool:
    """A ``budget`` or uniform run made with other settings than the preset gives now (it is redone)."""
    if rec["method"] == "budget":
        return settings_changed(budget_kwargs(epochs, arch), rec.get("params", {}), estimator_defaults(B.Budget))
    if rec["method"] in UNIFORM:
        return settings_changed(uniform_kwargs(rec["method"], rec["bits"], arch), rec.get("params", {}),
                                estimator_defaults(UNIFORM[rec["method"]]))
    return False


def _mean_points(cells: dict) -> dict:
    """Per method, one point per bit width, from ``cells``: ``(method, bits) -> [(test accuracy
    in [0, 1], model bytes), ...]`` (in the order given): mean and std accuracy in %, the model
    bytes, the number of runs."""
    out: dict = {}
    for (m, b), v in cells.items():
        acc = [a for a, _ in v]
        out.setdefault(m, []).append(dict(bits=b, accuracy=100 * float(np.mean(acc)), std=100 * float(np.std(acc)),
                                          model_bytes=v[0][1], seeds=len(v)))
    return out


def uniform_points(runs: list[dict]) -> dict:
    """Mean test accuracy and model bytes of the uniform runs of this sweep, per method."""
    cells = {(m, b): [(r["test_accuracy"], r["model_bytes"]) for r in runs if r["method"] == m and r["bits"] == b]
             for m in UNIFORM for b in UNIFORM_BITS}
    return _mean_points({k: v for k, v in cells.items() if v})


def reference_points() -> dict:
    """Mean MNIST test accuracy and model bytes of the uniform methods, from runs.csv."""
    if not REFERENCE.exists():
        return {}
    cells: dict = {}
    for r in csv.DictReader(REFERENCE.open()):
        if r["dataset"] != "mnist" or r["method"] not in ("ptq", "ste", "lq", "qnn-admm") or r["bits"] == "fp":
            continue
        cells.setdefault((r["method"], int(r["bits"])), []).append((float(r["test_accuracy"]), int(r["model_bytes"])))
    return _mean_points(dict(sorted(cells.items())))


def plot(out: Path, runs: list[dict], ref: dict, title: str = "MNIST [784,200,200,10]", fp: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for m, pts in ref.items():
        pts = sorted(pts, key=lambda p: p["model_bytes"])
        ax.plot([p["model_bytes"] for p in pts], [p["accuracy"] for p in pts], "o--", alpha=0.6,
                label=f"{m} (uniform 1/2/4/8 bits)")
    for method, marker in (("budget", "s-"), ("qnn-admm-budget", "D-")):
        cells = _cells([r for r in runs if r["method"] == method])
        if not cells:
            continue
        cells = sorted(cells, key=lambda c: c["model_bytes"])
        ax.plot([c["model_bytes"] for c in cells], [c["mean"] for c in cells], marker, label=f"{method} (all bytes)")
        ax.plot([c["weight_bits"] / 8 for c in cells], [c["mean"] for c in cells], marker[0], mfc="none",
                label=f"{method} (weight bits only, the source's metric)")
    if fp:
        ax.axhline(fp["mean"], color="gray", lw=1, ls=":",
                   label=f"FP network ({fp['mean']:.2f}%, {fp['model_bytes']:,} B)")
    ax.set_xscale("log")
    ax.set_xlabel("model bytes")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title(f"{title}: accuracy against model size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_bytes.png", dpi=120)
    plt.close(fig)
    ones = [r for r in runs if r["method"] == "budget"] or runs
    if ones:
        r = min(ones, key=lambda r: r["compression"]["weight_bits"])
        lay = r["compression"]["layers"]
        fig, ax = plt.subplots(1, 2, figsize=(8, 3.4))
        x = np.arange(1, len(lay) + 1)
        nz = [100 * l["nz_fraction"] for l in lay]
        ax[0].bar(x, nz)
        ax[0].set_yscale("log")
        for xi, l, v in zip(x, lay, nz):
            ax[0].annotate(f"{l['nnz']:,}", (xi, v), ha="center", va="bottom", fontsize=7)
        ax[0].set_title("non-zero weights (% of the layer; count above)", fontsize=9)
        ax[1].bar(x, [l["bits"] for l in lay], color="tab:orange")
        ax[1].set_title("bit width", fontsize=9)
        ax[1].set_ylim(0, 8.5)
        for a in ax:
            a.set_xlabel("layer (weight shape)")
            a.set_xticks(x, ["x".join(map(str, l["shape"])) for l in lay], fontsize=7)
        fig.suptitle(f"{r['method']} {r['budget']} seed {r['seed']}: {100 * r['test_accuracy']:.2f}%", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "layers.png", dpi=120)
        plt.close(fig)


def _cells(rs: list[dict]) -> list[dict]:
    out = []
    for b in sorted({r["budget"] for r in rs}, key=lambda b: -min(r["budget_bits"] for r in rs if r["budget"] == b)):
        g = [r for r in rs if r["budget"] == b]
        acc = [100 * r["test_accuracy"] for r in g]
        c = g[0]["compression"]
        out.append(dict(method=g[0]["method"], budget=b, seeds=len(g), mean=float(np.mean(acc)), std=float(np.std(acc)),
                        weight_bits=int(np.mean([r["compression"]["weight_bits"] for r in g])),
                        model_bytes=int(np.mean([r["compression"]["model_bytes"] for r in g])),
                        compression=float(np.mean([r["compression"]["compression"] for r in g])),
                        compression_total=float(np.mean([r["compression"]["compression_total"] for r in g])),
                        nz_fraction=c["nz_fraction"], avg_bits=c["avg_bits"], bits=[l["bits"] for l in c["layers"]],
                        seconds=float(np.mean([r["seconds"] for r in g]))))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", nargs="+", default=list(BUDGETS))
    p.add_argument("--methods", nargs="+", default=["budget"], choices=METHODS)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--epochs", type=int, default=None, help="budget: epochs of the ADMM stage (default: preset)")
    p.add_argument("--arch", default="mlp", choices=("mlp", "lenet5-caffe"))
    p.add_argument("--uniform", nargs="*", default=None, choices=tuple(UNIFORM),
                   help="uniform 8/4/2/1-bit methods to run beside (default: none for the MLP, whose points "
                        "come from runs.csv; all three for LeNet-5)")
    p.add_argument("--out", default=None, help="default: benchmarks/results/budget_sweep[_<arch>]")
    args = p.parse_args(argv)
    if args.arch != "mlp" and "qnn-admm-budget" in args.methods:
        p.error("qnn-admm-budget trains MLPs only (QNN-ADMM has no convolutional layers)")
    uniform = args.uniform if args.uniform is not None else ([] if args.arch == "mlp" else list(UNIFORM))
    out = Path(args.out) if args.out else results_dir("budget_sweep", args.arch)
    (out / "models").mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    ds = load_dataset("mnist")
    log = out / "runs.jsonl"
    runs = drop_runs(log, lambda r: is_stale(r, args.epochs, args.arch), "were made with other settings than the preset",
                     keep_in=out / "runs.stale.jsonl")
    for seed in range(args.seeds):
        for method in uniform:
            for bits in UNIFORM_BITS:
                if any(r["method"] == method and r.get("bits") == bits and r["seed"] == seed for r in runs):
                    continue
                rec = run_uniform(out, method, bits, seed, ds, args.arch)
                append_runs(log, [rec])
                runs.append(rec)
                print(f"  {method} {bits} bits seed {seed}: {100 * rec['test_accuracy']:.2f}%  "
                      f"{rec['model_bytes']:,} bytes, {rec['seconds']:.0f} s", file=sys.stderr, flush=True)
        for method in args.methods:
            for b in args.budgets:
                if any(r["method"] == method and r["budget"] == b and r["seed"] == seed for r in runs):
                    continue
                rec = run_one(out, method, b, seed, ds, args.epochs, args.arch)
                append_runs(log, [rec])
                runs.append(rec)
                c = rec["compression"]
                print(f"  {method} {b} seed {seed}: {100 * rec['test_accuracy']:.2f}%  {c['weight_bits']} weight bits "
                      f"({c['compression']:.0f}x), {c['model_bytes']:,} bytes in all, bits {[l['bits'] for l in c['layers']]}"
                      f", {rec['seconds']:.0f} s", file=sys.stderr, flush=True)
    title = "MNIST [784,200,200,10]" if args.arch == "mlp" else f"MNIST {args.arch}"
    mine = [r for r in runs if r["seed"] < args.seeds]
    ref = uniform_points(mine) if uniform else reference_points()
    lines = [f"{title} under a size budget: test accuracy %, mean ± std over seeds; sizes read "
             "back from the saved file.", "",
             "| method | budget | seeds | accuracy | weight bits | compression (weight bits) | all bytes | "
             "compression (all bytes) | non-zero | avg bits | bits per layer | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    cells = {}
    for method in METHODS:
        cs = _cells([r for r in mine if r["method"] == method])
        cells[method] = cs
        for c in cs:
            lines.append(f"| {method} | {c['budget']} | {c['seeds']} | {c['mean']:.2f} ± {c['std']:.2f} | "
                         f"{c['weight_bits']:,} | {c['compression']:.0f}x | {c['model_bytes']:,} | "
                         f"{c['compression_total']:.1f}x | {100 * c['nz_fraction']:.2f}% | {c['avg_bits']:.2f} | "
                         f"{c['bits']} | {c['seconds']:.0f} |")
    fp = None
    if "budget" in args.methods or uniform:          # the FP network they start from, for reference
        nets = [fp_model(out, s, ds, args.arch) for s in range(args.seeds)]
        acc = [100 * m.score(ds.X_test, ds.y_test) for m in nets]
        fp = dict(mean=float(np.mean(acc)), std=float(np.std(acc)), seeds=len(acc),
                  model_bytes=int(nets[0].model_bytes))
        lines += ["", f"FP network they start from (the preset's FP stage): {fp['mean']:.2f} ± {fp['std']:.2f}% "
                      f"({fp['seeds']} seed{'s' * (fp['seeds'] > 1)}), {fp['model_bytes']:,} bytes"]
    if ref:
        src = "this sweep, from the same FP networks" if uniform else "benchmarks/results/runs.csv"
        lines += ["", f"Uniform methods ({src}, mean over their seeds): accuracy % at model bytes",
                  ""] + [f"- {m}: " + ", ".join(f"{p['bits']} bit{'s' * (p['bits'] > 1)} {p['accuracy']:.2f} ({p['model_bytes']:,} B)"
                                                for p in pts) for m, pts in ref.items()]
    plot(out, [r for r in mine if r["method"] in METHODS], ref, title, fp)
    write_results(out, {"cells": cells, "reference": ref, "fp": fp}, "\n".join(lines) + "\n", t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
