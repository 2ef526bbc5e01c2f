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
# Steps, each under its own time limit so that a hung step still leaves the others' output:
#   tests      the CuPy tests: kernels against the reference, the solver and a fit against the
#              CPU path (they skip without a GPU, so "skipped" there is a failure)
#   kernels    benchmarks/kernels.py, Numba and CuPy paths, MNIST 60k, fp and 2 bits, both
#              networks: seconds per iteration on each, the GPU's GEMM rate, roofline fraction
#   train      the same QNN-ADMM MNIST run (seed 0, the preset) on the CPU and on
#              the GPU, full precision and 2 bits; test accuracy and time of each
#   cnn        benchmarks/cnn_speed.py --device gpu: one LeNet-5 epoch over MNIST's 60,000 images
#              (the backprop engine on CuPy arrays), per-layer GFLOP/s against CuPy's SGEMM
# Everything is written to a work folder and packed after every step into $OUT/gpu_check.tgz
# (with summary.txt beside it), so what came back is always whole. OUT defaults to ./gpu_check_out.
set -u
OUT=${OUT:-$PWD/gpu_check_out}
WORK=$(mktemp -d)
mkdir -p "$OUT"
pack() { tar czf "$OUT/gpu_check.tgz.part" -C "$WORK" . && mv "$OUT/gpu_check.tgz.part" "$OUT/gpu_check.tgz"
         cp "$WORK/summary.txt" "$OUT/summary.txt" 2>/dev/null; }
say() { echo "[$SECONDS s] $*" | tee -a "$WORK/summary.txt"; }

if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
unset ADMMNET_DATA                       # read MNIST from the cache under data/
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; python3 -c "
import sys, numpy, scipy, numba, cupy, array_api_compat
print(sys.version.split()[0], 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'numba', numba.__version__,
      'cupy', cupy.__version__, 'array_api_compat', array_api_compat.__version__)
print('CUDA runtime', cupy.cuda.runtime.runtimeGetVersion(), 'devices', cupy.cuda.runtime.getDeviceCount())"
} > "$WORK/env.txt" 2>&1
cat "$WORK/env.txt" >> "$WORK/summary.txt"
pack

timeout 150 python3 -m pytest -q -rs -p no:cacheprovider tests/test_kernels.py -k "cupy or device" \
    > "$WORK/tests.log" 2>&1
say "tests: exit $? ($(tail -n 1 "$WORK/tests.log"))"
pack

timeout 200 python3 benchmarks/kernels.py --backends numba,cupy --iters 3 --profile --json "$WORK/kernels.json" \
    > "$WORK/kernels.log" 2>&1
say "kernels benchmark: exit $?"
pack

for bits in fp 2; do
    for dev in cpu gpu; do
        if [ "$SECONDS" -gt "${TRAIN_DEADLINE:-460}" ]; then say "train $bits on $dev: skipped (time)"; continue; fi
        timeout 100 python3 -m admmnet train --dataset mnist --bits "$bits" --device "$dev" --quiet \
            --json "$WORK/train-$bits-$dev.json" > "$WORK/train-$bits-$dev.log" 2>&1
        say "train $bits on $dev: exit $?"
        pack
    done
done
if [ "$SECONDS" -gt "${CNN_DEADLINE:-420}" ]; then
    say "cnn: skipped (time)"
else
    timeout 150 python3 benchmarks/cnn_speed.py --device gpu --json "$WORK/cnn_speed-gpu.json" \
        > "$WORK/cnn_speed-gpu.log" 2>&1
    say "cnn (LeNet-5 epoch on the GPU): exit $? ($(grep -m1 '^epoch' "$WORK/cnn_speed-gpu.log"))"
fi
pack
python3 - "$WORK" <<'EOF' | tee -a "$WORK/summary.txt"
import json, sys
work = sys.argv[1]
for bits in ("fp", "2"):
    rows = {}
    for dev in ("cpu", "gpu"):
        try:
            rows[dev] = json.load(open(f"{work}/train-{bits}-{dev}.json"))
        except (OSError, ValueError) as exc:
            print(f"{bits} {dev}: no result ({exc})")
    for dev, r in rows.items():
        secs = [h["seconds"] for h in r.get("history", [])]
        med = sorted(secs)[len(secs) // 2] if secs else float("nan")
        print(f"{bits} {dev}: test accuracy {r.get('test_accuracy')}, {len(secs)} iterations, "
              f"median {med:.3f} s per iteration, {r.get('seconds', float('nan')):.1f} s in all")
    if len(rows) == 2:
        d = 100 * abs(rows["cpu"]["test_accuracy"] - rows["gpu"]["test_accuracy"])
        print(f"{bits} |cpu - gpu| test accuracy: {d:.2f} points (target <= 0.2)")
EOF
pack
