#!/usr/bin/env bash
# Builds fastcost._core with AddressSanitizer + UndefinedBehaviorSanitizer
# (CMake option FASTCOST_SANITIZE) into a private directory and runs the core
# tests against it. Python itself is not instrumented, so the ASan runtime is
# preloaded; leak checking is off because the interpreter keeps memory at exit.
#
#   bash .ci/sanitizers.sh            # build, then test
#   bash .ci/sanitizers.sh build      # only build (FASTCOST_SANITIZE_DIR: where)
#   bash .ci/sanitizers.sh test       # only test what `build` left there
#
# .ci/run builds while the main test suite runs (the build is CPU-bound, the
# suite leaves a core idle much of the time) and tests afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-all}"
case "$phase" in all | build | test) ;; *) echo "usage: $0 [build|test]" >&2; exit 2 ;; esac
if [[ "$phase" != all && -z "${FASTCOST_SANITIZE_DIR:-}" ]]; then
  echo "$0 $phase: set FASTCOST_SANITIZE_DIR to the directory the two phases share" >&2
  exit 2
fi
work="${FASTCOST_SANITIZE_DIR:-$(mktemp -d)}"

if [[ "$phase" != test ]]; then
  # -O1 with line tables only (-g1): ASan's reports keep function names and
  # lines, and the build takes a fraction of RelWithDebInfo's (-O2 -g) time: its
  # full DWARF for the multiversioned kernel templates made the assembler the
  # longest step. Link-time optimization stays (the Release type's default): it
  # generates each template instance once, where -O0 without it took as long.
  python -m pip install . --no-deps --target "$work/site" \
    -Ccmake.define.FASTCOST_SANITIZE=ON -Cbuild-dir="$work/build" -Ccmake.build-type=Release \
    -Ccmake.define.CMAKE_CXX_FLAGS_RELEASE="-O1 -g1"
fi

if [[ "$phase" != build ]]; then
  asan="$(gcc -print-file-name=libasan.so)"
  ubsan="$(gcc -print-file-name=libubsan.so)"
  LD_PRELOAD="$asan:$ubsan" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  PYTHONPATH="$work/site" \
    python -m pytest -p no:cacheprovider -q \
      tests/test_kernels.py tests/test_linear_model.py tests/test_qr.py tests/test_nist.py \
      "tests/test_reliability.py::test_fuzz_core_entry_points" \
      "tests/test_reliability.py::test_fuzz_fit_and_predict" \
      "tests/test_reliability.py::test_fits_from_several_threads_match_serial_fits"
fi
