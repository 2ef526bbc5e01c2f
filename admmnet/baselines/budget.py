r"""Budget: joint pruning and mixed precision under a model-size budget, "Automatic Neural
Network Compression by Sparsity-Quantization Joint Learning" (Yang et al.; docs/budget.md).

The constrained problem (their eq. 1) ``min l(W) s.t. sum_l b(W_l) ||W_l||_0 <= S`` is split
with a copy V and the dual Y (eq. 2-7, their Algorithm 1), all layers at once:

* W-step: ``budget_epochs`` epochs of mini-batch training (the optimizer of the FP stage) on
  ``l(W) + sum_l <Y_l, W_l - V_l> + rho/2 ||W_l - V_l||^2`` (gradient ``Y_l + rho (W_l - V_l)``):
  the source's proximal step ``W <- (W - a grad l + a rho (V - Y/rho)) / (1 + a rho)`` is the
  implicit form of the same gradient step;
* every ``admm_interval`` epochs (the source's tau', one epoch there), and before the first:
  W <- the projection with fixed bit widths (eq. 8: knapsack on W^2 at V's widths,
  :func:`admmnet.quant.budget.project_sparsity`), then V <- the projection with fixed
  sparsity of ``W + Y / rho`` (eq. 10: MCKP over widths on ``-E_j``,
  :func:`admmnet.quant.budget.project_bits`), then ``Y <- Y + rho (W - V)``.

The starting widths (Algorithm 1 line 1 quantizes the pretrained W "uniformly" at widths it
leaves open) are those of :func:`admmnet.quant.budget.budget_project` of the FP weights.

The evaluated and fitted network is the source's final step: W projected with V's widths
(knapsack) and its kept entries quantized at those widths (zero free), stored as
:class:`admmnet.quant.compressed.CompressedWeight` layers; it meets the budget exactly
(``sum_l b_l nnz_l <= S``) and every epoch's held-out score is of that network.

An optional stage comes before the ADMM: ``prune_epochs`` of :class:`GradualPruning` (the
FP network trained on the loss alone while projected onto the budget set at a budget that
shrinks from the dense size to S, Zhu and Gupta's gradual pruning with eq. 8 as the
projection), so that the ADMM starts from a network that already has the budget's size
instead of a one-shot projection of the dense one (docs/budget.md).

Two optional stages follow with that network's structure fixed (its kept positions and
widths), beyond the source's MNIST protocol: ``retrain_epochs`` of :class:`StructureADMM` (the
kept weights trained at full precision, pulled by ADMM to their quantized values) and
``finetune_epochs`` of :class:`FixedStructure` (the quantized network trained directly,
gradients straight through). The fitted network is the best of the three on held-out rows.
"""
from __future__ import annotations

import time

import numpy as np

from .._backend import get_namespace, to_float, to_numpy
from .._validation import check_bool, check_int, check_real
from ..backprop import Objective
from ..exceptions import InvalidParameterError
from ..model import register_model
from ..network import Layer, Network
from ..quant import budget as QB
from ..quant.compressed import CompressedWeight
from ._base import BackpropModel
from ._ternary import EpochSnapshots, ScaledDualADMM
from .fp import _FP_DOC

__all__ = ["Budget", "BudgetObjective", "FixedStructure", "GradualPruning", "StructureADMM", "compress_layers",
           "pruning_budget"]


def compress_layers(Ws, bits, budget: int, quantizer: str, dtype: str):
    """The final compression (module docstring): knapsack masks at ``bits``, then the kept
    entries quantized at ``bits``; a list of :class:`CompressedWeight`."""
    Wn = [np.asarray(to_numpy(W), dtype=np.float64) for W in Ws]
    masks = QB.project_sparsity(Wn, bits, budget)
    out = []
    for W, m, b in zip(Wn, masks, bits):
        q = QB.quantize_values((W * m).reshape(-1), int(b), quantizer)
        out.append(CompressedWeight.from_quantizer(q, W.shape, dtype))
    return out


def pruning_budget(step: int, ramp_steps: int, dense: int, budget: int) -> int:
    r"""The budget of :class:`GradualPruning` after ``step`` optimizer steps: Zhu and Gupta's
    cubic schedule ("To prune, or not to prune", 2017) on the kept weight bits,

    .. math:: S_t = S + (S_0 - S)\,(1 - \min(t / T, 1))^3,

    from the dense size ``S_0 = dense`` at ``t = 0`` down to ``S = budget`` at ``T = ramp_steps``
    and held there: it falls fastest while many redundant weights remain and slowest near the
    end, where every removal costs the most. Non-increasing in ``t``; an integer (floor)."""
    if ramp_steps <= 0:
        return int(budget)
    f = min(max(step, 0) / ramp_steps, 1.0)
    return int(budget + (dense - budget) * (1.0 - f) ** 3)


class GradualPruning(Objective):
    r"""Gradual pruning to the budget (Budget's ``prune_epochs`` stage): the network is trained
    on the loss alone, and every ``interval`` optimizer steps W is projected by eq. 8 (the
    knapsack on ``W^2`` at the fixed widths ``bits``, :func:`admmnet.quant.budget.project_sparsity`)
    onto ``{sum_l b_l ||W_l||_0 <= S_t}``, ``S_t`` by :func:`pruning_budget` falling from the
    dense size to ``budget`` over the first ``ramp_steps`` steps; between projections the
    entries pruned stay 0 (``W <- X o W`` after every step). So the weights adapt while the
    budget tightens, where the ADMM of the source starts from the one-shot projection of the
    dense network (docs/budget.md).

    The evaluated network of every epoch is the final one at the full budget ``budget``:
    :func:`compress_layers` of W at ``bits`` (knapsack at S, then each layer's ``bits_l``
    quantizer), so the trainer's best held-out epoch is of a network that meets the budget."""

    def __init__(self, Ws, bits, budget: int, ramp_steps: int, interval: int, quantizer: str, dtype: str):
        self.xp = get_namespace(Ws[0])
        self.bits, self.S, self.quantizer, self.dtype = [int(b) for b in bits], int(budget), quantizer, dtype
        self.ramp, self.interval = int(ramp_steps), int(interval)
        self.dense = sum(int(np.prod(W.shape)) * b for W, b in zip(Ws, self.bits))
        self.t = 0
        self.masks = None
        self.current = None         # the budget of the current masks

    def knapsack_masks(self, Ws, budget: int):
        """The masks of eq. 8 for ``Ws`` at ``budget`` (the knapsack on ``W^2`` at ``bits``), as
        arrays of the weights' namespace and dtype."""
        Wn = [np.asarray(to_numpy(W), dtype=np.float64) for W in Ws]
        return [self.xp.asarray(m.astype(self.dtype)) for m in QB.project_sparsity(Wn, self.bits, budget)]

    def project(self, Ws):
        """Update the masks to the knapsack of ``Ws`` at the current budget ``S_t``."""
        self.current = pruning_budget(self.t, self.ramp, self.dense, self.S)
        self.masks = self.knapsack_masks(Ws, self.current)

    def after_step(self, Ws):
        due = self.t % self.interval == 0 and (self.current is None or self.current > self.S)
        if self.masks is None or due:
            self.project(Ws)
        self.t += 1
        return [W * m for W, m in zip(Ws, self.masks)]

    def compressed(self, Ws):
        return compress_layers(Ws, self.bits, self.S, self.quantizer, self.dtype)

    def eval_weights(self, Ws):
        return [self.xp.asarray(c.dense(self.dtype)) for c in self.compressed(Ws)]


class BudgetObjective(EpochSnapshots, Objective):
    """Penalty ``<Y, W - V> + rho/2 ||W - V||^2``; projections and dual step every ``interval`` epochs."""

    def __init__(self, Ws, budget: int, bit_choices, quantizer: str, rho: float, interval: int, dtype: str):
        self.S, self.choices, self.quantizer = budget, tuple(bit_choices), quantizer
        self.rho, self.interval, self.dtype = rho, interval, dtype
        xp = get_namespace(Ws[0])
        self.xp = xp
        init = QB.budget_project([to_numpy(W) for W in Ws], budget, self.choices, quantizer)
        self.bits = list(init.bits)
        self.V = [xp.asarray(v.astype(dtype)) for v in init.weights([tuple(W.shape) for W in Ws])]
        self.Y = [xp.zeros_like(W) for W in Ws]
        self._cache = (None, None)
        self.rounds = 0

    def state(self):
        return {"bits": list(self.bits), "Y": list(self.Y), "V": list(self.V)}

    def start_epoch(self, Ws, epoch):
        self.snapshot(epoch)          # the state the previous epoch was evaluated with
        if epoch % self.interval != 0:
            return Ws
        xp = self.xp
        Wn = [np.asarray(to_numpy(W), dtype=np.float64) for W in Ws]
        masks = QB.project_sparsity(Wn, self.bits, self.S)                       # eq. 8
        Wn = [W * m for W, m in zip(Wn, masks)]
        nnz = [int(m.sum()) for m in masks]
        Vbar = [W + np.asarray(to_numpy(Y), dtype=np.float64) / self.rho for W, Y in zip(Wn, self.Y)]
        bits, qs, _ = QB.project_bits(Vbar, nnz, self.S, self.choices, self.quantizer)   # eq. 10
        self.bits = bits
        self.V = [xp.asarray(q.dequantized().reshape(W.shape).astype(self.dtype)) for q, W in zip(qs, Wn)]
        Ws = [xp.asarray(W.astype(self.dtype)) for W in Wn]
        self.Y = [Y + self.rho * (W - V) for Y, W, V in zip(self.Y, Ws, self.V)]    # eq. 7
        self.rounds += 1
        return Ws

    def penalty(self, Ws):
        xp = get_namespace(Ws[0])
        total, grads = 0.0, []
        for W, V, Y in zip(Ws, self.V, self.Y):
            D = W - V
            grads.append(Y + self.rho * D)
            total += to_float(xp.sum(Y * D)) + 0.5 * self.rho * to_float(xp.sum(D * D))
        return total, grads

    def compressed(self, Ws, bits=None):
        key = (tuple(id(W) for W in Ws), tuple(float(to_float(self.xp.sum(W))) for W in Ws),
               tuple(self.bits if bits is None else bits))
        if self._cache[0] != key:
            self._cache = (key, compress_layers(Ws, self.bits if bits is None else bits, self.S,
                                                self.quantizer, self.dtype))
        return self._cache[1]

    def eval_weights(self, Ws):
        return [self.xp.asarray(c.dense(self.dtype)) for c in self.compressed(Ws)]


def _group_sums(xp, idx, w, n: int):
    """``out[g] = sum(w[idx == g])`` for g < n (a scatter-add: ``bincount`` of the namespace,
    NumPy's or CuPy's)."""
    bincount = getattr(xp, "bincount", None)
    if bincount is None:                                        # pragma: no cover - other namespaces
        return xp.asarray(np.bincount(to_numpy(idx), to_numpy(w), minlength=n))
    return bincount(idx, weights=w, minlength=n)


class FixedStructure(EpochSnapshots, Objective):
    r"""Fine-tuning of a compressed network with its structure fixed: the kept positions
    (``masks``) and every layer's width ``bits``.

    The trained (latent) weights W_l stay zero off the mask. The forward pass uses their
    projection onto the layer's quantized set for fixed codes: with the entries grouped by
    code (``c_i``, the zero group fixed at 0), the closest point is

    * ``kmeans``: every group at the mean of its latent entries, ``v_c = mean{W_i : c_i = c}``
      (the least-squares codebook for those codes: Deep Compression's trained quantization);
    * ``uniform``: ``alpha q_i`` with the fixed integer levels q_i and
      ``alpha = <W, q> / <q, q>``;

    and the gradient passes straight through to the latent entries on the mask. With
    ``recode`` (the default), at every epoch start the codes are chosen again from the latent
    weights (the layer's best ``bits`` quantizer of ``W_l``,
    :func:`admmnet.quant.budget.quantize_values`, every kept position that it sets to 0 given
    the nearest non-zero value instead: the structure keeps it), so entries can move between
    groups; without it the codes chosen at the start stay, and only the code values (and the
    biases) are trained: a latent entry that drifts under the straight-through gradient then
    cannot become a code value of its own at the next epoch start (docs/budget.md: at lr 0.1
    on LeNet-5 that collapses the network). The non-zeros stay those of the mask, so the budget
    holds throughout."""

    def __init__(self, Ws, masks, bits, quantizer: str, recode: bool = True):
        xp = get_namespace(Ws[0])
        self.xp, self.bits, self.quantizer, self.recode = xp, [int(b) for b in bits], quantizer, bool(recode)
        self.masks = [xp.asarray(np.asarray(m, dtype=np.float32).reshape(W.shape)).astype(W.dtype)
                      for m, W in zip(masks, Ws)]
        self.idx = self._assign(Ws)

    def _assign(self, Ws):
        """Per layer the group of every entry: 0 for zero, 1 + code otherwise (kmeans), or the
        signed integer level (uniform)."""
        out = []
        for W, m, b in zip(Ws, self.masks, self.bits):
            w = np.asarray(to_numpy(W * m), dtype=np.float64).reshape(-1)
            kept = np.asarray(to_numpy(m)).reshape(-1) > 0
            q = QB.quantize_values(w, b, self.quantizer)
            values = q.values
            codes = q.codes.copy()
            lost = kept & (codes < 0)        # kept positions the zero-free quantizer put at 0
            if lost.any() and values.size:   # the structure keeps them: the nearest non-zero value
                codes[lost] = np.abs(w[lost, None] - values[None, :]).argmin(axis=1)
            if self.quantizer == "kmeans":
                g = codes + 1
            else:
                g = np.where(codes >= 0, QB.codebook_values("uniform", b, [1.0])[np.maximum(codes, 0)], 0.0)
            out.append(self.xp.asarray(g.reshape(W.shape).astype(np.int64 if self.quantizer == "kmeans" else
                                                                   np.dtype(str(W.dtype)))))
        return out

    def state(self):
        return {"idx": list(self.idx)}

    def project(self, Ws, idx=None):
        """The forward (quantized) weights of latent ``Ws`` for the groups ``idx`` (default: the
        current ones)."""
        xp = self.xp
        out = []
        for W, g, b in zip(Ws, self.idx if idx is None else idx, self.bits):
            if self.quantizer == "kmeans":
                n = 2 ** b + 1
                flat_g, flat_w = xp.reshape(g, (-1,)), xp.reshape(W, (-1,))
                sums = _group_sums(xp, flat_g, flat_w, n)
                counts = _group_sums(xp, flat_g, xp.ones_like(flat_w), n)
                means = xp.where(counts > 0, sums / xp.maximum(counts, xp.ones_like(counts)), xp.zeros_like(sums))
                means = xp.concat([xp.zeros_like(means[:1]), means[1:]])      # the zero group stays 0
                out.append(xp.reshape(xp.take(xp.astype(means, W.dtype), flat_g), W.shape))
            else:
                qq = xp.sum(g * g)
                alpha = xp.where(qq > 0, xp.sum(W * g) / xp.maximum(qq, xp.ones_like(qq)), xp.zeros_like(qq))
                out.append(alpha * g)
        return out

    def start_epoch(self, Ws, epoch):
        self.snapshot(epoch)
        if epoch > 0 and self.recode:
            self.idx = self._assign(Ws)
        return Ws

    def forward_weights(self, Ws):
        return self.project(Ws)

    def weight_grads(self, Ws, dWs):
        return [dW * m for dW, m in zip(dWs, self.masks)]

    def after_step(self, Ws):
        return [W * m for W, m in zip(Ws, self.masks)]

    def compressed(self, Ws, idx, dtype: str):
        """The fine-tuned layers as :class:`CompressedWeight` (exactly :meth:`project`)."""
        out = []
        for V, b in zip(self.project(Ws, idx), self.bits):
            v = np.asarray(to_numpy(V), dtype=np.float64).reshape(-1)
            if self.quantizer == "kmeans":
                book, codes = np.unique(v[v != 0], return_inverse=True)
                full = np.full(v.size, -1, dtype=np.int64)
                full[v != 0] = codes
                q = QB.BudgetQuantizer("kmeans", b, book, full, 0.0)
            else:
                g = np.asarray(to_numpy(idx[len(out)]), dtype=np.float64).reshape(-1)
                nz = g != 0
                alpha = float(v[nz][0] / g[nz][0]) if nz.any() else 0.0
                lv = QB.codebook_values("uniform", b, [1.0])
                codes = np.where(nz & (alpha != 0), np.searchsorted(lv, g), -1)
                q = QB.BudgetQuantizer("uniform", b, np.array([alpha]), codes, 0.0)
            out.append(CompressedWeight.from_quantizer(q, V.shape, dtype))
        return out


class StructureADMM(ScaledDualADMM, FixedStructure):
    r"""ADMM quantization inside a fixed structure: the latent weights W_l are trained at full
    precision on the kept positions (``masks``) while an ADMM penalty pulls them to their
    quantized projection at the layer's width, as ADMM ternary does for one width
    (:class:`~admmnet.baselines.admm_ternary.ADMMTernaryObjective`):

    * W-step: the optimizer on ``l(W) + sum_l rho/2 ||W_l - G_l + U_l||^2`` (gradient
      ``rho (W_l - G_l + U_l)`` on the mask; W stays 0 off it);
    * every ``steps`` optimizer steps: ``G_l = P(W_l + U_l)``, the layer's best ``bits``
      quantizer of those entries with every kept position coded (:meth:`FixedStructure._assign`,
      then each code at the mean of its entries), ``U_l <- U_l + W_l - G_l``, then
      ``rho <- rho_growth rho`` with ``U <- U / rho_growth``.

    The forward pass uses W (full precision); the evaluated network is ``P(W + U)``, which
    has the structure's non-zeros and widths, so it meets the budget. Its codes (``idx`` of
    :meth:`state`) are those of that projection."""

    def __init__(self, Ws, masks, bits, quantizer: str, rho: float, rho_growth: float, steps: int):
        super().__init__(Ws, masks, bits, quantizer, recode=True)
        self.rho, self.rho_growth, self.steps = float(rho), float(rho_growth), int(steps)
        self.n_steps = 0
        self.U = [self.xp.zeros_like(W) for W in Ws]
        self.G = self.project(Ws)

    def state(self):
        return {"idx": list(self.idx), "U": list(self.U), "rho": self.rho}

    def quantized(self, Ws, U=None):
        """``(codes, P(W + U))``: the codes chosen from ``W + U`` (``U``: the current dual by
        default) and the projection for them, the network the stage evaluates."""
        V = [W + u for W, u in zip(Ws, self.U if U is None else U)]
        idx = self._assign(V)
        return idx, self.project(V, idx)

    def g_step(self, Ws) -> None:
        """G = P(W + U), U += W - G, then rho *= growth with U /= growth."""
        self.idx, self.G = self.quantized(Ws)
        self.dual_step(Ws)

    def start_epoch(self, Ws, epoch):
        self.snapshot(epoch)
        return Ws

    def forward_weights(self, Ws):
        return Ws

    def eval_weights(self, Ws):
        return self.quantized(Ws)[1]

    def after_step(self, Ws):
        Ws = [W * m for W, m in zip(Ws, self.masks)]
        self.n_steps += 1
        if self.n_steps % self.steps == 0:
            self.g_step(Ws)
        return Ws


@register_model
class Budget(BackpropModel):
    __doc__ = """Joint pruning + mixed precision under a model-size budget (Yang et al.'s ADMM,
    module docstring): the method decides per layer how many weights survive and how many
    bits each gets, so that ``sum_l b_l nnz_l <= budget``.

    ``fit`` trains the FP network (or takes ``fit(..., fp_model=fp)``), then runs
    ``prune_epochs`` epochs of gradual pruning to the budget (default none) and
    ``budget_epochs`` epochs of ADMM, keeping the best held-out epoch of the compressed network,
    then the optional stages with its structure fixed (``retrain_epochs``, ``finetune_epochs``).

    Parameters
    ----------
    budget : str or int
        The size: a compression rate over 32-bit weights (``"2000x"``), bytes of weight data
        (``"800B"``, ``"12KB"`` = 12000 bytes, ``"12KiB"``), bits per weight (``"0.5bpw"``) or
        bits (an integer, ``"6888bits"``). Weight bits only (the source's metric); the stored
        positions, codebooks and biases are reported beside it
        (:meth:`~admmnet.model.NetworkModel.compression_report`).
    bit_choices : sequence of int in 1..8, default (1, ..., 8)
        The candidate widths B of every layer.
    quantizer : {"kmeans", "uniform"}, default "kmeans"
        Non-uniform (the 2^b values free: exact 1-D k-means by DP) or uniform
        (``alpha {+-1, .., +-2^(b-1)}``); zero is free in both.
    rho : float, default 0.05
        The ADMM penalty (the source's value for every experiment).
    budget_epochs : int, default 30
    budget_lr : float, default 1e-3
        Epochs and (initial) learning rate of the ADMM stage.
    admm_interval : int, default 1
        Epochs between projections / dual steps (the source's tau' = one epoch).
    budget_weight_decay : float, default 0.0
    prune_epochs : int, default 0
        Epochs of gradual pruning before the ADMM stage (:class:`GradualPruning`, at
        ``budget_lr``): the FP network trained on the loss while projected (eq. 8, at the widths
        of the budget projection of the FP network) every ``PRUNE_STEPS`` optimizer steps onto
        a budget that falls from the dense size to ``budget`` over the first ``prune_ramp`` of
        the stage's steps (:func:`pruning_budget`), then held. The ADMM stage starts from its
        best held-out epoch (0: the source's protocol, the ADMM from the FP network).
    prune_ramp : float in (0, 1], default 0.7
        The fraction of the pruning stage's optimizer steps over which its budget falls to
        ``budget`` (Zhu and Gupta's ramp; the rest of the stage trains at the budget).
    retrain_epochs : int, default 0
        Epochs of retraining after the ADMM stage with the structure it chose fixed (the kept
        positions and every layer's width): the kept weights trained at full precision while
        an ADMM penalty pulls them to their quantized projection (:class:`StructureADMM`,
        penalty ``retrain_rho``, times ``RETRAIN_RHO_GROWTH`` every ``RETRAIN_STEPS`` optimizer
        steps), at ``finetune_lr``; the stage's network is that projection.
    retrain_rho : float, default 0.01
    finetune_epochs : int, default 0
        Epochs of fine-tuning with the structure fixed (:class:`FixedStructure`: the forward pass
        quantized, codes chosen again from the latent weights every epoch, gradients straight
        through), from the retraining's network (without it: the ADMM stage's W on the kept
        positions), at ``finetune_lr`` (None: the ADMM stage's ``budget_lr``). The source
        fine-tunes its ImageNet models this way ("Fine-tuning [11]"), not its MNIST ones
        (0: the source's protocol). Of the ADMM stage's network and those of the two stages, the
        one that scores best on the held-out rows is kept (without them: the first 10,000
        training rows; ties: the later); all have the same non-zeros at the same widths, so
        each meets the budget.
    finetune_lr : float or None, default None
    finetune_recode : bool, default True
        Choose the fine-tuning's codes again from the latent weights at every epoch start
        (False: keep the first epoch's codes and train only the code values and biases;
        :class:`FixedStructure`).
    distill : float in [0, 1), default 0.0
        Weight w of knowledge distillation from the FP network in every stage after it
        (pruning, ADMM, retraining, fine-tuning): each stage's loss is then
        ``(1 - w) CE + w T^2 KL(softmax(t/T) || softmax(z/T))`` with t the FP network's logits
        on the training rows (:func:`~admmnet.backprop.engine.distillation_loss`; 0: the
        cross-entropy alone, the source's loss).
    distill_temperature : float, default 4.0
        The temperature T of ``distill``.
    distill_teachers : int, default 1
        How many FP networks the teacher of ``distill`` averages: its logits ``t`` are the mean
        of the FP stage's network's and those of ``distill_teachers - 1`` more FP networks, the
        ensemble teacher of Hinton et al. (2015), which scores above each of its members. The
        others are :meth:`fit`'s ``teacher_models`` or, without them, trained in ``fit`` as
        the FP stage trains its network (these FP parameters, the same training rows and
        held-out part, seeds ``seed + 1000 k`` for k = 1, 2, ...; history stage
        ``"fp-teacher"``). The student still starts from the FP stage's network; more than one
        needs ``distill > 0``.""" + _FP_DOC

    method = "budget"
    #: The retraining stage's continuation: rho times this every RETRAIN_STEPS optimizer steps.
    RETRAIN_RHO_GROWTH = 1.1
    RETRAIN_STEPS = 50
    #: The pruning stage's masks are recomputed every PRUNE_STEPS optimizer steps.
    PRUNE_STEPS = 50

    def __init__(self, hidden_sizes=(200, 200), *, arch="mlp", budget=None, bit_choices=(1, 2, 3, 4, 5, 6, 7, 8),
                 quantizer="kmeans", rho=0.05, budget_epochs=30, budget_lr=1e-3, admm_interval=1,
                 budget_weight_decay=0.0, prune_epochs=0, prune_ramp=0.7, retrain_epochs=0, retrain_rho=0.01,
                 finetune_epochs=0,
                 finetune_lr=None, finetune_recode=True, distill=0.0, distill_temperature=4.0, distill_teachers=1,
                 activation="relu", bias=True,
                 optimizer="adam", lr=1e-3,
                 lr_schedule="cosine", momentum=0.9, weight_decay=0.0, batch_size=128, max_epochs=30, patience=10,
                 holdout_fraction=0.1, seed=0, dtype="float32", verbose=False):
        self.budget = budget
        self.bit_choices = bit_choices
        self.quantizer = quantizer
        self.rho = rho
        self.budget_epochs = budget_epochs
        self.budget_lr = budget_lr
        self.admm_interval = admm_interval
        self.budget_weight_decay = budget_weight_decay
        self.prune_epochs = prune_epochs
        self.prune_ramp = prune_ramp
        self.retrain_epochs = retrain_epochs
        self.retrain_rho = retrain_rho
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.finetune_recode = finetune_recode
        self.distill = distill
        self.distill_temperature = distill_temperature
        self.distill_teachers = distill_teachers
        self._set_fp_params(hidden_sizes, activation, bias, optimizer, lr, lr_schedule, momentum, weight_decay,
                            batch_size, max_epochs, patience, holdout_fraction, seed, dtype, verbose, arch)

    def _validate(self):
        QB.check_budget_params(self.budget, self.bit_choices, self.quantizer)
        check_int("budget_epochs", self.budget_epochs, lo=0)
        check_int("admm_interval", self.admm_interval, lo=1)
        for name in ("budget_lr", "rho"):
            check_real(name, getattr(self, name), lo=0, lo_open=True)
        check_real("budget_weight_decay", self.budget_weight_decay, lo=0)
        check_int("prune_epochs", self.prune_epochs, lo=0)
        check_real("prune_ramp", self.prune_ramp, lo=0, lo_open=True, hi=1)
        check_int("retrain_epochs", self.retrain_epochs, lo=0)
        check_real("retrain_rho", self.retrain_rho, lo=0, lo_open=True)
        check_int("finetune_epochs", self.finetune_epochs, lo=0)
        if self.finetune_lr is not None:
            check_real("finetune_lr", self.finetune_lr, lo=0, lo_open=True)
        check_bool("finetune_recode", self.finetune_recode)
        check_real("distill", self.distill, lo=0, hi=1, hi_open=True)
        check_real("distill_temperature", self.distill_temperature, lo=0, lo_open=True)
        check_int("distill_teachers", self.distill_teachers, lo=1)
        if self.distill_teachers > 1 and self.distill == 0:
            raise InvalidParameterError(f"distill_teachers={self.distill_teachers} averages teachers of "
                                        "distillation: set distill > 0 as well")

    def fit(self, X, y, *, eval_set=None, fp_model=None, teacher_models=None):
        """As :meth:`BackpropModel.fit <admmnet.baselines.BackpropModel.fit>`; ``teacher_models``:
        ``distill_teachers - 1`` fitted FP models of the same network whose logits join the FP
        stage's network's in the teacher (``distill_teachers``), instead of training them here."""
        self._teacher_models = None if teacher_models is None else list(teacher_models)
        try:
            return super().fit(X, y, eval_set=eval_set, fp_model=fp_model)
        finally:
            self._teacher_models = None

    def _fit(self, xp, Xt, yt, Xh, yh, fp_model):
        choices = QB.check_budget_params(self.budget, self.bit_choices, self.quantizer)
        if self._teacher_models is not None:
            if len(self._teacher_models) != self.distill_teachers - 1:
                raise ValueError(f"teacher_models holds {len(self._teacher_models)} model(s); distill_teachers="
                                 f"{self.distill_teachers} needs {self.distill_teachers - 1} beside the FP network")
            for i, m in enumerate(self._teacher_models):
                self._check_fp_model(m, self.n_features_in_, self.classes_, name=f"teacher_models[{i}]")
        Ws, bs, records, stop = self._train_fp(xp, Xt, yt, Xh, yh, fp_model)
        n = sum(int(np.prod(W.shape)) for W in Ws)
        S = QB.parse_budget(self.budget, n)
        if S < min(choices):
            raise InvalidParameterError(f"budget {self.budget!r} is {S} bits: less than one weight at {min(choices)} bit(s)")
        self.budget_bits_ = S
        teacher, teacher_records = self._teacher(xp, Ws, bs, Xt, yt, Xh, yh)
        records = records + teacher_records
        if self.prune_epochs > 0 and not self._interrupted:
            Ws, bs, records, stop = self._prune(Ws, bs, S, choices, Xt, yt, Xh, yh, records, stop, teacher)
        obj = BudgetObjective(Ws, S, choices, self.quantizer, float(self.rho), int(self.admm_interval), self.dtype)
        state = obj.state()
        if self.budget_epochs > 0:
            res = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.budget_epochs, lr=self.budget_lr, objective=obj,
                            report=self._report(obj), stage="budget", weight_decay=float(self.budget_weight_decay),
                            teacher=teacher)
            Ws, bs, stop = res.Ws, res.bs, res.stop
            records = records + res.records
            state = obj.state_after(res.best_epoch)
        t0 = time.perf_counter()
        cws = compress_layers(Ws, state["bits"], S, self.quantizer, self.dtype)
        if self.retrain_epochs + self.finetune_epochs > 0 and not self._interrupted:
            cws, bs, records, stop = self._fixed_structure(Ws, bs, cws, Xt, yt, Xh, yh, records, stop, teacher)
        net = self._compressed_network(cws, bs)
        rec = self._stage_record(net, "budget-final", len(records) + 1, time.perf_counter() - t0, Xt, yt)
        rec.update(bits=[c.bits for c in cws], nnz=[c.nnz for c in cws], weight_bits=sum(c.weight_bits for c in cws))
        return net, records + [rec], stop

    def _teacher(self, xp, Ws, bs, Xt, yt, Xh, yh):
        """``((t, w, T), records)``: the teacher of the stages' loss, ``t`` the mean logits on the
        training rows of the FP network ``(Ws, bs)`` and the ``distill_teachers - 1`` others
        (:meth:`_other_teachers`), and the history records of those trained here; ``(None, [])``
        without ``distill``."""
        if self.distill == 0:
            return None, []
        from ..backprop import logits

        others, records = self._other_teachers(xp, Xt, yt, Xh, yh)
        nets = [(Ws, bs)] + others
        Zt = sum(logits(W, b, Xt, self.activation, arch=self._arch) for W, b in nets) / len(nets)
        return (Zt, float(self.distill), float(self.distill_temperature)), records

    def _other_teachers(self, xp, Xt, yt, Xh, yh):
        """``([(Ws, bs), ...], records)`` of the teacher's other FP networks: ``teacher_models``,
        or ``distill_teachers - 1`` trained like the FP stage's own network, from the seeds
        ``seed + 1000 k`` (initialisation and shuffling; the held-out part is the fit's)."""
        if self._teacher_models is not None:
            return [self._initial_params(xp, m) for m in self._teacher_models], []
        nets, records, rng = [], [], self._rng
        try:
            for k in range(1, int(self.distill_teachers)):
                if self._interrupted:
                    break
                self._rng = np.random.default_rng(None if self.seed is None else int(self.seed) + 1000 * k)
                Ws, bs, recs, _ = self._train_fp(xp, Xt, yt, Xh, yh, None)
                nets.append((Ws, bs))
                records += [{**r, "stage": "fp-teacher"} for r in recs]
        finally:
            self._rng = rng
        return nets, records

    def _prune(self, Ws, bs, S, choices, Xt, yt, Xh, yh, records, stop, teacher=None):
        """The ``prune_epochs`` stage (:class:`GradualPruning`) from the FP weights; its kept
        epoch's W with the final knapsack masks applied (exactly ``S``'s structure)."""
        bits = list(QB.budget_project([to_numpy(W) for W in Ws], S, choices, self.quantizer).bits)
        steps = -(-int(Xt.shape[0]) // int(self.batch_size)) * int(self.prune_epochs)
        ramp = int(float(self.prune_ramp) * steps)
        obj = GradualPruning(Ws, bits, S, ramp, self.PRUNE_STEPS, self.quantizer, self.dtype)
        res = self._run(Ws, bs, Xt, yt, Xh, yh, epochs=self.prune_epochs, lr=self.budget_lr, objective=obj,
                        report=self._report(obj), stage="budget-prune", weight_decay=0.0, patience=None,
                        teacher=teacher)
        if not res.records:
            return Ws, bs, records, stop
        Ws = [W * m for W, m in zip(res.Ws, obj.knapsack_masks(res.Ws, S))]
        return Ws, res.bs, records + res.records, res.stop

    def _fixed_structure(self, Ws, bs, cws, Xt, yt, Xh, yh, records, stop, teacher=None):
        """The stages after ADMM with the structure of its compressed layers ``cws`` fixed (their
        kept positions and widths; latent start: the ADMM stage's W on those positions):
        ``retrain_epochs`` of :class:`StructureADMM`, then ``finetune_epochs`` of
        :class:`FixedStructure` from its quantized network. Of the ADMM stage's network and
        each stage's, the one kept scores best on the held-out rows (else the first 10,000
        training rows; ties: the later stage)."""
        from ..backprop import evaluate

        xp = get_namespace(Ws[0])
        masks, bits = [], [c.bits for c in cws]
        for c in cws:
            m = np.zeros(c.size, dtype=bool)
            m[c.positions] = True
            masks.append(m.reshape(c.shape))
        W = [W * xp.asarray(m.astype(self.dtype)) for W, m in zip(Ws, masks)]
        lr = self.budget_lr if self.finetune_lr is None else self.finetune_lr
        rows = (Xh, yh) if Xh is not None else (Xt[:10000], yt[:10000])

        def score(layers, b):
            acc, loss = evaluate([xp.asarray(c.dense(self.dtype)) for c in layers], b, *rows, self.activation,
                                 arch=self._arch)
            return acc, -loss

        best = (score(cws, bs), cws, bs, stop)

        def keep(cand):             # ties go to the later stage
            return cand if cand[0] >= best[0] else best

        if self.retrain_epochs > 0 and not self._interrupted:
            obj = StructureADMM(W, masks, bits, self.quantizer, float(self.retrain_rho), self.RETRAIN_RHO_GROWTH,
                                self.RETRAIN_STEPS)
            res = self._run(W, bs, Xt, yt, Xh, yh, epochs=self.retrain_epochs, lr=lr, objective=obj,
                            report=self._report(obj), stage="budget-retrain", weight_decay=0.0, patience=None,
                            teacher=teacher)
            records = records + res.records
            if res.records:
                U = obj.state_after(res.best_epoch)["U"]
                idx, W = obj.quantized(res.Ws, U)           # the fine-tuning starts from this quantized net
                bs = res.bs
                layers = obj.compressed([w + u for w, u in zip(res.Ws, U)], idx, self.dtype)
                best = keep((score(layers, bs), layers, bs, res.stop))
        if self.finetune_epochs > 0 and not self._interrupted:
            ft = FixedStructure(W, masks, bits, self.quantizer, recode=self.finetune_recode)
            res = self._run(W, bs, Xt, yt, Xh, yh, epochs=self.finetune_epochs, lr=lr, objective=ft,
                            report=self._report(ft), stage="budget-finetune", weight_decay=0.0, patience=None,
                            teacher=teacher)
            records = records + res.records
            if res.records:
                layers = ft.compressed(res.Ws, ft.state_after(res.best_epoch)["idx"], self.dtype)
                best = keep((score(layers, res.bs), layers, res.bs, res.stop))
        _, cws, bs, stop = best
        return cws, bs, records, stop

    def _compressed_network(self, cws, bs):
        layers = []
        for l, c in enumerate(cws):
            b = None if bs is None else np.asarray(to_numpy(bs[l])).astype(self.dtype).reshape(-1, 1)
            layers.append(Layer(c.shape, bias=b, compressed=c))
        return Network(layers, activation=self.activation, dtype=self.dtype,
                       arch=None if self._arch is None else self._arch.to_json())
