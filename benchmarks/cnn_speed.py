"""Speed of the backprop engine's convolutional networks: one LeNet-5 epoch on MNIST.

Measures, in one run:

* a large SGEMM (``measured_gemm_flops_per_second``), the machine's matrix-product rate;
* each weight layer of the architecture on one batch of MNIST images: forward (im2col +
  GEMM + bias) and backward (``dW = dz cols^T``, ``db``, ``dx = col2im(W^T dz)``; none for the
  first layer), seconds and GFLOP/s of its GEMM work (``2 n_out n_in Ho Wo m`` per product);
* one training epoch over the 60,000 training images through :func:`admmnet.backprop.train`
  (Adam, lr 1e-3, the batch size given, float32 by default, no held-out split):
  ``epoch_seconds`` (the mini-batch loop) plus the accuracy probe the trainer runs after
  every epoch (10,000 rows; ``probe_seconds``), the epoch's GEMM FLOPs / time, and the
  process CPU time of the epoch (``epoch_cpu_seconds``: on a machine other jobs share, what
  the epoch cost when it ran; with one thread, about its wall time on an idle core).

``--device gpu`` runs the same measurements on a CUDA GPU through CuPy (the engine is the
array-API code; the GEMM rate is then CuPy's, every timing synchronises the device, and the
training rows are copied to the GPU once, before the timings).

Usage::

    python benchmarks/cnn_speed.py                  # full epoch (~1 min on 2 idle cores)
    python benchmarks/cnn_speed.py --batches 50     # 50 batches only, epoch time extrapolated
    python benchmarks/cnn_speed.py --device gpu     # on a GPU machine (benchmarks/gpu_check.sh)

Writes JSON (``--json``, default ``benchmarks/results/cnn_speed/cnn_speed[-gpu][-quick].json``) with
command, environment and the load average before and after (timings on a shared machine
are inflated), and prints a table.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from admmnet.backprop import Adam, train
from admmnet.backprop.arch import get_arch, init_arch_params
from admmnet.backprop.layers import Conv2d
from admmnet.cli import environment
from admmnet.io import write_json

ROOT = Path(__file__).resolve().parent.parent


class Device:
    """Where the arrays live: ``xp`` (the array-API namespace of the engine), ``asarray`` (host
    to device) and ``sync`` (wait for the device's queued work: a no-op on the CPU)."""

    def __init__(self, name: str):
        self.name = name
        if name == "gpu":
            from admmnet.kernels import cupy_gpu

            if not cupy_gpu.available():
                raise SystemExit("--device gpu needs CuPy and a CUDA GPU; neither is usable here")
            import array_api_compat.cupy as xp
            import cupy

            self.xp, self.asarray = xp, cupy_gpu.to_device
            self.sync = cupy.cuda.Device().synchronize
        else:
            import array_api_compat.numpy as xp

            self.xp, self.asarray = xp, np.asarray
            self.sync = lambda: None


def best_time(fn, reps: int, sync=lambda: None) -> float:
    """Best of ``reps`` timed calls (after one warm-up call), each waited for with ``sync``."""
    fn()
    sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_rate(n: int, dtype, reps: int, dev: Device | None = None) -> float:
    """FLOP/s of an n x n x n GEMM (2 n^3 FLOPs) on ``dev`` (default the CPU)."""
    dev = dev or Device("cpu")
    rng = np.random.default_rng(0)
    A, B = (dev.asarray(rng.random((n, n)).astype(dtype)) for _ in range(2))
    return 2.0 * n ** 3 / best_time(lambda: A @ B, reps, dev.sync)


def load_images(dtype):
    from admmnet.datasets import load_dataset

    ds = load_dataset("mnist", dtype=np.dtype(dtype).name)
    return ds.X_train, ds.y_train


def bench_layers(arch, Ws, bs, A0, reps: int, dev: Device | None = None) -> list[dict]:
    """Forward / backward seconds and GFLOP/s of each weight layer on the batch ``A0`` (arrays
    of ``dev``, default the CPU)."""
    from admmnet.admm.activations import get_activation
    from admmnet.backprop.layers import Activation, MaxPool2d

    dev = dev or Device("cpu")
    xp = dev.xp
    h = get_activation("relu")
    m = A0.shape[1]
    x = xp.reshape(A0, arch.input_shape + (m,))
    rows, l = [], 0
    rng = np.random.default_rng(0)
    for layer, (_, _, out) in zip(arch.layers, arch.geometry()):
        if layer.weighted:
            W, b = Ws[l], bs[l]
            inp, geo = layer.inputs(x)
            pix = out[1] * out[2] if isinstance(layer, Conv2d) else 1
            flops_one = 2.0 * W.shape[0] * W.shape[1] * pix * m
            dz = dev.asarray(rng.standard_normal((W.shape[0], pix * m)).astype(W.dtype))   # CuPy's dtypes are NumPy's

            def fwd(layer=layer, x=x, W=W, b=b):
                i, g = layer.inputs(x)
                z = W @ i
                z += b
                return layer.output(z, g, m)

            def bwd(layer=layer, inp=inp, W=W, dz=dz, x_shape=tuple(x.shape), first=(l == 0)):
                dW = dz @ inp.T
                db = xp.sum(dz, axis=1, keepdims=True)
                return dW, db, None if first else layer.backward_input(W, dz, None, x_shape)

            tf, tb = best_time(fwd, reps, dev.sync), best_time(bwd, reps, dev.sync)
            n_bwd = 1 if l == 0 else 2
            rows.append({"layer": l, "type": type(layer).__name__, "weight_shape": list(W.shape),
                         "output_pixels": pix, "batch": m, "forward_seconds": tf, "backward_seconds": tb,
                         "forward_gflops": flops_one / 1e9, "backward_gflops": n_bwd * flops_one / 1e9,
                         "forward_gflop_per_second": flops_one / tf / 1e9,
                         "backward_gflop_per_second": n_bwd * flops_one / tb / 1e9,
                         "fwd_bwd_gflop_per_second": (1 + n_bwd) * flops_one / (tf + tb) / 1e9})
            y = fwd()
            l += 1
        elif isinstance(layer, Activation):
            y = h(x)
        elif isinstance(layer, MaxPool2d):
            y = layer.forward(x)
        else:
            y = xp.reshape(x, (-1, m))
        x = y
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="lenet5")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--batches", type=int, default=0,
                   help="time only this many batches and extrapolate the epoch (0: the full epoch)")
    p.add_argument("--reps", type=int, default=5, help="repetitions of each per-layer timing (best kept)")
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"),
                   help="gpu: the engine on CuPy arrays (needs CuPy and a CUDA GPU)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    dtype = np.dtype(args.dtype)
    dev = Device(args.device)
    load0 = os.getloadavg()
    if load0[0] > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average {load0[0]:.1f} on {os.cpu_count()} CPUs: other jobs are running; "
              f"timings are inflated", file=sys.stderr)
    rate = max(gemm_rate(1024, dtype, 5, dev), gemm_rate(2048, dtype, 3, dev))
    X_host, y = load_images(dtype)
    arch = get_arch(args.arch, X_host.shape[1], 10)
    X = dev.asarray(X_host)                            # once: the training rows live on the device

    rng = np.random.default_rng(0)
    Ws, bs = init_arch_params(arch, "relu", rng, dev.xp, getattr(dev.xp, dtype.name))
    A0 = dev.asarray(np.ascontiguousarray(X_host[:args.batch_size].T))
    layers = bench_layers(arch, Ws, bs, A0, args.reps, dev)
    conv = [r for r in layers if r["type"] == "Conv2d"]
    conv_flops = sum(r["forward_gflops"] + r["backward_gflops"] for r in conv)
    conv_time = sum(r["forward_seconds"] + r["backward_seconds"] for r in conv)

    n = X.shape[0] if args.batches <= 0 else min(X.shape[0], args.batches * args.batch_size)
    per_sample = arch.flops_per_sample()
    epoch_gflop = (sum(3 * f for f in per_sample) - per_sample[0]) * n / 1e9   # no dx of the first layer
    # warm-up: compile the Numba kernels and touch every code path once
    train(list(Ws), list(bs), X[:2 * args.batch_size], y[:2 * args.batch_size], activation="relu",
          optimizer=Adam(), lr=1e-3, epochs=1, batch_size=args.batch_size, rng=np.random.default_rng(0), arch=arch)
    dev.sync()
    cpu0 = time.process_time()
    res = train(list(Ws), list(bs), X[:n], y[:n], activation="relu", optimizer=Adam(), lr=1e-3, epochs=1,
                batch_size=args.batch_size, rng=np.random.default_rng(0), arch=arch)
    cpu_s = time.process_time() - cpu0
    rec = res.records[0]
    from admmnet.backprop import evaluate

    probe = np.sort(np.random.default_rng(0).permutation(n)[:min(n, 10000)])
    t0 = time.perf_counter()
    evaluate(res.Ws, res.bs, X[dev.asarray(probe)], y[probe], "relu", arch=arch)
    dev.sync()
    probe_s = time.perf_counter() - t0
    loop_s = rec["seconds"] - probe_s
    cpu_s -= probe_s * cpu_s / rec["seconds"]      # the probe's share of the CPU time, pro rata
    epoch_s = loop_s * X.shape[0] / n
    load1 = os.getloadavg()
    result = {
        "arch": args.arch, "device": args.device, "batch_size": args.batch_size, "dtype": args.dtype,
        "samples_timed": n,
        "n_weights": arch.n_weights, "flops_per_sample_forward": per_sample,
        "measured_gemm_flops_per_second": rate,
        "layers": layers,
        "conv_fwd_bwd_gflop_per_second": conv_flops / conv_time,
        "conv_fraction_of_sgemm": conv_flops / conv_time / (rate / 1e9),
        "epoch_seconds": epoch_s, "epoch_extrapolated": n < X.shape[0],
        "epoch_cpu_seconds": cpu_s * X.shape[0] / n,
        "probe_seconds": probe_s, "train_record_seconds": rec["seconds"],
        "epoch_gflop": epoch_gflop * X.shape[0] / n,
        "epoch_gflop_per_second": epoch_gflop / loop_s,
        "epoch_loss": rec["loss"], "probe_train_accuracy": rec["train_accuracy"],
        "threads": {"numba": _numba_threads(), **{v: os.environ.get(v) for v in
                                                 ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}},
        "load_average_before": load0, "load_average_after": load1,
        "command": " ".join(["python"] + sys.argv), "environment": environment(),
        "seconds_this_invocation": time.perf_counter() - t_start,
    }
    quick = "-quick" if n < X.shape[0] else ""
    gpu = "-gpu" if args.device == "gpu" else ""
    out = Path(args.json or ROOT / "benchmarks" / "results" / "cnn_speed" / f"cnn_speed{gpu}{quick}.json")
    write_json(out, result)
    lines = [f"{args.arch} on the {args.device}, batch {args.batch_size}, {args.dtype}; "
             f"SGEMM {rate / 1e9:.1f} GFLOP/s; load average {load0[0]:.1f} -> {load1[0]:.1f} "
             f"on {os.cpu_count()} CPUs", "",
             "| layer | weight | fwd ms | bwd ms | fwd GFLOP/s | bwd GFLOP/s | fwd+bwd GFLOP/s |",
             "|---|---|---|---|---|---|---|"]
    for r in layers:
        lines.append(f"| {r['layer']} {r['type']} | {r['weight_shape'][0]}x{r['weight_shape'][1]} | "
                     f"{1e3 * r['forward_seconds']:.2f} | {1e3 * r['backward_seconds']:.2f} | "
                     f"{r['forward_gflop_per_second']:.1f} | {r['backward_gflop_per_second']:.1f} | "
                     f"{r['fwd_bwd_gflop_per_second']:.1f} |")
    lines += ["", f"conv layers fwd+bwd: {result['conv_fwd_bwd_gflop_per_second']:.1f} GFLOP/s "
                  f"({100 * result['conv_fraction_of_sgemm']:.0f}% of SGEMM)",
              f"epoch ({X.shape[0]} images{', extrapolated from ' + str(n) if quick else ''}): "
              f"{epoch_s:.1f} s  ({result['epoch_gflop_per_second']:.1f} GFLOP/s overall; "
              f"+ {probe_s:.1f} s accuracy probe), loss {rec['loss']:.4f}; process CPU time "
              f"{result['epoch_cpu_seconds']:.1f} s",
              f"wrote {out}"]
    print("\n".join(lines))
    return 0


def _numba_threads():
    try:
        import numba

        return numba.get_num_threads()
    except ImportError:
        return None


if __name__ == "__main__":
    sys.exit(main())
