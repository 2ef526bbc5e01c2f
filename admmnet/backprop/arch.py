r"""Network architectures as layer lists: the named ones, initialisation, forward and backward.

An :class:`Arch` is an input image shape ``(C, H, W)`` and a list of layers
(:mod:`admmnet.backprop.layers`). Its weight-bearing layers (Conv2d, Dense), in order,
own the entries of the flat lists ``Ws`` / ``bs`` the trainer and every
:class:`~admmnet.backprop.trainer.Objective` act on: a conv weight is the 2-D matrix
``C_out x C_in*k*k``, its bias ``C_out x 1``. The input is a flat batch ``A0``
(``C*H*W x m``, samples in columns, as the MLP's), viewed as images ``(C, H, W, m)``
(pixel ``(c, h, w)`` is feature ``c*H*W + h*W + w``: MNIST's 784-feature rows as they are).

Named architectures (:data:`ARCHS`; ``arch="mlp"`` means the dense MLP of ``hidden_sizes``):

* ``"lenet5"`` (the ternary-methods comparison's LeNet-5): conv 1->32 5x5, h, max-pool 2,
  conv 32->64 5x5, h, max-pool 2, flatten, dense 1024->512, h, dense 512->10:
  581,408 weights + 618 biases on 1x28x28 images.
* ``"lenet5-caffe"`` (Caffe's LeNet): conv 1->20 5x5, max-pool 2, conv 20->50 5x5, max-pool 2,
  flatten, dense 800->500, h, dense 500->10: 430,500 weights + 580 biases.

Forward / backward (:func:`forward`, :func:`backward`) run the layers in order and back,
with the formulas of :mod:`.layers` and :mod:`.conv`; ``act_quant(l, a)`` (QAT) replaces the
input of weight layer l and its STE mask multiplies the gradient flowing back into it,
as in the dense engine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._backend import get_namespace
from .layers import Activation, Conv2d, Dense, Flatten, MaxPool2d, layer_from_spec, layer_spec

__all__ = ["Arch", "ARCHS", "ARCH_NAMES", "get_arch", "arch_param", "lenet5", "lenet5_caffe", "init_arch_params",
           "forward", "backward", "ArchCache"]


@dataclass(frozen=True)
class Arch:
    """An input shape ``(C, H, W)`` and a tuple of layers; ``name`` for the named ones."""

    input_shape: tuple
    layers: tuple
    name: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        object.__setattr__(self, "layers", tuple(layer_from_spec(s) for s in self.layers))
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {self.input_shape}")
        self.geometry()     # checks that the shapes chain

    @property
    def n_features(self) -> int:
        return int(np.prod(self.input_shape))

    def geometry(self) -> list:
        """``[(layer, in_shape, out_shape)]`` (shapes without the batch axis)."""
        out, shape = [], self.input_shape
        for layer in self.layers:
            new = layer.out_shape(shape)
            out.append((layer, shape, new))
            shape = new
        if len(shape) != 1 or not self.layers or not isinstance(self.layers[-1], Dense):
            raise ValueError(f"an architecture must end with a Dense layer (the logits), got {self.layers[-1:]}")
        return out

    @property
    def weight_shapes(self) -> list:
        return [layer.weight_shape for layer in self.layers if layer.weighted]

    @property
    def n_classes(self) -> int:
        return self.layers[-1].out_features

    @property
    def n_weights(self) -> int:
        return sum(a * b for a, b in self.weight_shapes)

    @property
    def n_biases(self) -> int:
        return sum(a for a, _ in self.weight_shapes)

    def flops_per_sample(self) -> list:
        """Forward multiply-adds x 2 of each weight layer for one sample: ``2 n_out n_in Ho Wo``
        (``Ho Wo = 1`` for Dense). The backward pass costs twice this (dW and dx)."""
        out = []
        for layer, _, o in self.geometry():
            if layer.weighted:
                n_out, n_in = layer.weight_shape
                pix = o[1] * o[2] if isinstance(layer, Conv2d) else 1
                out.append(2 * n_out * n_in * pix)
        return out

    def to_json(self) -> dict:
        return {"name": self.name, "input_shape": list(self.input_shape),
                "layers": [layer_spec(layer) for layer in self.layers]}

    @classmethod
    def from_json(cls, d: dict) -> "Arch":
        return cls(tuple(d["input_shape"]), tuple(d["layers"]), d.get("name"))


def lenet5(n_classes: int = 10) -> Arch:
    """The comparison's LeNet-5 (module docstring)."""
    return Arch((1, 28, 28), (Conv2d(1, 32, 5), Activation(), MaxPool2d(2), Conv2d(32, 64, 5), Activation(),
                              MaxPool2d(2), Flatten(), Dense(1024, 512), Activation(), Dense(512, n_classes)),
                "lenet5")


def lenet5_caffe(n_classes: int = 10) -> Arch:
    """Caffe's LeNet (no activation after the convolutions; module docstring)."""
    return Arch((1, 28, 28), (Conv2d(1, 20, 5), MaxPool2d(2), Conv2d(20, 50, 5), MaxPool2d(2), Flatten(),
                              Dense(800, 500), Activation(), Dense(500, n_classes)), "lenet5-caffe")


#: Named architectures: name -> builder(n_classes).
ARCHS = {"lenet5": lenet5, "lenet5-caffe": lenet5_caffe}
#: What ``arch`` / ``--arch`` accept by name.
ARCH_NAMES = ("mlp",) + tuple(ARCHS)


def get_arch(arch, n_features: int | None = None, n_classes: int | None = None) -> Arch | None:
    """The :class:`Arch` that ``arch`` names, or None for the dense MLP (``"mlp"``/None).

    ``arch``: a name of :data:`ARCHS`, an :class:`Arch`, its JSON form (:meth:`Arch.to_json`),
    or a list of layers (objects or JSON forms) whose first layer is a Conv2d: the input is
    then ``in_channels`` square images of ``n_features / in_channels`` pixels.
    ``n_features`` / ``n_classes``, when given, are checked against the architecture."""
    if arch is None or (isinstance(arch, str) and arch == "mlp"):
        return None
    if isinstance(arch, str):
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {list(ARCH_NAMES)} or a layer list, got {arch!r}")
        a = ARCHS[arch](10 if n_classes is None else int(n_classes))
    elif isinstance(arch, Arch):
        a = arch
    elif isinstance(arch, dict):
        a = Arch.from_json(arch)
    elif isinstance(arch, (list, tuple)):
        layers = tuple(layer_from_spec(s) for s in arch)
        if not layers or not isinstance(layers[0], Conv2d):
            raise ValueError("a layer-list arch must start with a Conv2d (its in_channels give the input)")
        if n_features is None:
            raise ValueError("a layer-list arch needs n_features to infer the image size")
        c = layers[0].in_channels
        side = int(round(math.sqrt(n_features / c)))
        if c * side * side != n_features:
            raise ValueError(f"arch takes {c}-channel square images; {n_features} features are not "
                             f"{c} x H x H")
        a = Arch((c, side, side), layers)
    else:
        raise ValueError(f"arch must be a name, an Arch or a layer list, got {type(arch).__name__}")
    if n_features is not None and a.n_features != n_features:
        C, H, W = a.input_shape
        raise ValueError(f"arch {a.name or 'layer list'!r} takes {C}x{H}x{W} images ({a.n_features} features "
                         f"per row); the data has {n_features} features per row (no images of that shape)")
    if n_classes is not None and a.n_classes != n_classes:
        raise ValueError(f"arch ends with {a.n_classes} outputs; the data has {n_classes} classes")
    return a


def arch_param(arch):
    """The JSON-friendly form of an estimator's ``arch`` parameter (a name stays a name)."""
    if arch is None or isinstance(arch, str):
        return arch
    if isinstance(arch, dict):
        return arch
    if isinstance(arch, Arch):
        return arch.to_json()
    return [layer_spec(layer_from_spec(s)) for s in arch]


def init_arch_params(arch: Arch, activation: str, rng: np.random.Generator, xp, dtype, bias: bool = True):
    """``(Ws, bs)``: W uniform in +-sqrt(6 / fan_in) (He, ReLU, all but the last layer), else
    Glorot +-sqrt(6 / (fan_in + fan_out)); fan_in = C_in*k*k for a conv (the matrix's columns),
    fan_out its rows; biases zero. Drawn on the host from ``rng``."""
    shapes = arch.weight_shapes
    Ws, bs = [], []
    for l, (n_out, n_in) in enumerate(shapes):
        he = activation == "relu" and l < len(shapes) - 1
        lim = math.sqrt(6.0 / n_in) if he else math.sqrt(6.0 / (n_in + n_out))
        Ws.append(xp.asarray(rng.uniform(-lim, lim, size=(n_out, n_in)), dtype=dtype))
        bs.append(xp.zeros((n_out, 1), dtype=dtype))
    return Ws, (bs if bias else None)


@dataclass
class ArchCache:
    """Per layer, what its backward pass needs (weight layers: the matrix their weight
    multiplied, the input shape and the STE mask; activations and pools: their input (pools:
    and output))."""

    ctx: list = field(default_factory=list)


def forward(arch: Arch, Ws, bs, A0, activation: str, *, act_quant=None, keep: bool = True, linear=None):
    """Logits (K x m) of ``arch`` on the flat batch ``A0`` (``C*H*W x m``) and the :class:`ArchCache`.

    ``linear(l, inp)``, if given, computes weight layer l's pre-activation from its input
    matrix instead of ``W_l inp + b_l`` (the int8 inference path of the fitted network)."""
    from ..admm.activations import get_activation

    h = get_activation(activation)
    xp = get_namespace(A0)
    m = A0.shape[-1]
    x = xp.reshape(A0, arch.input_shape + (m,))
    cache = ArchCache()
    l = 0
    for layer in arch.layers:
        ctx = None
        if layer.weighted:
            mask = None
            if act_quant is not None:
                x, mask = act_quant(l, x)
            inp, geo = layer.inputs(x)
            if linear is not None:
                z = linear(l, inp)
            else:
                z = Ws[l] @ inp
                if bs is not None:
                    z += bs[l]          # in place: z is a fresh product
            y = layer.output(z, geo, m)
            ctx = (inp, tuple(x.shape), mask)
            l += 1
        elif isinstance(layer, Activation):
            y, ctx = h(x), x
        elif isinstance(layer, MaxPool2d):
            y = layer.forward(x)
            ctx = (x, y)
        elif isinstance(layer, Flatten):
            y, ctx = xp.reshape(x, (-1, m)), tuple(x.shape)
        else:  # pragma: no cover
            raise TypeError(f"unknown layer {layer!r}")
        if keep:
            cache.ctx.append(ctx)
        x = y
    return x, cache


def backward(arch: Arch, Ws, cache: ArchCache, dZL, activation: str, *, need: list | None = None):
    """``(dWs, dbs)`` from ``dZL = dR/dz_L``; ``need[l] = False`` skips weight layer l's
    gradient (None); nothing below the lowest needed weight layer is computed."""
    from .engine import activation_grad

    xp = get_namespace(dZL)
    L = len(Ws)
    dWs: list = [None] * L
    dbs: list = [None] * L
    lowest = 0 if need is None else next((l for l in range(L) if need[l]), L)
    if lowest == L:
        return dWs, dbs
    dy = dZL
    l = L
    for layer, ctx in zip(reversed(arch.layers), reversed(cache.ctx)):
        if layer.weighted:
            l -= 1
            inp, x_shape, mask = ctx
            dz = layer.grad_view(dy)
            if need is None or need[l]:
                dWs[l] = dz @ inp.T
                dbs[l] = xp.sum(dz, axis=1, keepdims=True)
            if l == lowest:
                break
            dy = layer.backward_input(Ws[l], dz, None, x_shape)
            if mask is not None:
                dy = dy * mask
        elif isinstance(layer, Activation):
            dy = dy * activation_grad(activation, ctx)
        elif isinstance(layer, MaxPool2d):
            dy = layer.backward(dy, *ctx)
        elif isinstance(layer, Flatten):
            dy = xp.reshape(dy, ctx)
    return dWs, dbs
