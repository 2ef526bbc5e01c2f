r"""LQ: layerwise ADMM quantization of a trained full-precision network (thesis ch. 5).

Start from the FP network W_1..W_L. For l = 1..L, with layers 1..l-1 already fixed
to their quantized values and layers l+1..L still full precision, solve

    min_{W_l, G_l in C_l}  R(G_1..G_{l-1}, W_l, W_{l+1}..W_L)   s.t.  W_l = G_l

by ADMM with the scaled multiplier U = lambda / rho, for k = 1..``admm_iters``:

* W-step (eq. 5.8): ``w_epochs`` epochs of mini-batch gradient descent (the optimizer
  of the FP stage) on ``R + rho/2 ||W_l - G_l + U||^2``, over W_l, the later FP layers
  and the biases;
* G-step (Algorithm 8): ``G_l = project(W_l + U)`` (:func:`admmnet.quant.project`,
  the same projection as QNN-ADMM's G-step);
* multiplier (eq. 5.16): ``U <- U + W_l - G_l`` (i.e. lambda <- lambda + rho (W_l - G_l));
  then ``rho <- rho_growth * rho`` (and U <- U / rho_growth, so that lambda is unchanged).

Then W_l := G_l is frozen and the not-yet-quantized layers l+1..L (and all biases) are
retrained for ``retrain_epochs`` epochs (eq. 5.17; the best held-out epoch is kept).
After the last layer only the biases remain trainable. Every weight matrix of the
result is exactly ``alpha_l Q_l`` with Q_l in the level set.
"""
from __future__ import annotations

import time

from .._backend import get_namespace, to_float
from ..backprop import Objective
from ..model import register_model
from ..quant import project
from .._validation import check_int, check_real
from ._base import BackpropModel, level_set_for
from .fp import _FP_DOC

__all__ = ["LQ", "LQPenalty"]


class LQPenalty(Objective):
    """The W-step's extra term ``rho/2 ||W_l - G_l + U||^2`` and its gradient ``rho (W_l - G_l + U)``."""

    def __init__(self, layer: int, G, U, rho: float):
        self.layer, self.G, self.U, self.rho = layer, G, U, rho

    def penalty(self, Ws):
        D = Ws[self.layer] - self.G + self.U
        grads = [None] * len(Ws)
        grads[self.layer] = self.rho * D
        xp = get_namespace(D)
        return 0.5 * self.rho * to_float(xp.sum(D * D)), grads


@register_model
class LQ(BackpropModel):
    __doc__ = """LQ: layerwise ADMM quantization of the FP network (thesis ch. 5; module docstring).

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``), then quantizes it
    one layer at a time by ADMM and retrains the remaining full-precision layers.

    Parameters
    ----------
    bits, levels, granularity : the level set and scale granularity, as for
        :class:`admmnet.QNNADMM`.
    rho : float, default 0.01
        Initial penalty of W_l = G_l (the loss R is a mean over samples).
    rho_growth : float, default 2.0
        rho is multiplied by this after every ADMM iteration.
    admm_iters : int, default 6
        ADMM iterations per layer.
    w_epochs : int, default 1
        Epochs of the W-step per ADMM iteration.
    retrain_epochs : int, default 3
        Epochs retraining the remaining FP layers after each layer is fixed.
    lq_lr : float, default 3e-4
        Learning rate of the W-steps and retraining (constant).""" + _FP_DOC

    method = "lq"

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", bits=4, levels="thesis", granularity="layer", rho=0.01,
                 rho_growth=2.0, admm_iters=6, w_epochs=1, retrain_epochs=3, lq_lr=3e-4, activation="relu",
                 bias=True, optimizer="adam", lr=1e-3, lr_schedule="cosine", momentum=0.9, weight_decay=0.0,
                 batch_size=128, max_epochs=30, patience=10, holdout_fraction=0.1, seed=0, dtype="float32",
                 verbose=False):
        self.bits = bits
        self.levels = levels
        self.granularity = granularity
        self.rho = rho
        self.rho_growth = rho_growth
        self.admm_iters = admm_iters
        self.w_epochs = w_epochs
        self.retrain_epochs = retrain_epochs
        self.lq_lr = lq_lr
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        self._validate_quantization()
        for name in ("rho", "lq_lr"):
            check_real(name, getattr(self, name), lo=0, lo_open=True)
        check_real("rho_growth", self.rho_growth, lo=1)
        for name in ("admm_iters", "w_epochs", "retrain_epochs"):
            check_int(name, getattr(self, name), lo=0)

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        ls = level_set_for(self.bits, self.levels)
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        L = len(Ws)
        codes, scales = [None] * L, [None] * L
        plain = Objective()
        for l in range(L):
            rho = float(self.rho)
            res = project(Ws[l], ls, granularity=self.granularity)
            G, U = res.G, xp.zeros_like(Ws[l])
            trainable = [j >= l for j in range(L)]
            for k in range(self.admm_iters):
                pen = LQPenalty(l, G, U, rho)
                if self.w_epochs > 0:
                    r = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.w_epochs, lr=self.lq_lr, objective=pen,
                                  trainable=trainable, train_bias=[bs is not None] * L,
                                  report=self._report(plain), stage=f"lq{l + 1}-admm{k + 1}",
                                  patience=None, use_holdout=False, schedule="constant")
                    Ws, bs = r.Ws, r.bs
                    records += r.records
                t0 = time.perf_counter()
                res = project(Ws[l] + U, ls, granularity=self.granularity, alpha0=res.alpha)
                G = res.G
                U = U + Ws[l] - G
                resid = to_float(xp.sqrt(xp.sum((Ws[l] - G) ** 2)) / (xp.sqrt(xp.sum(Ws[l] ** 2)) + 1e-30))
                if self.w_epochs > 0:
                    records[-1].update(rho=rho, residual_w=resid)
                    records[-1]["seconds"] += time.perf_counter() - t0     # the G- and multiplier steps
                rho *= float(self.rho_growth)
                U = U / float(self.rho_growth)
            # fix W_l = G_l: the final projection of W_l itself (so the fixed layer is the
            # level-set point nearest to the weights the W-steps arrived at)
            res = project(Ws[l], ls, granularity=self.granularity, alpha0=res.alpha)
            Ws = list(Ws)
            Ws[l] = res.G
            codes[l], scales[l] = res.Q, res.alpha
            if self.retrain_epochs > 0 and (l < L - 1 or bs is not None):
                r = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.retrain_epochs, lr=self.lq_lr, objective=plain,
                              trainable=[j > l for j in range(L)], train_bias=[bs is not None] * L,
                              report=self._report(plain), stage=f"lq{l + 1}-retrain", patience=None,
                              schedule="constant")
                Ws, bs = r.Ws, r.bs
                records += r.records
        t0 = time.perf_counter()
        net = self._network(Ws, bs, codes=codes, scales=scales, level_set=ls, granularity=self.granularity)
        records.append(self._stage_record(net, "lq-final", len(records) + 1, time.perf_counter() - t0, Xt, yt))
        for i, r in enumerate(records, 1):
            r["iteration"] = i
        return net, records, stop
