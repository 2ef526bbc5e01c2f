"""The backprop engine: gradients against finite differences, optimizer steps against their
equations, the training loop's seeding and early stopping, array-API cleanliness."""
import numpy as np
import pytest

from admmnet.backprop import (SGD, Adam, activation_grad, backward, distillation_loss, evaluate, forward, init_params,
                              logits, lr_at, make_optimizer, softmax, softmax_cross_entropy, train)

import array_api_compat.numpy as xp


def _net(sizes=(5, 7, 6, 3), m=11, seed=0, bias=True):
    r = np.random.default_rng(seed)
    Ws = [r.standard_normal((sizes[l + 1], sizes[l])) * 0.7 for l in range(len(sizes) - 1)]
    bs = [r.standard_normal((sizes[l + 1], 1)) * 0.3 for l in range(len(sizes) - 1)] if bias else None
    A0 = r.standard_normal((sizes[0], m))
    y = r.integers(0, sizes[-1], m)
    Y = np.eye(sizes[-1])[y].T
    return Ws, bs, A0, Y


def _loss(Ws, bs, A0, Y, act):
    Z, _ = forward(Ws, bs, A0, act, keep=False)
    return float(softmax_cross_entropy(Z, Y)[0])


@pytest.mark.parametrize("act", ["relu", "hardsigmoid", "identity", "leaky_relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_match_finite_differences(act, bias):
    Ws, bs, A0, Y = _net(bias=bias)
    Z, cache = forward(Ws, bs, A0, act)
    _, dZ = softmax_cross_entropy(Z, Y)
    dWs, dbs = backward(Ws, cache, dZ, act)
    eps = 1e-6
    for l in range(len(Ws)):
        num = np.zeros_like(Ws[l])
        for idx in np.ndindex(Ws[l].shape):
            Wp = [W.copy() for W in Ws]; Wp[l][idx] += eps
            Wm = [W.copy() for W in Ws]; Wm[l][idx] -= eps
            num[idx] = (_loss(Wp, bs, A0, Y, act) - _loss(Wm, bs, A0, Y, act)) / (2 * eps)
        np.testing.assert_allclose(dWs[l], num, rtol=1e-5, atol=1e-8)
        if bias:
            numb = np.zeros_like(bs[l])
            for i in range(bs[l].shape[0]):
                bp = [b.copy() for b in bs]; bp[l][i] += eps
                bm = [b.copy() for b in bs]; bm[l][i] -= eps
                numb[i] = (_loss(Ws, bp, A0, Y, act) - _loss(Ws, bm, A0, Y, act)) / (2 * eps)
            np.testing.assert_allclose(dbs[l], numb, rtol=1e-5, atol=1e-8)


def test_backward_skips_frozen_layers_but_propagates():
    Ws, bs, A0, Y = _net()
    Z, cache = forward(Ws, bs, A0, "relu")
    _, dZ = softmax_cross_entropy(Z, Y)
    full, _ = backward(Ws, cache, dZ, "relu")
    part, _ = backward(Ws, cache, dZ, "relu", need=[True, False, False])
    assert part[1] is None and part[2] is None
    np.testing.assert_allclose(part[0], full[0])


def test_softmax_cross_entropy_is_stable_and_correct():
    Z = np.array([[1000.0, -3.0], [0.0, 2.0], [-1000.0, 1.0]])
    Y = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    loss, dZ = softmax_cross_entropy(Z, Y)
    P = softmax(Z)
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=0), 1.0)
    expected = -(np.log(P[0, 0]) + np.log(P[2, 1])) / 2
    assert float(loss) == pytest.approx(expected)
    np.testing.assert_allclose(dZ, (P - Y) / 2)


@pytest.mark.parametrize("w, T", [(0.3, 1.0), (0.7, 4.0), (1.0 - 1e-9, 2.5)])
def test_distillation_loss_matches_its_definition_and_finite_differences(w, T):
    r = np.random.default_rng(3)
    Z, Zt = r.standard_normal((4, 6)) * 2, r.standard_normal((4, 6)) * 3
    Y = np.eye(4)[r.integers(0, 4, 6)].T
    loss, dZ = distillation_loss(Z, Y, Zt, w, T)
    q, p = softmax(Zt / T), softmax(Z / T)
    kl = np.sum(q * (np.log(q) - np.log(p))) / 6
    assert float(loss) == pytest.approx((1 - w) * float(softmax_cross_entropy(Z, Y)[0]) + w * T * T * kl)
    num = np.zeros_like(Z)
    for i in np.ndindex(*Z.shape):
        E = np.zeros_like(Z)
        E[i] = 1e-6
        up, down = distillation_loss(Z + E, Y, Zt, w, T)[0], distillation_loss(Z - E, Y, Zt, w, T)[0]
        num[i] = (float(up) - float(down)) / 2e-6
    np.testing.assert_allclose(dZ, num, atol=1e-7)
    # w = 0 is the cross-entropy; at T = 1 the loss is the cross-entropy against the mixed target
    # (1 - w) Y + w q, less the constant w sum q log q / m
    l0, d0 = distillation_loss(Z, Y, Zt, 0.0, T)
    lce, dce = softmax_cross_entropy(Z, Y)
    assert float(l0) == pytest.approx(float(lce)) and np.allclose(d0, dce)
    l1, d1 = distillation_loss(Z, Y, Zt, w, 1.0)
    q1 = softmax(Zt)
    lmix, dmix = softmax_cross_entropy(Z, (1 - w) * Y + w * q1)
    assert float(l1) == pytest.approx(float(lmix) + w * np.sum(q1 * np.log(q1)) / 6)
    np.testing.assert_allclose(d1, dmix, atol=1e-12)


def test_logits_in_blocks_equal_one_forward_pass():
    Ws, bs, A0, _ = _net(m=23)
    Z, _ = forward(Ws, bs, A0, "relu", keep=False)
    np.testing.assert_allclose(logits(Ws, bs, A0.T, "relu", batch=5), Z)


def test_training_with_a_teacher_uses_the_distillation_loss():
    """A teacher whose logits carry the labels' information: the student learns from w = 1
    - 1e-9 (labels nearly unused) as from the labels; a teacher that always says class 0
    pulls the student's predictions to it."""
    X, y = _blobs()
    K = 3
    good = np.eye(K)[y[:300]].T * 10.0
    a = _fit(0, teacher=(good, 1.0 - 1e-9, 2.0))
    acc, _ = evaluate(a.Ws, a.bs, X[300:], y[300:], "relu")
    assert acc >= 0.9
    bad = np.zeros((K, 300))
    bad[0] = 10.0
    b = _fit(0, teacher=(bad, 1.0 - 1e-9, 1.0))
    Z, _ = forward(b.Ws, b.bs, X[300:].T, "relu", keep=False)
    assert np.mean(np.argmax(Z, axis=0) == 0) > 0.8       # a third of the rows are class 0


def test_activation_grads():
    z = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(activation_grad("relu", z), [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(activation_grad("hardsigmoid", z), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(activation_grad("identity", z), [1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="activation"):
        activation_grad("tanh", z)


def test_adam_matches_its_equations():
    r = np.random.default_rng(1)
    p0 = r.standard_normal((3, 2))
    g1, g2 = r.standard_normal((3, 2)), r.standard_normal((3, 2))
    b1, b2, eps, lr, wd = 0.9, 0.999, 1e-8, 0.01, 0.1
    opt = Adam(beta1=b1, beta2=b2, eps=eps, weight_decay=wd)
    p1 = opt.step([p0], [g1], lr)[0]
    p2 = opt.step([p1], [g2], lr)[0]
    m = (1 - b1) * g1; v = (1 - b2) * g1 ** 2
    e1 = p0 - lr * ((m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps) + wd * p0)
    m = b1 * m + (1 - b1) * g2; v = b2 * v + (1 - b2) * g2 ** 2
    e2 = e1 - lr * ((m / (1 - b1 ** 2)) / (np.sqrt(v / (1 - b2 ** 2)) + eps) + wd * e1)
    np.testing.assert_allclose(p1, e1)
    np.testing.assert_allclose(p2, e2)


def test_sgd_momentum_matches_its_equations_and_skips_none():
    p0, q0 = np.ones((2, 2)), np.full((2,), 5.0)
    g = np.full((2, 2), 0.5)
    opt = SGD(momentum=0.9, weight_decay=0.1)
    p1, q1 = opt.step([p0, q0], [g, None], 0.1, decay=[True, False])
    v1 = g + 0.1 * p0
    np.testing.assert_allclose(p1, p0 - 0.1 * v1)
    assert q1 is q0
    p2, _ = opt.step([p1, q0], [g, None], 0.1, decay=[True, False])
    v2 = 0.9 * v1 + g + 0.1 * p1
    np.testing.assert_allclose(p2, p1 - 0.1 * v2)


def test_optimizer_and_schedule_errors():
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("rmsprop")
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="lr_schedule"):
        lr_at(0.1, "step", 0, 10)
    assert lr_at(0.1, "cosine", 0, 10) == pytest.approx(0.1)
    assert lr_at(0.1, "cosine", 5, 10) == pytest.approx(0.05)


def _blobs(m=400, n=4, k=3, seed=0):
    r = np.random.default_rng(seed)
    centers = r.standard_normal((k, n)) * 3
    y = r.integers(0, k, m)
    return (centers[y] + r.standard_normal((m, n))), y


def _fit(seed, **kw):
    X, y = _blobs()
    Ws, bs = init_params((4, 8, 3), "relu", np.random.default_rng(seed), xp, xp.float64)
    return train(Ws, bs, X[:300], y[:300], activation="relu", optimizer=Adam(), lr=1e-2, epochs=kw.pop("epochs", 20),
                 batch_size=32, rng=np.random.default_rng(seed), X_hold=X[300:], y_hold=y[300:], **kw)


def test_training_learns_is_seeded_and_keeps_best_epoch():
    a, b = _fit(0), _fit(0)
    for Wa, Wb in zip(a.Ws, b.Ws):
        np.testing.assert_array_equal(Wa, Wb)
    X, y = _blobs()
    acc, _ = evaluate(a.Ws, a.bs, X[300:], y[300:], "relu")
    assert acc >= 0.9
    hold = [r["holdout_accuracy"] for r in a.records]
    assert acc == pytest.approx(max(hold))
    assert a.records[a.best_epoch - 1]["holdout_accuracy"] == max(hold)
    for key in ("epoch", "loss", "train_accuracy", "holdout_accuracy", "seconds", "lr"):
        assert key in a.records[-1]
    c = _fit(1)
    assert not np.array_equal(a.Ws[0], c.Ws[0])


def test_without_holdout_keep_last_or_best_on_training_rows():
    """No held-out rows: ``keep="last"`` keeps the last epoch; ``keep="train"`` the epoch whose
    network scores best on the training rows (the probe is all 300 rows here), which is the
    network returned. Big steps make the accuracy swing, so the two differ here."""
    X, y = _blobs()

    def fit(keep):
        Ws, bs = init_params((4, 8, 3), "relu", np.random.default_rng(0), xp, xp.float64)
        return train(Ws, bs, X[:300], y[:300], activation="relu", optimizer=Adam(), lr=0.3, epochs=12,
                     batch_size=32, rng=np.random.default_rng(0), keep=keep)

    last, best = fit("last"), fit("train")
    accs = [r["train_accuracy"] for r in best.records]
    assert last.best_epoch == 12 and accs[best.best_epoch - 1] == max(accs)   # ties: the lower loss
    assert best.best_epoch < 12 and accs[-1] < max(accs)
    acc, _ = evaluate(best.Ws, best.bs, X[:300], y[:300], "relu")
    assert acc == max(accs)
    acc_last, _ = evaluate(last.Ws, last.bs, X[:300], y[:300], "relu")
    assert acc_last == accs[-1]
    with pytest.raises(ValueError, match="keep"):
        fit("best")


def test_early_stopping_stops():
    res = _fit(0, epochs=200, patience=2)
    assert res.stop == "early_stopping" and len(res.records) < 200
    assert len(res.records) - res.best_epoch == 2


def test_frozen_layers_do_not_move():
    X, y = _blobs()
    Ws, bs = init_params((4, 8, 3), "relu", np.random.default_rng(0), xp, xp.float64)
    res = train(Ws, bs, X, y, activation="relu", optimizer=Adam(), lr=1e-2, epochs=2, batch_size=64,
                rng=np.random.default_rng(0), trainable=[False, True], train_bias=[False, True])
    np.testing.assert_array_equal(res.Ws[0], Ws[0])
    np.testing.assert_array_equal(res.bs[0], bs[0])
    assert not np.array_equal(res.Ws[1], Ws[1])


def test_engine_runs_under_array_api_strict():
    xps = pytest.importorskip("array_api_strict")
    Ws, bs, A0, Y = _net()
    Z0, c0 = forward(Ws, bs, A0, "relu")
    d0, _ = backward(Ws, c0, softmax_cross_entropy(Z0, Y)[1], "relu")
    S = lambda a: xps.asarray(a)
    Ws_s, bs_s = [S(W) for W in Ws], [S(b) for b in bs]
    Z, cache = forward(Ws_s, bs_s, S(A0), "relu")
    loss, dZ = softmax_cross_entropy(Z, S(Y))
    dWs, dbs = backward(Ws_s, cache, dZ, "relu")
    for a, b in zip(dWs, d0):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12)
    new = Adam(weight_decay=0.01).step(Ws_s + bs_s, dWs + dbs, 1e-3)
    new = SGD(nesterov=True).step(new, dWs + dbs, 1e-3)
    assert all(isinstance(p, type(Ws_s[0])) for p in new)
