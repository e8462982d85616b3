"""Running ``fastcost compare``: load the split, run the rows, print and write the report."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from fastcost._threads import available_cores
from fastcost.baselines.tensorflow import glorot_uniform
from fastcost.compare import report
from fastcost.compare.result import Comparison, RunResult
from fastcost.compare.runners import RUNNERS, Runner, Settings, Start
from fastcost.datasets import Dataset, load_file, make_default

__all__ = ["Progress", "compare", "run_comparison"]


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


def run_comparison(
    names: Sequence[str], data: Dataset, settings: Settings, progress: Progress
) -> Comparison:
    """Run the rows ``names`` (:func:`~fastcost.compare.runners.select`) one after another.

    The SGDs start from Keras' default drawn with NumPy, or from the initial
    weights of a row that gives them once it has run. A row whose optional
    library is missing is skipped, a row that raises fails; the others still run.

    Returns
    -------
    Comparison
    """
    comparison = Comparison(names=list(names))
    start: Start = glorot_uniform(data.n_features, settings.seed)
    for i, name in enumerate(names, 1):
        runner = RUNNERS[name]
        label = f"[{i}/{len(names)}] {name}"
        t0 = time.perf_counter()
        try:
            with progress.step(f"{label}: running"):
                res = _run_one(runner, data, settings, start, progress, label)
        except Exception as exc:
            hint = runner.install_hint if isinstance(exc, ImportError) else None
            if hint is None:
                tb = traceback.format_exc()
                comparison.failed.append({"name": name, "error": repr(exc), "traceback": tb})
                progress.say(f"{label}: failed: {type(exc).__name__}: {exc}")
            else:
                progress.say(f"{label}: skipped, {runner.library} is not installed: {hint}")
                comparison.skipped.append({"name": name, "reason": f"not installed ({hint})"})
            continue
        if runner.gives_start:
            assert res.initial_coef is not None
            start = (res.initial_coef, float(res.initial_intercept or 0.0))
            comparison.start_source = runner.name
        comparison.results.append(res)
        progress.say(
            f"{label}: fit {report.format_time(res.report.wall_time_s)}, "
            f"total {report.format_time(time.perf_counter() - t0)} with warm-up"
        )
    return comparison


def _run_one(
    runner: Runner, data: Dataset, settings: Settings, start: Start, progress: Progress, label: str
) -> RunResult:
    """``runner.run``, its environment warnings turned into progress notes."""
    if not runner.note_warnings:
        return runner.run(data, settings, start)
    with warnings.catch_warnings(record=True) as caught:
        for category in runner.note_warnings:
            warnings.simplefilter("always", category)
        res = runner.run(data, settings, start)
    for w in caught:
        progress.say(f"{label}: note: {w.message}")
    return res


def _load(args: argparse.Namespace) -> Dataset:
    """The split of ``--data``, else the built-in problem."""
    common = {"seed": args.seed, "dtype": args.dtype, "standardize": args.standardize}
    if args.data:
        return load_file(args.data, target=args.target, clean=args.clean, **common)
    return make_default(args.n_samples, args.n_features, noise=args.noise, **common)


def _save(
    progress: Progress, failure: str, errors: Any, save: Callable[..., None], path: str, *what: Any
) -> int:
    """``save(path, *what)``: 0, or 1 with ``failure`` and the error said on stderr."""
    try:
        save(path, *what)
    except errors as exc:
        print(f"fastcost compare: {failure}: {exc}", file=sys.stderr)
        return 1
    progress.say(f"wrote {path}")
    return 0


def compare(names: Sequence[str], args: argparse.Namespace, command: list[str]) -> int:
    """``fastcost compare``: run the rows ``names``, print the table, write what is asked.

    Parameters
    ----------
    names : sequence of str
        Rows of :data:`~fastcost.compare.runners.RUNNERS`, in run order.
    args, command : argparse.Namespace, list of str
        The parsed options (:func:`fastcost.cli.build_parser`); the command line.

    Returns
    -------
    int
        0; 1 when the data, a row, the JSON or the chart failed.
    """
    progress = Progress(sys.stderr, args.quiet)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)}
    settings = Settings(**{**given, "threads": args.threads or available_cores()})
    try:
        data = _load(args)
    except (OSError, ValueError, ImportError) as exc:
        print(f"fastcost compare: cannot load data: {exc}", file=sys.stderr)
        return 1
    (n_train, d), dtype = data.X_train.shape, data.X_train.dtype.name
    progress.say(
        f"fastcost compare: {n_train} train / {data.X_test.shape[0]} test rows, {d} features, "
        f"{dtype}, {settings.threads} threads, {len(names)} solvers"
    )

    comparison = run_comparison(names, data, settings, progress)
    results = comparison.results
    if results:
        print(report.table(results, comparison.tensorflow_wall_s, args.price_per_hour is not None))
    preprocessing = report.preprocessing_summary(data, prune=args.prune, threads=args.threads)
    notes = [*report.footer_notes(results, args.repeat), *preprocessing.pop("notes")]
    print(*notes, sep="\n")
    for item in comparison.skipped:
        print(f"skipped {item['name']}: {item['reason']}")
    for item in comparison.failed:
        print(f"failed {item['name']}: {item['error']}")

    status = 1 if comparison.failed else 0
    if args.json:
        recorded = {
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "prune"},
            "sgd_initial_weights": comparison.start_source,
            "clean": args.clean, "standardize": args.standardize, "prune": settings.prune,
        }  # fmt: skip
        doc = report.json_document(
            comparison, data, recorded, command=command, preprocessing=preprocessing, notes=notes
        )
        status |= _save(
            progress, f"cannot write {args.json}", OSError, report.write_json, args.json, doc
        )
    if args.plot and not results:
        print("fastcost compare: nothing to plot, every run failed", file=sys.stderr)
        return 1
    if args.plot:
        title = f"Linear regression fit, {n_train} x {d} ({dtype}), {settings.threads} threads"
        errors = (ImportError, OSError, ValueError)
        tf_wall = comparison.tensorflow_wall_s
        status |= _save(
            progress, "cannot plot", errors, report.plot, args.plot, results, tf_wall, title
        )
    return status
