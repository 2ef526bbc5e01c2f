r"""Scratch (not part of the package): progressive layerwise quantization, the layers above
retrained by ADMM after each layer is quantized.

The layerwise quantizer fits layer l's codes to the FP pre-activations on the quantized
features below it, so every layer above l only imitates the FP network; none of them learns
to work with the error the quantized layers below leave. Incremental quantization (Zhou et
al., INQ, 2017) quantizes part of a network and retrains the rest before quantizing more. Its
gradient-free form here: after layer l is quantized, the layers above it (a network of their
own, whose inputs are the fixed quantized features ``a_l``) run ``K`` full-precision QNN-ADMM
iterations on the labels (the fit's own ADMM: closed-form and layer-local updates, z_L's FISTA
on the labels, no gradient through the network), from their current weights and the
penalties the FP phase ended with, then the FP output refit as an FP fit ends; layer l + 1's
targets are then the retrained layers' pre-activations on ``a_l``. ``{"_progressive": K}``.
The fit's safeguard stays: the layerwise network is kept only if its training loss is not
above the projected FP network's, and the quantized output refit ends the fit as before.

    python benchmarks/results/quantizer_validation/progressive/progrun.py --dataset seeds --splits 10 \
        --bits 1 --grid '[{}, {"_progressive": 20}, {"_progressive": 100}]' --out /tmp/progressive
"""
import dataclasses
import sys

sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/results/quantizer_validation")

import admmnet.admm.layerwise as LW         # noqa: E402
import admmnet.admm.solver as S             # noqa: E402
from admmnet.kernels import gemm            # noqa: E402
import quantizer_validation as qv           # noqa: E402
from scratch_option import install_patches  # noqa: E402

_orig_start = S.start_quantized
_CTX = {}


def start_quantized(state, activation, level_set, params, kern, *, layerwise=None, Y=None):
    _CTX.update(Y=Y, params=params, kern=kern, k=state.k)
    try:
        return _orig_start(state, activation, level_set, params, kern, layerwise=layerwise, Y=Y)
    finally:
        _CTX.clear()


def quantize_network(X, Ws, bs, activation, level_set, *, ridge=0.0, equalize=None, kern=None, **kw):
    K = int(K_ITER.value)
    Y, params = _CTX["Y"], dataclasses.replace(_CTX["params"], momentum=0.0)
    kern = _CTX["kern"] if kern is None else kern
    if equalize is not None:
        Ws, bs = LW.equalize_network(Ws, bs, activation, norm=equalize)
    Ws, bs = list(Ws), (list(bs) if bs is not None else None)
    L, fits, a_q = len(Ws), [], X
    for l in range(L):
        T = gemm.mm(Ws[l], a_q)
        if bs is not None:
            T = T + bs[l]
        fit = LW.quantize_layer(a_q, T, level_set, W0=Ws[l], bias=bs is not None, ridge=ridge, kern=kern, **kw)
        fits.append(fit)
        if l < L - 1:
            zq = gemm.mm(fit.G, a_q)
            if bs is not None:
                zq = zq + fit.b
            a_q = activation(zq)
            sub = S.state_from_weights(a_q, Ws[l + 1:], None if bs is None else bs[l + 1:], activation, params,
                                       k=_CTX["k"])
            for _ in range(K):
                S.admm_iteration(sub, Y, activation, None, params, kern)
            if params.refit_output:
                S.refit_output(sub, Y, activation, None, params, kern)
            Ws[l + 1:] = sub.W
            if bs is not None:
                bs[l + 1:] = sub.b
    return fits


K_ITER = install_patches(qv, "_progressive", (S, "start_quantized", start_quantized),
                         (LW, "quantize_network", quantize_network))
if __name__ == "__main__":
    sys.exit(qv.main(sys.argv[1:]))
