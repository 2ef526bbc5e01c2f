r"""Scratch (not part of the package): the layerwise quantizer fitted on copies of the rows.

The layerwise quantizer fits each quantized layer to the FP network's pre-activations on the
training rows, and a closer fit of those few targets has generalised worse three times
(``refine_codes``, the output codes' descent, the exact layer objective). Here the layer fits
see the FP network's function on more points than the rows: the rows plus ``k`` copies, each
``x + sigma * noise`` (``"_copies": ["noise", k, sigma]``, standardised features) or a convex
mix of two rows (any classes: the quantizer sees no labels), ``lam x_i + (1 - lam) x_j`` with ``lam ~ U(0, 1)``
(``"_copies": ["mix", k, 0]``). The targets on the copies are the FP network's own
pre-activations, so nothing but the FP function is fitted (no labels, no gradient); the
quantized output refit that ends the fit still uses the real rows and their labels.
Deterministic: the copies' generator is seeded by the rows' count and the first row.

    python benchmarks/results/quantizer_validation/target_copies/copyrun.py --dataset seeds --splits 10 \
        --bits 1 --grid '[{}, {"_copies": ["noise", 4, 0.1]}, {"_copies": ["mix", 4, 0]}]' --out /tmp/copies
"""
import sys

sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/results/quantizer_validation")

import numpy as np                          # noqa: E402

import admmnet.admm.layerwise as LW         # noqa: E402
import quantizer_validation as qv           # noqa: E402
from scratch_option import install_patches  # noqa: E402

_orig_network = LW.quantize_network


def copies(X, spec):
    """``X`` (features x rows) with its copies appended as further columns."""
    kind, k, sigma = spec[0], int(spec[1]), float(spec[2])
    Xn = np.asarray(X)
    rng = np.random.default_rng([Xn.shape[1], int(abs(float(Xn[0, 0])) * 1e6)])
    parts = [Xn]
    for _ in range(k):
        if kind == "noise":
            parts.append(Xn + sigma * rng.standard_normal(Xn.shape).astype(Xn.dtype))
        elif kind == "mix":
            j = rng.permutation(Xn.shape[1])
            lam = rng.uniform(0, 1, Xn.shape[1]).astype(Xn.dtype)
            parts.append(lam * Xn + (1 - lam) * Xn[:, j])
        else:
            raise ValueError(kind)
    return np.concatenate(parts, axis=1)


def quantize_network(X, Ws, bs, activation, level_set, **kw):
    return _orig_network(copies(X, SPEC.value), Ws, bs, activation, level_set, **kw)


SPEC = install_patches(qv, "_copies", (LW, "quantize_network", quantize_network))
if __name__ == "__main__":
    sys.exit(qv.main(sys.argv[1:]))
