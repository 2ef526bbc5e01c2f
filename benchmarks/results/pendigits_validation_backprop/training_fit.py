"""Scratch (not part of the package; run from the repository root): QNN-ADMM FP settings (JSON over the
Pendigits preset) on split 0 of the validation proxy (4 copies): training accuracy every 25 iterations
(history_), the final fit of the training rows, held-out and distorted scores.

    python benchmarks/results/pendigits_validation_backprop/training_fit.py '{}' '{"beta": 0.1, "gamma": 0.1}'
"""
import sys, json; sys.path.insert(0, "benchmarks")
import admmnet
from admmnet.presets import qnn_admm_params
from pendigits_validation import _data
d = _data(0, 4)
for cfg in [json.loads(a) for a in sys.argv[1:]]:
    m = admmnet.QNNADMM(**{**qnn_admm_params("pendigits", None), **cfg}, seed=0).fit(*d["fit"])
    tr = [round(100 * v, 1) for v in m.history_.column("train_accuracy")][::25]
    print(cfg, "traj", tr, "final train", round(100 * m.score(*d["fit"]), 2), "val", round(100 * m.score(*d["val"]), 2),
          "dist", round(100 * m.score(*d["distorted"]), 2), flush=True)
