"""Running ``fastcost compare``: load the split, run the rows, print and write the report."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from fastcost._threads import available_cores
from fastcost.compare import report
from fastcost.compare.result import Comparison, FailedRun, RunResult
from fastcost.compare.runners import RUNNERS, Runner, Settings, Start, shared_start
from fastcost.compare.status import OK, classify, failure_status, one_line, record_warnings
from fastcost.datasets import Dataset, load_file, make_default

__all__ = ["Progress", "compare", "run_comparison", "start_source"]


class Progress:
    """One line per step on ``stream`` (none when ``quiet``), and a heartbeat every
    ``every_s`` seconds while a step runs."""

    def __init__(self, stream: TextIO, quiet: bool, every_s: float = 10.0) -> None:
        self.stream, self.quiet, self.every_s = stream, quiet, every_s

    def say(self, text: str) -> None:
        """Write one line, unless quiet."""
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Announce ``label``, then say every ``every_s`` seconds that it still runs."""
        self.say(f"{label} ...")
        if self.quiet:
            yield
            return
        stop = threading.Event()
        t0 = time.perf_counter()

        def beat() -> None:
            while not stop.wait(self.every_s):
                self.say(f"  ... still running ({time.perf_counter() - t0:.0f} s)")

        ticker = threading.Thread(target=beat, name="fastcost-progress", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()


def start_source(seed: int) -> str:
    """Where the SGD rows start, in words (the JSON's ``sgd_initial_weights``)."""
    return f"glorot_uniform(numpy, seed={seed}), rounded to float32; the same for every SGD row"


@dataclasses.dataclass
class _Skipped:
    """A row whose optional library is missing: the hint that installs it."""

    hint: str


def _attempt(
    runner: Runner, data: Dataset, settings: Settings, start: Start
) -> RunResult | FailedRun | _Skipped:
    """``runner.run``: its result with status and notes, its failure, or a skip.

    The warnings the row raises become its notes (not lines on stderr); an
    exception becomes a :class:`FailedRun` (``"diverged"`` for a divergence).
    """
    error: Exception | None = None
    tb = ""
    with record_warnings() as notes:
        try:
            res = runner.run(data, settings, start)
        except Exception as exc:
            error, tb = exc, traceback.format_exc()
    if error is not None:
        if isinstance(error, ImportError) and runner.install_hint is not None:
            return _Skipped(runner.install_hint)
        status, reason = failure_status(error)
        return FailedRun(runner.name, status, reason, repr(error), tb, notes)
    res.name = runner.name  # the row's label, whatever the runner called its result
    res.notes = notes
    res.status, res.reason = classify(res, notes)
    return res


def _seed_record(seed: int, outcome: RunResult | FailedRun | _Skipped) -> dict[str, Any]:
    """One entry of :attr:`RunResult.seed_runs`."""
    if isinstance(outcome, RunResult):
        status = outcome.status
        return {"seed": seed, "test_mse": outcome.test_mse, "r2": outcome.r2, "status": status}
    status = outcome.status if isinstance(outcome, FailedRun) else "skipped"
    return {"seed": seed, "test_mse": float("nan"), "r2": float("nan"), "status": status}


def _other_seeds(
    runner: Runner, data: Dataset, settings: Settings, progress: Progress, label: str
) -> list[dict[str, Any]]:
    """The runs of seeds ``seed + 1 .. seed + seeds - 1`` (one measured fit each), each
    from its own :func:`~fastcost.compare.runners.shared_start`, on the same split."""
    records = []
    for k in range(1, settings.seeds):
        seed = settings.seed + k
        with progress.step(f"{label}: seed {seed} ({k + 1}/{settings.seeds})"):
            outcome = _attempt(
                runner, data, dataclasses.replace(settings, seed=seed, repeat=1),
                shared_start(data.n_features, seed),
            )  # fmt: skip
        records.append(_seed_record(seed, outcome))
    return records


def _say_outcome(progress: Progress, label: str, outcome: RunResult | FailedRun, t0: float) -> None:
    """The progress line of a row that ran or raised, and its notes."""
    if isinstance(outcome, RunResult):
        status = "" if outcome.status == OK else f"; {outcome.status}: {outcome.reason}"
        progress.say(
            f"{label}: fit {report.format_time(outcome.report.wall_time_s)}, "
            f"total {report.format_time(time.perf_counter() - t0)} with warm-up{status}"
        )
    else:
        progress.say(f"{label}: {outcome.status}: {outcome.reason}")
    for note in outcome.notes:
        progress.say(f"{label}: note: {note}")


def run_comparison(
    names: Sequence[str], data: Dataset, settings: Settings, progress: Progress
) -> Comparison:
    """Run the rows ``names`` (:func:`~fastcost.compare.runners.select`) one after another.

    Every row is given its own copies of the split and of the SGDs' common
    start (:func:`~fastcost.compare.runners.shared_start`), so that its result
    does not depend on which other rows run. A row whose optional library is
    missing is skipped, a row that raises fails; the others still run. With
    ``settings.seeds > 1``, the seeded rows also run with the next seeds
    (:attr:`RunResult.seed_runs`).

    Returns
    -------
    Comparison
    """
    comparison = Comparison(names=list(names), start_source=start_source(settings.seed))
    start = shared_start(data.n_features, settings.seed)
    for i, name in enumerate(names, 1):
        runner = RUNNERS[name]
        label = f"[{i}/{len(names)}] {name}"
        t0 = time.perf_counter()
        with progress.step(f"{label}: running"):
            outcome = _attempt(runner, data, settings, start)
        if isinstance(outcome, _Skipped):
            progress.say(f"{label}: skipped, {runner.library} is not installed: {outcome.hint}")
            comparison.skipped.append({"name": name, "reason": f"not installed ({outcome.hint})"})
            continue
        _say_outcome(progress, label, outcome, t0)
        if isinstance(outcome, FailedRun):
            comparison.failed.append(outcome)
            continue
        if settings.seeds > 1 and runner.seeded:
            first = _seed_record(settings.seed, outcome)
            outcome.seed_runs = [first, *_other_seeds(runner, data, settings, progress, label)]
        comparison.results.append(outcome)
    return comparison


_SPLIT_EMPTY = re.compile(r"With n_samples=(\d+), test_size=")


def explain_load_error(exc: Exception, clean: str) -> str:
    """The message of a data error, in the terms of the command line.

    scikit-learn's split of too few rows becomes how many rows there are and
    after what (``clean`` is ``--clean``); a column statistic that overflows,
    reported without a NaN/inf cell, becomes an overflow of X's values.
    """
    text = one_line(str(exc))
    empty = _SPLIT_EMPTY.search(text)
    if empty is not None:
        n = int(empty.group(1))
        rows = "1 row" if n == 1 else f"{n} rows"
        where = (
            f"{rows} remain after --clean drop removed the rows holding NaN or infinity"
            if clean == "drop"
            else f"the data has {rows}"
        )
        return f"too few rows: {where}; the 80/20 train/test split needs at least 2"
    if "contains NaN or infinity" in text and "first at" not in text:
        return (
            "the values of X overflow float64 in its column statistics: X holds no NaN or "
            "infinity, but values too large to square (such as 1e308); rescale or "
            "standardize X's columns"
        )
    return text


def _no_features(description: dict[str, Any], args: argparse.Namespace) -> str:
    """Why a table gives no feature column: each other column and what left it out
    (``--drop``, not in ``--features``, or the role the table gave it)."""
    target = description.get("target")
    roles = dict(description.get("roles", {}))
    if not roles:
        return f"no feature column to fit: the data has no column besides the target {target!r}"

    def why(name: str, role: str) -> str:
        if name in (args.drop or ()):
            return "--drop"
        if args.features is not None and name not in args.features:
            return "not in --features"
        return "row index" if role == "dropped" else role

    left = ", ".join(f"{name} ({why(name, role)})" for name, role in roles.items())
    return (
        f"no feature column to fit: every column but the target {target!r} is left out: {left}; "
        "keep at least one (--features, --drop)"
    )


def _load(args: argparse.Namespace) -> Dataset:
    """The split of ``--data``, else the built-in problem; a ValueError says what is wrong
    (:func:`explain_load_error`), and says so once, before any row runs, when no
    feature column is left (:func:`_no_features`)."""
    common = {"seed": args.seed, "dtype": args.dtype, "standardize": args.standardize}
    try:
        if args.data:
            table = {"sep": args.sep, "features": args.features, "drop": args.drop,
                     "categorical": args.categorical}  # fmt: skip
            data = load_file(args.data, target=args.target, clean=args.clean, **table, **common)
        else:
            data = make_default(args.n_samples, args.n_features, noise=args.noise, **common)
    except ValueError as exc:
        raise ValueError(explain_load_error(exc, args.clean)) from exc
    if data.n_features == 0:
        raise ValueError(_no_features(data.description, args))
    return data


def load_data(args: argparse.Namespace) -> Dataset | str:
    """The split, or the one-line message of why it cannot be loaded."""
    try:
        return _load(args)
    except FileNotFoundError as exc:
        missing = exc.filename or (exc.args[-1] if exc.args else args.data)
        return f"cannot load data: no such file: {missing}"
    except (OSError, ValueError, ImportError) as exc:
        return f"cannot load data: {one_line(str(exc))}"


def _save(
    progress: Progress, failure: str, errors: Any, save: Callable[..., None], path: str, *what: Any
) -> int:
    """``save(path, *what)``: 0, or 1 with ``failure`` and the error said on stderr."""
    try:
        save(path, *what)
    except errors as exc:
        print(f"fastcost compare: {failure}: {one_line(str(exc))}", file=sys.stderr)
        return 1
    progress.say(f"wrote {path}")
    return 0


def _print_report(comparison: Comparison, args: argparse.Namespace, notes: list[str]) -> None:
    """The table (every row that ran or raised), then the notes and the skipped rows."""
    if comparison.rows:
        print(report.table(comparison, args.price_per_hour is not None, args.seeds))
    print(*notes, sep="\n")
    for item in comparison.skipped:
        print(f"skipped {item['name']}: {item['reason']}")


def compare(names: Sequence[str], args: argparse.Namespace, command: list[str]) -> int:
    """``fastcost compare``: run the rows ``names``, print the table, write what is asked.

    Parameters
    ----------
    names : sequence of str
        Rows of :data:`~fastcost.compare.runners.RUNNERS`, in run order.
    args, command : argparse.Namespace, list of str
        The parsed options (:func:`fastcost.cli.build_parser`); the command line.
        The options are checked already (:func:`fastcost.cli.main`).

    Returns
    -------
    int
        0; 1 when the data, a row (status ``failed``), the JSON or the chart failed.
    """
    progress = Progress(sys.stderr, args.quiet)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)}
    settings = Settings(**{**given, "threads": args.threads or available_cores()})
    data = load_data(args)
    if isinstance(data, str):
        print(f"fastcost compare: {data}", file=sys.stderr)
        return 1
    (n_train, d), dtype = data.X_train.shape, data.X_train.dtype.name
    progress.say(
        f"fastcost compare: {n_train} train / {data.X_test.shape[0]} test rows, {d} features, "
        f"{dtype}, {settings.threads} threads, {len(names)} solvers"
    )

    comparison = run_comparison(names, data, settings, progress)
    preprocessing = report.preprocessing_summary(data, prune=args.prune, threads=args.threads)
    notes = [
        *report.footer_notes(comparison.results, args.repeat, args.seeds),
        *preprocessing.pop("notes"),
        *report.row_notes(comparison),
    ]
    _print_report(comparison, args, notes)
    tuning = _tune(data, args, settings, comparison, progress) if args.tune else None

    status = 1 if comparison.any_failed else 0
    if args.json:
        recorded = {
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "prune"},
            "sgd_initial_weights": comparison.start_source,
            "clean": args.clean, "standardize": args.standardize, "prune": settings.prune,
        }  # fmt: skip
        doc = report.json_document(
            comparison, data, recorded, command=command, preprocessing=preprocessing, notes=notes
        )
        if tuning is not None:
            doc["tuning"] = [r.to_dict() for r in tuning]
        status |= _save(
            progress, f"cannot write {args.json}", OSError, report.write_json, args.json, doc
        )
    if args.plot and not comparison.rows:
        print("fastcost compare: nothing to plot, no row ran", file=sys.stderr)
        return 1
    if args.plot:
        title = f"Linear regression fit, {n_train} x {d} ({dtype}), {settings.threads} threads"
        errors = (ImportError, OSError, ValueError)
        status |= _save(
            progress, "cannot plot", errors, report.plot, args.plot, comparison, title, tuning
        )
    return status


def _tune(data: Dataset, args: argparse.Namespace, settings: Settings, comparison: Comparison,
          progress: Progress) -> list[Any] | None:  # fmt: skip
    """``--tune``: the tuning rows (:mod:`fastcost.compare.tune`), printed; None if they fail."""
    from fastcost.compare import tune

    tf = next((r for r in comparison.results if r.name == "tensorflow"), None)
    try:
        with progress.step("tuning alpha (fastcost, GridSearchCV, RidgeCV)"):
            rows = tune.run_tuning(data, args.seed, int(settings.threads or 1), args.repeat, tf)
    except Exception as exc:  # one failing row must not lose the main table
        print(f"fastcost compare: --tune failed: {one_line(str(exc))}", file=sys.stderr)
        return None
    print(tune.table(rows))
    return rows
