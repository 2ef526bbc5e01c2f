"""The ``admmnet`` command line: ``admmnet train`` and ``admmnet evaluate``.

    admmnet train --dataset mnist --method qnn-admm --bits 4 --json result.json --save model.npz
    admmnet train --dataset mnist --method fp --save fp.npz
    admmnet train --dataset mnist --method lq --bits 2 --from fp.npz --json lq2.json
    admmnet train --dataset seeds --method twn --bits 1 --json twn.json     (also ttq, admm-ternary, md-*)
    admmnet evaluate model.npz --dataset mnist
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from . import __version__
from .datasets import DATASETS, DatasetError, load_dataset
from .io import CheckpointError, write_json
from .baseline_presets import AUGMENT, augment_copies, baseline_params
from .datasets.pendigits import SPLITS as PENDIGITS_SPLITS
from .datasets.pendigits import augmentation_record
from .model import QNNADMM, load
from .presets import qnn_admm_params

#: The ternary methods of the other sources (docs/baselines.md, "Ternary methods"):
#: ternary with ``--bits 1`` or ``--levels ternary``; admm-ternary and md-* also ``--levels binary``.
TERNARY_METHODS = ("twn", "ttq", "admm-ternary", "md-tanh", "md-softmax", "md-tanh-s", "md-softmax-s")
METHODS = ("qnn-admm", "fp", "ptq", "ste", "dq", "qat", "lq") + TERNARY_METHODS
#: Methods that start from an FP network: a saved one (``--from``), else one trained first.
FROM_METHODS = ("ptq", "lq", "dq", "qat", "ste") + TERNARY_METHODS
_BITS_HELP = ("quantization bits N, or 'fp' for full precision. With --levels thesis (the default) "
              "N bits means the thesis's level set, the integers -(2^N-1)..2^N-1 times a scale: "
              "its 1 bit is ternary {-1,0,1} and its 8 bits need 9 bits of storage, exactly as in "
              "the thesis tables. --levels signed gives a true N-bit signed set.")


def _parse_bits(text: str):
    if text.lower() in ("fp", "none", "float"):
        return "fp"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--bits must be an integer or 'fp', got {text!r}") from None


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated integers, got {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden must be positive integers, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="admmnet", description=(
        "Train and evaluate MLPs without backpropagation (QNN-ADMM). Datasets are read from "
        "$ADMMNET_DATA, else the data/ cache, else downloaded and verified."))
    p.add_argument("--version", action="version", version=f"admmnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a network and report train/test accuracy",
                       description="Train a network on a dataset's training split and report "
                                   "train/test accuracy of the (quantized) network.")
    t.add_argument("--dataset", required=True, choices=DATASETS)
    t.add_argument("--method", default="qnn-admm", choices=METHODS)
    t.add_argument("--bits", type=_parse_bits, default="fp", help=_BITS_HELP + " Default: fp.")
    t.add_argument("--levels", default="thesis", choices=("thesis", "signed", "binary", "ternary"),
                   help="level set (default: thesis; see --bits)")
    t.add_argument("--granularity", default="layer", choices=("layer", "row"),
                   help="one scale per layer (thesis, default) or per output row")
    t.add_argument("--hidden", type=_parse_hidden, default=None,
                   help="hidden widths, e.g. 200,200 (default: the thesis topology of the dataset)")
    t.add_argument("--iters", type=int, default=None, help="ADMM iterations (default: the dataset preset)")
    t.add_argument("--epochs", type=int, default=None,
                   help="backprop methods: epochs of the FP training stage (default: the preset)")
    t.add_argument("--lr", type=float, default=None, help="backprop methods: learning rate (default: preset)")
    t.add_argument("--from", dest="from_model", metavar="FP_MODEL.npz", default=None,
                   help="ptq, ste, dq, qat, lq and the ternary methods: start from this saved FP model "
                        "(admmnet train --method fp --save ...) instead of training one first")
    t.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    t.add_argument("--split", choices=PENDIGITS_SPLITS, default=None,
                   help="pendigits: test on other writers (writer-independent, the UCI files' split; "
                        "default) or on held-out digits of the training writers (writer-dependent: "
                        "pendigits.tra split 80/20 with --split-seed, the thesis's protocol)")
    t.add_argument("--split-seed", type=int, default=0,
                   help="seed of the stratified 80/20 split of Seeds (no official split) and of "
                        "writer-dependent Pendigits (default 0)")
    t.add_argument("--augment", type=int, default=None, metavar="K",
                   help="pendigits: train on K distorted copies of the training rows as well (seed --seed); "
                        f"default: {AUGMENT.get('pendigits', 0)} for the backprop methods, 0 for qnn-admm "
                        "(admmnet.baseline_presets.AUGMENT)")
    t.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    t.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"),
                   help="where QNN-ADMM runs: cpu (NumPy, Numba kernels when installed), gpu (CuPy), "
                        "or auto (the GPU when CuPy sees one; default)")
    t.add_argument("--activation", default="relu", choices=("relu", "hardsigmoid", "identity"))
    t.add_argument("--no-bias", action="store_true", help="no bias (thesis-exact network)")
    for name in ("beta", "gamma", "mu", "penalty-growth", "mu-growth", "ridge", "momentum", "layer-scale"):
        t.add_argument(f"--{name}", type=float, default=None, help=f"override the preset's {name}")
    t.add_argument("--fp-iter", type=int, default=None, metavar="N",
                   help="quantized qnn-admm: full-precision ADMM iterations before quantizing "
                        "(default: the preset's, all of them; 0: quantize from the start as the thesis)")
    t.add_argument("--layerwise", dest="layerwise", action="store_true", default=None,
                   help="quantize after the FP phase with the gradient-free layerwise quantizer "
                        "(the presets' default for quantized runs)")
    t.add_argument("--no-layerwise", dest="layerwise", action="store_false",
                   help="quantize after the FP phase by projecting W instead")
    t.add_argument("--w-solver", choices=("exact", "backtracking"), default=None)
    t.add_argument("--a-solver", choices=("exact", "backtracking"), default=None)
    t.add_argument("--save", metavar="MODEL.npz", help="save the trained model (atomic write)")
    t.add_argument("--json", metavar="RESULT.json", help="write the result record as JSON")
    t.add_argument("--checkpoint", metavar="STATE.npz",
                   help="save the solver state every few iterations and on Ctrl-C; "
                        "if the file exists, resume from it")
    t.add_argument("--data-dir", default=None, help="dataset folder (default: $ADMMNET_DATA, then data/)")
    t.add_argument("--quiet", action="store_true", help="no per-iteration progress")

    e = sub.add_parser("evaluate", help="print the test accuracy of a saved model")
    e.add_argument("model", help="a model file written by 'admmnet train --save'")
    e.add_argument("--dataset", required=True, choices=DATASETS)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", choices=PENDIGITS_SPLITS, default=None,
                   help="pendigits: the split the model was trained with (default writer-independent)")
    e.add_argument("--split-seed", type=int, default=0,
                   help="the split seed the model was trained with (Seeds, writer-dependent Pendigits)")
    e.add_argument("--json", metavar="RESULT.json")
    return p


def _bits_json(bits):
    return "fp" if bits in (None, "fp") else int(bits)


def environment() -> dict:
    """Versions and machine, for result files."""
    import scipy

    env = {"admmnet": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "scipy": scipy.__version__, "machine": platform.machine(), "processor": platform.processor(),
           "cpus": os.cpu_count(), "platform": platform.platform()}
    try:
        import numba

        env["numba"] = numba.__version__
    except ImportError:
        env["numba"] = None
    try:
        with open("/proc/cpuinfo") as f:
            env["cpu"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        pass
    env["gpu"] = _gpu_environment()
    from ._thread_spin import openblas_spin_status, openmp_spin_status

    env["openblas_spin"] = openblas_spin_status()
    env["openmp_spin"] = openmp_spin_status()
    return env


def _gpu_environment() -> dict | None:
    """CuPy, CUDA and the GPU's name when CuPy sees a GPU (result files of GPU runs), else None."""
    from .kernels import cupy_gpu

    if not cupy_gpu.available():
        return None
    import cupy

    env = {"cupy": cupy.__version__}
    try:  # a result file is still written if the driver will not say
        dev = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = dev["name"]
        env.update(cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
                   name=name.decode() if isinstance(name, bytes) else str(name),
                   memory_bytes=int(dev["totalGlobalMem"]))
    except Exception as exc:  # CUDARuntimeError, a missing key
        env["error"] = f"{type(exc).__name__}: {exc}"
    return env


def _build_qnn_admm(args, bits):
    quantized = bits is not None or args.levels in ("binary", "ternary")
    kw = qnn_admm_params(args.dataset, "q" if quantized else None)
    if args.hidden is not None:
        kw["hidden_sizes"] = args.hidden
    if args.iters is not None:
        kw["max_iter"] = args.iters
        if args.fp_iter is None and "fp_iter" in kw:    # the FP phase stays the whole run
            kw["fp_iter"] = args.iters
    for name in ("beta", "gamma", "mu", "penalty_growth", "mu_growth", "ridge", "momentum", "layer_scale",
                 "w_solver", "a_solver", "fp_iter", "layerwise"):
        v = getattr(args, name)
        if v is not None:
            kw[name] = v
    return QNNADMM(bits=bits, levels=args.levels, granularity=args.granularity, seed=args.seed, preset=args.dataset,
                   dtype=args.dtype, device=args.device, activation=args.activation, bias=not args.no_bias,
                   verbose=not args.quiet, **kw)


def _build_baseline(args, bits):
    from . import baselines as B

    for name in ("beta", "gamma", "mu", "penalty_growth", "mu_growth", "ridge", "layer_scale", "w_solver",
                 "a_solver", "iters", "checkpoint", "fp_iter", "layerwise"):
        if getattr(args, name) is not None:
            raise ValueError(f"--{name.replace('_', '-')} applies to --method qnn-admm only")
    if getattr(args, "device", "auto") == "gpu":
        raise ValueError("--device gpu applies to --method qnn-admm; the backprop baselines run on the CPU")
    if args.from_model is not None and args.method not in FROM_METHODS:
        raise ValueError(f"--from applies to --method {', '.join(FROM_METHODS)}, not {args.method}")
    kw = baseline_params(args.method, args.dataset, bits)
    if args.hidden is not None:
        kw["hidden_sizes"] = args.hidden
    if args.epochs is not None:
        kw["max_epochs"] = args.epochs
    if args.lr is not None:
        kw["lr"] = args.lr
    if args.momentum is not None:
        kw["momentum"] = args.momentum
    common = dict(seed=args.seed, dtype=args.dtype, activation=args.activation, bias=not args.no_bias,
                  verbose=not args.quiet)
    if args.method == "fp":
        if bits is not None:
            raise ValueError("--method fp trains full precision: leave out --bits (or pass --bits fp)")
        return B.FPMLP(**common, **kw)
    if args.method in ("dq", "qat"):
        if bits not in (None, 8):
            raise ValueError(f"--method {args.method} is int8 only: leave out --bits (or pass --bits 8)")
        return (B.DQ if args.method == "dq" else B.QAT)(**common, **kw)
    if bits is None and args.levels not in ("binary", "ternary"):
        raise ValueError(f"--method {args.method} quantizes: give --bits N (or --levels binary/ternary)")
    if args.method in TERNARY_METHODS:
        if args.granularity != "layer":
            raise ValueError(f"--method {args.method} has one scale per layer: leave out --granularity row")
        if args.method.startswith("md-"):
            return B.MirrorDescent(variant=args.method[3:], bits=bits, levels=args.levels, **common, **kw)
        cls = {"twn": B.TWN, "ttq": B.TTQ, "admm-ternary": B.ADMMTernary}[args.method]
        return cls(bits=bits, levels=args.levels, **common, **kw)
    cls = {"ptq": B.PTQ, "ste": B.QNNSTE, "lq": B.LQ}[args.method]
    return cls(bits=bits, levels=args.levels, granularity=args.granularity, **common, **kw)


def cmd_train(args) -> int:
    augment = augment_copies(args.method, args.dataset) if args.augment is None else args.augment
    if augment < 0:
        raise ValueError(f"--augment must be >= 0, got {augment}")
    ds = load_dataset(args.dataset, data_home=args.data_dir, dtype=args.dtype, split=args.split,
                      split_seed=args.split_seed, augment=augment, augment_seed=args.seed)
    X_real, y_real = ds.original_train()
    bits = None if args.bits == "fp" else args.bits
    if args.method == "qnn-admm":
        if args.from_model is not None or args.epochs is not None or args.lr is not None:
            raise ValueError("--from, --epochs and --lr apply to the backprop methods, not qnn-admm")
        model = _build_qnn_admm(args, bits)
        fit_kw = {"checkpoint": args.checkpoint}
    else:
        model = _build_baseline(args, bits)
        fit_kw = {}
        if args.from_model is not None:
            fit_kw["fp_model"] = load(args.from_model)
            if args.hidden is None and hasattr(fit_kw["fp_model"], "network_"):
                model.hidden_sizes = tuple(fit_kw["fp_model"].network_.layer_sizes[1:-1])
    int8 = args.method in ("dq", "qat")
    bits_out = 8 if int8 else bits
    levels_out = "int8" if int8 else args.levels
    granularity_out = "row" if int8 else args.granularity
    desc = ("full precision" if bits_out is None else
            "int8 weights per row, int8 activations per batch" if int8 else f"{bits} bits ({args.levels} levels)")
    n_train = f"{X_real.shape[0]} train" + (f" + {ds.n_augmented} augmented" if ds.n_augmented else "")
    print(f"admmnet: {args.method} on {ds.name} ({n_train} / {ds.X_test.shape[0]} test), "
          f"layers {[ds.n_features, *model.hidden_sizes, ds.n_classes]}, {desc}, seed {args.seed}"
          + (f", from {args.from_model}" if args.from_model else ""), file=sys.stderr)
    t0 = time.perf_counter()
    history = model.fit(ds.X_train, ds.y_train, **fit_kw)
    seconds = time.perf_counter() - t0
    train_acc = model.score(X_real, y_real)
    test_acc = model.score(ds.X_test, ds.y_test)
    n_it = len(history)
    unit = "iterations" if args.method == "qnn-admm" else "epochs/stages"
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f}  "
          f"({n_it} {unit}, {seconds:.1f} s)" + ("  [interrupted]" if history.interrupted else ""))
    if args.save:
        model.save(args.save)
        print(f"saved model to {args.save}", file=sys.stderr)
    if args.json:
        it_seconds = [r["seconds"] for r in history]
        write_json(args.json, {
            "dataset": args.dataset, "method": args.method, "bits": _bits_json(bits_out),
            "levels": levels_out, "granularity": granularity_out, "seed": args.seed,
            "iterations": model.n_iter_, "train_accuracy": train_acc, "test_accuracy": test_acc,
            "seconds": seconds,
            "seconds_per_iteration": float(np.mean(it_seconds)) if it_seconds else None,
            "storage_bits_per_weight": model.storage_bits_per_weight, "model_bytes": model.model_bytes,
            "layer_sizes": list(model.layer_sizes_), "split": ds.split, "split_seed": args.split_seed,
            "augment": augment, "augmentation": augmentation_record(augment),
            "stop": history.stop, "from": args.from_model,
            "params": model.get_params(), "command": " ".join(sys.argv), "environment": environment(),
            "history": list(history),
        })
    return 130 if history.interrupted else 0


def cmd_evaluate(args) -> int:
    model = load(args.model)
    ds = load_dataset(args.dataset, data_home=args.data_dir, dtype=model.network_.dtype, split=args.split,
                      split_seed=args.split_seed)
    acc = model.score(ds.X_test, ds.y_test)
    print(f"test accuracy {acc:.4f}  ({getattr(model, 'method', '?')}, "
          f"{model.storage_bits_per_weight} bits/weight, {model.model_bytes} bytes)")
    if args.json:
        write_json(args.json, {"model": args.model, "method": getattr(model, "method", None),
                               "dataset": args.dataset, "split": ds.split, "test_accuracy": acc,
                               "storage_bits_per_weight": model.storage_bits_per_weight,
                               "model_bytes": model.model_bytes})
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args)
        return cmd_evaluate(args)
    except (DatasetError, CheckpointError, ValueError) as exc:
        print(f"admmnet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
