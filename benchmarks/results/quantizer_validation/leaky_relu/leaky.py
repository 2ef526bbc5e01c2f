"""Scratch (not part of the package; run from the repository root): register leaky ReLU activations, then run
Settings that change the activation get FP phases of their own (same seeds)."""
import math, sys, time
sys.path.insert(0, "benchmarks")
from admmnet.admm import activations as A
import admmnet, admmnet.model as M
names = []
for s in (0.01, 0.05, 0.1, 0.2, 0.3):
    n = f"leaky{s}"
    A.ACTIVATIONS[n] = A.Activation(n, ((-math.inf, 0.0, s, 0.0), (0.0, math.inf, 1.0, 0.0)))
    names.append(n)
M.QNNADMM._RULES["activation"] = ("choice", ("relu", "hardsigmoid", "identity", *names))
import quantizer_validation as qv
from _runs import FPPhases, timed_fit, fit_finished
from admmnet.presets import qnn_admm_params

def run_problem(dataset, seed, fit_rows, real_rows, evals, grid, bits_list):
    fp_kw = qnn_admm_params(dataset, None)
    phases = {}
    def ph(act):
        if act not in phases:
            phases[act] = FPPhases(lambda i: timed_fit(admmnet.QNNADMM(**fp_kw, activation=act, seed=seed + i), *fit_rows))
        return phases[act]
    out = []
    for bits in bits_list:
        for k, cfg in enumerate(grid):
            act = cfg.get("activation", "relu")
            if bits == "fp":
                (q,), seconds = ph(act).first(1)
                out.append({"bits": "fp", "setting": k, "seconds": seconds,
                            **{name: 100 * q.score(*rows) for name, rows in evals.items()}})
                continue
            kw = {**qnn_admm_params(dataset, 1 if bits == "binary" else int(bits)), **cfg}
            n_init = int(kw.get("n_init") or 1)
            fps, _ = ph(act).first(n_init)
            t = time.perf_counter()
            q = fit_finished(admmnet.QNNADMM(**kw, **qv.level_kwargs(bits), seed=seed), *real_rows, fp_model=fps)
            out.append({"bits": str(bits), "setting": k, "seconds": time.perf_counter() - t,
                        **{name: 100 * q.score(*rows) for name, rows in evals.items()}})
    return out
qv.run_problem = run_problem
sys.exit(qv.main(sys.argv[1:]))
