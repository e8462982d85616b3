"""Writing a benchmark's JSON (the payload plus fastcost's configuration), timing
methods in interleaved rounds and drawing their cost curves."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

#: Seconds of quiet before each timed call: OpenBLAS' and OpenMP's worker threads
#: spin-wait after a call (eigendecompositions, a Cholesky) and would otherwise
#: take the cores from the next call's pass.
PAUSE_S = 0.25


def interleaved_times(
    fns: dict[str, Callable[[], Any]], repeat: int, warmup: bool = False
) -> dict[str, list[float]]:  # fmt: skip
    """Every time of each function, one call of each per round after a pause of
    ``PAUSE_S`` (with ``warmup``, one untimed call of each first: page in, start
    the threads, load the BLAS)."""
    if warmup:
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(PAUSE_S)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def write_results(path: str, payload: dict[str, Any]) -> None:
    """Write ``payload`` and ``fastcost.config_info()`` to ``path`` as JSON, and say so."""
    import fastcost

    payload = dict(payload, config=fastcost.config_info())
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2)
    print(f"\nwrote {path}")


def loglog_curves(
    ax: Any, curves: dict[str, list[tuple[float, float]]], style: dict[str, dict[str, Any]],
    xlabel: str, ylabel: str,
) -> None:  # fmt: skip
    """One log-log line per method (its (x, seconds) points; none drawn when empty),
    the axis labels and the grid that every cost-curve chart here uses."""
    for name, pts in curves.items():
        if pts:
            ax.loglog(*zip(*pts, strict=True), label=name, ms=6, **style.get(name, {}))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.5)
    ax.grid(True, which="minor", alpha=0.15)
