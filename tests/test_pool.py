"""The buffer pool of the CPU fast path (admmnet.kernels.pool): memory is reused only once no
view of an array is left, never while one lives; idle memory is bounded and released when the
active block ends; the solver's iterates do not depend on it."""
import dataclasses
import gc

import numpy as np
import pytest

from admmnet.admm import solver as S
from admmnet.admm.activations import get_activation
from admmnet.kernels import gemm, get_kernels, numba_cpu
from admmnet.kernels.pool import BufferPool
from admmnet.quant import make_level_set

MB = 1 << 20


def _ptr(a):
    return a.__array_interface__["data"][0]


def test_arrays_are_fresh_objects_of_the_requested_shape():
    pool = BufferPool(min_bytes=MB)
    with pool.active():
        a = pool.empty((300, 1000), np.float32)
        assert a.shape == (300, 1000) and a.dtype == np.float32
        assert a.flags.c_contiguous and a.flags.writeable
        b = pool.empty_like(a)
        assert not np.shares_memory(a, b)
        small = pool.empty((10, 10), np.float64)             # below min_bytes: plain NumPy
        assert small.flags.owndata


def test_memory_comes_back_only_after_the_last_view_dies():
    pool = BufferPool(min_bytes=MB)
    with pool.active():
        a = pool.empty((512, 1024), np.float32)
        a[:] = 1.0
        view = a.T[3:]                                        # a view outliving its array
        p = _ptr(a)
        del a
        gc.collect()
        b = pool.empty((512, 1024), np.float32)
        assert not np.shares_memory(b, view) and _ptr(b) != p
        b[:] = 2.0
        assert np.all(view == 1.0)                            # untouched by the new array
        del view
        gc.collect()
        c = pool.empty((512, 1024), np.float32)               # now the block is reused
        assert _ptr(c) == p and pool.hits == 1


def test_idle_memory_is_bounded_and_released():
    pool = BufferPool(min_bytes=MB, max_idle_bytes=5 * MB)
    with pool.active():
        arrs = [pool.empty((MB // 4,), np.float32) for _ in range(8)]   # 8 blocks of 1 MiB
        del arrs
        gc.collect()
        assert pool.idle_bytes == 5 * MB                      # the cap, not all 8
        big = pool.empty((2 * MB,), np.uint8)                 # another size: idle blocks freed first
        assert pool.idle_bytes == 0
        x = pool.empty((MB,), np.uint8)
        del x
        gc.collect()
        assert pool.idle_bytes == MB
        del big
    assert pool.idle_bytes == 0                               # released when the active block ends
    y = pool.empty((MB,), np.uint8)
    del y
    gc.collect()
    assert pool.idle_bytes == 0                               # outside: straight back to the system


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError, match="min_bytes"):
        BufferPool(min_bytes=0)


def test_products_use_the_pool_only_inside_pooled():
    pool = BufferPool(min_bytes=1024)
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((64, 40)), rng.standard_normal((40, 300))
    outside = gemm.mm(A, B)
    assert outside.flags.owndata
    with gemm.pooled(pool):
        inside = gemm.mm(A, B)
        g = gemm.gram(B)
    assert not inside.flags.owndata
    np.testing.assert_array_equal(inside, outside)            # same BLAS call, same bits
    np.testing.assert_array_equal(g, B @ B.T)


def test_pooled_is_per_thread():
    import threading

    pool = BufferPool(min_bytes=1024)
    A = np.ones((64, 64))
    seen = {}
    with gemm.pooled(pool):
        t = threading.Thread(target=lambda: seen.update(other=gemm.mm(A, A).flags.owndata))
        t.start()
        t.join()
        assert not gemm.mm(A, A).flags.owndata
    assert seen["other"]                                      # the other thread allocated as NumPy does


@pytest.mark.skipif(not numba_cpu.AVAILABLE, reason="Numba is not installed")
@pytest.mark.parametrize("bits", [None, 2])
def test_solver_iterates_do_not_depend_on_the_pool(bits):
    rng = np.random.default_rng(1)
    m = 3000
    X = rng.standard_normal((20, m)).astype(np.float32)
    Y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, m)].T.copy()
    ls = None if bits is None else make_level_set("thesis", bits)
    params = S.ADMMParams(beta=0.5, gamma=0.5, mu=1.0, forward_reset=1, layer_scale=2.0)
    act = get_activation("relu")
    small = BufferPool(min_bytes=1024)                        # so that this small problem uses it
    out = []
    for pool in (None, small):
        kern = dataclasses.replace(get_kernels(X, backend="numba"), pool=pool)
        st = S.init_state(X, (20, 30, 30, 5), act, ls, params, np.random.default_rng(0), bias=True)
        for _ in range(4):
            S.admm_iteration(st, Y, act, ls, params, kern)
        out.append([np.array(w) for w in st.W + st.z])
    assert small.hits > 0
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
