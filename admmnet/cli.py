"""The ``admmnet`` command line: ``train``, ``evaluate``, ``predict``, ``export`` and ``plot``.

    admmnet train --dataset mnist --method qnn-admm --bits 4 --json result.json --save model.npz
    admmnet train --dataset mnist --method fp --save fp.npz
    admmnet train --dataset mnist --method lq --bits 2 --from fp.npz --json lq2.json
    admmnet train --dataset mnist --arch lenet5 --method fp --epochs 1 --json r.json
    admmnet train --dataset seeds --method twn --bits 1 --json twn.json     (also ttq, admm-ternary, md-*)
    admmnet evaluate model.npz --dataset mnist
    admmnet train --data train.csv [--test test.csv] [--target species] --bits 2 --save model.npz
    admmnet evaluate model.npz --data new.csv
    admmnet predict model.npz --data new.csv --out predictions.csv [--proba]
    admmnet export model.npz --format onnx -o model.onnx
    admmnet plot result.json [more.json ...] -o curves.png

Own data files (CSV, .npz, svmlight): :mod:`admmnet.datasets.files`, docs/own_data_and_export.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
import time

import numpy as np

from . import __version__
from .datasets import DATASETS, DatasetError, load_dataset
from .io import CheckpointError, write_json
from .baseline_presets import AUGMENT, augment_copies, baseline_params
from .datasets.pendigits import SPLITS as PENDIGITS_SPLITS
from .datasets.pendigits import augmentation_record
from .backprop.arch import ARCH_NAMES
from .model import QNNADMM, _bits_to_level_set, load
from .presets import qnn_admm_params
from .admm.activations import ACTIVATIONS

#: The ternary methods of the other sources (docs/baselines.md, "Ternary methods"):
#: ternary with ``--bits 1`` or ``--levels ternary``; admm-ternary and md-* also ``--levels binary``.
TERNARY_METHODS = ("twn", "ttq", "admm-ternary", "md-tanh", "md-softmax", "md-tanh-s", "md-softmax-s")
METHODS = ("qnn-admm", "fp", "ptq", "ste", "dq", "qat", "lq") + TERNARY_METHODS + ("budget",)
#: Methods that start from an FP network: a saved one (``--from``), else one trained first.
FROM_METHODS = ("ptq", "lq", "dq", "qat", "ste") + TERNARY_METHODS + ("budget",)
#: Options of some backprop methods' later stages: argument -> (the methods that take it, their
#: keyword, the keyword's value from the argument's).
STAGE_OPTIONS = {"finetune_epochs": (("budget", "admm-ternary"), "finetune_epochs", lambda v: v),
                 "retrain_epochs": (("budget",), "retrain_epochs", lambda v: v),
                 "prune_epochs": (("budget",), "prune_epochs", lambda v: v),
                 "finetune_codes": (("budget",), "finetune_recode", lambda v: v == "recode"),
                 "distill": (("budget",), "distill", lambda v: v),
                 "distill_teachers": (("budget",), "distill_teachers", lambda v: v)}
#: Datasets whose rows are images, and their (C, H, W): what a convolutional --arch needs.
IMAGE_SHAPES = {"mnist": (1, 28, 28)}
_BITS_HELP = ("quantization bits N, or 'fp' for full precision. With --levels thesis (the default) "
              "N bits means the thesis's level set, the integers -(2^N-1)..2^N-1 times a scale: "
              "its 1 bit is ternary {-1,0,1} and its 8 bits need 9 bits of storage, exactly as in "
              "the thesis tables. --levels signed gives a true N-bit signed set.")


def _flag(dest: str) -> str:
    """The command-line spelling of argument ``dest`` (``finetune_epochs`` -> ``--finetune-epochs``)."""
    return "--" + dest.replace("_", "-")


def _parse_bits(text: str):
    if text.lower() in ("fp", "none", "float"):
        return "fp"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--bits must be an integer or 'fp', got {text!r}") from None


def _blas_threads_arg(text: str):
    """--blas-threads: "auto", "none" (kept as the word: None is "not given") or a positive int."""
    word = text.strip().lower()
    if word in ("auto", "none"):
        return word
    try:
        n = int(word)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, 'auto' or 'none', got {text!r}")
    return n


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
    t.add_argument("--dataset", default=None, choices=DATASETS,
                   help="a bundled dataset (or give your own file with --data)")
    t.add_argument("--data", metavar="TRAIN_FILE", default=None,
                   help="train on your own file instead of --dataset: .csv/.tsv (header line; the target "
                        "is the last column unless --target), .npz (arrays X, y) or .svm/.libsvm; "
                        "features are standardised with the training rows' mean/std, stored in the model")
    t.add_argument("--test", metavar="TEST_FILE", default=None,
                   help="with --data: the test rows (default: a stratified 20%% split of --data, "
                        "seeded by --split-seed)")
    t.add_argument("--target", default=None, metavar="COLUMN",
                   help="with --data: the CSV target column, a header name or 0-based index (default: last)")
    t.add_argument("--no-standardise", dest="standardise", action="store_false",
                   help="with --data: leave the features as they are (no input standardisation)")
    t.add_argument("--method", default="qnn-admm", choices=METHODS)
    t.add_argument("--bits", type=_parse_bits, default="fp", help=_BITS_HELP + " Default: fp.")
    t.add_argument("--levels", default="thesis", choices=("thesis", "signed", "binary", "ternary"),
                   help="level set (default: thesis; see --bits)")
    t.add_argument("--granularity", default="layer", choices=("layer", "row"),
                   help="one scale per layer (thesis, default) or per output row")
    t.add_argument("--hidden", type=_parse_hidden, default=None,
                   help="hidden widths, e.g. 200,200 (default: the thesis topology of the dataset)")
    t.add_argument("--arch", default=None, choices=ARCH_NAMES,
                   help="backprop methods: the network, mlp (the --hidden layers, default) or a convolutional "
                        "one on the 28x28 images (lenet5: conv 32-64, dense 512; lenet5-caffe: conv 20-50, "
                        "dense 500; docs/cnn.md)")
    t.add_argument("--budget", default=None, metavar="SIZE",
                   help="--method budget (docs/budget.md): the model-size budget of the weights, a compression "
                        "rate over 32-bit weights (2000x), bytes (800B, 12KB, 12KiB), bits per weight (0.5bpw) "
                        "or bits (6888bits); the method picks every layer's sparsity and bit width")
    t.add_argument("--bit-choices", type=int, nargs="+", default=None, metavar="B",
                   help="--budget: the candidate bit widths of every layer (default 1 2 3 4 5 6 7 8)")
    t.add_argument("--quantizer", default=None, choices=("kmeans", "uniform"),
                   help="--budget: non-uniform (k-means, exact 1-D DP; default) or uniform levels")
    t.add_argument("--iters", type=int, default=None, help="ADMM iterations (default: the dataset preset)")
    t.add_argument("--epochs", type=int, default=None,
                   help="backprop methods: epochs of the FP training stage (default: the preset)")
    t.add_argument("--lr", type=float, default=None, help="backprop methods: learning rate (default: preset)")
    t.add_argument("--finetune-epochs", type=int, default=None, metavar="N",
                   help="budget and admm-ternary: epochs of fine-tuning after the ADMM stage with the "
                        "structure it chose fixed (budget: kept positions and widths; admm-ternary: the codes); "
                        "default: the preset's")
    t.add_argument("--retrain-epochs", type=int, default=None, metavar="N",
                   help="budget: epochs of retraining the kept weights at full precision with the structure "
                        "fixed, pulled to their quantized values by ADMM, before the fine-tuning; "
                        "default: the preset's")
    t.add_argument("--prune-epochs", type=int, default=None, metavar="N",
                   help="budget: epochs of gradual pruning before the ADMM stage, the budget falling from the "
                        "dense size to --budget (0: the source's protocol); default: the preset's")
    t.add_argument("--finetune-codes", choices=("keep", "recode"), default=None,
                   help="budget: the fine-tuning keeps the codes of its first epoch and trains only their "
                        "values and the biases (keep), or chooses the codes again every epoch (recode); "
                        "default: the preset's (MLPs recode, LeNet-5 keeps)")
    t.add_argument("--distill", type=float, default=None, metavar="W",
                   help="budget: weight in [0, 1) of distillation from the FP network in the stages after it "
                        "(loss (1 - W) CE + W T^2 KL to the FP network's softened outputs, T = 4); "
                        "default: the preset's")
    t.add_argument("--distill-teachers", type=int, default=None, metavar="N",
                   help="budget: the distillation teacher is the mean logits of N FP networks, the one the "
                        "method starts from and N - 1 more (--teachers, else trained first with seeds "
                        "seed + 1000 k); default: the preset's (1)")
    t.add_argument("--teachers", nargs="+", metavar="FP_MODEL.npz", default=None,
                   help="budget: saved FP models of the same network that join the --from (or first-trained) "
                        "FP network in the distillation teacher (sets --distill-teachers to their number + 1)")
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
    t.add_argument("--activation", default=None, choices=tuple(ACTIVATIONS),
                   help="hidden activation (default: the preset's; relu, leaky_relu for Seeds at 1 bit)")
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
    t.add_argument("--layerwise-rho", type=float, default=None, metavar="R",
                   help="qnn-admm: the layerwise quantizer's starting penalty, relative to a layer's Gram matrix "
                        "(default: the preset's, 1e-3 for 1-bit level sets, else 1e-2)")
    t.add_argument("--layerwise-iter", type=int, default=None, metavar="N",
                   help="qnn-admm: the layerwise quantizer's ADMM iterations per layer "
                        "(default: the preset's, 60 for Seeds at 1 bit, else 30)")
    t.add_argument("--layerwise-equalize", choices=("max", "l2", "none"), default=None,
                   help="qnn-admm: cross-layer equalization of the FP network before the layerwise quantizer "
                        "(default: the preset's, max on Pendigits, else none; docs/quantized_training.md)")
    t.add_argument("--n-init", type=int, default=None, metavar="N",
                   help="qnn-admm: train from N initialisations (seeds --seed, --seed + 1, ...) and keep the "
                        "network with the lowest training loss (default: the preset's, 5 for 1- and 2-bit runs "
                        "on Seeds, Pendigits and data under 20,000 rows (Seeds at 1 bit: 10), else 1)")
    t.add_argument("--blas-threads", type=_blas_threads_arg, default=None, metavar="N|auto|none",
                   help="qnn-admm: BLAS threads of the fit (default auto: one for fits with restarts and "
                        "for small data such as Seeds and Pendigits, so the result does not depend on the "
                        "machine's thread count; none: the process's setting)")
    t.add_argument("--w-solver", choices=("exact", "backtracking"), default=None)
    t.add_argument("--a-solver", choices=("exact", "backtracking"), default=None)
    t.add_argument("--save", metavar="MODEL.npz", help="save the trained model (atomic write)")
    t.add_argument("--json", metavar="RESULT.json", help="write the result record as JSON")
    t.add_argument("--checkpoint", metavar="STATE.npz",
                   help="save the solver state every few iterations and on Ctrl-C; "
                        "if the file exists, resume from it")
    t.add_argument("--workers", type=int, default=None, metavar="N",
                   help="qnn-admm: train data-parallel on a Dask LocalCluster of N worker processes started "
                        "here (pip install 'admmnet[dask]'; docs/distributed.md)")
    t.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="qnn-admm: train data-parallel on the workers of an existing Dask cluster")
    t.add_argument("--dry-run", action="store_true",
                   help="qnn-admm: print the solver's memory estimate (total and per worker) and stop")
    t.add_argument("--data-dir", default=None, help="dataset folder (default: $ADMMNET_DATA, then data/)")
    t.add_argument("--quiet", action="store_true",
                   help="no per-iteration progress (default: a progress bar when stderr is a terminal "
                        "and tqdm is installed, else one line per iteration)")

    e = sub.add_parser("evaluate", help="print the test accuracy of a saved model")
    e.add_argument("model", help="a model file written by 'admmnet train --save'")
    e.add_argument("--dataset", default=None, choices=DATASETS,
                   help="default: the dataset the model file records (models saved by 'admmnet train')")
    e.add_argument("--data", metavar="FILE", default=None,
                   help="score the model on your own labelled file (.csv/.npz/.svm, as 'train --data')")
    e.add_argument("--target", default=None, metavar="COLUMN", help="with --data: the CSV target column")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", choices=PENDIGITS_SPLITS, default=None,
                   help="pendigits: default the split the model file records (else writer-independent)")
    e.add_argument("--split-seed", type=int, default=None,
                   help="Seeds, writer-dependent Pendigits: default the split seed the model file records; "
                        "another one warns (its test rows may overlap the training rows)")
    e.add_argument("--json", metavar="RESULT.json")

    pr = sub.add_parser("predict", help="predict the labels of the rows of a file",
                        description="Write one predicted label per row of FILE (raw features: a model "
                                    "trained with --data standardises them itself).")
    pr.add_argument("model", help="a model file written by 'admmnet train --save'")
    pr.add_argument("--data", metavar="FILE", required=True,
                    help=".csv/.tsv (header line; a target column, if present, is ignored), .npz (array X) "
                         "or .svm/.libsvm")
    pr.add_argument("--target", default=None, metavar="COLUMN",
                    help="the CSV column to leave out as the target (default: the last column when the "
                         "file has one column more than the model's features)")
    pr.add_argument("--out", metavar="PREDICTIONS.csv", default=None,
                    help="write a CSV (column 'label', one row per input row); default: print to stdout")
    pr.add_argument("--proba", action="store_true", help="add one probability column per class")

    x = sub.add_parser("export", help="export a saved model (ONNX, checked with onnxruntime when installed)")
    x.add_argument("model", help="a model file written by 'admmnet train --save'")
    x.add_argument("--format", default="onnx", choices=("onnx",))
    x.add_argument("-o", "--output", required=True, metavar="MODEL.onnx")
    x.add_argument("--weight-type", default="auto", choices=("auto", "int8"),
                   help="integer type of the quantized weights: the smallest that holds the codes "
                        "(int2/int4/int8/int16; default) or at least int8 (older runtimes)")
    x.add_argument("--no-check", action="store_true", help="do not run the exported graph in onnxruntime")

    pl = sub.add_parser("plot", help="plot training curves of result JSON files (needs matplotlib)")
    pl.add_argument("results", nargs="+", metavar="RESULT.json", help="files written by 'admmnet train --json'")
    pl.add_argument("-o", "--output", required=True, metavar="CURVES.png")
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


def _build_qnn_admm(args, bits, shape=None):
    quantized = bits is not None or args.levels in ("binary", "ternary")
    from .presets import auto_params

    # the level set's largest code picks the quantized preset's restarts and layerwise_rho
    # (admmnet.presets.N_INIT, LAYERWISE_RHO), as QNNADMM.resolved_params does
    qmax = None
    if quantized:
        try:
            qmax = _bits_to_level_set(bits, args.levels).qmax
        except (TypeError, ValueError):     # a bad level set: the estimator says what is wrong
            qmax = None
    if args.dataset is None:     # own data: the automatic preset of the data's shape
        kw = auto_params(*shape, "q" if quantized else None, qmax=qmax)
    else:
        kw = qnn_admm_params(args.dataset, "q" if quantized else None, qmax=qmax)
    if args.budget is not None:         # the budget's own schedule (QNNADMM.BUDGET_ITERS, docs/budget.md)
        if quantized:
            raise ValueError("give either --bits or --budget: a budget picks every layer's bit width itself")
        kw = qnn_admm_params(args.dataset, "q") if args.dataset is not None else auto_params(*shape, "q")
        for k in ("layerwise", "fp_iter", "max_iter"):
            kw.pop(k, None)
        kw.update(budget=args.budget, **{k: v for k, v in (("bit_choices", args.bit_choices and
                                                                  tuple(args.bit_choices)),
                                                                 ("quantizer", args.quantizer)) if v is not None})
    elif args.bit_choices is not None or args.quantizer is not None:
        raise ValueError("--bit-choices and --quantizer apply with --budget")
    if args.hidden is not None:
        kw["hidden_sizes"] = args.hidden
    if args.iters is not None:
        kw["max_iter"] = args.iters
        if args.fp_iter is None and "fp_iter" in kw:    # the FP phase stays the whole run
            kw["fp_iter"] = args.iters
    for name in ("beta", "gamma", "mu", "penalty_growth", "mu_growth", "ridge", "momentum", "layer_scale",
                 "w_solver", "a_solver", "fp_iter", "layerwise", "layerwise_rho", "layerwise_iter",
                 "layerwise_equalize", "n_init", "blas_threads", "activation"):
        v = getattr(args, name)
        if v is not None:
            kw[name] = None if (name, v) == ("blas_threads", "none") else v     # --blas-threads none: None
    return QNNADMM(bits=bits, levels=args.levels, granularity=args.granularity, seed=args.seed,
                   preset=args.dataset or "auto",
                   dtype=args.dtype, device=args.device, bias=not args.no_bias,
                   verbose=not args.quiet, **kw)


def _own_data_preset(shape) -> tuple[str, tuple[int, ...]]:
    """Own data, backprop methods: the settings of the bundled dataset of the same size class
    (as :func:`admmnet.presets.auto_params` picks them: under 1,000 rows Seeds', under 20,000
    Pendigits', else MNIST's) and the automatic preset's hidden widths."""
    from .presets import auto_params

    n = shape[0]
    like = "seeds" if n < 1000 else "pendigits" if n < 20000 else "mnist"
    return like, tuple(auto_params(*shape)["hidden_sizes"])


def _build_baseline(args, bits, shape=None):
    from . import baselines as B

    for name in ("beta", "gamma", "mu", "penalty_growth", "mu_growth", "ridge", "layer_scale", "w_solver",
                 "a_solver", "iters", "checkpoint", "fp_iter", "layerwise", "layerwise_rho", "layerwise_equalize"):
        if getattr(args, name) is not None:
            raise ValueError(f"--{name.replace('_', '-')} applies to --method qnn-admm only")
    if getattr(args, "device", "auto") == "gpu":
        raise ValueError("--device gpu applies to --method qnn-admm; the backprop baselines run on the CPU")
    if args.from_model is not None and args.method not in FROM_METHODS:
        raise ValueError(f"--from applies to --method {', '.join(FROM_METHODS)}, not {args.method}")
    arch = args.arch or "mlp"
    if args.hidden is not None and arch != "mlp":
        raise ValueError(f"--hidden applies to --arch mlp, not {arch}")
    if args.dataset is None:
        like, hidden = _own_data_preset(shape)
        kw = baseline_params(args.method, like, bits, arch=arch)
        kw["hidden_sizes"] = hidden
    else:
        kw = baseline_params(args.method, args.dataset, bits, arch=arch)
    if args.hidden is not None:
        kw["hidden_sizes"] = args.hidden
    if args.epochs is not None:
        kw["max_epochs"] = args.epochs
    if args.lr is not None:
        kw["lr"] = args.lr
    if args.momentum is not None:
        kw["momentum"] = args.momentum
    for dest, (methods, key, value) in STAGE_OPTIONS.items():
        if getattr(args, dest) is not None:
            if args.method not in methods:
                raise ValueError(f"{_flag(dest)} applies to --method {' and '.join(methods)}, not {args.method}")
            kw[key] = value(getattr(args, dest))
    common = dict(seed=args.seed, dtype=args.dtype, bias=not args.no_bias, verbose=not args.quiet)
    if args.activation is not None:     # else the estimator's own (the ReLU), as for QNN-ADMM's preset
        common["activation"] = args.activation
    if args.method == "budget":
        if bits is not None:
            raise ValueError("--method budget picks every layer's bit width itself: leave out --bits "
                             "(candidates: --bit-choices)")
        if args.budget is None:
            raise ValueError("--method budget needs --budget SIZE (e.g. 2000x, 800B, 12KB, 0.5bpw)")
        budget_kw = {k: v for k, v in (("bit_choices", args.bit_choices and tuple(args.bit_choices)),
                                       ("quantizer", args.quantizer)) if v is not None}
        return B.Budget(budget=args.budget, **budget_kw, **common, **kw)
    if args.budget is not None or args.bit_choices is not None or args.quantizer is not None:
        raise ValueError("--budget, --bit-choices and --quantizer apply to --method budget")
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


def _check_arch(args) -> None:
    """Refuse a convolutional --arch where it cannot run (before any data is read)."""
    if args.arch in (None, "mlp"):
        return
    if args.method == "qnn-admm":
        raise ValueError(f"--method qnn-admm trains MLPs only (--arch mlp); --arch {args.arch} applies to "
                         f"the backprop methods ({', '.join(m for m in METHODS if m != 'qnn-admm')})")
    if args.dataset is not None and args.dataset not in IMAGE_SHAPES:
        raise ValueError(f"--arch {args.arch} needs images; {args.dataset} has flat feature rows "
                         f"(datasets with images: {', '.join(IMAGE_SHAPES)})")


def _check_outputs(args, names) -> None:
    """Every output path is checked before any work starts (a typo must not cost a training run)."""
    from .io import check_writable

    for name in names:
        path = getattr(args, name, None)
        if path is not None:
            check_writable(path, f"--{name}")


def _write_or_rescue(what: str, path, write) -> bool:
    """``write(path)``; when that fails at the end of a run (disk full, folder removed), write
    to a rescue file in the working folder or the temp folder instead and say where.
    Returns whether the requested path was written."""
    import os
    import tempfile

    try:
        write(path)
        return True
    except OSError as exc:
        name = Path(path).name or "result"
        for folder in (Path.cwd(), Path(tempfile.gettempdir())):
            rescue = folder / f"admmnet-rescued-{os.getpid()}-{name}"
            try:
                write(rescue)
            except OSError:
                continue
            print(f"admmnet: error: could not write the {what} to {path} ({exc.strerror or exc}); "
                  f"it was saved to {rescue} instead", file=sys.stderr)
            return False
        print(f"admmnet: error: could not write the {what} to {path} ({exc.strerror or exc}), "
              "nor to a rescue file in the working or temp folder", file=sys.stderr)
        return False


class _OwnData:
    """``train --data``: the rows of the user's file(s), raw and (for fitting) standardised."""

    def __init__(self, args):
        from .datasets.files import apply_standardisation, fit_standardisation, load_file
        from .datasets._preprocess import stratified_split

        train = load_file(args.data, target=args.target)
        if args.test is not None:
            test = load_file(args.test, target=args.target, n_features=train.X.shape[1])
            X_tr, y_tr, X_te, y_te = train.X, train.y, test.X, test.y
            self.split = f"files {Path(args.data).name} / {Path(args.test).name}"
        else:
            try:
                tr, te = stratified_split(train.y, 0.2, args.split_seed)
            except ValueError as exc:
                raise ValueError(f"{args.data}: cannot split off a test part ({exc}); give --test") from None
            X_tr, y_tr, X_te, y_te = train.X[tr], train.y[tr], train.X[te], train.y[te]
            self.split = f"stratified 80/20 of {Path(args.data).name}, seed {args.split_seed}"
        if y_te.dtype.kind != y_tr.dtype.kind:      # e.g. "1"/"2" in one file, "a"/"b" in the other
            y_tr, y_te = y_tr.astype(str), y_te.astype(str)
        unseen = sorted(set(np.unique(y_te).tolist()) - set(np.unique(y_tr).tolist()))
        if unseen:
            raise ValueError(f"{args.test or args.data}: test label(s) {unseen[:5]} do not occur in the "
                             "training rows")
        self.name = Path(args.data).name
        self.X_raw, self.y_train, self.X_test, self.y_test = X_tr, y_tr, X_te, y_te
        self.n_features = X_tr.shape[1]
        self.n_classes = int(np.unique(y_tr).size)
        self.target = train.target
        if args.standardise:
            self.mean, self.scale = fit_standardisation(X_tr)
            self.X_fit = apply_standardisation(X_tr, self.mean, self.scale, args.dtype)
        else:
            self.mean = self.scale = None
            self.X_fit = X_tr.astype(args.dtype)

    def record(self, args) -> dict:
        return {"train": str(args.data), "test": None if args.test is None else str(args.test),
                "target": self.target, "split_seed": None if args.test else args.split_seed,
                "standardised": self.mean is not None}


def _progress_callback(args):
    """``admmnet train``'s progress for qnn-admm: a tqdm bar (iteration, objective, train/val
    accuracy, ETA) when stderr is a terminal and tqdm is installed; None otherwise (then the
    estimator's ``verbose`` lines, or nothing with --quiet)."""
    if args.quiet or args.method != "qnn-admm" or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    bar = []

    def callback(model, rec):
        if not bar:
            total = int(getattr(model, "params_", {}).get("max_iter") or 0) or None
            bar.append(tqdm(total=total, initial=rec["iteration"] - 1, unit="it", desc="qnn-admm",
                            file=sys.stderr, dynamic_ncols=True, leave=True))
        post = {"obj": f"{rec['objective']:.3e}", "train": f"{rec['train_accuracy']:.4f}"}
        if rec.get("val_accuracy") is not None:
            post["val"] = f"{rec['val_accuracy']:.4f}"
        bar[0].set_postfix(post, refresh=False)
        bar[0].update(1)

    callback.close = lambda: bar and bar[0].close()
    return callback


def cmd_train(args) -> int:
    _check_arch(args)
    _check_outputs(args, ("save", "json", "checkpoint"))
    own = None
    if (args.dataset is None) == (args.data is None):
        raise ValueError("give either --dataset NAME or --data FILE (your own data)")
    if args.data is None:
        for name in ("test", "target"):
            if getattr(args, name) is not None:
                raise ValueError(f"--{name} applies to --data (your own file)")
        augment = augment_copies(args.method, args.dataset) if args.augment is None else args.augment
        if augment < 0:
            raise ValueError(f"--augment must be >= 0, got {augment}")
        ds = load_dataset(args.dataset, data_home=args.data_dir, dtype=args.dtype, split=args.split,
                          split_seed=args.split_seed, augment=augment, augment_seed=args.seed)
        X_real, y_real = ds.original_train()
        X_fit, y_fit = ds.X_train, ds.y_train
    else:
        for name in ("split", "augment", "data_dir"):
            if getattr(args, name) is not None:
                raise ValueError(f"--{name.replace('_', '-')} applies to --dataset, not to --data")
        augment = 0
        ds = own = _OwnData(args)
        X_real, y_real = own.X_raw, own.y_train
        X_fit, y_fit = own.X_fit, own.y_train
    shape = (int(X_fit.shape[0]), int(X_fit.shape[1]), int(np.unique(y_fit).size))
    bits = None if args.bits == "fp" else args.bits
    progress = _progress_callback(args)
    if args.method == "qnn-admm":
        backprop_only = {"--from": args.from_model, "--teachers": args.teachers, "--epochs": args.epochs,
                         "--lr": args.lr, **{_flag(d): getattr(args, d) for d in STAGE_OPTIONS}}
        if any(v is not None for v in backprop_only.values()):
            *first, last = backprop_only
            raise ValueError(f"{', '.join(first)} and {last} apply to the backprop methods, not qnn-admm")
        model = _build_qnn_admm(args, bits, shape)
        fit_kw = {"checkpoint": args.checkpoint}
        if progress is not None:
            model.verbose = False
            fit_kw["callback"] = progress
    else:
        model = _build_baseline(args, bits, shape)
        fit_kw = {}
        if args.from_model is not None:
            fit_kw["fp_model"] = load(args.from_model)
            fp_net = getattr(fit_kw["fp_model"], "network_", None)
            fp_arch = None if fp_net is None or fp_net.arch is None else fp_net.arch.get("name") or "layer-list"
            if fp_arch is not None and fp_arch != (args.arch or "mlp"):
                raise ValueError(f"{args.from_model} holds a {fp_arch} network: pass --arch {fp_arch}")
            if args.hidden is None and fp_net is not None and fp_net.arch is None:
                model.hidden_sizes = tuple(fp_net.layer_sizes[1:-1])
        if args.teachers is not None:
            if args.method != "budget":
                raise ValueError(f"--teachers applies to --method budget, not {args.method}")
            fit_kw["teacher_models"] = [load(path) for path in args.teachers]
            if args.distill_teachers is None:
                model.distill_teachers = len(args.teachers) + 1
    if args.method != "qnn-admm" and (args.workers is not None or args.scheduler is not None or args.dry_run):
        raise ValueError("--workers, --scheduler and --dry-run apply to --method qnn-admm")
    if args.dry_run:
        return _dry_run(args, model, shape)
    cluster = _dask_client(args)
    if cluster is not None:
        fit_kw["client"] = cluster[-1]
    int8 = args.method in ("dq", "qat")
    bits_out = 8 if int8 else bits
    levels_out = "int8" if int8 else args.levels
    granularity_out = "row" if int8 else args.granularity
    desc = (f"budget {args.budget}" if args.budget is not None else "full precision" if bits_out is None else
            "int8 weights per row, int8 activations per batch" if int8 else f"{bits} bits ({args.levels} levels)")
    n_train = f"{X_real.shape[0]} train" + (f" + {ds.n_augmented} augmented" if getattr(ds, "n_augmented", 0) else "")
    net_desc = (f"layers {[ds.n_features, *model.hidden_sizes, ds.n_classes]}" if args.arch in (None, "mlp")
                else f"arch {args.arch}")
    print(f"admmnet: {args.method} on {ds.name} ({n_train} / {ds.X_test.shape[0]} test), "
          f"{net_desc}, {desc}, seed {args.seed}"
          + (f", from {args.from_model}" if args.from_model else ""), file=sys.stderr)
    t0 = time.perf_counter()
    try:
        if args.method == "qnn-admm" and X_fit.shape[0] > X_real.shape[0] and model._separate_fp_phase():
            # augmented rows (Pendigits): the FP phase of every initialisation trains on them, the
            # quantizer and any quantized iterations on the real rows (admmnet.presets.AUGMENT).
            # A budgeted fit, whose FP phase is not a fit of its own, trains on the augmented rows
            # throughout, as an FP fit does.
            model.fit(X_real, y_real, fp_data=(X_fit, y_fit), **fit_kw)
            if model.history_.stop in ("interrupted", "diverged") and model.network_.level_set is None:
                print(f"the FP phase stopped ({model.history_.stop}): the model is the FP network so far"
                      + ("; rerun with the same --checkpoint to resume" if args.checkpoint else ""),
                      file=sys.stderr)
        else:
            model.fit(X_fit, y_fit, **fit_kw)
    finally:
        if progress is not None:
            progress.close()
        for c in reversed(cluster or ()):
            c.close()
    history = model.history_
    final = getattr(history, "final", None)
    if progress is not None and final:      # the line verbose=True prints after the iterations
        print(f"{final['stage']}: train={final['train_accuracy']:.4f}  {final['seconds']:.2f}s", file=sys.stderr)
    seconds = time.perf_counter() - t0
    if own is not None and own.mean is not None:     # predict takes raw features from now on
        from .network import with_standardisation

        with_standardisation(model, own.mean, own.scale)
    train_acc = model.score(X_real, y_real)
    test_acc = model.score(ds.X_test, ds.y_test)
    n_it = len(history)
    unit = "iterations" if args.method == "qnn-admm" else "epochs/stages"
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f}  "
          f"({n_it} {unit}, {seconds:.1f} s)" + ("  [interrupted]" if history.interrupted else ""))
    model.data_ = ({"dataset": args.dataset, "split": args.split, "split_seed": args.split_seed} if own is None
                   else {"dataset": None, "files": own.record(args)})
    ok = True
    if args.save:
        if _write_or_rescue("model", args.save, model.save):
            print(f"saved model to {args.save}", file=sys.stderr)
        else:
            ok = False
    compression = _compression(args, model)
    if args.json:
        it_seconds = [r["seconds"] for r in history]
        record = {
            "dataset": args.dataset if own is None else own.name, "method": args.method, "bits": _bits_json(bits_out),
            "levels": levels_out, "granularity": granularity_out, "seed": args.seed,
            "iterations": model.n_iter_, "train_accuracy": train_acc, "test_accuracy": test_acc,
            "seconds": seconds,
            "seconds_per_iteration": float(np.mean(it_seconds)) if it_seconds else None,
            "storage_bits_per_weight": model.storage_bits_per_weight, "model_bytes": model.model_bytes,
            "layer_sizes": list(model.layer_sizes_), "arch": args.arch or "mlp", "split": ds.split,
            "split_seed": args.split_seed,
            "augment": augment, "augmentation": augmentation_record(augment),
            "stop": history.stop, "from": args.from_model,
            "data": None if own is None else own.record(args),
            "params": model.json_params(), "n_init": (getattr(model, "params_", None) or {}).get("n_init", 1),
            "best_init": getattr(model, "best_init_", None), "blas_threads": getattr(model, "blas_threads_", None),
            "init_losses": getattr(model, "init_losses_", None),
            "command": " ".join(sys.argv), "environment": environment(),
            "history": list(history),
        }
        if compression is not None:
            record["compression"] = compression
        ok = _write_or_rescue("result JSON", args.json, lambda p: write_json(p, record)) and ok
    if history.interrupted:
        return 130
    return 0 if ok else 1


def _compression(args, model):
    """A budget-compressed model's sizes (read back from the saved file when there is one), printed."""
    if not hasattr(model, "compression_report") or not any(
            layer.compressed is not None for layer in model.network_.layers):
        return None
    rep = model.compression_report(args.save if args.save and Path(args.save).is_file() else None)
    print(f"size: {rep['weight_bits']} weight bits = {rep['compression']:.1f}x smaller than float32 "
          f"({100 * rep['nz_fraction']:.2f}% non-zero, {rep['avg_bits']:.2f} bits each; per layer bits "
          f"{[r['bits'] for r in rep['layers']]}); with positions, codebooks and biases {rep['model_bytes']} "
          f"bytes ({rep['compression_total']:.1f}x)"
          + (f", file {rep['file_bytes']} bytes" if "file_bytes" in rep else ""))
    return rep


def _dask_client(args):
    """``(cluster, client)`` for ``--workers N`` (a LocalCluster started here), ``(client,)`` for
    ``--scheduler ADDRESS``, None for neither."""
    if args.workers is None and args.scheduler is None:
        return None
    if args.workers is not None and args.scheduler is not None:
        raise ValueError("give --workers N (a local cluster) or --scheduler ADDRESS (an existing one), not both")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--workers and --scheduler need Dask: pip install 'admmnet[dask]'") from None
    if args.scheduler is not None:
        client = Client(args.scheduler)
        print(f"admmnet: Dask cluster at {args.scheduler}, {len(client.scheduler_info()['workers'])} worker(s)",
              file=sys.stderr)
        return (client,)
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=threads, processes=True,
                           dashboard_address=":0")
    print(f"admmnet: Dask LocalCluster of {args.workers} worker process(es), {threads} thread(s) each; "
          f"dashboard {cluster.dashboard_link}", file=sys.stderr)
    return (cluster, Client(cluster))


def _dry_run(args, model, shape) -> int:
    """``admmnet train --dry-run``: the memory the solver state would take, in total and per
    worker, against the memory available here; no training."""
    from .dask_fit import dry_run_report
    from .memory import format_bytes

    hidden = model.hidden_sizes if model.hidden_sizes is not None else model.resolved_params(*shape)["hidden_sizes"]
    sizes = (shape[1], *hidden, shape[2])
    workers = args.workers or 1
    rep = dry_run_report(shape[0], sizes, args.dtype, workers)
    avail = rep["available_bytes"]
    print(f"QNN-ADMM solver state for {shape[0]} samples, layers {list(sizes)}, {args.dtype}: "
          f"{format_bytes(rep['bytes_per_sample'])} per sample, {format_bytes(rep['bytes_total'])} in total"
          + (f", {format_bytes(rep['bytes_per_worker'])} per worker ({workers} workers)" if workers > 1 else ""))
    if avail is not None:
        fits = rep["bytes_per_worker"] <= avail
        print(f"available memory here: {format_bytes(avail)}: "
              + ("fits" if fits else f"does NOT fit: use --workers {-(-rep['bytes_total'] // avail) + 1} "
                 "(or --scheduler) to spread the rows"))
    if args.json:
        write_json(args.json, dict(rep, command=" ".join(sys.argv)))
    return 0


def _model_file_data(args, model, *, require_target):
    from .datasets.files import load_file

    return load_file(args.data, target=args.target, require_target=require_target,
                     n_features=int(model.n_features_in_))


def cmd_evaluate(args) -> int:
    _check_outputs(args, ("json",))
    model = load(args.model)
    if args.data is not None:
        if args.dataset is not None:
            raise ValueError("give either --dataset or --data, not both")
        fd = _model_file_data(args, model, require_target=True)
        y = fd.y
        if y.dtype.kind in "iu" and model.classes_.dtype.kind in "US":
            y = y.astype(str)
        try:
            acc = model.score(fd.X, y)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{args.data}: {exc}") from None
        print(f"accuracy {acc:.4f} on {fd.X.shape[0]} rows of {args.data}  ({getattr(model, 'method', '?')}, "
              f"{model.storage_bits_per_weight:.4g} bits/weight, {model.model_bytes} bytes)")
        if args.json:
            record = {"model": args.model, "method": getattr(model, "method", None), "data": str(args.data),
                      "target": fd.target, "n_rows": int(fd.X.shape[0]), "test_accuracy": acc,
                      "storage_bits_per_weight": model.storage_bits_per_weight, "model_bytes": model.model_bytes}
            if not _write_or_rescue("result JSON", args.json, lambda p: write_json(p, record)):
                return 1
        return 0
    data = getattr(model, "data_", None) or {}
    dataset = args.dataset if args.dataset is not None else data.get("dataset")
    if dataset is None:
        if isinstance(data.get("files"), dict):
            raise ValueError(f"{args.model} was trained on your own file {data['files'].get('train')}: "
                             "give --data FILE (labelled rows) to score it")
        raise ValueError(f"{args.model} does not record its dataset (saved from Python): give --dataset")
    split = args.split if args.split is not None else (data.get("split") if dataset == data.get("dataset") else None)
    split_seed = args.split_seed if args.split_seed is not None else (
        data.get("split_seed", 0) if dataset == data.get("dataset") else 0)
    if data and (dataset, split, split_seed) != (data.get("dataset"), data.get("split"), data.get("split_seed")) \
            and dataset == data.get("dataset"):
        print(f"admmnet: warning: {args.model} was trained on {data.get('dataset')} split "
              f"{data.get('split')!r} with split seed {data.get('split_seed')}; testing on split {split!r} "
              f"with split seed {split_seed} may score rows it was trained on", file=sys.stderr)
    ds = load_dataset(dataset, data_home=args.data_dir, dtype=model.network_.dtype, split=split,
                      split_seed=split_seed)
    acc = model.score(ds.X_test, ds.y_test)
    print(f"test accuracy {acc:.4f}  ({getattr(model, 'method', '?')}, "
          f"{model.storage_bits_per_weight:.4g} bits/weight, {model.model_bytes} bytes)")
    if args.json:
        record = {"model": args.model, "method": getattr(model, "method", None),
                  "dataset": dataset, "split": ds.split, "split_seed": split_seed, "test_accuracy": acc,
                  "storage_bits_per_weight": model.storage_bits_per_weight,
                  "model_bytes": model.model_bytes}
        if not _write_or_rescue("result JSON", args.json, lambda p: write_json(p, record)):
            return 1
    return 0


def cmd_predict(args) -> int:
    _check_outputs(args, ("out",))
    model = load(args.model)
    fd = _model_file_data(args, model, require_target=False)
    labels = model.predict(fd.X)
    proba = model.predict_proba(fd.X) if args.proba else None
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["label"] + ([f"p_{c}" for c in model.classes_.tolist()] if proba is not None else []))
    for i, lab in enumerate(labels.tolist()):
        w.writerow([lab] + ([f"{p:.6g}" for p in proba[i]] if proba is not None else []))
    text = buf.getvalue()
    if args.out is None:
        sys.stdout.write(text)
        return 0
    from .io import atomic_write

    if not _write_or_rescue("predictions", args.out, lambda p: atomic_write(p, lambda fh: fh.write(text.encode()))):
        return 1
    print(f"wrote {len(labels)} prediction(s) to {args.out}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    _check_outputs(args, ("output",))
    from .export import check_onnx, to_onnx

    model = load(args.model)
    info = to_onnx(model, args.output, weight_type=args.weight_type)
    print(f"wrote {args.output}: {info['bytes']} bytes, opset {info['opset']}, weights "
          f"{', '.join(info['weight_types'])} (float32 network of the same shape: "
          f"{info['float32_bytes']} bytes)", file=sys.stderr)
    if not args.no_check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print("admmnet: onnxruntime is not installed: the exported graph was not checked "
                  "(pip install onnxruntime)", file=sys.stderr)
            return 0
        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, int(model.n_features_in_)))
        if model.network_.input_mean is not None:
            X = X * model.network_.input_scale + model.network_.input_mean
        diff = check_onnx(model, args.output, X)
        print(f"checked in onnxruntime on 64 random rows: labels agree, max |probability difference| "
              f"{diff:.2e}", file=sys.stderr)
    return 0


def cmd_plot(args) -> int:
    _check_outputs(args, ("output",))
    from .plot import plot_results

    plot_results(args.results, args.output)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cmd = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "export": cmd_export,
               "plot": cmd_plot}[args.command]
        return cmd(args)
    except (DatasetError, CheckpointError, ValueError, TypeError, ImportError) as exc:
        print(f"admmnet: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:    # the memory guard's refusal (it says what to do)
        print(f"admmnet: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from .dask_fit import WorkerLostError

        if not isinstance(exc, WorkerLostError):
            raise
        print(f"admmnet: error: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:    # reading a file the checks above could not foresee
        print(f"admmnet: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
