"""A gradient-based MLP engine in array-API style (no deep-learning framework).

The baselines (:mod:`admmnet.baselines`) train with it; QNN-ADMM does not.

* :mod:`.engine`: forward pass, hand-written backward pass, softmax
  cross-entropy, activation derivatives (samples in columns, docs/method.md).
* :mod:`.optim`: Adam (decoupled weight decay) and SGD with momentum,
  learning-rate schedules.
* :mod:`.trainer`: the mini-batch loop: seeded shuffling, held-out early
  stopping, and an :class:`~.trainer.Objective` whose hooks express
  straight-through quantization (QNN-STE, QAT) and penalties (LQ).
* :func:`init_params`: He/Glorot-uniform initialisation.
* :mod:`.arch`, :mod:`.layers`, :mod:`.conv`: convolutional networks (Conv2d, MaxPool2d,
  Flatten, Dense as a layer list; ``arch="lenet5"``), passed as ``arch=`` to
  :func:`forward`, :func:`backward`, :func:`train` and :func:`evaluate` (docs/cnn.md).
"""
from .engine import activation_grad, backward, distillation_loss, forward, softmax, softmax_cross_entropy
from .optim import OPTIMIZERS, SGD, Adam, lr_at, make_optimizer
from .trainer import Objective, TrainResult, evaluate, logits, train
from .init import init_params

__all__ = ["activation_grad", "backward", "distillation_loss", "forward", "softmax", "softmax_cross_entropy",
           "OPTIMIZERS", "SGD", "Adam", "lr_at", "make_optimizer", "Objective", "TrainResult", "evaluate", "logits",
           "train", "init_params"]
