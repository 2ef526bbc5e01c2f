"""Per-dataset defaults and the automatic preset for data without one.

Every value was chosen on a validation split of the *training* rows (80/20, a
different random split per seed; test rows never steer a choice), by the
measurements recorded in the README ("What makes QNN-ADMM accurate" and the
ablation table). Every entry can be overridden from the CLI or the Python API.

The schedule of a quantized run (since 0.4): full-precision ADMM for all
``max_iter`` iterations (``fp_iter = max_iter``), the output refit of the FP
network, then the gradient-free layerwise quantizer
(:mod:`admmnet.admm.layerwise`) and the quantized output refit. Quantizing from
iteration 0 (the thesis's schedule, ``fp_iter=0``) lost 3-10 points against full
precision. The FP phase of a quantized run is exactly the FP run of
:func:`fp_phase_params` with the same seed; the Seeds and Pendigits FP presets add growing
penalties to it (:data:`FP_OVERRIDES`), which fit the training rows more closely and
quantize worse at 1 bit.
"""
from __future__ import annotations

import math

__all__ = ["TOPOLOGIES", "QNN_ADMM", "AUGMENT", "FP_OVERRIDES", "QUANTIZED_OVERRIDES", "N_INIT", "LOW_BITS_QMAX",
           "LAYERWISE_RHO", "AUTO_SMALL_RIDGE", "AUTO_FP_OVERRIDES", "AUTO_LARGE_SAMPLES", "AUTO_WIDE_SAMPLES",
           "AUTO_WIDTH_FACTOR", "auto_base_width", "qnn_admm_params", "fp_phase_params", "auto_params",
           "LOW_BIT_OVERRIDES", "NETWORK_KEYS"]

# Hidden widths of the thesis's MLPs: Seeds [7,5,5,3], Pendigits [16,12,12,10], MNIST [784,200,200,10].
TOPOLOGIES: dict[str, tuple[int, ...]] = {
    "seeds": (5, 5),
    "pendigits": (12, 12),
    "mnist": (200, 200),
}

# QNN-ADMM estimator keyword arguments per dataset (full precision and the FP phase of
# quantized runs). Validation accuracy (80/20 splits of the training rows) behind each
# choice is in the README's ablation; the main ones:
# * momentum (inertial step) 0.9-0.95: Pendigits FP 97.93 -> 98.50 (refit on, 2 seeds),
#   MNIST FP 95.64 -> 96.15 at 60 iterations (0.9 -> 0.95, ridge 3);
# * refit_output: Pendigits FP 94.63 -> 97.93; on Seeds (168 rows) it only pays with momentum;
# * MNIST at 100 iterations (validation, no refit): ridge 3 / momentum 0.9 95.90,
#   ridge 1 / 0.95 96.95, ridge 0.3 / 0.95 96.95 (more overfit: train 98.87), ridge 1 / 0.97 97.20.
# * MNIST iterations: the most that fit the 2-minute budget of a quantized run on the 2-core
#   machine (about 1.3 s per iteration + 15 s of quantizer and refits); validation (seed 0,
#   benchmarks/mnist_iterations.py, fp / 2 bits / 1 bit): 50 its 96.64 / 96.50 / 95.40,
#   60 its 96.95 / 96.67 / 96.03, 75 its 97.15 / 97.08 / 96.29.
# * Seeds (5-fold cross-validation on the training rows of splits 0-4, 25 folds; mean ± s.e.):
#   FP 94.51 ± 0.58, momentum 0.95 94.52, ridge 0.01 93.67; 1 bit 90.68 ± 1.66, per-row scales
#   91.55 ± 1.05, 60 layerwise iterations 90.68, 30 quantized iterations after the quantizer
#   91.28 ± 1.43: all within one standard error, so the preset stays.
QNN_ADMM: dict[str, dict] = {
    "seeds": dict(max_iter=200, beta=0.01, gamma=0.01, mu=0.01, mu_growth=1.05, ridge=1e-3,
                  forward_reset=1, layer_scale=4.0, momentum=0.9, refit_output=True),
    "pendigits": dict(max_iter=150, beta=0.01, gamma=0.01, mu=1.0, mu_growth=1.1, ridge=0.3,
                      forward_reset=1, layer_scale=4.0, momentum=0.9, refit_output=True),
    "mnist": dict(max_iter=75, beta=0.1, gamma=0.1, mu=60.0, mu_growth=1.25, ridge=1.0,
                  forward_reset=1, layer_scale=10.0, momentum=0.97, refit_output=True),
}

# Distorted copies of the training rows QNN-ADMM trains on, per dataset (``load_dataset(name,
# augment=k, augment_seed=seed)``, what ``admmnet train`` does; Pendigits only: its rows are pen
# trajectories, :func:`admmnet.datasets.pendigits.augment_pendigits`). Pendigits' test digits come
# from 14 writers the training rows never saw, so its validation has two parts, both from the
# training rows only (writer-dependent 80/20 splits of pendigits.tra, seeds 0-2;
# ``python benchmarks/pendigits_validation.py``): the held-out rows as they are, and 3 distorted
# copies of them (a model of unseen writers). FP, (held-out, distorted): no copies, 100
# iterations 98.60 / 90.63; ridge 3 95.80 / 87.28; 2 copies 98.13 / 94.63; 4 copies 98.40 /
# 94.90, with 150 iterations 98.44 / 94.90 (chosen); 9 copies 97.84 / 94.90. A quantized run's
# FP phase trains on the copies, its quantizer (layerwise + output refit) on the real rows
# (``admmnet train`` does both; in Python: ``QNNADMM(bits=b).fit(X_real, y_real, fp_model=fp)``):
# 2 bits 97.27 / 93.11 (quantizing on all rows 96.56 / 93.15; no copies 97.44 / 88.76), 1 bit
# 91.16 / 84.82 (all rows 87.87 / 81.53; no copies 90.96 / 82.23). (The backprop baselines train
# on 19 copies, baseline_presets.AUGMENT.)
AUGMENT: dict[str, int] = {"pendigits": 4}

# Full-precision runs only (``--bits fp``): beta and gamma grow 1.02x per iteration
# (``penalty_growth``) over 300 iterations, long steps first and short ones at the end; the FP
# network then fits its training rows more closely. A quantized preset's FP phase stays
# QNN_ADMM's (:func:`fp_phase_params`): the closer fit quantizes worse at 1 bit. Chosen on
# validation rows (docs/quantized_training.md, "Growing penalties"; ``python
# benchmarks/quantizer_validation.py --dataset seeds|pendigits --bits fp|1 2 --grid ...``):
# Seeds FP (50 folds) +0.71 +- 0.48 (+21 -10); Pendigits FP (writer-dependent splits 0-9,
# held-out / distorted) +0.31 +- 0.10 / +0.71 +- 0.11 (distorted up on all 10); as FP phases,
# 1 bit Seeds -1.60 +- 0.83 (growth 1.02 over 200 iterations) and Pendigits -2.57 +- 1.11 / -2.97
# (splits 0-4).
FP_OVERRIDES: dict[str, dict] = {"seeds": dict(penalty_growth=1.02, max_iter=300),
                                 "pendigits": dict(penalty_growth=1.02, max_iter=300), "mnist": {}}

# Quantized runs: the whole run is the FP phase, then the layerwise quantizer.
_QUANTIZED = dict(layerwise=True)
QUANTIZED_OVERRIDES: dict[str, dict] = {"seeds": dict(_QUANTIZED),
                                        "pendigits": dict(_QUANTIZED, layerwise_equalize="max"),
                                        "mnist": dict(_QUANTIZED)}


# Restarts of low-bit quantized runs on small data (``n_init``): the whole fit (FP phase and
# quantizer) from N_INIT initialisations (seeds seed, seed + 1, ...), the network with the lowest
# training cross-entropy kept (a forward pass per fit; no gradient anywhere). A ternary or 3-bit
# network fitted to a small FP network depends much on which FP network it starts from, and its
# training loss tells the good starts from the bad ones. "Low bits": a level set with largest
# code <= LOW_BITS_QMAX (the thesis's 1 and 2 bits, ternary, binary). Chosen on validation rows
# (README "How the defaults were chosen", docs/quantized_training.md, "Restarts"): Seeds, 5-fold
# cross-validation on the training rows of splits 0-4 (25 folds), 1 bit 92.25 -> 93.32
# (+1.07 +- 0.37 paired, 7 folds better, none worse), 2 bits -0.01 +- 0.29, FP +0.12 (not
# taken for FP); Pendigits (writer-dependent validation splits 0-2, held-out / distorted, init 0
# against the best of 5 by training loss): 1 bit 85.98 / 79.76 -> 93.29 / 86.59, 2 bits
# 96.24 / 92.04 -> 97.56 / 93.33 (docs/quantized_training.md; the same comparison:
# ``benchmarks/quantizer_validation.py --grid '[{"n_init": 1}, {"n_init": 5}]'``). MNIST keeps one: five 75-iteration FP phases would break its 2-minute budget.
N_INIT: dict[str, int] = {"seeds": 5, "pendigits": 5, "mnist": 1}
LOW_BITS_QMAX = 3

# The layerwise quantizer's starting penalty (``layerwise_rho``, relative to the mean eigenvalue
# of a layer's Gram matrix; it grows 1.25x per iteration for 30 iterations): per largest code of
# the level set, else the default. A smaller rho lets V follow the layer's data term (the FP
# pre-activations, refitted on the quantized features below) longer before it is driven onto
# G. Chosen on validation rows, best of 5 restarts each (the preset), every FP phase shared:
# Seeds 5-fold cross-validation on the training rows of splits 0-9 (50 folds), 1 bit (ternary)
# rho 0.1 / 0.01 / 3e-3 / 1e-3 / 3e-4 / 1e-4: 90.88 / 91.60 / 92.02 / 92.61 / 92.56 / 92.07
# (1e-3 against 1e-2: +1.02 +- 0.65 paired), binary 90.23 -> 91.14 (+0.90 +- 0.67), 2 bits
# 93.61 -> 93.98 (+0.37 +- 0.47); Pendigits writer-dependent splits 0-2 (held-out / distorted),
# 1 bit 91.89 / 85.28 -> 92.56 / 85.52, 2 bits 97.44 / 93.19 -> 97.24 / 92.76; MNIST 80/20
# validation splits 0-1 (one start), 1 bit 96.40 -> 96.37, 2 bits 97.08 -> 97.10. So 1e-3 where
# the largest code is 1 and the default 1e-2 elsewhere (2 bits: Seeds and Pendigits disagree).
# (``python benchmarks/quantizer_validation.py --dataset seeds|pendigits|mnist``;
# docs/quantized_training.md, "The layerwise quantizer's penalty".)
LAYERWISE_RHO: dict[int, float] = {1: 1e-3}
LAYERWISE_RHO_DEFAULT = 1e-2

# Cross-layer equalization of the FP network before the layerwise quantizer
# (``layerwise_equalize``, :mod:`admmnet.admm.equalize`; Nagel et al. 2019): a function-preserving
# rescaling of the hidden units so that one scale per layer fits every unit. Chosen on validation
# rows, the preset's FP phases shared (``benchmarks/results/quantizer_validation/equalization``,
# docs/quantized_training.md, "Cross-layer equalization"), paired differences from no
# equalization: Pendigits writer-dependent splits 0-9 (held-out / distorted), 1 bit +1.36 +- 0.51 /
# +1.51 +- 0.58 (8 splits up, 2 down), 2 bits +0.83 +- 0.24 / +0.08; Seeds 50 folds 1 bit -0.05 +-
# 0.64, 2 bits +0.24 +- 0.47; MNIST splits 0-2 1 bit -0.03 +- 0.06, 2 bits -0.01 +- 0.04; the
# automatic preset's pool (benchmarks/auto_preset_validation.py --bits 1) -0.29 +- 0.53 (+8 -9).
# So the Pendigits preset equalizes (QUANTIZED_OVERRIDES); every other preset leaves the parameter
# out and gets this default (``QNNADMM.PRESET_PARAMS``).
LAYERWISE_EQUALIZE = "none"

# The network of a dataset's quantized preset at one level set (keyed by its largest code, 1:
# ternary, and binary, which follows it as for layerwise_rho), FP phase included: Seeds at 1 bit
# uses the leaky ReLU max(z, 0.1 z)
# (:mod:`admmnet.admm.activations`). In a 7-5-5-3 ternary network a ReLU unit the quantizer leaves
# off on every row is lost (32 of 250 single starts on the validation folds had one); a leaky
# unit never is. Chosen on validation rows only: the 50 Seeds folds (5-fold CV on the training
# rows of splits 0-9), the preset's 5 restarts, each setting with FP phases of its own, paired
# against the ReLU: slope 0.1 +0.19 +- 0.51 on the presets' partition (0.01 +0.18, 0.2 -0.12),
# then confirmed on three other partitions of the same rows (``python
# benchmarks/quantizer_validation.py --fold-offset 100|200|300``, scratch
# ``benchmarks/results/quantizer_validation/leaky_relu/leaky.py``): +0.61 / +0.53 / +0.54; over
# the 10 splits (each the mean of its 20 folds) +0.47 +- 0.15, 8 up, 2 down. The ReLU stays
# elsewhere: Seeds FP +0.01 +- 0.33 and Pendigits FP -0.63 with the leaky unit, Seeds 2 bits
# +0.31 +- 0.58 / -0.06 +- 0.43 on two partitions (docs/quantized_training.md, "A leaky network for
# Seeds at 1 bit"). Test (10 seeds): Seeds 1 bit 93.10 -> 93.33.
# On the leaky network the restarts gain more than they did on the ReLU one (10 instead of 5:
# +0.13 +- 0.21 with the ReLU, four partitions), and the layerwise quantizer's iterations with
# them: 10 restarts with 60 iterations (instead of 30) scored against the leaky preset of 5 and
# 30 on the same four partitions of the 50 Seeds folds +0.82 / +1.30 / +0.76 / +0.18, over the 10
# splits +0.76 +- 0.18, all 10 up (10 restarts alone +0.54 +- 0.12; 60 iterations alone +0.09 +-
# 0.12, 5 up, 4 down; ``python benchmarks/pool_partitions.py
# benchmarks/results/quantizer_validation/leaky_base/seeds_1bit_folds{0,100,200,300}.json
# --setting '{"n_init": 10, "layerwise_iter": 60}'``). Only the quantized fit takes these two; its
# FP phases take the network (NETWORK_KEYS, fp_phase_params). Test (10 seeds): 93.33 -> 94.52.
# Not a rule for other data: on the automatic preset's 1-bit pool (benchmarks/
# auto_preset_validation.py, six datasets x 3 splits) 10 restarts with 60 iterations lose -0.94 +-
# 0.38 (+1 -9), the leaky network with them -0.25 +- 0.58, so auto_params keeps 5, 30 and the ReLU.
LOW_BIT_OVERRIDES: dict[str, dict[int, dict]] = {
    "seeds": {1: dict(activation="leaky_relu", n_init=10, layerwise_iter=60)}}

#: The settings of :data:`LOW_BIT_OVERRIDES` that its FP phase takes: the network. The others
#: (restarts, the layerwise quantizer's iterations) are the quantized fit's own.
NETWORK_KEYS = ("activation", "hidden_sizes", "bias")


def _qmax(bits, qmax):
    """The largest code of a quantized run: ``qmax`` when given, else the thesis level set's of
    ``bits`` (2^N - 1); None for full precision or an unknown level set ("q")."""
    if qmax is not None:
        return int(qmax)
    if isinstance(bits, int) and not isinstance(bits, bool):
        return 2 ** bits - 1
    return None


def _finish(out: dict, bits, n_init: int = 1, qmax=None) -> dict:
    out["layerwise_rho"] = LAYERWISE_RHO_DEFAULT
    if bits not in (None, "fp"):
        out.update(_QUANTIZED)
        out["fp_iter"] = out["max_iter"]
        q = _qmax(bits, qmax)
        if q is not None:       # explicit, so that these keyword arguments alone give the preset
            out["n_init"] = n_init if q <= LOW_BITS_QMAX else 1
            out["layerwise_rho"] = LAYERWISE_RHO.get(q, LAYERWISE_RHO_DEFAULT)
    out.setdefault("penalty_growth", 1.0)
    out.setdefault("max_penalty", 1e6)
    return out


def qnn_admm_params(dataset: str, bits=None, *, qmax: int | None = None) -> dict:
    """Estimator keyword arguments for ``dataset`` (and ``bits``): topology plus solver settings.

    ``bits``: None/"fp" (full precision), the thesis bit width N, or "q" (quantized, level set
    not given); ``qmax``: the level set's largest code when it is not the thesis set of ``bits``
    (it decides the restarts, :data:`N_INIT`)."""
    out = _dataset_base(dataset)
    out.update(FP_OVERRIDES[dataset] if bits in (None, "fp") else QUANTIZED_OVERRIDES[dataset])
    out = _finish(out, bits, N_INIT[dataset], qmax)
    out.update(_low_bit_overrides(dataset, bits, qmax))     # after _finish: its restarts win
    return out


def _low_bit_overrides(dataset: str, bits, qmax) -> dict:
    """:data:`LOW_BIT_OVERRIDES` of ``dataset`` at this quantized level set ({} at full precision)."""
    if bits in (None, "fp"):
        return {}
    return dict(LOW_BIT_OVERRIDES.get(dataset, {}).get(_qmax(bits, qmax), {}))


def _dataset_base(dataset: str) -> dict:
    """Topology and QNN_ADMM settings of ``dataset`` (a new dict), or ValueError for an unknown one."""
    if dataset not in TOPOLOGIES:
        raise ValueError(f"no preset for dataset {dataset!r}; known: {sorted(TOPOLOGIES)}")
    return {"hidden_sizes": TOPOLOGIES[dataset], **QNN_ADMM[dataset]}


def fp_phase_params(dataset: str, bits=None, *, qmax: int | None = None) -> dict:
    """The full-precision fit a quantized preset of ``dataset`` starts from (its FP phase: the
    first ``fp_iter = max_iter`` iterations), as estimator keyword arguments of an FP run:
    ``QNNADMM(**fp_phase_params(d)).fit(...)`` passed as ``fp_model`` gives the whole quantized
    fit. It is :func:`qnn_admm_params` ``(dataset, None)`` without :data:`FP_OVERRIDES`, with the
    network of the quantized preset of ``bits`` (``qmax``) where :data:`LOW_BIT_OVERRIDES` gives it
    one (Seeds at 1 bit: the leaky ReLU); ``bits=None``: the ReLU network of every other preset."""
    network = {k: v for k, v in _low_bit_overrides(dataset, bits, qmax).items() if k in NETWORK_KEYS}
    return _finish({**_dataset_base(dataset), **network}, None)


# The automatic preset's ridge under 1,000 samples, chosen on a pool of small datasets that
# neither the dataset presets' tests nor benchmarks/auto_preset.py use (iris; Seeds' training rows;
# 300- and 800-row samples of pendigits.tra; 500 MNIST training images; a 400-row
# make_classification set), stratified 80/20 splits of each, 3 repetitions, mean validation
# accuracy over the pool (FP): ridge 1e-3 (before) 85.27, 0.01 88.37, 0.03 88.60, 0.1 86.87,
# 0.3 85.68; 3 more repetitions: 1e-3 83.92, 0.03 87.98. (Also measured, not taken: mu 0.01 with
# growth 1.05 85.27, 100 iterations 84.92, twice the width 84.13, ridge 0.03 with refit_ridge
# 0.01 87.55.)
AUTO_SMALL_RIDGE = 0.03


# The automatic preset's runs (under 20,000 samples until 2026-12-03, at every size since:
# AUTO_LARGE_SAMPLES below) take the FP presets' growing penalties
# (FP_OVERRIDES of Seeds and Pendigits), checked on the pool of small datasets that chose
# AUTO_SMALL_RIDGE plus 3,000 Pendigits rows and 2,000 MNIST images (``python
# benchmarks/auto_preset_validation.py [--bits B] --grid '[{}, {"penalty_growth": 1.02, "max_iter":
# 300}]'``, 3 splits each, 24 problems; mean validation accuracy, paired difference): full
# precision 90.84 -> 91.45 (+0.61 +- 0.36, 9 problems up, 3 down); as the FP phase of quantized
# runs (since 2026-12-03; before, only FP runs took them, as in the Seeds and Pendigits presets),
# 8 bits 90.84 -> 91.45 (+0.61 +- 0.36, +9 -3), 2 bits 90.80 -> 91.33 (+0.52 +- 0.42, +13 -2),
# 1 bit 89.33 -> 90.02 (+0.69 +- 0.56, +13 -5) (benchmarks/results/auto_preset_validation/
# fp_phase_growth/). Unlike Seeds' and Pendigits' own quantized presets, whose validation rows
# lost with them at 1 bit (FP_OVERRIDES), the pool gains at every width, so a quantized run's FP
# phase is the FP run itself.
AUTO_FP_OVERRIDES = dict(penalty_growth=1.02, max_iter=300)


# From AUTO_LARGE_SAMPLES samples the automatic preset keeps the small-data settings above and
# doubles its hidden widths (at most 200; since, from AUTO_WIDE_SAMPLES, below). Until 2026-12-03
# it switched there to MNIST's preset (75 iterations at fixed penalties, beta = gamma = 0.1,
# layer_scale 10), chosen for MNIST's [0, 1] pixels: on standardised tabular data it underfit (a
# 40,000-row make_classification set, 5 classes: 65% test against backprop's 84% on the same
# network). Chosen on validation rows of
# four problems of 24,000-30,000 rows that no preset was made on (two make_classification sets,
# pendigits.tra with 4 distorted copies, 24,000 MNIST training images; ``python
# benchmarks/auto_preset_large.py --grid ...``, benchmarks/results/auto_preset_large/): FP
# validation % before / the small-data settings at half today's width (the old width, MNIST 100) /
# today: 65.42 / 74.10 / 83.20, 45.67 / 62.77 / 77.89, Pendigits 99.00 / 99.33 / 99.53 (distorted
# copies 96.76 / 97.64 / 97.87), MNIST 97.10 / 97.08 / 97.43; 2 bits before / today 61.02 / 76.67,
# 40.05 / 69.15, 98.40 / 99.27 (95.71 / 97.22), MNIST 97.00 / 96.98; 1 bit 54.75 / 67.07,
# 32.19 / 52.40, 92.73 / 97.47 (88.38 / 94.91), MNIST 96.25 / 96.70 (README "How the defaults were
# chosen", docs/quantized_training.md "From 20,000 rows").
AUTO_LARGE_SAMPLES = 20000
# The doubled widths (AUTO_WIDTH_FACTOR times the rule's) start at AUTO_WIDE_SAMPLES rows: from
# 5,000 since the change above, from 1,000 since a second measurement the same day. Between
# 5,000 and 20,000 rows (a scratch run, benchmarks/results/auto_preset_large/mid_size.py and
# mid_size.jsonl; FP / 2 bits, the width before -> twice it): a 12,000-row make_classification set
# on 7,200 rows 73.50 -> 79.28 / 67.94 -> 75.22, a 50-feature set on 18,000 rows 61.47 -> 73.49 /
# 49.71 -> 66.93, Pendigits' 5,994 real rows 99.47 / 92.51 -> 99.47 / 93.11 (2 bits 99.07 / 92.22 ->
# 99.20 / 93.31), 8,000 MNIST images 95.65 -> 95.40 / 94.70 -> 95.20. Between 1,000 and 5,000 rows
# (small_mid.py and small_mid.md beside it, 2 validation splits each, FP / 2 / 1 bits): three
# make_classification sets of 1,200-3,600 fitting rows +4.7 to +13.1 at FP, +2.4 to +12.4 at
# 2 bits, +2.9 to +11.4 at 1 bit; scikit-learn's digits (1,149 rows) +0.00 / +0.52 / -0.53;
# 3,000 Pendigits rows +0.10 / +0.03 / +1.17 (distorted rows +0.14 / +0.51 / +2.43); 3,000 MNIST
# images (178 -> 200 units) +0.48 / -0.05 / +0.30: 15 cells of 18 up, 2 down. On the pool that
# chose AUTO_SMALL_RIDGE (``python benchmarks/auto_preset_validation.py [--bits B] --grid '[{},
# {"_width": 2}]' --out benchmarks/results/auto_preset_validation/width2``, 3 splits each; at 1 bit
# without the two MNIST sets) its two datasets of 1,000 rows and more are level or gain (FP /
# 2 bits: 2,400 Pendigits rows -0.17 / +0.44, 1,600 MNIST images +0.17 / +0.50; 1 bit, Pendigits,
# +1.61), while those under 1,000 lose as often as they gain: FP iris -1.11, blobs -1.27, 240
# Pendigits rows +0.56, the others level; 2 bits iris +1.11, blobs -0.84, 240 / 640 Pendigits rows
# -0.56 / -0.42, 400 MNIST images -1.33, Seeds level. (At 1 bit the small ones gain, blobs +7.2,
# 240 Pendigits rows +1.7, 640 -0.8, iris and Seeds level; not taken: a quantized run's FP phase
# is the FP run, whose width is the same at every bit width.)
AUTO_WIDE_SAMPLES = 1000
AUTO_WIDTH_FACTOR = 2


def auto_base_width(n_features: int, n_classes: int) -> int:
    """The automatic preset's hidden width before its :data:`AUTO_WIDE_SAMPLES` doubling:
    ``clip(2 * round(sqrt(n_features * n_classes)), 8, 200)``, at least ``2 n_classes``."""
    return int(min(200, max(8, 2 * n_classes, 2 * round(math.sqrt(n_features * n_classes)))))


def auto_params(n_samples: int, n_features: int, n_classes: int, bits=None, *, qmax: int | None = None,
                fp_phase: bool = False) -> dict:
    """The automatic preset: estimator keyword arguments from the shape of the data alone.

    Rules (read off the three dataset presets, which were chosen on validation
    splits; the scikit-learn datasets of ``benchmarks/auto_preset.py`` were not
    used to make them):

    * two hidden layers of width ``clip(2 * round(sqrt(n_features * n_classes)), 8, 200)``,
      at least ``2 n_classes`` (shapes like Seeds 7x3 -> 10, Pendigits 16x10 -> 26, MNIST -> 178);
      from :data:`AUTO_WIDE_SAMPLES` (1,000) samples twice that, at most 200;
    * the small-data settings of Seeds and Pendigits at every size (beta = gamma = 0.01,
      layer_scale 4, ridge 0.3, momentum 0.9; under 1,000 samples ridge 0.03,
      :data:`AUTO_SMALL_RIDGE`, chosen on a pool of small datasets). Until 2026-12-03 the preset
      took MNIST's from 20,000 samples (beta = gamma = 0.1, layer_scale 10, ridge 1, momentum
      0.97, 75 iterations), which underfit tabular data (:data:`AUTO_LARGE_SAMPLES`);
    * the output refit on, forward reset every iteration, and for quantized runs the
      FP phase of every iteration followed by the layerwise quantizer;
    * under 20,000 samples, low-bit quantized runs (largest code <= 3) keep the best of
      5 restarts by training loss, as the Seeds and Pendigits presets (:data:`N_INIT`); from
      20,000 one start (a large fit's cost);
    * beta and gamma grow 1.02x per iteration over 300 iterations
      (:data:`AUTO_FP_OVERRIDES`, as the Seeds and Pendigits FP presets), in full-precision runs
      and in the FP phase of quantized ones alike: a quantized run's FP phase is the FP run.

    ``bits`` and ``qmax`` as in :func:`qnn_admm_params`. ``fp_phase=True``: the full-precision
    run that is a quantized run's FP phase (``bits`` aside; the same as ``bits=None``).
    """
    for name, v in (("n_samples", n_samples), ("n_features", n_features), ("n_classes", n_classes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    large = n_samples >= AUTO_LARGE_SAMPLES
    width = auto_base_width(n_features, n_classes)
    width = int(min(200, AUTO_WIDTH_FACTOR * width if n_samples >= AUTO_WIDE_SAMPLES else width))
    out = dict(beta=0.01, gamma=0.01, mu=1.0, mu_growth=1.1, ridge=0.3, forward_reset=1,
               layer_scale=4.0, momentum=0.9, refit_output=True, **AUTO_FP_OVERRIDES)
    if n_samples < 1000:           # Seeds-sized: a light ridge
        out.update(ridge=AUTO_SMALL_RIDGE)
    n_init = N_INIT["mnist"] if large else N_INIT["pendigits"]
    return _finish({"hidden_sizes": (width, width), **out}, None if fp_phase else bits, n_init, qmax)
