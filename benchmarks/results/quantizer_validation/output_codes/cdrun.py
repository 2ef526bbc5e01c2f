"""Scratch (not part of the package): benchmarks/quantizer_validation.py with a ``"_cd": k``
pseudo-setting that switches on the output-code coordinate descent of ``cdcodes.py`` (at most k
sweeps) for that setting's quantized fits. From the repository root:

    python benchmarks/results/quantizer_validation/output_codes/cdrun.py --dataset seeds --splits 10 \
        --bits 1 2 --grid '[{}, {"_cd": 3}, {"_cd": 10}]' --out /tmp/cd

``quantizer_validation.run_problem`` does the rest (its FP phases shared between the settings):
its estimator factory takes ``_cd`` off the keyword arguments and its quantized fits run with the
patched output refit while they last.
"""
import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/results/quantizer_validation")

import admmnet.admm.solver as S           # noqa: E402
import cdcodes                            # noqa: E402
import quantizer_validation as qv         # noqa: E402
from scratch_option import install        # noqa: E402


@contextlib.contextmanager
def active(sweeps):
    """The output-code descent (at most ``sweeps`` sweeps; None or 0: off) while a fit runs."""
    cdcodes.SWEEPS = int(sweeps or 0)
    S.refit_output = cdcodes.refit_output if sweeps else cdcodes._orig
    try:
        yield
    finally:
        S.refit_output = cdcodes._orig


install(qv, "_cd", active)
sys.exit(qv.main(sys.argv[1:]))
