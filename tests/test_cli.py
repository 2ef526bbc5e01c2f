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


def test_activation_is_the_presets_unless_given(tmp_path):
    """``--activation`` unset: the preset's (Seeds at 1 bit the leaky ReLU, at 2 bits the ReLU);
    given: it wins. The saved network says which it has."""
    import admmnet

    def trained(*argv):
        path = tmp_path / f"m{len(list(tmp_path.iterdir()))}.npz"
        assert main(["train", "--dataset", "seeds", "--iters", "3", "--n-init", "1", "--save", str(path),
                     "--quiet", *argv]) == 0
        return admmnet.load(path).network_.activation

    assert trained("--bits", "1") == "leaky_relu"
    assert trained("--bits", "1", "--activation", "relu") == "relu"
    assert trained("--bits", "2") == "relu"
    assert trained("--bits", "2", "--activation", "leaky_relu") == "leaky_relu"


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


def test_baseline_methods_share_one_fp_model(tmp_path, capsys):
    fp = tmp_path / "fp.npz"
    assert main(["train", "--dataset", "seeds", "--method", "fp", "--epochs", "30", "--save", str(fp),
                 "--quiet"]) == 0
    for method, extra in (("ptq", ["--bits", "4"]), ("lq", ["--bits", "2"]), ("dq", []), ("qat", [])):
        out, model = tmp_path / f"{method}.json", tmp_path / f"{method}.npz"
        rc = main(["train", "--dataset", "seeds", "--method", method, *extra, "--from", str(fp),
                   "--json", str(out), "--save", str(model), "--quiet"])
        assert rc == 0, method
        rec = json.loads(out.read_text())
        for key in ("dataset", "method", "bits", "levels", "seed", "iterations", "train_accuracy",
                    "test_accuracy", "seconds", "seconds_per_iteration", "history",
                    "storage_bits_per_weight", "model_bytes"):
            assert key in rec, (method, key)
        assert rec["method"] == method and rec["from"] == str(fp)
        if method in ("dq", "qat"):
            assert rec["bits"] == 8 and rec["levels"] == "int8" and rec["storage_bits_per_weight"] == 8
        capsys.readouterr()
        assert main(["evaluate", str(model), "--dataset", "seeds"]) == 0
        assert f"test accuracy {rec['test_accuracy']:.4f}" in capsys.readouterr().out


def test_ste_fp_stage_then_ste_json(tmp_path):
    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "seeds", "--method", "ste", "--bits", "1", "--epochs", "5",
                 "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["bits"] == 1 and rec["method"] == "ste" and rec["storage_bits_per_weight"] == 2
    stages = [r["stage"] for r in rec["history"]]
    assert stages[:5] == ["fp"] * 5 and stages[-1] == "project" and "ste" in stages


@pytest.mark.parametrize("argv", [
    ["--method", "ptq"],                                  # quantized method without --bits
    ["--method", "fp", "--bits", "4"],
    ["--method", "dq", "--bits", "4"],
    ["--method", "fp", "--from", "x.npz"],
    ["--method", "lq", "--bits", "2", "--iters", "3"],
    ["--method", "qnn-admm", "--epochs", "3"],
    ["--method", "lq", "--bits", "2", "--layerwise-rho", "0.01"],
    ["--method", "fp", "--layerwise-equalize", "max"],
])
def test_bad_method_arguments(argv, capsys):
    assert main(["train", "--dataset", "seeds", "--quiet", *argv]) == 2
    assert "error" in capsys.readouterr().err


def test_from_a_quantized_model_is_refused(tmp_path, capsys):
    q = tmp_path / "q.npz"
    assert main(["train", "--dataset", "seeds", "--method", "ptq", "--bits", "2", "--epochs", "3",
                 "--save", str(q), "--quiet"]) == 0
    assert main(["train", "--dataset", "seeds", "--method", "lq", "--bits", "2", "--from", str(q), "--quiet"]) == 2
    assert "full-precision" in capsys.readouterr().err


def test_augmented_pendigits_training(tmp_path, capsys):
    """The backprop methods train on the preset's augmented copies on pendigits (train
    accuracy on the real rows); qnn-admm on its own preset's copies; --augment overrides; only pendigits."""
    out = tmp_path / "fp.json"
    assert main(["train", "--dataset", "pendigits", "--method", "fp", "--epochs", "1", "--augment", "1",
                 "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["augment"] == 1 and "1 augmented copies" in rec["split"]
    assert "7494 train + 7494 augmented" in capsys.readouterr().err
    assert 0.5 < rec["train_accuracy"] <= 1.0
    assert main(["train", "--dataset", "pendigits", "--iters", "1", "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())             # qnn-admm: its own preset's copies (presets.AUGMENT)
    assert rec["augment"] == 4 and "4 augmented copies" in rec["split"]
    assert main(["train", "--dataset", "seeds", "--method", "fp", "--augment", "2", "--quiet"]) == 2
    assert "pendigits only" in capsys.readouterr().err


def test_augmented_quantized_qnn_admm_quantizes_on_the_real_rows(tmp_path):
    """Pendigits' quantized QNN-ADMM: the FP phase trains on the real rows and the preset's
    copies, the layerwise quantizer and output refit on the real rows only; the CLI's model is
    exactly that two-step fit of the Python API, with restarts (--n-init 2: the FP phase of each
    initialisation on the augmented rows, the lowest training loss on the real rows kept)."""
    import numpy as np

    import admmnet
    from admmnet.datasets import load_dataset
    from admmnet.presets import AUGMENT, fp_phase_params, qnn_admm_params

    path = tmp_path / "q.npz"
    assert main(["train", "--dataset", "pendigits", "--bits", "2", "--iters", "3", "--seed", "1",
                 "--n-init", "2", "--save", str(path), "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    ds = load_dataset("pendigits", augment=AUGMENT["pendigits"], augment_seed=1)
    X_real, y_real = ds.original_train()
    kw = {**fp_phase_params("pendigits"), "max_iter": 3}     # the quantized preset's FP phase
    fps = [admmnet.QNNADMM(**kw, preset="pendigits", seed=1 + i).fit(ds.X_train, ds.y_train) for i in range(2)]
    q = admmnet.QNNADMM(**{**qnn_admm_params("pendigits", 2), "max_iter": 3, "fp_iter": 3, "n_init": 2},
                        bits=2, preset="pendigits", seed=1).fit(X_real, y_real, fp_model=fps)
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["n_init"] == 2 and rec["best_init"] == q.best_init_ and len(rec["init_losses"]) == 2
    cli = admmnet.load(path)
    for a, b in zip(cli.weights(), q.weights()):
        np.testing.assert_array_equal(a, b)
    # not the one-step fit on all rows
    one = admmnet.QNNADMM(**{**qnn_admm_params("pendigits", 2), "max_iter": 3, "fp_iter": 3, "n_init": 1},
                          bits=2, preset="pendigits", seed=1 + q.best_init_).fit(ds.X_train, ds.y_train)
    assert any(not np.array_equal(a, b) for a, b in zip(cli.weights(), one.weights()))


def test_pendigits_writer_dependent_split(tmp_path, capsys):
    """--split writer-dependent trains and tests on pendigits.tra split 80/20 by --split-seed;
    evaluate with the same split reproduces the test accuracy; other datasets refuse it."""
    out, model = tmp_path / "fp.json", tmp_path / "fp.npz"
    argv = ["train", "--dataset", "pendigits", "--method", "fp", "--epochs", "2", "--augment", "0",
            "--split", "writer-dependent", "--split-seed", "4", "--json", str(out), "--save", str(model), "--quiet"]
    assert main(argv) == 0
    rec = json.loads(out.read_text())
    assert rec["split"] == "UCI writer-dependent: pendigits.tra stratified 80/20, seed 4" and rec["split_seed"] == 4
    assert "5994 train / 1500 test" in capsys.readouterr().err
    ev = tmp_path / "ev.json"
    assert main(["evaluate", str(model), "--dataset", "pendigits", "--split", "writer-dependent",
                 "--split-seed", "4", "--json", str(ev)]) == 0
    assert json.loads(ev.read_text())["test_accuracy"] == rec["test_accuracy"]
    assert main(["train", "--dataset", "seeds", "--split", "writer-dependent", "--quiet"]) == 2
    assert "only pendigits" in capsys.readouterr().err


def test_blas_threads_option(tmp_path, capsys):
    # --blas-threads reaches the estimator and the record; "auto" (the default) and 1 give the
    # same model on Seeds, whatever the process's thread count
    recs = {}
    for opt in (None, "1", "none"):
        path = tmp_path / f"{opt}.json"
        argv = ["train", "--dataset", "seeds", "--bits", "1", "--iters", "20", "--n-init", "2", "--quiet",
                "--json", str(path)] + (["--blas-threads", opt] if opt else [])
        assert main(argv) == 0
        recs[opt] = json.loads(path.read_text())
    assert recs[None]["params"]["blas_threads"] == "auto" and recs[None]["blas_threads"] == 1
    assert recs["1"]["params"]["blas_threads"] == 1 and recs["none"]["params"]["blas_threads"] is None
    assert recs[None]["test_accuracy"] == recs["1"]["test_accuracy"]
    assert recs[None]["init_losses"] == recs["1"]["init_losses"]
    with pytest.raises(SystemExit) as exc:       # argparse's usage error
        main(["train", "--dataset", "seeds", "--blas-threads", "0"])
    assert exc.value.code == 2 and "--blas-threads" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--bits", "1"], ["--levels", "binary"], ["--bits", "2"], ["--bits", "3"]])
def test_train_uses_the_presets_level_dependent_settings(argv, tmp_path):
    # the CLI's explicit keyword arguments must be the estimator's own preset resolution: the
    # level set's largest code decides layerwise_rho and the restarts (presets.LAYERWISE_RHO,
    # N_INIT); a quantized run once got the 2-bit rho at 1 bit
    from admmnet import QNNADMM
    from admmnet.datasets import load_dataset

    path = tmp_path / "r.json"
    assert main(["train", "--dataset", "seeds", "--iters", "2", "--n-init", "1", "--quiet", "--json", str(path)]
                + argv) == 0
    got = json.loads(path.read_text())["params"]
    bits = None if "--levels" in argv else int(argv[1])
    levels = argv[1] if "--levels" in argv else "thesis"
    ds = load_dataset("seeds")
    want = QNNADMM(bits=bits, levels=levels, preset="seeds").resolved_params(*ds.X_train.shape, 3)
    assert got["layerwise_rho"] == want["layerwise_rho"]
    assert got["layerwise_rho"] == (1e-3 if bits in (1, None) else 1e-2)
    # Seeds' own 1-bit quantizer (LOW_BIT_OVERRIDES); None in the record: the preset's
    assert (got["layerwise_iter"] or QNNADMM.PRESET_PARAMS["layerwise_iter"]) == want["layerwise_iter"]
    assert want["layerwise_iter"] == (60 if bits in (1, None) else 30)


@pytest.mark.parametrize("argv, rho, eq, iters", [
    ([], 1e-3, None, 60),                          # the Seeds 1-bit preset (the record keeps None: the preset's)
    (["--layerwise-rho", "0.005", "--layerwise-equalize", "l2", "--layerwise-iter", "5"], 0.005, "l2", 5),
])
def test_layerwise_quantizer_options(argv, rho, eq, iters, tmp_path):
    """--layerwise-rho, --layerwise-iter and --layerwise-equalize override the preset's quantizer
    settings and reach the fit: the saved model is the Python API's with the same keyword arguments."""
    import numpy as np

    import admmnet
    from admmnet import QNNADMM
    from admmnet.datasets import load_dataset

    path, model = tmp_path / "r.json", tmp_path / "m.npz"
    assert main(["train", "--dataset", "seeds", "--bits", "1", "--iters", "3", "--n-init", "1", "--quiet",
                 "--json", str(path), "--save", str(model)] + argv) == 0
    got = json.loads(path.read_text())["params"]
    assert (got["layerwise_rho"], got["layerwise_equalize"], got["layerwise_iter"]) == (rho, eq, iters)
    ds = load_dataset("seeds")
    q = QNNADMM(bits=1, preset="seeds", max_iter=3, fp_iter=3, n_init=1, seed=0, layerwise_rho=rho,
                layerwise_equalize=eq, layerwise_iter=iters).fit(ds.X_train, ds.y_train)
    for a, b in zip(admmnet.load(model).weights(), q.weights()):
        np.testing.assert_array_equal(a, b)


def test_finetune_codes_option(tmp_path, capsys):
    """--finetune-codes sets the budget method's finetune_recode over the preset, and is refused elsewhere."""
    for codes, recode in (("keep", False), ("recode", True)):
        path = tmp_path / f"{codes}.json"
        assert main(["train", "--dataset", "seeds", "--method", "budget", "--budget", "8x", "--epochs", "3",
                     "--finetune-epochs", "1", "--finetune-codes", codes, "--quiet", "--json", str(path)]) == 0
        assert json.loads(path.read_text())["params"]["finetune_recode"] is recode
    for argv in (["--method", "twn"], []):                          # not the budget method
        assert main(["train", "--dataset", "seeds", "--finetune-codes", "keep", "--quiet"] + argv) == 2
        assert "--finetune-codes" in capsys.readouterr().err


@pytest.mark.parametrize("flag,extra,stage,refused", [
    ("--finetune-epochs", [], "budget-finetune", ["--method", "ste", "--bits", "2"]),   # no fine-tuning stage
    ("--retrain-epochs", ["--finetune-epochs", "1"], "budget-retrain", ["--method", "admm-ternary"]),
    ("--prune-epochs", [], "budget-prune", ["--method", "ste", "--bits", "2"]),
])
def test_stage_epochs_options(flag, extra, stage, refused, tmp_path, capsys):
    """--finetune-epochs, --retrain-epochs and --prune-epochs set the budget method's stage
    lengths over the preset (the stage runs that many epochs), and are refused by methods
    without that stage and by the default qnn-admm."""
    path = tmp_path / "b.json"
    assert main(["train", "--dataset", "seeds", "--method", "budget", "--budget", "8x", "--epochs", "5",
                 flag, "2", *extra, "--quiet", "--json", str(path)]) == 0
    rec = json.loads(path.read_text())
    assert rec["params"][flag[2:].replace("-", "_")] == 2
    assert sum(h.get("stage") == stage for h in rec["history"]) == 2
    for argv in (refused, []):
        assert main(["train", "--dataset", "seeds", flag, "2", "--quiet"] + argv) == 2
        assert flag in capsys.readouterr().err


def test_distill_option(tmp_path, capsys):
    """--distill W sets the budget method's distillation weight; other methods refuse it; a
    weight outside [0, 1) is a clear error."""
    path = tmp_path / "b.json"
    assert main(["train", "--dataset", "seeds", "--method", "budget", "--budget", "8x", "--epochs", "3",
                 "--distill", "0.5", "--quiet", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["params"]["distill"] == 0.5
    assert main(["train", "--dataset", "seeds", "--method", "ste", "--bits", "2", "--distill", "0.5", "--quiet"]) == 2
    assert "--distill" in capsys.readouterr().err
    assert main(["train", "--dataset", "seeds", "--method", "budget", "--budget", "8x", "--distill", "1",
                 "--quiet"]) == 2
    assert "distill" in capsys.readouterr().err


def test_distill_teachers_options(tmp_path, capsys):
    """--distill-teachers N sets the budget's teacher count (N - 1 FP networks trained first, in the
    history as fp-teacher); --teachers loads saved FP models into the teacher and sets the count to
    their number + 1; both refused by other methods."""
    path = tmp_path / "b.json"
    common = ["train", "--dataset", "seeds", "--method", "budget", "--budget", "8x", "--epochs", "2",
              "--distill", "0.5", "--quiet", "--json", str(path)]
    assert main(common + ["--distill-teachers", "2"]) == 0
    rec = json.loads(path.read_text())
    assert rec["params"]["distill_teachers"] == 2
    assert sum(h.get("stage") == "fp-teacher" for h in rec["history"]) == 2
    fp = tmp_path / "fp.npz"
    assert main(["train", "--dataset", "seeds", "--method", "fp", "--epochs", "2", "--seed", "5", "--quiet",
                 "--save", str(fp)]) == 0
    assert main(common + ["--teachers", str(fp)]) == 0
    rec = json.loads(path.read_text())
    assert rec["params"]["distill_teachers"] == 2
    assert not any(h.get("stage") == "fp-teacher" for h in rec["history"])
    capsys.readouterr()
    assert main(["train", "--dataset", "seeds", "--method", "ste", "--bits", "2", "--teachers", str(fp),
                 "--quiet"]) == 2
    assert "--teachers" in capsys.readouterr().err
    assert main(["train", "--dataset", "seeds", "--bits", "2", "--distill-teachers", "2", "--quiet"]) == 2
    assert "--distill-teachers" in capsys.readouterr().err
