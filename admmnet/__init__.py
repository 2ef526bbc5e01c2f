"""admmnet: gradient-free training of full-precision and few-bit MLPs with ADMM.

Quick use::

    import admmnet
    ds = admmnet.datasets.load_dataset("pendigits")
    model = admmnet.QNNADMM(hidden_sizes=(12, 12), bits=4, max_iter=60)
    model.fit(ds.X_train, ds.y_train)          # returns the model; records in model.history_
    model.score(ds.X_test, ds.y_test)
    model.save("model.npz"); same = admmnet.load("model.npz")

Where things are: the subproblem updates in :mod:`admmnet.admm.updates`, the
sweeps in :mod:`admmnet.admm.solver`, level sets and the G projection in
:mod:`admmnet.quant`, the loaders in :mod:`admmnet.datasets`, the hot kernels
in :mod:`admmnet.kernels`; the backprop engine in :mod:`admmnet.backprop` and the
comparison methods (FP, PTQ, QNN-STE, DQ, QAT, LQ; TWN, TTQ, ADMM ternary, mirror descent) in :mod:`admmnet.baselines`.
"""
# First, before NumPy and Numba's OpenMP runtime are loaded where possible: idle OpenBLAS and
# OpenMP threads must not spin after their work while the other pool needs the cores
# (see admmnet._thread_spin).
from ._thread_spin import shorten_spins as _shorten_spins

_shorten_spins()

from ._version import __version__  # noqa: E402
from . import datasets, quant
from .exceptions import CheckpointError, DivergenceError, DivergenceWarning, FeatureScaleWarning, InvalidParameterError
from .model import QNNADMM, History, load
from .network import Network, with_standardisation
from . import backprop, baselines, export
from .baselines import DQ, LQ, PTQ, QAT, QNNSTE, FPMLP, TWN, TTQ, ADMMTernary, MirrorDescent, Budget

__all__ = ["__version__", "QNNADMM", "FPMLP", "PTQ", "QNNSTE", "DQ", "QAT", "LQ", "TWN", "TTQ", "ADMMTernary",
           "MirrorDescent", "Budget", "History", "Network", "load", "with_standardisation",
           "CheckpointError", "DivergenceError", "DivergenceWarning", "FeatureScaleWarning", "InvalidParameterError",
           "datasets", "quant", "backprop", "baselines", "export"]
