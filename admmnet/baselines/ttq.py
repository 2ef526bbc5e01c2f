r"""TTQ: Trained Ternary Quantization (Zhu et al. 2017), on the latent weights of a trained
full-precision network.

Per layer two learned positive scales wp_l, wn_l and latent full-precision weights W_l,
normalised to max|W_l| = 1 when the TTQ stage starts (as in the paper). Every forward pass
uses (:func:`admmnet.quant.ternary.ttq_quantize`)::

    Delta_l = t max|W_l|   (t = 0.05),
    w_t = wp_l  where W_l > Delta_l,   0  where |W_l| <= Delta_l,   -wn_l  where W_l < -Delta_l

and the backward pass (:func:`admmnet.quant.ternary.ttq_grads`) gives the scales their exact
gradients ``dR/dwp = sum_{W > Delta} dR/dw_t``, ``dR/dwn = -sum_{W < -Delta} dR/dw_t`` and
the latent weights the paper's scaled straight-through gradient (wp, 1, wn times dR/dw_t on
the positive, zero and negative parts). The latent weights take the optimizer of the FP
stage; the scales their own Adam (same learning rate and schedule), kept >= 1e-8.
Initial scales: the mean of W over its positive part and of |W| over its negative part
(TWN's estimate, in the FP weights' units), so the first ternary network is already close
to the FP one.

The fitted network stores codes in {-1, 0, 1} with two scales per layer (``scale`` = wp,
``scale_neg`` = wn of :class:`admmnet.network.Layer`): its weights are exactly
``wp [code = 1] - wn [code = -1]``, and ``model_bytes`` counts both scales.
"""
from __future__ import annotations

import time

from .._backend import get_namespace
from ..backprop import Objective
from ..backprop.optim import Adam, lr_at
from ..model import register_model
from ..quant.ternary import TTQ_THRESHOLD, ttq_grads, ttq_quantize, ttq_threshold
from .._validation import check_int, check_real
from ._base import BackpropModel
from ._ternary import EpochSnapshots, method_level_set
from .fp import _FP_DOC

__all__ = ["TTQ", "TTQObjective", "ttq_initial_scales"]


def ttq_initial_scales(W, t: float = TTQ_THRESHOLD):
    """``(wp, wn)``: mean of W over ``W > t max|W|`` and of -W over ``W < -t max|W|`` (0-d arrays)."""
    xp = get_namespace(W)
    delta = ttq_threshold(W, t)
    pos, neg = W > delta, W < -delta
    zero, one = xp.zeros_like(W), xp.ones_like(W)
    npos = xp.maximum(xp.sum(xp.where(pos, one, zero)), xp.ones_like(delta))
    nneg = xp.maximum(xp.sum(xp.where(neg, one, zero)), xp.ones_like(delta))
    return xp.sum(xp.where(pos, W, zero)) / npos, -xp.sum(xp.where(neg, W, zero)) / nneg


class TTQObjective(EpochSnapshots, Objective):
    """TTQ's forward weights and gradients; owns the scales wp, wn and their Adam (module docstring)."""

    def __init__(self, wp, wn, t: float, lr: float, schedule: str, epochs: int):
        self.wp, self.wn = list(wp), list(wn)
        self.t, self.lr, self.schedule, self.epochs = t, lr, schedule, epochs
        self.lr_e = lr
        self.opt = Adam()

    def state(self):
        return {"wp": list(self.wp), "wn": list(self.wn)}

    def start_epoch(self, Ws, epoch):
        self.snapshot(epoch)
        self.lr_e = lr_at(self.lr, self.schedule, epoch, self.epochs)
        return Ws

    def forward_weights(self, Ws):
        return [ttq_quantize(W, self.wp[l], self.wn[l], self.t)[1] for l, W in enumerate(Ws)]

    def weight_grads(self, Ws, dWs):
        out, g_scales = [], []
        for l, (W, d) in enumerate(zip(Ws, dWs)):
            if d is None:
                out.append(None)
                g_scales += [None, None]
                continue
            dW, dwp, dwn = ttq_grads(W, d, self.wp[l], self.wn[l], self.t)
            out.append(dW)
            g_scales += [dwp, dwn]
        L = len(Ws)
        params = [p for l in range(L) for p in (self.wp[l], self.wn[l])]
        new = self.opt.step(params, g_scales, self.lr_e)
        xp = get_namespace(Ws[0])
        floor = 1e-8
        self.wp = [xp.maximum(new[2 * l], xp.full_like(new[2 * l], floor)) for l in range(L)]
        self.wn = [xp.maximum(new[2 * l + 1], xp.full_like(new[2 * l + 1], floor)) for l in range(L)]
        return out


@register_model
class TTQ(BackpropModel):
    __doc__ = """TTQ: ternary weights {-wn_l, 0, +wp_l} with learned scales (Zhu et al. 2017).

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``; ``max_epochs=0``
    starts from the random initialisation), then trains ``ttq_epochs`` epochs at ``ttq_lr``
    (module docstring), keeping the best held-out epoch. The fitted network stores codes
    and two scales per layer; its weights are exactly ``wp`` / ``0`` / ``-wn``.

    Parameters
    ----------
    bits, levels : ternary only: ``bits=1`` (thesis levels, the default) or
        ``levels="ternary"``; anything else raises ValueError.
    ttq_epochs : int, default 30
    ttq_lr : float, default 1e-3
        Epochs and (initial) learning rate of the TTQ stage (latent weights and scales).
    threshold : float, default 0.05
        t of the threshold Delta = t max|W| (0.05 in the paper).
    ttq_weight_decay : float, default 0.0
        Weight decay in the TTQ stage (``weight_decay`` is the FP stage's).""" + _FP_DOC

    method = "ttq"
    _keep_best_train = True     # without held-out rows: the best epoch on the training rows

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", bits=1, levels="thesis", ttq_epochs=30, ttq_lr=1e-3,
                 threshold=TTQ_THRESHOLD, ttq_weight_decay=0.0, activation="relu", bias=True, optimizer="adam", lr=1e-3,
                 lr_schedule="cosine", momentum=0.9, weight_decay=0.0, batch_size=128, max_epochs=30, patience=10,
                 holdout_fraction=0.1, seed=0, dtype="float32", verbose=False):
        self.bits = bits
        self.levels = levels
        self.ttq_epochs = ttq_epochs
        self.ttq_lr = ttq_lr
        self.threshold = threshold
        self.ttq_weight_decay = ttq_weight_decay
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        check_real("ttq_weight_decay", self.ttq_weight_decay, lo=0)
        method_level_set("ttq", self.bits, self.levels)
        check_int("ttq_epochs", self.ttq_epochs, lo=0)
        check_real("ttq_lr", self.ttq_lr, lo=0, lo_open=True)
        check_real("threshold", self.threshold, lo=0, hi=1, hi_open=True)

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        ls = method_level_set("ttq", self.bits, self.levels)
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        t = float(self.threshold)
        scales = [ttq_initial_scales(W, t) for W in Ws]
        Ws = [W / xp.maximum(xp.max(xp.abs(W)), xp.asarray(1e-30, dtype=W.dtype)) for W in Ws]  # to [-1, 1]
        obj = TTQObjective([s[0] for s in scales], [s[1] for s in scales], t, float(self.ttq_lr),
                           self.lr_schedule, int(self.ttq_epochs))
        st = obj.state()
        if self.ttq_epochs > 0:
            res = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.ttq_epochs, lr=self.ttq_lr, objective=obj,
                            report=self._report(obj), stage="ttq", weight_decay=float(self.ttq_weight_decay))
            Ws, bs, stop = res.Ws, res.bs, res.stop
            records = records + res.records
            st = obj.state_after(res.best_epoch)
        t0 = time.perf_counter()
        codes = [ttq_quantize(W, st["wp"][l], st["wn"][l], t)[0] for l, W in enumerate(Ws)]
        net = self._network(Ws, bs, codes=codes, scales=st["wp"], scales_neg=st["wn"], level_set=ls)
        rec = self._stage_record(net, "ttq-final", len(records) + 1, time.perf_counter() - t0, Xt, yt)
        return net, records + [rec], stop
