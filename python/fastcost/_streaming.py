"""``fastcost.fit_dataset``: fit a dataset of files larger than memory.

Parquet, CSV and Arrow IPC files are read through ``pyarrow.dataset`` one
record batch at a time, file by file (so an error names its file), with a
bounded read-ahead: memory holds a few batches, never the dataset. newton and
qr add each batch to :class:`~fastcost._sufficient.SufficientStatistics` (one
pass, exact: the result equals a fit of all rows in memory); lbfgs and gd run
the compiled loops of an in-memory fit with a data pass that re-reads the
dataset per pass and sums the same per-block kernels a Dask chunk runs
(``fastcost._dask_tasks``), merged the same way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _core
from ._dask_tasks import (
    _add,
    _center_task,
    _merge_moments,
    _moments_task,
    _probe_task,
    _totals_task,
)
from ._pipeline import AUTO_NEWTON_MAX_FEATURES, finish_report, run_fit
from ._result import SolveResult
from ._stream_source import ARGUMENTS, StreamSource, _float64
from ._sufficient import (
    StatisticsBackend,
    SufficientStatistics,
    batch_statistics,
    check_batch,
    column_statistics,
)
from ._threads import resolve_n_threads
from ._validation import find_nonfinite
from .exceptions import NonFiniteError
from .resources import ResourceReport, fit_clock

#: Rows the row-wise passes (qr's factor, lbfgs's loss and gradient) read at a
#: time: a block of feature values (3.2 MB at 100 float64 columns) copied out
#: of a record batch is still in cache when the kernel reads it; a whole batch
#: is not, and the decoding of the next batches running beside the kernel
#: evicts it. newton's Gram reads a whole batch's columns in place instead (the
#: kernel packs its own cache-sized row panels from them): no copy at all.
BLOCK_ROWS = 4096

#: Solvers fit_dataset runs: newton and qr in one pass, lbfgs and gd one pass per evaluation.
STREAM_SOLVERS = ("auto", "newton", "qr", "lbfgs", "gd")


def compute_threads(n_threads: int) -> int:
    """Kernel threads beside the reading thread: one core is left to decoding
    (OpenMP threads preempted by it stall at every barrier)."""
    return max(1, n_threads - 1)


class _Progress:
    """rows, rows/s and ETA on one stderr line, refreshed at most twice a second."""

    def __init__(self, total: int | None, enabled: bool, label: str) -> None:
        self.total, self.enabled, self.label = total, enabled, label
        self.rows = 0
        self.t0 = self.last = time.perf_counter()

    def add(self, rows: int) -> None:
        self.rows += rows
        now = time.perf_counter()
        if self.enabled and now - self.last >= 0.5:
            self.last = now
            self._draw(now, end="")

    def close(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter(), end="\n")

    def _draw(self, now: float, end: str) -> None:
        rate = self.rows / max(now - self.t0, 1e-9)
        text = f"\r{self.label}: {self.rows:,} rows"
        if self.total:
            left = max(self.total - self.rows, 0) / max(rate, 1e-9)
            text += f" of {self.total:,} ({100 * self.rows / self.total:.0f} %)"
            text += (
                f", {rate:,.0f} rows/s, ETA {left:.0f} s" if end == "" else f", {rate:,.0f} rows/s"
            )
        else:
            text += f", {rate:,.0f} rows/s"
        print(text, end=end, file=sys.stderr, flush=True)


def missing_cell(path: str, column: str, row: int) -> NonFiniteError:
    """The error of a missing or non-finite cell; ``row`` counts the data rows of
    the dataset (its files in order, a CSV header not counted) from 0, as the
    in-memory fit counts the rows of X."""
    return NonFiniteError(
        f"{path}: column {column!r} is missing or not finite at row {row} of the dataset "
        "counting from 0 (header lines not counted); clean the data first"
    )


def nonfinite_error(path: str, offset: int, src: StreamSource, X: Any, y: Any, sw: Any,
                    exc: BaseException) -> NonFiniteError:  # fmt: skip
    """The first missing or non-finite cell of a batch, named by file, row and column."""
    for name, v in ((src.target, y), (src.weight, sw)):
        if v is not None and not np.isfinite(v).all():
            return missing_cell(path, str(name), offset + int(np.flatnonzero(~np.isfinite(v))[0]))
    bad = find_nonfinite(X) if X is not None else None
    if bad is not None:
        return missing_cell(path, src.features[bad[1]], offset + bad[0])
    return NonFiniteError(f"{path}: {exc}")


def stream_statistics(src: StreamSource, kind: str, n_threads: int, progress: _Progress
                      ) -> SufficientStatistics:  # fmt: skip
    """One pass: every batch's statistics about the first row, added in order."""
    total: SufficientStatistics | None = None
    buf = np.empty((min(BLOCK_ROWS, src.batch_rows), len(src.features)), order="F")
    threads = compute_threads(n_threads)
    for path, offset, batch in src.batches(prefetch=True):
        if kind == "gram":  # the kernel reads the batch's columns in place
            blocks: Any = [(0, [_float64(batch.column(n)) for n in src.features],
                            *src.target_weights(batch))]  # fmt: skip
        else:
            blocks = src.blocks(batch, buf)
        for a, X, y, sw in blocks:
            shift = None if total is None else total.shift
            try:
                if kind == "gram":
                    part = column_statistics(X, y, sw, shift, threads)
                else:
                    X, y, sw = check_batch(X, y, sw)
                    part = batch_statistics(kind, X, y, sw, shift, 1, threads)
            except (NonFiniteError, ValueError) as exc:
                if isinstance(exc, NonFiniteError) or "NaN" in str(exc):
                    X = np.column_stack(X) if isinstance(X, list) else X
                    raise nonfinite_error(path, offset + a, src, X, y, sw, exc) from exc
                raise ValueError(f"{path}: {exc}") from exc
            total = part if total is None else total.merge(part)
        progress.add(batch.num_rows)
    progress.close()
    if total is None:
        raise ValueError(f"the dataset ({len(src.files)} file(s)) has no rows")
    return total


class _StreamPass:
    """The data pass of ``_core.minimize`` over a dataset of files: each request
    re-reads the dataset and sums the per-block kernels of a Dask chunk."""

    takes_row_sample = False  # random row blocks would each cost a read of their file

    def __init__(self, src: StreamSource, n_threads: int, progress: bool) -> None:
        self.src, self.progress = src, progress
        self.threads = compute_threads(n_threads)
        self.n_features, self.dtype = len(src.features), "float64"
        self.buf = np.empty((min(BLOCK_ROWS, src.batch_rows), self.n_features), order="F")
        self.reads = 0
        self.n_rows = src.n_rows if src.n_rows is not None else self._count()

    def _count(self) -> int:
        return sum(batch.num_rows for _, _, batch in self.src.batches(with_x=False))

    def _map(self, task: Any, combine: Any, with_x: bool, *args: Any) -> Any:
        label = f"pass {self.reads + 1}" if with_x else "totals"
        bar = _Progress(self.n_rows, self.progress, label)
        total = None
        for path, offset, batch in self.src.batches(with_x, prefetch=True):
            for a, X, y, sw in self.src.blocks(batch, self.buf, with_x):
                if X is None:  # the totals read y and the weights only
                    X = self.buf[: len(y)]
                if not (np.isfinite(y).all() and (sw is None or np.isfinite(sw).all())):
                    raise nonfinite_error(path, offset + a, self.src, None, y, sw, ValueError())
                part = task(X, y, sw, *args)
                total = part if total is None else combine(total, part)
            bar.add(batch.num_rows)
        bar.close()
        if with_x:
            self.reads += 1
        return total

    def start(self, moments: bool, center_rows: list[int] | None,
              sample: list[tuple[int, int]]) -> dict[str, Any]:  # fmt: skip
        args = (0, self.threads)
        if moments:
            totals = self._map(_moments_task, _merge_moments, True, *args)
        else:
            totals = self._map(_totals_task, _add, False, *args)
        out: dict[str, Any] = {
            "sum_w": float(totals["sums"][0]),
            "sum_wy": float(totals["sums"][1]),
            "moments": totals.get("moments"),
            "center": None,
        }
        if center_rows is not None:
            rows, sw = self.src.take(list(center_rows))
            out["center"] = _center_task(rows, sw)
        return out

    def probes(self, probes: list[tuple[np.ndarray | None, float, bool]]) -> dict[str, Any]:
        return self._map(_probe_task, _add, True, probes, 0, self.threads)  # type: ignore[no-any-return]


class _StreamBackend(StatisticsBackend):
    """The fit pipeline's backend for a dataset of files: newton and qr from one
    pass of statistics, lbfgs and gd from ``_StreamPass``."""

    def __init__(self, est: Any, src: StreamSource, progress: bool) -> None:
        self.src, self.est, self.progress = src, est, progress
        self.n_threads = resolve_n_threads(est.n_threads)
        self.n_features = len(src.features)
        self.n_samples = src.n_rows or 0
        self.dtype = np.dtype(np.float64)
        self.solvers = ("newton", "qr", "lbfgs", "gd")
        self.qr_advice = ""
        self.reads = 0
        self._stats: dict[str, SufficientStatistics] = {}
        self._where = f" streaming {len(src.files)} {src.fmt} file(s)"

    @property
    def stats(self) -> SufficientStatistics:  # type: ignore[override]
        return next(iter(self._stats.values()))

    def auto_solver(self) -> tuple[str, str]:
        if self.n_features <= AUTO_NEWTON_MAX_FEATURES:
            return "newton", ""
        return "lbfgs", f": {self.n_features} features (> {AUTO_NEWTON_MAX_FEATURES})"

    def _pass(self, solver: str) -> SufficientStatistics:
        kind = "gram" if solver == "newton" else "qr"
        if kind not in self._stats:
            bar = _Progress(self.src.n_rows, self.progress, f"{solver} pass")
            self._stats = {kind: stream_statistics(self.src, kind, self.n_threads, bar)}
            self.reads += 1
            self.n_samples = self._stats[kind].n_rows
        return self._stats[kind]

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:
        if solver in ("newton", "qr"):
            self._pass(solver)
            result = super().solve(solver, options, want_factor)
            result.n_passes = 1
            return result
        stream = _StreamPass(self.src, self.n_threads, self.progress)
        self.n_samples = stream.n_rows
        result = SolveResult.from_core(_core.minimize(stream, solver, _core.FitOptions(**options)))
        self.reads += stream.reads
        return result

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        st = self._pass(solver)
        return st.matrix, st.shift

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        st = self._pass("qr")
        return dict(st.core_dict(), r=st.matrix)

    def attributes(self) -> dict[str, Any]:
        return {
            "n_features_in_": self.n_features,
            "feature_names_in_": np.asarray(self.src.features, dtype=object),
        }

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        return clock.report(
            threads=self.n_threads, n_passes=n_passes,
            bytes_per_pass=self.n_samples * (self.n_features + 1) * 8, flops=flops,
        )  # fmt: skip


def fit_dataset(
    source: Any, target: str, columns: Any = None, *, sample_weight: str | None = None,
    format: str | None = None, batch_rows: int | None = None, progress: bool = False,
    **params: Any,
) -> Any:  # fmt: skip
    """Fit a :class:`fastcost.LinearRegression` on a dataset of files, in bounded memory.

    Parameters
    ----------
    source : str, path or list
        A file, a glob pattern (``"data/*.parquet"``), a directory or a list of
        them: Parquet, CSV or Arrow IPC (``format`` from the extensions).
    target : str
        The target column.
    columns : list of str, optional
        Feature columns (default: every other column but ``sample_weight``, and
        an unnamed first column that numbers or names the rows). Numeric and
        boolean columns, and text columns as categorical features; a missing
        number is an error naming its file, row and column, a missing text
        value a level of its own. In CSV files, the text pandas' ``read_csv``
        reads as missing (``NA``, an empty cell, ...) is missing.
    sample_weight : str, optional
        A column of non-negative weights.
    batch_rows : int, optional
        Rows per record batch (default: about 32 MB of features).
    progress : bool, default=False
        Rows, rows/s and ETA on stderr.
    **params
        ``LinearRegression`` parameters, e.g. ``solver="newton"``. newton and qr
        read the dataset once (the statistics add batch by batch: the model
        equals a fit of all rows in memory, to rounding); lbfgs and gd read it
        once per pass (``n_passes_``). ``auto``: newton up to
        ``AUTO_NEWTON_MAX_FEATURES`` features, else lbfgs. sgd is not available
        (``partial_fit`` runs its epochs over batches you read).

    Returns
    -------
    LinearRegression
        Fitted; ``statistics_`` holds newton's or qr's statistics (more files
        can be added with ``partial_fit``), ``n_samples_seen_`` the rows read,
        ``fit_report_`` the cost of the fit, reading included. A failure leaves
        no fitted model.

    Examples
    --------
    >>> import fastcost  # doctest: +SKIP
    >>> model = fastcost.fit_dataset("data/*.parquet", target="y", solver="newton")  # doctest: +SKIP
    """
    return fit_files(source, target, columns, sample_weight, format, batch_rows, progress,
                     params, ARGUMENTS)  # fmt: skip


def fit_files(source: Any, target: str, columns: Any, sample_weight: str | None,
              fmt: str | None, batch_rows: int | None, progress: bool, params: dict[str, Any],
              arguments: Mapping[str, str]) -> Any:  # fmt: skip
    """:func:`fit_dataset`, its messages naming the arguments as ``arguments`` says
    (``ARGUMENTS``: fit_dataset's; ``fastcost fit`` passes its options)."""
    from .linear_model import LinearRegression

    est = LinearRegression(**params)
    est._check_params()
    if est.solver not in STREAM_SOLVERS:
        raise ValueError(
            f"fit_dataset runs solver in {STREAM_SOLVERS}, not {est.solver!r} "
            "(sgd: read batches yourself and call partial_fit)"
        )
    if est.device != "cpu":
        raise NotImplementedError("fit_dataset runs on device='cpu'")
    with fit_clock() as clock:
        src = StreamSource.open(source, target, columns, sample_weight, fmt, batch_rows,
                                est.categorical_features, arguments)  # fmt: skip
        backend: Any
        if src.categorical:
            backend = _fit_mixed(est, src, progress)
        else:
            backend = _StreamBackend(est, src, progress)
            run_fit(est, backend)
            est.n_passes_ = backend.reads
            if backend._stats:
                est.statistics_ = backend.stats
        est.n_samples_seen_ = int(backend.n_samples)
    finish_report(est, backend, clock)
    return est


def _fit_mixed(est: Any, src: StreamSource, progress: bool) -> Any:
    """newton over a dataset with categorical columns (``_streaming_tables``)."""
    from ._categorical import finish_table_fit
    from ._streaming_tables import StreamMixedBackend

    def bar(label: str) -> _Progress:
        return _Progress(src.n_rows, progress, label)

    backend: Any = StreamMixedBackend(est, src, progress, bar)
    run_fit(est, backend)
    est.encoder_ = backend.encoder
    finish_table_fit(est, backend)
    est.n_passes_ = backend.reads
    est.n_features_in_ = len(src.features)
    est.feature_names_in_ = np.asarray(src.features, dtype=object)
    return backend
