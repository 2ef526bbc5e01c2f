"""Scratch (not part of the package): leaky ReLU hidden units for quantizer_validation.py.

Registers ``leaky<s>`` = max(z, s z) for s in 0.01, 0.05, 0.1, 0.2, 0.3 as activations (the
z-update's piecewise closed form takes the pieces unchanged) and lets ``QNNADMM`` accept them,
then runs ``benchmarks/quantizer_validation.py`` with the rest of the command line (a setting
with ``activation`` gets FP phases of its own there). From the repository root:

    python benchmarks/results/quantizer_validation/leaky_relu/leaky.py --dataset seeds --splits 10 \\
        --bits fp --grid '[{}, {"activation": "leaky0.01"}, {"activation": "leaky0.1"}]' --out /tmp/leaky
"""
import math
import sys

sys.path.insert(0, "benchmarks")

import admmnet.model as M                                   # noqa: E402
from admmnet.admm import activations as A                   # noqa: E402

names = []
for s in (0.01, 0.05, 0.1, 0.2, 0.3):
    A.ACTIVATIONS[f"leaky{s}"] = A.Activation(f"leaky{s}", ((-math.inf, 0.0, s, 0.0), (0.0, math.inf, 1.0, 0.0)))
    names.append(f"leaky{s}")
M.QNNADMM._RULES["activation"] = ("choice", ("relu", "hardsigmoid", "identity", *names))

import quantizer_validation  # noqa: E402

sys.exit(quantizer_validation.main(sys.argv[1:]))
