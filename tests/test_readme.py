"""The README's own examples run as written (the Python block and the own-data/ONNX commands)."""
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.slow
def test_readme_python_example_runs():
    (code,) = [b for b in _blocks("python") if "GridSearchCV" in b]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    search = namespace["search"]
    assert search.best_params_["qnnadmm__bits"] in (1, 2, 4) and search.best_score_ > 0.85
    weights = search.best_estimator_[-1].weights()
    assert len(weights) == 3 and all(np.all(np.isfinite(w)) for w in weights)


def test_readme_own_data_and_onnx_commands(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    from sklearn.datasets import load_iris

    from admmnet.cli import main

    (block,) = [b for b in _blocks("bash") if "--data train.csv" in b]
    commands = [line.split("#")[0].split() for line in block.strip().splitlines()]
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    header = "sepal_length,sepal_width,petal_length,petal_width,species"
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_text(header + "\n" + "\n".join(
        ",".join(f"{v:.1f}" for v in row) + f",{c}" for row, c in zip(X, names)) + "\n")
    Path("new.csv").write_text(header.rsplit(",", 1)[0] + "\n" + "\n".join(
        ",".join(f"{v:.1f}" for v in row) for row in X[:10]) + "\n")
    for argv in commands:
        assert argv[0] == "admmnet"
        assert main(argv[1:] + (["--quiet"] if argv[1] == "train" else [])) == 0, argv
    preds = Path("predictions.csv").read_text().splitlines()
    assert len(preds) == 11 and "setosa" in preds[1]
    assert Path("model.onnx").stat().st_size > 0
