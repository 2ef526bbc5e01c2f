"""Scratch (not part of the package): benchmarks/quantizer_validation.py with a ``"_cd": k``
pseudo-setting that switches on the output-code coordinate descent of ``cdcodes.py`` (at most k
sweeps). From the repository root:

    python benchmarks/results/quantizer_validation/output_codes/cdrun.py --dataset seeds --splits 10 \
        --bits 1 2 --grid '[{}, {"_cd": 3}, {"_cd": 10}]' --out /tmp/cd
"""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); sys.path.insert(0, "benchmarks")
import cdcodes
import admmnet.admm.solver as S
import admmnet
import quantizer_validation as qv
from _runs import FPPhases, timed_fit, fit_finished
from admmnet.presets import qnn_admm_params
orig = S.refit_output

def run_problem(dataset, seed, fit_rows, real_rows, evals, grid, bits_list):
    fp_kw = qnn_admm_params(dataset, None)
    phases = FPPhases(lambda i: timed_fit(admmnet.QNNADMM(**fp_kw, seed=seed + i), *fit_rows))
    out = []
    for bits in bits_list:
        for k, cfg in enumerate(grid):
            cfg = dict(cfg)
            cdon = cfg.pop("_cd", 0)
            cdcodes.SWEEPS = int(cdon) if cdon else 0
            S.refit_output = cdcodes.refit_output if cdon else orig
            kw = {**qnn_admm_params(dataset, 1 if bits == "binary" else int(bits)), **cfg}
            fps, _ = phases.first(int(kw.get("n_init") or 1))
            t = time.perf_counter()
            q = fit_finished(admmnet.QNNADMM(**kw, **qv.level_kwargs(bits), seed=seed), *real_rows, fp_model=fps)
            out.append({"bits": str(bits), "setting": k, "seconds": time.perf_counter() - t,
                        **{name: 100 * q.score(*rows) for name, rows in evals.items()}})
    S.refit_output = orig
    return out
qv.run_problem = run_problem
sys.exit(qv.main(sys.argv[1:]))
