r"""Scratch (not part of the package): ReLU-aware targets for the layerwise quantizer's hidden layers.

The layerwise quantizer fits each hidden layer's ``G a + b`` to the FP pre-activations ``T``;
after the ReLU only ``relu(T)`` matters, so a quantized pre-activation may be anything <= 0
where ``T <= 0``. The layer's ReLU-aware loss is the squared distance of ``p = G a + b`` to the
set ``S = {p: p = T where T > 0, p <= 0 elsewhere}``,

.. math:: J(p) = \tfrac12 \sum_{T > 0} (p - T)^2 + \tfrac12 \sum_{T \le 0} \max(p, 0)^2 ,

and majorization-minimization gives a sequence of ordinary layer fits: with ``T' = P_S(p_k)``
(``T`` where ``T > 0``, ``min(p_k, 0)`` elsewhere), ``J(p) <= 1/2 ||p - T'||^2`` with equality
at ``p_k``, so fitting the layer to ``T'`` (``quantize_layer``, the same ADMM from the FP
weights) and keeping the new fit only when ``J`` falls never raises ``J``. ``"_relu": R``
runs R such rounds after the usual fit of every hidden layer (the output layer is refitted on
the cross-entropy as before), by wrapping ``layerwise.quantize_layer`` while
``layerwise.quantize_network`` runs. Layer-local, no gradient. From the repository root:

    python benchmarks/results/quantizer_validation/relu_targets/relurun.py --dataset seeds --splits 10 \
        --bits 1 --grid '[{}, {"_relu": 2}]' --out /tmp/relu
"""
import sys

sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/results/quantizer_validation")

import numpy as np                          # noqa: E402

import admmnet.admm.layerwise as LW         # noqa: E402
from admmnet.kernels import gemm            # noqa: E402
import quantizer_validation as qv           # noqa: E402
from scratch_option import install_patches  # noqa: E402

_orig_network, _orig_layer = LW.quantize_network, LW.quantize_layer
_layers = {"L": 0, "l": 0}          # the network being quantized: its depth, the next layer's index


def relu_loss(p, T):
    return 0.5 * float(np.sum(np.where(T > 0, p - T, np.maximum(p, 0.0)) ** 2))


def quantize_network(X, Ws, bs, activation, level_set, **kw):
    """``quantize_network`` itself, with the hidden layers' fits of :func:`quantize_layer` below
    when the activation is the ReLU."""
    _layers.update(L=len(Ws) if activation.name == "relu" else 0, l=0)
    try:
        return _orig_network(X, Ws, bs, activation, level_set, **kw)
    finally:
        _layers.update(L=0, l=0)


def quantize_layer(a, T, level_set, *, W0, bias=True, **kw):
    """The layer's fit, then (a hidden layer of a ReLU network) majorization-minimization
    rounds (``ROUNDS.value``) on the ReLU-aware loss, each kept only when that loss falls (module docstring)."""
    fit = _orig_layer(a, T, level_set, W0=W0, bias=bias, **kw)
    l = _layers["l"]
    _layers["l"] = l + 1
    if l >= _layers["L"] - 1:        # the output layer, or not switched on
        return fit

    def pre(f):
        p = gemm.mm(f.G, a)
        return p + f.b if bias else p

    p = pre(fit)
    J = relu_loss(p, T)
    for _ in range(int(ROUNDS.value)):
        Tp = np.where(T > 0, T, np.minimum(p, 0.0)).astype(T.dtype)
        new = _orig_layer(a, Tp, level_set, W0=W0, bias=bias, **kw)
        p_new = pre(new)
        J_new = relu_loss(p_new, T)
        if not J_new < J:
            break
        fit, p, J = new, p_new, J_new
    return fit


# the ReLU-aware rounds ("_relu": R) in effect while a fit runs
ROUNDS = install_patches(qv, "_relu", (LW, "quantize_network", quantize_network),
                         (LW, "quantize_layer", quantize_layer))
if __name__ == "__main__":
    sys.exit(qv.main(sys.argv[1:]))
