"""admmnet.datasets: loaders on the real files (via ADMMNET_DATA), preprocessing,
one-hot encoding, and the error/download paths on copies in tmp_path (no network)."""
import dataclasses
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from admmnet.datasets import (
    DATASETS,
    Dataset,
    DatasetError,
    load_dataset,
    load_mnist,
    load_pendigits,
    load_seeds,
    one_hot,
)
from admmnet.datasets import _fetch, mnist
from admmnet.datasets.pendigits import augment_pendigits

SEEDS = "seeds_dataset.txt"


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """No ADMMNET_DATA, no bundled files, and a fresh empty cache folder (returned) under tmp_path."""
    monkeypatch.delenv("ADMMNET_DATA", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("ADMMNET_CACHE", str(cache))
    monkeypatch.setattr(_fetch, "bundled_dir", lambda: tmp_path / "no-bundle")
    return cache


def _put(folder: Path, dataset: str, name: str, content: bytes) -> Path:
    """Write ``content`` to ``folder/dataset/name`` and return the path."""
    path = folder / dataset / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _gz_modified(src: Path, offset: int, value: int) -> bytes:
    """The gzip file ``src`` with one decompressed byte changed, recompressed."""
    raw = bytearray(gzip.decompress(src.read_bytes()))
    raw[offset] = value
    return gzip.compress(bytes(raw))


# ------------------------------------------------------------------ seeds
def test_seeds_shapes_dtypes_and_stratified_counts(real_data):
    ds = load_seeds()
    assert isinstance(ds, Dataset) and ds.name == "seeds"
    assert ds.X_train.shape == (168, 7) and ds.X_test.shape == (42, 7)
    assert ds.X_train.dtype == np.float32 and ds.X_test.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert (ds.n_classes, ds.n_features) == (3, 7)
    assert np.bincount(ds.y_train).tolist() == [56, 56, 56]
    assert np.bincount(ds.y_test).tolist() == [14, 14, 14]
    assert ds.split == "stratified 80/20, seed 0"
    text = repr(ds)
    assert "(168, 7)" in text and "seeds" in text and len(text) < 200


def test_seeds_standardised_with_train_statistics(real_data):
    ds = load_seeds(dtype="float64")
    raw = load_seeds(dtype="float64", standardize=False)
    assert ds.X_train.dtype == np.float64
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1, atol=1e-12)
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - mean) / std, atol=1e-12)
    # the test part was not standardised with its own statistics
    assert np.abs(ds.X_test.mean(axis=0)).max() > 1e-3
    # the raw file values come back unchanged (15.26: first value of the UCI file)
    assert 15.26 in np.concatenate([raw.X_train[:, 0], raw.X_test[:, 0]])


def test_seeds_split_deterministic_per_seed(real_data):
    a, b, c = load_seeds(split_seed=0), load_seeds(split_seed=0), load_seeds(split_seed=1)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    raw0 = load_seeds(split_seed=0, standardize=False, dtype="float64")
    raw1 = load_seeds(split_seed=1, standardize=False, dtype="float64")
    assert not np.array_equal(raw0.X_test, raw1.X_test)
    assert c.split == "stratified 80/20, seed 1"
    # train and test are a partition of the 210 rows
    rows = lambda X: {tuple(r) for r in X}  # noqa: E731
    assert not rows(raw0.X_train) & rows(raw0.X_test)
    assert rows(raw0.X_train) | rows(raw0.X_test) == rows(raw1.X_train) | rows(raw1.X_test)
    assert len(rows(raw0.X_train) | rows(raw0.X_test)) == 210


def test_seeds_test_fraction_and_argument_checks(real_data):
    ds = load_seeds(test_fraction=0.25)
    assert np.bincount(ds.y_test).tolist() == [18, 18, 18]  # round(17.5) -> 18
    assert ds.split == "stratified 75/25, seed 0"
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="test_fraction"):
            load_seeds(test_fraction=bad)
    with pytest.raises(ValueError, match="split_seed"):
        load_seeds(split_seed=-1)
    with pytest.raises(ValueError, match="dtype"):
        load_seeds(dtype="int32")


# -------------------------------------------------------------- pendigits
def test_pendigits_official_split(real_data):
    ds = load_pendigits()
    assert ds.X_train.shape == (7494, 16) and ds.X_test.shape == (3498, 16)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert np.bincount(ds.y_train).tolist() == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    assert len(ds.y_test) == 3498 and ds.y_test.min() == 0 and ds.y_test.max() == 9
    assert (ds.n_classes, ds.n_features, ds.split) == (10, 16, "UCI writer-independent train/test")
    X64 = ds.X_train.astype(np.float64)  # stats of the float32 result, summed in float64
    np.testing.assert_allclose(X64.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(X64.std(axis=0), 1, atol=1e-6)
    raw = load_pendigits(standardize=False, dtype="float64")
    assert raw.X_train.min() == 0 and raw.X_train.max() == 100
    np.testing.assert_array_equal(raw.X_train, np.round(raw.X_train))
    expected = (raw.X_test - raw.X_train.mean(axis=0)) / raw.X_train.std(axis=0)
    np.testing.assert_allclose(ds.X_test, expected, atol=1e-5)


def test_pendigits_writer_dependent_split(real_data):
    """The training writers' rows (pendigits.tra) split stratified 80/20 by the seed: the test
    rows are digits of those writers, each row in exactly one part, scaled with the train
    part's statistics; pendigits.tes is not used."""
    raw_tra = load_pendigits(standardize=False, dtype="float64")
    ds = load_pendigits(split="writer-dependent", split_seed=3)
    counts = np.bincount(raw_tra.y_train)
    n_test = np.floor(0.2 * counts + 0.5).astype(int)
    assert np.bincount(ds.y_test).tolist() == n_test.tolist()
    assert np.bincount(ds.y_train).tolist() == (counts - n_test).tolist()
    assert ds.X_train.shape == (7494 - n_test.sum(), 16) and ds.X_test.shape == (n_test.sum(), 16)
    assert ds.split == "UCI writer-dependent: pendigits.tra stratified 80/20, seed 3"
    raw = load_pendigits(split="writer-dependent", split_seed=3, standardize=False, dtype="float64")
    # the two parts partition pendigits.tra: rows (with labels) match up one to one
    both = np.concatenate([np.c_[raw.X_train, raw.y_train], np.c_[raw.X_test, raw.y_test]])
    whole = np.c_[raw_tra.X_train, raw_tra.y_train]
    np.testing.assert_array_equal(np.unique(both, axis=0, return_counts=True)[1],
                                  np.unique(whole, axis=0, return_counts=True)[1])
    np.testing.assert_array_equal(np.unique(both, axis=0), np.unique(whole, axis=0))
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - mean) / std, atol=1e-5)
    # same seed, same split; another seed, another one; the fraction is honoured
    again = load_dataset("pendigits", split="writer-dependent", split_seed=3)
    np.testing.assert_array_equal(again.X_test, ds.X_test)
    other = load_pendigits(split="writer-dependent", split_seed=4)
    assert not np.array_equal(other.y_test, ds.y_test) or not np.array_equal(other.X_test, ds.X_test)
    half = load_pendigits(split="writer-dependent", test_fraction=0.5)
    assert abs(half.X_test.shape[0] - 7494 / 2) <= 10
    # augmentation applies to the train part only
    aug = load_pendigits(split="writer-dependent", split_seed=3, augment=1)
    assert aug.n_augmented == ds.X_train.shape[0]
    np.testing.assert_array_equal(aug.original_train()[0], ds.X_train)
    np.testing.assert_array_equal(aug.X_test, ds.X_test)


def test_pendigits_split_arguments_are_checked(real_data):
    with pytest.raises(ValueError, match="split must be one of 'writer-independent', 'writer-dependent'"):
        load_pendigits(split="random")
    with pytest.raises(ValueError, match="split_seed"):
        load_pendigits(split="writer-dependent", split_seed=-1)
    with pytest.raises(ValueError, match="test_fraction"):
        load_pendigits(split="writer-dependent", test_fraction=1.5)
    # the default is the standard split, whatever the split seed
    np.testing.assert_array_equal(load_dataset("pendigits", split_seed=7).X_test, load_pendigits().X_test)
    assert load_dataset("pendigits", split="writer-independent").X_test.shape == (3498, 16)
    with pytest.raises(ValueError, match="only pendigits has a choice of split"):
        load_dataset("mnist", split="writer-dependent")


def _digit_rows(n=5, seed=0):
    """Raw pendigits-like rows: 8 random points per row, each axis spanning 0..100."""
    P = np.random.default_rng(seed).uniform(0, 1, (n, 8, 2))
    P = 100 * (P - P.min(1, keepdims=True)) / (P.max(1, keepdims=True) - P.min(1, keepdims=True))
    return P.reshape(n, 16)


def test_augment_pendigits_geometry():
    X = _digit_rows()
    A = augment_pendigits(X, 3, seed=1)
    assert A.shape == (15, 16)
    pts = A.reshape(15, 8, 2)
    np.testing.assert_allclose(pts.min(axis=1), 0, atol=1e-9)       # each axis spans 0..100 again
    np.testing.assert_allclose(pts.max(axis=1), 100, atol=1e-9)
    np.testing.assert_array_equal(A, augment_pendigits(X, 3, seed=1))  # same seed, same copies
    assert not np.allclose(A, augment_pendigits(X, 3, seed=2))
    # no distortion: every copy is the original row (copy-major order)
    same = augment_pendigits(X, 2, rotation=0, shear=0, noise=0)
    np.testing.assert_allclose(same, np.tile(X, (2, 1)), atol=1e-9)
    # without noise a copy is an affine image of its row (the rotation/shear and the per-axis
    # rescale are both affine): an exact least-squares fit p' = [p, 1] C exists
    rot = augment_pendigits(X, 1, rotation=0.5, shear=0.3, noise=0).reshape(5, 8, 2)
    for r in range(5):
        src = np.c_[X.reshape(5, 8, 2)[r], np.ones(8)]
        coef = np.linalg.lstsq(src, rot[r], rcond=None)[0]
        np.testing.assert_allclose(src @ coef, rot[r], atol=1e-8)
    assert augment_pendigits(X, 0).shape == (0, 16)


def test_augment_pendigits_rejects_bad_input():
    X = _digit_rows()
    with pytest.raises(ValueError, match="shape"):
        augment_pendigits(X[:, :15], 1)
    with pytest.raises(ValueError, match="copies"):
        augment_pendigits(X, -1)
    with pytest.raises(ValueError, match="NaN"):
        augment_pendigits(np.where(X == 0, np.nan, X), 1)
    with pytest.raises(ValueError, match="noise"):
        augment_pendigits(X, 1, noise=-1.0)


def test_pendigits_augmented_training_rows(real_data):
    plain = load_pendigits()
    ds = load_dataset("pendigits", augment=2, augment_seed=5)
    assert ds.n_augmented == 2 * 7494 and ds.X_train.shape == (3 * 7494, 16)
    X, y = ds.original_train()
    np.testing.assert_array_equal(X, plain.X_train)          # scaled with the real rows' statistics
    np.testing.assert_array_equal(ds.X_test, plain.X_test)   # the test part is never augmented
    np.testing.assert_array_equal(ds.y_train, np.tile(plain.y_train, 3))
    assert "2 augmented copies (seed 5)" in ds.split and "n_augmented" in repr(ds)
    raw = load_pendigits(standardize=False, dtype="float64", augment=1, augment_seed=5)
    np.testing.assert_allclose(raw.X_train[7494:], augment_pendigits(raw.X_train[:7494], 1, seed=5))
    with pytest.raises(ValueError, match="pendigits only"):
        load_dataset("seeds", augment=1)


# ------------------------------------------------------------------ MNIST
def test_mnist_official_split_and_pixel_range(mnist_data, real_data):
    ds = load_mnist()
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_test.dtype == np.int64
    assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0 and ds.X_test.max() == 1.0
    assert ds.y_train[:5].tolist() == [5, 0, 4, 1, 9] and ds.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(ds.y_train).sum() == 60000 and np.bincount(ds.y_test, minlength=10).min() > 800
    assert (ds.n_classes, ds.n_features, ds.split) == (10, 784, "official 60k/10k")
    # the files' sha256 checks are remembered; the second load re-parses them
    assert len(mnist._VERIFIED) >= 4
    raw = load_mnist(standardize=False)
    np.testing.assert_array_equal(raw.X_test / 255, ds.X_test)
    assert raw.X_train.max() == 255


def test_mnist_sha256_checks_decompressed_bytes(mnist_data, real_data, tmp_path):
    src = real_data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    # a different gzip wrapper around the same content is accepted
    regz = _put(tmp_path, "mnist", src.name, gzip.compress(gzip.decompress(src.read_bytes()), compresslevel=1, mtime=1))
    assert regz.read_bytes() != src.read_bytes()
    assert mnist.read_idx(regz)[:5].tolist() == [7, 2, 1, 0, 4]
    # one changed label byte is not
    bad = _put(tmp_path / "b", "mnist", src.name, _gz_modified(src, 100, 3))
    with pytest.raises(DatasetError, match="sha256") as err:
        mnist.read_idx(bad)
    assert str(bad) in str(err.value) and "Delete it" in str(err.value)


def test_mnist_corrupt_file_names_it(mnist_data, real_data, tmp_path, isolated):
    home = tmp_path / "home"
    (home / "mnist").mkdir(parents=True)
    for name in mnist.FILES:
        os.symlink(real_data / "mnist" / name, home / "mnist" / name)
    target = home / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.unlink()
    target.write_bytes(_gz_modified(real_data / "mnist" / target.name, 8, 9))
    with pytest.raises(DatasetError) as err:
        load_mnist(data_home=home, download=False)
    assert str(target) in str(err.value) and "ADMMNET_DATA" in str(err.value)
    target.write_bytes(b"not a gzip file")
    with pytest.raises(DatasetError, match="gzip") as err:
        load_mnist(data_home=home, download=False)
    assert str(target) in str(err.value)
    assert target.exists()  # a file the user owns is reported, never deleted


# ------------------------------------------------------- load_dataset/one_hot
def test_load_dataset_dispatch_and_unknown_name(real_data):
    assert DATASETS == ("seeds", "pendigits", "mnist")
    ds = load_dataset("seeds", split_seed=3, test_fraction=0.5, dtype="float64")
    assert ds.split == "stratified 50/50, seed 3" and ds.X_train.dtype == np.float64
    assert load_dataset("pendigits").X_train.shape == (7494, 16)
    with pytest.raises(ValueError, match="unknown dataset 'iris'") as err:
        load_dataset("iris")
    assert all(name in str(err.value) for name in DATASETS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"


def test_one_hot_shape_and_values():
    y = np.array([2, 0, 1, 2])
    Y = one_hot(y, 3)
    assert Y.shape == (3, 4) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y.argmax(axis=0), y)
    np.testing.assert_array_equal(Y.sum(axis=0), 1)
    assert one_hot([0, 1], 4, dtype="float64").dtype == np.float64
    assert one_hot(np.array([], dtype=np.int64), 2).shape == (2, 0)


@pytest.mark.parametrize(
    "y, n_classes, match",
    [
        ([0, 3], 3, r"outside \[0, 3\)"),
        ([-1, 0], 3, r"outside \[0, 3\)"),
        ([[0, 1]], 3, "1-D"),
        ([0.0, 1.0], 3, "integer"),
        ([0, 1], 0, "n_classes"),
    ],
)
def test_one_hot_errors(y, n_classes, match):
    with pytest.raises(ValueError, match=match):
        one_hot(np.asarray(y), n_classes)


# ----------------------------------------------------- missing/corrupt files
def test_missing_file_without_download(isolated, tmp_path):
    with pytest.raises(DatasetError) as err:
        load_seeds(data_home=tmp_path / "nowhere", download=False)
    msg = str(err.value)
    assert SEEDS in msg and "ADMMNET_DATA" in msg and "download" in msg
    assert str(tmp_path / "nowhere") in msg and str(isolated) in msg  # the folders searched
    with pytest.raises(DatasetError, match="pendigits.tra"):
        load_pendigits(download=False)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz"):
        load_mnist(download=False)


def test_corrupt_seeds_file(real_data, isolated, tmp_path):
    lines = (real_data / "seeds" / SEEDS).read_text().splitlines()
    short = _put(tmp_path, "seeds", SEEDS, "\n".join(lines[:-1]).encode())
    with pytest.raises(DatasetError, match="209 data rows, expected 210") as err:
        load_seeds(data_home=tmp_path, download=False)
    assert str(short) in str(err.value) and "Delete it" in str(err.value)
    broken = lines.copy()
    broken[4] = "\t".join(broken[4].split()[:7])
    _put(tmp_path, "seeds", SEEDS, "\n".join(broken).encode())
    with pytest.raises(DatasetError, match="line 5 has 7 values, expected 8"):
        load_seeds(data_home=tmp_path, download=False)
    # irregular white space (as in the UCI original) is fine
    messy = [" \t".join(line.split()) + "\t" for line in lines]
    _put(tmp_path, "seeds", SEEDS, ("\n".join(messy) + "\n\n").encode())
    assert load_seeds(data_home=tmp_path, download=False).X_train.shape == (168, 7)


def test_corrupt_pendigits_file(real_data, isolated, tmp_path):
    for name in ("pendigits.tra", "pendigits.tes"):
        _put(tmp_path, "pendigits", name, (real_data / "pendigits" / name).read_bytes())
    tes = tmp_path / "pendigits" / "pendigits.tes"
    rows = tes.read_text().splitlines()
    rows[0] = rows[0].replace("100", "101", 1)
    tes.write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match=r"0\.\.100") as err:
        load_pendigits(data_home=tmp_path, download=False)
    assert str(tes) in str(err.value)
    tes.write_text("\n".join(rows[1:]) + "\n")
    with pytest.raises(DatasetError, match="3497 data rows, expected 3498"):
        load_pendigits(data_home=tmp_path, download=False)


def test_search_order(real_data, tmp_path, monkeypatch):
    monkeypatch.setenv("ADMMNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ADMMNET_DATA", str(real_data))
    # ADMMNET_DATA (real files) is used when data_home lacks the file ...
    assert load_seeds(data_home=tmp_path / "empty", download=False).n_classes == 3
    # ... but a data_home holding it comes first, ADMMNET_DATA before the cache
    bad = _put(tmp_path / "home", "seeds", SEEDS, b"1 2 3\n")
    with pytest.raises(DatasetError, match="line 1 has 3 values") as err:
        load_seeds(data_home=tmp_path / "home", download=False)
    assert str(bad) in str(err.value)
    _put(tmp_path / "cache", "seeds", SEEDS, b"1 2 3\n")
    assert load_seeds(download=False).n_train == 168
    found = [p.resolve() for p in _fetch.search_dirs(tmp_path / "home")]
    assert found[:3] == [(tmp_path / "home").resolve(), real_data, (tmp_path / "cache").resolve()]
    assert _fetch.bundled_dir().resolve() in found      # Seeds and Pendigits ship: searched last
    assert found.index(_fetch.bundled_dir().resolve()) in (1, len(found) - 1)


def test_default_cache_dir(monkeypatch):
    monkeypatch.delenv("ADMMNET_CACHE", raising=False)
    repo_data = Path(_fetch.__file__).resolve().parents[2] / "data"
    assert _fetch.cache_dir() in (repo_data, Path.home() / ".cache" / "admmnet")


# ------------------------------------------------- downloads via file:// URLs
def test_download_into_cache(real_data, isolated, tmp_path, monkeypatch):
    src = tmp_path / "mirror"
    _put(src, "", SEEDS, (real_data / "seeds" / SEEDS).read_bytes())
    monkeypatch.setitem(_fetch.SOURCES, "seeds", ((tmp_path / "gone").as_uri() + "/", src.as_uri() + "/"))
    ds = load_seeds(download=True)
    assert ds.X_train.shape == (168, 7)
    cached = isolated / "seeds" / SEEDS
    assert cached.read_bytes() == (src / SEEDS).read_bytes()
    assert sorted(p.name for p in cached.parent.iterdir()) == [SEEDS]  # no temporary file left
    (src / SEEDS).unlink()  # now served from the cache
    np.testing.assert_array_equal(load_seeds(download=True).X_test, ds.X_test)


def test_download_of_corrupt_file_leaves_nothing(real_data, isolated, tmp_path, monkeypatch):
    lines = (real_data / "seeds" / SEEDS).read_text().splitlines()
    src = tmp_path / "mirror"
    _put(src, "", SEEDS, "\n".join(lines[:100]).encode())
    monkeypatch.setitem(_fetch.SOURCES, "seeds", (src.as_uri() + "/",))
    with pytest.raises(DatasetError) as err:
        load_seeds(download=True)
    msg = str(err.value)
    assert SEEDS in msg and "100 data rows" in msg and "deleted" in msg and "ADMMNET_DATA" in msg
    assert not (isolated / "seeds").exists() or not any((isolated / "seeds").iterdir())
    # an unreachable mirror: the message names the file and the folders searched
    monkeypatch.setitem(_fetch.SOURCES, "seeds", ((tmp_path / "gone").as_uri() + "/",))
    with pytest.raises(DatasetError, match="could not be downloaded") as err:
        load_seeds(download=True)
    assert SEEDS in str(err.value) and str(isolated) in str(err.value)
    assert not any((isolated / "seeds").iterdir())


def test_mnist_download_falls_back_to_next_mirror(mnist_data, real_data, isolated, tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    _put(bad, "", "t10k-labels-idx1-ubyte.gz", _gz_modified(real_data / "mnist" / "t10k-labels-idx1-ubyte.gz", 50, 1))
    monkeypatch.setitem(_fetch.SOURCES, "mnist", (bad.as_uri() + "/", (real_data / "mnist").as_uri() + "/"))
    ds = load_mnist(download=True)
    assert ds.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert sorted(p.name for p in (isolated / "mnist").iterdir()) == sorted(mnist.FILES)
