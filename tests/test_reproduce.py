"""The study harness (benchmarks/reproduce.py): run store, resume, CSV, tables, verdicts."""
import csv
import json
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow     # subprocesses / whole benchmark runs: not in the quick subset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reproduce  # noqa: E402
from _thesis import THESIS  # noqa: E402


def _run(method, bits, seed, acc, d="seeds"):
    return {"dataset": d, "method": method, "bits": bits, "levels": "fp" if bits == "fp" else "thesis",
            "seed": seed, "test_accuracy": acc, "train_accuracy": 1.0, "seconds": 1.0, "model_bytes": 100,
            "file_bytes": 1000, "n_levels": None if bits == "fp" else 2 ** (bits + 1) - 1,
            "storage_bits_per_weight": 32 if bits == "fp" else bits + 1, "n_weights": 80}


def test_summary_statistics_and_verdicts():
    runs = [_run("ptq", 8, s, a) for s, a in enumerate([0.90, 0.95, 1.00])]      # mean 95, std 5
    runs += [_run("ptq", 1, s, a) for s, a in enumerate([0.40, 0.50, 0.60])]     # mean 50, std 10
    runs += [_run("fp", "fp", s, 0.95) for s in range(3)]
    summary = reproduce.summarise(runs)
    c8, c1 = summary["seeds/ptq/8"], summary["seeds/ptq/1"]
    assert c8["test_accuracy_mean"] == pytest.approx(95.0)
    assert c8["test_accuracy_std"] == pytest.approx(5.0)      # sample std (ddof=1)
    assert c8["thesis_mean"] == THESIS["seeds"]["ptq"][8][0] == 93.25
    assert c8["margin"] == pytest.approx(95.0 - 93.25)
    assert c8["meets_thesis"] and not c8["beats_by_more_than_one_std"]   # 1.75 < max(5, 2.84)
    assert c1["meets_thesis"] and c1["beats_by_more_than_one_std"]       # 50 - 33.52 > max(10, 13.36)
    assert summary["seeds/fp/fp"]["thesis_mean"] == 93.25
    v = reproduce.verdicts(summary, ["seeds"])
    assert v["beats_by_more_than_one_std"] == ["seeds/ptq/1"]
    assert v["beats_within_one_std"] == ["seeds/ptq/8"]
    assert not v["below_thesis"]
    # every other thesis cell of the Seeds table is reported as not run
    assert len(v["missing"]) == 4 * 4 + 2 - 2
    table = reproduce.markdown(summary, ["seeds"], v, {"runs": 3600.0, "wall": 1800.0})
    assert "**95.00 ± 5.00** (93.25)" in table     # best of the 8-bit row, bold, thesis mean beside
    assert "per table: Seeds 2 of 18" in table
    assert "| FP | fp | float | 32 | 100 |" in table and "1.0×" in table


def test_below_thesis_is_flagged():
    summary = reproduce.summarise([_run("lq", 8, s, 0.5) for s in range(2)])
    assert summary["seeds/lq/8"]["meets_thesis"] is False
    assert reproduce.verdicts(summary, ["seeds"])["below_thesis"] == ["seeds/lq/8"]
    assert "↓" in reproduce.markdown(summary, ["seeds"], reproduce.verdicts(summary, ["seeds"]),
                                     {"runs": 0.0, "wall": 0.0})


def test_small_study_runs_stores_and_resumes(real_data, tmp_path, capsys):
    out, csv_path = tmp_path / "study", tmp_path / "runs.csv"
    argv = ["--datasets", "seeds", "--seeds", "2", "--methods", "ptq", "qnn-admm", "--bits", "8", "1",
            "--out", str(out), "--csv", str(csv_path)]
    assert reproduce.main(argv) == 0
    rows = list(csv.DictReader(csv_path.open()))
    # FP (needed by PTQ) x 2 seeds, PTQ 8/1 x 2, QNN-ADMM 8/1 x 2
    assert len(rows) == 2 + 4 + 4
    for col in ("dataset", "method", "bits", "levels", "seed", "test_accuracy", "train_accuracy", "seconds",
                "model_bytes"):
        assert col in rows[0]
    assert {r["method"] for r in rows} == {"fp", "ptq", "qnn-admm"}
    assert {r["bits"] for r in rows} == {"fp", "8", "1"}
    for r in rows:
        assert 0.0 <= float(r["test_accuracy"]) <= 1.0 and 0.0 <= float(r["train_accuracy"]) <= 1.0
        assert int(r["model_bytes"]) > 0 and int(r["file_bytes"]) > int(r["model_bytes"])
    ptq1 = next(r for r in rows if r["method"] == "ptq" and r["bits"] == "1")
    fp = next(r for r in rows if r["method"] == "fp")
    assert ptq1["levels"] == "thesis" and ptq1["n_levels"] == "3" and ptq1["storage_bits_per_weight"] == "2"
    assert int(ptq1["model_bytes"]) < int(fp["model_bytes"])
    study = json.loads((out / "study.json").read_text())
    assert study["cells"]["seeds/ptq/8"]["n_runs"] == 2
    assert study["hyper_parameters"]["seeds"]["qnn-admm"]["1"]["bits"] == 1
    assert "### Seeds" in (out / "tables.md").read_text()

    # resume: nothing is redone; a run lost from the store (a crash) is redone alone
    lines = (out / "runs.jsonl").read_text().splitlines()
    capsys.readouterr()
    assert reproduce.main(argv) == 0
    assert "0 to do" in capsys.readouterr().err
    (out / "runs.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])   # last line cut
    assert reproduce.main(argv) == 0
    assert "1 to do" in capsys.readouterr().err
    assert len((out / "runs.jsonl").read_text().splitlines()) == len(lines)
    assert len(list(csv.DictReader(csv_path.open()))) == 10


def test_box_plots_written(tmp_path):
    pytest.importorskip("matplotlib")
    runs = [_run(m, 8, s, 0.9 + 0.01 * s) for m in ("ptq", "lq") for s in range(3)]
    runs += [_run("fp", "fp", s, 0.95) for s in range(3)]
    files = reproduce.box_plots(reproduce.summarise(runs), ["seeds"], tmp_path)
    assert [Path(f).name for f in files] == ["seeds_8bit.png"]
    assert Path(files[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plan_redoes_stale_runs_and_takes_over_reused_ones(tmp_path):
    from _runs import append_run, load_runs, model_kwargs, plan

    def rec(method, bits, seed, **params):
        return {**_run(method, bits, seed, 0.9), "params": {**model_kwargs("seeds", method, bits), **params},
                "augmentation": None}

    out, other = tmp_path / "a", tmp_path / "b"
    out.mkdir()
    other.mkdir()
    append_run(out / "runs.jsonl", rec("fp", "fp", 0, lr=0.5))          # other settings: stale
    append_run(out / "runs.jsonl", rec("ptq", 8, 0))                    # made from that stale FP
    append_run(out / "runs.jsonl", rec("fp", "fp", 1))                  # valid
    append_run(other / "runs.jsonl", rec("ptq", 8, 1))                  # valid, to take over
    runs, phases = plan(out, ["seeds"], ["fp", "ptq"], {8}, 2, reuse=[other / "runs.jsonl"])
    assert sorted((r["method"], r["seed"]) for r in runs) == [("fp", 1), ("ptq", 1)]
    assert [r for r in runs if r["method"] == "ptq"][0]["reused_from"] == str(other / "runs.jsonl")
    assert [(t[2], t[4]) for t in phases[0]] == [("fp", 0)]
    assert [(t[2], t[4]) for t in phases[1]] == [("ptq", 0)]
    assert len(load_runs(out / "runs.stale.jsonl")) == 2
    assert len(load_runs(out / "runs.jsonl")) == 2                       # the store was rewritten


def test_plan_stores_a_redone_fp_run_once_and_drops_twins(tmp_path):
    """An FP run whose model file is gone while a run to do needs it is redone: its old line
    leaves the store at once (the redone run is appended when it finishes, so it is never
    stored twice); a run already stored twice counts once, the later line."""
    from _runs import append_run, load_runs, model_kwargs, plan

    def rec(method, bits, seed, acc=0.9):
        return {**_run(method, bits, seed, acc), "params": model_kwargs("seeds", method, bits), "augmentation": None}

    out = tmp_path / "a"
    out.mkdir()
    append_run(out / "runs.jsonl", rec("fp", "fp", 0))            # no model file: redone for TWN
    append_run(out / "runs.jsonl", rec("fp", "fp", 1, 0.8))
    append_run(out / "runs.jsonl", rec("fp", "fp", 1, 0.7))       # the same run twice
    (out / "models").mkdir()
    (out / "models" / "fp_seeds_seed1.npz").write_bytes(b"")
    runs, phases = plan(out, ["seeds"], ["fp", "twn"], {1}, 2)
    assert [(t[2], t[4]) for t in phases[0]] == [("fp", 0)]
    assert sorted((t[2], t[4]) for t in phases[1]) == [("twn", 0), ("twn", 1)]
    stored = load_runs(out / "runs.jsonl")
    assert [(r["method"], r["seed"], r["test_accuracy"]) for r in stored] == [("fp", 1, 0.7)]
    assert [(r["method"], r["seed"]) for r in runs] == [("fp", 1)]


def test_pendigits_protocols(real_data, tmp_path):
    """The study runs Pendigits with both test protocols: "pendigits-wd" is writer-dependent
    (pendigits.tra split 80/20 by the run's seed), with Pendigits' presets, augmentation and
    thesis table; "pendigits" keeps the standard writer-independent split."""
    from _runs import STUDY_DATASETS, augment_copies, base_dataset, model_kwargs, run_task, split_seed_for

    assert set(STUDY_DATASETS) == set(reproduce.DATASETS) == {"seeds", "pendigits", "pendigits-wd", "mnist"}
    assert base_dataset("pendigits-wd") == "pendigits"
    assert (split_seed_for("pendigits-wd", 3), split_seed_for("pendigits", 3), split_seed_for("seeds", 3)) == (3, 0, 3)
    assert model_kwargs("pendigits-wd", "lq", 2) == model_kwargs("pendigits", "lq", 2)
    assert THESIS["pendigits-wd"] is THESIS["pendigits"]
    rec = run_task(str(tmp_path), "pendigits-wd", "qnn-admm", 8, 2)
    assert rec["dataset"] == "pendigits-wd" and rec["augment"] == augment_copies("qnn-admm", "pendigits") == 4
    assert rec["split"] == "UCI writer-dependent: pendigits.tra stratified 80/20, seed 2, train + 4 augmented copies (seed 2)"
    assert 0.5 < rec["test_accuracy"] <= 1.0
    summary = reproduce.summarise([rec])
    assert summary["pendigits-wd/qnn-admm/8"]["thesis_mean"] == THESIS["pendigits"]["qnn-admm"][8][0]
    table = reproduce.markdown(summary, ["pendigits-wd"], reproduce.verdicts(summary, ["pendigits-wd"]),
                               {"runs": 1.0, "wall": 1.0})
    assert "### Pendigits, writer-dependent test" in table


def test_other_sources_methods_get_columns_and_a_binary_row(tmp_path):
    """TWN/TTQ/ADMM-ternary/MD cells join the thesis tables: ternary in the 1-bit row, MD's
    binary runs in a "binary" row; the thesis verdict ignores them (no thesis figure)."""
    runs = [_run("ste", 1, s, 0.90) for s in range(2)] + [_run("fp", "fp", s, 0.95) for s in range(2)]
    runs += [_run("twn", 1, s, 0.92) for s in range(2)]
    runs += [{**_run("md-tanh-s", 1, s, 0.93), "bits": "binary", "levels": "binary", "n_levels": 2,
              "storage_bits_per_weight": 1} for s in range(2)]
    summary = reproduce.summarise(runs)
    assert summary["seeds/md-tanh-s/binary"]["thesis_mean"] is None
    assert reproduce.columns(summary, "seeds") == ["ste", "twn", "md-tanh-s"]
    assert reproduce.rows(summary, "seeds") == [1, "binary"]
    v = reproduce.verdicts(summary, ["seeds"])
    assert not any("twn" in k or "md-" in k for ks in v.values() for k in ks)
    table = reproduce.markdown(summary, ["seeds"], v, {"runs": 1.0, "wall": 1.0})
    assert "| bits | QNN-STE | TWN | MD-tanh-s |" in table
    assert "| 1 | 90.00 ± 0.00 (38.14) | **92.00 ± 0.00** | – |" in table
    assert "| binary | – | – | **93.00 ± 0.00** |" in table
    assert "| MD-tanh-s | binary | 2 | 1 |" in table
    if pytest.importorskip("matplotlib"):
        names = [Path(f).name for f in reproduce.box_plots(summary, ["seeds"], tmp_path)]
        assert names == ["seeds_1bit.png", "seeds_binary.png"]


def test_ternary_and_binary_runs_of_the_new_methods(real_data, tmp_path):
    out, csv_path = tmp_path / "study", tmp_path / "runs.csv"
    argv = ["--datasets", "seeds", "--seeds", "1", "--methods", "twn", "md-tanh-s", "--bits", "1", "binary",
            "--out", str(out), "--csv", str(csv_path)]
    assert reproduce.main(argv) == 0
    rows = {(r["method"], r["bits"]): r for r in csv.DictReader(csv_path.open())}
    assert set(rows) == {("fp", "fp"), ("twn", "1"), ("md-tanh-s", "1"), ("md-tanh-s", "binary")}
    assert rows["md-tanh-s", "binary"]["levels"] == "binary" and rows["md-tanh-s", "binary"]["n_levels"] == "2"
    assert rows["twn", "1"]["levels"] == "thesis" and rows["twn", "1"]["n_levels"] == "3"
    for r in rows.values():
        assert float(r["test_accuracy"]) > 0.6      # 3 classes: far above chance on Seeds
    assert "binary" in (out / "tables.md").read_text()


def test_a_parameter_added_later_counts_at_its_default():
    """A stored QNN-ADMM run made before an estimator parameter existed (e.g. ``budget``) is
    not stale while the preset leaves that parameter at its default; it is when it differs."""
    from admmnet import QNNADMM
    from _runs import is_stale, model_kwargs

    params = {k: v for k, v in QNNADMM(**model_kwargs("seeds", "qnn-admm", 2)).json_params().items()}
    rec = {**_run("qnn-admm", 2, 0, 0.9), "params": params, "augmentation": None}
    assert not is_stale(rec)
    old = {**rec, "params": {k: v for k, v in params.items() if k != "budget"}}
    assert not is_stale(old)
    assert is_stale({**rec, "params": {**params, "budget": "100B"}})
    assert is_stale({**rec, "params": {**params, "max_iter": 1}})


def test_lenet5_table_redoes_only_runs_whose_preset_changed():
    """A stored LeNet-5 run is stale when today's preset gives another value; a parameter the
    run predates counts at the estimator's default (admm_steps=None), not as a change."""
    import lenet5_table as L

    params = L.make("admm-ternary", "ours", 0).json_params()
    rec = {"protocol": "ours", "seed": 0, "method": "admm-ternary", "params": params}
    assert not L.is_stale(rec)
    assert L.is_stale({**rec, "params": {**params, "rho": params["rho"] * 2}})
    # the preset sets admm_steps; a run without it was made at the default (None): stale
    assert params["admm_steps"] is not None
    assert L.is_stale({**rec, "params": {k: v for k, v in params.items() if k != "admm_steps"}})
    src = L.make("admm-ternary", "source", 0).json_params()      # the source's protocol: admm_steps None
    assert not L.is_stale({"protocol": "source", "seed": 0, "method": "admm-ternary",
                           "params": {k: v for k, v in src.items() if k != "admm_steps"}})


def test_lenet5_validation_runs_are_matched_by_their_settings(tmp_path, monkeypatch):
    """A stored validation run counts for the overrides that give its settings with today's
    preset, whatever overrides it was stored under: after a preset change ``{}`` no longer
    finds the runs of the old preset, and ``--table-only`` fits nothing."""
    import lenet5_table as L
    from _runs import append_runs

    now = L.make("admm-ternary", "ours", 0).json_params()
    old = {**now, "admm_lr": now["admm_lr"] / 3}                     # made under another preset
    runs = [{"seed": 0, "method": "admm-ternary", "overrides": {}, "params": old, "validation_accuracy": 0.98,
             "fp_validation_accuracy": 0.99}]
    assert L._validation_runs(runs, "admm-ternary", {}, 0) == []
    assert L._validation_runs(runs, "admm-ternary", {"admm_lr": now["admm_lr"] / 3}, 0) == runs
    assert L._validation_runs(runs, "admm-ternary", {"admm_lr": now["admm_lr"] / 3}, 1) == []
    append_runs(tmp_path / "validation.jsonl", runs)
    monkeypatch.setattr(L, "load_dataset", lambda *a, **k: pytest.fail("--table-only loaded data"))
    L.validate({"admm-ternary": [{}, {"admm_lr": now["admm_lr"] / 3}]}, 1, tmp_path, run=False)
    table = (tmp_path / "validation.md").read_text()
    assert f"`{{\"admm_lr\": {now['admm_lr'] / 3}}}` | 98.00 | 1 |" in table and "| `{}` |" not in table


def _tiny_lenet5_table(monkeypatch):
    """``lenet5_table`` with one-epoch FP and TWN stages, and 40 random 28x28 images to run
    them on (its ``make`` patched): ``(module, dataset)``."""
    from types import SimpleNamespace

    import numpy as np
    import lenet5_table as L

    rng = np.random.default_rng(0)
    X = rng.random((40, 784), dtype=np.float32)
    ds = SimpleNamespace(X_train=X, y_train=np.arange(40) % 10, X_test=X[:10], y_test=np.arange(10))
    real_make = L.make

    def small(method, protocol, seed, **over):
        kw = dict(max_epochs=1, batch_size=20)
        if method == "twn":
            kw["twn_epochs"] = 1
        return real_make(method, protocol, seed, **kw, **over)

    monkeypatch.setattr(L, "make", small)
    return L, ds


def test_lenet5_fp_network_is_kept_and_reused(tmp_path, monkeypatch):
    """Our protocol's FP network is trained once per seed and kept: a resumed table loads it
    (same weights, same recorded fit time) instead of training it again."""
    import numpy as np

    L, ds = _tiny_lenet5_table(monkeypatch)
    fp, sec = L.fp_network("ours", 0, ds, tmp_path)
    assert (tmp_path / "fp" / "seed0.npz").exists()
    fits = []
    monkeypatch.setattr(type(fp), "fit", lambda self, *a, **k: fits.append(1) or self)
    again, sec2 = L.fp_network("ours", 0, ds, tmp_path)
    assert not fits and sec2 == sec
    for a, b in zip(fp.weights(), again.weights()):
        np.testing.assert_array_equal(a, b)


def test_fp_phases_trains_each_initialisation_once_in_order():
    """The restarts' FP phases are trained on demand, once each, in seed order; ``first(n)``
    gives the first n models and their summed seconds (what a fit with n_init=n costs)."""
    from _runs import FPPhases

    calls = []

    def train(i):
        calls.append(i)
        return f"model{i}", 1.5 * (i + 1)

    phases = FPPhases(train)
    assert phases.first(1) == (["model0"], 1.5)
    assert phases.first(3) == (["model0", "model1", "model2"], 1.5 + 3.0 + 4.5)
    assert phases.first(2) == (["model0", "model1"], 4.5)       # no retraining for a shorter prefix
    assert calls == [0, 1, 2]


def test_quantizer_validation_shares_fp_phases_without_changing_results(tmp_path, monkeypatch):
    """benchmarks/quantizer_validation.py scores each setting from shared FP fits: a setting's
    score on a fold equals the whole quantized fit on that fold; the table is paired. Each
    problem is stored as it finishes: a rerun with the same arguments fits nothing, another grid
    refits."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    import admmnet
    import quantizer_validation as QV
    from admmnet.datasets import load_dataset
    from admmnet.presets import qnn_admm_params

    grid = [{"n_init": 1}, {"n_init": 1, "layerwise_rho": 1e-3}]
    assert QV.main(["--dataset", "seeds", "--splits", "1", "--bits", "1", "--grid", json.dumps(grid),
                    "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "seeds.json").read_text())
    assert len(rec["runs"]) == 10 and rec["table"]['1/{"n_init": 1}']["diff"] == 0.0
    # fold 3 of split 0, setting 1, fitted whole
    raw = load_dataset("seeds", split_seed=0, standardize=False, dtype="float64")
    tr, va = list(StratifiedKFold(5, shuffle=True, random_state=0).split(raw.X_train, raw.y_train))[3]
    mean, std = raw.X_train[tr].mean(0), raw.X_train[tr].std(0)
    Xtr = ((raw.X_train[tr] - mean) / std).astype(np.float32)
    Xva = ((raw.X_train[va] - mean) / std).astype(np.float32)
    whole = admmnet.QNNADMM(**{**qnn_admm_params("seeds", 1), **grid[1]}, bits=1, seed=0).fit(Xtr, raw.y_train[tr])
    got = [r for r in rec["runs"] if r["problem"] == "split0-fold3" and r["setting"] == 1][0]["held-out"]
    assert got == pytest.approx(100 * whole.score(Xva, raw.y_train[va]))

    assert len((tmp_path / "seeds.runs.jsonl").read_text().splitlines()) == 5
    calls = []
    real = QV.run_problem
    monkeypatch.setattr(QV, "run_problem", lambda *a: calls.append(a) or real(*a))
    args = ["--dataset", "seeds", "--splits", "1", "--bits", "1", "--out", str(tmp_path)]
    assert QV.main(args + ["--grid", json.dumps(grid)]) == 0
    assert not calls and json.loads((tmp_path / "seeds.json").read_text())["runs"] == rec["runs"]
    assert QV.main(args + ["--grid", json.dumps(grid[:1])]) == 0 and len(calls) == 5



def test_quantizer_validation_fold_offset_is_another_partition_of_the_same_rows(tmp_path):
    """``fold_offset`` (``--fold-offset``): split s's folds shuffled with seed s + offset, the same
    training rows cut another way (each row held out once); 0 is the presets' partition;
    other datasets refuse it."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    import quantizer_validation as QV
    from admmnet.datasets import load_dataset

    raw = load_dataset("seeds", split_seed=1, standardize=False, dtype="float64")
    base, other = list(QV.problems("seeds", 2)), list(QV.problems("seeds", 2, 100))
    assert [p[0] for p in base] == [p[0] for p in other] and [p[1] for p in other] == [0] * 5 + [1] * 5
    held = lambda probs: [p[4]["held-out"] for p in probs if p[1] == 1]      # noqa: E731
    # every training row of split 1 held out exactly once in either partition, in other folds
    for probs in (base, other):
        assert sum(len(y) for _, y in held(probs)) == len(raw.y_train)
    assert not any(np.array_equal(a[0], b[0]) for a, b in zip(held(base), held(other)))
    tr, va = list(StratifiedKFold(5, shuffle=True, random_state=1 + 100).split(raw.X_train, raw.y_train))[2]
    mean, std = raw.X_train[tr].mean(0), raw.X_train[tr].std(0)       # the fold's own statistics
    assert np.allclose(held(other)[2][0], (raw.X_train[va] - mean) / std)
    assert np.allclose(other[7][2][0], (raw.X_train[tr] - mean) / std)
    with pytest.raises(SystemExit, match="fold-offset"):
        QV.main(["--dataset", "pendigits", "--fold-offset", "100", "--out", str(tmp_path)])


def test_pool_partitions_pairs_a_setting_across_grids_and_pools_by_split(tmp_path, capsys):
    """benchmarks/pool_partitions.py finds the setting in each file's own grid (another index in
    each), pairs it with the reference problem by problem, and pools by split: a split's mean
    over its folds in every file, then mean, standard error and signs over the splits."""
    import math

    import pool_partitions as PP

    def write(name, grid, scores):        # scores: {(problem, setting index): held-out}
        runs = [{"problem": p, "bits": "1", "setting": k, "seconds": 0.1, "held-out": v}
                for (p, k), v in scores.items()]
        path = tmp_path / name
        path.write_text(json.dumps({"grid": grid, "runs": runs, "command": name}))
        return path

    s = {"n_init": 10}
    a = write("a.json", [{}, s], {("split0-fold0", 0): 90, ("split0-fold0", 1): 92,
                                   ("split1-fold0", 0): 80, ("split1-fold0", 1): 79})
    b = write("b.json", [{}, {"x": 1}, s], {("split0-fold0", 0): 50, ("split0-fold0", 1): 0, ("split0-fold0", 2): 54,
                                             ("split1-fold0", 0): 70, ("split1-fold0", 1): 0, ("split1-fold0", 2): 73})
    res = PP.pool([a, b], s)
    assert res["files"][str(a)]["held-out"] == {"n": 2, "mean": 0.5, "se": pytest.approx(1.5), "up": 1, "down": 1}
    assert res["files"][str(b)]["held-out"]["mean"] == 3.5
    assert res["per_split"]["held-out"] == {"split0": 3.0, "split1": 1.0}       # (2 + 4) / 2, (-1 + 3) / 2
    assert res["splits"]["held-out"] == {"n": 2, "mean": 2.0, "se": pytest.approx(math.sqrt(2) / math.sqrt(2)),
                                         "up": 2, "down": 0}
    # against another reference than the preset
    assert PP.pool([b], s, {"x": 1})["splits"]["held-out"]["mean"] == 63.5
    out = tmp_path / "pooled.json"
    assert PP.main([str(a), str(b), "--setting", json.dumps(s), "--out", str(out)]) == 0
    assert "+2.00 ± 1.00 (+2 −0, n = 2)" in capsys.readouterr().out
    assert json.loads(out.read_text())["commands"] == {str(a): "a.json", str(b): "b.json"}
    with pytest.raises(SystemExit, match="not in its grid"):
        PP.pool([a], {"n_init": 20})


def test_quantizer_validation_scores_fp_settings(tmp_path):
    """``--bits fp``: the reference ``{}`` is the preset's FP fit on the fold, another setting
    its own FP fit with the override (checked against whole fits on one fold)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    import admmnet
    import quantizer_validation as QV
    from admmnet.datasets import load_dataset
    from admmnet.presets import qnn_admm_params

    grid = [{}, {"max_iter": 20}]
    assert QV.main(["--dataset", "seeds", "--splits", "1", "--bits", "fp", "--grid", json.dumps(grid),
                    "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "seeds.json").read_text())
    assert len(rec["runs"]) == 10 and {r["bits"] for r in rec["runs"]} == {"fp"}
    raw = load_dataset("seeds", split_seed=0, standardize=False, dtype="float64")
    tr, va = list(StratifiedKFold(5, shuffle=True, random_state=0).split(raw.X_train, raw.y_train))[1]
    mean, std = raw.X_train[tr].mean(0), raw.X_train[tr].std(0)
    Xtr = ((raw.X_train[tr] - mean) / std).astype(np.float32)
    Xva = ((raw.X_train[va] - mean) / std).astype(np.float32)
    for k, cfg in enumerate(grid):
        whole = admmnet.QNNADMM(**{**qnn_admm_params("seeds", None), **cfg}, seed=0).fit(Xtr, raw.y_train[tr])
        got = [r for r in rec["runs"] if r["problem"] == "split0-fold1" and r["setting"] == k][0]["held-out"]
        assert got == pytest.approx(100 * whole.score(Xva, raw.y_train[va]))
    with pytest.raises(SystemExit, match="'fp'"):
        QV.main(["--dataset", "seeds", "--bits", "16", "--out", str(tmp_path)])


def test_quantizer_validation_network_settings_get_their_own_fp_phases(tmp_path):
    """A setting that changes the network (``activation``) or the FP solver's schedule
    (``penalty_growth``, ``max_iter``) is scored from FP phases trained with it, at every bit
    width: its 1-bit score on a fold equals the whole quantized fit with that setting (a quantized
    fit refuses an FP phase of another network; one of another schedule would score otherwise),
    and its FP score is that FP phase's."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    import admmnet
    import quantizer_validation as QV
    from admmnet.datasets import load_dataset
    from admmnet.presets import qnn_admm_params

    assert "activation" in QV.NETWORK_KEYS and "penalty_growth" in QV.FP_PHASE_KEYS
    grid = [{"n_init": 1}, {"n_init": 1, "activation": "hardsigmoid"},
            {"n_init": 1, "penalty_growth": 1.05, "max_iter": 60}]
    assert QV.main(["--dataset", "seeds", "--splits", "1", "--bits", "1", "fp", "--grid", json.dumps(grid),
                    "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "seeds.json").read_text())
    raw = load_dataset("seeds", split_seed=0, standardize=False, dtype="float64")
    tr, va = list(StratifiedKFold(5, shuffle=True, random_state=0).split(raw.X_train, raw.y_train))[2]
    mean, std = raw.X_train[tr].mean(0), raw.X_train[tr].std(0)
    Xtr = ((raw.X_train[tr] - mean) / std).astype(np.float32)
    Xva = ((raw.X_train[va] - mean) / std).astype(np.float32)
    for k in (1, 2):
        for bits, kw in (("1", dict(qnn_admm_params("seeds", 1), bits=1)), ("fp", qnn_admm_params("seeds", None))):
            if "fp_iter" in kw and "max_iter" in grid[k]:
                kw["fp_iter"] = grid[k]["max_iter"]        # the whole run is the FP phase, as in the presets
            whole = admmnet.QNNADMM(**{**kw, **grid[k]}, seed=0).fit(Xtr, raw.y_train[tr])
            got = [r for r in rec["runs"] if r["problem"] == "split0-fold2" and r["setting"] == k
                   and r["bits"] == bits][0]["held-out"]
            assert got == pytest.approx(100 * whole.score(Xva, raw.y_train[va]))
    # and the preset's schedule scored otherwise: the test can tell the FP phases apart
    assert [r["held-out"] for r in rec["runs"] if r["bits"] == "1" and r["setting"] == 2] != \
        [r["held-out"] for r in rec["runs"] if r["bits"] == "1" and r["setting"] == 0]

def test_blas_threads_benchmark(tmp_path):
    """benchmarks/blas_threads.py times a small fit on 1 and on all BLAS threads and finds the
    two models identical (the point of blas_threads="auto")."""
    import blas_threads as BT

    assert BT.main(["--cases", "seeds-1bit", "--reps", "1", "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "summary.json").read_text())
    case = rec["cases"]["seeds-1bit"]
    assert case["identical"] is True and case["rows"] == 168
    assert case["ratio_one_to_all"] > 0 and "environment" in rec and (tmp_path / "table.md").exists()


def test_budget_sweep_redoes_runs_of_another_preset():
    """benchmarks/budget_sweep.py: a stored budget run counts as stale when the preset changed
    since (e.g. a run made before the preset's fine-tuning), never a QNN-ADMM budget run."""
    import budget_sweep as BS
    from admmnet.baselines import Budget

    now = Budget(**BS.budget_kwargs(), budget="64x").json_params()
    assert not BS.is_stale({"method": "budget", "params": now})
    before = {k: v for k, v in now.items() if k != "finetune_epochs"}      # made before the parameter existed
    assert BS.is_stale({"method": "budget", "params": before}) == (BS.budget_kwargs().get("finetune_epochs", 0) != 0)
    assert BS.is_stale({"method": "budget", "params": dict(now, budget_lr=1.0)})
    assert not BS.is_stale({"method": "qnn-admm-budget", "params": {}})



def test_plan_redoes_runs_made_from_another_fp_network(tmp_path):
    """Every run records the digest of the FP network it started from, the FP run its own: a run
    whose FP network is not the one its seed's FP run now stores (trained again after the file
    was lost, and different) is redone; runs from before the digests are kept (unknown)."""
    from _runs import append_run, load_runs, model_kwargs, plan

    def rec(method, bits, seed, **extra):
        return {**_run(method, bits, seed, 0.9), "params": model_kwargs("seeds", method, bits),
                "augmentation": None, **extra}

    out = tmp_path / "a"
    (out / "models").mkdir(parents=True)
    for line in (rec("fp", "fp", 0, network_sha256="new"), rec("ptq", 8, 0, fp_network_sha256="old"),
                 rec("fp", "fp", 1, network_sha256="same"), rec("ptq", 8, 1, fp_network_sha256="same"),
                 rec("fp", "fp", 2), rec("ptq", 8, 2, fp_network_sha256="old"),          # FP run predates
                 rec("fp", "fp", 3, network_sha256="x"), rec("ptq", 8, 3)):                # run predates
        append_run(out / "runs.jsonl", line)
    for s in range(4):
        (out / "models" / f"fp_seeds_seed{s}.npz").write_bytes(b"")
    runs, phases = plan(out, ["seeds"], ["fp", "ptq"], {8}, 4)
    assert [(t[2], t[4]) for t in phases[1]] == [("ptq", 0)]
    assert [(r["method"], r["seed"]) for r in load_runs(out / "runs.stale.jsonl")] == [("ptq", 0)]
    assert sorted((r["method"], r["seed"]) for r in runs if r["method"] == "ptq") == [("ptq", 1), ("ptq", 2), ("ptq", 3)]


def test_network_digest_identifies_a_saved_network(tmp_path):
    """The digest of a fitted network equals that of its saved and loaded copy, and changes
    with any weight."""
    import numpy as np

    import admmnet
    from _runs import network_digest
    from admmnet.baselines import FPMLP

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 4)).astype(np.float32), np.arange(60) % 3
    fp = FPMLP((5,), max_epochs=2, holdout_fraction=0.0, patience=None).fit(X, y)
    fp.save(tmp_path / "fp.npz")
    assert network_digest(admmnet.load(tmp_path / "fp.npz")) == network_digest(fp)
    other = FPMLP((5,), max_epochs=2, holdout_fraction=0.0, patience=None, seed=1).fit(X, y)
    assert network_digest(other) != network_digest(fp)


def test_run_task_records_the_fp_network_each_run_starts_from(tmp_path, real_data):
    """The FP run stores its network's digest, a run that loads it the same digest."""
    from _runs import run_task

    fp = run_task(str(tmp_path), "seeds", "fp", "fp", 0)
    ptq = run_task(str(tmp_path), "seeds", "ptq", 8, 0)
    assert len(fp["network_sha256"]) == 64 and ptq["fp_network_sha256"] == fp["network_sha256"]
    assert "fp_network_sha256" not in fp and "network_sha256" not in ptq


def test_lenet5_runs_record_their_fp_network_and_another_one_is_detected(tmp_path, monkeypatch):
    """Every run of our protocol records the digest of the FP network it started from (the FP
    run: its own); a stored run is redone when the seed's kept network has another digest,
    and a run that predates the digests is kept."""
    from _runs import network_digest

    L, ds = _tiny_lenet5_table(monkeypatch)
    fp, sec = L.fp_network("ours", 0, ds, tmp_path)
    recs = L.run_group("ours", 0, ["fp", "twn"], ds, fp=(fp, sec))
    digest = network_digest(fp)
    assert recs[0]["network_sha256"] == digest and recs[1]["fp_network_sha256"] == digest
    assert "fp_network_sha256" not in recs[0] and "network_sha256" not in recs[1]
    assert not any(L.from_other_fp_network(r, 0, digest) for r in recs)
    other = "0" * 64
    assert all(L.from_other_fp_network(r, 0, other) for r in recs)
    assert not any(L.from_other_fp_network(r, 1, other) for r in recs)      # another seed's network
    legacy = {k: v for k, v in recs[1].items() if k != "fp_network_sha256"}
    assert not L.from_other_fp_network(legacy, 0, other)
    assert not L.from_other_fp_network({**recs[1], "protocol": "source"}, 0, other)


def test_lenet5_table_redoes_the_runs_of_a_seed_whose_fp_network_changed(tmp_path, monkeypatch):
    """A rerun of our protocol keeps the runs made from the FP network kept for their seed and
    moves to runs.stale.jsonl (and redoes) those that recorded another network."""
    import json

    L, ds = _tiny_lenet5_table(monkeypatch)
    monkeypatch.setattr(L, "load_dataset", lambda name: ds)
    monkeypatch.setattr(L, "is_stale", lambda rec: False)      # the tiny settings are not the presets
    argv = ["--protocol", "ours", "--seeds", "1", "--methods", "fp", "twn", "--out", str(tmp_path)]
    L.main(argv)
    log = tmp_path / "runs.jsonl"
    first = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["method"] for r in first] == ["fp", "twn"]
    L.main(argv)                                                # same network: nothing is redone
    assert [json.loads(line) for line in log.read_text().splitlines()] == first
    # the twn run now claims another FP network: it moves to the stale store and is run again
    forged = [first[0], {**first[1], "fp_network_sha256": "0" * 64}]
    log.write_text("".join(json.dumps(r) + "\n" for r in forged))
    L.main(argv)
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    stale = [json.loads(line) for line in (tmp_path / "runs.stale.jsonl").read_text().splitlines()]
    assert [r["method"] for r in runs] == ["fp", "twn"] and runs[1]["fp_network_sha256"] == first[0]["network_sha256"]
    assert [r["fp_network_sha256"] for r in stale] == ["0" * 64]


def test_fit_finished_turns_an_interrupted_fit_into_keyboard_interrupt(monkeypatch):
    """The estimators catch Ctrl-C and return what they trained so far; a benchmark fitting
    through ``fit_finished`` stops instead of storing that partial network as a finished run."""
    import numpy as np
    import pytest
    from _runs import fit_finished
    from admmnet import QNNADMM
    from admmnet.backprop import trainer
    from admmnet.baselines import FPMLP

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)).astype(np.float32), np.arange(60) % 3

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    m = QNNADMM(hidden_sizes=(5,), max_iter=5, seed=0)
    with pytest.raises(KeyboardInterrupt):
        fit_finished(m, X, y, callback=ctrl_c)      # Ctrl-C during the first iteration's callback
    assert m.history_.stop == "interrupted"
    assert fit_finished(QNNADMM(hidden_sizes=(5,), max_iter=3, seed=0), X, y).history_.stop == "max_iter"

    assert fit_finished(FPMLP(hidden_sizes=(5,), max_epochs=2, seed=0), X, y).history_.stop != "interrupted"
    monkeypatch.setattr(trainer, "backward", ctrl_c)   # Ctrl-C during the first mini-batch
    bp = FPMLP(hidden_sizes=(5,), max_epochs=3, seed=0)
    with pytest.raises(KeyboardInterrupt):
        fit_finished(bp, X, y)
    assert bp.history_.stop == "interrupted"


def test_budget_lenet5_stores_each_run_and_a_rerun_resumes(tmp_path, monkeypatch):
    """budget_lenet5.py on a tiny MNIST stand-in: the run is stored with the compression read
    back from its saved file (within the budget), the table is written, and a rerun with the
    same settings fits nothing."""
    import json
    from types import SimpleNamespace

    import numpy as np
    import budget_lenet5 as BL

    rng = np.random.default_rng(0)
    X = rng.random((60, 784), dtype=np.float32)
    ds = SimpleNamespace(X_train=X, y_train=np.arange(60) % 10, X_test=X[:20], y_test=np.arange(20) % 10)
    monkeypatch.setattr(BL, "load_dataset", lambda name: ds)
    argv = ["--budgets", "200x", "--seeds", "1", "--epochs", "1", "--fp-epochs", "1", "--out", str(tmp_path)]
    assert BL.main(argv) == 0
    (run,) = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert run["budget"] == "200x" and run["epochs"] == 1 and 0.0 <= run["test_accuracy"] <= 1.0
    assert run["compression"]["compression"] >= 200
    assert "200x" in (tmp_path / "table.md").read_text()
    run_seed = BL.run_seed
    monkeypatch.setattr(BL, "run_seed", lambda *a, **k: (_ for _ in ()).throw(AssertionError("refitted")))
    assert BL.main(argv) == 0
    monkeypatch.setattr(BL, "run_seed", run_seed)       # other settings: a run of their own
    assert BL.main(argv + ["--retrain-epochs", "1", "--finetune-epochs", "1"]) == 0
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [(r["retrain_epochs"], r["finetune_epochs"]) for r in runs[1:]] == [(1, 1)]
    assert "1 retraining epochs" in (tmp_path / "table.md").read_text()


def test_budget_sweep_on_lenet5_checks_its_uniform_runs_and_averages_them(capsys):
    """The LeNet-5 sweep's uniform PTQ/STE/LQ runs are redone when their preset changes, are
    averaged per (method, bits) into the size-accuracy reference, and QNN-ADMM (MLP only) is
    refused for a CNN."""
    import budget_sweep as S

    kw = S.uniform_kwargs("ste", 2, "lenet5-caffe")
    params = S.UNIFORM["ste"](**kw).json_params()
    rec = {"method": "ste", "bits": 2, "budget": None, "seed": 0, "params": params}
    assert not S.is_stale(rec, arch="lenet5-caffe")
    assert S.is_stale({**rec, "params": {**params, "ste_epochs": params["ste_epochs"] + 1}}, arch="lenet5-caffe")
    assert S.is_stale(rec, arch="mlp")                  # the MLP's preset is another network
    runs = [dict(method="ste", bits=2, seed=s, test_accuracy=a, model_bytes=1000) for s, a in enumerate((0.98, 0.99))]
    runs.append(dict(method="budget", budget="64x", seed=0, test_accuracy=0.5))
    pts = S.uniform_points(runs)
    assert list(pts) == ["ste"] and pts["ste"][0]["bits"] == 2 and pts["ste"][0]["seeds"] == 2
    assert pts["ste"][0]["accuracy"] == pytest.approx(98.5) and pts["ste"][0]["std"] == pytest.approx(0.5)
    with pytest.raises(SystemExit):
        S.main(["--arch", "lenet5-caffe", "--methods", "qnn-admm-budget"])
    assert "MLPs only" in capsys.readouterr().err


def test_small_data_levers_average_and_refit(tmp_path):
    """benchmarks/small_data_levers.py: the tail average is the mean of the last k iterates'
    hidden layers, its output layer minimises CE + ridge m/2 ||W_L||^2 on their features (the
    gradient vanishes), and the averaged network of the last iterate alone predicts as the fit."""
    import numpy as np

    import small_data_levers as SDL

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 4)), rng.integers(0, 3, 60)
    its = [[(rng.standard_normal((5, 4)), rng.standard_normal(5)), (rng.standard_normal((3, 5)), rng.standard_normal(3))]
           for _ in range(4)]
    Ws, bs = SDL.averaged_network(its, 2, X, y, 3, refit_ridge=1e-2)
    assert np.allclose(Ws[0], (its[2][0][0] + its[3][0][0]) / 2) and np.allclose(bs[0].ravel(), (its[2][0][1] + its[3][0][1]) / 2)
    a = np.maximum(Ws[0] @ X.T + bs[0], 0.0)
    z = Ws[1] @ a + bs[1]
    p = np.exp(z - z.max(0)); p /= p.sum(0)
    R = p - np.eye(3)[y].T
    assert np.abs(R @ a.T + 1e-2 * 60 * Ws[1]).max() < 1e-3 * np.abs(R @ a.T).sum()
    assert np.abs(R.sum(1)).max() < 1e-3 * 60
    assert SDL.main(["--dataset", "seeds", "--splits", "1", "--tails", "1", "5", "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "seeds_average.json").read_text())
    assert len(rec["runs"]) == 5
    assert all(r["last 1"] == r["preset"] for r in rec["runs"])
    assert SDL.main(["--dataset", "seeds", "--splits", "1", "--lever", "noise", "--copies", "[[1, 0.1]]",
                     "--out", str(tmp_path)]) == 0
    assert set(json.loads((tmp_path / "seeds_noise.json").read_text())["table"]) == {"preset", "1 copies, sigma 0.1"}
    with pytest.raises(SystemExit, match="--tails"):
        SDL.main(["--tails", "0", "--out", str(tmp_path)])


def test_auto_preset_validation_scores_the_automatic_preset_on_its_pool(tmp_path, monkeypatch):
    """benchmarks/auto_preset_validation.py: setting ``{}`` is the automatic preset of the
    training part's shape, fitted on split r and scored on its validation rows; a second setting
    is scored on the same rows, and the paired differences are per (dataset, split). Fits are
    stored as they finish and reused while the preset they ran over is unchanged."""
    import numpy as np

    import admmnet
    import auto_preset_validation as APV
    from admmnet.datasets._preprocess import standardize, stratified_split
    from admmnet.presets import auto_params

    grid = [{}, {"max_iter": 20, "_width": 2}]
    assert APV.main(["--datasets", "iris", "--reps", "1", "--grid", json.dumps(grid), "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "fp.json").read_text())
    assert [(r["dataset"], r["rep"], r["setting"]) for r in rec["runs"]] == [("iris", 1, 0), ("iris", 1, 1)]
    X, y, _ = APV.pool_dataset("iris")
    tr, va = stratified_split(y, 0.2, 1)
    Xtr, Xva, _, _ = standardize(X[tr], X[va])
    preset = auto_params(len(tr), 4, 3)
    wide = tuple(2 * h for h in preset["hidden_sizes"])           # "_width": 2 doubles the widths
    for k, kw in enumerate([preset, {**preset, "max_iter": 20, "hidden_sizes": wide}]):
        m = admmnet.QNNADMM(**kw, preset=None, seed=1)
        m.fit(np.asarray(Xtr, np.float32), y[tr])
        assert rec["runs"][k]["accuracy"] == pytest.approx(100 * m.score(np.asarray(Xva, np.float32), y[va]))
    row = rec["table"][json.dumps(grid[1], sort_keys=True)]
    assert row["diff"] == pytest.approx(rec["runs"][1]["accuracy"] - rec["runs"][0]["accuracy"])
    # each fit was stored as it finished: a rerun (another grid order) fits nothing again ...
    assert len((tmp_path / "fp.runs.jsonl").read_text().splitlines()) == 2
    fitted = []
    real = APV.score_setting
    monkeypatch.setattr(APV, "score_setting", lambda *a: fitted.append(a) or real(*a))
    assert APV.main(["--datasets", "iris", "--reps", "1", "--grid", json.dumps(grid[::-1]),
                     "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "fp.json").read_text())["runs"]
    assert not fitted and [r["accuracy"] for r in again] == [r["accuracy"] for r in rec["runs"]][::-1]
    # ... unless the automatic preset it ran over has changed since
    monkeypatch.setattr(APV, "auto_params", lambda *a, **k: {**auto_params(*a, **k), "max_iter": 5})
    assert APV.main(["--datasets", "iris", "--reps", "1", "--grid", "[{}]", "--out", str(tmp_path)]) == 0
    assert len(fitted) == 1
    with pytest.raises(SystemExit):
        APV.main(["--bits", "two", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        APV.main(["--grid", '[{"_width": 0}]', "--out", str(tmp_path)])


def test_targets_train_the_quantized_fp_phase_apart_from_an_fp_preset_of_its_own(monkeypatch):
    """benchmarks/qnn_admm_targets.py on Seeds (whose FP preset grows its penalties, FP_OVERRIDES):
    the FP cell is the FP preset's fit, and each quantized cell equals the whole quantized fit
    of its preset (whose FP phase is ``fp_phase_params``), not a quantizer run from the FP cell."""
    import admmnet
    import qnn_admm_targets as T
    from admmnet.datasets import load_dataset
    from admmnet.presets import FP_OVERRIDES, fp_phase_params, qnn_admm_params

    assert FP_OVERRIDES["seeds"]
    monkeypatch.setattr(T, "BITS", ("fp", 8))
    out = T.run_seed("seeds", 0)
    ds = load_dataset("seeds", split_seed=0)
    fp = admmnet.QNNADMM(**qnn_admm_params("seeds", None), seed=0).fit(ds.X_train, ds.y_train)
    q8 = admmnet.QNNADMM(**qnn_admm_params("seeds", 8), bits=8, levels="thesis", seed=0).fit(ds.X_train, ds.y_train)
    assert out[0]["test_accuracy"] == fp.score(ds.X_test, ds.y_test)
    assert out[1]["test_accuracy"] == q8.score(ds.X_test, ds.y_test)
    assert out[0]["params"]["penalty_growth"] == FP_OVERRIDES["seeds"]["penalty_growth"]
    assert out[1]["params"]["penalty_growth"] == 1.0
    assert out[1]["params"]["fp_iter"] == fp_phase_params("seeds")["max_iter"]


def test_pendigits_validation_quantized_config_starts_from_the_quantized_fp_phase():
    """benchmarks/pendigits_validation.py: a quantized config is one start (as measured) from the
    quantized preset's FP phase (``fp_phase_params``) on the real rows and copies, quantized on the
    real rows; an FP config is the FP preset's fit."""
    import admmnet
    import pendigits_validation as P
    from admmnet.presets import fp_phase_params, qnn_admm_params

    r = P.run_one({"augment": 1, "bits": 2, "quantize_on": "real", "max_iter": 3}, 0)
    d = P._data(0, 1)
    fp = admmnet.QNNADMM(**{**fp_phase_params("pendigits"), "max_iter": 3}, seed=0).fit(*d["fit"])
    q = admmnet.QNNADMM(**{**qnn_admm_params("pendigits", 2), "n_init": 1, "max_iter": 3, "fp_iter": 3},
                        bits=2, seed=0).fit(*d["real"], fp_model=fp)
    assert r["val"] == pytest.approx(100 * q.score(*d["val"]))
    r_fp = P.run_one({"augment": 1, "max_iter": 3}, 0)
    fp_preset = admmnet.QNNADMM(**{**qnn_admm_params("pendigits", None), "max_iter": 3}, seed=0).fit(*d["fit"])
    assert r_fp["val"] == pytest.approx(100 * fp_preset.score(*d["val"]))


def test_auto_preset_large_rules():
    """benchmarks/auto_preset_large.py: ``_rule: before`` is the automatic preset of before
    2026-12-03 (MNIST's preset from 20,000 rows on the small-data widths, one start); ``_width``
    scales today's widths, ``_bits`` and the other keys are passed on."""
    import auto_preset_large as APL
    from admmnet.presets import QNN_ADMM, auto_params

    p = APL.before_params(30000, 20, 5, 1)
    assert p["hidden_sizes"] == (20, 20) and p["max_iter"] == p["fp_iter"] == 75 and p["n_init"] == 1
    assert {k: p[k] for k in QNN_ADMM["mnist"]} == QNN_ADMM["mnist"] and p["penalty_growth"] == 1.0
    assert APL.params({}, 30000, 20, 5)["hidden_sizes"] == (40, 40)
    assert APL.params({"_width": 0.5, "_bits": 2, "ridge": 1.0}, 30000, 20, 5) == \
        {**auto_params(30000, 20, 5, 2), "hidden_sizes": (20, 20), "bits": 2, "ridge": 1.0}


@pytest.mark.slow
def test_auto_preset_large_scores_settings_on_validation_rows(tmp_path, monkeypatch):
    """benchmarks/auto_preset_large.py: the validation mode scores each setting on 80/20 of the
    training part (the fit it records is the direct fit's) and resumes without refitting; the test
    mode puts QNN-ADMM under both rules beside backprop on the same network."""
    import numpy as np

    import admmnet
    import auto_preset_large as APL
    from admmnet.presets import auto_params

    monkeypatch.setattr(APL, "SYNTHETIC", {"tiny": dict(n_samples=400, n_features=6, n_informative=4, n_classes=3,
                                                        random_state=0)})
    monkeypatch.setattr(APL, "PROBLEMS", ("tiny",))
    grid = [{"max_iter": 5}, {"_rule": "before", "max_iter": 5, "_bits": 2}]
    args = ["--grid", json.dumps(grid), "--problems", "tiny", "--out", str(tmp_path)]
    assert APL.main(args) == 0
    runs = [json.loads(line) for line in (tmp_path / "validation.jsonl").read_text().splitlines()]
    assert [r["setting"] for r in runs] == grid
    (X, y), evals = APL.synthetic("tiny", 0, True)
    assert X.shape[0] == 240                    # 80% of the 75% training part
    for r, s in zip(runs, grid):
        m = admmnet.QNNADMM(**APL.params(s, *APL.shape_of((X, y))), seed=0, device="cpu").fit(X, y)
        assert r["val"] == pytest.approx(100 * m.score(*evals["val"]))
    assert APL.main(args) == 0                  # resumed: nothing refitted
    assert len((tmp_path / "validation.jsonl").read_text().splitlines()) == 2
    assert "max_iter" in (tmp_path / "validation.md").read_text()
    with pytest.raises(SystemExit):
        APL.main(["--grid", '[{"_rule": "after"}]', "--out", str(tmp_path)])

    out = APL.run_split("tiny", 0)              # the test mode's fits of one split
    assert [r["method"] for r in out] == ["auto-fp", "auto-2", "auto-1", "before-fp", "before-2", "before-1",
                                          "backprop-fp"]
    assert out[-1]["hidden_sizes"] == list(auto_params(300, 6, 3)["hidden_sizes"]) == out[0]["hidden_sizes"]
    assert all(0 <= r["test_accuracy"] <= 100 and r["n_train"] == 300 for r in out)
    monkeypatch.setattr(APL, "run_split", lambda name, split: [
        dict(method=m, test_accuracy=50.0 + i, seconds=1.0, problem=name, split=split)
        for i, m in enumerate(APL.METHODS)])
    assert APL.main(["--splits", "2", "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "summary.json").read_text())
    assert rec["cells"]["tiny/backprop-fp"] == dict(mean=50.0, std=0.0, n=2, seconds=1.0)
    assert np.isclose(rec["cells"]["tiny/before-1"]["mean"], 50.0 + len(APL.METHODS) - 1)
