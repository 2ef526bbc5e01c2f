"""One setting's paired differences, pooled over several runs of ``quantizer_validation.py``.

A choice read off one set of validation folds is confirmed on other partitions of the same
training rows (``quantizer_validation.py --fold-offset N``). Each such run writes its own JSON,
and the grids of the runs need not agree (a setting may be the second of one grid and the fourth
of another). This script finds ``--setting`` (a JSON object, compared as a dict) and the
reference ``--against`` (default ``{}``, the preset) in each file's grid, pairs their scores
problem by problem, and prints

* per file: the mean paired difference ± its standard error, problems up / down;
* pooled by training set: each split's mean difference over all its folds in all files (Seeds:
  the 5 folds of each of the partitions), then the mean ± standard error over the splits and how
  many splits moved up and down. The splits are the independent units: the folds of one split
  share its training rows.

Only validation scores are read (the files hold no test rows). ``--out`` writes the figures
as JSON with the command and the files' own commands.

    python benchmarks/pool_partitions.py benchmarks/results/quantizer_validation/leaky_base/seeds_1bit_folds{0,100,200,300}.json \\
        --setting '{"n_init": 10, "layerwise_iter": 60}'
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from _runs import paired_difference

#: Run fields that are not scores.
NOT_SCORES = ("problem", "bits", "setting", "seconds")


def _index(grid: list, setting: dict, path) -> int:
    for i, s in enumerate(grid):
        if s == setting:
            return i
    raise SystemExit(f"{path}: setting {json.dumps(setting)} is not in its grid {json.dumps(grid)}")


def _stats(d) -> dict:
    """Mean and standard error (:func:`_runs.paired_difference`), count, problems up and down."""
    diff, _ = paired_difference(d)
    d = np.asarray(d, dtype=float)
    return {"n": int(d.size), "mean": diff["diff"], "se": diff["diff_se"], "up": int((d > 0).sum()),
            "down": int((d < 0).sum())}


def pool(paths, setting: dict, against: dict | None = None, bits: str = "1") -> dict:
    """The paired differences of ``setting`` minus ``against`` at ``bits`` in each file, and
    pooled by split (the problem name up to its first ``-``): ``{"files": {path: {score: stats}},
    "splits": {score: stats over the splits}, "per_split": {score: {split: mean}}}``."""
    against = {} if against is None else against
    files, per_split = {}, {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        k, r = _index(data["grid"], setting, path), _index(data["grid"], against, path)
        runs = {(x["problem"], x["setting"]): x for x in data["runs"] if str(x["bits"]) == str(bits)}
        problems = sorted({p for p, s in runs if s == r})
        if not problems or any((p, k) not in runs for p in problems):
            raise SystemExit(f"{path}: no paired {bits}-bit scores for {json.dumps(setting)}")
        scores = [c for c in runs[(problems[0], r)] if c not in NOT_SCORES]
        files[str(path)] = {}
        for c in scores:
            d = [runs[(p, k)][c] - runs[(p, r)][c] for p in problems]
            files[str(path)][c] = _stats(d)
            for p, x in zip(problems, d):
                per_split.setdefault(c, {}).setdefault(p.split("-")[0], []).append(x)
    means = {c: {s: float(np.mean(v)) for s, v in by.items()} for c, by in per_split.items()}
    return {"files": files, "splits": {c: _stats(list(m.values())) for c, m in means.items()}, "per_split": means}


def _fmt(s: dict) -> str:
    return f"{s['mean']:+.2f} ± {s['se']:.2f} (+{s['up']} −{s['down']}, n = {s['n']})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", help="JSON files written by quantizer_validation.py")
    p.add_argument("--setting", type=json.loads, required=True, help="the setting, a JSON object of its grid")
    p.add_argument("--against", type=json.loads, default={}, help="the reference setting (default {}: the preset)")
    p.add_argument("--bits", default="1")
    p.add_argument("--out", default=None, help="write the figures to this JSON file")
    a = p.parse_args(argv)
    res = pool(a.files, a.setting, a.against, a.bits)
    print(f"{json.dumps(a.setting)} against {json.dumps(a.against)}, {a.bits} bit(s): paired differences")
    for path, by in res["files"].items():
        print(f"  {path}: " + "; ".join(f"{c} {_fmt(s)}" for c, s in by.items()))
    for c, s in res["splits"].items():
        print(f"  pooled by split, {c}: {_fmt(s)}")
    if a.out:
        from admmnet.cli import environment
        from admmnet.io import write_json
        write_json(Path(a.out), {"command": " ".join(["python"] + sys.argv), "environment": environment(),
                                 "setting": a.setting, "against": a.against, "bits": a.bits, **res,
                                 "commands": {f: json.loads(Path(f).read_text()).get("command") for f in a.files}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
