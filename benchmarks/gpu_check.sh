#!/usr/bin/env bash
# The GPU checks of issue #4 in one run, for a machine with a CUDA GPU and CuPy (the `device`
# tool's machines have CuPy, Numba, NumPy, SciPy and pytest, but no network).
#
# Prepare in the checkout (once; .whl and data/ are ignored by git and travel with `carry`):
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_17_x86_64 -d .whl array-api-compat==1.16.0 array-api-strict==2.6.1
#   mkdir -p data/mnist && cp ../shared/data/mnist/* data/mnist/     # data/ is the loader's cache
#
# then run there:  bash benchmarks/gpu_check.sh   (carry .whl and data; about 5 minutes on an H100)
#
# Under $OUT (default ./gpu_check_out) it writes:
#   tests.log          the CuPy tests: kernels against the reference, the solver and a fit
#                      against the CPU path (they skip without a GPU, so "skipped" there is a failure)
#   kernels.json/.log  benchmarks/kernels.py, Numba and CuPy paths, MNIST 60k, fp and 2 bits:
#                      seconds per iteration on each, the GPU's GEMM rate and roofline fraction
#   cpu.json, gpu.json the same QNN-ADMM MNIST run (full precision, seed 0, ITERS iterations) on
#                      the CPU and on the GPU; summary.txt compares their test accuracy and time
set -u
OUT=${OUT:-$PWD/gpu_check_out}
ITERS=${ITERS:-40}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
unset ADMMNET_DATA                       # read MNIST from the cache under data/
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1

python3 -m pytest -q -rs tests/test_kernels.py -k "cupy or device" > "$OUT/tests.log" 2>&1
echo "tests: exit $?" | tee "$OUT/summary.txt"

python3 benchmarks/kernels.py --no-wide --backends numba,cupy --iters 3 --json "$OUT/kernels.json" \
    > "$OUT/kernels.log" 2>&1
echo "kernels benchmark: exit $?" | tee -a "$OUT/summary.txt"

for dev in cpu gpu; do
    python3 -m admmnet train --dataset mnist --bits fp --iters "$ITERS" --device "$dev" --quiet \
        --json "$OUT/$dev.json" > "$OUT/train-$dev.log" 2>&1
    echo "train on $dev: exit $?" | tee -a "$OUT/summary.txt"
done
python3 - "$OUT" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
out = sys.argv[1]
rows = {}
for dev in ("cpu", "gpu"):
    try:
        rows[dev] = json.load(open(f"{out}/{dev}.json"))
    except (OSError, ValueError) as exc:
        print(f"{dev}: no result ({exc})")
for dev, r in rows.items():
    secs = [h["seconds"] for h in r.get("history", [])]
    med = sorted(secs)[len(secs) // 2] if secs else float("nan")
    print(f"{dev}: test accuracy {r.get('test_accuracy')}, {len(secs)} iterations, "
          f"median {med:.3f} s per iteration, {r.get('seconds', float('nan')):.1f} s in all")
if len(rows) == 2:
    d = 100 * abs(rows["cpu"]["test_accuracy"] - rows["gpu"]["test_accuracy"])
    print(f"|cpu - gpu| test accuracy: {d:.2f} points (target <= 0.2)")
EOF
