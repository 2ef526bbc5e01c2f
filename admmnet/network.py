"""The trained network as it is evaluated, saved and reported.

A :class:`Network` is a list of dense layers, or (``arch`` set) the weight layers of a
convolutional network (:mod:`admmnet.backprop.arch`; a conv weight is stored as its
2-D matrix ``C_out x C_in*k*k``, quantized or not exactly as a dense one). A quantized layer holds integer
codes ``Q`` and a scale ``alpha`` (one per layer or per output row) so that its
weights are exactly ``alpha * Q`` (computed in the network's float dtype); a
full-precision layer holds its weight matrix. Biases are always full
precision. The forward pass is ``a_l = h(W_l a_{l-1} + b_l)`` with no
activation on the last layer (its outputs are logits for softmax).

A quantized layer may also hold a second scale for its negative codes (``scale_neg``,
TTQ's asymmetric ternary weights ``{-alpha_n, 0, +alpha_p}``).

A layer may instead be pruned and quantized at its own bit width (``compressed``, a
:class:`~admmnet.quant.compressed.CompressedWeight`: the budget methods, docs/budget.md):
codes packed at that width, a codebook and the encoded positions of the non-zeros.

Storage is counted as it is really stored (docs/method.md, "Level sets"): codes
packed at ``ceil(log2(#levels))`` bits per weight
(:func:`admmnet.quant.pack_codes`), scales and biases in the network's float
dtype, full-precision weights at 32 (or 64) bits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .admm.activations import get_activation
from .quant import LevelSet, make_level_set, pack_codes, packed_nbytes, unpack_codes

__all__ = ["Layer", "Network", "with_standardisation"]


@dataclass
class Layer:
    """One dense layer: ``weight`` (full precision) or ``codes`` + ``scale`` (quantized), and ``bias``.

    ``scale_neg`` (optional, quantized layers): a separate scale of the negative codes, for
    asymmetric ternary weights (TTQ: ``+scale`` where code = 1, ``-scale_neg`` where code = -1);
    None means one scale for every code."""

    shape: tuple[int, int]
    weight: np.ndarray | None = None
    codes: np.ndarray | None = None
    scale: np.ndarray | None = None
    bias: np.ndarray | None = None
    scale_neg: np.ndarray | None = None
    #: a :class:`~admmnet.quant.compressed.CompressedWeight` (pruned, per-layer bit width), else None
    compressed: object | None = None

    @property
    def quantized(self) -> bool:
        return self.codes is not None

    def dequantized(self, dtype) -> np.ndarray:
        """The effective weight matrix: ``scale * codes`` in ``dtype`` arithmetic, or the FP weight."""
        if self.compressed is not None:
            return self.compressed.dense(dtype)
        if self.quantized:
            c = self.codes.astype(dtype)
            W = np.asarray(self.scale, dtype=dtype) * c
            if self.scale_neg is not None:
                W = np.where(self.codes < 0, np.asarray(self.scale_neg, dtype=dtype) * c, W)
            return W
        return self.weight.astype(dtype, copy=False)


@dataclass
class Network:
    """A feed-forward MLP with optionally quantized weights (host NumPy arrays)."""

    layers: list[Layer]
    activation: str = "relu"
    level_set: LevelSet | None = None
    granularity: str = "layer"
    dtype: str = "float32"
    #: "float": weights dequantized, float products. "int8-dynamic": int8 codes, activations
    #: quantized per batch of ``act_batch`` rows at run time, int32 products
    #: (:mod:`admmnet.quant.int8`; the DQ and QAT baselines).
    inference: str = "float"
    act_batch: int = 256
    #: None: a dense MLP. Else the JSON form of the :class:`~admmnet.backprop.arch.Arch` whose
    #: weight layers ``layers`` are (in order); its forward pass replaces the MLP's.
    arch: dict | None = None
    #: optional input standardisation ``(X - input_mean) / input_scale`` (1-D, one entry per
    #: feature), applied first in :meth:`logits` in the network's dtype; None: none
    #: (:func:`with_standardisation`)
    input_mean: np.ndarray | None = None
    input_scale: np.ndarray | None = None
    #: rows per block of the float forward pass (:meth:`logits`); not a dataclass field
    eval_batch: ClassVar[int] = 8192

    def __post_init__(self):
        if self.inference not in ("float", "int8-dynamic"):
            raise ValueError(f"inference must be 'float' or 'int8-dynamic', got {self.inference!r}")
        if self.inference == "int8-dynamic":
            if not all(layer.quantized for layer in self.layers) or self.level_set is None \
                    or self.level_set.qmax > 127:
                raise ValueError("int8-dynamic inference needs every layer quantized to int8 codes")
        if (self.input_mean is None) != (self.input_scale is None):
            raise ValueError("input_mean and input_scale must be given together")
        if self.input_mean is not None:
            n = self.layers[0].shape[1]
            self.input_mean = np.asarray(self.input_mean, dtype=self.dtype).reshape(-1)
            self.input_scale = np.asarray(self.input_scale, dtype=self.dtype).reshape(-1)
            for name, v in (("input_mean", self.input_mean), ("input_scale", self.input_scale)):
                if v.size != n:
                    raise ValueError(f"{name} has {v.size} entries for {n} input features")
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"{name} holds NaN or inf")
            if np.any(self.input_scale == 0):
                raise ValueError("input_scale holds a 0")

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Input width and each layer's output width (a conv layer's: its channels)."""
        n_in = self.layers[0].shape[1] if self.arch is None else int(np.prod(self.arch["input_shape"]))
        return (n_in,) + tuple(layer.shape[0] for layer in self.layers)

    def _arch_obj(self):
        from .backprop.arch import Arch

        return None if self.arch is None else Arch.from_json(self.arch)

    def weights(self) -> list[np.ndarray]:
        """Effective (dequantized) weight matrices, ``n_l x n_{l-1}``."""
        return [layer.dequantized(self.dtype) for layer in self.layers]

    def biases(self) -> list[np.ndarray] | None:
        if self.layers[0].bias is None:
            return None
        return [layer.bias.astype(self.dtype, copy=False) for layer in self.layers]

    def logits(self, X, xp=None, compute_dtype: str | None = None):
        """Logits for samples in the ROWS of ``X`` (n_samples x n_features); returns n_samples x n_classes.

        ``xp`` picks the namespace the matrix products run in (default NumPy).
        ``compute_dtype="float64"`` evaluates the network's exact weights (``scale x codes``
        in its dtype) in float64 arithmetic: every row's logits then do not depend on which
        other rows share its matrix product (the estimators' ``predict`` uses it; float32
        GEMMs of different sizes may differ in the last bits)."""
        act = get_activation(self.activation)
        if xp is None:
            import array_api_compat.numpy as xp
        X = self.transform_input(X, xp)
        if self.inference == "int8-dynamic":
            return self._int8_logits(X, xp)
        X = xp.asarray(X)
        L = len(self.layers)
        Ws = [xp.asarray(W) for W in self.weights()]
        bs = self.biases()
        bs = None if bs is None else [xp.asarray(b) for b in bs]
        if compute_dtype is not None:
            dt = getattr(xp, compute_dtype)
            X = xp.astype(X, dt)
            Ws = [xp.astype(W, dt) for W in Ws]
            bs = None if bs is None else [xp.astype(b, dt) for b in bs]
        arch = self._arch_obj()
        if arch is not None:
            from .backprop.arch import forward as arch_forward

            outs = [arch_forward(arch, Ws, bs, X[s:s + 1024, ...].T, self.activation, keep=False)[0].T
                    for s in range(0, max(X.shape[0], 1), 1024)]
            return outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)
        outs = []
        # Blocks of rows: the hidden activations of a block are all that is held at
        # once (on MNIST's 60k training rows this keeps the evaluation pass from
        # being the peak of a training run's memory).
        for s in range(0, max(X.shape[0], 1), self.eval_batch):
            a = X[s:s + self.eval_batch, ...].T
            for l in range(L):
                z = Ws[l] @ a
                if bs is not None:
                    z = z + bs[l]
                a = act(z) if l < L - 1 else z
            outs.append(a.T)
        return outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)

    def transform_input(self, X, xp=None):
        """``(X - input_mean) / input_scale`` in the network's dtype (``X`` itself when the
        network has no input transform): what :meth:`logits` applies first."""
        if self.input_mean is None:
            return X
        if xp is None:
            import array_api_compat.numpy as xp
        dt = getattr(xp, self.dtype)
        X = xp.astype(xp.asarray(X), dt)
        return (X - xp.asarray(self.input_mean, dtype=dt)) / xp.asarray(self.input_scale, dtype=dt)

    def _int8_logits(self, X, xp):
        """Integer path: every layer's input is quantized to uint8 per batch of
        ``act_batch`` rows, multiplied by the int8 codes with int32 accumulation
        and rescaled (:func:`admmnet.quant.int8.int8_linear`)."""
        from .quant.int8 import int8_linear

        act = get_activation(self.activation)
        X = xp.asarray(X)
        L = len(self.layers)
        dt = getattr(xp, self.dtype)
        codes = [xp.asarray(layer.codes) for layer in self.layers]
        scales = [xp.asarray(np.broadcast_to(np.asarray(layer.scale), (layer.shape[0], 1)), dtype=dt)
                  for layer in self.layers]
        biases = [None if layer.bias is None else xp.asarray(layer.bias, dtype=dt) for layer in self.layers]
        outs = []
        arch = self._arch_obj()
        if arch is not None:
            from .backprop.arch import forward as arch_forward

            def linear(l, inp):     # a conv layer's input is its im2col matrix: one int8 product
                return int8_linear(codes[l], scales[l], inp, biases[l])
            for s in range(0, X.shape[0], self.act_batch):
                a = xp.astype(X[s:s + self.act_batch, ...], dt).T
                outs.append(arch_forward(arch, None, None, a, self.activation, keep=False, linear=linear)[0].T)
            return xp.concat(outs, axis=0)
        for s in range(0, X.shape[0], self.act_batch):
            a = xp.astype(X[s:s + self.act_batch, ...], dt).T
            for l in range(L):
                z = int8_linear(codes[l], scales[l], a, biases[l])
                a = act(z) if l < L - 1 else z
            outs.append(a.T)
        return xp.concat(outs, axis=0)

    # -- storage -------------------------------------------------------------
    @property
    def n_weights(self) -> int:
        return sum(layer.shape[0] * layer.shape[1] for layer in self.layers)

    @property
    def storage_bits_per_weight(self) -> int:
        """Bits one weight occupies on disk: ceil(log2(#levels)), or the float width; for
        pruned layers of their own widths (``compressed``), sum_l b_l nnz_l / n_weights."""
        if any(layer.compressed is not None for layer in self.layers):
            wb = sum(layer.compressed.weight_bits if layer.compressed is not None
                     else layer.shape[0] * layer.shape[1] * 8 * np.dtype(self.dtype).itemsize for layer in self.layers)
            return wb / self.n_weights
        if self.level_set is None:
            return 8 * np.dtype(self.dtype).itemsize
        return self.level_set.storage_bits

    def payload(self) -> dict[str, np.ndarray]:
        """The arrays that make up the model on disk (packed codes, scales, biases or FP weights)."""
        out = {}
        for l, layer in enumerate(self.layers):
            if layer.compressed is not None:
                out.update(layer.compressed.payload(f"cw{l}_", self.dtype))
            elif layer.quantized:
                out[f"codes{l}"] = pack_codes(layer.codes, self.level_set)
                out[f"scale{l}"] = np.asarray(layer.scale, dtype=self.dtype)
                if layer.scale_neg is not None:
                    out[f"scale_neg{l}"] = np.asarray(layer.scale_neg, dtype=self.dtype)
            else:
                out[f"weight{l}"] = layer.weight.astype(self.dtype, copy=False)
            if layer.bias is not None:
                out[f"bias{l}"] = layer.bias.astype(self.dtype, copy=False)
        if self.input_mean is not None:
            out["input_mean"] = self.input_mean.astype(self.dtype, copy=False)
            out["input_scale"] = self.input_scale.astype(self.dtype, copy=False)
        return out

    @property
    def model_bytes(self) -> int:
        """Bytes of the stored model: packed codes + scales + biases (or FP weights), no file headers."""
        total = 0
        for layer in self.layers:
            n = layer.shape[0] * layer.shape[1]
            item = np.dtype(self.dtype).itemsize
            if layer.compressed is not None:
                total += sum(layer.compressed.nbytes(self.dtype).values())
            elif layer.quantized:
                total += packed_nbytes(n, self.level_set) + np.asarray(layer.scale).size * item
                if layer.scale_neg is not None:
                    total += np.asarray(layer.scale_neg).size * item
            else:
                total += n * item
            if layer.bias is not None:
                total += layer.bias.size * item
        return total + self.input_transform_bytes

    @property
    def input_transform_bytes(self) -> int:
        """Bytes of the input standardisation (mean and scale per feature; 0 without one),
        included in :attr:`model_bytes`."""
        if self.input_mean is None:
            return 0
        return 2 * self.input_mean.size * np.dtype(self.dtype).itemsize

    def meta(self) -> dict:
        return {
            "layer_sizes": list(self.layer_sizes),
            "activation": self.activation,
            "levels": None if self.level_set is None else self.level_set.kind,
            "bits": None if self.level_set is None else self.level_set.bits,
            "granularity": self.granularity,
            "dtype": self.dtype,
            "bias": self.layers[0].bias is not None,
            "quantized": [layer.quantized for layer in self.layers],
            "compressed": [layer.compressed is not None for layer in self.layers],
            "inference": self.inference,
            "act_batch": self.act_batch,
            "arch": self.arch,
            "shapes": [list(layer.shape) for layer in self.layers],
            "input_transform": None if self.input_mean is None else "standardise",
        }

    @classmethod
    def from_payload(cls, arrays: dict, meta: dict) -> "Network":
        """Inverse of :meth:`payload` + :meth:`meta` (codes unpacked and range-checked)."""
        sizes = meta["layer_sizes"]
        level_set = None if meta["levels"] is None else make_level_set(meta["levels"], meta["bits"])
        layers = []
        shapes = meta.get("shapes") or [(sizes[l + 1], sizes[l]) for l in range(len(sizes) - 1)]
        for l, shape in enumerate(shapes):
            shape = (int(shape[0]), int(shape[1]))
            bias = arrays.get(f"bias{l}")
            if (meta.get("compressed") or [False] * len(shapes))[l]:
                from .quant.compressed import CompressedWeight

                layers.append(Layer(shape, bias=bias, compressed=CompressedWeight.from_payload(arrays, f"cw{l}_", shape)))
            elif meta["quantized"][l]:
                codes = unpack_codes(arrays[f"codes{l}"], shape, level_set)
                layers.append(Layer(shape, codes=codes, scale=arrays[f"scale{l}"], bias=bias,
                                    scale_neg=arrays.get(f"scale_neg{l}")))
            else:
                w = arrays[f"weight{l}"]
                if w.shape != shape:
                    raise ValueError(f"layer {l}: weight has shape {w.shape}, expected {shape}")
                layers.append(Layer(shape, weight=w, bias=bias))
        return cls(layers, activation=meta["activation"], level_set=level_set,
                   granularity=meta["granularity"], dtype=meta["dtype"],
                   inference=meta.get("inference", "float"), act_batch=int(meta.get("act_batch", 256)),
                   arch=meta.get("arch"),
                   input_mean=arrays["input_mean"] if meta.get("input_transform") else None,
                   input_scale=arrays["input_scale"] if meta.get("input_transform") else None)


def with_standardisation(model, mean, scale):
    """Store the input standardisation ``(X - mean) / scale`` in a fitted estimator's network,
    so that ``predict``/``predict_proba``/``score``/``save`` and the ONNX export take RAW
    features; returns ``model``. ``mean, scale``: one entry per feature (``scale`` non-zero),
    e.g. the training rows' mean and std (:func:`admmnet.datasets.files.fit_standardisation`).
    The network must have been trained on ``network_.transform_input(X_raw)``; ``None, None``
    removes the transform."""
    if not hasattr(model, "network_"):
        raise ValueError(f"this {type(model).__name__} is not fitted yet: call fit() before with_standardisation()")
    import dataclasses

    if mean is None and scale is None:
        model.network_ = dataclasses.replace(model.network_, input_mean=None, input_scale=None)
        return model
    if mean is None or scale is None:
        raise ValueError("mean and scale must be given together")
    model.network_ = dataclasses.replace(model.network_, input_mean=np.asarray(mean, dtype=np.float64),
                                         input_scale=np.asarray(scale, dtype=np.float64))
    return model
