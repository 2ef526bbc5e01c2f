"""The QNN-ADMM engine: gradient-free training of the lifted network (docs/method.md).

One module a job:

* :mod:`~admmnet.admm.updates` — the subproblems, one function each: the W-, a-, z- and
  multiplier updates and the G-update (projection onto the level set);
* :mod:`~admmnet.admm.solver` — the solver state and one iteration (the sweeps that call
  the updates in turn), the forward pass and the output refit;
* :mod:`~admmnet.admm.activations` — piecewise-linear activations and their closed-form
  z-updates;
* :mod:`~admmnet.admm.layerwise` — the layerwise quantizer that quantizes a trained FP
  network layer by layer;
* :mod:`~admmnet.admm.budget_g` — the G-update under a model-size budget;
* :mod:`~admmnet.admm.sharded` — an iteration over row shards (the Dask fit).

The estimator that drives them is :class:`admmnet.QNNADMM` (:mod:`admmnet.model`).
"""
