r"""Scratch (not part of the package): cross-layer equalization of the FP network before the quantizer.

A ReLU is positively homogeneous, so scaling hidden unit j of layer l by ``c_j > 0``
(row j of W_l and b_l times c_j, column j of W_{l+1} divided by it) leaves the FP network's
function unchanged. A level set with one scale per layer does not see it that way: the
FP phase leaves the hidden layers balanced but the output layer's columns 5-30 times the size of
the hidden rows, and spread by a factor of up to 10 between columns (Seeds split 0), so a
ternary output layer with one alpha cannot represent its small columns. Cross-layer
equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
Correction", ICCV 2019) picks ``c_j = sqrt(r2_j / r1_j)`` with ``r1_j`` the range of row j of
W_l and ``r2_j`` that of column j of W_{l+1}, after which both are ``sqrt(r1_j r2_j)``; the pairs
(l, l+1) are swept in turn, 10 rounds. ``"_cle": "max"`` takes ranges as max |w| (the paper's),
``"_cle": "l2"`` as Euclidean norms. The layerwise quantizer then runs on the equalized
network (its targets are the same function's pre-activations, rescaled). Layer-local and
function-preserving: no gradient, no data.

    python benchmarks/results/quantizer_validation/equalization/clerun.py --dataset seeds --splits 10 \
        --bits 1 2 --grid '[{}, {"_cle": "max"}, {"_cle": "l2"}]' --out /tmp/cle
"""
import sys

sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/results/quantizer_validation")

import numpy as np                          # noqa: E402

import admmnet.admm.layerwise as LW         # noqa: E402
import quantizer_validation as qv           # noqa: E402
from scratch_option import install_patches  # noqa: E402

ROUNDS = 10
_orig_network = LW.quantize_network


def equalize(Ws, bs, kind: str, rounds: int = ROUNDS):
    """Equalized copies of ``Ws``, ``bs`` (the same ReLU network's function)."""
    Ws = [np.array(W, copy=True) for W in Ws]
    bs = None if bs is None else [np.array(b, copy=True) for b in bs]

    def rng(W, axis):
        return np.abs(W).max(axis=axis) if kind == "max" else np.sqrt((W.astype(np.float64) ** 2).sum(axis=axis))

    for _ in range(rounds):
        for l in range(len(Ws) - 1):
            r1, r2 = rng(Ws[l], 1), rng(Ws[l + 1], 0)
            ok = (r1 > 0) & (r2 > 0)
            c = np.where(ok, np.sqrt(np.where(ok, r2, 1.0) / np.where(ok, r1, 1.0)), 1.0).astype(Ws[l].dtype)
            Ws[l] = Ws[l] * c[:, None]
            if bs is not None:
                bs[l] = bs[l] * c.reshape(bs[l].shape[0], *([1] * (bs[l].ndim - 1)))
            Ws[l + 1] = Ws[l + 1] / c[None, :]
    return Ws, bs


def quantize_network(X, Ws, bs, activation, level_set, **kw):
    if activation.name == "relu":
        Ws, bs = equalize(Ws, bs, KIND.value)
    return _orig_network(X, Ws, bs, activation, level_set, **kw)


# the equalization ("_cle": "max" | "l2") in effect while a fit runs
KIND = install_patches(qv, "_cle", (LW, "quantize_network", quantize_network))
if __name__ == "__main__":
    sys.exit(qv.main(sys.argv[1:]))
