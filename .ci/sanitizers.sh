#!/usr/bin/env bash
# Builds fastcost._core with AddressSanitizer + UndefinedBehaviorSanitizer
# (CMake option FASTCOST_SANITIZE) into a private directory and runs the core
# tests against it. Python itself is not instrumented, so the ASan runtime is
# preloaded; leak checking is off because the interpreter keeps memory at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${FASTCOST_SANITIZE_DIR:-$(mktemp -d)}"
# -O0 with line tables only (-g1): ASan's reports keep function names and lines.
# The Release type keeps link-time optimization on, which here only merges the
# kernel templates that every binding file instantiates, so each is compiled
# once: 3 min on two cores, against 8 min at -O1 (instrumenting the unrolled,
# multiversioned kernels was the long step) and longer without LTO.
# Nothing strips the module (pybind11 strips Release builds, scikit-build-core
# strips on install), so the line tables stay for ASan's reports.
python -m pip install . --no-deps --target "$work/site" \
  -Ccmake.define.FASTCOST_SANITIZE=ON -Cbuild-dir="$work/build" -Ccmake.build-type=Release \
  -Ccmake.define.CMAKE_CXX_FLAGS_RELEASE="-O0 -g1" -Ccmake.define.CMAKE_STRIP=/bin/true \
  -Cinstall.strip=false
asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
if ! readelf -S "$work"/site/fastcost/_core*.so | grep -q debug_line; then
  echo "sanitizer build: the module has no line tables" >&2
  exit 1
fi
# Two processes (pytest-xdist). The wide Gram's regions run at the scaled-down
# geometry; the default one is the same code at 11 times the width (40 s here).
LD_PRELOAD="$asan:$ubsan" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
PYTHONPATH="$work/site" \
  python -m pytest -p no:cacheprovider -q -n 2 \
    tests/test_kernels.py tests/test_linear_model.py tests/test_qr.py tests/test_nist.py \
    --deselect tests/test_kernels.py::test_wide_gram_by_regions_at_its_own_geometry \
    "tests/test_reliability.py::test_fuzz_core_entry_points" \
    "tests/test_reliability.py::test_fuzz_fit_and_predict" \
    "tests/test_reliability.py::test_fits_from_several_threads_match_serial_fits"
