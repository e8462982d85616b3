"""What ``fastcost compare`` shows: the table and its notes, the JSON document, the chart."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastcost.compare.machine import fastcost_version, machine_info
from fastcost.resources import format_bytes, format_energy

if TYPE_CHECKING:
    from fastcost.compare.result import Comparison, RunResult
    from fastcost.compare.runners import Settings
    from fastcost.datasets import Dataset

__all__ = [
    "PLOT_HINT",
    "format_time",
    "footer_notes",
    "json_document",
    "plot",
    "preprocessing_summary",
    "table",
    "write_json",
]

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
    """One row per result: wall, speed-up over TensorFlow, CPU, memory, energy, accuracy.

    Parameters
    ----------
    results : sequence of RunResult
    tf_wall : float or None
        TensorFlow's wall time; None leaves the ``vs TF`` column empty (``-``).
    price : bool
        Add a ``cost`` column.

    Returns
    -------
    str
        Header, rule and rows, columns aligned; no trailing newline.
    """
    header = ["solver", "wall", "vs TF", "CPU s", "peak mem", "energy"]
    if price:
        header.append("cost")
    header += ["test MSE", "R2"]
    rows = []
    for r in results:
        speed = _speedup(tf_wall, r.wall_time_s)
        row = [
            r.name,
            format_time(r.wall_time_s),
            "-" if speed is None else f"{speed:.1f}x",
            f"{r.cpu_time_s:.4f}",
            format_bytes(r.peak_memory_delta_bytes),
            format_energy(r.report),
        ]
        if price:
            row.append("-" if r.report.cost is None else f"{r.report.cost:.3g}")
        row += [f"{r.test_mse:.4g}", f"{r.r2:.7f}"]
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    out = [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
    return "\n".join(out)


def footer_notes(results: Sequence[RunResult], repeat: int) -> list[str]:
    """The footer lines that say how to read the table.

    Parameters
    ----------
    results : sequence of RunResult
    repeat : int
        Measured fits per row.

    Returns
    -------
    list of str
    """
    out = []
    if any(r.report.energy_estimated for r in results):
        from fastcost.resources import WATTS_PER_BUSY_CORE

        out.append(
            f"(est.) energy estimated as CPU seconds x {WATTS_PER_BUSY_CORE:g} W per busy core "
            "(no RAPL/NVML counter readable)"
        )
    if repeat > 1:
        out.append(f"wall: median of {repeat} measured fits")
    out.append("peak mem: resident memory growth during the fit; warm-ups excluded")
    return out


def preprocessing_summary(data: Dataset, *, prune: bool, threads: int | None) -> dict[str, Any]:
    """The preprocessing steps' reports, and one footer line per step used.

    Parameters
    ----------
    data : Dataset
        Its ``description["preprocessing_reports"]`` has the clean and
        standardize reports of the split.
    prune : bool
        fastcost's solvers prune: add what pruning finds in ``data.X_train``.
    threads : int or None
        Threads of that search.

    Returns
    -------
    dict
        ``"reports"``: report name -> report dict; ``"notes"``: footer lines.
    """
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

        p = find_redundant_columns(data.X_train, n_threads=threads).as_dict()
        reports["prune"] = p
        lines.append(
            f"prune (fastcost solvers): kept {p['n_features_kept']} of {p['n_features_in']} "
            f"columns (constant {p['constant']}, duplicate {p['duplicate']}, collinear "
            f"{p['collinear']}); newton statistics {p['gram_work_fraction']:.0%} and solve "
            f"{p['solve_work_fraction']:.0%} of the unpruned work"
        )
    return {"reports": reports, "notes": lines}


def json_document(
    comparison: Comparison,
    data: Dataset,
    settings: Settings,
    *,
    clean: str,
    standardize: bool,
    preprocessing: dict[str, Any],
    notes: list[str],
    command: list[str],
) -> dict[str, Any]:
    """Everything about one comparison, for ``--json``.

    Parameters
    ----------
    comparison : Comparison
        The rows' results, skips and failures.
    data : Dataset
        The split; its ``description`` is kept.
    settings : Settings
        As the runners got them (threads resolved).
    clean, standardize : str, bool
        The preprocessing asked for.
    preprocessing : dict
        :func:`preprocessing_summary`'s reports.
    notes : list of str
        The footer lines (:func:`footer_notes` and the preprocessing lines).
    command : list of str
        The command line, program name first.

    Returns
    -------
    dict
        Keys ``fastcost_version``, ``created_utc``, ``command``, ``settings``,
        ``preprocessing``, ``data``, ``machine``, ``notes``, ``runs``,
        ``skipped``, ``failed``; ready for :func:`write_json`.
    """
    tf_wall = comparison.tensorflow_wall_s
    return {
        "fastcost_version": fastcost_version(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "settings": {
            "solvers": comparison.names,
            "threads": settings.threads,
            "seed": settings.seed,
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate,
            "repeat": settings.repeat,
            "price_per_hour": settings.price_per_hour,
            "scheduler": settings.scheduler,
            "sgd_initial_weights": comparison.start_source,
            "clean": clean,
            "standardize": standardize,
            "prune": settings.prune,
        },
        "preprocessing": preprocessing,
        "data": data.description,
        "machine": machine_info(),
        "notes": notes,
        "runs": [
            {**r.to_dict(), "speedup_vs_tensorflow": _speedup(tf_wall, r.wall_time_s)}
            for r in comparison.results
        ],
        "skipped": comparison.skipped,
        "failed": comparison.failed,
    }


def write_json(path: str, doc: dict[str, Any]) -> None:
    """Write ``doc`` as indented JSON; NumPy values become plain, non-finite floats null.

    Raises
    ------
    OSError
        When the file cannot be written.
    """
    with open(path, "w") as fh:
        json.dump(_jsonable(doc), fh, indent=2, allow_nan=False)
        fh.write("\n")


def _jsonable(value: Any) -> Any:
    """Plain JSON types; non-finite floats become None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def plot(path: str, results: Sequence[RunResult], title: str) -> None:
    """Save a chart of wall time (log scale) and peak memory, one bar per result.

    Parameters
    ----------
    path : str
        Image file; its extension picks the format (e.g. ``.png``).
    results : sequence of RunResult
        At least one.
    title : str

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
    walls = [r.wall_time_s for r in results][::-1]
    mems = [r.peak_memory_delta_bytes / 2**20 for r in results][::-1]
    colors = ["tab:blue" if n.startswith("fastcost") else "tab:gray" for n in names]
    height = 2.0 + 0.45 * len(names)
    # A bare Figure renders with Agg and leaves pyplot's global state alone.
    fig = Figure(figsize=(11, height), layout="constrained")
    ax_t, ax_m = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))

    tf_wall = next((r.wall_time_s for r in results if r.name == "tensorflow"), None)
    ax_t.barh(y, walls, color=colors)
    ax_t.set_xscale("log")
    ax_t.set_xlabel("wall time of fit (s, log scale)")
    ax_t.set_yticks(y, names)
    ax_t.set_title("Time (lower is better)")
    for yi, w in zip(y, walls, strict=True):
        text = format_time(w)
        if tf_wall and w > 0 and w != tf_wall:
            text += f"  ({tf_wall / w:.1f}x vs TF)"
        ax_t.annotate(text, (w, yi), xytext=(3, 0), textcoords="offset points", va="center")
    if walls:
        lo, hi = min(w for w in walls if w > 0), max(walls)
        ax_t.set_xlim(lo / 2, hi * 30)

    ax_m.barh(y, mems, color=colors)
    ax_m.set_xlabel("peak memory growth during fit (MiB)")
    ax_m.set_title("Memory (lower is better)")
    for yi, m in zip(y, mems, strict=True):
        ax_m.annotate(f"{m:.1f}", (m, yi), xytext=(3, 0), textcoords="offset points", va="center")
    ax_m.set_xlim(0, max([*mems, 1.0]) * 1.25)
    for ax in (ax_t, ax_m):
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    handles = [
        Patch(color="tab:blue", label="fastcost"),
        Patch(color="tab:gray", label="baselines (TensorFlow, scikit-learn)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(title)
    fig.savefig(path, dpi=150)
