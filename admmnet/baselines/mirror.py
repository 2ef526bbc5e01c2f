r"""Mirror descent (MD) quantization (Ajanthan et al., "Mirror Descent View for Neural Network
Quantization"): MD-tanh, MD-softmax and their numerically stable forms MD-tanh-s,
MD-softmax-s, binary or ternary, on the layers of a trained full-precision network.

Each layer's weights are ``W_l = alpha_l x_l`` with a fixed per-layer scale alpha_l (the
optimal binary/ternary scale of the starting weights, :mod:`admmnet.quant.ternary`; the
paper's networks have batch normalisation and no scales, an MLP without it needs one) and
x_l in the relaxed set [-1, 1] (w-space) or ``x_l = <u_l, q>`` with u_l on the simplex over
the levels q (u-space). The maps and updates are in :mod:`admmnet.quant.mirror`:

* ``md-tanh-s`` / ``md-softmax-s`` (Eq. 23, Algorithm 2): the trainer's parameters are the
  auxiliary (dual) variables w~ (or u~, one vector per weight, shape ``(n_out, n_in, d)``);
  the forward pass uses ``x = P_beta(w~)``, the gradient ``g = dR/dx = alpha dR/dW``
  (for u-space ``alpha dR/dW q``) updates w~ directly with the optimizer's step
  ("Adam based gradients"): the Jacobian of P is replaced by the identity.
* ``md-tanh`` / ``md-softmax`` (Eq. 15 / Eq. 20, Algorithm 1): the primal point x (or u) is
  the state: after every step ``x <- P_beta(P_beta^{-1}(x) - s)`` (s the optimizer's step),
  implemented by mapping the updated dual to x and back through ``P^{-1}`` with x kept in
  the open set, so that saturated weights lose their dual magnitude (the floating-point
  behaviour of the closed-form updates). When beta grows the plain forms keep x, the
  stable forms keep w~.

beta starts at ``beta0`` (1 in the paper) and is multiplied by ``beta_scale`` every
``beta_interval`` optimizer steps, capped at ``beta_max``. The dual starts from the trained
weights in code units, ``w~ = W / alpha`` (Algorithm 1 line 2 / Algorithm 2 line 1), for
u-space ``u~_q = -(W/alpha - q)^2``. The evaluated and fitted network is the hard-quantized
one, ``alpha_l`` times sign / round (w-space) or argmax (u-space) of the primal point
(Appendix B.4), scored after every epoch; the best held-out epoch is kept.
"""
from __future__ import annotations

import math
import time

from .._backend import get_namespace
from ..backprop import Objective
from ..model import register_model
from ..quant import mirror as M
from ..quant.ternary import binary_project_exact, ternary_project_exact
from .._validation import check_int, check_real
from ._base import BackpropModel
from ._ternary import EpochSnapshots, method_level_set
from .fp import _FP_DOC

__all__ = ["MirrorDescent", "MirrorObjective", "MD_VARIANTS"]

#: ``variant`` values; ``--method md-<variant>`` on the command line.
MD_VARIANTS = ("tanh", "softmax", "tanh-s", "softmax-s")


class MirrorObjective(EpochSnapshots, Objective):
    """MD forward weights, gradients w.r.t. the primal point, plain/stable updates, beta annealing."""

    def __init__(self, alphas, *, space: str, stable: bool, ternary: bool, beta0: float = 1.0,
                 beta_scale: float = 1.0, beta_interval: int = 1, beta_max: float = math.inf):
        self.alphas, self.space, self.stable, self.ternary = list(alphas), space, stable, ternary
        self.beta, self.beta_scale, self.beta_interval, self.beta_max = beta0, beta_scale, beta_interval, beta_max
        self.k = 0

    # -- maps -------------------------------------------------------------------
    def initial_dual(self, W, alpha):
        w = W / alpha
        return w if self.space == "tanh" else M.softmax_init(w, self.ternary)

    def primal(self, D, beta=None):
        beta = self.beta if beta is None else beta
        if self.space == "tanh":
            return M.tanh_project(D, beta, self.ternary)
        return M.softmax_project(D, beta)

    def inverse(self, X):
        if self.space == "tanh":
            return M.tanh_inverse(X, self.beta, self.ternary)
        return M.softmax_inverse(X, self.beta)

    def _x(self, D):
        if self.space == "tanh":
            return self.primal(D)
        xp = get_namespace(D)
        return xp.sum(self.primal(D) * M.level_vector(xp, self.ternary, D.dtype), axis=-1)

    def codes(self, D, beta=None):
        """Hard codes of the primal point of dual ``D`` (sign / round / argmax)."""
        X = self.primal(D, beta)
        return M.tanh_codes(X, self.ternary) if self.space == "tanh" else M.softmax_codes(X, self.ternary)

    # -- trainer hooks -------------------------------------------------------------
    def state(self):
        return {"beta": self.beta}

    def start_epoch(self, Ws, epoch):
        self.snapshot(epoch)
        return Ws

    def forward_weights(self, Ws):
        return [a * self._x(D) for a, D in zip(self.alphas, Ws)]

    def eval_weights(self, Ws):
        return [a * self.codes(D) for a, D in zip(self.alphas, Ws)]

    def weight_grads(self, Ws, dWs):
        out = []
        for a, D, d in zip(self.alphas, Ws, dWs):
            if d is None:
                out.append(None)
            elif self.space == "tanh":
                out.append(a * d)
            else:
                xp = get_namespace(D)
                out.append(a * d[..., None] * M.level_vector(xp, self.ternary, D.dtype))
        return out

    def after_step(self, Ws):
        X = None if self.stable else [self.primal(D) for D in Ws]
        self.k += 1
        if self.k % self.beta_interval == 0:
            self.beta = min(self.beta * self.beta_scale, self.beta_max)
        if self.stable:
            return Ws
        return [self.inverse(x) for x in X]


@register_model
class MirrorDescent(BackpropModel):
    __doc__ = """Mirror-descent quantization (Ajanthan et al.): MD-tanh, MD-softmax, MD-tanh-s,
    MD-softmax-s (module docstring), binary or ternary; the fitted network is hard-quantized.

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``; ``max_epochs=0``
    starts from the random initialisation, as the paper), then runs ``md_epochs`` epochs of
    MD at ``md_lr`` with beta annealed, keeping the best held-out epoch of the quantized
    network. The fitted network is exactly ``alpha_l x codes``.

    Parameters
    ----------
    variant : {"tanh", "softmax", "tanh-s", "softmax-s"}, default "tanh-s"
        The mirror map (tanh: w-space; softmax: u-space) and the plain or stable ("-s") form.
    bits, levels : ternary (``bits=1`` with the thesis levels, the default, or
        ``levels="ternary"``) or binary (``levels="binary"``); anything else raises ValueError.
    md_epochs : int, default 30
    md_lr : float, default 1e-2
        Epochs and (initial) learning rate of the MD stage (the dual is in code units).
    beta0, beta_scale, beta_interval, beta_max : annealing, default 1, 1.05, 100, 1000
        beta starts at beta0 and is multiplied by beta_scale every beta_interval optimizer
        steps, up to beta_max.
    md_weight_decay : float, default 0.0
        Weight decay of the dual variables in the MD stage (the paper: none; ``weight_decay``
        is the FP stage's).""" + _FP_DOC

    _keep_best_train = True     # without held-out rows: the best epoch on the training rows

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", variant="tanh-s", bits=1, levels="thesis", md_epochs=30,
                 md_lr=1e-2, beta0=1.0, beta_scale=1.05, beta_interval=100, beta_max=1000.0, md_weight_decay=0.0,
                 activation="relu",
                 bias=True, optimizer="adam", lr=1e-3, lr_schedule="cosine", momentum=0.9, weight_decay=0.0,
                 batch_size=128, max_epochs=30, patience=10, holdout_fraction=0.1, seed=0, dtype="float32",
                 verbose=False):
        self.variant = variant
        self.bits = bits
        self.levels = levels
        self.md_epochs = md_epochs
        self.md_lr = md_lr
        self.beta0 = beta0
        self.beta_scale = beta_scale
        self.beta_interval = beta_interval
        self.beta_max = beta_max
        self.md_weight_decay = md_weight_decay
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    @property
    def method(self) -> str:
        return f"md-{self.variant}"

    def _validate(self):
        if self.variant not in MD_VARIANTS:
            raise ValueError(f"variant must be one of {MD_VARIANTS}, got {self.variant!r}")
        method_level_set(self.method, self.bits, self.levels, binary=True)
        check_int("md_epochs", self.md_epochs, lo=0)
        check_int("beta_interval", self.beta_interval, lo=1)
        for name in ("md_lr", "beta0"):
            check_real(name, getattr(self, name), lo=0, lo_open=True)
        check_real("beta_scale", self.beta_scale, lo=1)
        check_real("md_weight_decay", self.md_weight_decay, lo=0)
        check_real("beta_max", self.beta_max, lo=self.beta0)      # beta_max >= beta0

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        ls = method_level_set(self.method, self.bits, self.levels, binary=True)
        ternary = ls.zero
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        proj = ternary_project_exact if ternary else binary_project_exact
        alphas = [proj(W)[1] for W in Ws]
        space = "softmax" if self.variant.startswith("softmax") else "tanh"
        obj = MirrorObjective(alphas, space=space, stable=self.variant.endswith("-s"), ternary=ternary,
                              beta0=float(self.beta0), beta_scale=float(self.beta_scale),
                              beta_interval=int(self.beta_interval), beta_max=float(self.beta_max))
        Ds = [obj.initial_dual(W, a) for W, a in zip(Ws, alphas)]
        beta = obj.beta
        if self.md_epochs > 0:
            res = self._run(Ds, bs, Xt, yt, Xh, yh, epochs=self.md_epochs, lr=self.md_lr, objective=obj,
                            report=self._report(obj), stage=self.method,
                            weight_decay=float(self.md_weight_decay))
            Ds, bs, stop = res.Ws, res.bs, res.stop
            records = records + res.records
            beta = obj.state_after(res.best_epoch)["beta"]
        t0 = time.perf_counter()
        codes = [obj.codes(D, beta) for D in Ds]
        net = self._network(Ws, bs, codes=codes, scales=alphas, level_set=ls)
        rec = self._stage_record(net, "md-final", len(records) + 1, time.perf_counter() - t0, Xt, yt)
        return net, records + [rec], stop
