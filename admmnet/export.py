"""Export a fitted admmnet model to ONNX, runnable in onnxruntime.

>>> import admmnet.export
>>> info = admmnet.export.to_onnx(model, "model.onnx")       # doctest: +SKIP
>>> admmnet.export.check_onnx(model, "model.onnx", X_test)   # doctest: +SKIP

The graph takes ``X`` (float32, n_rows x n_features, raw features when the model
stores an input standardisation) and has three outputs: ``label`` (int64, the index
of the predicted class into the model's ``classes_``, which the graph's metadata
``classes`` lists as JSON), ``probabilities`` (float32, softmax, columns in
``classes_`` order) and ``logits`` (float32).

Layout (docs/own_data_and_export.md):

* input standardisation, when the model has one: ``Sub(X, mean)``, ``Div(., scale)``;
* a full-precision layer: a float32 initializer ``W`` (n_out x n_in) and
  ``Gemm(a, W, b, transB=1)``;
* a quantized layer (float inference: QNN-ADMM, PTQ, QNN-STE, LQ): the integer
  codes as an initializer of the smallest ONNX integer type that holds them
  (INT2 for codes in {-1, 0, 1}, INT4 up to +-7, INT8 up to +-127, INT16 for the
  thesis's 8 bits, +-255), ``DequantizeLinear(codes, scale, axis=0)`` with the
  layer's scale (a scalar, or one per output row), then ``Gemm``. The dequantized
  weights are bit for bit admmnet's ``scale * codes`` (float32 products); a layer with a
  separate scale for its negative codes (TTQ) is two such initializers, ``max(Q, 0)`` and
  ``min(Q, 0)``, dequantized with their own scales and added;
* DQ and QAT (``inference="int8-dynamic"``): the integer path itself. The rows
  are taken in blocks of ``act_batch`` (256) as admmnet does (the last block
  padded with copies of its last row, which moves neither its minimum nor its
  maximum), every layer's input is quantized to uint8 per block with the same
  float operations as :func:`admmnet.quant.int8.int8_linear`, multiplied by the
  int8 codes with ``MatMulInteger`` (int32 accumulation; the activations' zero
  point is taken out with the codes' row sums) and rescaled. The codes are stored
  as UINT8 ``codes + 128`` with zero point 128 (one byte a weight, as int8):
  onnxruntime's uint8 x int8 kernel on x86 CPUs without VNNI adds pairs of
  products in int16 with saturation (255 * 127 * 2 > 32767) and gave wrong sums;
  uint8 x uint8 is exact. The logits are admmnet's int8-dynamic ones (the
  same integers and float operations: measured difference 0, tested to 1e-6), for
  any number of rows per call;
* activations ``Relu``, ``Clip(z, 0, 1)`` (hard sigmoid), ``LeakyRelu`` (alpha 0.1), nothing (identity); no
  activation on the last layer; ``Softmax(axis=1)`` and ``ArgMax(axis=1)``.

Opset 21 (INT4/INT16 ``DequantizeLinear``), 25 when an INT2 initializer is used;
``weight_type="int8"`` keeps every initializer at least int8 (opset 21).
Float64 models are exported in float32. Needs the ``onnx`` package;
:func:`check_onnx` needs ``onnxruntime``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._version import __version__
from .admm.activations import LEAKY_SLOPE

__all__ = ["to_onnx", "build_onnx", "check_onnx", "weight_type_for", "float32_onnx_bytes"]

#: ONNX integer type per largest code, and the opset its DequantizeLinear needs.
_INT_TYPES = (("int2", 1, 25), ("int4", 7, 21), ("int8", 127, 21), ("int16", 32767, 21))


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install onnx onnxruntime "
                          "(or pip install admmnet[onnx])") from None
    return onnx


def weight_type_for(level_set, weight_type: str = "auto") -> str:
    """The integer type of a quantized layer's codes: the smallest of int2/int4/int8/int16
    that holds ``-qmax..qmax`` ({-1, +1} for binary), at least int8 with ``weight_type="int8"``."""
    if weight_type not in ("auto", "int8"):
        raise ValueError(f"weight_type must be 'auto' or 'int8', got {weight_type!r}")
    for name, qmax, _ in _INT_TYPES:
        if name == "int2" and not _has_int2():
            continue
        if level_set.qmax <= qmax and (weight_type == "auto" or name not in ("int2", "int4")):
            return name
    raise ValueError(f"codes up to {level_set.qmax} do not fit int16")


def _has_int2() -> bool:
    """Whether the installed onnx (and ml_dtypes) know the INT2 type (ONNX opset 25)."""
    try:
        from onnx import TensorProto
        import ml_dtypes
    except ImportError:
        return False
    return hasattr(TensorProto, "INT2") and hasattr(ml_dtypes, "int2")


def _fitted(model):
    if isinstance(model, (str, Path)):
        from .model import load

        model = load(model)
    if not hasattr(model, "network_") or not hasattr(model, "classes_"):
        raise ValueError(f"cannot export this {type(model).__name__}: it is not fitted yet "
                         "(call fit() or admmnet.load() first)")
    from .network import Layer

    for l, layer in enumerate(model.network_.layers):
        if type(layer) is not Layer or len(layer.shape) != 2:
            raise ValueError(f"ONNX export supports dense layers only; layer {l} is a "
                             f"{type(layer).__name__}")
    return model


def build_onnx(model, *, weight_type: str = "auto", dequantized: bool = False):
    """The ``onnx.ModelProto`` of a fitted model (module docstring). ``dequantized=True``:
    the float32 network of the same shape (every weight a float32 initializer, the float
    path even for DQ/QAT): the size reference."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    model = _fitted(model)
    net = model.network_
    f32 = np.float32
    nodes, inits = [], []
    opset = 21

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], name=f"{op}_{out}", **kw))
        return out

    n_in = net.layers[0].shape[1]
    a = "X"
    if net.input_mean is not None:
        a = node("Sub", [a, const("input_mean", net.input_mean.astype(f32))], "X_centred")
        a = node("Div", [a, const("input_scale", net.input_scale.astype(f32))], "X_standardised")
    L = len(net.layers)
    types = []
    int8_path = net.inference == "int8-dynamic" and not dequantized
    if int8_path:
        a, blocked = _int8_prologue(net, a, node, const)
    for l, layer in enumerate(net.layers):
        bias = None if layer.bias is None else np.asarray(layer.bias, dtype=f32).reshape(-1)
        if int8_path:
            a = _int8_layer(l, layer, a, bias, node, const)
            types.append("uint8")   # int8 codes stored as uint8 with zero point 128
        else:
            if layer.quantized and not dequantized:
                wt = weight_type_for(net.level_set, weight_type)
                opset = max(opset, dict((t, o) for t, _, o in _INT_TYPES)[wt])
                codes = np.asarray(layer.codes)

                def typed(c):
                    if wt in ("int2", "int4"):
                        import ml_dtypes

                        return c.astype(getattr(ml_dtypes, wt))
                    return c.astype(wt)

                def scale_of(v):
                    v = np.asarray(v, dtype=f32)
                    return v.reshape(()) if v.size == 1 else v.reshape(-1)

                if getattr(layer, "scale_neg", None) is None:
                    W = node("DequantizeLinear", [const(f"codes{l}", typed(codes)), const(f"scale{l}", scale_of(layer.scale))],
                             f"W{l}", axis=0)
                else:
                    # asymmetric ternary (TTQ): scale * max(Q, 0) + scale_neg * min(Q, 0); one term of
                    # every entry is an exact 0, so the sum is admmnet's weight bit for bit
                    Wp = node("DequantizeLinear", [const(f"codes_pos{l}", typed(np.maximum(codes, 0))),
                                                   const(f"scale{l}", scale_of(layer.scale))], f"Wpos{l}", axis=0)
                    Wn = node("DequantizeLinear", [const(f"codes_neg{l}", typed(np.minimum(codes, 0))),
                                                   const(f"scale_neg{l}", scale_of(layer.scale_neg))], f"Wneg{l}", axis=0)
                    W = node("Add", [Wp, Wn], f"W{l}")
                types.append(wt)
            else:
                W = const(f"W{l}", np.asarray(layer.dequantized(net.dtype), dtype=f32))
                types.append("float32")
            ins = [a, W] + ([const(f"bias{l}", bias)] if bias is not None else [])
            a = node("Gemm", ins, f"z{l}", transB=1)
        if l < L - 1:
            a = _activation(net.activation, a, l, node, const)
    if int8_path:
        a = _int8_epilogue(net, a, blocked, node, const)
    logits = node("Identity", [a], "logits")
    node("Softmax", [logits], "probabilities", axis=1)
    node("ArgMax", [logits], "label", axis=1, keepdims=0)
    K = net.layers[-1].shape[0]
    graph = helper.make_graph(
        nodes, f"admmnet_{getattr(model, 'method', 'model')}",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", K]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", K])],
        initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="admmnet", producer_version=__version__,
                          ir_version=helper.find_min_ir_version_for(opsets))
    meta = {"classes": json.dumps(np.asarray(model.classes_).tolist()),
            "method": str(getattr(model, "method", "?")), "activation": net.activation,
            "levels": "" if net.level_set is None else net.level_set.describe(),
            "inference": "float" if dequantized else net.inference,
            "input_transform": "standardise" if net.input_mean is not None else "none",
            "weight_types": json.dumps(types)}
    helper.set_model_props(m, meta)
    onnx.checker.check_model(m)
    return m


def _activation(name, a, l, node, const):
    if name == "relu":
        return node("Relu", [a], f"h{l}")
    if name == "hardsigmoid":
        return node("Clip", [a, const(f"zero{l}", np.float32(0)), const(f"one{l}", np.float32(1))], f"h{l}")
    if name == "identity":
        return a
    if name == "leaky_relu":
        return node("LeakyRelu", [a], f"h{l}", alpha=float(LEAKY_SLOPE))
    raise ValueError(f"ONNX export: unsupported activation {name!r}")


# -- the int8-dynamic path (DQ, QAT) ---------------------------------------------------------
def _int8_prologue(net, a, node, const):
    """Pad the rows to a multiple of ``act_batch`` with copies of the last row, reshape to
    (blocks, act_batch, n_in)."""
    B = int(net.act_batch)
    n_in = net.layers[0].shape[1]
    n = node("Shape", [a], "n_rows", start=0, end=1)                         # [N]
    B_ = const("act_batch", np.array([B], dtype=np.int64))
    pad = node("Mod", [node("Sub", [B_, node("Mod", [n, B_], "n_mod_B")], "B_minus"), B_], "n_pad")
    pads = node("Concat", [const("pad_zeros", np.zeros(2, np.int64)), pad, const("pad_zero", np.zeros(1, np.int64))],
                "pads", axis=0)
    a = node("Pad", [a, pads], "X_padded", mode="edge")
    a = node("Reshape", [a, const("block_shape", np.array([-1, B, n_in], np.int64))], "X_blocks")
    return a, n


def _int8_layer(l, layer, a, bias, node, const):
    """``z = (s_w s_a) (Q (q - zp)) + b`` per block, as :func:`admmnet.quant.int8.int8_linear`."""
    f32 = np.float32
    lo = node("Min", [node("ReduceMin", [a, const(f"axes{l}", np.array([1, 2], np.int64))], f"amin{l}", keepdims=1),
                      const(f"zf{l}", f32(0))], f"lo{l}")
    hi = node("Max", [node("ReduceMax", [a, f"axes{l}"], f"amax{l}", keepdims=1), f"zf{l}"], f"hi{l}")
    # scale and zero point in float64, as act_qparams computes them from Python floats
    lo_d = node("Cast", [lo], f"lo{l}_d", to=11)
    hi_d = node("Cast", [hi], f"hi{l}_d", to=11)
    s_d = node("Div", [node("Sub", [hi_d, lo_d], f"range{l}"), const(f"qmax{l}", np.float64(255))], f"s{l}_raw")
    s_d = node("Where", [node("Greater", [s_d, const(f"zd{l}", np.float64(0))], f"s{l}_pos"), s_d,
                         const(f"oned{l}", np.float64(1))], f"s{l}_d")
    zp_d = node("Clip", [node("Round", [node("Div", [node("Neg", [lo_d], f"nlo{l}"), s_d], f"zpr{l}")], f"zpround{l}"),
                         f"zd{l}", f"qmax{l}"], f"zp{l}_d")
    s_f = node("Cast", [s_d], f"s{l}", to=1)
    zp_f = node("Cast", [zp_d], f"zp{l}", to=1)
    # q = clip(round(a / s) + zp, 0, 255) in float32, as uint8
    q = node("Clip", [node("Add", [node("Round", [node("Div", [a, s_f], f"as{l}")], f"ar{l}"), zp_f], f"az{l}"),
                      const(f"qlo{l}", f32(0)), const(f"qhi{l}", f32(255))], f"q{l}_f")
    q = node("Cast", [q], f"q{l}", to=2)                                             # uint8
    codes = np.asarray(layer.codes).astype(np.int8)
    # the codes as uint8 with zero point 128 (U8U8): onnxruntime's U8S8 kernel on x86 CPUs
    # without VNNI sums pairs of products in int16 with saturation (255 * 127 * 2 > 32767)
    codes_u8 = np.ascontiguousarray((codes.astype(np.int16) + 128).astype(np.uint8).T)
    acc = node("MatMulInteger", [q, const(f"codesT{l}", codes_u8), "", const(f"codes_zp{l}", np.uint8(128))],
               f"qQ{l}")                                                             # int32
    colsum = codes.astype(np.int32).sum(axis=1, dtype=np.int32)                                     # per output: sum_j Q_rj
    zp_i = node("Cast", [zp_d], f"zp{l}_i", to=6)
    acc = node("Sub", [acc, node("Mul", [zp_i, const(f"rowsum{l}", colsum)], f"zpQ{l}")], f"acc{l}")
    w_scale = np.broadcast_to(np.asarray(layer.scale, dtype=f32).reshape(-1, 1), (layer.shape[0], 1)).reshape(-1)
    ss = node("Mul", [const(f"wscale{l}", np.ascontiguousarray(w_scale)), s_f], f"ss{l}")
    z = node("Mul", [ss, node("Cast", [acc], f"acc{l}_f", to=1)], f"zq{l}")
    if bias is not None:
        z = node("Add", [z, const(f"bias{l}", bias)], f"z{l}")
    return z


def _int8_epilogue(net, a, n, node, const):
    K = net.layers[-1].shape[0]
    a = node("Reshape", [a, const("flat_shape", np.array([-1, K], np.int64))], "logits_padded")
    return node("Slice", [a, const("slice_start", np.zeros(1, np.int64)), n, const("slice_axis", np.zeros(1, np.int64))],
                "logits_rows")


def to_onnx(model, path, *, weight_type: str = "auto") -> dict:
    """Write the ONNX graph of a fitted model (or a saved model file) to ``path`` atomically.

    Returns ``{"path", "bytes", "opset", "weight_types" (per layer), "float32_bytes"}``:
    ``float32_bytes`` is the size of the float32 graph of a network of the same shape
    (:func:`float32_onnx_bytes`)."""
    from .io import atomic_write

    model = _fitted(model)
    m = build_onnx(model, weight_type=weight_type)
    data = m.SerializeToString()
    atomic_write(path, lambda fh: fh.write(data))
    props = {p.key: p.value for p in m.metadata_props}
    return {"path": str(path), "bytes": len(data), "opset": int(m.opset_import[0].version),
            "weight_types": json.loads(props["weight_types"]), "float32_bytes": float32_onnx_bytes(model)}


def float32_onnx_bytes(model) -> int:
    """Bytes of the float32 ONNX graph of a network of ``model``'s shape (its dequantized weights)."""
    return len(build_onnx(model, dequantized=True).SerializeToString())


def check_onnx(model, path, X, *, atol: float = 1e-5) -> float:
    """Run the graph at ``path`` in onnxruntime on ``X`` (raw features) and compare with the
    model: the predicted labels must be identical and the probabilities within ``atol``.
    Returns the largest probability difference; raises ValueError otherwise."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("checking the ONNX graph needs onnxruntime: pip install onnxruntime") from None
    model = _fitted(model)
    X = np.asarray(X, dtype=np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba, _ = sess.run(["label", "probabilities", "logits"], {"X": X})
    want = model.predict_proba(X)
    diff = float(np.max(np.abs(proba - want))) if X.shape[0] else 0.0
    if not np.array_equal(np.asarray(model.classes_)[label], model.predict(X)):
        raise ValueError(f"{path}: onnxruntime predicts other labels than the model on "
                         f"{int(np.sum(np.asarray(model.classes_)[label] != model.predict(X)))} row(s)")
    if not diff <= atol:
        raise ValueError(f"{path}: onnxruntime's probabilities differ from the model's by {diff:.3g} > {atol}")
    return diff
