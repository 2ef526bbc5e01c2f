"""Small synthetic data shared by the tests (a module, not a fixture: tests call it with
their own sizes)."""
import numpy as np


def blobs(m=400, n=6, k=3, seed=0, sep=3.0):
    """``m`` rows of ``k`` Gaussian blobs in ``n`` features (centres ``sep`` apart on average,
    unit spread), float32, with their integer labels."""
    r = np.random.default_rng(seed)
    centers = r.standard_normal((k, n)) * sep
    y = r.integers(0, k, m)
    return (centers[y] + r.standard_normal((m, n))).astype(np.float32), y
