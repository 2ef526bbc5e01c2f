"""Time to accuracy on MNIST: QNN-ADMM (fp, 2 bits) against backprop FP and QNN-STE.

One process, one machine, one after the other, seed 0, the dataset presets:

* QNN-ADMM fp: test accuracy of the network after each iteration (as the fit
  returns it if stopped there, before the final output refit), at the summed
  iteration time; then the final network (after the refit) at the fit's end.
* QNN-ADMM 2 bits: the quantized preset runs the FP iterations, then quantizes. Its
  curve is what ``admmnet train --bits 2 --iters k`` returns: at k = 10, 20, ... the
  FP iterate is quantized (FP output refit, layerwise quantizer, quantized refit,
  exactly the quantized fit's last stage, via ``fit(fp_model=...)``) and plotted at
  the FP time to k plus the quantization's own time.
* backprop FP (:class:`admmnet.baselines.FPMLP`) and QNN-STE (2 bits; its FP stage
  first, then the STE epochs): test accuracy after every epoch at the summed epoch
  time (test rows are only evaluated, early stopping uses the training rows' holdout).

Evaluation time is not counted. Writes ``<out>/time_to_accuracy.json`` (every point,
machine, versions, command) and ``<out>/time_to_accuracy.png`` (needs matplotlib).

    python benchmarks/time_to_accuracy.py [--iters 100] [--every 10]
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import admmnet
from admmnet.baseline_presets import baseline_params
from admmnet.baselines import FPMLP, QNNSTE
from admmnet.cli import environment
from admmnet.datasets import load_dataset
from admmnet.io import write_json
from admmnet.presets import qnn_admm_params

from _runs import fit_finished


def qnn_admm_curves(ds, iters: int, every: int, seed: int = 0):
    p = {**qnn_admm_params("mnist", None), "max_iter": iters}
    fp = admmnet.QNNADMM(**p, seed=seed)
    fp_curve, q_curve = [], []
    clock = [0.0]

    def on_iter(model, rec):
        clock[0] += rec["seconds"]
        fp_curve.append({"seconds": clock[0], "test_accuracy": rec["val_accuracy"], "iteration": rec["iteration"]})
        k = rec["iteration"]
        if k % every == 0:
            shell = copy.copy(model)                 # the FP iterate as a fitted FP model
            shell.n_iter_ = k
            shell.params_ = {**model.params_, "refit_output": False}   # the quantized fit refits it
            shell.history_ = admmnet.model.History(list(model._partial_history))
            q = admmnet.QNNADMM(**{**qnn_admm_params("mnist", 2), "max_iter": k, "fp_iter": k}, bits=2, seed=seed)
            t = time.perf_counter()
            fit_finished(q, ds.X_train, ds.y_train, fp_model=shell)
            dt = time.perf_counter() - t
            q_curve.append({"seconds": clock[0] + dt, "test_accuracy": q.score(ds.X_test, ds.y_test),
                            "iteration": k, "quantize_seconds": dt})
            print(f"  qnn-admm 2 bits @ {k} it.: {100 * q_curve[-1]['test_accuracy']:.2f}% "
                  f"at {q_curve[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)

    def callback(model, rec):
        model._partial_history.append(rec)
        on_iter(model, rec)

    fp._partial_history = []
    t = time.perf_counter()
    fit_finished(fp, ds.X_train, ds.y_train, eval_set=(ds.X_test, ds.y_test), callback=callback)
    total = time.perf_counter() - t
    final = fp.history_.final
    if final is not None:
        fp_curve.append({"seconds": clock[0] + final["seconds"], "test_accuracy": fp.score(ds.X_test, ds.y_test),
                         "iteration": iters, "stage": final["stage"]})
    return fp_curve, q_curve, total


def backprop_curve(model, ds):
    fit_finished(model, ds.X_train, ds.y_train, eval_set=(ds.X_test, ds.y_test))
    out, clock = [], 0.0
    for rec in model.history_:
        clock += rec["seconds"]
        if rec.get("val_accuracy") is not None:
            out.append({"seconds": clock, "test_accuracy": rec["val_accuracy"], "stage": rec.get("stage")})
    return out


def plot(curves: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no figure; pip install matplotlib)", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    style = {"QNN-ADMM fp": ("C0", "-o"), "QNN-ADMM 2 bits": ("C1", "-s"),
             "backprop FP": ("C2", "--^"), "QNN-STE 2 bits (backprop)": ("C3", "--v")}
    for name, pts in curves.items():
        if not pts:
            continue
        c, ls = style[name]
        ax.plot([p["seconds"] for p in pts], [100 * p["test_accuracy"] for p in pts], ls, color=c, label=name,
                markersize=3, linewidth=1.3)
    ax.set_xlabel("seconds (training only, same machine, same run)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_ylim(90, 99)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Time to accuracy, MNIST [784,200,200,10]")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(path)
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=None, help="QNN-ADMM iterations (default: the MNIST preset's)")
    p.add_argument("--every", type=int, default=10, help="quantize the FP iterate every N iterations (default 10)")
    p.add_argument("--out", default="benchmarks/results/time_to_accuracy")
    args = p.parse_args(argv)
    iters = args.iters or qnn_admm_params("mnist", None)["max_iter"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("mnist")
    t_all = time.perf_counter()
    print("QNN-ADMM fp and 2 bits ...", file=sys.stderr, flush=True)
    fp_curve, q_curve, qnn_total = qnn_admm_curves(ds, iters, args.every)
    print("backprop FP ...", file=sys.stderr, flush=True)
    bp_curve = backprop_curve(FPMLP(**baseline_params("fp", "mnist"), seed=0), ds)
    print("QNN-STE 2 bits ...", file=sys.stderr, flush=True)
    ste_curve = backprop_curve(QNNSTE(**baseline_params("ste", "mnist", 2), bits=2, levels="thesis", seed=0), ds)
    curves = {"QNN-ADMM fp": fp_curve, "QNN-ADMM 2 bits": q_curve, "backprop FP": bp_curve,
              "QNN-STE 2 bits (backprop)": ste_curve}
    has_png = plot(curves, out / "time_to_accuracy.png")
    summary = {name: {"final_test_accuracy": pts[-1]["test_accuracy"], "seconds": pts[-1]["seconds"],
                      "best_test_accuracy": max(q["test_accuracy"] for q in pts)} for name, pts in curves.items() if pts}
    write_json(out / "time_to_accuracy.json", {"command": " ".join(["python"] + sys.argv),
                                               "environment": environment(), "curves": curves, "summary": summary,
                                               "figure": "time_to_accuracy.png" if has_png else None,
                                               "seconds_this_invocation": time.perf_counter() - t_all})
    print("| method | final test acc. | seconds |\n| --- | --- | --- |")
    for name, s in summary.items():
        print(f"| {name} | {100 * s['final_test_accuracy']:.2f} | {s['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
