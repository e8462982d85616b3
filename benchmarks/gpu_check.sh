#!/usr/bin/env bash
# GPU verification of the CUDA backend (issue 10), for a machine with an NVIDIA
# GPU: builds fastcost with FASTCOST_CUDA=ON for sm_90 only (H100/H200), runs
# the GPU tests (tests/test_cuda.py: GPU vs CPU backend) and the GPU benchmark
# (benchmarks/bench_gpu.py: CuPy / PyTorch baselines, bandwidth and GFLOP/s),
# then prints a summary. Budget: well under 10 minutes (the build takes about
# 1 minute, the tests 1-2, the benchmark 2-3). Usage: bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
OUT="${OUT:-/tmp/fastcost-gpu-check}"
mkdir -p "$OUT"
t_start=$(date +%s)
status_build=FAIL status_tests=FAIL status_bench=FAIL

echo "== GPU and toolkit"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || { echo "no nvidia-smi: no GPU here"; exit 1; }
NVCC="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
[ -x "$NVCC" ] || { echo "no nvcc: install the CUDA toolkit (or set CUDACXX)"; exit 1; }
"$NVCC" --version | tail -n 1
# The module links the CUDA runtime statically: the driver must support nvcc's CUDA version.
driver_cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: \([0-9.]*\).*/\1/p' | head -n 1)
echo "driver supports CUDA ${driver_cuda:-?}"

echo "== Python packages (optional baselines; failures to install are reported, not fatal)"
python -m pip install -q scikit-build-core pybind11 cmake pytest hypothesis >/dev/null 2>&1 || echo "could not install build/test tools"
cuda_major=${driver_cuda%%.*}
python -c "import cupy" 2>/dev/null || python -m pip install -q "cupy-cuda${cuda_major:-12}x" >/dev/null 2>&1 \
  || echo "could not install cupy-cuda${cuda_major:-12}x: CuPy baselines will be skipped"
python -c "import torch" 2>/dev/null || python -m pip install -q torch >/dev/null 2>&1 \
  || echo "could not install torch: the PyTorch baseline will be skipped"

echo "== Build (sm_90 only)"
t0=$(date +%s)
if CUDACXX="$NVCC" timeout 300 python -m pip install --no-build-isolation --no-deps -q . \
     -Ccmake.define.FASTCOST_CUDA=ON -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=90 \
     -Cbuild-dir="$OUT/build" >"$OUT/build.log" 2>&1; then
  status_build=ok
else
  tail -n 40 "$OUT/build.log"
fi
echo "build: $status_build in $(( $(date +%s) - t0 )) s"

cd "$OUT"  # import the installed package, not the source tree
if [ "$status_build" = ok ]; then
  python -c "import fastcost; fastcost.show_config()"
  echo "== GPU tests"
  t0=$(date +%s)
  set +e
  timeout 240 python -m pytest -q -p no:cacheprovider "$OLDPWD/tests/test_cuda.py" "$OLDPWD/tests/test_config.py" \
    >"$OUT/tests.log" 2>&1
  rc=$?
  set -e
  tail -n 25 "$OUT/tests.log"
  [ "$rc" = 0 ] && status_tests=ok
  grep -q "no CUDA device" "$OUT/tests.log" && { echo "WARNING: GPU tests skipped: no CUDA device seen"; status_tests=skipped; }
  echo "tests: $status_tests in $(( $(date +%s) - t0 )) s"

  echo "== GPU benchmark"
  t0=$(date +%s)
  set +e
  timeout 240 python "$OLDPWD/benchmarks/bench_gpu.py" --out "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] && status_bench=ok
  echo "benchmark: $status_bench in $(( $(date +%s) - t0 )) s"
fi

echo
echo "== Summary ($(( $(date +%s) - t_start )) s)"
echo "build: $status_build   tests: $status_tests   benchmark: $status_bench"
[ -f "$OUT/tests.log" ] && tail -n 1 "$OUT/tests.log"
[ -f "$OUT/bench_gpu.json" ] && python - "$OUT/bench_gpu.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"device {r['device']}, {r['n']} x {r['d']}")
for k, v in r.get("correctness_vs_cpu", {}).items():
    print(f"  correctness {k}: {v:.2e}")
for dt in ("float64", "float32"):
    lg, g = r.get(f"loss_grad_{dt}"), r.get(f"gram_{dt}")
    if lg:
        print(f"  {dt} loss+grad: {lg['GBps']:.0f} GB/s = {100 * lg['fraction_of_copy']:.0f}% of D2D copy (target >= 80%)")
    if g:
        print(f"  {dt} Gram: {g['GFLOPs']:.0f} GFLOP/s vs cuBLAS GEMM {g['cublas_GFLOPs']:.0f} GFLOP/s")
PY
[ "$status_build$status_tests$status_bench" = okokok ]
