"""Array-namespace plumbing shared by every numeric module.

admmnet's solver code never imports NumPy directly: it asks the inputs for
their namespace (``xp = get_namespace(W, a)``) and uses only array-API
functions of ``xp``. That single code path runs on NumPy, on CuPy and under
``array_api_strict`` (the test that proves nothing NumPy-only leaks in).
The few places that must leave the array world (saving files, printing
scalars) go through :func:`to_numpy` and :func:`to_float`.
"""
from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace, is_cupy_namespace, is_numpy_namespace

__all__ = [
    "get_namespace",
    "to_numpy",
    "to_float",
    "resolve_dtype",
    "is_numpy_namespace",
    "is_cupy_namespace",
]

_DTYPES = ("float32", "float64")


def get_namespace(*arrays):
    """Return the array-API namespace shared by ``arrays`` (NumPy arrays give
    ``array_api_compat.numpy``)."""
    return array_namespace(*arrays)


def to_numpy(x) -> np.ndarray:
    """Copy any supported array (NumPy, CuPy, array_api_strict) to a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    try:
        return np.asarray(x)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(x)


def to_float(x) -> float:
    """A 0-d array (of any backend) as a Python float: the only host round trip
    a search loop needs."""
    return float(to_numpy(x))


def resolve_dtype(xp, dtype):
    """Map ``"float32"``/``"float64"`` (or a dtype of ``xp``) to ``xp``'s dtype object."""
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        return getattr(xp, dtype)
    for name in _DTYPES:
        if dtype == getattr(xp, name) or str(dtype) == name or getattr(np, name) == dtype:
            return getattr(xp, name)
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
