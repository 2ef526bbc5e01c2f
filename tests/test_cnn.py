"""Convolutional networks in the backprop engine: conv / pool / flatten backward passes against
finite differences, im2col/col2im adjointness, the Numba kernels against the array-API oracle,
the named architectures' sizes, training, quantized estimators, saving and loading."""
import numpy as np
import pytest

import admmnet
from admmnet.backprop import conv as C
from admmnet.backprop.arch import Arch, get_arch, init_arch_params, lenet5, lenet5_caffe
from admmnet.backprop.engine import backward, forward, softmax_cross_entropy
from admmnet.backprop.layers import Activation, Conv2d, Dense, Flatten, MaxPool2d, ReLU
from admmnet.baselines import DQ, FPMLP, LQ, PTQ, QAT, QNNSTE
from admmnet.kernels import numba_conv

needs_numba = pytest.mark.skipif(not numba_conv.AVAILABLE, reason="Numba is not installed")
GEOMS = [(3, 1, 0), (3, 2, 0), (3, 1, 2), (3, 2, 2), (5, 2, 2), (2, 2, 1)]   # (k, stride, padding)


def _xp():
    import array_api_compat.numpy as xp

    return xp


def _arch(k, s, p, pool=(2, None), n_classes=3):
    """input 2x9x9 -> conv 2->3 (3x3, pad 1) -> h -> conv 3->2 (k, s, p) -> h -> pool -> flatten -> dense."""
    body = [Conv2d(2, 3, 3, 1, 1), Activation(), Conv2d(3, 2, k, s, p), ReLU, MaxPool2d(*pool), Flatten()]
    shape = (2, 9, 9)
    for layer in body:
        layer = layer() if isinstance(layer, type) else layer
        shape = layer.out_shape(shape)
    return Arch((2, 9, 9), tuple(body) + (Dense(shape[0], n_classes),))


def _loss_and_grads(arch, Ws, bs, A0, Y, act="relu"):
    Z, cache = forward(Ws, bs, A0, act, arch=arch)
    loss, dZ = softmax_cross_entropy(Z, Y)
    dWs, dbs = backward(Ws, cache, dZ, act, arch=arch)
    return float(loss), dWs, dbs


@pytest.mark.parametrize("k,s,p", GEOMS)
@pytest.mark.parametrize("pool", [(2, None), (3, 2)])
def test_cnn_gradients_match_finite_differences(k, s, p, pool):
    """Every weight and bias gradient of a two-conv net (stride 1/2, padding 0/2, pooling 2
    and overlapping 3/2) against central differences, float64."""
    try:
        arch = _arch(k, s, p, pool)
    except ValueError:
        pytest.skip("too small for this geometry")
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    xp = _xp()
    Ws, bs = init_arch_params(arch, "relu", rng, xp, xp.float64)
    bs = [b + rng.normal(0, 0.1, b.shape) for b in bs]
    m = 4
    A0 = rng.standard_normal((arch.n_features, m))
    Y = np.eye(3)[:, rng.integers(0, 3, m)]
    _, dWs, dbs = _loss_and_grads(arch, Ws, bs, A0, Y)
    h = 1e-6
    for params, grads in ((Ws, dWs), (bs, dbs)):
        for l, P in enumerate(params):
            for idx in rng.choice(P.size, size=min(P.size, 8), replace=False):
                i = np.unravel_index(idx, P.shape)
                old = P[i]
                P[i] = old + h
                lp, _, _ = _loss_and_grads(arch, Ws, bs, A0, Y)
                P[i] = old - h
                lm, _, _ = _loss_and_grads(arch, Ws, bs, A0, Y)
                P[i] = old
                assert abs((lp - lm) / (2 * h) - grads[l][i]) < 1e-6 + 1e-5 * abs(grads[l][i])


def test_flatten_order_is_channel_row_column():
    """Flatten and the input view use feature index c*H*W + h*W + w (PyTorch's order)."""
    arch = Arch((2, 3, 3), (Flatten(), Dense(18, 18)))
    xp = _xp()
    W = np.eye(18)
    A0 = np.arange(36, dtype=float).reshape(18, 2)
    Z, _ = forward([W], None, A0, "relu", arch=arch)
    np.testing.assert_array_equal(Z, A0)
    x = np.reshape(A0, (2, 3, 3, 2))
    assert x[1, 2, 0, 1] == A0[1 * 9 + 2 * 3 + 0, 1]
    assert xp is not None


@pytest.mark.parametrize("fast", [False, pytest.param(True, marks=needs_numba)])
@pytest.mark.parametrize("k,s,p", GEOMS)
def test_im2col_col2im_are_adjoint(k, s, p, fast):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7, 8, 5))
    cols = C.im2col(x, k, s, p, fast=fast)
    Ho, Wo = C.conv_out_size(7, k, s, p), C.conv_out_size(8, k, s, p)
    assert cols.shape == (3 * k * k, Ho * Wo * 5)
    Cm = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * Cm)
    rhs = np.sum(x * C.col2im(Cm, x.shape, k, s, p, fast=fast))
    assert abs(lhs - rhs) < 1e-10 * (1 + abs(lhs))


def test_im2col_matches_direct_convolution():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 6, 3))
    W = rng.standard_normal((4, 2, 3, 3))
    z = (W.reshape(4, -1) @ C.im2col(x, 3, 2, 1, fast=False)).reshape(4, 3, 3, 3)
    xp_ = np.zeros((2, 8, 8, 3))
    xp_[:, 1:7, 1:7] = x
    for o in range(4):
        for ho in range(3):
            for wo in range(3):
                ref = np.einsum("cijn,cij->n", xp_[:, 2 * ho:2 * ho + 3, 2 * wo:2 * wo + 3], W[o])
                np.testing.assert_allclose(z[o, ho, wo], ref, rtol=1e-12, atol=1e-12)


@needs_numba
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("k,s,p", GEOMS)
def test_numba_kernels_match_array_api(k, s, p, dt):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 9, 8, 6)).astype(dt)
    cols = C.im2col(x, k, s, p, fast=False)
    np.testing.assert_array_equal(C.im2col(x, k, s, p), cols)
    Cm = rng.standard_normal(cols.shape).astype(dt)
    tol = 8 * np.finfo(dt).eps
    np.testing.assert_allclose(C.col2im(Cm, x.shape, k, s, p), C.col2im(Cm, x.shape, k, s, p, fast=False),
                               rtol=tol, atol=tol * k * k)
    # max pooling, with ties (integer values): the same maxima, the gradient to the same input
    xi = rng.integers(-2, 3, x.shape).astype(dt)
    for kk, ss in ((2, 2), (3, 2), (2, 1), (k, s)):
        y = C.maxpool_forward(xi, kk, ss, fast=False)
        np.testing.assert_array_equal(C.maxpool_forward(xi, kk, ss), y)
        dy = rng.standard_normal(y.shape).astype(dt)
        np.testing.assert_allclose(C.maxpool_backward(dy, xi, y, kk, ss),
                                   C.maxpool_backward(dy, xi, y, kk, ss, fast=False), rtol=tol, atol=tol * kk * kk)


def test_maxpool_gradient_goes_to_first_maximum():
    x = np.zeros((1, 2, 2, 1))
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 5.0
    y = C.maxpool_forward(x, 2, fast=False)
    dx = C.maxpool_backward(np.ones_like(y), x, y, 2, fast=False)
    assert y.item() == 5.0 and dx[0, 0, 1, 0] == 1.0 and dx.sum() == 1.0


def test_named_architecture_sizes():
    a = lenet5()
    assert a.n_weights == 581_408 and a.n_biases == 618
    assert a.weight_shapes == [(32, 25), (64, 800), (512, 1024), (10, 512)]
    b = lenet5_caffe()
    assert b.n_weights == 430_500 and b.weight_shapes == [(20, 25), (50, 500), (500, 800), (10, 500)]
    assert get_arch("mlp") is None and get_arch("lenet5", 784, 10).n_classes == 10
    assert get_arch("lenet5", 784, 3).n_classes == 3
    with pytest.raises(ValueError, match="1x28x28 images"):
        get_arch("lenet5", 7, 3)          # seeds: 7 features
    with pytest.raises(ValueError, match="arch must be one of"):
        get_arch("resnet")
    with pytest.raises(ValueError, match="expected"):
        Arch((1, 8, 8), (Conv2d(1, 4, 3), Flatten(), Dense(100, 10)))
    assert Arch.from_json(a.to_json()) == a


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    perm = np.random.default_rng(0).permutation(y.size)
    return X[perm[:1400]], y[perm[:1400]], X[perm[1400:]], y[perm[1400:]]


SMALL = [Conv2d(1, 8, 3, padding=1), ReLU, MaxPool2d(2), Flatten(), Dense(128, 10)]


@pytest.fixture(scope="module")
def digits_fp():
    Xtr, ytr, Xte, yte = _digits()
    fp = FPMLP(arch=SMALL, max_epochs=6, lr=3e-3, batch_size=32, patience=None, seed=0)
    fp.fit(Xtr, ytr)
    return fp, (Xtr, ytr, Xte, yte)


def test_small_cnn_learns_digits(digits_fp):
    fp, (Xtr, ytr, Xte, yte) = digits_fp
    assert fp.score(Xte, yte) > 0.9
    assert [w.shape for w in fp.weights()] == [(8, 9), (10, 128)]
    assert fp.model_bytes == 4 * (8 * 9 + 8 + 10 * 128 + 10)


@pytest.mark.parametrize("cls,kw", [(PTQ, dict(bits=2)), (QNNSTE, dict(bits=2, ste_epochs=1)),
                                    (LQ, dict(bits=2, admm_iters=1, retrain_epochs=1)), (DQ, {}),
                                    (QAT, dict(qat_epochs=1))])
def test_quantized_estimators_accept_a_cnn_and_round_trip(cls, kw, digits_fp, tmp_path):
    fp, (Xtr, ytr, Xte, yte) = digits_fp
    q = cls(arch=SMALL, batch_size=32, **kw)
    q.fit(Xtr, ytr, fp_model=fp)
    assert q.score(Xte, yte) > 0.6
    net = q.network_
    assert all(layer.quantized for layer in net.layers)
    for layer, W in zip(net.layers, q.weights()):     # weights are exactly scale x codes
        np.testing.assert_array_equal(W, np.asarray(layer.scale, dtype=np.float32) * layer.codes.astype(np.float32))
    path = q.save(tmp_path / "m.npz")
    r = admmnet.load(path)
    np.testing.assert_array_equal(r.decision_function(Xte), q.decision_function(Xte))
    assert r.model_bytes == q.model_bytes and r.json_params()["arch"] == q.json_params()["arch"]
    for a, b in zip(r.weights(), q.weights()):
        np.testing.assert_array_equal(a, b)


def test_fp_model_arch_must_match(digits_fp):
    fp, (Xtr, ytr, _, _) = digits_fp
    with pytest.raises(ValueError, match="pass the same arch"):
        PTQ(bits=2, hidden_sizes=(8,)).fit(Xtr, ytr, fp_model=fp)


def test_cnn_on_flat_data_is_refused():
    X = np.random.default_rng(0).random((30, 7))
    y = np.arange(30) % 3
    with pytest.raises(ValueError, match="1x28x28 images"):
        FPMLP(arch="lenet5", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="arch must be one of"):
        FPMLP(arch="vgg").fit(X, y)


def test_cnn_engine_runs_under_array_api_strict():
    xps = pytest.importorskip("array_api_strict")
    arch = _arch(3, 2, 2)
    rng = np.random.default_rng(4)
    xp = _xp()
    Ws, bs = init_arch_params(arch, "relu", rng, xp, xp.float64)
    A0 = rng.standard_normal((arch.n_features, 5))
    Y = np.eye(3)[:, rng.integers(0, 3, 5)]
    _, d0, b0 = _loss_and_grads(arch, Ws, bs, A0, Y)
    S = xps.asarray
    _, d1, b1 = _loss_and_grads(arch, [S(W) for W in Ws], [S(b) for b in bs], S(A0), S(Y))
    for a, b in zip(d1 + b1, d0 + b0):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10, atol=1e-12)


def test_cli_refuses_cnn_where_it_cannot_run(capsys):
    from admmnet.cli import main

    assert main(["train", "--dataset", "mnist", "--arch", "lenet5", "--method", "qnn-admm"]) == 2
    assert "MLP" in capsys.readouterr().err
    assert main(["train", "--dataset", "seeds", "--arch", "lenet5", "--method", "fp"]) == 2
    assert "images" in capsys.readouterr().err


def test_cnn_engine_runs_on_cupy():
    """The CuPy path is the array-API code (skipped without a GPU)."""
    cp = pytest.importorskip("cupy")
    from admmnet.kernels import cupy_gpu

    if not cupy_gpu.available():
        pytest.skip("no GPU")
    arch = _arch(3, 2, 2)
    rng = np.random.default_rng(5)
    xp = _xp()
    Ws, bs = init_arch_params(arch, "relu", rng, xp, xp.float64)
    A0 = rng.standard_normal((arch.n_features, 5))
    Y = np.eye(3)[:, rng.integers(0, 3, 5)]
    _, d0, b0 = _loss_and_grads(arch, Ws, bs, A0, Y)
    _, d1, b1 = _loss_and_grads(arch, [cp.asarray(W) for W in Ws], [cp.asarray(b) for b in bs], cp.asarray(A0),
                                cp.asarray(Y))
    for a, b in zip(d1 + b1, d0 + b0):
        np.testing.assert_allclose(cp.asnumpy(a), b, rtol=1e-10, atol=1e-12)


def test_cnn_presets():
    from admmnet.baseline_presets import baseline_params

    fp = baseline_params("fp", "mnist", arch="lenet5")
    assert fp["arch"] == "lenet5" and "hidden_sizes" not in fp
    assert (fp["lr"], fp["batch_size"], fp["max_epochs"]) == (1e-3, 128, 3)
    assert baseline_params("lq", "mnist", 2, arch="lenet5-caffe")["admm_iters"] == 2
    assert "arch" not in baseline_params("fp", "mnist")
    with pytest.raises(ValueError, match="no preset for arch"):
        baseline_params("fp", "mnist", arch="vgg")
