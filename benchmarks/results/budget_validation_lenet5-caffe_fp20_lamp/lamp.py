r"""Scratch (not part of the package): budget_validation.py with the knapsack's profits given
by layer-adaptive magnitude scores (LAMP; Lee et al., "Layer-adaptive sparsity for the
magnitude-based pruning", ICLR 2021) instead of ``W^2``.

The budget's sparsity projection (eq. 8) keeps the entries of largest ``W^2`` per bit over all
layers at once, so its allocation across layers follows the layers' weight scales. LAMP scores
entry u of a layer, its squares sorted ascending, by ``w_u^2 / sum_{v >= u} w_v^2`` (its
square over those of the entries not smaller): within a layer the order of ``|w|``, across
layers a scale-free one, and every layer keeps its largest entry. Patched into
``admmnet.quant.budget.project_sparsity`` (so the gradual pruning's masks, the final
compression and the MCKP's choice of widths all use it), the knapsack ranking by score per bit.

    python benchmarks/results/budget_validation_lenet5-caffe_fp20_lamp/lamp.py --arch lenet5-caffe \
        --budgets 2000x --fp-epochs 20 --grid '[{}]' --out benchmarks/results/budget_validation_lenet5-caffe_fp20_lamp
"""
import sys

import numpy as np

sys.path.insert(0, "benchmarks")
import admmnet.quant.budget as QB          # noqa: E402

_orig = QB.project_sparsity


def lamp_scores(W) -> np.ndarray:
    """LAMP score of every entry of ``W`` (same shape)."""
    sq = np.asarray(W, dtype=np.float64).reshape(-1) ** 2
    order = np.argsort(sq, kind="stable")
    s = sq[order]
    tail = np.cumsum(s[::-1])[::-1]
    out = np.empty_like(sq)
    out[order] = np.where(tail > 0, s / np.where(tail > 0, tail, 1.0), 0.0)
    return out.reshape(np.shape(W))


def project_sparsity(Wbar, bits, budget):
    return _orig([np.sqrt(lamp_scores(W)) for W in Wbar], bits, budget)


QB.project_sparsity = project_sparsity
import budget_validation                   # noqa: E402

if __name__ == "__main__":
    sys.exit(budget_validation.main(sys.argv[1:]))
