r"""QNN-ADMM under a model-size budget: the G-update becomes the budget projection
(docs/budget.md, "The budget without gradients").

QNN-ADMM couples every W_l to a copy G_l in a constraint set by ``mu/2 ||W_l - G_l||^2`` and
updates G_l by projecting W_l onto that set. Here the set is the budget of Yang et al.,
``{G : sum_l b(G_l) ||G_l||_0 <= S}``, which couples the layers. The G-update is therefore
split like their ADMM's two projections, with no gradient anywhere:

* once per iteration (before the backward sweep, and when the quantized phase starts)
  :meth:`BudgetG.allocate` runs the joint projection of all W_l
  (:func:`admmnet.quant.budget.budget_project`: knapsack on W^2 at fixed widths, MCKP over
  widths at fixed sparsity, alternated) and gives layer l the bits it uses there,
  ``S_l = b_l n_l``, n_l the entries its knapsack keeps (``sum_l S_l <= S``);
* every G_l-update of the sweeps is then the projection of W_l onto its own share,
  ``min ||W_l - G||^2 s.t. b(G) ||G||_0 <= S_l`` (:meth:`BudgetG.project_layer`): for each
  width j of the candidates the knapsack with equal weights j is exact (keep the
  ``floor(S_l / j)`` largest |W|), the kept entries are quantized at j bits (E_j's
  minimiser, zero free), and the j with the smallest ``||W_l - G||^2`` wins. The shares
  always sum to at most S, so every G (and the fitted network) meets the budget.

The fitted layers are stored as :class:`admmnet.quant.compressed.CompressedWeight`
(codebook = the distinct non-zero values of G_l).
"""
from __future__ import annotations

import numpy as np

from .._backend import get_namespace, to_numpy
from ..quant import budget as QB
from ..quant.compressed import CompressedWeight
from ..quant.projection import ProjectionResult

__all__ = ["BudgetG"]


class BudgetG:
    """The budget constraint set of QNN-ADMM's G (module docstring). Passed to the solver in
    place of a :class:`~admmnet.quant.levels.LevelSet`; :func:`admmnet.admm.solver._project`
    hands it the layer index."""

    kind = "budget"

    def __init__(self, budget_bits: int, bit_choices, quantizer: str = "kmeans"):
        self.S = int(budget_bits)
        self.choices = tuple(int(j) for j in bit_choices)
        self.quantizer = quantizer
        self.alloc: list[int] | None = None
        self.bits: dict[int, int] = {}
        self.n_allocations = 0

    def allocate(self, Ws) -> None:
        """Shares ``S_l = b_l n_l`` of the joint projection of the layers ``Ws``: its widths b_l and
        the entries n_l its knapsack keeps at those widths (before quantizing, whose free zero
        may drop some: counting only the survivors would lose that part of the budget for good)."""
        flat = [np.asarray(to_numpy(W), dtype=np.float64) for W in Ws]
        r = QB.budget_project(flat, self.S, self.choices, self.quantizer)
        masks = QB.project_sparsity(flat, r.bits, self.S)
        self.alloc = [int(b) * int(np.count_nonzero(m)) for b, m in zip(r.bits, masks)]
        self.n_allocations += 1

    def state(self) -> dict:
        """What a checkpoint keeps (JSON): the shares of the last allocation, the only state a
        projection reads (the widths are chosen again by each projection; the budget, widths and
        quantizer are the estimator's parameters, which the checkpoint checks). A resumed fit
        restores them (:meth:`load_state`), so its quantized output refit projects with the shares
        the uninterrupted fit would use."""
        return {"alloc": self.alloc}

    def load_state(self, st: dict) -> None:
        """Restore :meth:`state`."""
        alloc = st["alloc"]
        self.alloc = None if alloc is None else [int(v) for v in alloc]

    def project_layer(self, W, l: int) -> ProjectionResult:
        """``min ||W - G||^2 s.t. b(G) ||G||_0 <= S_l`` over the candidate widths (module docstring)."""
        if self.alloc is None:
            raise RuntimeError("BudgetG.allocate must run before the first G-update")
        xp = get_namespace(W)
        w = np.asarray(to_numpy(W), dtype=np.float64).reshape(-1)
        order = np.argsort(-np.abs(w), kind="stable")
        best = None
        for j in self.choices:
            n = min(w.size, self.alloc[l] // j)
            kept = np.zeros_like(w)
            kept[order[:n]] = w[order[:n]]
            q = QB.quantize_values(kept, j, self.quantizer)
            G = q.dequantized()
            err = float(np.sum((w - G) ** 2))
            if best is None or err < best[0]:
                best = (err, j, G)
        err, j, G = best
        self.bits[l] = j
        Gx = xp.asarray(G.reshape(tuple(W.shape)), dtype=W.dtype)
        return ProjectionResult(G=Gx, alpha=xp.asarray(1.0, dtype=W.dtype), Q=Gx, loss=err, n_iter=1,
                                stop="converged")

    def compressed(self, G, l: int, dtype: str) -> CompressedWeight:
        """G_l as stored: its distinct non-zero values as the codebook, at ``b(G) = ceil(log2 #values)``
        bits (at most the width it was projected with; G may also be an earlier iterate the
        solver went back to, so the width is read off G itself)."""
        g = np.asarray(to_numpy(G), dtype=dtype).reshape(-1)
        pos = np.flatnonzero(g)
        values, codes = np.unique(g[pos], return_inverse=True)
        bits = max(1, int(np.ceil(np.log2(max(values.size, 1)))))
        return CompressedWeight(tuple(np.shape(G)), bits, "kmeans", values, codes, pos)
