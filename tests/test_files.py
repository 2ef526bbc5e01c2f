"""Own data files: the readers of admmnet.datasets.files, the stored standardisation, and
'admmnet train/evaluate/predict --data', 'admmnet export', 'admmnet plot' end to end."""
import csv
import json
import sys

import numpy as np
import pytest

import admmnet
from admmnet.cli import main
from admmnet.datasets.files import FileFormatError, apply_standardisation, fit_standardisation, load_file


def _write_csv(path, header, rows, delim=","):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=delim)
        w.writerow(header)
        w.writerows(rows)
    return path


def _blobs(n=90, d=4, seed=0, labels=("cat", "dog", "eel")):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(labels)
    X = rng.standard_normal((n, d)) + 3.0 * y[:, None] + 100.0      # far from standardised
    return X, np.array(labels)[y]


@pytest.fixture
def blobs_csv(tmp_path):
    X, y = _blobs()
    return _write_csv(tmp_path / "train.csv", ["a", "b", "c", "d", "kind"],
                      [list(map(repr, x)) + [t] for x, t in zip(X.tolist(), y)])


# -- readers ------------------------------------------------------------------------------------
def test_csv_string_and_integer_labels_and_target(tmp_path, blobs_csv):
    d = load_file(blobs_csv)
    assert d.X.shape == (90, 4) and d.target == "kind" and d.y.dtype.kind == "U"
    assert d.feature_names == ("a", "b", "c", "d")
    p = _write_csv(tmp_path / "t.csv", ["label", "x", "y"], [[1, 0.5, 2], [2, 1.5, 3], [1, 2, 4]])
    d = load_file(p, target="label")
    assert d.y.tolist() == [1, 2, 1] and d.y.dtype == np.int64 and d.X.tolist() == [[0.5, 2], [1.5, 3], [2, 4]]
    assert load_file(p, target="0").y.tolist() == [1, 2, 1]
    tsv = _write_csv(tmp_path / "t.tsv", ["x", "y", "label"], [[0.5, 2, "a"], [1, 2, "b"]], delim="\t")
    assert load_file(tsv).y.tolist() == ["a", "b"]


def test_npz_and_svmlight(tmp_path):
    X, y = _blobs(12)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    d = load_file(tmp_path / "d.npz")
    np.testing.assert_array_equal(d.X, X)
    assert d.y.tolist() == y.tolist()
    np.savez(tmp_path / "noy.npz", X=X)
    assert load_file(tmp_path / "noy.npz", require_target=False).y is None
    pytest.importorskip("sklearn")
    (tmp_path / "d.svm").write_text("1 1:0.5 3:2\n2 2:1.5\n1 1:1 2:1 3:1\n")
    d = load_file(tmp_path / "d.svm")
    assert d.X.tolist() == [[0.5, 0, 2], [0, 1.5, 0], [1, 1, 1]] and d.y.tolist() == [1, 2, 1]
    assert load_file(tmp_path / "d.svm", n_features=5).X.shape == (3, 5)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    ("a,b,label\n", "no data rows"),
    ("a,b,label\n1,2,x\n1,2\n", "line 3: 2 field(s), but the header (line 1) has 3"),
    ("a,b,label\n1,2,x\n1,oops,y\n", "line 3, column 2 ('b'): 'oops' is not a number"),
    ("a,b,label\n1,,x\n", "line 2, column 2 ('b'): an empty value"),
    ("a,b,label\n1,2,\n", "line 2, target column 'label': an empty label"),
    ("a,b,label\n1,nan,x\n", "is not finite"),
])
def test_csv_errors_name_file_and_line(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    if content is not None:
        p.write_text(content)
    with pytest.raises(FileFormatError) as err:
        load_file(p)
    assert "bad.csv" in str(err.value) and message in str(err.value)


def test_other_errors(tmp_path, blobs_csv):
    with pytest.raises(FileFormatError, match="no target column 'species'.*'kind'"):
        load_file(blobs_csv, target="species")
    with pytest.raises(FileFormatError, match="train.csv: 4 feature column.*expects 7"):
        load_file(blobs_csv, n_features=7)
    (tmp_path / "x.parquet").write_text("x")
    with pytest.raises(FileFormatError, match="unknown file type"):
        load_file(tmp_path / "x.parquet")
    np.savez(tmp_path / "bad.npz", features=np.zeros((2, 2)))
    with pytest.raises(FileFormatError, match="bad.npz: no array 'X'"):
        load_file(tmp_path / "bad.npz")
    (tmp_path / "bad.svm").write_text("1 1:0.5 oops\n")
    pytest.importorskip("sklearn")
    with pytest.raises(FileFormatError, match="bad.svm: not a valid svmlight"):
        load_file(tmp_path / "bad.svm")


# -- the stored standardisation -----------------------------------------------------------------
def test_standardisation_is_stored_and_round_trips(tmp_path):
    X, y = _blobs()
    mean, scale = fit_standardisation(X)
    model = admmnet.FPMLP(hidden_sizes=(8,), max_epochs=20, holdout_fraction=0.0, patience=None)
    model.fit(apply_standardisation(X, mean, scale), y)
    before = model.predict_proba(apply_standardisation(X, mean, scale))
    bytes_before = model.model_bytes
    admmnet.with_standardisation(model, mean, scale)
    np.testing.assert_array_equal(model.predict_proba(X), before)      # raw features, same numbers
    assert model.model_bytes == bytes_before + 2 * 4 * 4 == bytes_before + model.network_.input_transform_bytes
    model.save(tmp_path / "m.npz")
    back = admmnet.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.predict_proba(X), before)
    np.testing.assert_array_equal(back.network_.input_mean, mean.astype(np.float32))
    with pytest.raises(ValueError, match="input_scale has 3 entries for 4"):
        admmnet.with_standardisation(model, mean, scale[:3])
    with pytest.raises(ValueError, match="not fitted"):
        admmnet.with_standardisation(admmnet.FPMLP(), mean, scale)
    admmnet.with_standardisation(model, None, None)
    assert model.network_.input_mean is None and model.model_bytes == bytes_before


# -- the command line ---------------------------------------------------------------------------
def test_cli_train_evaluate_predict_export_plot(tmp_path, blobs_csv, capsys):
    m, js = tmp_path / "m.npz", tmp_path / "r.json"
    assert main(["train", "--data", str(blobs_csv), "--method", "fp", "--epochs", "30", "--save", str(m),
                 "--json", str(js), "--quiet"]) == 0
    rec = json.loads(js.read_text())
    assert rec["dataset"] == "train.csv" and rec["data"]["target"] == "kind" and rec["data"]["standardised"]
    assert rec["test_accuracy"] > 0.9 and rec["layer_sizes"][0] == 4
    capsys.readouterr()
    assert main(["evaluate", str(m), "--data", str(blobs_csv)]) == 0
    assert "accuracy" in capsys.readouterr().out
    # prediction on raw features, with or without the target column
    X, y = _blobs()
    feats = _write_csv(tmp_path / "new.csv", ["a", "b", "c", "d"], X.tolist())
    out = tmp_path / "pred.csv"
    assert main(["predict", str(m), "--data", str(feats), "--out", str(out), "--proba"]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["label", "p_cat", "p_dog", "p_eel"] and len(rows) == 91
    model = admmnet.load(m)
    assert [r[0] for r in rows[1:]] == model.predict(X).tolist()
    assert main(["predict", str(m), "--data", str(blobs_csv)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == model.predict(X).tolist()
    # wrong number of features, unknown labels: messages, no traceback
    wrong = _write_csv(tmp_path / "wrong.csv", ["a", "b"], [[1, 2]])
    assert main(["predict", str(m), "--data", str(wrong)]) == 2
    assert "wrong.csv: 2 feature column(s), but the model expects 4" in capsys.readouterr().err
    other = _write_csv(tmp_path / "other.csv", ["a", "b", "c", "d", "kind"], [[1, 2, 3, 4, "fox"]])
    assert main(["evaluate", str(m), "--data", str(other)]) == 2
    assert "other.csv" in capsys.readouterr().err
    # export and plot
    pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(m), "-o", str(onnx_path)]) == 0
    assert "labels agree" in capsys.readouterr().err
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    label = sess.run(["label"], {"X": X.astype(np.float32)})[0]
    assert model.classes_[label].tolist() == model.predict(X).tolist()
    pytest.importorskip("matplotlib")
    png = tmp_path / "c.png"
    assert main(["plot", str(js), str(js), "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_own_data_errors(tmp_path, blobs_csv, capsys):
    assert main(["train", "--data", str(tmp_path / "missing.csv"), "--quiet"]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert main(["train", "--quiet"]) == 2
    assert "--dataset NAME or --data FILE" in capsys.readouterr().err
    assert main(["train", "--data", str(blobs_csv), "--target", "nope", "--quiet"]) == 2
    assert "no target column 'nope'" in capsys.readouterr().err
    assert main(["plot", str(blobs_csv), "-o", str(tmp_path / "x.png")]) == 2
    assert "train.csv: not a JSON file" in capsys.readouterr().err


def test_cli_test_file_and_qnn_admm_progress(tmp_path, monkeypatch, capsys):
    X, y = _blobs(60, seed=1)
    Xt, yt = _blobs(30, seed=2)
    tr = _write_csv(tmp_path / "tr.csv", ["a", "b", "c", "d", "y"], [list(x) + [t] for x, t in zip(X.tolist(), y)])
    te = _write_csv(tmp_path / "te.csv", ["a", "b", "c", "d", "y"], [list(x) + [t] for x, t in zip(Xt.tolist(), yt)])
    # not a terminal: one plain line per iteration
    assert main(["train", "--data", str(tr), "--test", str(te), "--bits", "2", "--iters", "3", "--n-init", "1"]) == 0
    err = capsys.readouterr().err
    assert "30 test" in err and err.count("iter ") == 3
    # a terminal: a tqdm bar instead of the lines
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["train", "--data", str(tr), "--test", str(te), "--bits", "2", "--iters", "3", "--n-init", "1"]) == 0
    err = capsys.readouterr().err
    assert "iter " not in err and "3/3" in err and "obj=" in err
    assert main(["train", "--data", str(tr), "--test", str(te), "--bits", "2", "--iters", "3", "--quiet"]) == 0
    assert "3/3" not in capsys.readouterr().err
