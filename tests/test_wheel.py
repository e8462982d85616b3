"""The wheel as users get it: built once per session, repaired, installed into a fresh
virtual environment with no compiler on PATH, and fitted there.

Slow (one C++ build) but part of every CI run: it is the only test that sees
fastcost the way a ``pip install`` from an index does. The build is the release
build's configuration with the optimizer off (``-O0``, no link-time optimization):
what this file checks (tags, bundled libraries, paths, flags, a fit in a fresh
environment) does not depend on it, and the build takes 76 s instead of 232 s
on two cores. The optimized module is the one the rest of the suite runs.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
LINUX = sys.platform.startswith("linux")
QUIET_PIP = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    build_dir: Path
    work: Path


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> BuiltWheel:
    work = tmp_path_factory.mktemp("wheel")
    build_dir = work / "build"
    # No build isolation: the build backend and pybind11 come from the test
    # environment (the `test` extra), so the test needs no index to reach.
    _run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(work / "dist"), f"-Cbuild-dir={build_dir}",
         "-Ccmake.define.CMAKE_EXPORT_COMPILE_COMMANDS=ON",
         "-Ccmake.define.CMAKE_CXX_FLAGS_RELEASE=-O0 -DNDEBUG",
         "-Ccmake.define.CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF"],
        env={**os.environ, **QUIET_PIP},
    )  # fmt: skip
    (wheel,) = (work / "dist").glob("fastcost-*.whl")
    if LINUX:
        _run([sys.executable, "-m", "auditwheel", "repair", "--plat", "auto",
              "--wheel-dir", str(work / "repaired"), str(wheel)])  # fmt: skip
        (wheel,) = (work / "repaired").glob("fastcost-*.whl")
    return BuiltWheel(wheel, build_dir, work)


def _source_version() -> str:
    text = (REPO / "python" / "fastcost" / "_version.py").read_text()
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert match, "_version.py must assign __version__ a string literal"
    return match.group(1)


def _wheel_metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(name).decode()


def test_wheel_version_comes_from_version_file(built_wheel):
    metadata = _wheel_metadata(built_wheel.path)
    assert re.search(r"^Version: (.+)$", metadata, re.MULTILINE).group(1) == _source_version()
    assert built_wheel.path.name.startswith(f"fastcost-{_source_version()}-")


@pytest.mark.skipif(not LINUX, reason="auditwheel and ELF checks apply to Linux wheels")
def test_linux_wheel_is_manylinux_and_bundles_libgomp(built_wheel):
    assert "manylinux" in built_wheel.path.name
    with zipfile.ZipFile(built_wheel.path) as zf:
        names = zf.namelist()
    assert any(re.fullmatch(r"fastcost\.libs/libgomp-[0-9a-f]+\.so[.0-9]*", n) for n in names)


def test_wheel_has_no_build_paths_rpaths_or_march(built_wheel):
    _run([sys.executable, str(REPO / "tools" / "check_wheel.py"), str(built_wheel.path),
          "--forbid", str(built_wheel.work),
          "--compile-commands", str(built_wheel.build_dir / "compile_commands.json")])  # fmt: skip


def _dependency_dirs(requires: list[str]) -> list[Path]:
    """Top-level entries (packages, modules, vendored .libs, dist-info) in the current
    environment of every distribution the wheel needs at run time, transitively."""
    seen: set[str] = set()
    entries: set[Path] = set()
    todo = list(requires)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        seen.add(key)
        dist = importlib.metadata.distribution(req.name)
        assert dist.files, f"{req.name} has no RECORD: cannot tell which files are its own"
        for file in dist.files:
            top = file.parts[0]
            if top not in ("..", "__pycache__"):
                entries.add(Path(dist.locate_file(top)))
        todo += dist.requires or []
    return sorted(entries)


def test_wheel_works_in_fresh_venv_without_build_tools(built_wheel, tmp_path):
    venv = tmp_path / "venv"
    # --without-pip: the venv gets nothing but the interpreter; the host's pip
    # installs into it with --python.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
          "--no-deps", str(built_wheel.path)], env={**os.environ, **QUIET_PIP})  # fmt: skip

    # The run-time dependencies (numpy, scipy, ...) come from this environment
    # through links to exactly their files, so the venv never sees the fastcost
    # installed here (or the source tree's) and no index is needed.
    deps = tmp_path / "deps"
    deps.mkdir()
    requires = re.findall(r"^Requires-Dist: (.+)$", _wheel_metadata(built_wheel.path), re.M)
    for entry in _dependency_dirs(requires):
        assert entry.name.split("-")[0].split(".")[0] != "fastcost"
        (deps / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   env={"PATH": str(bindir)}).stdout.strip()  # fmt: skip
    (Path(purelib) / "_host_dependencies.pth").write_text(f"{deps}\n")

    # PATH is the venv's bin only: no compiler, CMake or Ninja to fall back on.
    env = {"PATH": str(bindir), "HOME": str(tmp_path)}
    for tool in ("gcc", "g++", "cc", "c++", "clang", "cmake", "ninja"):
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is on the venv's PATH"

    smoke = _run([str(python), str(REPO / "tools" / "wheel_smoke.py")], env=env, cwd=tmp_path)
    report = json.loads(smoke.stdout.strip().splitlines()[-1])
    venv_real = os.path.realpath(venv)
    assert os.path.realpath(report["file"]).startswith(venv_real + os.sep)
    assert report["openmp"] is True
    assert report["version"] == report["dist_version"] == _source_version()
    if LINUX:
        # The OpenMP runtime in use is the copy auditwheel grafted into the wheel.
        runtimes = report["openmp_runtimes"]
        assert any(p.startswith(venv_real) and "/fastcost.libs/libgomp-" in p for p in runtimes), (
            runtimes
        )
        assert not any(p.startswith(("/usr/", "/lib")) for p in runtimes), runtimes

    cli = bindir / ("fastcost.exe" if os.name == "nt" else "fastcost")
    out = _run([str(cli), "--version"], env=env, cwd=tmp_path).stdout.strip()
    assert out == f"fastcost {_source_version()}"
