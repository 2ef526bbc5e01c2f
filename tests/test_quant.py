"""admmnet.quant: level sets, the G-update projection (thesis Algorithm 4) and code packing.

The projection is checked against an independent brute force (a fine alpha grid plus
every breakpoint of round(W / alpha), each followed by the exact alpha refinement)."""
import math

import numpy as np
import pytest

from admmnet._backend import to_numpy
from admmnet.quant import (
    LevelSet,
    ProjectionResult,
    make_level_set,
    pack_codes,
    packed_nbytes,
    project,
    quantize_weights,
    round_to_codes,
    unpack_codes,
)

ALL_SETS = ([("thesis", n) for n in range(1, 9)] + [("signed", n) for n in range(2, 9)]
            + [("binary", None), ("ternary", None)])
PROJ_SETS = [("binary", None), ("ternary", None), ("thesis", 1), ("thesis", 2), ("thesis", 3), ("signed", 3)]


def ls_id(p):
    return f"{p[0]}{'' if p[1] is None else p[1]}"


# --------------------------------------------------------------------------- levels
@pytest.mark.parametrize("kind,bits,lo,hi,n_levels,storage,dtype", [
    ("thesis", 1, -1, 1, 3, 2, "int8"),
    ("thesis", 2, -3, 3, 7, 3, "int8"),
    ("thesis", 4, -15, 15, 31, 5, "int8"),
    ("thesis", 7, -127, 127, 255, 8, "int8"),
    ("thesis", 8, -255, 255, 511, 9, "int16"),
    ("signed", 2, -1, 1, 3, 2, "int8"),
    ("signed", 4, -7, 7, 15, 4, "int8"),
    ("signed", 8, -127, 127, 255, 8, "int8"),
    ("ternary", None, -1, 1, 3, 2, "int8"),
])
def test_integer_level_sets(kind, bits, lo, hi, n_levels, storage, dtype):
    ls = make_level_set(kind, bits)
    assert ls.levels == tuple(range(lo, hi + 1))
    assert ls.qmax == hi and ls.zero and ls.kind == kind and ls.bits == bits
    assert ls.n_levels == n_levels == len(ls.levels)
    assert ls.storage_bits == storage == math.ceil(math.log2(n_levels))
    assert ls.code_dtype == dtype
    assert f"{n_levels} levels, {storage} bits of storage" in ls.describe()


def test_binary_ternary_and_describe():
    b = make_level_set("binary")
    assert b.levels == (-1, 1) and not b.zero and b.n_levels == 2 and b.storage_bits == 1
    assert b.code_dtype == "int8" and make_level_set("binary", 1).bits == 1
    assert b.describe() == "binary: {-1, +1} (2 levels, 1 bit of storage)"
    for bits in (None, 1, 2):
        t = make_level_set("ternary", bits)
        assert t.levels == (-1, 0, 1) and t.bits == bits and t.storage_bits == 2
    assert make_level_set("thesis", 2).describe() == "thesis 2-bit: integers -3..3 (7 levels, 3 bits of storage)"
    assert make_level_set("signed", 4).describe() == "signed 4-bit: integers -7..7 (15 levels, 4 bits of storage)"
    assert make_level_set("thesis", np.int64(3)).bits == 3        # numpy integers are integers
    assert make_level_set("Thesis", 2) == make_level_set("thesis", 2)


@pytest.mark.parametrize("kind,bits,message", [
    ("thesis", 9, "bits=9 is not supported for levels='thesis': choose N in 1..8"),
    ("thesis", 0, "choose N in 1..8"),
    ("thesis", None, "needs bits"),
    ("signed", 1, "bits=1 is not supported for levels='signed': choose N in 2..8"),
    ("signed", 9, "choose N in 2..8"),
    ("binary", 2, "bits=2 is not supported for levels='binary'"),
    ("ternary", 3, "bits=3 is not supported for levels='ternary'"),
    ("thesis", 2.5, "bits must be an integer"),
    ("thesis", "4", "bits must be an integer"),
    ("thesis", True, "bits must be an integer"),
    ("quaternary", 2, "choose one of thesis, signed, binary, ternary"),
    (None, 2, "levels must be a string"),
])
def test_bad_level_sets(kind, bits, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_level_set(kind, bits)


def test_levelset_direct_construction_is_validated():
    with pytest.raises(ValueError):
        LevelSet("binary", None, 1, True)
    with pytest.raises(ValueError):
        LevelSet("thesis", 2, 0, True)


def _nearest_level(x, ls):
    """Brute force: argmin over the levels (first = smallest level on exact ties)."""
    levels = np.asarray(ls.levels, dtype=float)
    return levels[np.argmin(np.abs(x[..., None] - levels), axis=-1)]


@pytest.mark.parametrize("p", ALL_SETS, ids=ls_id)
def test_round_to_codes_is_the_nearest_level(p):
    ls = make_level_set(*p)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.5 * ls.qmax - 3, 1.5 * ls.qmax + 3, size=(50, 40))   # incl. far out of range
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)
        q = round_to_codes(xd, ls)
        assert q.dtype == dtype and q.shape == x.shape
        np.testing.assert_array_equal(q, _nearest_level(xd.astype(np.float64), ls))


def test_round_to_codes_ties_and_strict_backend():
    import array_api_strict as xps
    t = make_level_set("thesis", 2)
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.5, -9.0, 0.0])
    np.testing.assert_array_equal(round_to_codes(x, t), [0, 2, 2, 0, -2, 3, -3, 0])     # half to even
    np.testing.assert_array_equal(round_to_codes(x, make_level_set("binary")), [1, 1, 1, -1, -1, 1, -1, 1])
    qs = round_to_codes(xps.asarray(x), t)
    assert isinstance(qs, type(xps.asarray(0.0)))
    np.testing.assert_array_equal(to_numpy(qs), round_to_codes(x, t))


# --------------------------------------------------------------------------- projection
def _brute_force_loss(w, ls, n_grid=20000):
    """min over alpha > 0 and Q of ||w - alpha Q||^2 for a 1-D w, independently of admmnet:
    candidates alpha = a log grid plus a point inside every interval between the
    breakpoints |w_i|/(k+1/2) of round(w/alpha); for each, Q = nearest levels of w/alpha
    (argmin over the levels) and alpha* = <w,Q>/<Q,Q>; best loss at (alpha*, Q)."""
    w = np.asarray(w, dtype=np.float64)
    m = np.abs(w).max()
    if m == 0:
        return 0.0
    grid = np.geomspace(m / (ls.qmax * 200.0), 4.0 * m, n_grid)
    nz = np.abs(w[w != 0])
    bps = np.unique((nz[:, None] / (np.arange(ls.qmax) + 0.5)[None, :]).ravel())
    mids = np.concatenate([(bps[:-1] + bps[1:]) / 2, [bps[0] / 2, bps[-1] * 2]])
    alphas = np.concatenate([grid, mids, bps * (1 + 1e-9), bps * (1 - 1e-9)])
    Q = _nearest_level(w[None, :] / alphas[:, None], ls)
    qq = (Q * Q).sum(1)
    dot = (Q * w).sum(1)
    a = np.where(qq > 0, dot / np.where(qq > 0, qq, 1), alphas)
    a = np.where(a > 0, a, alphas)
    return float((((w[None, :] - a[:, None] * Q)) ** 2).sum(1).min())


def _check_optimality(W, res, ls, granularity, rtol=1e-5):
    """alpha == <W,Q>/<Q,Q> and Q == round_to_codes(W/alpha) away from exact ties; G == alpha*Q."""
    W2 = W.reshape(1, -1) if granularity == "layer" else W
    Q = np.asarray(res.Q).reshape(W2.shape)
    alpha = np.asarray(res.alpha).reshape(-1, 1)
    assert np.all(alpha > 0) and np.all(np.isfinite(alpha))
    np.testing.assert_array_equal(res.G, (alpha * Q).reshape(W.shape))         # exactly alpha * Q
    assert np.all(Q == np.round(Q)) and np.all(np.isin(Q, ls.levels))
    dot, qq = (W2 * Q).sum(1, keepdims=True), (Q * Q).sum(1, keepdims=True)
    has = (qq[:, 0] > 0) & (dot[:, 0] > 0)
    np.testing.assert_allclose(alpha[has], (dot / np.where(qq > 0, qq, 1))[has], rtol=rtol)
    x = W2 / alpha
    nearest = _nearest_level(x, ls)
    if ls.zero:
        frac = np.abs(x - np.floor(x) - 0.5)
        tie = (frac < 1e-6) & (np.abs(x) < ls.qmax + 0.5)
    else:
        tie = np.abs(x) < 1e-12
    assert np.all((Q == nearest) | tie)
    np.testing.assert_allclose(res.loss, float(((W - np.asarray(res.G)) ** 2).sum()), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("p", PROJ_SETS, ids=ls_id)
@pytest.mark.parametrize("granularity", ["layer", "row"])
@pytest.mark.parametrize("init", ["auto", "exact"])
def test_projection_matches_brute_force(p, granularity, init):
    ls = make_level_set(*p)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        shape = [(3, 4), (2, 6), (4, 3)][seed % 3]
        W = rng.standard_normal(shape) * (rng.uniform(0.01, 10.0))
        if seed % 4 == 1:
            W = rng.standard_t(1.5, size=shape)                             # heavy tails
        if seed % 4 == 2:
            W[rng.uniform(size=shape) < 0.3] = 0.0                          # exact zeros
        res = project(W, ls, granularity=granularity, init=init)
        assert isinstance(res, ProjectionResult)
        rows = [W.ravel()] if granularity == "layer" else list(W)
        brute = sum(_brute_force_loss(r, ls) for r in rows)
        assert res.loss <= brute * (1 + 1e-9) + 1e-12, (seed, res.loss, brute)
        assert res.stop == "converged"
        _check_optimality(W, res, ls, granularity)


def test_projection_brute_force_longer_vectors_and_more_levels():
    for seed, (kind, bits, n) in enumerate([("thesis", 4, 30), ("signed", 5, 25), ("thesis", 2, 40)]):
        ls = make_level_set(kind, bits)
        W = np.random.default_rng(100 + seed).laplace(size=(1, n))
        res = project(W, ls)
        assert res.loss <= _brute_force_loss(W[0], ls) * (1 + 1e-9) + 1e-12
        _check_optimality(W, res, ls, "layer")


def test_exact_init_with_tied_magnitudes():
    """Many equal |w| (the exact search sorts thresholds without a stable order): still the
    global optimum, and the same answer for any order of the tied entries."""
    for seed, (kind, bits) in enumerate([("thesis", 2), ("thesis", 3), ("signed", 3), ("thesis", 1)]):
        ls = make_level_set(kind, bits)
        rng = np.random.default_rng(200 + seed)
        W = rng.choice([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0], size=(1, 24))
        res = project(W, ls, init="exact")
        assert res.loss <= _brute_force_loss(W[0], ls) * (1 + 1e-9) + 1e-12, (kind, bits)
        _check_optimality(W, res, ls, "layer")
        perm = rng.permutation(W.shape[1])
        again = project(W[:, perm], ls, init="exact")
        assert again.loss == pytest.approx(res.loss, rel=1e-12, abs=1e-15)


def test_plain_alternation_can_stall_but_project_does_not():
    """Why the global initialisation matters: on uniform weights Algorithm 4 started at
    max|W|/qmax stays there; project finds the optimum (alpha ~ 1/15.5 of the range)."""
    ls = make_level_set("thesis", 4)
    W = np.random.default_rng(1).uniform(-1, 1, size=(60, 60))
    alpha = np.abs(W).max() / 12.5
    for _ in range(50):                                                     # the textbook loop
        Q = np.clip(np.round(W / alpha), -15, 15)
        alpha = (W * Q).sum() / (Q * Q).sum()
    stalled = ((W - alpha * Q) ** 2).sum()
    res = project(W, ls)
    assert res.loss < 0.8 * stalled
    assert abs(float(res.alpha) * 15.5 - 1) < 0.01


@pytest.mark.parametrize("granularity", ["layer", "row"])
def test_grid_search_is_near_exact_on_larger_matrices(granularity):
    for seed, (kind, bits) in enumerate([("thesis", 4), ("thesis", 2), ("signed", 6), ("ternary", None)]):
        ls = make_level_set(kind, bits)
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((40, 300)) if seed % 2 else rng.laplace(size=(40, 300))
        exact = project(W, ls, granularity=granularity, init="exact")
        grid = project(W, ls, granularity=granularity, init="grid")
        assert grid.loss <= exact.loss * (1 + 2e-3), (kind, bits, grid.loss, exact.loss)
        assert exact.loss <= grid.loss * (1 + 1e-9)                          # exact is the optimum
        if grid.stop == "converged":
            _check_optimality(W, grid, ls, granularity)


def test_auto_uses_grid_for_large_inputs_and_alpha0_is_a_candidate():
    ls = make_level_set("thesis", 4)
    W = np.random.default_rng(3).uniform(-1, 1, size=(8, 8))
    exact = project(W, ls, granularity="row", init="exact")
    warm = project(W, ls, granularity="row", init="grid", alpha0=exact.alpha)
    assert warm.loss <= exact.loss * (1 + 1e-9)
    assert project(W, ls, init="grid", alpha0=1.0).loss >= exact.loss * (1 - 1e-12)
    big = np.random.default_rng(4).standard_normal((200, 400))              # 80000 * 15 events -> grid
    a = project(big, ls)
    g = project(big, ls, init="grid")
    np.testing.assert_array_equal(a.G, g.G)


@pytest.mark.parametrize("p", PROJ_SETS + [("thesis", 8)], ids=ls_id)
def test_row_granularity_is_the_layer_projection_of_each_row(p):
    ls = make_level_set(*p)
    W = np.random.default_rng(11).standard_normal((6, 9))
    W[2] = 0.0                                                              # an all-zero row
    res = project(W, ls, granularity="row")
    assert res.alpha.shape == (6, 1) and res.G.shape == W.shape
    for r in range(W.shape[0]):
        one = project(W[r:r + 1], ls, granularity="layer")
        assert one.alpha.shape == ()
        np.testing.assert_allclose(res.G[r], one.G[0], rtol=1e-12, atol=0)
    assert np.all(np.isfinite(res.alpha)) and np.all(res.alpha > 0)
    if ls.zero:
        assert np.all(res.G[2] == 0)
    assert res.loss <= project(W, ls).loss * (1 + 1e-12)                     # more scales never hurt


@pytest.mark.parametrize("p", PROJ_SETS, ids=ls_id)
@pytest.mark.parametrize("granularity", ["layer", "row"])
def test_all_zero_input(p, granularity):
    ls = make_level_set(*p)
    res = project(np.zeros((3, 5)), ls, granularity=granularity)
    assert res.stop == "zero_input" and res.n_iter == 0
    alpha = np.asarray(res.alpha)
    assert np.all(np.isfinite(alpha)) and np.all(alpha > 0)
    assert np.all(np.isfinite(res.G)) and res.loss < 1e-300
    if ls.zero:
        assert np.all(res.G == 0) and np.all(res.Q == 0)
    else:
        assert np.all(res.Q == 1) and np.all(np.abs(res.G) <= np.finfo(np.float64).smallest_normal)
    assert project(np.zeros((0, 4)), ls, granularity=granularity).stop == "zero_input"


@pytest.mark.parametrize("p", PROJ_SETS, ids=ls_id)
def test_single_nonzero_entry(p):
    ls = make_level_set(*p)
    W = np.zeros((4, 5))
    W[1, 3] = -2.5
    for granularity in ("layer", "row"):
        res = project(W, ls, granularity=granularity)
        assert np.all(np.isfinite(res.G)) and np.all(np.asarray(res.alpha) > 0)
        if ls.zero:
            np.testing.assert_allclose(res.G, W, rtol=1e-15, atol=0)
            assert res.loss == 0.0
        else:
            rows = [W.ravel()] if granularity == "layer" else list(W)
            assert res.loss <= sum(_brute_force_loss(r, ls) for r in rows) * (1 + 1e-9)


@pytest.mark.parametrize("magnitude", [1e30, 1e-30])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_and_tiny_weights_scale_out(magnitude, dtype):
    ls = make_level_set("thesis", 2)
    W1 = np.random.default_rng(5).standard_normal((5, 7))
    ref = project(W1.astype(dtype), ls, granularity="row")
    res = project((W1 * magnitude).astype(dtype), ls, granularity="row")
    assert res.G.dtype == dtype and np.all(np.isfinite(res.G)) and np.all(np.isfinite(res.alpha))
    np.testing.assert_array_equal(res.Q, ref.Q)
    np.testing.assert_allclose(res.G / magnitude, ref.G, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert math.isfinite(res.loss)
    np.testing.assert_allclose(res.loss / magnitude**2, ref.loss, rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("p", PROJ_SETS + [("thesis", 8)], ids=ls_id)
@pytest.mark.parametrize("init", ["exact", "grid"])
def test_float32_in_float32_out(p, init):
    ls = make_level_set(*p)
    W = np.random.default_rng(2).standard_normal((20, 30)).astype(np.float32)
    for granularity in ("layer", "row"):
        res = project(W, ls, granularity=granularity, init=init)
        assert res.G.dtype == res.Q.dtype == np.asarray(res.alpha).dtype == np.float32
        assert isinstance(res.loss, float) and isinstance(res.n_iter, int)
        np.testing.assert_array_equal(res.G, np.asarray(res.alpha).reshape(-1, 1) * res.Q.reshape(res.G.shape)
                                      if granularity == "row" else res.alpha * res.Q)
        ref = project(W.astype(np.float64), ls, granularity=granularity, init=init)
        assert res.loss <= ref.loss * (1 + 1e-4)
    assert quantize_weights(W, ls).dtype == np.float32


def test_layer_granularity_accepts_any_shape():
    ls = make_level_set("thesis", 1)
    W = np.random.default_rng(0).standard_normal((2, 3, 4))
    res = project(W, ls)
    assert res.G.shape == W.shape and res.alpha.shape == ()
    np.testing.assert_array_equal(res.G.ravel(), project(W.reshape(1, -1), ls).G.ravel())


def test_bad_inputs():
    ls = make_level_set("thesis", 2)
    W = np.ones((2, 3))
    for bad in (np.nan, np.inf, -np.inf):
        Wb = W.copy()
        Wb[1, 2] = bad
        with pytest.raises(ValueError, match="W contains NaN or inf"):
            project(Wb, ls)
    with pytest.raises(ValueError, match="granularity"):
        project(W, ls, granularity="column")
    with pytest.raises(ValueError, match="2-D"):
        project(np.ones(4), ls, granularity="row")
    with pytest.raises(ValueError, match="max_iter"):
        project(W, ls, max_iter=0)
    with pytest.raises(ValueError, match="patience"):
        project(W, ls, patience=0)
    with pytest.raises(ValueError, match="init"):
        project(W, ls, init="random")
    with pytest.raises(ValueError, match="LevelSet"):
        project(W, "thesis")
    with pytest.raises(ValueError, match="floating"):
        project(np.ones((2, 2), dtype=np.int64), ls)
    with pytest.raises(ValueError, match="alpha0"):
        project(np.random.default_rng(0).standard_normal((300, 300)), ls, alpha0=np.ones(7))


def test_termination_and_stop_reasons():
    ls = make_level_set("thesis", 3)
    W = np.random.default_rng(9).standard_normal((30, 40))
    full = project(W, ls)
    one = project(W, ls, max_iter=1)
    assert one.n_iter == 1 and one.stop == "max_iter"
    assert one.loss <= full.loss * (1 + 1e-12)            # the exact start is optimal after one step
    assert project(W, make_level_set("binary"), max_iter=1).stop == "converged"
    stops = set()
    for seed in range(20):
        Wr = np.random.default_rng(seed).standard_normal((25, 31)) ** 3
        for init in ("exact", "grid"):
            for patience in (1, 3):
                r = project(Wr, ls, granularity="row", init=init, max_iter=7, patience=patience)
                assert 1 <= r.n_iter <= 7 and r.stop in {"converged", "patience", "max_iter"}
                stops.add(r.stop)
    assert "converged" in stops


def test_same_result_under_array_api_strict():
    import array_api_strict as xps
    rng = np.random.default_rng(4)
    cases = [(make_level_set("thesis", 2), "layer", "auto"), (make_level_set("thesis", 2), "row", "auto"),
             (make_level_set("signed", 4), "row", "grid"), (make_level_set("binary"), "row", "auto"),
             (make_level_set("ternary"), "layer", "grid")]
    for ls, granularity, init in cases:
        for dtype in (np.float64, np.float32):
            W = rng.standard_normal((7, 11)).astype(dtype)
            W[3] = 0.0
            ref = project(W, ls, granularity=granularity, init=init)
            res = project(xps.asarray(W), ls, granularity=granularity, init=init, alpha0=None)
            assert isinstance(res.G, type(xps.asarray(0.0))) and isinstance(res.alpha, type(xps.asarray(0.0)))
            assert res.G.dtype == xps.asarray(W).dtype
            np.testing.assert_array_equal(to_numpy(res.G), ref.G)
            np.testing.assert_array_equal(to_numpy(res.alpha), ref.alpha)
            assert res.loss == ref.loss and res.n_iter == ref.n_iter and res.stop == ref.stop
    Wz = xps.zeros((2, 3))
    assert project(Wz, make_level_set("thesis", 1)).stop == "zero_input"


# --------------------------------------------------------------------------- packing
@pytest.mark.parametrize("p", ALL_SETS, ids=ls_id)
def test_pack_round_trip(p):
    ls = make_level_set(*p)
    rng = np.random.default_rng(ls.storage_bits)
    levels = np.asarray(ls.levels)
    for shape in [(1,), (7,), (3, 5), (13, 17), (4, 0)]:
        Q = rng.choice(levels, size=shape)
        if Q.size >= 2:
            Q.flat[0], Q.flat[-1] = levels[0], levels[-1]                   # the extremes
        packed = pack_codes(Q, ls)
        assert packed.dtype == np.uint8 and packed.ndim == 1
        assert packed.size == packed_nbytes(Q.size, ls) == math.ceil(Q.size * ls.storage_bits / 8)
        out = unpack_codes(packed, shape, ls)
        assert out.dtype == np.dtype(ls.code_dtype) and out.shape == shape
        np.testing.assert_array_equal(out, Q)
        np.testing.assert_array_equal(unpack_codes(pack_codes(Q.astype(np.float32), ls), shape, ls), Q)


def test_pack_layout_and_storage():
    t = make_level_set("ternary")
    # offsets 0,1,2,2 at 2 bits, least significant bit first: 00 10 01 01 -> 0b10100100
    np.testing.assert_array_equal(pack_codes(np.array([-1, 0, 1, 1]), t), [0b10100100])
    np.testing.assert_array_equal(pack_codes(np.array([1, -1, 1]), make_level_set("binary")), [0b101])
    assert packed_nbytes(1000, make_level_set("thesis", 8)) == 1125         # 9 bits per weight
    assert packed_nbytes(1000, make_level_set("signed", 8)) == 1000
    assert packed_nbytes(0, t) == 0
    with pytest.raises(ValueError):
        packed_nbytes(-1, t)


def test_pack_projection_codes_from_strict_backend():
    import array_api_strict as xps
    ls = make_level_set("thesis", 3)
    W = np.random.default_rng(0).standard_normal((5, 6))
    res = project(xps.asarray(W), ls, granularity="row")
    out = unpack_codes(pack_codes(res.Q, ls), (5, 6), ls)
    np.testing.assert_array_equal(out, to_numpy(res.Q))


@pytest.mark.parametrize("p", ALL_SETS, ids=ls_id)
def test_unpack_rejects_corrupt_data(p):
    ls = make_level_set(*p)
    Q = np.asarray(ls.levels * 3)
    packed = pack_codes(Q, ls)
    with pytest.raises(ValueError, match="bytes"):
        unpack_codes(packed[:-1], Q.shape, ls)
    with pytest.raises(ValueError, match="bytes"):
        unpack_codes(np.concatenate([packed, [0]]).astype(np.uint8), Q.shape, ls)
    with pytest.raises(ValueError, match="uint8"):
        unpack_codes(packed.astype(np.int64), Q.shape, ls)
    if ls.n_levels < 2**ls.storage_bits:                                    # an unused offset exists
        n = 8
        bad = np.full(packed_nbytes(n, ls), 0xFF, dtype=np.uint8)
        extra = 8 * bad.size - n * ls.storage_bits
        if extra:
            bad[-1] = (1 << (8 - extra)) - 1                                # keep the padding zero
        with pytest.raises(ValueError, match="offset"):
            unpack_codes(bad, (n,), ls)
    with pytest.raises(ValueError, match="outside"):
        pack_codes(np.array([ls.qmax + 1]), ls)
    with pytest.raises(ValueError, match="integer"):
        pack_codes(np.array([0.5]), ls)


def test_unpack_rejects_nonzero_padding():
    ls = make_level_set("thesis", 1)                                        # 3 weights -> 6 bits + 2 padding
    packed = pack_codes(np.array([0, 1, -1]), ls)
    packed[-1] |= 0b1000_0000
    with pytest.raises(ValueError, match="padding"):
        unpack_codes(packed, (3,), ls)
    with pytest.raises(ValueError, match="binary"):
        pack_codes(np.array([1, 0, -1]), make_level_set("binary"))
