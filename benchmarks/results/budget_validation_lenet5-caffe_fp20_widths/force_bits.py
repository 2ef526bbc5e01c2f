"""Scratch: budget_validation.py with every layer's width fixed (env FORCE_BITS, JSON list)."""
import json, os, sys
sys.path.insert(0, "benchmarks")
import admmnet.quant.budget as QB
FORCE = json.loads(os.environ["FORCE_BITS"])
_orig = QB.budget_project
def patched(Ws, budget, bit_choices=QB.DEFAULT_BIT_CHOICES, quantizer="kmeans", **kw):
    kw.update(bits0=FORCE, max_rounds=0)
    return _orig(Ws, budget, bit_choices, quantizer, **kw)
QB.budget_project = patched
import budget_validation
sys.exit(budget_validation.main(sys.argv[1:]))
