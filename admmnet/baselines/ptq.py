r"""PTQ: post-training quantization of a full-precision network, no retraining.

Every weight matrix of the FP network is replaced by its projection onto the
scaled level set, the same projection as QNN-ADMM's G-step
(:func:`admmnet.quant.project`, thesis Algorithm 4 started from the global
breakpoint / grid search)::

    (alpha_l, Q_l) = argmin_{alpha > 0, Q in C} ||W_l - alpha Q||^2      (per layer or per row)

Biases stay full precision. The quantized network is ``a_l = h(alpha_l Q_l a_{l-1} + b_l)``.
"""
from __future__ import annotations

import time

from ..model import register_model
from ..quant import project
from ._base import BackpropModel, level_set_for
from .fp import _FP_DOC

__all__ = ["PTQ", "project_network"]


def project_network(Ws, level_set, granularity: str):
    """``(codes, scales)`` per layer: :func:`admmnet.quant.project` of every ``W_l``."""
    codes, scales = [], []
    for W in Ws:
        res = project(W, level_set, granularity=granularity)
        codes.append(res.Q)
        scales.append(res.alpha)
    return codes, scales


@register_model
class PTQ(BackpropModel):
    __doc__ = """Post-training quantization: project the FP network's weights onto the level set.

    ``fit`` trains the full-precision network with the FP parameters below (or takes
    ``fit(..., fp_model=fp)``), then projects every weight matrix with
    :func:`admmnet.quant.project` (QNN-ADMM's G-step); nothing is retrained.

    Parameters
    ----------
    bits, levels, granularity : the level set and scale granularity, as for
        :class:`admmnet.QNNADMM` (``levels="thesis"``: codes -(2^N-1)..2^N-1).""" + _FP_DOC

    method = "ptq"

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", bits=8, levels="thesis", granularity="layer",
                 activation="relu", bias=True, optimizer="adam", lr=1e-3, lr_schedule="cosine", momentum=0.9,
                 weight_decay=0.0, batch_size=128, max_epochs=30, patience=10, holdout_fraction=0.1, seed=0,
                 dtype="float32", verbose=False):
        self.bits = bits
        self.levels = levels
        self.granularity = granularity
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        self._validate_quantization()

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        ls = level_set_for(self.bits, self.levels)
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        t0 = time.perf_counter()
        codes, scales = project_network(Ws, ls, self.granularity)
        net = self._network(Ws, bs, codes=codes, scales=scales, level_set=ls, granularity=self.granularity)
        records = records + [self._stage_record(net, "ptq", len(records) + 1, time.perf_counter() - t0, Xt, yt)]
        return net, records, stop

