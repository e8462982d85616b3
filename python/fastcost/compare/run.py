"""Running a comparison: load the split, run every selected row, report.

:func:`compare` is ``fastcost compare`` after its arguments are parsed: it
loads (or makes) the data, split 80/20 and standardized on the training rows
(:class:`DataOptions`), runs each row of :data:`~fastcost.compare.runners.RUNNERS`
asked for with the same :class:`~fastcost.compare.runners.Settings`
(:func:`run_comparison`: every runner warms up outside its measurement), prints
the table on stdout and progress on stderr, and writes the JSON and the chart
when asked (:class:`OutputOptions`).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from fastcost._threads import available_cores
from fastcost.baselines.tensorflow import glorot_uniform
from fastcost.compare.report import (
    footer_notes,
    format_time,
    json_document,
    plot,
    preprocessing_summary,
    table,
    write_json,
)
from fastcost.compare.result import Comparison, RunResult
from fastcost.compare.runners import RUNNERS, Runner, Settings, Start
from fastcost.datasets import (
    DEFAULT_N_FEATURES,
    DEFAULT_N_SAMPLES,
    DEFAULT_NOISE,
    Dataset,
    load_file,
    make_default,
)

__all__ = ["DataOptions", "OutputOptions", "Progress", "compare", "run_comparison"]


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """Where the data come from and how they are prepared.

    Attributes
    ----------
    path : str or None
        A CSV, Parquet, ``.npy`` or ``.npz`` file (see
        :func:`fastcost.datasets.load_file`); None: the built-in problem
        (:func:`fastcost.datasets.make_default`).
    target : str or None
        The target column or array of the file.
    n_samples, n_features, noise : int, int, float
        Size and noise of the built-in problem.
    dtype : {"float64", "float32"}
        dtype of the split.
    clean : {"raise", "drop", "impute"}
        NaN/inf in a file's data.
    standardize : bool
        Standardize ``X`` on the training rows.
    """

    path: str | None = None
    target: str | None = None
    n_samples: int = DEFAULT_N_SAMPLES
    n_features: int = DEFAULT_N_FEATURES
    noise: float = DEFAULT_NOISE
    dtype: str = "float64"
    clean: str = "raise"
    standardize: bool = True

    def load(self, seed: int) -> Dataset:
        """The split, 80/20, with ``seed`` for the generator and the split.

        Raises
        ------
        OSError, ValueError, ImportError
            When the file cannot be read, its data are invalid, or reading it
            needs a library that is missing.
        """
        if self.path:
            return load_file(
                self.path, target=self.target, seed=seed, dtype=self.dtype,
                clean=self.clean, standardize=self.standardize,
            )  # fmt: skip
        return make_default(
            self.n_samples, self.n_features, noise=self.noise, seed=seed, dtype=self.dtype,
            standardize=self.standardize,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class OutputOptions:
    """What a comparison writes besides the table.

    Attributes
    ----------
    json : str or None
        File for the JSON document.
    plot : str or None
        Image file for the chart (needs matplotlib).
    quiet : bool
        No progress on stderr.
    command : tuple of str
        The command line, recorded in the JSON document.
    """

    json: str | None = None
    plot: str | None = None
    quiet: bool = False
    command: tuple[str, ...] = ("fastcost", "compare")


class Progress:
    """One line per runner on a stream, and a heartbeat for long runs.

    Parameters
    ----------
    stream : text stream
        Where the lines go (``fastcost compare``: stderr).
    quiet : bool
        Say nothing.
    every_s : float, default=10.0
        Seconds between heartbeats of a step.
    """

    def __init__(self, stream: TextIO, quiet: bool, every_s: float = 10.0) -> None:
        self.stream = stream
        self.quiet = quiet
        self.every_s = every_s

    def say(self, text: str) -> None:
        """Write one line, unless quiet."""
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Announce ``label``, then say every ``every_s`` seconds that it still runs."""
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


def run_comparison(
    names: Sequence[str], data: Dataset, settings: Settings, progress: Progress
) -> Comparison:
    """Run the rows ``names`` one after another on ``data``.

    The SGDs start from Keras' default drawn with NumPy, or from the initial
    weights of a row that gives them (TensorFlow) once it has run. A row whose
    optional library is missing is skipped, a row that raises is recorded as
    failed; the others still run.

    Parameters
    ----------
    names : sequence of str
        Rows of :data:`~fastcost.compare.runners.RUNNERS`, in run order
        (:func:`~fastcost.compare.runners.select`).
    data : Dataset
        The split.
    settings : Settings
        Given to every runner.
    progress : Progress
        Says what runs.

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
                if runner.gives_start:
                    assert res.initial_coef is not None
                    start = (res.initial_coef, float(res.initial_intercept or 0.0))
                    comparison.start_source = runner.name
        except ImportError as exc:
            if runner.install_hint is None:
                _record_failure(comparison, name, exc, progress, label)
            else:
                hint = runner.install_hint
                progress.say(f"{label}: skipped, {runner.library} is not installed: {hint}")
                comparison.skipped.append({"name": name, "reason": f"not installed ({hint})"})
            continue
        except Exception as exc:
            _record_failure(comparison, name, exc, progress, label)
            continue
        comparison.results.append(res)
        progress.say(
            f"{label}: fit {format_time(res.wall_time_s)}, "
            f"total {format_time(time.perf_counter() - t0)} with warm-up"
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


def _record_failure(
    comparison: Comparison, name: str, exc: Exception, progress: Progress, label: str
) -> None:
    """Keep the error of a row that raised (called inside its ``except``)."""
    comparison.failed.append(
        {"name": name, "error": repr(exc), "traceback": traceback.format_exc()}
    )
    progress.say(f"{label}: failed: {type(exc).__name__}: {exc}")


def compare(
    names: Sequence[str],
    data_options: DataOptions | None = None,
    settings: Settings | None = None,
    output: OutputOptions | None = None,
) -> int:
    """``fastcost compare``: run the rows ``names``, print the table, write what is asked.

    Parameters
    ----------
    names : sequence of str
        Rows of :data:`~fastcost.compare.runners.RUNNERS`, in run order
        (:func:`~fastcost.compare.runners.select`).
    data_options : DataOptions, optional
        Default: the built-in problem.
    settings : Settings, optional
        Given to every runner; ``threads=None`` becomes the cores this process
        may use.
    output : OutputOptions, optional
        Default: the table and progress only.

    Returns
    -------
    int
        0 on success; 1 when the data could not be loaded, a row failed, or
        the JSON or the chart could not be written.
    """
    data_options = data_options or DataOptions()
    settings = settings or Settings()
    output = output or OutputOptions()
    progress = Progress(sys.stderr, output.quiet)
    asked_threads = settings.threads
    settings = dataclasses.replace(settings, threads=asked_threads or available_cores())

    try:
        data = data_options.load(settings.seed)
    except (OSError, ValueError, ImportError) as exc:
        print(f"fastcost compare: cannot load data: {exc}", file=sys.stderr)
        return 1
    n_train, d = data.X_train.shape
    progress.say(
        f"fastcost compare: {n_train} train / {data.X_test.shape[0]} test rows, {d} features, "
        f"{data.X_train.dtype.name}, {settings.threads} threads, {len(names)} solvers"
    )

    comparison = run_comparison(names, data, settings, progress)
    if comparison.results:
        price = settings.price_per_hour is not None
        print(table(comparison.results, comparison.tensorflow_wall_s, price))
    notes = footer_notes(comparison.results, settings.repeat)
    preprocessing = preprocessing_summary(data, prune=settings.prune, threads=asked_threads)
    notes.extend(preprocessing.pop("notes"))
    for note in notes:
        print(note)
    for item in comparison.skipped:
        print(f"skipped {item['name']}: {item['reason']}")
    for item in comparison.failed:
        print(f"failed {item['name']}: {item['error']}")

    status = 1 if comparison.failed else 0
    if output.json:
        doc = json_document(
            comparison, data, settings,
            clean=data_options.clean, standardize=data_options.standardize,
            preprocessing=preprocessing, notes=notes, command=list(output.command),
        )  # fmt: skip
        status = max(status, _save_json(output.json, doc, progress))
    if output.plot:
        title = (
            f"Linear regression fit, {n_train} x {d} ({data.X_train.dtype.name}), "
            f"{settings.threads} threads"
        )
        status = max(status, _save_plot(output.plot, comparison.results, title, progress))
    return status


def _save_json(path: str, doc: dict[str, Any], progress: Progress) -> int:
    """Write the JSON document; the exit status it leaves (1: not written)."""
    try:
        write_json(path, doc)
    except OSError as exc:
        print(f"fastcost compare: cannot write {path}: {exc}", file=sys.stderr)
        return 1
    progress.say(f"wrote {path}")
    return 0


def _save_plot(path: str, results: list[RunResult], title: str, progress: Progress) -> int:
    """Save the chart; the exit status it leaves (1: nothing to plot, or not saved)."""
    if not results:
        print("fastcost compare: nothing to plot, every run failed", file=sys.stderr)
        return 1
    try:
        plot(path, results, title)
    except (ImportError, OSError, ValueError) as exc:
        print(f"fastcost compare: cannot plot: {exc}", file=sys.stderr)
        return 1
    progress.say(f"wrote {path}")
    return 0
