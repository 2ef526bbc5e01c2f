"""What the accuracy benchmarks share: one run of a (dataset, method, bits, seed) cell with the
presets (:func:`run_task`), the Seeds split rule, the resumable run store (one JSON line per
finished run, stale runs detected), the plan of what is left to do (FP networks first), and
running tasks inline or in worker processes."""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from functools import cache, partial
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

import admmnet
from admmnet import QNNADMM
from admmnet import baselines as B
from admmnet.baseline_presets import augment_copies, augmentation, baseline_params, supported_bits
from admmnet.datasets import load_dataset
from admmnet.io import atomic_write, write_json
from admmnet.presets import fp_phase_params, qnn_admm_params

#: The other sources' methods in the study: ternary (the thesis's 1 bit), the mirror-descent
#: ones also binary (:data:`BINARY_METHODS`). MD's numerically stable forms stand for mirror
#: descent here, as in the source's LeNet-5 comparison; the plain MD-tanh and MD-softmax are
#: compared in benchmarks/ternary_methods.py.
TERNARY_STUDY = ("twn", "ttq", "admm-ternary", "md-tanh-s", "md-softmax-s")
BINARY_METHODS = ("md-tanh-s", "md-softmax-s")
#: Every method, CLI names; "fp" is the backprop full-precision reference.
METHODS = ("fp", "ptq", "ste", "qnn-admm", "lq", "dq", "qat") + TERNARY_STUDY
CLASSES = {"fp": B.FPMLP, "ptq": B.PTQ, "ste": B.QNNSTE, "dq": B.DQ, "qat": B.QAT, "lq": B.LQ,
           "twn": B.TWN, "ttq": B.TTQ, "admm-ternary": B.ADMMTernary,
           **{m: partial(B.MirrorDescent, variant=m[3:]) for m in TERNARY_STUDY if m.startswith("md-")}}
#: Methods that start from the FP network of the same dataset and seed.
FROM_FP = ("ptq", "ste", "dq", "qat", "lq") + TERNARY_STUDY

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


#: The study's datasets: name -> (the dataset :func:`admmnet.datasets.load_dataset` loads, its
#: split). Pendigits comes with both of its protocols: "pendigits" tests on the 14 writers
#: outside the training set (the UCI files' split), "pendigits-wd" on held-out digits of the
#: training writers (the writer-dependent protocol the thesis's dataset section describes).
STUDY_DATASETS: dict[str, tuple[str, str | None]] = {
    "seeds": ("seeds", None),
    "pendigits": ("pendigits", None),
    "pendigits-wd": ("pendigits", "writer-dependent"),
    "mnist": ("mnist", None),
}


def base_dataset(dataset: str) -> str:
    """The dataset behind study dataset ``dataset`` (whose presets and topology it uses)."""
    return STUDY_DATASETS[dataset][0]


def split_seed_for(dataset: str, seed: int) -> int:
    """Seeds has no official split and 42 test rows (one row = 2.4 points): run s uses the
    stratified 80/20 split of seed s (repeated holdout), and so does writer-dependent
    Pendigits (80/20 of the training writers' rows). The others keep their standard split."""
    return seed if dataset in ("seeds", "pendigits-wd") else 0


def blas_threads() -> int:
    """BLAS threads this process runs with (recorded in every run as ``threads``)."""
    v = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    return int(v) if v else (os.cpu_count() or 1)


def load_runs(path: Path) -> list[dict]:
    """The stored runs; a line cut by a crash is skipped (that run is simply redone)."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return runs


def append_run(path: Path, rec: dict) -> None:
    """Add one finished run to ``path`` atomically (the file is never half-written)."""
    line = (json.dumps(rec) + "\n").encode()
    old = path.read_bytes() if path.exists() else b""
    atomic_write(path, lambda fh: fh.write(old + line))


def append_runs(path: Path, recs: list[dict]) -> None:
    """Add several finished runs to ``path`` at once, atomically (a stop loses all or none)."""
    text = "".join(json.dumps(r) + "\n" for r in recs).encode()
    old = path.read_bytes() if path.exists() else b""
    atomic_write(path, lambda fh: fh.write(old + text))


def run_groups(log: Path, datasets, n: int, key: str, run: Callable, describe: Callable) -> list[dict]:
    """Every stored run of ``log`` plus the groups still missing: for each dataset and
    ``key`` value 0..n-1 (a seed or a split) not stored yet, ``run(dataset, i)`` gives that
    group's runs, stored at once (a stop loses at most the group under way) and reported
    on stderr with ``describe(runs)``. Returns all runs, stored and new."""
    runs = load_runs(log)
    done = {(r["dataset"], r[key]) for r in runs}
    for d in datasets:
        for i in range(n):
            if (d, i) in done:
                continue
            rs = run(d, i)
            append_runs(log, rs)
            runs += rs
            print(f"{d} {key} {i}: {describe(rs)}", file=sys.stderr, flush=True)
    return runs


def small_validation_rows(dataset: str, seed: int, method: str):
    """``(X_fit, y_fit, X_val, y_val)``: validation problem ``seed`` of Seeds or Pendigits for
    ``method``'s presets, test rows never read. Pendigits: the writer-dependent split (held-out
    digits of the training writers) with the method's augmented copies of the fitting rows;
    Seeds: a stratified 80/20 split of split ``seed``'s training rows."""
    from admmnet.baselines._base import stratified_holdout

    if dataset == "pendigits":
        ds = load_dataset("pendigits", split="writer-dependent", augment=augment_copies(method, dataset),
                          augment_seed=seed)
        return ds.X_train, ds.y_train, ds.X_test, ds.y_test
    if dataset == "seeds":
        ds = load_dataset("seeds", split_seed=seed)
        tr, va = stratified_holdout(np.searchsorted(np.unique(ds.y_train), ds.y_train), 0.2,
                                    np.random.default_rng(seed))
        return ds.X_train[tr], ds.y_train[tr], ds.X_train[va], ds.y_train[va]
    raise ValueError(f"small_validation_rows: seeds or pendigits, got {dataset!r}")


def paired_difference(d) -> tuple[dict, str]:
    """Per-problem differences ``d`` from a reference setting: ``({"diff": mean, "diff_se": its
    standard error}, "mean ± se (+up −down)")``, the validation scripts' paired comparison."""
    d = np.asarray(d, dtype=float)
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
    return ({"diff": float(d.mean()), "diff_se": se},
            f"{d.mean():+.2f} ± {se:.2f} (+{int((d > 0).sum())} −{int((d < 0).sum())})")


def results_dir(name: str, arch: str = "mlp") -> Path:
    """``benchmarks/results/<name>`` for the MLP, ``<name>_<arch>`` for a convolutional network."""
    return Path("benchmarks/results") / (name if arch == "mlp" else f"{name}_{arch}")


def write_results(out: Path, summary: dict, table: str, t_start: float) -> None:
    """``<out>/summary.json`` (``summary`` plus command, environment and the invocation's
    seconds) and ``<out>/table.md``, both atomically; then print the table."""
    from admmnet.cli import environment

    write_json(out / "summary.json", {"command": " ".join(["python"] + sys.argv), "environment": environment(),
                                      **summary, "seconds_this_invocation": time.perf_counter() - t_start})
    atomic_write(out / "table.md", lambda fh: fh.write(table.encode()))
    print(table)


def run_all(fn: Callable, tasks: Iterable[tuple], jobs: int, on_result: Callable[[dict], None]) -> None:
    """``on_result(fn(*task))`` for every task, as each finishes: inline with ``jobs <= 1``,
    else in ``jobs`` spawned worker processes with ``cpus // jobs`` BLAS threads each."""
    tasks = list(tasks)
    if jobs <= 1:
        for task in tasks:
            on_result(fn(*task))
        return
    if not tasks:
        return
    per = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in THREAD_VARS:  # read by the BLAS of each freshly spawned worker
        os.environ[var] = per
    pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"))
    try:
        for fut in as_completed([pool.submit(fn, *task) for task in tasks]):
            on_result(fut.result())
    except BaseException:
        # Ctrl-C (it reaches the workers too) or a dead worker: the finished runs are stored
        # already; drop the pending ones instead of waiting for them, then re-raise
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


# -- one run ----------------------------------------------------------------------
def method_bits(method: str) -> tuple:
    """Bit widths the study runs for ``method`` ("binary": the {-1, +1} level set)."""
    if method == "qnn-admm":
        return ("fp", 8, 4, 2, 1)
    return supported_bits(method) + (("binary",) if method in BINARY_METHODS else ())


def bits_order(bits) -> int:
    """Row order of a bit width in the tables: fp, 8, 4, 2, 1, binary."""
    special = {"fp": 0, "binary": 99}
    return special[str(bits)] if str(bits) in special else 10 - int(bits)


def qnn_fp_phase_kwargs(dataset: str, bits=None) -> dict:
    """The estimator's keyword arguments of a quantized QNN-ADMM preset's FP phase in the study
    (:func:`admmnet.presets.fp_phase_params`; the FP preset's unless it has settings of its own)."""
    return {**fp_phase_params(base_dataset(dataset), bits), "bits": None, "levels": "thesis"}


def model_kwargs(dataset: str, method: str, bits) -> dict:
    """The estimator's keyword arguments in the study (the presets, thesis levels)."""
    dataset = base_dataset(dataset)
    if method == "qnn-admm":
        return {**qnn_admm_params(dataset, None if bits == "fp" else bits),
                "bits": None if bits == "fp" else bits, "levels": "thesis"}
    if bits == "binary":
        return {**baseline_params(method, dataset, 1), "bits": None, "levels": "binary"}
    kw = baseline_params(method, dataset, bits)
    if method in ("ptq", "ste", "lq") + TERNARY_STUDY:
        kw.update(bits=bits, levels="thesis")
    return kw


def _plain(obj):
    """``obj`` as JSON gives it back (tuples -> lists), to compare stored and current settings."""
    return json.loads(json.dumps(obj))


@cache
def estimator_defaults(cls) -> dict:
    """The parameters of estimator class ``cls`` at their defaults, JSON form (made once per
    class: every stored run asks), the ``defaults`` of :func:`settings_changed`."""
    return cls().json_params()


def settings_changed(want: dict, have: dict, defaults: dict) -> bool:
    """Whether stored settings ``have`` differ from ``want`` (JSON form); a key ``have`` lacks
    (a parameter added after the run was made) counts at its value in ``defaults``."""
    return _plain(want) != _plain({k: have.get(k, defaults.get(k, "<absent>")) for k in want})


def drop_runs(log: Path, stale: Callable[[dict], bool], what: str, keep_in: Path | None = None) -> list[dict]:
    """Rewrite ``log`` (atomically) without its runs for which ``stale(run)`` holds, so they are
    redone; with ``keep_in`` they are appended there first. Reports on stderr what was dropped
    (``what``: why); returns the runs kept."""
    runs = load_runs(log)
    fresh = [r for r in runs if not stale(r)]
    if len(fresh) < len(runs):
        if keep_in is not None:
            append_runs(keep_in, [r for r in runs if stale(r)])
        atomic_write(log, lambda fh: fh.write("".join(json.dumps(r) + "\n" for r in fresh).encode()))
        print(f"{len(runs) - len(fresh)} stored run(s) {what}: "
              + (f"moved to {keep_in.name}" if keep_in is not None else "redone"), file=sys.stderr, flush=True)
    return fresh


#: QNNADMM parameters that became preset settings (None: the preset's) after runs had stored them
#: with a value: a preset that leaves one out gives ``QNNADMM.PRESET_PARAMS``'s, which those runs
#: had (one initialisation, the ReLU, 30 layerwise iterations).
PRESET_FILLED = ("n_init", "activation", "layerwise_iter")


def preset_filled(params: dict) -> dict:
    """``params`` (JSON form) with :data:`PRESET_FILLED` left at None (or absent) set to the value a
    preset that leaves them out gives, so that a stored run and today's preset compare equal."""
    return {**params, **{k: params.get(k) or QNNADMM.PRESET_PARAMS[k] for k in PRESET_FILLED}}


def is_stale(rec: dict) -> bool:
    """Whether a stored run was made with other settings than the presets give now (then the
    study redoes it): the preset's keyword arguments and the training-data augmentation must match."""
    d, m, b = rec["dataset"], rec["method"], rec["bits"]
    want = model_kwargs(d, m, b)
    absent = {}
    if m == "qnn-admm":     # every estimator parameter, so a changed default (not only a preset) counts
        want = {k: v for k, v in QNNADMM(**want).json_params().items() if k not in ("seed", "device", "verbose")}
        # a parameter added after the run was made counts at its default (e.g. budget=None)
        absent = estimator_defaults(QNNADMM)
    have = rec.get("params", {})
    if m == "qnn-admm":
        want, have = preset_filled(want), preset_filled(have)
    return (settings_changed(want, have, absent)
            or rec.get("augmentation") != _plain(augmentation(m, base_dataset(d))))


def fp_path(out: Path, dataset: str, seed: int) -> Path:
    return out / "models" / f"fp_{dataset}_seed{seed}.npz"


def qnn_fp_path(out: Path, dataset: str, seed: int, init: int = 0) -> Path:
    """The full-precision QNN-ADMM model of a seed: the FP phase of its quantized runs (``init``
    > 0: of their restart ``init``, seed ``seed + init``, ``QNNADMM(n_init=...)``)."""
    return out / "models" / (f"qnn-admm-fp_{dataset}_seed{seed}" + (f".init{init}" if init else "") + ".npz")


def _qnn_fp_model(out: Path, dataset: str, seed: int, kw: dict, init: int = 0, bits=None):
    """``(fp_model, its fit seconds)`` when the quantized QNN-ADMM run ``kw`` (of ``bits``) can take
    the FP phase of its initialisation ``init`` from the stored FP run (the quantized preset's FP
    phase is the whole run; where its settings are the FP preset's, ``fit(fp_model=...)`` gives the
    result of the whole quantized fit), else ``(None, 0)``: also when the FP preset has settings
    of its own (:data:`admmnet.presets.FP_OVERRIDES`) and the stored FP run is not a phase, and
    when the phase of ``bits`` is another network (:data:`admmnet.presets.LOW_BIT_OVERRIDES`)."""
    path = qnn_fp_path(out, dataset, seed, init)
    if kw.get("fp_iter") is None or kw.get("fp_iter") != kw.get("max_iter") or not path.exists():
        return None, 0.0
    fp = admmnet.load(path)
    want = _plain(qnn_fp_phase_kwargs(dataset, bits))
    have = _plain({k: fp.json_params().get(k) for k in want})
    if want != have or fp.seed != seed + init:
        return None, 0.0
    meta = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
    if meta.get("augmentation") != _plain(augmentation("qnn-admm", base_dataset(dataset))):
        return None, 0.0          # trained on other rows than the preset's
    return fp, float(meta.get("seconds", 0.0))


class FPPhases:
    """The FP phases of one seed's restarts (``QNNADMM(n_init=...)``), each trained once, on
    demand, and shared by the bit widths: ``train(i)`` returns ``(fitted FP model, seconds)`` of
    initialisation ``i`` (seed ``seed + i``); ``first(n)`` gives ``(the first n models, their
    seconds together)``, the ``fp_model`` list of a fit with ``n_init=n`` and its cost."""

    def __init__(self, train: Callable[[int], tuple]):
        self.train, self.models, self.seconds = train, [], []

    def first(self, n: int) -> tuple[list, float]:
        while len(self.models) < n:
            model, seconds = self.train(len(self.models))
            self.models.append(model)
            self.seconds.append(float(seconds))
        return self.models[:n], sum(self.seconds[:n])


def phases_after(fp, fp_seconds: float, fp_kw: dict, phase_kw: dict, seed: int, X, y, **extra) -> FPPhases:
    """The FP phases of a seed's restarts, for quantized fits after the FP run ``fp`` (fitted with
    ``fp_kw`` in ``fp_seconds``): initialisation 0 is ``fp`` itself where its settings are the
    quantized presets' FP phase ``phase_kw``; every other one (and 0 where the FP preset has
    settings of its own, :data:`admmnet.presets.FP_OVERRIDES`) is ``QNNADMM(**phase_kw, **extra)``
    fitted on ``X, y`` with seed ``seed + i``."""
    same = fp_kw == phase_kw
    return FPPhases(lambda i: (fp, fp_seconds) if i == 0 and same else
                    timed_fit(admmnet.QNNADMM(**phase_kw, **extra, seed=seed + i), X, y))


def fit_finished(model, X, y, **kw):
    """``model.fit(X, y, **kw)``, raising KeyboardInterrupt when Ctrl-C stopped the fit early.

    An estimator catches Ctrl-C and returns the network trained so far (``history_.stop ==
    "interrupted"``): right for a user at the prompt, wrong for a benchmark, which would store
    that network's figures as a finished run and go on to the next one. Every benchmark fits
    through this, so Ctrl-C stops it and the run under way is redone on resume."""
    model.fit(X, y, **kw)
    if getattr(getattr(model, "history_", None), "stop", None) == "interrupted":
        raise KeyboardInterrupt(f"{type(model).__name__}.fit was interrupted")
    return model


def timed_fit(model, X, y):
    """``(model.fit(X, y), its wall seconds)``."""
    t0 = time.perf_counter()
    fit_finished(model, X, y)
    return model, time.perf_counter() - t0


_CACHE: dict = {}


def _dataset(dataset: str, seed: int, augment: int = 0):
    """The dataset of run ``seed`` (Seeds: its own split; ``augment`` copies seeded by ``seed``)."""
    key = (dataset, split_seed_for(dataset, seed), augment, seed if augment else 0)
    if key not in _CACHE:
        _CACHE.clear()  # one dataset in memory at a time
        name, split = STUDY_DATASETS[dataset]
        _CACHE[key] = load_dataset(name, split=split, split_seed=key[1], augment=augment, augment_seed=key[3])
    return _CACHE[key]


def network_digest(model) -> str:
    """SHA-256 of a fitted model's network (its effective weights and biases, in order): the
    identity of the FP network a run starts from. A network trained again after its file was
    lost need not be the same one (other code, libraries or thread counts)."""
    h = hashlib.sha256()
    for a in list(model.weights()) + list(model.biases() or []):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def run_task(out: str, dataset: str, method: str, bits, seed: int) -> dict:
    """Train and score one (dataset, method, bits, seed) in this process; returns its record."""
    out = Path(out)
    augment = augment_copies(method, base_dataset(dataset))
    ds = _dataset(dataset, seed, augment)
    X_real, y_real = ds.original_train()
    kw = model_kwargs(dataset, method, bits)
    model = QNNADMM(seed=seed, **kw) if method == "qnn-admm" else CLASSES[method](seed=seed, **kw)
    fit_kw = {"fp_model": admmnet.load(fp_path(out, dataset, seed))} if method in FROM_FP else {}
    fp_seconds, qfp, fp_from = 0.0, None, None
    X_fit, y_fit = ds.X_train, ds.y_train
    if method == "qnn-admm" and bits != "fp":
        fp_kw, origin = qnn_fp_phase_kwargs(dataset, bits), []
        # a preset whose FP phase is a network of its own (admmnet.presets.LOW_BIT_OVERRIDES: Seeds
        # at 1 bit) finds no stored phase of it (_qnn_fp_model), trains its phases here and keeps
        # none: the stored restart files are the phases the other bit widths share
        own = fp_kw != qnn_fp_phase_kwargs(dataset)

        def fp_phase(i):
            """Initialisation i's FP phase: the stored FP run (i = 0) or restart, else trained (on the
            augmented rows, as admmnet train does) and, for a restart, kept for the other bit widths."""
            fp_i, s_i = _qnn_fp_model(out, dataset, seed, kw, i, bits)
            if fp_i is not None:
                origin.append(str(qnn_fp_path(out, dataset, seed, i)))
                return fp_i, s_i
            if i == 0 and not augment and not own:   # no stored FP run: the quantized fit trains its own
                return None, 0.0
            fp_i, s_i = timed_fit(QNNADMM(seed=seed + i, **fp_kw), ds.X_train, ds.y_train)
            origin.append("trained in this run")
            if i > 0 and not own:
                fp_i.save(qnn_fp_path(out, dataset, seed, i))
                write_json(qnn_fp_path(out, dataset, seed, i).with_suffix(".json"),
                           {"seconds": s_i, "augmentation": augmentation(method, base_dataset(dataset))})
            return fp_i, s_i

        phases = FPPhases(fp_phase)
        if phases.first(1)[0][0] is not None:   # and with restarts, the FP phase of every initialisation
            qfp, fp_seconds = phases.first(int(kw.get("n_init") or 1))
            fp_from = origin[0]
        if qfp is not None:
            fit_kw = {"fp_model": qfp}
        if augment:                      # the quantizer on the real rows
            X_fit, y_fit = X_real, y_real
    t0 = time.perf_counter()
    hist = fit_finished(model, X_fit, y_fit, **fit_kw).history_
    seconds = time.perf_counter() - t0 + fp_seconds     # a shared FP phase counts in full
    if method == "fp":
        model.save(fp_path(out, dataset, seed))
    if method == "qnn-admm" and bits == "fp":
        model.save(qnn_fp_path(out, dataset, seed))
        write_json(qnn_fp_path(out, dataset, seed).with_suffix(".json"),
                   {"seconds": seconds, "augmentation": augmentation(method, base_dataset(dataset))})
    with tempfile.TemporaryDirectory() as tmp:  # the deployable file: no training history
        file_bytes = model.save(Path(tmp) / "model.npz", history=False).stat().st_size
    net = model.network_
    levels = ("fp" if net.level_set is None else "int8" if method in ("dq", "qat")
              else "binary" if bits == "binary" else "thesis")
    digest = {}
    if method == "fp":
        digest["network_sha256"] = network_digest(model)
    elif method in FROM_FP:
        digest["fp_network_sha256"] = network_digest(fit_kw["fp_model"])
    return {"dataset": dataset, "method": method, "bits": bits, "levels": levels, "seed": seed, **digest,
            "test_accuracy": model.score(ds.X_test, ds.y_test),
            "train_accuracy": model.score(X_real, y_real), "seconds": seconds,
            "model_bytes": int(net.model_bytes), "file_bytes": int(file_bytes),
            "n_levels": None if net.level_set is None else int(net.level_set.n_levels),
            "storage_bits_per_weight": int(net.storage_bits_per_weight), "n_weights": int(net.n_weights),
            "iterations": len(hist), "stop": hist.stop, "split": ds.split, "augment": augment,
            "augmentation": augmentation(method, base_dataset(dataset)),
            "seconds_per_iteration": float(np.mean([r["seconds"] for r in hist])) if len(hist) else None,
            "threads": blas_threads(), "fit_blas_threads": getattr(model, "blas_threads_", None),
            "fp_phase_from": fp_from, "best_init": getattr(model, "best_init_", None),
            "params": model.json_params(), "admmnet": admmnet.__version__}


def run_key(r: dict) -> tuple:
    """``(dataset, method, bits, seed)`` of a stored run, bits as a string (JSON gives int or "fp")."""
    return r["dataset"], r["method"], str(r["bits"]), r["seed"]


def is_wanted(r: dict, datasets, methods, wanted, seeds: int) -> bool:
    """Whether a stored run belongs to the selection (FP runs at any ``wanted`` bits)."""
    return (r["dataset"] in datasets and r["method"] in methods and r["seed"] < seeds
            and (r["method"] == "fp" or r["bits"] in wanted))


def group_cells(runs: Iterable[dict]) -> list[tuple[tuple, list[dict]]]:
    """The runs grouped by cell ``(dataset, method, bits-as-string)``, cells sorted."""
    cells: dict = {}
    for r in runs:
        cells.setdefault(run_key(r)[:3], []).append(r)
    return sorted(cells.items())


def accuracy_stats(rs: list[dict]) -> dict:
    """What every summary of a cell reports: runs, seeds, test accuracy mean and sample std
    (percent; std 0 for one run), mean train accuracy, and the storage of its model."""
    acc = np.array([r["test_accuracy"] for r in rs]) * 100
    return {"n_runs": len(rs), "seeds": sorted(r["seed"] for r in rs),
            "test_accuracy_mean": float(acc.mean()),
            "test_accuracy_std": float(acc.std(ddof=1)) if len(rs) > 1 else 0.0,
            "train_accuracy_mean": float(np.mean([r["train_accuracy"] for r in rs]) * 100),
            "storage_bits_per_weight": rs[0]["storage_bits_per_weight"], "model_bytes": rs[0]["model_bytes"]}


def cell_text(c: dict, *, bold: bool = False, mark: str = "") -> str:
    """A table cell: "mean ± std (thesis mean)" (bold mean ± std on request), then ``mark``."""
    text = f"{c['test_accuracy_mean']:.2f} ± {c['test_accuracy_std']:.2f}"
    if bold:
        text = f"**{text}**"
    if c.get("thesis_mean") is not None:
        text += f" ({c['thesis_mean']:.2f})"
    return text + mark


def same_fp_network(rec: dict, fp_sha256: str | None) -> bool:
    """Whether run ``rec`` started from the FP network its seed's FP run now stores (by their
    :func:`network_digest`); True when either side predates the digests (unknown)."""
    have = rec.get("fp_network_sha256")
    return have is None or fp_sha256 is None or have == fp_sha256


def plan(out: Path, datasets, methods, wanted, seeds: int, reuse: Iterable[Path] = ()):
    """What is left to do: ``(runs, phases)``, the valid runs of ``<out>/runs.jsonl`` and the
    tasks ``(out, dataset, method, bits, seed)`` in two phases (the FP networks first, since
    the other methods load them). A stored run made with other settings than the presets now
    give is moved to ``runs.stale.jsonl`` and redone, and with a redone FP network every run
    that started from it; so is an FP run whose model file is gone while a run still to do
    needs it, and a run that started from another FP network than the one its seed's FP run
    stores (:func:`network_digest`, recorded since 2026-12: an FP network trained again need
    not be the lost one; the next plan redoes the runs made from the lost one). ``reuse``:
    other run stores (e.g. the study's) whose valid runs of the wanted cells are taken over
    instead of being run again: a run is deterministic on the CPU given its settings and seed,
    so the stored one is the run this benchmark would make (it keeps its ``seconds`` and gains
    ``reused_from``)."""
    runs_path = out / "runs.jsonl"
    runs = load_runs(runs_path)
    latest = {run_key(r): i for i, r in enumerate(runs)}    # a run stored twice: the later one counts
    n_twins = len(runs) - len(latest)
    runs = [r for i, r in enumerate(runs) if latest[run_key(r)] == i]
    stale_fp = {(r["dataset"], r["seed"]) for r in runs if r["method"] == "fp" and is_stale(r)}
    fp_digest = {(r["dataset"], r["seed"]): r.get("network_sha256") for r in runs if r["method"] == "fp"}

    def lost_fp_network(r) -> bool:     # made from an FP network its seed's FP run no longer stores
        key = (r["dataset"], r["seed"])
        return r["method"] in FROM_FP and (key in stale_fp or not same_fp_network(r, fp_digest.get(key)))

    keep = [r for r in runs if not is_stale(r) and not lost_fp_network(r)]
    kept = {id(r) for r in keep}
    stale = [r for r in runs if id(r) not in kept]
    if stale:
        print(f"{len(stale)} stored run(s) were made with other settings than the presets now give, or "
              f"from another FP network: moved to {out / 'runs.stale.jsonl'} and redone", file=sys.stderr)
        for r in stale:
            append_run(out / "runs.stale.jsonl", r)
    have = {run_key(r) for r in keep}
    n_reused = 0
    for other in reuse:
        for r in load_runs(Path(other)):
            if run_key(r) not in have and is_wanted(r, datasets, methods, wanted, seeds) and not is_stale(r):
                keep.append({**r, "reused_from": str(other)})
                have.add(run_key(r))
                n_reused += 1
    if n_reused:
        print(f"{n_reused} run(s) taken over from {', '.join(map(str, reuse))}", file=sys.stderr)
    rewrite = bool(stale or n_reused or n_twins)
    done = {run_key(r) for r in keep}
    phases: list[list[tuple]] = [[], []]
    for d in datasets:
        for m in methods:
            for b in method_bits(m):
                if m != "fp" and b not in wanted:
                    continue
                for s in range(seeds):
                    if (d, m, str(b), s) not in done:
                        first = m == "fp" or (m == "qnn-admm" and b == "fp")    # the others load them
                        phases[0 if first else 1].append((str(out), d, m, b, s))
    for d in datasets:
        for s in range(seeds):
            needed = any(t[1] == d and t[4] == s and t[2] in FROM_FP for t in phases[1])
            if (d, "fp", "fp", s) in done and needed and not fp_path(out, d, s).exists():
                keep = [r for r in keep if not (r["dataset"] == d and r["method"] == "fp" and r["seed"] == s)]
                phases[0].append((str(out), d, "fp", "fp", s))
                rewrite = True
    if rewrite:     # the store holds exactly the kept runs (a redone run is appended once, when done)
        text = "".join(json.dumps(r) + "\n" for r in keep).encode()
        atomic_write(runs_path, lambda fh: fh.write(text))
    return keep, phases


def progress_printer(runs_path: Path, runs: list, n_todo: int) -> Callable[[dict], None]:
    """``store(rec)``: append a finished run to ``runs`` and to the store, print one line."""
    t0, count = time.perf_counter(), [0]

    def store(rec):
        count[0] += 1
        runs.append(rec)
        append_run(runs_path, rec)
        print(f"[{count[0]}/{n_todo} {(time.perf_counter() - t0) / 60:5.1f} min] {rec['dataset']:9s} "
              f"{rec['method']:8s} bits={rec['bits']!s:>2} seed={rec['seed']}  test={rec['test_accuracy']:.4f}  "
              f"train={rec['train_accuracy']:.4f}  {rec['seconds']:.1f}s", file=sys.stderr, flush=True)

    store.count = count
    return store
