"""The comparison methods (docs/baselines.md), all trained by backpropagation
with :mod:`admmnet.backprop` and all fitted/saved/loaded like :class:`admmnet.QNNADMM`.

=========  ===========  ==================================================================
method     class        what
=========  ===========  ==================================================================
``fp``     FPMLP        full-precision MLP, Adam/SGD, early stopping (fp.py)
``ptq``    PTQ          FP weights projected onto the level set, no retraining (ptq.py)
``ste``    QNNSTE       quantized forward, straight-through backward, latent weights (ste.py)
``dq``     DQ           dynamic int8 inference of the FP network (int8.py)
``qat``    QAT          fake-quantized int8 weights + activations, STE; DQ path (int8.py)
``lq``     LQ           layerwise ADMM quantization of the FP network (lq.py)
=========  ===========  ==================================================================

Ternary methods of the other sources (docs/baselines.md, "Ternary methods"):

================  =============  ===========================================================
method            class          what
================  =============  ===========================================================
``twn``           TWN            Ternary Weight Networks, threshold 0.75 mean|W|, STE (twn.py)
``ttq``           TTQ            Trained Ternary Quantization, learned wp/wn scales (ttq.py)
``admm-ternary``  ADMMTernary    ADMM with the exact ternary projection (admm_ternary.py)
``md-<variant>``  MirrorDescent  mirror descent: tanh, softmax, tanh-s, softmax-s (mirror.py)
================  =============  ===========================================================

``budget``: joint pruning + mixed precision under a model-size budget (Yang et al.; budget.py,
docs/budget.md).
"""
from .fp import FPMLP
from .int8 import DQ, QAT
from .lq import LQ
from .ptq import PTQ
from .ste import QNNSTE
from .twn import TWN
from .ttq import TTQ
from .admm_ternary import ADMMTernary
from .mirror import MirrorDescent
from .budget import Budget

__all__ = ["FPMLP", "PTQ", "QNNSTE", "DQ", "QAT", "LQ", "TWN", "TTQ", "ADMMTernary", "MirrorDescent", "Budget"]
