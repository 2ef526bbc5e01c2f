"""Per-dataset defaults: the thesis topologies and the QNN-ADMM hyper-parameters
that reach the accuracy targets (measured by ``benchmarks/qnn_admm_accuracy.py``).

The thesis gives no hyper-parameters; these were chosen on the training data
of each dataset (see the README's results section for how they perform).
Every entry can be overridden from the CLI or the Python API.
"""
from __future__ import annotations

__all__ = ["TOPOLOGIES", "QNN_ADMM", "qnn_admm_params"]

# Hidden widths of the thesis's MLPs: Seeds [7,5,5,3], Pendigits [16,12,12,10], MNIST [784,200,200,10].
TOPOLOGIES: dict[str, tuple[int, ...]] = {
    "seeds": (5, 5),
    "pendigits": (12, 12),
    "mnist": (200, 200),
}

# QNN-ADMM estimator keyword arguments per dataset (full precision and quantized alike;
# ``QUANTIZED_OVERRIDES`` adjusts the few that differ when bits is set).
QNN_ADMM: dict[str, dict] = {
    "seeds": dict(max_iter=60, beta=1.0, gamma=1.0, mu=1.0, penalty_growth=1.05, mu_growth=1.1),
    "pendigits": dict(max_iter=60, beta=1.0, gamma=1.0, mu=1.0, penalty_growth=1.05, mu_growth=1.1),
    "mnist": dict(max_iter=30, beta=1.0, gamma=1.0, mu=1.0, penalty_growth=1.05, mu_growth=1.1),
}

QUANTIZED_OVERRIDES: dict[str, dict] = {"seeds": {}, "pendigits": {}, "mnist": {}}


def qnn_admm_params(dataset: str, bits=None) -> dict:
    """Estimator keyword arguments for ``dataset`` (and ``bits``): topology plus solver settings."""
    if dataset not in TOPOLOGIES:
        raise ValueError(f"no preset for dataset {dataset!r}; known: {sorted(TOPOLOGIES)}")
    out = {"hidden_sizes": TOPOLOGIES[dataset], **QNN_ADMM[dataset]}
    if bits not in (None, "fp"):
        out.update(QUANTIZED_OVERRIDES[dataset])
    return out
