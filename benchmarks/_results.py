"""Writing a benchmark's JSON (the payload plus fastcost's configuration) and drawing
its cost curves."""

from __future__ import annotations

import json
import os
from typing import Any


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
