"""What ``fastcost compare`` shows: the table and its notes, the JSON document
(with the machine it ran on), the chart."""

from __future__ import annotations

import contextlib
import datetime
import json
import platform
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastcost._threads import available_cores
from fastcost._version import __version__
from fastcost.compare.result import jsonable
from fastcost.resources import WATTS_PER_BUSY_CORE, format_bytes, format_energy

if TYPE_CHECKING:
    from fastcost.compare.result import Comparison, RunResult
    from fastcost.datasets import Dataset

__all__ = [
    "PLOT_HINT", "footer_notes", "format_time", "json_document", "machine_info", "plot",
    "preprocessing_summary", "table", "write_json",
]  # fmt: skip

PLOT_HINT = "pip install 'fastcost[plot]'"


def format_time(seconds: float) -> str:
    """A duration with three significant digits at most, e.g. ``"522.9 ms"``."""
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def _speedup(tf_wall: float | None, wall: float) -> float | None:
    return tf_wall / wall if tf_wall and wall > 0 else None


def table(results: Sequence[RunResult], tf_wall: float | None, price: bool) -> str:
    """The aligned table, one row per result, the speed-ups over ``tf_wall`` (None:
    ``-``), a ``cost`` column with ``price``; no trailing newline."""
    header = ["solver", "wall", "vs TF", "CPU s", "peak mem", "energy"]
    header += ["cost", "test MSE", "R2"] if price else ["test MSE", "R2"]
    rows = []
    for res in results:
        r = res.report
        speed = _speedup(tf_wall, r.wall_time_s)
        row = [
            res.name, format_time(r.wall_time_s), "-" if speed is None else f"{speed:.1f}x",
            f"{r.cpu_time_s:.4f}", format_bytes(r.peak_memory_delta_bytes), format_energy(r),
        ]  # fmt: skip
        if price:
            row.append("-" if r.cost is None else f"{r.cost:.3g}")
        rows.append([*row, f"{res.test_mse:.4g}", f"{res.r2:.7f}"])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([cells[0].ljust(widths[0]), *rest])

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def footer_notes(results: Sequence[RunResult], repeat: int) -> list[str]:
    """The lines under the table that say how to read it (``repeat``: measured fits per row)."""
    out = []
    if any(r.report.energy_estimated for r in results):
        out.append(
            f"(est.) energy estimated as CPU seconds x {WATTS_PER_BUSY_CORE:g} W per busy core "
            "(no RAPL/NVML counter readable)"
        )
    if repeat > 1:
        out.append(f"wall: median of {repeat} measured fits")
    return [*out, "peak mem: resident memory growth during the fit; warm-ups excluded"]


def preprocessing_summary(data: Dataset, *, prune: bool, threads: int | None) -> dict[str, Any]:
    """The preprocessing steps' reports (``"reports"``) and a footer line per step
    (``"notes"``): the split's clean and standardize reports, and with ``prune`` what
    pruning finds in ``data.X_train`` (searched with ``threads`` threads)."""
    reports = dict(data.description.get("preprocessing_reports") or {})
    lines = []
    if "clean" in reports:
        c = reports["clean"]
        lines.append(
            f"clean ({c['policy']}): {c['bad_cells_X']} bad cells in X, {c['bad_cells_y']} in y; "
            f"{c['rows_dropped']} rows dropped, {c['cells_imputed']} cells imputed, "
            f"{c['bytes_copied']} bytes copied"
        )
    if "standardize" in reports:
        s = reports["standardize"]
        lines.append(
            f"standardize: fastcost StandardScaler, {s['n_passes']} pass over "
            f"{s['n_samples_seen']:.0f} training rows, constant columns {s['constant_columns']}, "
            f"{s['bytes_copied']} bytes copied"
        )
    if prune:
        from fastcost.preprocessing import find_redundant_columns

        p = reports["prune"] = find_redundant_columns(data.X_train, n_threads=threads).as_dict()
        lines.append(
            f"prune (fastcost solvers): kept {p['n_features_kept']} of {p['n_features_in']} "
            f"columns (constant {p['constant']}, duplicate {p['duplicate']}, collinear "
            f"{p['collinear']}); newton statistics {p['gram_work_fraction']:.0%} and solve "
            f"{p['solve_work_fraction']:.0%} of the unpruned work"
        )
    return {"reports": reports, "notes": lines}


def machine_info() -> dict[str, Any]:
    """CPU model and cores, memory, platform, library versions (None: not installed),
    fastcost's build (:func:`fastcost.config_info`) and the thread pools; None where unknown."""
    from importlib.metadata import PackageNotFoundError, version

    import psutil

    cpu_model = platform.processor() or None
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        models = (ln.split(":", 1)[1].strip() for ln in fh if ln.lower().startswith("model name"))
        cpu_model = next(models, cpu_model)
    versions: dict[str, str | None] = {"fastcost": __version__}
    for dist in ("numpy", "scipy", "scikit-learn", "tensorflow", "tensorflow-cpu", "keras"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    info: dict[str, Any] = {
        "cpu_model": cpu_model,
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "available_cores": available_cores(),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "fastcost_config": None,
        "threadpools": None,
    }
    with contextlib.suppress(Exception):  # informational only
        from fastcost._config import config_info

        info["fastcost_config"] = dict(config_info())
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_info

        info["threadpools"] = threadpool_info()
    return info


def json_document(
    comparison: Comparison, data: Dataset, settings: dict[str, Any], *, command: list[str],
    preprocessing: dict[str, Any], notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    """Everything about one comparison, for :func:`write_json`.

    Parameters
    ----------
    comparison, data : Comparison, Dataset
        The rows' results, skips and failures; the split (its ``description`` is kept).
    settings : dict
        What the rows were given (threads resolved) and the preprocessing asked for.
    command, preprocessing, notes : list of str, dict, list of str
        The command line, :func:`preprocessing_summary`'s reports, the footer lines.
    """
    tf_wall = comparison.tensorflow_wall_s
    return {
        "fastcost_version": __version__,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "settings": {"solvers": comparison.names, **settings},
        "preprocessing": preprocessing,
        "data": data.description,
        "machine": machine_info(),
        "notes": notes,
        "runs": [
            {**r.to_dict(), "speedup_vs_tensorflow": _speedup(tf_wall, r.report.wall_time_s)}
            for r in comparison.results
        ],
        "skipped": comparison.skipped,
        "failed": comparison.failed,
    }


def write_json(path: str, doc: dict[str, Any]) -> None:
    """Write ``doc`` as indented JSON (see :func:`~fastcost.compare.result.jsonable`).

    Raises
    ------
    OSError
        When the file cannot be written.
    """
    with open(path, "w") as fh:
        json.dump(jsonable(doc), fh, indent=2, allow_nan=False)
        fh.write("\n")


def plot(path: str, results: Sequence[RunResult], tf_wall: float | None, title: str) -> None:
    """Save a chart of wall time (log scale) and peak memory, one bar per result.

    Parameters
    ----------
    path : str
        Image file; its extension picks the format.
    results, tf_wall, title : sequence of RunResult, float or None, str
        At least one result; TensorFlow's wall time, the reference of the speed-ups.

    Raises
    ------
    ImportError
        When matplotlib is missing, with the extra to install.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError as exc:
        raise ImportError(f"--plot needs matplotlib; install it with {PLOT_HINT}") from exc

    names = [r.name for r in results][::-1]
    walls = [r.report.wall_time_s for r in results][::-1]
    mems = [r.report.peak_memory_delta_bytes / 2**20 for r in results][::-1]
    vs_tf = [f"  ({tf_wall / w:.1f}x vs TF)" if tf_wall and 0 < w != tf_wall else "" for w in walls]
    colors = ["tab:blue" if n.startswith("fastcost") else "tab:gray" for n in names]
    # A bare Figure renders with Agg and leaves pyplot's global state alone.
    fig = Figure(figsize=(11, 2.0 + 0.45 * len(names)), layout="constrained")
    ax_t, ax_m = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))
    panels = [
        (ax_t, walls, [format_time(w) + v for w, v in zip(walls, vs_tf, strict=True)],
         "wall time of fit (s, log scale)", "Time (lower is better)"),
        (ax_m, mems, [f"{m:.1f}" for m in mems],
         "peak memory growth during fit (MiB)", "Memory (lower is better)"),
    ]  # fmt: skip
    for ax, values, labels, xlabel, heading in panels:
        ax.barh(y, values, color=colors)
        ax.set_xlabel(xlabel)
        ax.set_title(heading)
        for yi, value, text in zip(y, values, labels, strict=True):
            ax.annotate(text, (value, yi), xytext=(3, 0), textcoords="offset points", va="center")
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    ax_t.set_xscale("log")
    ax_t.set_yticks(y, names)
    if walls:
        ax_t.set_xlim(min(w for w in walls if w > 0) / 2, max(walls) * 30)
    ax_m.set_xlim(0, max([*mems, 1.0]) * 1.25)
    handles = [
        Patch(color="tab:blue", label="fastcost"),
        Patch(color="tab:gray", label="baselines (TensorFlow, scikit-learn)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(title)
    fig.savefig(path, dpi=150)
