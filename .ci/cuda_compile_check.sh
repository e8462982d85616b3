#!/usr/bin/env bash
# CI without a GPU (issue 10): configure and build the optional CUDA module
# fastcost._cuda with the machine's nvcc, for sm_90 only, and import it: a
# module built without a driver must still import and report "no CUDA device".
# Exits non-zero on any failure. About 40 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

NVCC="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
if [ ! -x "$NVCC" ]; then
  echo "cuda_compile_check: no nvcc found (set CUDACXX or put nvcc on PATH)" >&2
  exit 1
fi
"$NVCC" --version | tail -n 2

BUILD="${FASTCOST_CUDA_BUILD_DIR:-$(mktemp -d /tmp/fastcost-cuda-ci.XXXXXX)}"
start=$(date +%s)
cmake -S . -B "$BUILD" -DFASTCOST_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_COMPILER="$NVCC" -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" \
  -DPython_EXECUTABLE="$(command -v python)" >"$BUILD/configure.log" 2>&1 \
  || { cat "$BUILD/configure.log"; exit 1; }
# Warnings in the kernels are errors (--Werror=all-warnings on the .cu target).
cmake --build "$BUILD" --target _cuda -j "$(nproc)"
echo "cuda_compile_check: built fastcost._cuda in $(( $(date +%s) - start )) s"

# The module imports without a GPU (static CUDA runtime, no libcudart needed).
so=$(ls "$BUILD"/cpp/cuda/_cuda*.so)
python - "$so" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("fastcost._cuda", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
info = mod.runtime_info()
print("cuda_compile_check: import ok;", mod.build_info(), "devices:", len(info["devices"]), info["error"] or "")
PY
