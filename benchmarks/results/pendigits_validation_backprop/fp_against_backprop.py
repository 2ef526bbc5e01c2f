"""Scratch (not part of the package; run from the repository root): backprop FP (the baseline
preset, 19 copies; setting "bp19") and QNN-ADMM FP settings (JSON over the Pendigits preset, "augment":
copies, default 4) on Pendigits' validation proxy (writer-dependent split s: held-out rows, 3 distorted
copies of them). One JSON line per (split, setting):

    python benchmarks/results/pendigits_validation_backprop/fp_against_backprop.py 0,1,2 bp19 '{}' '{"augment": 19}'
"""
import json, sys, time
sys.path.insert(0, "benchmarks")
import admmnet
from admmnet.baselines.fp import FPMLP
from admmnet.baseline_presets import baseline_params
from admmnet.presets import qnn_admm_params
from pendigits_validation import _data
for s in [int(x) for x in sys.argv[1].split(",")]:
    for name in sys.argv[2:]:
        t = time.perf_counter()
        if name == "bp19":
            d = _data(s, 19)
            m = FPMLP(**baseline_params("fp", "pendigits"), seed=s).fit(*d["fit"])
        else:
            cfg = json.loads(name); k = cfg.pop("augment", 4)
            d = _data(s, k)
            m = admmnet.QNNADMM(**{**qnn_admm_params("pendigits", None), **cfg}, seed=s).fit(*d["fit"])
        r = dict(split=s, setting=name, val=100 * m.score(*d["val"]), distorted=100 * m.score(*d["distorted"]),
                 seconds=time.perf_counter() - t)
        print(json.dumps(r), flush=True)
