"""Scratch (not part of the package): does doubling the automatic preset's width pay from 1,000 rows?

Since 665f278 the preset doubled its hidden width from AUTO_WIDE_SAMPLES (5,000) fitting rows (this run moved it to 1,000);
between 800 and 5,000 rows that was never measured. Validation rows only, two splits each:
make_classification sets of 2,000 / 4,000 / 6,000 rows (80/20 of the training part of a 75/25
split, as benchmarks/auto_preset_large.py), scikit-learn's digits (80/20 of the training part
of a stratified 80/20 split, as benchmarks/auto_preset.py), 3,000 rows of Pendigits'
writer-dependent split 0 (held-out and distorted held-out rows) and 3,000 MNIST training images
scored on 2,000 others; the automatic preset at its width and at twice it (at most 200), FP,
2 bits and 1 bit (5 restarts, as the preset under 20,000 rows).

    python -u benchmarks/results/auto_preset_large/small_mid.py > benchmarks/results/auto_preset_large/small_mid.jsonl
    python benchmarks/results/auto_preset_large/small_mid.py --report    # small_mid.md from the JSON lines
"""
import argparse
import json
import sys
import time
import warnings
warnings.simplefilter("ignore")
sys.path.insert(0, "benchmarks")
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
import admmnet
import auto_preset_large as APL
from admmnet.presets import auto_base_width, auto_params

APL.SYNTHETIC.update({"syn-2k-20f-5c": dict(n_samples=2000, n_features=20, n_informative=10, n_classes=5,
                                            random_state=3),
                      "syn-4k-50f-10c": dict(n_samples=4000, n_features=50, n_informative=25, n_classes=10,
                                             n_clusters_per_class=2, random_state=4),
                      "syn-6k-10f-3c": dict(n_samples=6000, n_features=10, n_informative=6, n_classes=3,
                                            random_state=5)})


def digits(split):
    X, y = load_digits(return_X_y=True)
    Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.2, stratify=y, random_state=split)
    Xf, Xv, yf, yv = train_test_split(Xtr, ytr, test_size=0.2, stratify=ytr, random_state=split)
    sc = StandardScaler().fit(Xf)
    f32 = np.float32
    return (sc.transform(Xf).astype(f32), yf), {"val": (sc.transform(Xv).astype(f32), yv)}


def pendigits3k(split):
    from pendigits_validation import _data
    d = _data(0, 0)
    X, y = d["fit"]
    r = np.random.default_rng(split).permutation(X.shape[0])[:3000]
    return (X[r], y[r]), {"val": d["val"], "distorted": d["distorted"]}


def mnist3k(split):
    from admmnet.datasets import load_dataset
    ds = load_dataset("mnist")
    r = np.random.default_rng(split).permutation(ds.X_train.shape[0])
    fit, val = r[:3000], r[3000:5000]
    return (ds.X_train[fit], ds.y_train[fit]), {"val": (ds.X_train[val], ds.y_train[val])}


probs = {**{n: (lambda s, n=n: APL.synthetic(n, s, True)) for n in ("syn-2k-20f-5c", "syn-4k-50f-10c", "syn-6k-10f-3c")},
         "digits": digits, "pendigits-3k": pendigits3k, "mnist-3k": mnist3k}
ap = argparse.ArgumentParser()
ap.add_argument("problems", nargs="*", default=list(probs))
ap.add_argument("--bits", nargs="+", default=["fp", "2", "1"], choices=["fp", "2", "1"])
ap.add_argument("--splits", type=int, default=2)
ap.add_argument("--factors", type=float, nargs="+", default=[1, 2])
ap.add_argument("--report", action="store_true", help="tabulate small_mid.jsonl into small_mid.md and stop")
args = ap.parse_args()
if args.report:
    from pathlib import Path
    here = Path(__file__).parent
    runs = [json.loads(line) for line in (here / "small_mid.jsonl").read_text().splitlines() if line.strip()]
    lines = ["Validation % (mean of the splits; Pendigits held-out / distorted), the automatic preset at its "
             "width and at twice it; made by `small_mid.py` (module docstring).", "",
             "| problem (fitting rows) | bits | width | at its width | at twice it | difference |", "| --- | --- | --- | --- | --- | --- |"]
    diffs = []
    for name in dict.fromkeys(r["problem"] for r in runs):
        for bits in dict.fromkeys(r["bits"] for r in runs if r["problem"] == name):
            cell = {}
            for f in (1, 2):
                rs = [r for r in runs if (r["problem"], r["bits"], r["factor"]) == (name, bits, f)]
                cell[f] = {e: float(np.mean([r[e] for r in rs])) for e in ("val", "distorted") if e in rs[0]}
                cell[f]["width"], cell[f]["n"] = rs[0]["width"], rs[0]["n"]
            show = lambda c: " / ".join(f"{c[e]:.2f}" for e in ("val", "distorted") if e in c)
            d = cell[2]["val"] - cell[1]["val"]
            diffs.append(d)
            lines.append(f"| {name} ({cell[1]['n']}) | {'fp' if bits is None else bits} | {cell[1]['width']} -> "
                         f"{cell[2]['width']} | {show(cell[1])} | {show(cell[2])} | {d:+.2f} |")
    lines += ["", f"Mean difference over the {len(diffs)} cells: {np.mean(diffs):+.2f} "
              f"({sum(d > 0 for d in diffs)} up, {sum(d < 0 for d in diffs)} down)."]
    tmp = here / "small_mid.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(here / "small_mid.md")
    print("\n".join(lines))
    sys.exit(0)
for name in args.problems:
    for split in range(args.splits):
        fit, evals = probs[name](split)
        n, d, k = APL.shape_of(fit)
        for bits in [None if b == "fp" else int(b) for b in args.bits]:
            for f in args.factors:
                kw = auto_params(n, d, k, bits)     # its width: the rule's own before AUTO_WIDE_SAMPLES, times f
                w = int(min(200, round(auto_base_width(d, k) * f)))
                kw["hidden_sizes"] = (w, w)
                t = time.time()
                m = admmnet.QNNADMM(**kw, bits=bits, seed=0, device="cpu").fit(*fit)
                scores = {e: round(100 * m.score(*v), 2) for e, v in evals.items()}
                print(json.dumps(dict(problem=name, split=split, n=n, bits=bits, factor=f, width=w, **scores,
                                      seconds=round(time.time() - t))), flush=True)
