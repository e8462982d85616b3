#!/usr/bin/env bash
# GPU verification of the CUDA backend (issues 10 and 20), in one run on a
# machine with an NVIDIA H100/H200:
#
#   bash benchmarks/gpu_check.sh RESULTS_DIR            # on the GPU machine
#   bash benchmarks/gpu_check.sh --dry-run RESULTS_DIR  # CPU-only, in CI
#
# Builds fastcost with FASTCOST_CUDA=ON for sm_90 only (in a scratch folder, never
# in RESULTS_DIR), runs the GPU tests (tests/test_cuda.py, tests/test_config.py)
# and the GPU benchmark (benchmarks/bench_gpu.py), and writes six files into
# RESULTS_DIR: bench_gpu.json (the figures), tests_summary.txt, summary.txt and
# the tails of the build, test and benchmark logs. Each phase stops at its time
# limit and keeps what it has; the limits below add up to under 9 minutes.
#
# --dry-run: no GPU, no build. The installed fastcost (a CPU build) runs the same
# test files (their GPU tests skip with "no CUDA device"; the stand-in device
# module of tests/cuda_stand_in.py exercises the Python CUDA path) and the
# benchmark with --stand-in, which checks this script, the benchmark and its JSON
# end to end. Its figures are host timings, not measurements.
set -uo pipefail

# Phase limits in seconds (timeout's grace period included); their sum is checked below.
LIMIT_ENV=40       # nvidia-smi, nvcc --version, the Python imports
LIMIT_INSTALL=45   # only for a missing build tool or baseline (CuPy, PyTorch)
LIMIT_BUILD=200    # pip install . with FASTCOST_CUDA=ON, sm_90 only
LIMIT_TESTS=100    # tests/test_cuda.py and tests/test_config.py
LIMIT_BENCH=120    # benchmarks/bench_gpu.py (sections not started by LIMIT_BENCH - 45 s are skipped)
LIMIT_SUMMARY=15
BUDGET=540         # 9 minutes
worst=$((LIMIT_ENV + LIMIT_INSTALL + LIMIT_BUILD + LIMIT_TESTS + LIMIT_BENCH + LIMIT_SUMMARY))

dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: bash benchmarks/gpu_check.sh [--dry-run] RESULTS_DIR" >&2
  exit 2
fi
if [ "$worst" -ge "$BUDGET" ]; then
  echo "gpu_check: phase limits add up to $worst s, not under $BUDGET s" >&2
  exit 2
fi

REPO="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
RESULTS="$(cd "$1" && pwd)"
case "$RESULTS/" in "$REPO"/build/*|"$REPO"/python/*) echo "RESULTS_DIR must not be inside the build or package tree" >&2; exit 2;; esac
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fastcost-gpu-check.XXXXXX")"  # build tree and full logs: not results
[ $dry = 1 ] && trap 'rm -rf "$WORK"' EXIT  # a dry run keeps nothing outside RESULTS_DIR
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PYTHONUNBUFFERED=1
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
t_start=$(date +%s)
status_build=FAIL status_tests=FAIL status_bench=FAIL
elapsed() { echo $(( $(date +%s) - $1 )); }
# run LIMIT SIGNAL CMD...: the command under timeout, SIGNAL first, KILL 5-10 s later.
run_limited() { local limit=$1 sig=$2; shift 2; timeout -s "$sig" -k 8 $((limit - 8)) "$@"; }

{
  echo "gpu_check $([ $dry = 1 ] && echo "--dry-run ")in $REPO"
  echo "results: $RESULTS   scratch: $WORK"
  echo "phase limits (s): env $LIMIT_ENV, install $LIMIT_INSTALL, build $LIMIT_BUILD, tests $LIMIT_TESTS, bench $LIMIT_BENCH, summary $LIMIT_SUMMARY: worst case $worst s"
} | tee "$RESULTS/summary.txt"

echo "== GPU, toolkit, Python"
if [ $dry = 0 ]; then
  timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
    || { echo "no nvidia-smi: no GPU here (use --dry-run on a CPU-only machine)" | tee -a "$RESULTS/summary.txt"; exit 1; }
  NVCC="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
  [ -x "$NVCC" ] || { echo "no nvcc: install the CUDA toolkit (or set CUDACXX)" | tee -a "$RESULTS/summary.txt"; exit 1; }
  timeout 10 "$NVCC" --version | tail -n 1
fi
missing=$(timeout 15 "$PYTHON" - "$dry" <<'PY'
import importlib.util, sys
dry = sys.argv[1] == "1"
need = ["numpy", "pytest"] + ([] if dry else ["scikit_build_core", "pybind11", "cmake", "cupy", "torch"])
names = {"scikit_build_core": "scikit-build-core", "cupy": "cupy-cuda13x"}
print(" ".join(names.get(m, m) for m in need if importlib.util.find_spec(m) is None))
PY
)
echo "python: $PYTHON; missing: ${missing:-none}"

if [ -n "$missing" ]; then
  echo "== Installing $missing (at most $LIMIT_INSTALL s; baselines that fail to install are reported, not fatal)"
  run_limited "$LIMIT_INSTALL" TERM "$PYTHON" -m pip install -q --retries 0 --timeout 5 $missing \
    >"$WORK/install.log" 2>&1 || echo "could not install all of: $missing (see the benchmark's 'unmeasured')"
fi

if [ $dry = 1 ]; then
  status_build="skipped (dry run)"
  echo "build: $status_build" >"$RESULTS/build_log_tail.txt"
else
  echo "== Build (sm_90 only, in $WORK/build)"
  t0=$(date +%s)
  if CUDACXX="$NVCC" run_limited "$LIMIT_BUILD" TERM "$PYTHON" -m pip install --no-build-isolation --no-deps -q "$REPO" \
       -Ccmake.define.FASTCOST_CUDA=ON -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=90 \
       -Cbuild-dir="$WORK/build" >"$WORK/build.log" 2>&1; then
    status_build=ok
  fi
  echo "build: $status_build in $(elapsed "$t0") s"
  tail -n 60 "$WORK/build.log" >"$RESULTS/build_log_tail.txt"
  [ "$status_build" = ok ] || tail -n 30 "$WORK/build.log"
fi

cd "$WORK"  # import the installed package, never the source tree
if [ "$status_build" != FAIL ]; then
  timeout 30 "$PYTHON" -c "import fastcost; fastcost.show_config()"

  echo "== GPU tests (at most $LIMIT_TESTS s)"
  t0=$(date +%s)
  # SIGINT: pytest stops, prints its summary and writes the JUnit XML with what ran.
  run_limited "$LIMIT_TESTS" INT "$PYTHON" -m pytest -q -rs -p no:cacheprovider \
    --junitxml="$WORK/tests.xml" "$REPO/tests/test_cuda.py" "$REPO/tests/test_config.py" \
    >"$WORK/tests.log" 2>&1
  rc=$?
  tail -n 80 "$WORK/tests.log" >"$RESULTS/tests_log_tail.txt"
  # Counted from the JUnit XML, not from the log's text (a failing test's source
  # can contain any message).
  status_tests=$(timeout 15 "$PYTHON" - "$WORK/tests.xml" "$rc" "$dry" "$RESULTS/tests_summary.txt" <<'PY'
import sys
import xml.etree.ElementTree as ET
path, rc, dry, out = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
lines, status = [], "FAIL"
try:
    cases = list(ET.parse(path).getroot().iter("testcase"))
except (OSError, ET.ParseError) as exc:
    cases = None
    lines.append(f"no JUnit XML ({exc}); pytest exit status {rc}")
if cases is not None:
    passed = failed = 0
    no_device, other_skips, failures = 0, [], []
    for c in cases:
        name = f"{c.get('classname')}::{c.get('name')}"
        skip = c.find("skipped")
        bad = c.find("failure") if c.find("failure") is not None else c.find("error")
        if bad is not None:
            failed += 1
            first = ((bad.get("message") or "").splitlines() or [""])[0]
            failures.append(f"{name}: {first[:200]}")
        elif skip is not None:
            msg = skip.get("message") or ""
            if msg.endswith("no CUDA device"):
                no_device += 1
            else:
                other_skips.append(f"{name}: {msg[:200]}")
        else:
            passed += 1
    lines.append(f"{len(cases)} tests: {passed} passed, {failed} failed, "
                 f"{no_device} skipped for no CUDA device, {len(other_skips)} skipped otherwise; "
                 f"pytest exit status {rc}{' (interrupted at the time limit)' if rc in (2, 124, 130) else ''}")
    lines += ["FAILED " + f for f in failures] + ["SKIPPED " + s for s in other_skips]
    if failed or rc not in (0, 5):
        status = "FAIL"
    elif no_device and not dry:
        status = "skipped (no CUDA device seen by the tests)"
    elif dry:
        status = "ok (dry run: GPU tests skipped)" if no_device else "ok (dry run)"
    else:
        status = "ok"
open(out, "w").write("\n".join(lines) + "\n")
print(status)
PY
) || status_tests=FAIL
  [ -n "$status_tests" ] || status_tests=FAIL
  cat "$RESULTS/tests_summary.txt"
  echo "tests: $status_tests in $(elapsed "$t0") s"

  echo "== GPU benchmark (at most $LIMIT_BENCH s)"
  t0=$(date +%s)
  bench_args=(--out "$RESULTS/bench_gpu.json" --time-limit $((LIMIT_BENCH - 45)))
  [ $dry = 1 ] && bench_args+=(--stand-in)
  run_limited "$LIMIT_BENCH" TERM "$PYTHON" "$REPO/benchmarks/bench_gpu.py" "${bench_args[@]}" >"$WORK/bench.log" 2>&1
  rc=$?
  tail -n 80 "$WORK/bench.log" >"$RESULTS/bench_log_tail.txt"
  [ "$rc" = 0 ] && status_bench=ok
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && status_bench="stopped at $LIMIT_BENCH s (the JSON holds the sections done)"
  echo "benchmark: $status_bench in $(elapsed "$t0") s"
fi

{
  echo
  echo "== Summary ($(elapsed "$t_start") s of at most $worst s)"
  echo "build: $status_build   tests: $status_tests   benchmark: $status_bench"
  [ -f "$RESULTS/tests_summary.txt" ] && head -n 1 "$RESULTS/tests_summary.txt"
  [ -f "$RESULTS/bench_gpu.json" ] && timeout "$LIMIT_SUMMARY" "$PYTHON" - "$RESULTS/bench_gpu.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"device {r['device']['name']}, {r['n']} x {r['d']}" + (" (STAND-IN, not a measurement)" if r["stand_in"] else ""))
for k, v in r.get("correctness_vs_cpu", {}).items():
    print(f"  correctness {k}: {v['max_rel_coef_diff']:.2e}")
for dt in ("float64", "float32"):
    s = r.get(dt, {})
    lg, g = s.get("loss_grad_pass"), s.get("gram_pass")
    if lg and "fraction_of_copy" in lg:
        print(f"  {dt} loss+grad pass: {lg['GBps']:.0f} GB/s = {100 * lg['fraction_of_copy']:.0f}% of D2D copy (target >= 80%)")
    if g:
        syrk = s.get("cublas_syrk")
        print(f"  {dt} Gram pass: {g['GFLOPs']:.0f} GFLOP/s" + (f" vs cuBLAS SYRK {syrk['GFLOPs']:.0f} GFLOP/s" if syrk else " (no cuBLAS baseline)"))
for u in r.get("unmeasured", []):
    print(f"  unmeasured: {u}")
for k, v in r.get("errors", {}).items():
    print(f"  error in {k}: {v}")
PY
} | tee -a "$RESULTS/summary.txt"

case "$status_build|$status_tests|$status_bench" in
  "ok|ok|ok"|"skipped (dry run)|ok (dry run"*"|ok") exit 0;;
  *) exit 1;;
esac
