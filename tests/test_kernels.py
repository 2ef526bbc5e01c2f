"""Every fast kernel against its array-API reference (the oracle), on random data and on
edge cases (zeros, ties, huge and tiny values, NaN/inf), in float32 and float64; the
product reuse of the solver gives the same iterates; the dispatch table picks the
right backend. Numba tests run when Numba is installed, CuPy tests when a GPU is there."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from admmnet.admm import solver as S
from admmnet.admm import updates as U
from admmnet.admm.activations import ACTIVATIONS, get_activation
from admmnet.kernels import NUMPY, REFERENCE, gemm, get_kernels, numba_cpu, reference
from admmnet.quant import make_level_set, project

DTYPES = (np.float32, np.float64)
PIECES = {name: act.pieces for name, act in ACTIVATIONS.items()}

needs_numba = pytest.mark.skipif(not numba_cpu.AVAILABLE, reason="Numba is not installed")


def _fast_tables():
    out = []
    if numba_cpu.AVAILABLE:
        out.append(pytest.param(get_kernels(backend="numba"), id="numba"))
    return out


FAST = _fast_tables()


def eps(dt):
    return float(np.finfo(dt).eps)


def edge_values(dt):
    """Zeros, exact piece boundaries, ties, huge and tiny magnitudes, inf and NaN."""
    fi = np.finfo(dt)
    v = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, 1e-30, -1e-30, float(fi.tiny), float(fi.smallest_subnormal),
         1e30 if dt == np.float64 else 1e30, -1e30, float(fi.max) / 4, -float(fi.max) / 4, np.inf, -np.inf, np.nan]
    return np.asarray(v, dtype=np.float64).astype(dt)


def assert_close(fast, ref, dt, ulps=4, atol=0.0):
    fast, ref = np.asarray(fast), np.asarray(ref)
    assert fast.shape == ref.shape and fast.dtype == ref.dtype
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(ref))
    np.testing.assert_allclose(fast, ref, rtol=ulps * eps(dt), atol=atol, equal_nan=True)


# --------------------------------------------------------------------------- z update
@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("act", sorted(PIECES))
@pytest.mark.parametrize("beta,gamma", [(1.0, 1.0), (0.1, 0.01), (1e-4, 10.0), (1e3, 1e-3)])
def test_z_update_random_matches_reference(kern, dt, act, beta, gamma):
    rng = np.random.default_rng(0)
    p = (3 * rng.standard_normal((37, 1001))).astype(dt)
    a = rng.standard_normal((37, 1001)).astype(dt)
    ref = reference.z_update_piecewise(p, a, beta, gamma, PIECES[act])
    assert_close(kern.z_update_piecewise(p, a, beta, gamma, PIECES[act]), ref, dt, ulps=2)


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("act", sorted(PIECES))
def test_z_update_edge_cases_match_reference(kern, dt, act):
    v = edge_values(dt)
    p, a = np.meshgrid(v, v)                      # every pair, ties between pieces included
    p, a = np.ascontiguousarray(p), np.ascontiguousarray(a)
    with np.errstate(all="ignore"):
        ref = reference.z_update_piecewise(p, a, 1.0, 1.0, PIECES[act])
        out = kern.z_update_piecewise(p, a, 1.0, 1.0, PIECES[act])
    assert_close(out, ref, dt, ulps=2)


@pytest.mark.parametrize("kern", FAST)
def test_z_update_falls_back_on_other_inputs(kern):
    p = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = np.ones((1, 3), dtype=np.float32)          # broadcasting: the reference handles it
    np.testing.assert_array_equal(kern.z_update_piecewise(p, a, 1.0, 1.0, PIECES["relu"]),
                                  reference.z_update_piecewise(p, a, 1.0, 1.0, PIECES["relu"]))
    np.testing.assert_array_equal(kern.z_update_piecewise(p[:, ::2], p[:, ::2], 1.0, 2.0, PIECES["relu"]),
                                  reference.z_update_piecewise(p[:, ::2], p[:, ::2], 1.0, 2.0, PIECES["relu"]))


# --------------------------------------------------------------------------- softmax / FISTA
def _logits(dt, n=10, m=777, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    z = (scale * rng.standard_normal((n, m))).astype(dt)
    y = np.eye(n, dtype=dt)[rng.integers(0, n, m)].T.copy()
    return z, y


def _edge_logits(dt):
    z, y = _logits(dt, n=4, m=12)
    big = float(np.finfo(dt).max) / 2
    z[:, 0] = 0.0                                   # zeros (all tied)
    z[:, 1] = 5.0                                   # ties at a non-zero value
    z[:, 2] = [big, -big, 0.0, 1.0]                 # huge: z - max overflows to -inf -> clamped
    z[:, 3] = [1e-30, -1e-30, 0.0, 1e-38]           # tiny
    z[:, 4] = [-1e4, 0.0, -2e4, -1e3]               # exp underflows to 0
    z[:, 5] = [np.nan, 0.0, 1.0, 2.0]               # NaN column (stays NaN, others are unaffected)
    z[:, 6] = [1.0, np.nan, 1.0, 2.0]
    z[:, 7] = [-np.inf, 0.0, 1.0, 2.0]              # -inf logit: probability 0
    return z, y


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("case", ["random", "wide", "edge"])
def test_softmax_xent_matches_reference(kern, dt, case):
    z, y = _edge_logits(dt) if case == "edge" else _logits(dt, scale=30.0 if case == "wide" else 3.0)
    with np.errstate(all="ignore"):
        v_ref, g_ref = reference.softmax_xent(z, y)
        v, g = kern.softmax_xent(z, y)
        s_ref, s = reference.softmax(np.where(np.isfinite(z), z, 0)), kern.softmax(np.where(np.isfinite(z), z, 0))
    # exp to 1-2 ulp, 0 instead of a denormal below the normal range
    atol = 8 * eps(dt)
    assert_close(g, g_ref, dt, ulps=16, atol=atol)
    assert_close(s, s_ref, dt, ulps=16, atol=atol)
    if np.isnan(v_ref):
        assert np.isnan(v)
    else:
        np.testing.assert_allclose(float(v), float(v_ref), rtol=64 * eps(dt))


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
def test_softmax_xent_many_classes_sums_logs_in_chunks(kern, dt):
    # 3000 tied classes: every softmax denominator is 3000, so a block's product of
    # denominators (3000^256 ~ 1e890) must be split before it overflows float64
    z = np.zeros((3000, 700), dtype=dt)
    y = np.eye(3000, dtype=dt)[np.arange(700) % 3000].T.copy()
    v, _ = kern.softmax_xent(z, y)
    assert np.isfinite(float(v))
    np.testing.assert_allclose(float(v), 700 * np.log(3000.0), rtol=64 * eps(dt))
    np.testing.assert_allclose(float(v), float(reference.softmax_xent(z, y)[0]), rtol=64 * eps(dt))


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("c", [0.0, 0.37])
def test_fista_step_matches_reference(kern, dt, c):
    z, y = _logits(dt, m=1500)
    z_old = z + np.asarray(0.1, dt) * _logits(dt, m=1500, seed=1)[0]
    bq = np.asarray(0.3, dt) * _logits(dt, m=1500, seed=2)[0]
    out_ref, s2_ref, n2_ref = reference.fista_step(z, z_old, c, bq, y, 0.5, 0.3)
    out, s2, n2 = kern.fista_step(z, z_old, c, bq, y, 0.5, 0.3)
    assert_close(out, out_ref, dt, ulps=16, atol=8 * eps(dt))
    np.testing.assert_allclose([s2, n2], [s2_ref, n2_ref], rtol=1e-4 if dt == np.float32 else 1e-10)
    assert isinstance(s2, float) and isinstance(n2, float)


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
def test_fista_step_nan_guard(kern, dt):
    """A NaN logit makes the step sums NaN (the FISTA loop then restarts), as in the reference."""
    z, y = _edge_logits(dt)
    z = np.where(np.isinf(z) | (np.abs(z) > 1e6), 0, z).astype(dt)
    _, s2_ref, _ = reference.fista_step(z, z, 0.0, z, y, 0.5, 0.3)
    _, s2, _ = kern.fista_step(z, z, 0.0, z, y, 0.5, 0.3)
    assert np.isnan(s2_ref) and np.isnan(s2)


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
def test_fista_solve_with_kernel_matches_reference(kern, dt):
    """The whole z_L update (FISTA loop) with the fused step agrees with the reference loop."""
    z, y = _logits(dt, m=600)
    q = np.asarray(0.5, dt) * z
    ref, info_ref = U.update_zL_fista(np.zeros_like(q), q, y, 0.7, tol=1e-6, max_iter=300, xent=reference.softmax_xent)
    out, info = U.update_zL_fista(np.zeros_like(q), q, y, 0.7, tol=1e-6, max_iter=300,
                                  xent=kern.softmax_xent, step=kern.fista_step)
    tol = 1e-4 if dt == np.float32 else 1e-9
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    assert abs(info.n_iter - info_ref.n_iter) <= (3 if dt == np.float32 else 0)


# --------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(200, 3001), (7,), (1, 1), (0, 5)])
def test_sq_norm_axpy_matches_reference(kern, dt, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dt)
    y = rng.standard_normal(shape).astype(dt)
    for s in (0.0, -0.25, 3.0):
        np.testing.assert_allclose(float(kern.sq_norm_axpy(x, y, s)), float(reference.sq_norm_axpy(x, y, s)),
                                   rtol=1e-5 if dt == np.float32 else 1e-12)


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
def test_sq_norm_axpy_edge_cases(kern, dt):
    v = edge_values(dt)
    with np.errstate(all="ignore"):
        for x, y in [(v, np.zeros_like(v)), (np.zeros_like(v), v), (v[:12], v[:12])]:
            ref = float(reference.sq_norm_axpy(x, y, 0.5))
            got = float(kern.sq_norm_axpy(x, y, 0.5))
            assert np.isnan(got) == np.isnan(ref)
            assert np.isinf(got) == np.isinf(ref)
            if np.isfinite(ref):
                np.testing.assert_allclose(got, ref, rtol=1e-5 if dt == np.float32 else 1e-12)


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
def test_axpby_matches_reference(kern, dt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 333)).astype(dt)
    y = rng.standard_normal((50, 333)).astype(dt)
    assert_close(kern.axpby(0.3, x, -2.0, y), reference.axpby(0.3, x, -2.0, y), dt, ulps=1)
    v = edge_values(dt)
    with np.errstate(all="ignore"):
        assert_close(kern.axpby(1.0, v, 0.5, v[::-1].copy()), reference.axpby(1.0, v, 0.5, v[::-1].copy()), dt, ulps=1)


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activate_matches_reference(kern, dt, act):
    """h(z) bit for bit: random (big enough to run in parallel) and edge values (NaN stays NaN)."""
    a = ACTIVATIONS[act]
    rng = np.random.default_rng(1)
    z = (2 * rng.standard_normal((64, 3001))).astype(dt)
    z0 = z.copy()
    got = kern.activate(z, a)
    np.testing.assert_array_equal(got, reference.activate(z, a))
    assert got.dtype == z.dtype and got.shape == z.shape and (act == "identity" or got is not z)
    v = edge_values(dt)
    np.testing.assert_array_equal(kern.activate(v, a), reference.activate(v, a))
    np.testing.assert_array_equal(kern.activate(z[:, ::3], a), reference.activate(z[:, ::3], a))  # strided
    np.testing.assert_array_equal(z, z0)                           # the input is left alone


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
def test_add_bias_matches_reference_in_place(kern, dt):
    rng = np.random.default_rng(2)
    p = rng.standard_normal((37, 5001)).astype(dt)
    b = rng.standard_normal((37, 1)).astype(dt)
    want = p + b
    q = p.copy()
    got = kern.add_bias(q, b)
    assert got is q                                              # written into the product
    np.testing.assert_array_equal(got, want)
    v = edge_values(dt).reshape(1, -1)
    with np.errstate(all="ignore"):
        e = np.repeat(v, 3, axis=0)
        be = np.asarray([[0.0], [np.inf], [-1e30]], dtype=dt)
        np.testing.assert_array_equal(kern.add_bias(e.copy(), be), e + be)
    # shapes or layouts it does not handle go to the reference (same result)
    f = np.asfortranarray(p)
    np.testing.assert_array_equal(kern.add_bias(f.copy(order="F"), b), want)
    np.testing.assert_array_equal(kern.add_bias(p.copy(), b.reshape(1, -1)[:, :1]), p + b[0, 0])


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(200, 60001), (10, 5000), (3, 1), (1, 0)])
def test_row_sums_matches_reference(kern, dt, shape):
    """x 1 against an exact sum (math.fsum) and the reference: the kernel accumulates in
    float64, so float32 rows are exact up to the final rounding."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) + 0.5).astype(dt)
    got = kern.row_sums(x)
    assert got.shape == (shape[0], 1) and got.dtype == x.dtype
    exact = np.asarray([[math.fsum(r)] for r in x.astype(np.float64)])
    scale = np.abs(x).astype(np.float64).sum(axis=1, keepdims=True) + 1e-300
    tol = 2 * eps(dt) if dt == np.float32 else 1e-12
    assert np.all(np.abs(got - exact) / scale <= tol)
    np.testing.assert_allclose(got, reference.row_sums(x), rtol=0, atol=float(np.max(scale)) * max(tol, 1e-6))
    v = edge_values(dt)
    with np.errstate(all="ignore"):
        e = np.stack([v, np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)])
        np.testing.assert_array_equal(np.isnan(kern.row_sums(e)), np.isnan(reference.row_sums(e)))


# --------------------------------------------------------------------------- projection
@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("qmax,zero", [(1, True), (3, True), (255, True), (1, False)])
@pytest.mark.parametrize("shape", [(1, 20000), (40, 333)])
def test_proj_step_matches_reference(kern, dt, qmax, zero, shape):
    rng = np.random.default_rng(0)
    W = rng.standard_normal(shape).astype(dt)
    Wn = W / np.abs(W).max(axis=1, keepdims=True)
    alpha = np.full((shape[0], 1), 0.8 / qmax, dtype=dt)
    Q0, a0, l0, s0 = reference.proj_step(Wn, alpha, None, qmax, zero)
    Q1, a1, l1, s1 = kern.proj_step(Wn, alpha, None, qmax, zero)
    np.testing.assert_array_equal(Q1, Q0)
    assert s0 is None and s1 is None
    tol = 1e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(a1, a0, rtol=tol)
    np.testing.assert_allclose(l1, l0, rtol=tol * 10, atol=tol * float(np.max(l0)))
    # second step, with the previous codes: "same" per row
    Q0b, a0b, l0b, s0b = reference.proj_step(Wn, a0, Q0, qmax, zero)
    Q1b, a1b, l1b, s1b = kern.proj_step(Wn, a0, Q0, qmax, zero)
    np.testing.assert_array_equal(Q1b, Q0b)
    np.testing.assert_array_equal(s1b, s0b)


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("dt", DTYPES)
def test_proj_step_ties_zero_rows_and_binary(kern, dt):
    # exact half-integers in code units: ties go to the even code, as xp.round does
    Wn = np.asarray([[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.0, 7.0, -9.0],
                     [0.0] * 10], dtype=dt)
    alpha = np.ones((2, 1), dtype=dt)
    for qmax, zero in [(3, True), (1, True), (1, False)]:
        ref = reference.proj_step(Wn, alpha, None, qmax, zero)
        got = kern.proj_step(Wn, alpha, None, qmax, zero)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])       # the zero row keeps its alpha
        np.testing.assert_allclose(got[2], ref[2], rtol=4 * eps(dt))


@pytest.mark.parametrize("kern", FAST)
@pytest.mark.parametrize("granularity", ["layer", "row"])
@pytest.mark.parametrize("bits,levels", [(2, "thesis"), (8, "thesis"), (1, "binary"), (None, "ternary")])
def test_project_with_kernel_matches_reference(kern, granularity, bits, levels):
    rng = np.random.default_rng(3)
    W = rng.standard_normal((60, 80))
    ls = make_level_set(levels, bits)
    ref = project(W, ls, granularity=granularity)
    got = project(W, ls, granularity=granularity, kernel=kern.proj_step)
    np.testing.assert_allclose(got.loss, ref.loss, rtol=1e-9)
    np.testing.assert_allclose(got.G, ref.G, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- SPD helpers (NumPy table)
@pytest.mark.parametrize("dt", DTYPES)
def test_spd_inverse_and_factor(dt):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 30))
    M = (A @ A.T + 30 * np.eye(30)).astype(dt)
    B = rng.standard_normal((30, 7)).astype(dt)
    tol = 1e-4 if dt == np.float32 else 1e-10
    for table in (REFERENCE, NUMPY):
        np.testing.assert_allclose(table.spd_inverse(M) @ M, np.eye(30), atol=tol)
        np.testing.assert_allclose(table.spd_factor(M)(B), np.linalg.solve(M, B), rtol=tol, atol=tol)
    # not positive definite: the NumPy table falls back to a general solve / inverse
    N = np.diag([1.0, -2.0, 3.0]).astype(dt)
    np.testing.assert_allclose(NUMPY.spd_inverse(N), np.linalg.inv(N), rtol=tol)
    np.testing.assert_allclose(NUMPY.spd_factor(N)(np.ones((3, 1), dt)), np.linalg.solve(N, np.ones((3, 1), dt)),
                               rtol=tol)


def test_a_exact_operator_forms_agree():
    """The push-through and direct forms of eq. 4.27 give update_a_exact's minimiser."""
    rng = np.random.default_rng(0)
    for n_out, n_in in [(3, 20), (20, 20), (30, 8)]:
        W = rng.standard_normal((n_out, n_in))
        b = rng.standard_normal((n_out, 1))
        t = rng.standard_normal((n_out, 50))
        hz = rng.standard_normal((n_in, 50))
        ref = U.update_a_exact(W, b, t, hz, 0.7, 0.3, solve=NUMPY.spd_solve)
        op = U.a_exact_operator(W, 0.7, 0.3, inverse=NUMPY.spd_inverse)
        assert op[0] == ("push" if n_out < n_in / 2 else "direct")
        np.testing.assert_allclose(U.update_a_exact_op(op, W, b, t, hz, 0.7, 0.3), ref, rtol=1e-9, atol=1e-10)
        other = ("direct", NUMPY.spd_inverse(0.7 * W.T @ W + 0.3 * np.eye(n_in)))
        np.testing.assert_allclose(U.update_a_exact_op(other, W, b, t, hz, 0.7, 0.3), ref, rtol=1e-9, atol=1e-10)


def test_backtracking_pre_and_return_pre():
    """W' a + b' returned by the backtracking step equals the product it replaces."""
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((5, 8)), rng.standard_normal((5, 1))
    a, t = rng.standard_normal((8, 40)), rng.standard_normal((5, 40))
    W1, b1, info1 = U.update_W_backtracking(W, b, t, a, 1.0, 1e-3, mu=0.5, G=np.zeros_like(W))
    W2, b2, info2, p2 = U.update_W_backtracking(W, b, t, a, 1.0, 1e-3, mu=0.5, G=np.zeros_like(W),
                                                pre=W @ a + b, return_pre=True)
    assert info1 == info2
    np.testing.assert_allclose(W2, W1, rtol=1e-12)
    np.testing.assert_allclose(b2, b1, rtol=1e-12)
    np.testing.assert_allclose(p2, W2 @ a + b2, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- solver: same iterates
SOLVER_CASES = [
    pytest.param(None, {}, id="fp-exact"),
    pytest.param(None, dict(momentum=0.5, ridge=0.5), id="fp-momentum"),
    pytest.param(2, {}, id="2bit-exact"),
    pytest.param(2, dict(w_solver="backtracking", a_solver="backtracking"), id="2bit-backtracking"),
    pytest.param(None, dict(w_solver="backtracking", a_solver="exact", forward_reset=0), id="fp-mixed-noreset"),
]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("bits,kw", SOLVER_CASES)
def test_solver_iterates_same_with_every_table_and_reuse(dt, bits, kw):
    ls = None if bits is None else make_level_set("thesis", bits)
    kw = dict(kw)
    reset = kw.pop("forward_reset", 1)
    ref, _ = _run_solver_reset(dt, REFERENCE, False, ls, reset, **kw)
    tables = [("reference", REFERENCE), ("numpy", NUMPY)]
    if numba_cpu.AVAILABLE:
        tables.append(("numba", get_kernels(backend="numba")))
    tol = 2e-4 if dt == np.float32 else 1e-9
    for name, table in tables:
        for reuse in (False, True):
            st, count = _run_solver_reset(dt, table, reuse, ls, reset, **kw)
            for l in range(3):
                scale = float(np.max(np.abs(ref.W[l])))
                np.testing.assert_allclose(st.W[l], ref.W[l], atol=tol * scale, err_msg=f"{name} reuse={reuse}")
                np.testing.assert_allclose(st.z[l], ref.z[l], atol=tol * float(np.max(np.abs(ref.z[l]))) + tol)
            np.testing.assert_allclose(st.lam, ref.lam, atol=tol * float(np.max(np.abs(ref.lam))) + tol)


def _run_solver_reset(dt, table, reuse, level_set, reset, **kw):
    rng = np.random.default_rng(0)
    m = 300
    X = rng.standard_normal((12, m)).astype(dt)
    Y = np.eye(4, dtype=dt)[rng.integers(0, 4, m)].T.copy()
    params = S.ADMMParams(beta=0.5, gamma=0.5, mu=1.0, reuse_products=reuse, forward_reset=reset,
                          layer_scale=2.0, **kw)
    act = get_activation("relu")
    st = S.init_state(X, [12, 9, 7, 4], act, level_set, params, np.random.default_rng(1), bias=True)
    with gemm.count_gemms() as count:
        for _ in range(3):
            S.admm_iteration(st, Y, act, level_set, params, table)
    return st, count


@pytest.mark.parametrize("bits", [None, 2])
def test_reuse_removes_gemms(bits):
    """Product reuse: fewer GEMM FLOPs per iteration, and the memo actually hits."""
    ls = None if bits is None else make_level_set("thesis", bits)
    _, before = _run_solver_reset(np.float64, NUMPY, False, ls, 1)
    st, after = _run_solver_reset(np.float64, NUMPY, True, ls, 1)
    # full precision: the forward reset's products are the z-update's (a large saving);
    # quantized, the reset multiplies by G, so only t a^T and W^T t are saved
    assert after.flops < (0.8 if bits is None else 0.99) * before.flops
    assert st.memo.hits > 0
    # t a^T of the input layer: computed by the backward sweep, reused by the forward sweep
    taT0 = [c for c in after.calls if (c[0], c[1], c[2]) == (9, 12, 300)]
    assert len(taT0) == 3                                   # once per iteration, 3 iterations


def test_gemm_counter_counts_shapes():
    a = np.ones((3, 5))
    with gemm.count_gemms() as c:
        gemm.mm(a, a.T)
        gemm.gram(a)
    assert c.n == 2 and c.flops == 2 * 3 * 3 * 5 + 3 * 4 * 5
    assert gemm.mm(a, a.T).shape == (3, 3)                  # outside the context: no counting


def test_evaluate_objective_reuses_products():
    ls = make_level_set("thesis", 2)
    st, _ = _run_solver_reset(np.float64, NUMPY, True, ls, 1)
    act = get_activation("relu")
    with gemm.count_gemms() as c:
        S.evaluate_objective(st, np.eye(4)[np.zeros(300, int)].T, act, NUMPY)
    assert c.n == 0                                         # every W_l a_{l-1} + b_l is cached


# --------------------------------------------------------------------------- dispatch
def test_get_kernels_dispatch():
    x = np.zeros((2, 2), dtype=np.float32)
    assert get_kernels(x, backend="reference") is REFERENCE
    assert get_kernels(x, backend="numpy") is NUMPY
    assert get_kernels(x).name == ("numba" if numba_cpu.AVAILABLE else "numpy")
    assert get_kernels().name == "reference"
    with pytest.raises(ValueError, match="backend"):
        get_kernels(x, backend="fortran")


def test_get_kernels_without_numba(monkeypatch):
    monkeypatch.setattr(numba_cpu, "AVAILABLE", False)
    assert get_kernels(np.zeros(3)) is NUMPY
    with pytest.raises(ValueError, match="Numba"):
        get_kernels(np.zeros(3), backend="numba")


def test_no_numba_environment_variable_selects_numpy_table():
    code = ("import numpy as np; from admmnet.kernels import get_kernels; "
            "print(get_kernels(np.zeros(2)).name)")
    env = dict(os.environ, ADMMNET_NO_NUMBA="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"


def test_array_api_strict_gets_reference_table():
    xps = pytest.importorskip("array_api_strict")
    assert get_kernels(xps.asarray([1.0])) is REFERENCE


def test_device_validation():
    from admmnet import QNNADMM
    from admmnet.model import resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "gpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    m = QNNADMM(hidden_sizes=(4,), max_iter=2, device="cpu").fit(X, y)
    assert len(m.history_) == 2
    with pytest.raises(ValueError, match="device"):
        QNNADMM(hidden_sizes=(4,), max_iter=1, device="tpu").fit(X, y)


# --------------------------------------------------------------------------- CuPy (GPU only)
def _cupy():
    cp = pytest.importorskip("cupy")
    from admmnet.kernels import cupy_gpu

    if not cupy_gpu.available():
        pytest.skip("no CUDA GPU")
    return cp


@pytest.mark.parametrize("dt", DTYPES)
def test_cupy_kernels_match_reference(dt):
    cp = _cupy()
    table = get_kernels(cp.zeros(1), backend="cupy")
    rng = np.random.default_rng(0)
    p = (3 * rng.standard_normal((37, 1001))).astype(dt)
    a = rng.standard_normal((37, 1001)).astype(dt)
    for act in sorted(PIECES):
        ref = reference.z_update_piecewise(p, a, 0.1, 0.01, PIECES[act])
        got = table.z_update_piecewise(cp.asarray(p), cp.asarray(a), 0.1, 0.01, PIECES[act]).get()
        np.testing.assert_allclose(got, ref, rtol=8 * eps(dt), atol=8 * eps(dt))
    z, y = _logits(dt)
    v_ref, g_ref = reference.softmax_xent(z, y)
    v, g = table.softmax_xent(cp.asarray(z), cp.asarray(y))
    np.testing.assert_allclose(g.get(), g_ref, rtol=64 * eps(dt), atol=64 * eps(dt))
    np.testing.assert_allclose(float(v), float(v_ref), rtol=1e-5)
    out_ref, s2_ref, n2_ref = reference.fista_step(z, z * 0.9, 0.4, z * 0.1, y, 0.5, 0.3)
    out, s2, n2 = table.fista_step(cp.asarray(z), cp.asarray(z * 0.9), 0.4, cp.asarray(z * 0.1), cp.asarray(y), 0.5, 0.3)
    np.testing.assert_allclose(out.get(), out_ref, rtol=64 * eps(dt), atol=64 * eps(dt))
    np.testing.assert_allclose([s2, n2], [s2_ref, n2_ref], rtol=1e-4)
    # the GPU contracts alpha x + beta y into one FMA: within a few ulps of the operands' sizes
    got = table.axpby(0.3, cp.asarray(p), 2.0, cp.asarray(a)).get()
    bound = 4 * eps(dt) * (np.abs(0.3 * p) + np.abs(2.0 * a))
    assert np.all(np.abs(got - reference.axpby(0.3, p, 2.0, a)) <= bound)
    for act in sorted(ACTIVATIONS):
        np.testing.assert_array_equal(table.activate(cp.asarray(p), ACTIVATIONS[act]).get(),
                                      reference.activate(p, ACTIVATIONS[act]))
    np.testing.assert_array_equal(table.add_bias(cp.asarray(p), cp.asarray(a[:, :1])).get(), p + a[:, :1])
    np.testing.assert_allclose(table.row_sums(cp.asarray(p)).get(), reference.row_sums(p), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dt", DTYPES)
def test_cupy_reductions_match_reference(dt):
    """The block-partial sums: ||x + s y||^2 and the projection step, on shapes that take one
    block, many blocks of one row (a layer-wise projection) and the grid-stride loop."""
    cp = _cupy()
    table = get_kernels(cp.zeros(1), backend="cupy")
    rng = np.random.default_rng(1)
    rtol = 1e-5 if dt == np.float32 else 1e-10
    for shape in [(1, 1), (37, 1001), (3, 1_000_003)]:
        x, y = (rng.standard_normal(shape).astype(dt) for _ in range(2))
        got = table.sq_norm_axpy(cp.asarray(x), cp.asarray(y), -0.7)
        assert got.shape == () and got.dtype == dt
        np.testing.assert_allclose(float(got), math.fsum((x.astype(np.float64) - 0.7 * y).ravel() ** 2), rtol=rtol)
    xt = cp.asarray(x[:, :5000]).T                           # not contiguous
    np.testing.assert_allclose(float(table.sq_norm_axpy(xt, xt, 1.0)), 4 * float(np.sum(x[:, :5000] ** 2)), rtol=rtol)
    for shape, qmax, zero in [((37, 1001), 3, True), ((1, 156_800), 1, True), ((200, 784), 7, True),
                              ((50, 300), 1, False)]:
        W = rng.standard_normal(shape).astype(dt)
        Wn = W / np.abs(W).max(axis=1, keepdims=True)
        alpha = np.full((shape[0], 1), 0.3, dtype=dt)
        Q0, a0, l0, _ = reference.proj_step(Wn, alpha, None, qmax, zero)
        Q1, a1, l1, s1 = table.proj_step(cp.asarray(Wn), cp.asarray(alpha), None, qmax, zero)
        assert s1 is None
        np.testing.assert_array_equal(Q1.get(), Q0)
        np.testing.assert_allclose(a1.get(), a0, rtol=rtol)
        np.testing.assert_allclose(l1.get(), l0, rtol=10 * rtol, atol=10 * rtol * float(np.max(l0)))
        assert a1.dtype == dt and l1.dtype == dt and a1.shape == l1.shape == (shape[0], 1)
        # a second step from the new alpha, with Q_prev: "same" marks the rows whose codes stayed
        Qp = Q0.copy()
        Qp[0, 0] = -Qp[0, 0] if Qp[0, 0] != 0 else 1
        Q0b, a0b, l0b, s0 = reference.proj_step(Wn, a0, Qp, qmax, zero)
        Q1b, a1b, l1b, s1b = table.proj_step(cp.asarray(Wn), cp.asarray(a0), cp.asarray(Qp), qmax, zero)
        np.testing.assert_array_equal(Q1b.get(), Q0b)
        np.testing.assert_array_equal(s1b.get(), s0)
        assert not bool(s1b[0, 0])
        np.testing.assert_allclose(a1b.get(), a0b, rtol=rtol)


@pytest.mark.parametrize("bits", [None, 2])
def test_cupy_solver_matches_cpu(bits):
    cp = _cupy()
    ls = None if bits is None else make_level_set("thesis", bits)
    ref, _ = _run_solver_reset(np.float64, NUMPY, True, ls, 1)
    rng = np.random.default_rng(0)
    m = 300
    X = rng.standard_normal((12, m))
    Y = np.eye(4)[rng.integers(0, 4, m)].T.copy()
    params = S.ADMMParams(beta=0.5, gamma=0.5, mu=1.0, forward_reset=1, layer_scale=2.0)
    act = get_activation("relu")
    Xd, Yd = cp.asarray(X), cp.asarray(Y)
    st = S.init_state(Xd, [12, 9, 7, 4], act, ls, params, np.random.default_rng(1), bias=True)
    table = get_kernels(Xd)
    assert table.name == "cupy"
    for _ in range(3):
        S.admm_iteration(st, Yd, act, ls, params, table)
    for l in range(3):
        np.testing.assert_allclose(cp.asnumpy(st.W[l]), ref.W[l], atol=1e-8 * float(np.max(np.abs(ref.W[l]))))


def test_cupy_model_fit_matches_cpu():
    _cupy()
    from admmnet import QNNADMM

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 6)), rng.integers(0, 3, 200)
    cpu = QNNADMM(hidden_sizes=(5,), max_iter=5, dtype="float64", device="cpu").fit(X, y)
    gpu = QNNADMM(hidden_sizes=(5,), max_iter=5, dtype="float64", device="gpu").fit(X, y)
    np.testing.assert_allclose(cpu.column("objective"), gpu.column("objective"), rtol=1e-6)


def test_product_cache_identity_and_eager_release():
    import gc
    import weakref

    cache = S.ProductCache()
    a, b = np.ones((3, 4)), np.ones((4, 2))
    calls = []

    def compute():
        calls.append(1)
        return a @ b

    v1 = cache.get(("p", 0), (a, b, 0.5), compute)
    v2 = cache.get(("p", 0), (a, b, 0.5), compute)
    assert v1 is v2 and len(calls) == 1 and cache.hits == 1
    cache.get(("p", 0), (a, b, 0.25), compute)              # a scalar input changed
    assert len(calls) == 2
    a_equal_copy = a.copy()                                   # equal values, another object: a miss
    cache.get(("p", 0), (a_equal_copy, b, 0.25), compute)
    assert len(calls) == 3
    value_ref = weakref.ref(cache.peek(("p", 0), (a_equal_copy, b, 0.25)))
    del a_equal_copy                                          # an input dies: the value is freed at once
    gc.collect()
    assert value_ref() is None and cache.peek(("p", 0), (a, b, 0.25)) is None
    cache.enabled = False
    cache.get(("p", 0), (a, b, 0.25), compute)
    cache.get(("p", 0), (a, b, 0.25), compute)
    assert len(calls) == 5                                    # disabled: always recomputed
