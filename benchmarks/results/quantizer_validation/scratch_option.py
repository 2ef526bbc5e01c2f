"""Scratch (not part of the package): a measured-only option routed through
``benchmarks/quantizer_validation.py``.

The scratch scripts beside their scores here (``relu_targets/relurun.py``,
``exact_codes/exactrun.py``, ``equalization/clerun.py``) each score a change to the layerwise
quantizer that the package does not have, as a keyword of the grid (``{"_relu": 2}``). They
share this plumbing: ``install(qv, keyword, active)`` makes ``qv``'s ``QNNADMM`` accept
``keyword`` (default None) and keep it on the model, and runs every fit of such a model inside
``active(value)``, a context manager that patches the quantizer while the fit runs and restores
it after. ``install_patches(qv, keyword, (module, name, replacement), ...)`` is the common case:
while a fit with a true value of ``keyword`` runs, each ``module.name`` is ``replacement`` and
the returned namespace's ``value`` is that value (None otherwise), which the replacements read.
"""
import contextlib
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


def install_patches(qv, keyword: str, *patches) -> SimpleNamespace:
    """:func:`install` with the ``active`` that swaps in ``patches`` (``(module, name,
    replacement)`` triples) while a fit whose ``keyword`` is true runs, and restores the
    originals after; returns the namespace whose ``value`` is the keyword's value meanwhile."""
    current = SimpleNamespace(value=None)

    @contextlib.contextmanager
    def active(value):
        if not value:
            yield
            return
        originals = [getattr(module, name) for module, name, _ in patches]
        current.value = value
        for module, name, replacement in patches:
            setattr(module, name, replacement)
        try:
            yield
        finally:
            for (module, name, _), original in zip(patches, originals):
                setattr(module, name, original)
            current.value = None

    install(qv, keyword, active)
    return current
