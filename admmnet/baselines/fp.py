"""FP: the full-precision MLP trained by backpropagation (the reference every table compares to)."""
from __future__ import annotations

from ..model import register_model
from ._base import BackpropModel

__all__ = ["FPMLP"]

_FP_DOC = """
    hidden_sizes : sequence of int, default (200, 200)
        Hidden widths; input and output widths come from the data (``arch="mlp"`` only).
    arch : {"mlp", "lenet5", "lenet5-caffe"} or a layer list, default "mlp"
        The network: the dense MLP of ``hidden_sizes``, or a convolutional network
        (:mod:`admmnet.backprop.arch`, docs/cnn.md) on the image rows of X (``C*H*W`` features
        per row, e.g. MNIST's 784 = 1x28x28; data of another width is refused).
    activation : {"relu", "hardsigmoid", "identity", "leaky_relu"}
    bias : bool, default True
        Full-precision bias per layer (never quantized).
    optimizer : {"adam", "sgd"}, default "adam"
        Adam with decoupled weight decay (AdamW), or SGD with momentum ``momentum``
        (:mod:`admmnet.backprop.optim`).
    lr : float, default 1e-3
    lr_schedule : {"cosine", "constant"}, default "cosine"
        Cosine decay from ``lr`` towards 0 over ``max_epochs``.
    momentum : float, default 0.9 (SGD only)
    weight_decay : float, default 0.0
        AdamW: decoupled decay ``lr * weight_decay * W``; SGD: L2 term. Weights only, not biases.
    batch_size : int, default 128
    max_epochs : int, default 30
    patience : int or None, default 10
        Early stopping: stop after this many epochs without a better held-out accuracy;
        the best epoch's parameters are kept either way.
    holdout_fraction : float, default 0.1
        Stratified part of the training rows held out for early stopping / best-epoch selection.
    seed : int, default 0
        Initialisation, held-out split and shuffling: same seed, same result.
    dtype : {"float32", "float64"}
    verbose : bool
        One progress line per epoch (stderr)."""


@register_model
class FPMLP(BackpropModel):
    __doc__ = """Full-precision MLP trained by mini-batch backpropagation (the FP baseline).

    Forward ``a_l = h(W_l a_{l-1} + b_l)``, softmax cross-entropy on the logits,
    gradients by the hand-written backward pass of :mod:`admmnet.backprop.engine`,
    Adam (or SGD with momentum), seeded shuffling, early stopping on a held-out
    part of the training rows. Its fitted model is the starting point of PTQ,
    DQ and LQ (``fit(..., fp_model=fp)`` or ``admmnet train --from fp.npz``).

    Parameters
    ----------""" + _FP_DOC

    method = "fp"

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", activation="relu", bias=True, optimizer="adam", lr=1e-3,
                 lr_schedule="cosine", momentum=0.9, weight_decay=0.0, batch_size=128, max_epochs=30,
                 patience=10, holdout_fraction=0.1, seed=0, dtype="float32", verbose=False):
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        return self._network(Ws, bs), records, stop
