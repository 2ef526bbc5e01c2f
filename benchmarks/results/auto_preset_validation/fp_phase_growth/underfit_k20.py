"""Scratch (not part of the package): the diagnosis behind the automatic preset's FP phase with
growing penalties (docs/quantized_training.md, "The automatic preset").

A synthetic 20-class problem (``make_classification``: 2,000 rows, 30 features, 20 informative,
one cluster a class), the training part of a 75/25 split (seed 0) split again 80/20 (seed 1):
training and validation accuracy of the FP run (growing penalties, 300 iterations), of the
fixed-penalty FP phase the quantized runs had before (100 iterations), and of 8-, 4- and 2-bit
runs quantized from that phase (``fit(..., fp_model=...)``, one initialisation). The test part
is never read. From the repository root:

    python benchmarks/results/auto_preset_validation/fp_phase_growth/underfit_k20.py
"""
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import admmnet
from admmnet.presets import auto_params

warnings.simplefilter("ignore")
X, y = make_classification(n_samples=2000, n_features=30, n_informative=20, n_classes=20,
                           n_clusters_per_class=1, random_state=0)
Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
Xf, Xv, yf, yv = train_test_split(Xtr, ytr, test_size=0.2, random_state=1, stratify=ytr)
sc = StandardScaler().fit(Xf)
Xf, Xv = sc.transform(Xf), sc.transform(Xv)
shape = (*Xf.shape, 20)
fp = admmnet.QNNADMM(**auto_params(*shape), seed=0, preset=None).fit(Xf, yf)
old_phase = {**auto_params(*shape), "penalty_growth": 1.0, "max_iter": 100}
phase = admmnet.QNNADMM(**old_phase, seed=0, preset=None).fit(Xf, yf)


def row(name, m):
    print(f"{name:<34} train {100 * m.score(Xf, yf):5.1f}  validation {100 * m.score(Xv, yv):5.1f}")


row("FP run (growth 1.02, 300 its)", fp)
row("fixed-penalty FP phase (100 its)", phase)
for bits in (8, 4, 2):
    q = auto_params(*shape, bits=bits)
    q.update(old_phase, fp_iter=100, n_init=1)
    row(f"{bits} bits from that phase", admmnet.QNNADMM(**q, bits=bits, seed=0, preset=None).fit(Xf, yf, fp_model=phase))
