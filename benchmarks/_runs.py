"""What the accuracy benchmarks share: the Seeds split rule, the resumable run store
(one JSON line per finished run) and running tasks inline or in worker processes."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable

from admmnet.io import atomic_write

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def split_seed_for(dataset: str, seed: int) -> int:
    """Seeds has no official split and 42 test rows (one row = 2.4 points): run s uses the
    stratified 80/20 split of seed s (repeated holdout). The others keep their standard split."""
    return seed if dataset == "seeds" else 0


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
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
        for fut in as_completed([pool.submit(fn, *task) for task in tasks]):
            on_result(fut.result())
