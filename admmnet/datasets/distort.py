r"""Random affine + elastic distortions of MNIST digits, generated from a seed where they are used.

Each new image is an original training digit resampled (bilinear) at the points

.. math:: p' = A (p - c) + c + t + \alpha\, (g_\sigma * u)(p),

with ``A`` a rotation by ``theta ~ U(-max_rotate, max_rotate)`` degrees times a scale
``s ~ U(1 - max_scale, 1 + max_scale)`` and a shear ``U(-max_shear, max_shear)``, ``c`` the
image centre, ``t ~ U(-max_shift, max_shift)^2`` pixels, and the elastic field of
Simard et al. (2003): uniform noise ``u ~ U(-1, 1)^{28 x 28 x 2}`` smoothed by a Gaussian
of width ``sigma`` and scaled by ``alpha``. Everything comes from
``numpy.random.default_rng([seed, block])``: the same seed gives the same images on any
machine, so a Dask worker can make its shard's rows itself and the data is never shipped
(:class:`DistortedMNIST`, ``benchmarks/dask_scale.py``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["distort", "DistortedMNIST"]


def distort(images: np.ndarray, rng: np.random.Generator, *, max_rotate: float = 12.0, max_scale: float = 0.1,
            max_shear: float = 0.15, max_shift: float = 2.0, alpha: float = 6.0, sigma: float = 4.0) -> np.ndarray:
    """One random distortion of each image of ``images`` (n x 28 x 28, values in [0, 1]); same shape."""
    from scipy import ndimage

    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    th = np.deg2rad(rng.uniform(-max_rotate, max_rotate, n))
    s = rng.uniform(1 - max_scale, 1 + max_scale, n)
    sh = rng.uniform(-max_shear, max_shear, n)
    t = rng.uniform(-max_shift, max_shift, (n, 2))
    u = rng.uniform(-1.0, 1.0, (2, n, h, w)).astype(np.float32)
    d = alpha * ndimage.gaussian_filter(u, sigma=(0, 0, sigma, sigma), mode="constant")
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32) - (h - 1) / 2, np.arange(w, dtype=np.float32) - (w - 1) / 2,
                         indexing="ij")
    c, sn = (np.cos(th) / s)[:, None, None], (np.sin(th) / s)[:, None, None]
    shr = sh[:, None, None]
    # the point each output pixel samples from (inverse map: rotation, scale, shear, shift, field)
    ys = c * yy - sn * xx + (h - 1) / 2 - t[:, 0, None, None] + d[0]
    xs = sn * yy + c * xx + shr * yy + (w - 1) / 2 - t[:, 1, None, None] + d[1]
    zs = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, h, w))
    out = ndimage.map_coordinates(images, [zs, ys, xs], order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0, out=out)


class DistortedMNIST:
    """A picklable source of rows for a sharded fit: rows ``start..stop-1`` of an enlarged
    MNIST training set (features in [0, 1], 784 columns, labels), made where it is called.

    Row ``r`` of the enlarged set is original training digit ``r mod 60000``: as it is for
    ``r < n_original``, else distorted (:func:`distort`) with the random numbers of block
    ``r // block``, drawn from ``numpy.random.default_rng([seed, r // block])``. So the
    enlarged set does not depend on how it is split into shards. The originals are read
    from ``data_home`` (the worker's own copy of the MNIST files).
    """

    def __init__(self, data_home, start: int, stop: int, *, seed: int = 0, n_original: int = 60_000,
                 dtype: str = "float32", block: int = 10_000):
        if not 0 <= int(start) <= int(stop):
            raise ValueError(f"need 0 <= start <= stop, got {start}, {stop}")
        self.data_home = str(data_home) if data_home is not None else None
        self.start, self.stop, self.seed = int(start), int(stop), int(seed)
        self.n_original, self.dtype, self.block = int(n_original), dtype, int(block)

    def __repr__(self):
        return (f"DistortedMNIST(start={self.start}, stop={self.stop}, seed={self.seed}, "
                f"n_original={self.n_original}, block={self.block})")

    def __call__(self):
        from .mnist import load_mnist

        ds = load_mnist(data_home=self.data_home, dtype="float32", download=False)
        Xo, yo = ds.X_train.reshape(-1, 28, 28), ds.y_train
        n = self.stop - self.start
        rows = np.arange(self.start, self.stop)
        src = rows % Xo.shape[0]
        X = np.empty((n, 784), dtype=self.dtype)
        y = yo[src].astype(np.int64)
        orig = rows < self.n_original
        X[orig] = Xo[src[orig]].reshape(-1, 784)
        first = max(self.start, self.n_original)
        for b in range(first // self.block, -(-self.stop // self.block)):
            lo, hi = max(first, b * self.block), min(self.stop, (b + 1) * self.block)
            if lo >= hi:
                continue
            rng = np.random.default_rng([self.seed, b])
            block = distort(Xo[(np.arange(b * self.block, (b + 1) * self.block) % Xo.shape[0])], rng)
            X[lo - self.start:hi - self.start] = block[lo - b * self.block:hi - b * self.block].reshape(-1, 784)
        return X, y
