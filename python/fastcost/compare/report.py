"""What ``fastcost compare`` shows: the table and its notes, the JSON document
(with the machine it ran on), the chart."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import platform
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastcost._threads import available_cores
from fastcost._version import __version__
from fastcost.compare.meter import describe_peak_sources
from fastcost.compare.result import FailedRun, RunResult, jsonable, seed_spread
from fastcost.compare.status import OK, one_line, status_text
from fastcost.resources import WATTS_PER_BUSY_CORE, format_bytes, format_energy

if TYPE_CHECKING:
    from fastcost.compare.result import Comparison
    from fastcost.datasets import Dataset

__all__ = [
    "PLOT_HINT", "STATUS_WIDTH", "footer_notes", "format_number", "format_r2", "format_time",
    "json_document", "machine_info", "plot", "preprocessing_summary", "row_notes", "table",
    "write_json",
]  # fmt: skip

PLOT_HINT = "pip install 'fastcost[plot]'"

#: Characters of a status and its reason in the table; the rest goes to the notes.
STATUS_WIDTH = 60


def format_time(seconds: float) -> str:
    """A duration with three significant digits at most, e.g. ``"522.9 ms"``."""
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds >= 1e5:
        return f"{seconds:.3g} s"
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def format_number(value: float | None, digits: int = 4) -> str:
    """``value`` in ``digits`` significant digits, in compact scientific form when
    huge or tiny (``"1.235e+33"``): at most ``digits + 7`` characters. NaN and
    infinities read ``nan``, ``inf``, ``-inf``; None reads ``-``."""
    if value is None:
        return "-"
    v = float(value)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return f"{v:.{digits}g}"


def format_r2(r2: float) -> str:
    """R² with 7 decimals where they matter (between -10 and 1: e.g. ``0.9999988``),
    else as :func:`format_number`; at most 11 characters."""
    if math.isfinite(r2) and -10.0 < r2 <= 1.0:
        return f"{r2:.7f}"
    return format_number(r2)


def _format_speed(speed: float | None) -> str:
    """A speed-up: ``"3.2x"``, ``"4190x"``, ``"1.2e+06x"``; None reads ``-``."""
    if speed is None:
        return "-"
    if speed < 100:
        return f"{speed:.1f}x"
    return f"{speed:.0f}x" if speed < 1e6 else f"{speed:.2g}x"


def _format_cpu(seconds: float) -> str:
    return f"{seconds:.4f}" if seconds < 1000 else format_number(seconds)


def _format_spread(res: RunResult) -> str:
    """``mean ± std`` of the test MSE over the seeds, with how many were finite."""
    spread = seed_spread(res.seed_runs)
    if spread is None:
        return "-"
    if spread["mean"] is None:
        return "no finite MSE"
    text = f"{format_number(spread['mean'], 3)} ± {format_number(spread['std'], 2)}"
    n, k = spread["n_finite"], spread["k"]
    return text if n == k else f"{text} ({n}/{k} finite)"


def _speedup(tf_wall: float | None, wall: float) -> float | None:
    return tf_wall / wall if tf_wall and wall > 0 else None


def _result_cells(res: RunResult, tf_wall: float | None, price: bool) -> list[str]:
    r = res.report
    cells = [
        format_time(r.wall_time_s), _format_speed(_speedup(tf_wall, r.wall_time_s)),
        _format_cpu(r.cpu_time_s), format_bytes(r.peak_memory_delta_bytes), format_energy(r),
    ]  # fmt: skip
    if price:
        cells.append("-" if r.cost is None else format_number(r.cost, 3))
    return [*cells, format_number(res.test_mse), format_r2(res.r2)]


def table(comparison: Comparison, price: bool, seeds: int = 1) -> str:
    """The aligned table, one row per row that ran or raised, in run order; no
    trailing newline.

    Columns: wall time, speed-up over TensorFlow's (``-`` when TensorFlow did not
    run ok), CPU seconds, peak memory, energy, the ``cost`` with ``price``, test
    MSE and R², the test MSE's ``mean ± std`` over the seeds when ``seeds > 1``,
    and the status (cut at :data:`STATUS_WIDTH` characters; :func:`row_notes`
    has the whole reason). A row that raised has ``-`` in every measured column.
    """
    header = ["solver", "wall", "vs TF", "CPU s", "peak mem", "energy"]
    header += ["cost", "test MSE", "R2"] if price else ["test MSE", "R2"]
    if seeds > 1:
        header.append(f"MSE over {seeds} seeds")
    header.append("status")
    tf_wall = comparison.tensorflow_wall_s
    rows = []
    for row in comparison.rows:
        if isinstance(row, RunResult):
            cells = _result_cells(row, tf_wall, price)
            if seeds > 1:
                cells.append(_format_spread(row))
        else:
            cells = ["-"] * (len(header) - 2)
        rows.append([row.name, *cells, status_text(row.status, row.reason, STATUS_WIDTH)])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        inner = (c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True))
        return "  ".join([cells[0].ljust(widths[0]), *inner, cells[-1]]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *map(line, rows)])


def footer_notes(results: Sequence[RunResult], repeat: int, seeds: int = 1) -> list[str]:
    """The lines under the table that say how to read it (``repeat``: measured fits
    per row; ``seeds``: ``--seeds``)."""
    out = []
    if any(r.report.energy_estimated for r in results):
        out.append(
            f"(est.) energy estimated as CPU seconds x {WATTS_PER_BUSY_CORE:g} W per busy core "
            "(no RAPL/NVML counter readable)"
        )
    if repeat > 1:
        out.append(f"wall: median of {repeat} measured fits")
    if seeds > 1:
        out.append(
            f"MSE over {seeds} seeds: mean ± std of the test MSE of the rows whose result moves "
            f"with the seed (shuffles and start), run with --seed and the {seeds - 1} seeds "
            "after it on the same split; the other columns are --seed's fit"
        )
    peak = describe_peak_sources(r.report.peak_source for r in results)
    if peak:
        out.append(peak)
    return [*out, "peak mem: resident memory growth during the fit; warm-ups excluded"]


def row_notes(comparison: Comparison) -> list[str]:
    """``notes:`` and one line per warning a row raised, and per status reason the
    table had to cut; no lines when there is nothing to say."""
    lines = []
    for row in comparison.rows:
        full = status_text(row.status, row.reason)
        if len(full) > STATUS_WIDTH:
            lines.append(f"  {row.name}: {full}")
        lines.extend(f"  {row.name}: {note}" for note in row.notes)
    return ["notes:", *lines] if lines else []


def _cli_words(note: str) -> str:
    """A table note as the command line says it: ``--categorical NAME`` where the
    Python API's note says ``categorical_features=['NAME']``."""
    import re

    return re.sub(r"categorical_features=\[(['\"])(.*?)\1\]", r"--categorical \2", note)


def preprocessing_summary(data: Dataset, *, prune: bool, threads: int | None) -> dict[str, Any]:
    """The preprocessing steps' reports (``"reports"``) and a footer line per step
    (``"notes"``): the split's clean and standardize reports, and with ``prune`` what
    pruning finds in ``data.X_train`` (searched with ``threads`` threads)."""
    reports = dict(data.description.get("preprocessing_reports") or {})
    lines = [f"data: {_cli_words(note)}" for note in data.description.get("notes", [])]
    if "clean" in reports and "bad_cells_X" not in reports["clean"]:  # a table's split
        c = reports["clean"]
        dropped = c.get("rows_dropped", {"train": 0, "test": 0})
        imputed = c.get("imputed_from_training_rows", {})
        lines.append(
            f"clean ({c['policy']}), fitted on the training rows: {dropped['train']} training "
            f"and {dropped['test']} test rows dropped"
            + (f"; imputed with training means: {imputed}" if imputed else "")
        )
    elif "clean" in reports:
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
        The command line, :func:`preprocessing_summary`'s reports, the lines under the table.

    Notes
    -----
    ``rows`` lists every row that ran or raised, in run order, with its status and
    reason; ``runs`` has the measured ones, ``failed`` those that raised.
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
        "rows": [{"name": r.name, "status": r.status, "reason": r.reason} for r in comparison.rows],
        "runs": [
            {**r.to_dict(), "speedup_vs_tensorflow": _speedup(tf_wall, r.report.wall_time_s)}
            for r in comparison.results
        ],
        "skipped": comparison.skipped,
        "failed": [f.to_dict() for f in comparison.failed],
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


def _time_label(wall: float | None, tf_wall: float | None) -> str | None:
    """The time bar's label: the wall time and, but for TensorFlow's own, the speed-up."""
    if wall is None:
        return None
    speed = _speedup(tf_wall, wall)
    vs_tf = f"  ({_format_speed(speed)} vs TF)" if speed and wall != tf_wall else ""
    return format_time(wall) + vs_tf


def _panels(rows: Sequence[RunResult | FailedRun], tf_wall: float | None) -> list[dict[str, Any]]:
    """The chart's four panels: values (None: no bar), bar labels and titles."""
    ran = [r if isinstance(r, RunResult) else None for r in rows]
    walls = [None if r is None else r.report.wall_time_s for r in ran]
    mems = [None if r is None else r.report.peak_memory_delta_bytes / 2**20 for r in ran]
    energy = [None if r is None else r.report.energy_j for r in ran]
    mse = [None if r is None else r.test_mse for r in ran]
    spreads = [None if r is None else seed_spread(r.seed_runs) for r in ran]
    return [
        {"values": walls, "log": True, "title": "Time (lower is better)",
         "xlabel": "wall time of fit (s, log scale)",
         "labels": [_time_label(w, tf_wall) for w in walls]},
        {"values": mems, "log": False, "title": "Memory (lower is better)",
         "xlabel": "peak memory growth during fit (MiB)",
         "labels": [None if m is None else f"{m:.1f}" for m in mems]},
        {"values": energy, "log": True, "title": "Energy (lower is better)",
         "xlabel": "energy of fit (J, log scale)",
         "labels": [None if r is None else format_energy(r.report) for r in ran]},
        {"values": mse, "log": True, "title": "Test error (lower is better)",
         "xlabel": "test MSE (log scale; whiskers: min..max over --seeds)", "status": True,
         "labels": [None if m is None else format_number(m, 3) for m in mse],
         "spread": [None if s is None or s["min"] is None else (s["min"], s["max"])
                    for s in spreads]},
    ]  # fmt: skip


def _draw_panel(ax: Any, panel: dict[str, Any], rows: Sequence[Any], colors: list[str]) -> None:
    """One panel: a bar per positive finite value, its label beside it; rows without
    a bar say their status (or the value, e.g. ``nan``) at the axis instead."""
    y = np.arange(len(rows))
    drawable = [v is not None and math.isfinite(v) and (v > 0 or not panel["log"])
                for v in panel["values"]]  # fmt: skip
    heights = [v if ok else 0.0 for v, ok in zip(panel["values"], drawable, strict=True)]
    ax.barh(y, heights, color=colors)
    labels = panel["labels"]
    spreads = panel.get("spread") or [None] * len(rows)
    for yi, value, ok, label, row, spread in zip(
        y, heights, drawable, labels, rows, spreads, strict=True
    ):
        if not ok:  # no bar: the status, and the value that has none (nan, inf), at the axis
            text = row.status if label is None else f"{label} ({row.status})"
            ax.annotate(
                text, (0.01, yi), xycoords=("axes fraction", "data"), va="center",
                fontsize=8, color="tab:red",
            )  # fmt: skip
            continue
        if panel.get("status") and row.status != OK:
            label = f"{label}  ({row.status})"
        if spread is not None and spread[0] > 0:
            whisker = [[max(0.0, value - spread[0])], [max(0.0, spread[1] - value)]]
            ax.errorbar(value, yi, xerr=whisker, fmt="none", ecolor="black", capsize=3)
            value = max(value, spread[1])  # the label goes past the whisker
        ax.annotate(
            label, (value, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8
        )
    ax.set_title(panel["title"])
    ax.set_xlabel(panel["xlabel"])
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    finite = [v for v, ok in zip(panel["values"], drawable, strict=True) if ok and v > 0]
    if panel["log"]:
        ax.set_xscale("log")
        if finite:
            ax.set_xlim(min(finite) / 2, max(finite) * 30)
    else:
        ax.set_xlim(0, max([*finite, 1.0]) * 1.35)


def plot(path: str, comparison: Comparison, title: str, tuning: Any = None) -> None:
    """Save a chart of wall time, peak memory, energy and test MSE, one bar per row.

    Every row that ran or raised has a line, named with its status when that is
    not ``ok``; a row without a value (it raised; a non-finite MSE) says its
    status where the bar would be.

    Parameters
    ----------
    path : str
        Image file; its extension picks the format.
    comparison, title : Comparison, str
        At least one row; TensorFlow's wall time is the reference of the speed-ups.

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

    rows = comparison.rows[::-1]
    names = [r.name if r.status == OK else f"{r.name} [{r.status}]" for r in rows]
    colors = ["tab:blue" if r.name.startswith("fastcost") else "tab:gray" for r in rows]
    # A bare Figure renders with Agg and leaves pyplot's global state alone.
    height = 2.2 + 0.45 * len(rows)
    fig = Figure(figsize=(20, height + (2.4 if tuning else 0.0)), layout="constrained")
    area = fig
    if tuning:  # --tune: its panel under the four
        top, bottom = fig.subfigures(2, 1, height_ratios=[height, 2.4])  # type: ignore[misc]
        from fastcost.compare import tune

        tune.draw(bottom.subplots(1, 1), tuning)
        area = top
    axes = area.subplots(1, 4, sharey=True)
    for ax, panel in zip(axes, _panels(rows, comparison.tensorflow_wall_s), strict=True):
        _draw_panel(ax, panel, rows, colors)
    axes[0].set_yticks(np.arange(len(rows)), names)
    handles = [
        Patch(color="tab:blue", label="fastcost"),
        Patch(color="tab:gray", label="baselines (TensorFlow, scikit-learn)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(one_line(title))
    fig.savefig(path, dpi=150)
