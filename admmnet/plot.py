"""Training curves of ``admmnet train --json`` result files (``admmnet plot``).

One figure, two rows: against the iteration (epoch for the backprop methods) and
against the elapsed seconds; four columns: the objective (QNN-ADMM's augmented
Lagrangian, the backprop methods' training loss), the residuals (QNN-ADMM:
``||z - Wa||``, and ``||a - h(z)||``, ``||W - G||`` when recorded), the training
accuracy and the validation accuracy (``val_accuracy``, else the backprop methods'
``holdout_accuracy``; the final test accuracy is marked by a star at the end of each
run). Several runs are overlaid; the legend says method, bits and dataset.
Needs matplotlib (``pip install matplotlib``, or ``admmnet[plots]``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["load_result", "plot_results", "curves"]


def load_result(path) -> dict:
    """A result JSON written by ``admmnet train --json`` (it needs a ``history`` list)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a JSON file ({exc})") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("history"), list):
        raise ValueError(f"{p}: not a result of 'admmnet train --json' (no 'history' list)")
    if not rec["history"]:
        raise ValueError(f"{p}: the run recorded no iterations")
    return rec


def _norm(v):
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        vals = [x for x in v if x is not None]
        return math.sqrt(sum(x * x for x in vals)) if vals else None
    return float(v)


def curves(rec: dict) -> dict:
    """The series of one run: ``x_iter``, ``x_sec`` and one list per quantity (None: not recorded)."""
    hist = [h for h in rec["history"] if isinstance(h, dict)]
    x_iter, x_sec, t = [], [], 0.0
    for i, h in enumerate(hist):
        x_iter.append(h.get("iteration") or h.get("epoch") or i + 1)
        t = h["elapsed"] if h.get("elapsed") is not None else t + float(h.get("seconds") or 0.0)
        x_sec.append(t)
    # iterations of several stages (backprop methods) count on, one per record
    if any(b <= a for a, b in zip(x_iter, x_iter[1:])):
        x_iter = list(range(1, len(hist) + 1))
    out = {"x_iter": x_iter, "x_sec": x_sec,
           "objective": [h.get("objective", h.get("loss")) for h in hist],
           "residual_z": [_norm(h.get("residual_z")) for h in hist],
           "residual_a": [_norm(h.get("residual_a")) for h in hist],
           "residual_w": [_norm(h.get("residual_w")) for h in hist],
           "train_accuracy": [h.get("train_accuracy") for h in hist],
           "val_accuracy": [h.get("val_accuracy", h.get("holdout_accuracy"))
                            if h.get("val_accuracy") is not None else h.get("holdout_accuracy") for h in hist]}
    return out


def _label(rec: dict) -> str:
    bits = rec.get("bits")
    bits = "full precision" if bits in (None, "fp") else f"{bits} bits"
    return f"{rec.get('method', '?')} {bits}, {rec.get('dataset', '?')}"


def plot_results(paths, output) -> Path:
    """Plot the runs in ``paths`` (result JSON files) into ``output`` (any format matplotlib
    writes: .png, .pdf, .svg)."""
    recs = [load_result(p) for p in paths]
    try:
        import matplotlib
    except ImportError:
        raise ImportError("admmnet plot needs matplotlib: pip install matplotlib "
                          "(or pip install admmnet[plots])") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [_label(r) for r in recs]
    for i, lab in enumerate(labels):          # the same method/bits/dataset twice: add the file name
        if labels.count(lab) > 1:
            labels[i] = f"{lab} ({Path(paths[i]).stem})"
    fig, axes = plt.subplots(2, 4, figsize=(18, 8), squeeze=False)
    panels = (("objective", "objective / training loss", True), ("residuals", "residuals", True),
              ("train_accuracy", "train accuracy", False), ("val_accuracy", "validation accuracy", False))
    styles = {"residual_z": "-", "residual_a": "--", "residual_w": ":"}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, xkey, xlabel in ((0, "x_iter", "iteration / epoch"), (1, "x_sec", "seconds")):
        for col, (key, title, logy) in enumerate(panels):
            ax = axes[row][col]
            drawn = False
            for k, (rec, lab) in enumerate(zip(recs, labels)):
                c = curves(rec)
                color = colors[k % len(colors)]
                x = c[xkey]
                series = ([(s, c[s]) for s in styles] if key == "residuals" else [(key, c[key])])
                for name, ys in series:
                    pts = [(a, b) for a, b in zip(x, ys) if b is not None and (not logy or b > 0)]
                    if not pts:
                        continue
                    ax.plot(*zip(*pts), styles.get(name, "-"), color=color,
                            label=lab if name in (key, "residual_z") else f"{lab}: {name}")
                    drawn = True
                if key == "val_accuracy" and rec.get("test_accuracy") is not None and x:
                    ax.plot([x[-1]], [rec["test_accuracy"]], "*", color=color, markersize=10,
                            label=f"{lab}: test")
                    drawn = True
            ax.set_xlabel(xlabel)
            ax.set_title(title)
            if logy and drawn:
                ax.set_yscale("log")
            if drawn:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "not recorded in these runs", ha="center", va="center", transform=ax.transAxes)
            ax.grid(True, alpha=0.3)
    fig.tight_layout()
    from .io import atomic_write

    suffix = Path(output).suffix.lstrip(".") or "png"
    atomic_write(output, lambda fh: fig.savefig(fh, format=suffix, dpi=110))
    plt.close(fig)
    return Path(output)
