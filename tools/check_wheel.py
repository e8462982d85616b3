"""Check that a built fastcost wheel is fit to ship to other machines.

    python tools/check_wheel.py dist/fastcost-*.whl [--forbid DIR ...]
                                [--compile-commands build/compile_commands.json]

Fails (exit 1, one line per problem) when
- a shared library in the wheel has an RPATH/RUNPATH entry that is not relative to
  ``$ORIGIN`` (it would look for libraries on the build machine);
- any file in the wheel embeds the source tree's path or a ``--forbid`` path (build
  directory, temporary directory): the wheel would leak and depend on where it was built;
- a compile command (CMake's ``compile_commands.json``) carries ``-march``/``-mtune``
  or a global ``-m<isa>`` flag: the kernels pick their instruction set at run time, so
  the rest of the binary must run on any CPU of the architecture.

Needs ``readelf`` (binutils) for the RPATH check; prints the wheel's size and contents.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Flags that would make code outside the `target`-attributed kernels CPU-specific.
_ISA_FLAG = re.compile(r"(?:^|\s)(-march=\S+|-mtune=native|-mcpu=native|-mavx\S*|-msse4\S*|-mfma)")


def _is_elf(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def _rpaths(path: Path) -> list[str]:
    out = subprocess.run(
        ["readelf", "-d", str(path)], capture_output=True, text=True, check=True
    ).stdout
    entries = []
    for line in out.splitlines():
        m = re.search(r"\((?:RPATH|RUNPATH)\)\s+Library (?:rpath|runpath): \[(.*)\]", line)
        if m:
            entries += m.group(1).split(":")
    return entries


def check_wheel(wheel: Path, forbid: list[str]) -> list[str]:
    problems = []
    needles = [p.encode() for p in {str(Path(f).resolve()) for f in forbid} if p]
    have_readelf = shutil.which("readelf") is not None
    if not have_readelf:
        problems.append("readelf (binutils) not found: cannot check RPATH/RUNPATH")
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        for name in zf.namelist():
            data = zf.read(name)
            for needle in needles:
                if needle in data:
                    problems.append(f"{name}: embeds the build path {needle.decode()}")
            if not (_is_elf(data) and have_readelf):
                continue
            local = Path(tmp) / Path(name).name
            local.write_bytes(data)
            for entry in _rpaths(local):
                if not entry.startswith("$ORIGIN"):
                    problems.append(
                        f"{name}: RPATH/RUNPATH entry {entry!r} is not $ORIGIN-relative"
                    )
    return problems


def check_compile_commands(path: Path) -> list[str]:
    problems = []
    for cmd in json.loads(path.read_text()):
        text = cmd.get("command") or " ".join(cmd.get("arguments", []))
        for flag in _ISA_FLAG.findall(text):
            problems.append(f"{cmd.get('file')}: compiled with {flag}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument(
        "--forbid",
        action="append",
        default=[],
        metavar="DIR",
        help="a path that must not appear in any file (repeatable)",
    )
    parser.add_argument("--compile-commands", type=Path, metavar="JSON")
    args = parser.parse_args(argv)

    problems = check_wheel(args.wheel, [str(REPO), *args.forbid])
    if args.compile_commands is not None:
        problems += check_compile_commands(args.compile_commands)

    with zipfile.ZipFile(args.wheel) as zf:
        for info in zf.infolist():
            print(f"{info.file_size:>10}  {info.filename}")
    print(f"{args.wheel.name}: {args.wheel.stat().st_size} bytes")
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
