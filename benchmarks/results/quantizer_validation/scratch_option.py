"""Scratch (not part of the package): a measured-only option routed through
``benchmarks/quantizer_validation.py``.

The scratch scripts beside their scores here (``relu_targets/relurun.py``,
``exact_codes/exactrun.py``, ``equalization/clerun.py``) each score a change to the layerwise
quantizer that the package does not have, as a keyword of the grid (``{"_relu": 2}``). They
share this plumbing: ``install(qv, keyword, active)`` makes ``qv``'s ``QNNADMM`` accept
``keyword`` (default None) and keep it on the model, and runs every fit of such a model inside
``active(value)``, a context manager that patches the quantizer while the fit runs and restores
it after.
"""
from types import SimpleNamespace

import admmnet


def install(qv, keyword: str, active) -> None:
    fit = qv.fit_finished

    def QNNADMM(**kw):
        value = kw.pop(keyword, None)
        model = admmnet.QNNADMM(**kw)
        model._scratch_value = value
        return model

    def fit_finished(model, X, y, **kw):
        with active(getattr(model, "_scratch_value", None)):
            return fit(model, X, y, **kw)

    qv.admmnet = SimpleNamespace(QNNADMM=QNNADMM)
    qv.fit_finished = fit_finished
