"""Sizes of the exported ONNX graphs (admmnet.export) against a float32 network of the same shape.

For each thesis topology (Seeds [7,5,5,3], Pendigits [16,12,12,10], MNIST [784,200,200,10])
and each weight format (full precision; thesis levels 8, 4, 2 and 1 bits, per-layer scale;
2 bits per-row scales; the DQ/QAT int8-dynamic graph) this builds a network with random
codes and scales (a file's size depends on the shapes and integer types only, not on the
trained values), exports it and reports the .onnx bytes, the bytes of the float32 graph of
the same shape, their ratio, the integer type of the weights and admmnet's own packed
model size (``model_bytes``). No training; a few seconds. With onnxruntime installed every
graph is also run on 32 random rows and checked against ``predict_proba``.

    python benchmarks/onnx_sizes.py            # writes benchmarks/results/onnx_sizes/{summary.json,table.md}
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _runs import write_results  # noqa: E402

import admmnet  # noqa: E402
from admmnet import export  # noqa: E402
from admmnet.network import Layer, Network  # noqa: E402
from admmnet.presets import TOPOLOGIES  # noqa: E402
from admmnet.quant import make_level_set  # noqa: E402

SHAPES = {"seeds": (7, 3), "pendigits": (16, 10), "mnist": (784, 10)}
FORMATS = (("fp", None, "layer"), ("thesis 8 bits", 8, "layer"), ("thesis 4 bits", 4, "layer"),
           ("thesis 2 bits", 2, "layer"), ("thesis 2 bits, per row", 2, "row"), ("thesis 1 bit", 1, "layer"),
           ("int8-dynamic (DQ/QAT)", "int8", "row"))


def random_model(sizes, bits, granularity, rng):
    """A 'fitted' estimator holding a random network of layer sizes ``sizes``."""
    if bits == "int8":
        ls, inference = make_level_set("signed", 8), "int8-dynamic"
    else:
        ls, inference = (None if bits is None else make_level_set("thesis", bits)), "float"
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bias = (0.1 * rng.standard_normal((n_out, 1))).astype(np.float32)
        if ls is None:
            layers.append(Layer((n_out, n_in), weight=(rng.standard_normal((n_out, n_in))
                                                                / np.sqrt(n_in)).astype(np.float32),
                                bias=bias))
        else:
            codes = rng.integers(-ls.qmax, ls.qmax + 1, (n_out, n_in)).astype(ls.code_dtype)
            scale = (rng.uniform(0.5, 2.0, (n_out, 1) if granularity == "row" else ())
                     / (ls.qmax * np.sqrt(n_in))).astype(np.float32)     # weights of the order 1/sqrt(n_in)
            layers.append(Layer((n_out, n_in), codes=codes, scale=scale, bias=bias))
    model = admmnet.QNNADMM(tuple(sizes[1:-1]))
    model.network_ = Network(layers, level_set=ls, granularity=granularity, inference=inference)
    model.classes_ = np.arange(sizes[-1])
    model.n_features_in_ = sizes[0]
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "onnx_sizes")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        import onnxruntime  # noqa: F401
        check = True
    except ImportError:
        check = False
    rng = np.random.default_rng(0)
    rows = []
    tmp = args.out / "_tmp.onnx"
    args.out.mkdir(parents=True, exist_ok=True)
    for ds, (n_in, n_cls) in SHAPES.items():
        sizes = (n_in, *TOPOLOGIES[ds], n_cls)
        for name, bits, gran in FORMATS:
            model = random_model(sizes, bits, gran, rng)
            info = export.to_onnx(model, tmp)
            diff = export.check_onnx(model, tmp, rng.standard_normal((32, n_in))) if check else None
            rows.append({"dataset": ds, "layer_sizes": list(sizes), "format": name,
                         "weight_types": info["weight_types"], "opset": info["opset"], "onnx_bytes": info["bytes"],
                         "float32_onnx_bytes": info["float32_bytes"],
                         "ratio_to_float32": info["bytes"] / info["float32_bytes"],
                         "admmnet_model_bytes": model.model_bytes, "max_probability_difference": diff})
    tmp.unlink(missing_ok=True)
    lines = ["| dataset | layers | format | weights | opset | .onnx bytes | float32 .onnx bytes | ratio | "
             "admmnet model_bytes |", "|---|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['layer_sizes']} | {r['format']} | {', '.join(sorted(set(r['weight_types'])))} "
                     f"| {r['opset']} | {r['onnx_bytes']} | {r['float32_onnx_bytes']} | {r['ratio_to_float32']:.3f} "
                     f"| {r['admmnet_model_bytes']} |")
    table = "\n".join(lines) + "\n"
    import onnx

    summary = {"onnx": onnx.__version__, "checked_in_onnxruntime": check, "rows": rows}
    if check:
        import onnxruntime as ort

        summary["onnxruntime"] = ort.__version__
    write_results(args.out, summary, table, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
