"""The machine a comparison ran on: CPU, memory, library versions, fastcost's build."""

from __future__ import annotations

import platform
from typing import Any

from fastcost._threads import available_cores

__all__ = ["fastcost_config", "fastcost_version", "machine_info", "versions"]

#: Distributions whose versions the report records.
_DISTRIBUTIONS = ("numpy", "scipy", "scikit-learn", "tensorflow", "tensorflow-cpu", "keras")


def fastcost_version() -> str:
    """fastcost's version: the package's, else the installed distribution's, else ``"unknown"``."""
    try:
        import fastcost

        version = getattr(fastcost, "__version__", None)
        if version:
            return str(version)
    except ImportError:  # pragma: no cover - the core failed to import
        pass
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        return dist_version("fastcost")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def machine_info() -> dict[str, Any]:
    """CPU model and cores, memory, platform, versions, fastcost's build, thread pools.

    Returns
    -------
    dict
        Keys ``cpu_model``, ``physical_cores``, ``logical_cores``,
        ``available_cores``, ``memory_bytes``, ``platform``, ``python``,
        ``versions``, ``fastcost_config`` and ``threadpools`` (None where
        unknown).
    """
    import psutil

    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "available_cores": available_cores(),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(),
        "fastcost_config": fastcost_config(),
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = threadpool_info()
    except Exception:  # pragma: no cover - informational only
        info["threadpools"] = None
    return info


def _cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo, else what :mod:`platform` says."""
    cpu_model = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu_model


def versions() -> dict[str, str | None]:
    """Versions of fastcost and of the libraries it is compared with (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"fastcost": fastcost_version()}
    for dist in _DISTRIBUTIONS:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def fastcost_config() -> dict[str, Any] | None:
    """:func:`fastcost.config_info` (instruction sets, OpenMP, BLAS, GPU), or None."""
    try:
        import fastcost
    except ImportError:  # pragma: no cover
        return None
    getter = getattr(fastcost, "config_info", None)
    if callable(getter):
        try:
            return dict(getter())
        except Exception:  # pragma: no cover - informational only
            return None
    return None
