r"""ADMM ternary: "Extremely Low Bit Neural Network: Squeeze the Last Bit Out with ADMM"
(Leng et al. 2018), ternary (or binary) weights with an optimal scale per layer.

The constrained problem ``min R(W)  s.t.  W_l = G_l in alpha_l {-1, 0, 1}^{n_l}`` is split by
ADMM with the scaled dual U_l (lambda_l / rho), all layers at once:

* W-step: ``admm_interval`` epochs of mini-batch training (the optimizer of the FP stage)
  on ``R(W) + sum_l rho/2 ||W_l - G_l + U_l||^2`` (gradient ``rho (W_l - G_l + U_l)``);
* G-step: ``G_l = Pi(W_l + U_l)``, the exact projection onto alpha {-1, 0, 1} with the
  optimal alpha (:func:`admmnet.quant.ternary.ternary_project_exact`; binary: sign and
  mean|.|);
* dual: ``U_l <- U_l + W_l - G_l``; then the continuation ``rho <- rho_growth rho`` with
  ``U <- U / rho_growth`` (lambda unchanged).

With ``rho_scaling="weights"`` layer l's penalty is ``rho c_l / 2 ||W_l - G_l + U_l||^2`` with
``c_l = mean(W^2) / mean(W_l^2)`` of the starting weights (``mean(W^2)`` over every weight of the
network): the pull towards G is then the same relative to each layer's own weight scale, where
one rho pulls a layer of large weights (a first convolution with 25 inputs a filter) harder, in
relative terms, than a wide dense layer of small ones. The scaled dual ``U_l = lambda_l / (rho
c_l)`` keeps its updates; the factors stay fixed while rho grows.

The G-, dual and rho steps come every ``admm_interval`` epochs, or, with ``admm_steps=k``,
after every k optimizer steps (Leng et al. alternate within an epoch; a short fine-tuning
stage, e.g. 3 epochs of a CNN, would otherwise get only two G-steps).

G starts as ``Pi(W)`` of the starting (trained FP) weights and U at 0. The evaluated and
fitted network is G: after every epoch ``Pi(W_l + U_l)`` (the G the next G-step makes) is
scored on the held-out rows, and the fitted network is that of the kept epoch.

Optionally (``finetune_epochs > 0``) the codes of that G are then frozen and its scales and
biases trained for a few more epochs (:class:`FixedCodes`): projected gradient steps on the
set ``{alpha_l Q_l}``, whose projection is the least-squares scale
``alpha_l = <W_l, Q_l> / <Q_l, Q_l>``. The fine-tuned network replaces G only when it scores
at least as well on the held-out rows (the training rows without them).
"""
from __future__ import annotations

import math
import time

from .._backend import get_namespace, to_float
from ..backprop import Objective
from ..model import register_model
from ..quant.ternary import binary_project_exact, ternary_project_exact
from .._validation import check_choice, check_int, check_real
from ._base import BackpropModel
from ._ternary import EpochSnapshots, ScaledDualADMM, method_level_set
from .fp import _FP_DOC

__all__ = ["ADMMTernary", "ADMMTernaryObjective", "FixedCodes"]

#: The ``rho_scaling`` choices (the estimator's parameter and the objective's argument).
RHO_SCALINGS = ("none", "weights")


class ADMMTernaryObjective(ScaledDualADMM, EpochSnapshots, Objective):
    """Penalty ``rho/2 ||W - G + U||^2`` per layer (times ``c_l`` with ``rho_scaling="weights"``,
    :func:`weight_scale_factors`); G- and dual steps every ``interval`` epochs (or ``steps``
    optimizer steps)."""

    def __init__(self, Ws, binary: bool, rho: float, rho_growth: float, interval: int, steps: int | None = None,
                 rho_scaling: str = "none"):
        self.proj = binary_project_exact if binary else ternary_project_exact
        self.rho, self.rho_growth, self.interval, self.steps = rho, rho_growth, interval, steps
        self.n_steps, self.n_g_steps = 0, 0
        xp = get_namespace(Ws[0])
        if check_choice("rho_scaling", rho_scaling, RHO_SCALINGS) == "weights":
            self.layer_scales = weight_scale_factors(Ws)
        self.G = [self._G(W) for W in Ws]
        self.U = [xp.zeros_like(W) for W in Ws]

    def _G(self, W):
        codes, alpha = self.proj(W)
        return alpha * codes

    def state(self):
        return {"U": list(self.U), "rho": self.rho}

    def g_step(self, Ws) -> None:
        """G = Pi(W + U), U += W - G, then rho *= growth with U /= growth."""
        self.G = [self._G(W + U) for W, U in zip(Ws, self.U)]
        self.dual_step(Ws)
        self.n_g_steps += 1

    def start_epoch(self, Ws, epoch):
        self.snapshot(epoch)          # the state the previous epoch was evaluated with
        if self.steps is None and epoch > 0 and epoch % self.interval == 0:
            self.g_step(Ws)
        return Ws

    def after_step(self, Ws):
        if self.steps is not None:
            self.n_steps += 1
            if self.n_steps % self.steps == 0:
                self.g_step(Ws)
        return Ws

    def eval_weights(self, Ws):
        return [self._G(W + U) for W, U in zip(Ws, self.U)]


def weight_scale_factors(Ws) -> list[float]:
    """``c_l = mean(W^2) / mean(W_l^2)``: the whole network's mean square weight over layer l's
    (1.0 for a layer that is all zero, or when every weight is zero)."""
    xp = get_namespace(Ws[0])
    sq = [to_float(xp.sum(W * W)) for W in Ws]
    n = [math.prod(W.shape) for W in Ws]
    total = sum(sq) / sum(n)
    return [total / (q / k) if q > 0 and total > 0 else 1.0 for q, k in zip(sq, n)]


class FixedCodes(Objective):
    r"""Training on the set ``{alpha_l Q_l : alpha_l}`` with the codes ``Q_l`` fixed.

    After every optimizer step the weights are projected back onto the line spanned by
    ``Q_l``: :math:`W_l \leftarrow \alpha_l Q_l` with
    :math:`\alpha_l = \langle W_l, Q_l\rangle / \langle Q_l, Q_l\rangle`, the closest point
    of the set (so a plain gradient step followed by it is projected gradient descent on the
    scales). Codes that are all zero keep ``alpha_l = 0``."""

    def __init__(self, codes):
        self.codes = list(codes)
        xp = get_namespace(self.codes[0])
        self._qq = [xp.sum(Q * Q) for Q in self.codes]

    def scale(self, l: int, W):
        """The least-squares scale of layer ``l`` for weights ``W`` (a 0-d array)."""
        xp = get_namespace(W)
        qq = self._qq[l]
        return xp.where(qq > 0, xp.sum(W * self.codes[l]) / xp.maximum(qq, xp.ones_like(qq)), xp.zeros_like(qq))

    def after_step(self, Ws):
        return [self.scale(l, W) * Q for l, (W, Q) in enumerate(zip(Ws, self.codes))]


@register_model
class ADMMTernary(BackpropModel):
    __doc__ = """ADMM ternary (Leng et al. 2018): W trained with an ADMM penalty towards its exact
    ternary projection G (module docstring); the fitted network is G.

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``), then runs
    ``admm_epochs`` epochs of ADMM, keeping the best held-out epoch.

    Parameters
    ----------
    bits, levels : ternary (``bits=1`` with the thesis levels, the default, or
        ``levels="ternary"``) or binary (``levels="binary"``); anything else raises ValueError.
    admm_epochs : int, default 30
    admm_lr : float, default 1e-3
        Epochs and (initial) learning rate of the ADMM stage.
    rho : float, default 1e-2
        Initial penalty (the loss R is a mean over samples).
    rho_growth : float, default 1.1
        rho is multiplied by this at every G-step.
    rho_scaling : {"none", "weights"}, default "none"
        "weights": layer l's penalty is multiplied by ``mean(W^2) / mean(W_l^2)`` of the starting
        weights (module docstring), so rho pulls every layer alike relative to its weight scale.
    admm_interval : int, default 1
        Epochs of W-steps between G-/dual steps.
    admm_steps : int or None, default None
        When set, G-/dual steps after every ``admm_steps`` optimizer steps instead
        (``admm_interval`` is then unused).
    admm_weight_decay : float, default 0.0
        Weight decay in the ADMMTernary stage (``weight_decay`` is the FP stage's).
    finetune_epochs : int, default 0
        Epochs training the final G's scales and biases with its codes frozen
        (:class:`FixedCodes`, at ``admm_lr``); kept only when the held-out score does not drop.""" + _FP_DOC

    method = "admm-ternary"
    _keep_best_train = True     # without held-out rows: the best epoch on the training rows

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", bits=1, levels="thesis", admm_epochs=30, admm_lr=1e-3, rho=1e-2,
                 rho_growth=1.1, rho_scaling="none", admm_interval=1, admm_steps=None, admm_weight_decay=0.0, finetune_epochs=0,
                 activation="relu", bias=True,
                 optimizer="adam", lr=1e-3,
                 lr_schedule="cosine", momentum=0.9, weight_decay=0.0, batch_size=128, max_epochs=30, patience=10,
                 holdout_fraction=0.1, seed=0, dtype="float32", verbose=False):
        self.bits = bits
        self.levels = levels
        self.admm_epochs = admm_epochs
        self.admm_lr = admm_lr
        self.rho = rho
        self.rho_growth = rho_growth
        self.rho_scaling = rho_scaling
        self.admm_interval = admm_interval
        self.admm_steps = admm_steps
        self.admm_weight_decay = admm_weight_decay
        self.finetune_epochs = finetune_epochs
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        check_real("admm_weight_decay", self.admm_weight_decay, lo=0)
        method_level_set("admm-ternary", self.bits, self.levels, binary=True)
        check_int("admm_epochs", self.admm_epochs, lo=0)
        check_int("finetune_epochs", self.finetune_epochs, lo=0)
        check_int("admm_interval", self.admm_interval, lo=1)
        check_int("admm_steps", self.admm_steps, lo=1, none=True)
        for name in ("admm_lr", "rho"):
            check_real(name, getattr(self, name), lo=0, lo_open=True)
        check_real("rho_growth", self.rho_growth, lo=1)
        check_choice("rho_scaling", self.rho_scaling, RHO_SCALINGS)

    def _admm_report(self, obj):
        """Per-epoch fields: the base report plus rho and the G-steps so far."""
        base = self._report(obj)
        return lambda Ws, bs: {**base(Ws, bs), "rho": obj.rho, "g_steps": obj.n_g_steps}

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        ls = method_level_set("admm-ternary", self.bits, self.levels, binary=True)
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        obj = ADMMTernaryObjective(Ws, not ls.zero, float(self.rho), float(self.rho_growth), int(self.admm_interval),
                                   None if self.admm_steps is None else int(self.admm_steps), self.rho_scaling)
        U = obj.U
        if self.admm_epochs > 0:
            res = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.admm_epochs, lr=self.admm_lr, objective=obj,
                            report=self._admm_report(obj), stage="admm", weight_decay=float(self.admm_weight_decay))
            Ws, bs, stop = res.Ws, res.bs, res.stop
            records = records + res.records
            U = obj.state_after(res.best_epoch)["U"]
        t0 = time.perf_counter()
        q = [obj.proj(W + u) for W, u in zip(Ws, U)]
        if self.finetune_epochs > 0 and not self._interrupted:
            q, bs, records, stop = self._finetune(q, bs, Xt, yt, Xh, yh, records, stop)
        net = self._network(Ws, bs, codes=[c for c, _ in q], scales=[a for _, a in q], level_set=ls)
        rec = self._stage_record(net, "admm-final", len(records) + 1, time.perf_counter() - t0, Xt, yt)
        return net, records + [rec], stop

    def _finetune(self, q, bs, Xt, yt, Xh, yh, records, stop):
        """``finetune_epochs`` of :class:`FixedCodes` from G = alpha Q (codes ``q``); the result
        replaces G only when its held-out score (or, without held-out rows, its training-probe
        score) is at least G's."""
        from ..backprop import evaluate

        ft = FixedCodes([c for c, _ in q])
        G = [a * c for c, a in q]
        res = self._run(G, bs, Xt, yt, Xh, yh, epochs=self.finetune_epochs, lr=self.admm_lr, objective=ft,
                        report=self._report(ft), stage="admm-finetune", weight_decay=0.0, patience=None)
        rows = (Xh, yh) if Xh is not None else (Xt[:10000], yt[:10000])
        acc0, loss0 = evaluate(G, bs, *rows, self.activation, arch=self._arch)
        acc1, loss1 = evaluate(res.Ws, res.bs, *rows, self.activation, arch=self._arch)
        records = records + res.records
        if res.records and (acc1, -loss1) >= (acc0, -loss0):
            q = [(c, ft.scale(l, W)) for l, (c, W) in enumerate(zip(ft.codes, res.Ws))]
            bs, stop = res.bs, res.stop
        return q, bs, records, stop
