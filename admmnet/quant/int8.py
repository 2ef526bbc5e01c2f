r"""Dynamic int8 inference: int8 per-row weights, uint8 activations quantized at run time,
integer matrix products with int32 accumulation (the DQ and QAT baselines).

Weights (per output row r, symmetric, max-abs scale)::

    s_r = max_j |W_rj| / 127   (1 for an all-zero row),   Q_rj = clip(round(W_rj / s_r), -127, 127)  (int8)

Activations (per batch, asymmetric, computed at run time from the batch itself;
the range always contains 0 so that 0 is exact)::

    lo = min(0, min a),  hi = max(0, max a),  s_a = (hi - lo) / 255  (1 if hi == lo),
    zp = clip(round(-lo / s_a), 0, 255),      q = clip(round(a / s_a) + zp, 0, 255)  (uint8)

Integer product and requantisation back to the float domain of the next layer::

    acc = Q (q - zp)                 int32 accumulation: |acc| <= 127 * 255 * n_in < 2^31
    z   = (s_r * s_a) * acc + b      the one float multiply per output (b stays float)

so ``z`` differs from the float product ``W a + b`` only by the two rounding
errors, ``|z - (W a + b)| <= s_r s_a/2 sum_j |Q_rj| + s_r/2 sum_j |a_j| + ...``
(:func:`int8_error_bound` gives the first-order bound the tests use).

The integer product has two implementations behind :data:`INT_MATMUL`: ``"int32"``
(the reference: ``int32 @ int32`` in the namespace) and ``"float64-exact"`` (the default
where the namespace has float64): the same integers multiplied by the BLAS in float64.
Every product and every partial sum is an integer of magnitude below
``127 * 255 * n_in < 2^31 < 2^53``, so float64 represents each exactly and the result,
cast back to int32, is bit-for-bit the int32 accumulation (tested), only 10-100x faster
on CPUs whose BLAS has no integer GEMM (NumPy's integer matmul is a plain loop).
:func:`fake_quant_act` / :func:`fake_quant_weight` are the same roundings
in float arithmetic (what QAT trains through with the straight-through estimator).
"""
from __future__ import annotations

from .._backend import get_namespace

__all__ = ["QMAX_W", "QMAX_A", "weight_qparams", "quantize_weight_int8", "act_qparams", "quantize_act",
           "int8_linear", "INT_MATMUL", "fake_quant_weight", "fake_quant_act", "int8_error_bound", "MAX_FAN_IN"]

QMAX_W = 127
QMAX_A = 255
#: Largest fan-in for which int32 accumulation cannot overflow.
MAX_FAN_IN = (2**31 - 1) // (QMAX_W * QMAX_A)


def weight_qparams(W):
    """Per-row symmetric scale ``s`` (n_out x 1): max |W_row| / 127, 1 for an all-zero row."""
    xp = get_namespace(W)
    m = xp.max(xp.abs(W), axis=1, keepdims=True)
    return xp.where(m > 0, m / QMAX_W, xp.ones_like(m))


def quantize_weight_int8(W):
    """``(codes, scale)``: int8 codes in -127..127 and the per-row scale, ``W ~ scale * codes``."""
    xp = get_namespace(W)
    s = weight_qparams(W)
    Q = xp.clip(xp.round(W / s), -QMAX_W, QMAX_W)
    return xp.astype(Q, xp.int8), s


def fake_quant_weight(W):
    """``scale * round(W / scale)`` in float: the int8 weights as QAT's forward pass sees them."""
    xp = get_namespace(W)
    s = weight_qparams(W)
    return xp.clip(xp.round(W / s), -QMAX_W, QMAX_W) * s


def act_qparams(lo, hi):
    """``(scale, zero_point)`` of the uint8 grid covering [min(lo, 0), max(hi, 0)] (Python floats)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / QMAX_A
    if not scale > 0:
        return 1.0, 0
    zp = int(min(max(round(-lo / scale), 0), QMAX_A))
    return scale, zp


def quantize_act(a, scale: float, zp: int):
    """uint8 codes (held in int32) ``clip(round(a / scale) + zp, 0, 255)``."""
    xp = get_namespace(a)
    q = xp.clip(xp.round(a / scale) + zp, 0, QMAX_A)
    return xp.astype(q, xp.int32)


def fake_quant_act(a, scale: float, zp: int):
    """``(scale * (q - zp), mask)``: the dequantized activations and the STE mask
    (1 where ``a`` lies inside the grid's range, else 0: the clipped entries get no gradient)."""
    xp = get_namespace(a)
    q = xp.clip(xp.round(a / scale) + zp, 0, QMAX_A)
    lo, hi = (0 - zp) * scale, (QMAX_A - zp) * scale
    mask = xp.astype((a >= lo) & (a <= hi), a.dtype)
    return (q - zp) * scale, mask


def _matmul_int32(codes, qa):
    xp = get_namespace(qa)
    return xp.astype(codes, xp.int32) @ qa


def _matmul_float64_exact(codes, qa):
    xp = get_namespace(qa)
    if not hasattr(xp, "float64"):
        return _matmul_int32(codes, qa)
    return xp.astype(xp.astype(codes, xp.float64) @ xp.astype(qa, xp.float64), xp.int32)


#: Implementations of the int32-accumulated product ``Q (q - zp)`` (module docstring).
INT_MATMUL = {"int32": _matmul_int32, "float64-exact": _matmul_float64_exact}


def int8_linear(codes, w_scale, a, bias=None, *, matmul: str = "float64-exact"):
    """``z = (s_w s_a) (Q (q_a - zp)) + b`` for float activations ``a`` (n_in x m), quantized
    per call (one batch). ``codes`` int8 (n_out x n_in), ``w_scale`` (n_out x 1).
    The product is int32-accumulated (``matmul``: a key of :data:`INT_MATMUL`, both give the
    same integers); returns float ``z`` in ``a``'s dtype."""
    xp = get_namespace(a)
    n_in = a.shape[0]
    if n_in > MAX_FAN_IN:
        raise ValueError(f"fan-in {n_in} > {MAX_FAN_IN}: int32 accumulation could overflow")
    s_a, zp = act_qparams(xp.min(a), xp.max(a))
    qa = quantize_act(a, s_a, zp) - zp                     # int32 in [-255, 255]
    acc = INT_MATMUL[matmul](codes, qa)                     # int32 accumulation (exact)
    z = (xp.astype(w_scale, a.dtype) * s_a) * xp.astype(acc, a.dtype)
    if bias is not None:
        z = z + xp.astype(bias, a.dtype)
    return z


def int8_error_bound(codes, w_scale, W_float, a):
    """Entrywise bound on ``|int8_linear(codes, w_scale, a) - W_float a|`` (both without bias):
    ``|W - s Q| |a| + s |Q| |a - s_a (q - zp)|`` with the rounding errors ``|W - sQ| <= s/2`` (taken
    exactly) and ``|a - s_a (q - zp)| <= s_a / 2``, plus float slack."""
    xp = get_namespace(a)
    s_a, _ = act_qparams(xp.min(a), xp.max(a))
    Wd = xp.astype(w_scale, a.dtype) * xp.astype(codes, a.dtype)
    ew = xp.abs(W_float - Wd) @ xp.abs(a)
    ea = (xp.abs(Wd) @ xp.ones_like(a)) * (s_a / 2)
    return ew + ea + 1e-4 * (xp.abs(W_float) @ xp.abs(a) + 1.0)
