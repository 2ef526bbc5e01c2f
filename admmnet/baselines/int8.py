r"""DQ and QAT: the 8-bit baselines, both evaluated through the integer path of
:mod:`admmnet.quant.int8` (int8 per-row weights, uint8 activations quantized per batch at
run time, int32 accumulation, requantisation with ``s_w s_a``).

DQ (dynamic quantization) converts a trained FP network: ``W_l -> (Q_l, s_l)`` per row by
max-abs (:func:`~admmnet.quant.int8.quantize_weight_int8`); nothing is retrained.

QAT (quantization-aware training) fine-tunes the FP network with both quantizers in the
forward pass, in float ("fake quantization"), and the straight-through estimator backward:

* weights: ``W~ = s round(W / s)``, ``s = max|W_row| / 127``; ``dR/dW := dR/dW~``;
* the input ``a`` of every layer: an observer keeps moving-average ranges
  ``lo <- (1 - c) lo + c min(a)``, ``hi <- (1 - c) hi + c max(a)`` (c = ``observer_momentum``,
  started from the first batch), ``a~ = s_a (clip(round(a / s_a) + zp, 0, 255) - zp)`` on that
  range; ``dR/da := dR/da~`` inside the range and 0 outside (clipped entries).

The trained network is then converted exactly as DQ converts, and evaluated on the integer
path (activation ranges from each batch at run time, as DQ).
"""
from __future__ import annotations

import time

from .._backend import get_namespace, to_float
from ..backprop import Objective
from ..model import register_model
from ..quant import make_level_set
from ..quant.int8 import act_qparams, fake_quant_act, fake_quant_weight, quantize_weight_int8
from .._validation import check_int, check_real
from ._base import BackpropModel
from .fp import _FP_DOC

__all__ = ["DQ", "QAT", "QATObjective", "INT8_LEVELS", "to_int8_network"]

#: int8 weight codes -127..127 (a symmetric signed 8-bit level set, 8 bits of storage).
INT8_LEVELS = make_level_set("signed", 8)


def to_int8_network(model, Ws, bs, act_batch: int):
    """The DQ conversion: per-row int8 weights, dynamic-int8 inference."""
    codes, scales = zip(*(quantize_weight_int8(W) for W in Ws))
    net = model._network(Ws, bs, codes=list(codes), scales=list(scales), level_set=INT8_LEVELS,
                         granularity="row", inference="int8-dynamic")
    net.act_batch = int(act_batch)
    return net


class QATObjective(Objective):
    """Fake-quantized int8 weights and activations with STE (module docstring)."""

    def __init__(self, n_layers: int, momentum: float = 0.01):
        self.momentum = momentum
        self.ranges: list = [None] * n_layers

    def forward_weights(self, Ws):
        return [fake_quant_weight(W) for W in Ws]

    def act_quant(self, training: bool):
        if not training:
            def dynamic(l, a):
                xp = get_namespace(a)
                s, zp = act_qparams(to_float(xp.min(a)), to_float(xp.max(a)))
                return fake_quant_act(a, s, zp)[0], None
            return dynamic

        def observed(l, a):
            xp = get_namespace(a)
            lo, hi = to_float(xp.min(a)), to_float(xp.max(a))
            if self.ranges[l] is None:
                self.ranges[l] = (lo, hi)
            else:
                c = self.momentum
                plo, phi = self.ranges[l]
                self.ranges[l] = ((1 - c) * plo + c * lo, (1 - c) * phi + c * hi)
            s, zp = act_qparams(*self.ranges[l])
            return fake_quant_act(a, s, zp)
        return observed


_INT8_DOC = """
    act_batch : int, default 256
        Rows per batch whose activations share one run-time (scale, zero point) at inference."""


@register_model
class DQ(BackpropModel):
    __doc__ = """DQ: dynamic int8 inference of the FP network (8 bits only, no retraining).

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``) and converts it:
    int8 per-row weights; at inference every layer's input is quantized per batch to uint8
    with its own scale and zero point, multiplied in int32 and rescaled
    (:mod:`admmnet.quant.int8`). ``predict``/``score`` run that integer path.

    Parameters
    ----------""" + _INT8_DOC + _FP_DOC

    method = "dq"
    bits = 8

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", act_batch=256, activation="relu", bias=True,
                 optimizer="adam", lr=1e-3, lr_schedule="cosine", momentum=0.9, weight_decay=0.0, batch_size=128,
                 max_epochs=30, patience=10, holdout_fraction=0.1, seed=0, dtype="float32", verbose=False):
        self.act_batch = act_batch
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        _check_act_batch(self.act_batch)

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        t0 = time.perf_counter()
        net = to_int8_network(self, Ws, bs, self.act_batch)
        rec = self._stage_record(net, "convert", len(records) + 1, time.perf_counter() - t0, Xt, yt)
        return net, records + [rec], stop


@register_model
class QAT(BackpropModel):
    __doc__ = """QAT: quantization-aware training with fake-quantized int8 weights and activations.

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``), fine-tunes it for
    ``qat_epochs`` epochs at ``qat_lr`` through the fake quantizers (moving-average
    observers, STE), then converts it to the DQ integer path.

    Parameters
    ----------
    qat_epochs : int, default 5
    qat_lr : float, default 1e-4
    observer_momentum : float, default 0.01
        Averaging constant c of the activation-range observers.""" + _INT8_DOC + _FP_DOC

    method = "qat"
    bits = 8

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", qat_epochs=5, qat_lr=1e-4, observer_momentum=0.01,
                 act_batch=256, activation="relu", bias=True, optimizer="adam", lr=1e-3, lr_schedule="cosine",
                 momentum=0.9, weight_decay=0.0, batch_size=128, max_epochs=30, patience=10,
                 holdout_fraction=0.1, seed=0, dtype="float32", verbose=False):
        self.qat_epochs = qat_epochs
        self.qat_lr = qat_lr
        self.observer_momentum = observer_momentum
        self.act_batch = act_batch
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        _check_act_batch(self.act_batch)
        check_int("qat_epochs", self.qat_epochs, lo=0)
        check_real("qat_lr", self.qat_lr, lo=0, lo_open=True)
        check_real("observer_momentum", self.observer_momentum, lo=0, lo_open=True, hi=1)

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        obj = QATObjective(len(Ws), float(self.observer_momentum))
        if self.qat_epochs > 0:
            res = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.qat_epochs, lr=self.qat_lr, objective=obj,
                            report=self._report(obj), stage="qat", patience=None)
            Ws, bs, stop = res.Ws, res.bs, res.stop
            records = records + res.records
        self.observer_ranges_ = [None if r is None else list(r) for r in obj.ranges]
        t0 = time.perf_counter()
        net = to_int8_network(self, Ws, bs, self.act_batch)
        rec = self._stage_record(net, "convert", len(records) + 1, time.perf_counter() - t0, Xt, yt)
        return net, records + [rec], stop


def _check_act_batch(v):
    check_int("act_batch", v, lo=1)
