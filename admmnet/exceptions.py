"""The exceptions and warnings admmnet raises besides ``ValueError``/``TypeError`` for bad
arguments (whose messages name the argument).

* :class:`InvalidParameterError` (both a ``ValueError`` and a ``TypeError``, as
  scikit-learn's): a constructor or fit argument of the wrong kind or out of range; the
  message names the parameter and what it accepts.
* :class:`CheckpointError` (a ``ValueError``): a model or checkpoint file that cannot be
  used; the message names the file and what to do.
* :class:`DivergenceError` (a ``ValueError``): training produced no finite iterate at all
  (e.g. inputs so large that the first forward pass overflows); nothing is returned.
* :class:`DivergenceWarning` (a ``RuntimeWarning``): training diverged after some finite
  iterates; the fit rolled back to the last finite one, stopped (``history.stop ==
  "diverged"``), and the fitted model is that iterate: never a model with NaN weights.
* :class:`FeatureScaleWarning` (a ``UserWarning``): QNN-ADMM was given features far from unit
  scale (a column's mean or standard deviation above
  :data:`admmnet._validation.FEATURE_SCALE_WARN`); its penalties, presets and one-scale-per-layer
  level sets assume standardised features, so the fit goes on but will be less accurate.
"""
from __future__ import annotations

from .io import CheckpointError

__all__ = ["CheckpointError", "DivergenceError", "DivergenceWarning", "FeatureScaleWarning", "InvalidParameterError",
           "NonFiniteError"]


class NonFiniteError(ValueError, ArithmeticError):
    """A numeric routine met NaN or inf in its input (inside a fit: the iterate diverged,
    and the fit rolls back instead of passing it on)."""


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or out of its range (the message names it)."""


class DivergenceError(ValueError):
    """Training produced no finite iterate; the message says what to change."""


class DivergenceWarning(RuntimeWarning):
    """Training diverged and was rolled back to its last finite iterate."""


class FeatureScaleWarning(UserWarning):
    """The features given to a fit are far from unit scale; the message names the column and
    says how to standardise them."""
