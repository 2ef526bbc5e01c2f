"""Scratch (not part of the package): benchmarks/quantizer_validation.py with a ``"_cd": k``
pseudo-setting that switches on the output-code coordinate descent of ``cdcodes.py`` (at most k
sweeps) for that setting's quantized fits. From the repository root:

    python benchmarks/results/quantizer_validation/output_codes/cdrun.py --dataset seeds --splits 10 \
        --bits 1 2 --grid '[{}, {"_cd": 3}, {"_cd": 10}]' --out /tmp/cd

``quantizer_validation.run_problem`` does the rest (its FP phases shared between the settings):
its estimator factory takes ``_cd`` off the keyword arguments and its quantized fits run with the
patched output refit while they last.
"""
import os
import sys
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, "benchmarks")

import admmnet                            # noqa: E402
import admmnet.admm.solver as S           # noqa: E402
import cdcodes                            # noqa: E402
import quantizer_validation as qv         # noqa: E402


def QNNADMM(_cd=0, **kw):
    model = admmnet.QNNADMM(**kw)
    model._cd_sweeps = int(_cd)
    return model


def fit_finished(model, X, y, **kw):
    sweeps = getattr(model, "_cd_sweeps", 0)
    cdcodes.SWEEPS = sweeps
    S.refit_output = cdcodes.refit_output if sweeps else cdcodes._orig
    try:
        return qv_fit_finished(model, X, y, **kw)
    finally:
        S.refit_output = cdcodes._orig


qv_fit_finished = qv.fit_finished
qv.admmnet = SimpleNamespace(QNNADMM=QNNADMM)
qv.fit_finished = fit_finished
sys.exit(qv.main(sys.argv[1:]))
