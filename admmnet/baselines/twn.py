r"""TWN: Ternary Weight Networks (Li et al. 2016), on the latent weights of a trained
full-precision network.

Every mini-batch's forward pass uses the ternary weights of the latent full-precision
weights W_l (:func:`admmnet.quant.ternary.twn_quantize`, recomputed every step)::

    Delta_l = 0.75 mean|W_l|,    T_l = sign(W_l) [|W_l| > Delta_l],
    alpha_l = mean{ |W_l,i| : |W_l,i| > Delta_l },    forward with alpha_l T_l

and the backward pass passes the gradient straight through to W_l,
``dR/dW_l := dR/d(alpha_l T_l)`` (STE). The evaluated and fitted network is
``alpha_l T_l`` of the kept (best held-out epoch) latent weights: TWN's own
approximate quantizer, not the exact projection.
"""
from __future__ import annotations

import time

from ..backprop import Objective
from ..model import register_model
from ..quant.ternary import twn_quantize
from .._validation import check_int, check_real
from ._base import BackpropModel
from ._ternary import method_level_set
from .fp import _FP_DOC

__all__ = ["TWN", "TWNObjective"]


class TWNObjective(Objective):
    """TWN forward weights, straight-through gradients (module docstring)."""

    def __init__(self, factor: float = 0.75):
        self.factor = factor

    def forward_weights(self, Ws):
        out = []
        for W in Ws:
            T, a = twn_quantize(W, self.factor)
            out.append(a * T)
        return out


@register_model
class TWN(BackpropModel):
    __doc__ = """TWN: ternary weights alpha_l {-1, 0, 1} by TWN's threshold rule, STE training.

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``; ``max_epochs=0``
    starts from the random initialisation), then trains ``twn_epochs`` epochs at
    ``twn_lr`` with the forward pass on the TWN-ternarized weights and gradients passed
    straight through to the latent weights (module docstring), keeping the best held-out
    epoch. The fitted network is exactly ``alpha_l x codes``.

    Parameters
    ----------
    bits, levels : ternary only: ``bits=1`` (thesis levels, the default) or
        ``levels="ternary"``; anything else raises ValueError.
    twn_epochs : int, default 30
    twn_lr : float, default 1e-3
        Epochs and (initial) learning rate of the TWN stage.
    threshold_factor : float, default 0.75
        Delta = threshold_factor * mean|W|: 0.75 as in the comparative study the issue
        names; Li et al. derive Delta ~ 0.7 mean|W| for Gaussian-like weights.
    twn_weight_decay : float, default 0.0
        Weight decay in the TWN stage (``weight_decay`` is the FP stage's).""" + _FP_DOC

    method = "twn"
    _keep_best_train = True     # without held-out rows: the best epoch on the training rows

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", bits=1, levels="thesis", twn_epochs=30, twn_lr=1e-3,
                 threshold_factor=0.75, twn_weight_decay=0.0, activation="relu", bias=True, optimizer="adam", lr=1e-3,
                 lr_schedule="cosine", momentum=0.9, weight_decay=0.0, batch_size=128, max_epochs=30, patience=10,
                 holdout_fraction=0.1, seed=0, dtype="float32", verbose=False):
        self.bits = bits
        self.levels = levels
        self.twn_epochs = twn_epochs
        self.twn_lr = twn_lr
        self.threshold_factor = threshold_factor
        self.twn_weight_decay = twn_weight_decay
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        check_real("twn_weight_decay", self.twn_weight_decay, lo=0)
        method_level_set("twn", self.bits, self.levels)
        check_int("twn_epochs", self.twn_epochs, lo=0)
        check_real("twn_lr", self.twn_lr, lo=0, lo_open=True)
        check_real("threshold_factor", self.threshold_factor, lo=0)

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        ls = method_level_set("twn", self.bits, self.levels)
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        obj = TWNObjective(float(self.threshold_factor))
        if self.twn_epochs > 0:
            res = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.twn_epochs, lr=self.twn_lr, objective=obj,
                            report=self._report(obj), stage="twn", weight_decay=float(self.twn_weight_decay))
            Ws, bs, stop = res.Ws, res.bs, res.stop
            records = records + res.records
        t0 = time.perf_counter()
        q = [twn_quantize(W, float(self.threshold_factor)) for W in Ws]
        net = self._network(Ws, bs, codes=[c for c, _ in q], scales=[a for _, a in q], level_set=ls)
        rec = self._stage_record(net, "twn-final", len(records) + 1, time.perf_counter() - t0, Xt, yt)
        return net, records + [rec], stop
