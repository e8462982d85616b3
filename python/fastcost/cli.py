"""The ``fastcost`` command line: ``fastcost compare`` and ``fastcost --version``.

``fastcost compare`` fits the same linear regression with TensorFlow's Keras
recipe, scikit-learn and every fastcost solver on one train/test split, with
the same thread count, warm-ups excluded, and prints what each cost (table on
stdout, progress on stderr); ``--json`` and ``--plot`` keep the results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import numpy as np

__all__ = ["main", "build_parser"]

PLOT_HINT = "pip install 'fastcost[plot]'"

_BASELINE_ALIASES = {
    "tensorflow": "tensorflow",
    "tf": "tensorflow",
    "keras": "tensorflow",
    "sklearn-lr": "sklearn-lr",
    "sklearn-sgd": "sklearn-sgd",
}


def _version() -> str:
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastcost`` command."""
    parser = argparse.ArgumentParser(
        prog="fastcost",
        description="Fast linear models and what they cost to fit.",
    )
    parser.add_argument("--version", action="version", version=f"fastcost {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cmp = sub.add_parser(
        "compare",
        help="fit one regression with TensorFlow, scikit-learn and fastcost; compare costs",
        description=(
            "Fit the same linear regression with TensorFlow's Keras recipe (Dense(1), SGD "
            "lr 0.01, MSE, batch 100, 10 epochs), scikit-learn (LinearRegression, "
            "SGDRegressor) and fastcost's solvers on one standardized 80/20 split, with "
            "the same thread count and warm-ups excluded. fastcost's sgd runs the Keras "
            "recipe from TensorFlow's initial weights. Default data: "
            "make_regression(n_samples=10000, n_features=20, noise=0.1); X is "
            "standardized on the training rows, y is not scaled."
        ),
    )
    data = cmp.add_argument_group("data")
    data.add_argument("--data", metavar="FILE", help="CSV, Parquet, .npy or .npz file")
    data.add_argument(
        "--target",
        metavar="COLUMN",
        help="target column name (CSV/Parquet), index (.npy) or array name (.npz); "
        "default: last column / 'y'",
    )
    data.add_argument("--n-samples", type=_positive_int, default=10_000, metavar="N")
    data.add_argument("--n-features", type=_positive_int, default=20, metavar="D")
    data.add_argument("--noise", type=_nonnegative_float, default=0.1, help="default: 0.1")
    data.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="dtype for scikit-learn and fastcost (TensorFlow always computes in float32)",
    )

    prep = cmp.add_argument_group(
        "preprocessing (fastcost.preprocessing; reported in the footer and JSON)"
    )
    prep.add_argument(
        "--clean",
        choices=("raise", "drop", "impute"),
        default="raise",
        metavar="POLICY",
        help="NaN/inf in the data: raise (default), drop rows, or impute column means",
    )
    prep.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="do not standardize X (default: fastcost's StandardScaler on the training rows)",
    )
    prep.add_argument(
        "--prune",
        action="store_true",
        help="fastcost solvers drop constant, duplicate and collinear columns (prune=True)",
    )

    run = cmp.add_argument_group("runs")
    run.add_argument(
        "--solvers",
        metavar="LIST",
        help="comma-separated subset, e.g. tensorflow,sklearn-lr,sklearn-sgd,newton,lbfgs,"
        "gd,sgd (default: all; fastcost names may carry a 'fastcost-' prefix)",
    )
    run.add_argument("--threads", type=_positive_int, metavar="N", help="default: all cores")
    run.add_argument("--seed", type=int, default=0, help="data, split, init and shuffles")
    run.add_argument("--epochs", type=_positive_int, default=10)
    run.add_argument("--batch-size", type=_positive_int, default=100)
    run.add_argument("--learning-rate", type=_positive_float, default=0.01)
    run.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        metavar="N",
        help="measured fits per solver; the median wall time is reported",
    )
    run.add_argument(
        "--price-per-hour", type=_nonnegative_float, metavar="PRICE", help="adds a cost column"
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://host:8786: fastcost's newton and lbfgs also run "
        "through fastcost.dask on that cluster (rows fastcost-dask-<solver>; needs "
        "pip install 'fastcost[dask]')",
    )

    out = cmp.add_argument_group("output")
    out.add_argument("--json", metavar="FILE", help="write all results as JSON")
    out.add_argument("--plot", metavar="FILE.png", help="chart of wall time and peak memory")
    out.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cmp.set_defaults(handler=_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastcost`` command; return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a run, the data or an output failed, 2 on usage errors.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = None if argv is None else list(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return int(args.handler(args, parser))


# ------------------------------------------------------------------------ compare


class _Progress:
    """One line per runner on stderr, and a heartbeat for long runs."""

    def __init__(self, stream: TextIO, quiet: bool, every_s: float = 10.0) -> None:
        self.stream = stream
        self.quiet = quiet
        self.every_s = every_s

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        self.say(f"{label} ...")
        stop = threading.Event()
        t0 = time.perf_counter()

        def beat() -> None:
            while not stop.wait(self.every_s):
                self.say(f"  ... still running ({time.perf_counter() - t0:.0f} s)")

        ticker = None
        if not self.quiet:
            ticker = threading.Thread(target=beat, name="fastcost-progress", daemon=True)
            ticker.start()
        try:
            yield
        finally:
            stop.set()
            if ticker is not None:
                ticker.join()


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _resolve_solvers(
    text: str | None, parser: argparse.ArgumentParser
) -> tuple[list[str], list[str]]:
    """Return (names in run order, fastcost solvers known) from ``--solvers``."""
    from fastcost.baselines import BASELINES, fastcost_solvers

    known_fc = list(fastcost_solvers())
    try:
        from fastcost.linear_model import SOLVERS

        allowed_fc = set(SOLVERS)
    except ImportError:
        allowed_fc = set(known_fc)
    if text is None:
        return [*BASELINES, *(f"fastcost-{s}" for s in known_fc)], known_fc
    chosen: list[str] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        key = raw.lower()
        if key in _BASELINE_ALIASES:
            name = _BASELINE_ALIASES[key]
        else:
            bare = key.removeprefix("fastcost-")
            if bare not in allowed_fc:
                valid = ", ".join([*BASELINES, *known_fc])
                parser.error(f"unknown solver {raw!r}; choose from: {valid}")
            name = f"fastcost-{bare}"
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        parser.error("--solvers is empty")
    # TensorFlow first: its initial weights are the start of the SGDs.
    order = {n: i for i, n in enumerate(BASELINES)}
    chosen.sort(key=lambda n: order.get(n, len(order)))
    return chosen, known_fc


def _machine_info() -> dict[str, Any]:
    import psutil

    cpu_model = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu_model": cpu_model,
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "available_cores": _available_cores(),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": _versions(),
        "fastcost_config": _fastcost_config(),
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = threadpool_info()
    except Exception:  # pragma: no cover - informational only
        info["threadpools"] = None
    return info


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"fastcost": _version()}
    for dist in ("numpy", "scipy", "scikit-learn", "tensorflow", "tensorflow-cpu", "keras"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _fastcost_config() -> dict[str, Any] | None:
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


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _fmt_time(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def _table(results: list[Any], tf_wall: float | None, price: bool) -> str:
    from fastcost.resources import format_bytes, format_energy

    header = ["solver", "wall", "vs TF", "CPU s", "peak mem", "energy"]
    if price:
        header.append("cost")
    header += ["test MSE", "R2"]
    rows = []
    for r in results:
        speed = f"{tf_wall / r.wall_time_s:.1f}x" if tf_wall and r.wall_time_s > 0 else "-"
        row = [
            r.name,
            _fmt_time(r.wall_time_s),
            speed,
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


def _plot(path: str, results: list[Any], title: str) -> None:
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
        text = _fmt_time(w)
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


def _preprocessing_summary(
    args: argparse.Namespace, data: Any, X_train: np.ndarray
) -> dict[str, Any]:
    """The preprocessing steps' reports, and one footer line per step used."""
    reports = dict(data.description.get("preprocessing_reports") or {})
    notes = []
    if "clean" in reports:
        c = reports["clean"]
        notes.append(
            f"clean ({c['policy']}): {c['bad_cells_X']} bad cells in X, {c['bad_cells_y']} in y; "
            f"{c['rows_dropped']} rows dropped, {c['cells_imputed']} cells imputed, "
            f"{c['bytes_copied']} bytes copied"
        )
    if "standardize" in reports:
        s = reports["standardize"]
        notes.append(
            f"standardize: fastcost StandardScaler, {s['n_passes']} pass over "
            f"{s['n_samples_seen']:.0f} training rows, constant columns {s['constant_columns']}, "
            f"{s['bytes_copied']} bytes copied"
        )
    if args.prune:
        from fastcost.preprocessing import find_redundant_columns

        p = find_redundant_columns(X_train, n_threads=args.threads).as_dict()
        reports["prune"] = p
        notes.append(
            f"prune (fastcost solvers): kept {p['n_features_kept']} of {p['n_features_in']} "
            f"columns (constant {p['constant']}, duplicate {p['duplicate']}, collinear "
            f"{p['collinear']}); newton statistics {p['gram_work_fraction']:.0%} and solve "
            f"{p['solve_work_fraction']:.0%} of the unpruned work"
        )
    return {"reports": reports, "notes": notes}


def _compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from fastcost.baselines import (
        glorot_uniform,
        run_fastcost,
        run_sklearn_lr,
        run_sklearn_sgd,
        run_tensorflow,
    )
    from fastcost.baselines.tensorflow import TENSORFLOW_HINT
    from fastcost.datasets import load_file, make_default

    names, _ = _resolve_solvers(args.solvers, parser)
    if args.scheduler:  # each distributed run right after its local twin
        with_dask: list[str] = []
        for n in names:
            with_dask.append(n)
            if n in ("fastcost-newton", "fastcost-lbfgs"):
                with_dask.append(n.replace("fastcost-", "fastcost-dask-", 1))
        names = with_dask
    progress = _Progress(sys.stderr, args.quiet)
    threads = args.threads or _available_cores()

    try:
        if args.data:
            data = load_file(
                args.data, target=args.target, seed=args.seed, dtype=args.dtype,
                clean=args.clean, standardize=args.standardize,
            )  # fmt: skip
        else:
            data = make_default(
                args.n_samples, args.n_features, noise=args.noise, seed=args.seed, dtype=args.dtype,
                standardize=args.standardize,
            )  # fmt: skip
    except (OSError, ValueError, ImportError) as exc:
        print(f"fastcost compare: cannot load data: {exc}", file=sys.stderr)
        return 1
    n_train, d = data.X_train.shape
    progress.say(
        f"fastcost compare: {n_train} train / {data.X_test.shape[0]} test rows, {d} features, "
        f"{data.X_train.dtype.name}, {threads} threads, {len(names)} solvers"
    )

    X_train, y_train, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    seed, epochs, lr, batch = args.seed, args.epochs, args.learning_rate, args.batch_size
    price, repeat = args.price_per_hour, args.repeat
    results: list[Any] = []
    skipped: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []
    init: tuple[np.ndarray, float] | None = None
    init_source = "glorot_uniform(numpy)"

    for i, name in enumerate(names, 1):
        t0 = time.perf_counter()
        label = f"[{i}/{len(names)}] {name}"
        try:
            with progress.step(f"{label}: running"):
                if name == "tensorflow":
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", RuntimeWarning)
                        res = run_tensorflow(
                            X_train, y_train, X_test, y_test,
                            epochs=epochs, batch_size=batch, learning_rate=lr, seed=seed,
                            threads=threads, price_per_hour=price, repeat=repeat,
                        )  # fmt: skip
                    for w in caught:  # e.g. threads could not be set: tell, do not fail
                        progress.say(f"{label}: note: {w.message}")
                    assert res.initial_coef is not None
                    init = (res.initial_coef, float(res.initial_intercept or 0.0))
                    init_source = "tensorflow"
                elif name.startswith("fastcost-dask-"):
                    from fastcost.dask import run_compare

                    res = run_compare(
                        name.removeprefix("fastcost-dask-"), X_train, y_train, X_test, y_test,
                        scheduler=args.scheduler, price_per_hour=price, repeat=repeat,
                    )  # fmt: skip
                elif name == "sklearn-lr":
                    res = run_sklearn_lr(
                        X_train, y_train, X_test, y_test,
                        threads=threads, price_per_hour=price, repeat=repeat,
                    )  # fmt: skip
                else:
                    if init is None:
                        init = glorot_uniform(d, seed)
                    if name == "sklearn-sgd":
                        res = run_sklearn_sgd(
                            X_train, y_train, X_test, y_test,
                            epochs=epochs, learning_rate=lr, seed=seed,
                            coef_init=init[0], intercept_init=init[1],
                            threads=threads, price_per_hour=price, repeat=repeat,
                        )  # fmt: skip
                    else:
                        solver = name.removeprefix("fastcost-")
                        is_sgd = solver == "sgd"
                        res = run_fastcost(
                            solver, X_train, y_train, X_test, y_test,
                            epochs=epochs, batch_size=batch, learning_rate=lr, seed=seed,
                            coef_init=init[0] if is_sgd else None,
                            intercept_init=init[1] if is_sgd else None,
                            threads=threads, price_per_hour=price, repeat=repeat,
                            **({"prune": True} if args.prune else {}),
                        )  # fmt: skip
        except ImportError as exc:
            if name == "tensorflow":
                progress.say(f"{label}: skipped, TensorFlow is not installed: {TENSORFLOW_HINT}")
                skipped.append({"name": name, "reason": f"not installed ({TENSORFLOW_HINT})"})
                continue
            failed.append({"name": name, "error": repr(exc), "traceback": traceback.format_exc()})
            progress.say(f"{label}: failed: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:
            failed.append({"name": name, "error": repr(exc), "traceback": traceback.format_exc()})
            progress.say(f"{label}: failed: {type(exc).__name__}: {exc}")
            continue
        results.append(res)
        progress.say(
            f"{label}: fit {_fmt_time(res.wall_time_s)}, "
            f"total {_fmt_time(time.perf_counter() - t0)} with warm-up"
        )

    tf_wall = next((r.wall_time_s for r in results if r.name == "tensorflow"), None)
    if results:
        print(_table(results, tf_wall, args.price_per_hour is not None))
    notes = []
    if any(r.report.energy_estimated for r in results):
        from fastcost.resources import WATTS_PER_BUSY_CORE

        notes.append(
            f"(est.) energy estimated as CPU seconds x {WATTS_PER_BUSY_CORE:g} W per busy core "
            "(no RAPL/NVML counter readable)"
        )
    if args.repeat > 1:
        notes.append(f"wall: median of {args.repeat} measured fits")
    notes.append("peak mem: resident memory growth during the fit; warm-ups excluded")
    preprocessing = _preprocessing_summary(args, data, X_train)
    notes.extend(preprocessing.pop("notes"))
    for note in notes:
        print(note)
    for item in skipped:
        print(f"skipped {item['name']}: {item['reason']}")
    for item in failed:
        print(f"failed {item['name']}: {item['error']}")

    status = 1 if failed else 0
    if args.json:
        doc = {
            "fastcost_version": _version(),
            "created_utc": _utc_now(),
            "command": ["fastcost", *(sys.argv[1:] if args.argv is None else args.argv)],
            "settings": {
                "solvers": names,
                "threads": threads,
                "seed": args.seed,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "learning_rate": args.learning_rate,
                "repeat": args.repeat,
                "price_per_hour": args.price_per_hour,
                "scheduler": args.scheduler,
                "sgd_initial_weights": init_source,
                "clean": args.clean,
                "standardize": args.standardize,
                "prune": args.prune,
            },
            "preprocessing": preprocessing,
            "data": data.description,
            "machine": _machine_info(),
            "notes": notes,
            "runs": [
                {
                    **r.to_dict(),
                    "speedup_vs_tensorflow": (tf_wall / r.wall_time_s)
                    if tf_wall and r.wall_time_s > 0
                    else None,
                }
                for r in results
            ],
            "skipped": skipped,
            "failed": failed,
        }
        try:
            with open(args.json, "w") as fh:
                json.dump(_jsonable(doc), fh, indent=2, allow_nan=False)
                fh.write("\n")
        except OSError as exc:
            print(f"fastcost compare: cannot write {args.json}: {exc}", file=sys.stderr)
            status = 1
        else:
            progress.say(f"wrote {args.json}")
    if args.plot:
        if not results:
            print("fastcost compare: nothing to plot, every run failed", file=sys.stderr)
            return 1
        title = (
            f"Linear regression fit, {n_train} x {d} ({data.X_train.dtype.name}), {threads} threads"
        )
        try:
            _plot(args.plot, results, title)
        except (ImportError, OSError, ValueError) as exc:
            print(f"fastcost compare: cannot plot: {exc}", file=sys.stderr)
            status = 1
        else:
            progress.say(f"wrote {args.plot}")
    return status
