r"""Cross-layer equalization: rescale a network's hidden units before it is quantized.

A positively homogeneous activation (``h(c z) = c h(z)`` for ``c > 0``: the ReLU, the
identity) lets every hidden unit j of layer l be rescaled without changing the network's
function:

.. math::
    W_l[j, :] \leftarrow c_j W_l[j, :],\quad b_l[j] \leftarrow c_j b_l[j],\quad
    W_{l+1}[:, j] \leftarrow W_{l+1}[:, j] / c_j .

A level set with one scale per layer (``alpha_l Q_l``) does not see these networks as equal:
a unit whose row of W_l is small next to the other rows, or whose column of W_{l+1} is small
next to the other columns, falls to the zero code. After the FP phase of QNN-ADMM the
hidden layers are balanced (the ridge of the W-solve sees to that), but the output layer,
refitted on the cross-entropy, has columns 5-30 times the size of the rows feeding them and
spread up to tenfold among themselves.

Cross-layer equalization (Nagel, van Baalen, Blankevoort and Welling, "Data-Free Quantization
Through Weight Equalization and Bias Correction", ICCV 2019) chooses

.. math:: c_j = \sqrt{r^{(2)}_j / r^{(1)}_j},

with :math:`r^{(1)}_j` the range of row j of W_l and :math:`r^{(2)}_j` that of column j of
W_{l+1}; afterwards both are :math:`\sqrt{r^{(1)}_j r^{(2)}_j}`, which maximises the product
of the two channels' ranges relative to their tensors' (the paper's Section 4.1). The pairs
(l, l+1) are swept from the input up, ``rounds`` times (each sweep changes the ranges the next
one reads; a few sweeps settle them). ``norm="max"`` takes ranges as ``max |w|`` (the
paper's); ``norm="l2"`` as Euclidean norms. A unit whose row or column is zero is left as it is.

The layerwise quantizer (:mod:`admmnet.admm.layerwise`, ``layerwise_equalize``) runs on the
equalized network: its targets are the same function's pre-activations, rescaled. It uses the
weights alone: no data, no gradient.
"""
from __future__ import annotations

from .._backend import get_namespace

__all__ = ["NORMS", "HOMOGENEOUS", "equalize_network", "channel_ranges"]

#: Range measures of :func:`channel_ranges`.
NORMS = ("max", "l2")
#: Activations with ``h(c z) = c h(z)`` for every ``c > 0`` (the rescaling keeps the function).
HOMOGENEOUS = ("relu", "identity", "leaky_relu")


def channel_ranges(W, axis: int, norm: str = "max"):
    """Ranges of the rows (``axis=1``) or columns (``axis=0``) of ``W``: ``max |w|`` or the
    Euclidean norm."""
    xp = get_namespace(W)
    if norm == "max":
        return xp.max(xp.abs(W), axis=axis)
    if norm == "l2":
        return xp.sqrt(xp.sum(W * W, axis=axis))
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def equalize_network(Ws, bs, activation, *, norm: str = "max", rounds: int = 10):
    """Equalized copies of the weights ``Ws`` and biases ``bs`` (None without biases; each
    ``n_out x 1``) of a network with the hidden activation ``activation`` (an object with
    ``.name``, or its name): the same function, every hidden unit's row and outgoing column
    of equal range (module docstring). Raises ValueError for an activation that is not
    positively homogeneous (:data:`HOMOGENEOUS`), where rescaling would change the function.
    Returns ``(Ws, bs)``, new lists; the inputs are not modified."""
    name = getattr(activation, "name", activation)
    if name not in HOMOGENEOUS:
        raise ValueError(f"cross-layer equalization needs a positively homogeneous activation "
                         f"{HOMOGENEOUS}, got {name!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if not (isinstance(rounds, int) and rounds >= 0):
        raise ValueError(f"rounds must be an integer >= 0, got {rounds!r}")
    Ws = list(Ws)
    bs = None if bs is None else list(bs)
    for _ in range(rounds):
        for l in range(len(Ws) - 1):
            xp = get_namespace(Ws[l], Ws[l + 1])
            r1 = channel_ranges(Ws[l], 1, norm)
            r2 = channel_ranges(Ws[l + 1], 0, norm)
            ok = (r1 > 0) & (r2 > 0)
            one = xp.ones_like(r1)
            c = xp.where(ok, xp.sqrt(xp.where(ok, r2, one) / xp.where(ok, r1, one)), one)
            Ws[l] = Ws[l] * c[:, None]
            if bs is not None:
                bs[l] = bs[l] * xp.reshape(c, (-1, 1))
            Ws[l + 1] = Ws[l + 1] / c[None, :]
    return Ws, bs
