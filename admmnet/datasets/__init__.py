"""Datasets admmnet trains on: UCI seeds, UCI pendigits and MNIST.

>>> from admmnet.datasets import load_dataset, one_hot
>>> ds = load_dataset("seeds")                      # doctest: +SKIP
>>> ds                                               # doctest: +SKIP
Dataset('seeds', train=(168, 7), test=(42, 7), n_classes=3, dtype=float32, split='stratified 80/20, seed 0')
>>> Y = one_hot(ds.y_train, ds.n_classes)            # (3, 168): samples are columns  # doctest: +SKIP

Files are looked for in ``data_home``, then ``$ADMMNET_DATA``, then the cache
(``$ADMMNET_CACHE``, else the repository's ``data/`` folder, else
``~/.cache/admmnet``), each holding ``seeds/``, ``pendigits/`` and ``mnist/``
subfolders; missing files are downloaded into the cache when ``download=True``.
Every file's content is checked; a missing or corrupt file raises
:class:`DatasetError` naming it and saying what to do.
"""
from __future__ import annotations

import os

from ._fetch import DatasetError
from ._preprocess import Dataset, one_hot
from .mnist import load_mnist
from .pendigits import load_pendigits
from .seeds import load_seeds

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetError",
    "load_dataset",
    "load_mnist",
    "load_pendigits",
    "load_seeds",
    "one_hot",
]

#: Names accepted by :func:`load_dataset`.
DATASETS: tuple[str, ...] = ("seeds", "pendigits", "mnist")


def load_dataset(
    name: str,
    *,
    data_home: os.PathLike | str | None = None,
    dtype="float32",
    standardize: bool = True,
    download: bool = True,
    split: str | None = None,
    split_seed: int = 0,
    test_fraction: float = 0.2,
    augment: int = 0,
    augment_seed: int = 0,
) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`) as a :class:`Dataset`.

    Parameters
    ----------
    name : "seeds", "pendigits" or "mnist".
    data_home : a folder holding ``<name>/<file>``, searched before
        ``$ADMMNET_DATA`` and the cache.
    dtype : "float32" (default) or "float64", the dtype of ``X_train``/``X_test``.
    standardize : seeds and pendigits: centre/scale with the TRAIN part's
        per-feature mean and std (std 0 -> 1), applied to both parts.
        MNIST: pixels divided by 255 (kept in [0, 1], not centred).
    download : download missing files into the cache; when False a missing
        file raises :class:`DatasetError`.
    split : pendigits only: ``"writer-independent"`` (the standard split, default) or
        ``"writer-dependent"`` (a stratified split of the training writers' rows; see
        :func:`admmnet.datasets.pendigits.load_pendigits`). Seeds and MNIST have one
        protocol each and take None.
    split_seed, test_fraction : the stratified split of seeds (the only dataset without
        an official split) and of pendigits' writer-dependent split; ignored otherwise
        (MNIST and writer-independent pendigits use their standard splits).
    augment, augment_seed : pendigits only: append ``augment`` distorted copies of the
        training rows (:func:`admmnet.datasets.pendigits.augment_pendigits`), scaled with the
        real rows' statistics; the test part is never augmented. Other datasets need 0.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names are {', '.join(map(repr, DATASETS))}")
    common = dict(data_home=data_home, dtype=dtype, standardize=standardize, download=download)
    if augment and name != "pendigits":
        raise ValueError(f"data augmentation is defined for pendigits only, not {name!r} (augment={augment!r})")
    if split is not None and name != "pendigits":
        raise ValueError(f"split={split!r}: only pendigits has a choice of split; {name!r} takes None")
    if name == "pendigits":
        return load_pendigits(split=split or "writer-independent", split_seed=split_seed,
                              test_fraction=test_fraction, augment=augment, augment_seed=augment_seed, **common)
    if name == "seeds":
        return load_seeds(split_seed=split_seed, test_fraction=test_fraction, **common)
    return load_mnist(**common)
