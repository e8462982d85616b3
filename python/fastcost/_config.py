"""Build and run-time configuration: what fastcost was compiled with and will use."""

from __future__ import annotations

import platform
import sys
from typing import Any

from . import _core
from ._gpu import BUILD_HINT, cuda_status
from ._threads import available_cores, resolve_n_threads
from ._version import __version__


def config_info() -> dict[str, Any]:
    """fastcost's configuration as a dict (see :func:`show_config`)."""
    info = dict(_core.build_info())
    cuda = cuda_status()
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "compiler": info["compiler"],
        "openmp": bool(info["openmp"]),
        "threads": resolve_n_threads(None),
        "cores_available": available_cores(),
        "isa": info["isa_active"],
        "isa_best_supported": info["isa_best"],
        "isa_compiled": list(info["isa_compiled"]),
        "cuda": cuda["built"],  # the optional fastcost._cuda module (FASTCOST_CUDA=ON)
        "cuda_runtime": cuda["runtime_version"],
        "cuda_driver": cuda["driver_version"],
        "cuda_devices": [
            f"{d['name']} (sm_{d['compute_capability'].replace('.', '')})" for d in cuda["devices"]
        ],
        "cuda_error": cuda["error"],
    }


def show_config() -> None:
    """Print fastcost's version, compiler, OpenMP, threads and kernel instruction set.

    The kernels are compiled for several instruction sets and the best one the
    CPU supports is chosen at import; ``FASTCOST_ISA=baseline`` (or ``avx2``)
    forces another, and ``fastcost.set_isa`` changes it at run time.
    """
    info = config_info()
    lines = [
        f"fastcost {info['version']} (Python {info['python']}, {info['platform']})",
        f"  compiler:  {info['compiler']}",
        f"  OpenMP:    {'on' if info['openmp'] else 'off'}",
        f"  threads:   {info['threads']} (of {info['cores_available']} available cores)",
        f"  kernels:   {info['isa']} (best supported: {info['isa_best_supported']}; "
        f"compiled: {', '.join(info['isa_compiled'])})",
        f"  CUDA:      {_cuda_line(info)}",
    ]
    print("\n".join(lines))


def _cuda_line(info: dict[str, Any]) -> str:
    if not info["cuda"]:
        return f"off (built without it; {BUILD_HINT})"
    line = f"on (runtime {info['cuda_runtime']}, driver {info['cuda_driver'] or 'none'})"
    if info["cuda_devices"]:
        return f"{line}; devices: {', '.join(info['cuda_devices'])}"
    return f"{line}; no CUDA device ({info['cuda_error']})"


def set_isa(name: str) -> None:
    """Select the kernels' instruction set: ``"auto"``, ``"baseline"``, ``"avx2"``, ``"avx512"``."""
    _core.set_isa(name)
