r"""The image operations of the convolutional layers: im2col / col2im and max pooling.

Layout ("samples last", the image version of the project's samples-in-columns
convention): a batch of m images with C channels of H x W pixels is an array
``x`` of shape ``(C, H, W, m)``. A flat batch ``a`` (``C*H*W x m``, samples in
columns, feature index ``c*H*W + h*W + w``) is the same memory, ``reshape(a, (C, H, W, m))``,
so the input rows of a dataset and the input of a Dense layer after Flatten need
no copy, and a convolution's product ``W @ cols`` is already ``(C_out, Ho, Wo, m)``.

im2col (kernel k x k, stride s, zero padding p; ``Ho = (H + 2p - k) // s + 1``, same for Wo)::

    cols[(c, i, j), (ho, wo, n)] = xp[c, ho*s + i, wo*s + j, n],    xp = x zero-padded by p

rows ordered ``c*k*k + i*k + j`` (the column order of a conv weight stored as the
2-D matrix ``W`` of shape ``C_out x C_in*k*k``), columns ``(ho*Wo + wo)*m + n``.
A convolution (cross-correlation, as in every framework) is then one GEMM,
``z = W cols + b``. col2im is its adjoint: it scatters-adds every column entry back to
the pixel it was read from (padding entries are dropped),

    <im2col(x), C> = <x, col2im(C)>      for all x, C,

so the backward pass of ``z = W im2col(x)`` is ``dW = dz cols^T`` and
``dx = col2im(W^T dz)``.

Max pooling (window k x k, stride s, no padding, floor mode)::

    y[c, ho, wo, n] = max_{i,j < k} x[c, ho*s + i, wo*s + j, n],
    dx[c, ho*s + i, wo*s + j, n] += dy[c, ho, wo, n]   for the first (i*k + j) with x[...] = y[c, ho, wo, n]

(the subgradient that sends each output's gradient to the first maximal input of its
window; the backward pass finds it again from ``x`` and ``y`` instead of storing an argmax).

Each function takes its namespace from its inputs. For NumPy float32/float64 arrays
the Numba kernels of :mod:`admmnet.kernels.numba_conv` do the same arithmetic (tested
against these versions, the oracle); pass ``fast=False`` to force the array-API version.
"""
from __future__ import annotations

from .._backend import get_namespace

__all__ = ["conv_out_size", "pad", "im2col", "col2im", "maxpool_forward", "maxpool_backward"]


def conv_out_size(n: int, k: int, s: int, p: int = 0) -> int:
    """``(n + 2p - k) // s + 1``: output length of a window k, stride s, padding p on length n."""
    return (n + 2 * p - k) // s + 1


def _numba(*arrays):
    from ..kernels import numba_conv

    return numba_conv if numba_conv.usable(*arrays) else None


def pad(x, p: int):
    """``x`` (C, H, W, m) with p zero rows/columns on every side of each image."""
    if p == 0:
        return x
    xp = get_namespace(x)
    C, H, W, m = x.shape
    out = xp.zeros((C, H + 2 * p, W + 2 * p, m), dtype=x.dtype)
    out[:, p:p + H, p:p + W, :] = x
    return out


def _window(x, i: int, j: int, s: int, Ho: int, Wo: int):
    """``x[:, i + s*ho, j + s*wo, :]`` for ho < Ho, wo < Wo (a strided view)."""
    return x[:, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s, :]


def im2col(x, k: int, s: int = 1, p: int = 0, *, fast: bool = True):
    """The patch matrix ``cols`` (``C*k*k x Ho*Wo*m``) of images ``x`` (C, H, W, m) (module docstring)."""
    C, H, W, m = x.shape
    Ho, Wo = conv_out_size(H, k, s, p), conv_out_size(W, k, s, p)
    nb = _numba(x) if fast else None
    if nb is not None:
        return nb.im2col(x, k, s, p, Ho, Wo)
    xp = get_namespace(x)
    x = pad(x, p)
    cols = xp.stack([_window(x, i, j, s, Ho, Wo) for i in range(k) for j in range(k)], axis=1)
    return xp.reshape(cols, (C * k * k, Ho * Wo * m))


def col2im(cols, shape, k: int, s: int = 1, p: int = 0, *, fast: bool = True):
    """The adjoint of :func:`im2col`: ``x`` of ``shape`` (C, H, W, m) with every entry of
    ``cols`` added to the pixel it was read from (entries that read padding are dropped)."""
    C, H, W, m = shape
    Ho, Wo = conv_out_size(H, k, s, p), conv_out_size(W, k, s, p)
    nb = _numba(cols) if fast else None
    if nb is not None:
        return nb.col2im(cols, tuple(int(v) for v in shape), k, s, p, Ho, Wo)
    xp = get_namespace(cols)
    c6 = xp.reshape(cols, (C, k, k, Ho, Wo, m))
    out = xp.zeros((C, H + 2 * p, W + 2 * p, m), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            hs, ws = slice(i, i + s * (Ho - 1) + 1, s), slice(j, j + s * (Wo - 1) + 1, s)
            out[:, hs, ws, :] = out[:, hs, ws, :] + c6[:, i, j, :, :, :]
    if p:
        out = out[:, p:p + H, p:p + W, :]
    return out


def maxpool_forward(x, k: int, s: int | None = None, *, fast: bool = True):
    """``y``: the max over every k x k window (stride s, default k) of ``x`` (C, H, W, m)."""
    s = k if s is None else s
    C, H, W, m = x.shape
    Ho, Wo = conv_out_size(H, k, s), conv_out_size(W, k, s)
    nb = _numba(x) if fast else None
    if nb is not None:
        return nb.maxpool_forward(x, k, s, Ho, Wo)
    xp = get_namespace(x)
    y = _window(x, 0, 0, s, Ho, Wo)
    for i in range(k):
        for j in range(k):
            if i or j:
                y = xp.maximum(y, _window(x, i, j, s, Ho, Wo))
    return y


def maxpool_backward(dy, x, y, k: int, s: int | None = None, *, fast: bool = True):
    """``dx`` (the shape of ``x``): each ``dy`` entry added to the first input of its window
    (offsets in ``i*k + j`` order) that equals the window's max ``y``
    (``y = maxpool_forward(x, k, s)``)."""
    s = k if s is None else s
    C, H, W, m = x.shape
    Ho, Wo = y.shape[1], y.shape[2]
    nb = _numba(dy, x, y) if fast else None
    if nb is not None:
        return nb.maxpool_backward(dy, x, y, k, s)
    xp = get_namespace(dy)
    dx = xp.zeros(x.shape, dtype=dy.dtype)
    zero = xp.zeros_like(dy)
    found = xp.zeros(dy.shape, dtype=xp.bool)
    for i in range(k):
        for j in range(k):
            hs, ws = slice(i, i + s * (Ho - 1) + 1, s), slice(j, j + s * (Wo - 1) + 1, s)
            hit = (x[:, hs, ws, :] == y) & ~found
            found = found | hit
            dx[:, hs, ws, :] = dx[:, hs, ws, :] + xp.where(hit, dy, zero)
    return dx
