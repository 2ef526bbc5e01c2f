"""Scratch (not part of the package): the budget stages distilling from an ensemble of FP networks.

The preset distils every stage from the one FP network it starts from (w = 0.5, T = 4; +0.13 ±
0.05 on the test rows of five seeds). This measures a stronger teacher: the mean logits of that
network and ``--extra`` more FP networks of the same preset and epochs (seeds 1000 k + s, same
rows), the student still starting from the first. Runs ``benchmarks/budget_validation.py`` with
``Budget._teacher`` and its FP-network loader patched; the extra networks are kept beside the first
in ``<out>/models/`` (point it at the preset's folder to share them).

    python -u benchmarks/results/budget_validation_lenet5-caffe_fp20_ensemble/ens.py --extra 2 \
        --arch lenet5-caffe --budgets 2000x --fp-epochs 20 --grid '[{}]' \
        --out benchmarks/results/budget_validation_lenet5-caffe_fp20_ensemble/ensemble2
"""
import sys

sys.path.insert(0, "benchmarks")

import budget_validation as bv                       # noqa: E402
from admmnet.baselines import budget as bmod          # noqa: E402
from admmnet._backend import get_namespace            # noqa: E402

args = sys.argv[1:]
i = args.index("--extra")
EXTRA_N = int(args[i + 1])
del args[i:i + 2]
STATE = {}
_fp = bv._fp


def fp_with_extras(out, seed, X, y, arch="mlp", dataset="mnist", epochs=None):
    m = _fp(out, seed, X, y, arch, dataset, epochs)
    STATE["extras"] = [_fp(out, 1000 * k + seed, X, y, arch, dataset, epochs) for k in range(1, EXTRA_N + 1)]
    return m


_teacher = bmod.Budget._teacher


def ensemble_teacher(self, Ws, bs, Xt):
    t = _teacher(self, Ws, bs, Xt)
    if t is None or not STATE.get("extras"):
        return t
    from admmnet.backprop import logits
    xp = get_namespace(Ws[0])
    Zs = [t[0]]
    for m in STATE["extras"]:
        W2, b2 = self._initial_params(xp, m)
        Zs.append(logits(W2, b2, Xt, self.activation, arch=self._arch))
    return sum(Zs) / len(Zs), t[1], t[2]


bv._fp = fp_with_extras
bmod.Budget._teacher = ensemble_teacher
sys.exit(bv.main(args))
