r"""The layers a network architecture (:mod:`admmnet.backprop.arch`) is made of.

Activations between layers are either images ``(C, H, W, m)`` or flat batches
``(n, m)`` (samples last / in columns; :mod:`admmnet.backprop.conv` explains the
layout). Every weight-bearing layer keeps its weight as a 2-D matrix in the
network's flat list ``Ws`` (and its bias, ``n_out x 1``, in ``bs``), so every
quantizer, projection and training objective that acts on ``Ws`` applies unchanged:

* :class:`Dense` ``(n_in -> n_out)``: ``W`` is ``n_out x n_in``, ``z = W a + b``;
  backward ``dW = dz a^T``, ``db = dz 1``, ``da = W^T dz``.
* :class:`Conv2d` ``(C_in -> C_out, k x k, stride s, padding p)``: ``W`` is
  ``C_out x C_in*k*k`` (row ``o`` is filter ``o`` flattened in ``(c, i, j)`` order, the
  layout of PyTorch's ``weight.reshape(C_out, -1)``), ``z = W im2col(x) + b`` reshaped to
  ``(C_out, Ho, Wo, m)``; backward ``dW = dz cols^T``, ``db = dz 1``,
  ``dx = col2im(W^T dz)`` (``dz`` as ``C_out x Ho*Wo*m``).
* :class:`Activation`: the network's activation ``h`` (the estimator's ``activation``,
  ReLU by default), ``y = h(x)``, ``dx = dy * h'(x)``.
* :class:`MaxPool2d` ``(k, stride s = k)``: max over each window, gradient to the first maximum.
* :class:`Flatten`: ``(C, H, W, m) -> (C*H*W, m)``, feature index ``c*H*W + h*W + w``.

Each layer maps input shapes to output shapes (without the batch axis) and has a
``forward(x, W, b) -> (y, ctx)`` and a ``backward(dy, ctx, W, need_w, need_x) -> (dx, dW, db)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .._backend import get_namespace
from . import conv as C

__all__ = ["Dense", "Conv2d", "Activation", "ReLU", "MaxPool2d", "Flatten", "layer_from_spec", "LAYER_TYPES"]


def _linear(W, b, inp):
    z = W @ inp
    return z if b is None else z + b


@dataclass(frozen=True)
class Dense:
    """Fully connected layer ``z = W a + b`` on flat batches ``(in_features, m)``."""

    in_features: int
    out_features: int
    weighted = True

    @property
    def weight_shape(self):
        return (self.out_features, self.in_features)

    def out_shape(self, shape):
        if tuple(shape) != (self.in_features,):
            raise ValueError(f"{self}: input has shape {tuple(shape)}, expected ({self.in_features},) "
                             f"(a flat batch; put Flatten() after the image layers)")
        return (self.out_features,)

    def inputs(self, x):
        """The matrix the weight multiplies (the layer input itself)."""
        return x, None

    def output(self, z, ctx, m):
        return z

    def backward_input(self, W, dz, ctx, x_shape):
        return W.T @ dz

    def grad_view(self, dy):
        return dy


@dataclass(frozen=True)
class Conv2d:
    """2-D convolution (cross-correlation) ``C_in -> C_out`` with a square ``kernel_size``
    window, ``stride`` and zero ``padding``, as one GEMM on the im2col patch matrix."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    weighted = True

    @property
    def weight_shape(self):
        return (self.out_channels, self.in_channels * self.kernel_size ** 2)

    def out_shape(self, shape):
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise ValueError(f"{self}: input has shape {tuple(shape)}, expected ({self.in_channels}, H, W)")
        k, s, p = self.kernel_size, self.stride, self.padding
        Ho, Wo = C.conv_out_size(shape[1], k, s, p), C.conv_out_size(shape[2], k, s, p)
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{self}: a {shape[1]}x{shape[2]} input is smaller than the kernel")
        return (self.out_channels, Ho, Wo)

    def inputs(self, x):
        k, s, p = self.kernel_size, self.stride, self.padding
        Ho = C.conv_out_size(x.shape[1], k, s, p)
        Wo = C.conv_out_size(x.shape[2], k, s, p)
        return C.im2col(x, k, s, p), (Ho, Wo)

    def output(self, z, ctx, m):
        xp = get_namespace(z)
        return xp.reshape(z, (self.out_channels, ctx[0], ctx[1], m))

    def backward_input(self, W, dz, ctx, x_shape):
        return C.col2im(W.T @ dz, x_shape, self.kernel_size, self.stride, self.padding)

    def grad_view(self, dy):
        xp = get_namespace(dy)
        return xp.reshape(dy, (self.out_channels, -1))


@dataclass(frozen=True)
class Activation:
    """The network's activation ``h`` (elementwise; its name is the estimator's ``activation``)."""

    weighted = False

    def out_shape(self, shape):
        return tuple(shape)


#: ``ReLU`` reads better in an architecture list; it is the network's activation (ReLU by default).
ReLU = Activation


@dataclass(frozen=True)
class MaxPool2d:
    """Max pooling over ``kernel_size`` x ``kernel_size`` windows with ``stride`` (default:
    the kernel size), no padding, floor mode."""

    kernel_size: int
    stride: int | None = None
    weighted = False

    @property
    def s(self):
        return self.kernel_size if self.stride is None else self.stride

    def out_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"{self}: input has shape {tuple(shape)}, expected (C, H, W)")
        Ho = C.conv_out_size(shape[1], self.kernel_size, self.s)
        Wo = C.conv_out_size(shape[2], self.kernel_size, self.s)
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{self}: a {shape[1]}x{shape[2]} input is smaller than the window")
        return (shape[0], Ho, Wo)

    def forward(self, x):
        return C.maxpool_forward(x, self.kernel_size, self.s)

    def backward(self, dy, x, y):
        return C.maxpool_backward(dy, x, y, self.kernel_size, self.s)


@dataclass(frozen=True)
class Flatten:
    """``(C, H, W, m) -> (C*H*W, m)`` (a reshape: the same memory in the samples-last layout)."""

    weighted = False

    def out_shape(self, shape):
        n = 1
        for d in shape:
            n *= int(d)
        return (n,)


LAYER_TYPES = {"dense": Dense, "conv2d": Conv2d, "activation": Activation, "maxpool2d": MaxPool2d,
               "flatten": Flatten}
_NAMES = {cls: name for name, cls in LAYER_TYPES.items()}


def layer_spec(layer) -> dict:
    """JSON form of a layer: ``{"type": ..., **fields}``."""
    return {"type": _NAMES[type(layer)], **asdict(layer)}


def layer_from_spec(spec):
    """A layer from its JSON form (or the layer itself; a layer class such as ``ReLU`` is instantiated)."""
    if isinstance(spec, type) and spec in _NAMES:
        return spec()
    if type(spec) in _NAMES:
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("type", None)
        if name not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {name!r}; known: {sorted(LAYER_TYPES)}")
        return LAYER_TYPES[name](**spec)
    raise ValueError(f"not a layer: {spec!r}")
