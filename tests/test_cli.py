"""The admmnet command line, end to end on Seeds."""
import json

import pytest

from admmnet.cli import main

pytestmark = pytest.mark.usefixtures("real_data")


def test_train_json_save_evaluate(tmp_path, capsys):
    out, model = tmp_path / "r.json", tmp_path / "m.npz"
    rc = main(["train", "--dataset", "seeds", "--bits", "2", "--iters", "4", "--seed", "3",
               "--json", str(out), "--save", str(model), "--quiet"])
    assert rc == 0
    rec = json.loads(out.read_text())
    for key in ("dataset", "method", "bits", "levels", "seed", "iterations", "train_accuracy",
                "test_accuracy", "seconds", "seconds_per_iteration", "history",
                "storage_bits_per_weight", "model_bytes"):
        assert key in rec, key
    assert rec["bits"] == 2 and rec["levels"] == "thesis" and rec["method"] == "qnn-admm"
    assert rec["iterations"] == 4 and len(rec["history"]) == 4 and rec["seed"] == 3
    assert 0.0 <= rec["test_accuracy"] <= 1.0 and rec["storage_bits_per_weight"] == 3
    printed = capsys.readouterr().out
    assert "test accuracy" in printed
    assert main(["evaluate", str(model), "--dataset", "seeds"]) == 0
    assert f"test accuracy {rec['test_accuracy']:.4f}" in capsys.readouterr().out


def test_fp_bits_in_json(tmp_path):
    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "seeds", "--bits", "fp", "--iters", "2", "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["bits"] == "fp" and rec["storage_bits_per_weight"] == 32


def test_errors_are_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    assert main(["evaluate", str(bad), "--dataset", "seeds"]) == 2
    assert "bad.npz" in capsys.readouterr().err
    assert main(["train", "--dataset", "seeds", "--bits", "12", "--iters", "1", "--quiet"]) == 2
    assert "bits=12" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "cifar"])


def test_help_explains_thesis_bits(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "thesis" in text and "ternary" in text
