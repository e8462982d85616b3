#!/usr/bin/env bash
# Release build on a Linux host without containers: sdist and wheel from a clean
# clone of the committed tree (so an untracked file can't make the sdist look
# complete), the wheel built from that sdist, repaired with auditwheel (grafts
# libgomp into fastcost.libs/), then checked for build paths, RPATHs and -march.
#
#   tools/build_wheels.sh [OUTDIR]      # default: /tmp/fastcost-wheels
#
# Needs: git, build, auditwheel, patchelf, readelf. The manylinux tag is whatever
# this host's glibc and libgomp allow (manylinux_2_34 on Debian 12); the release
# wheels for older glibc come from cibuildwheel (see docs/packaging.md).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/fastcost-wheels}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out"
git clone --quiet "$repo" "$work/src"

# python -m build makes the sdist, then builds the wheel from the unpacked sdist.
# The build directory lives outside the source so the tree stays clean.
(cd "$work/src" && python -m build --outdir "$work/dist" \
  -Cbuild-dir="$work/build" \
  -Ccmake.define.CMAKE_EXPORT_COMPILE_COMMANDS=ON)

auditwheel repair --plat auto --wheel-dir "$out" "$work"/dist/*.whl
cp "$work"/dist/*.tar.gz "$out"/

wheel=$(ls "$out"/*.whl)
auditwheel show "$wheel"
python "$repo/tools/check_wheel.py" "$wheel" \
  --forbid "$work" --forbid "$repo" \
  --compile-commands "$work/build/compile_commands.json"
ls -l "$out"
