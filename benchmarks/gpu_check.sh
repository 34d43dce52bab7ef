#!/usr/bin/env bash
# minigrad on a real NVIDIA GPU, in one command: install, test, time. Most of its time is
# the first install; it stops after GPU_CHECK_BUDGET seconds (480), each step under its
# own time limit.
#
#     bash benchmarks/gpu_check.sh
#
# 1. Where nvidia-smi is missing or finds no GPU, it says "no GPU" and exits 0.
# 2. It makes a virtual environment ($GPU_CHECK_VENV, default /tmp/minigrad-gpu-venv, kept
#    for the next run) and installs this checkout into it with the gpu and dev extras:
#    CuPy 14 with its CUDA libraries from PyPI, so the NVIDIA driver is all the machine needs.
# 3. It asks minigrad whether it can run a kernel on the GPU, and stops (exit 1) with the
#    reason when it cannot.
# 4. It runs every test that involves CuPy or CUDA (pytest -k "cupy or cuda"): the
#    device-parametrized tests run their "cupy" case on the real GPU.
# 5. It times one CNN epoch (minigrad train --model cnn --epochs 1 --limit $GPU_CHECK_LIMIT)
#    on cuda and on cpu, when Fashion-MNIST is here or can be downloaded, and one training
#    step of each benchmark workload on both (benchmarks/gpu_times.py), and prints one table.
#
# It writes only to the virtual environment, a temporary folder (removed at the end), the
# checkout's minigrad.egg-info (the editable install), datasets/ (a download) and CuPy's
# kernel cache (~/.cupy). Exit code: 0 when every step passed or there is no GPU, else 1.
set -uo pipefail

# Before anything else, and with shell builtins only: is there a GPU at all?
if ! command -v nvidia-smi >/dev/null 2>&1 || ! gpus=$(timeout 20 nvidia-smi -L 2>/dev/null) \
        || [[ $gpus != *GPU* ]]; then
    echo "gpu_check: no GPU (nvidia-smi is missing or finds no NVIDIA GPU); nothing to check"
    exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
VENV=${GPU_CHECK_VENV:-/tmp/minigrad-gpu-venv}
LIMIT=${GPU_CHECK_LIMIT:-20000}  # training images in the timed CNN epoch
DEADLINE=$((SECONDS + ${GPU_CHECK_BUDGET:-480}))
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
failed=0

# limited SECONDS COMMAND...: run COMMAND for at most SECONDS, and never past the deadline.
limited() {
    local seconds=$1 left=$((DEADLINE - SECONDS))
    shift
    ((left < seconds)) && seconds=$left
    if ((seconds < 10)); then
        echo "gpu_check: out of time (GPU_CHECK_BUDGET), skipped: $*" >&2
        return 124
    fi
    timeout --kill-after=10 "$seconds" "$@"
}

# step NAME: print a heading for the next step.
step() { echo; echo "== gpu_check: $1 ($((SECONDS))s so far)"; }

step "installing minigrad[gpu,dev] into $VENV"
if [[ ! -x $VENV/bin/python ]] && ! limited 120 python3 -m venv "$VENV"; then
    echo "gpu_check: cannot make a virtual environment with python3 (Debian/Ubuntu: apt install python3-venv)"
    exit 1
fi
PY=$VENV/bin/python
if ! limited 300 "$PY" -m pip install --quiet -e ".[gpu,dev]"; then
    echo "gpu_check: installing minigrad with the gpu and dev extras failed (see pip's error above)"
    exit 1
fi

step "can minigrad run a kernel on the GPU?"
if ! limited 120 "$PY" - <<'PY'; then
import sys
from minigrad import backend
why = backend.why_cuda_is_unavailable()
if why is not None:
    sys.exit(f"gpu_check: there is a GPU, but minigrad cannot use it: {why}")
import cupy
print(f"yes: CuPy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, "
      f"{cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}")
PY
    exit 1
fi

step "tests on the GPU (pytest -k \"cupy or cuda\")"
limited 300 "$PY" -m pytest -n 4 -p no:cacheprovider -q -rfEs -k "cupy or cuda" tests 2>&1 | tee "$WORK/tests.log"
tests_code=${PIPESTATUS[0]}
((tests_code == 0)) || failed=1
tests_summary=$(tail -n 1 "$WORK/tests.log")

# cnn_epoch DEVICE [LIMIT]: train the CNN for one epoch on DEVICE; print the seconds the
# training epoch took (from metrics.json), or "failed".
cnn_epoch() {
    local device=$1 limit=${2:-$LIMIT} out="$WORK/cnn-$1-${2:-$LIMIT}"
    if limited 180 "$VENV/bin/minigrad" train --model cnn --epochs 1 --limit "$limit" --test-limit 1000 \
            --device "$device" --out "$out" >"$out.log" 2>&1; then
        "$PY" -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["epochs"][0]["seconds"], 2))' \
            "$out/metrics.json"
    else
        echo "gpu_check: the CNN epoch on $device failed; the end of its output:" >&2
        tail -n 5 "$out.log" >&2
        echo "failed"
    fi
}

step "one CNN epoch on $LIMIT images, on cuda and on cpu"
if limited 90 "$PY" -c "from minigrad import datasets; datasets.fashion_mnist(train=True); \
datasets.fashion_mnist(train=False)" >"$WORK/data.log" 2>&1; then
    cnn_epoch cuda 256 >/dev/null  # compiles the GPU kernels, so that the timed epoch does not
    cuda_epoch=$(cnn_epoch cuda)
    cpu_epoch=$(cnn_epoch cpu)
    [[ $cuda_epoch == failed || $cpu_epoch == failed ]] && failed=1
else
    echo "gpu_check: no Fashion-MNIST here and no download (set MINIGRAD_DATA, or install the"
    echo "Debian/Ubuntu package dataset-fashion-mnist); the CNN epoch is skipped"
    cuda_epoch="skipped (no data)" cpu_epoch="skipped (no data)"
fi
echo "cuda: $cuda_epoch s, cpu: $cpu_epoch s"

step "the benchmark workloads' training step, on cuda and on cpu"
limited 240 "$PY" benchmarks/gpu_times.py --row "CNN epoch, $LIMIT images (s)" "$cuda_epoch" "$cpu_epoch" \
    >"$WORK/table.md"
times_code=$?
((times_code == 0)) || failed=1

echo
echo "== gpu_check: results ($((SECONDS))s)"
echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)"
echo "tests on the GPU (pytest -k \"cupy or cuda\"): $tests_summary"
if [[ -s $WORK/table.md ]]; then
    cat "$WORK/table.md"
else
    echo "the workload timings failed (exit $times_code, see above); CNN epoch: cuda $cuda_epoch s, cpu $cpu_epoch s"
fi
exit "$failed"
