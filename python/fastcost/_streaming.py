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

import glob
import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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

#: File formats by extension (``pyarrow.dataset`` format names).
FORMATS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".arrow": "ipc",
    ".ipc": "ipc", ".feather": "ipc",
}  # fmt: skip

#: Bytes of feature values per record batch: big enough to amortize the kernels'
#: start-up, small enough that a few batches in flight stay far below the data.
BATCH_BYTES = 32 << 20

#: Rows the row-wise passes (qr's factor, lbfgs's loss and gradient) read at a
#: time: a block of feature values (3.2 MB at 100 float64 columns) copied out
#: of a record batch is still in cache when the kernel reads it; a whole batch
#: is not, and the decoding of the next batches running beside the kernel
#: evicts it. newton's Gram reads a whole batch's columns in place instead (the
#: kernel packs its own cache-sized row panels from them): no copy at all.
BLOCK_ROWS = 4096

#: Solvers fit_dataset runs: newton and qr in one pass, lbfgs and gd one pass per evaluation.
STREAM_SOLVERS = ("auto", "newton", "qr", "lbfgs", "gd")

#: Text a CSV reader reads as a missing value, in a text column as in a numeric
#: one: pandas' ``read_csv`` defaults (pyarrow's, plus ``<NA>`` and ``None``), so
#: that a file streamed and the same file read by pandas hold the same table.
CSV_NULL_VALUES = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip

#: How the messages name the arguments that fix a problem: fit_dataset's own;
#: ``fastcost fit`` passes its options instead.
ARGUMENTS = {"columns": "columns=[...]", "format": "format=",
             "categorical_features": "categorical_features=[...]"}  # fmt: skip


def _import_pyarrow() -> Any:
    try:
        import pyarrow.dataset as ds
    except ImportError as exc:  # pragma: no cover - pyarrow is in the data extra
        raise ImportError(
            "fastcost.fit_dataset reads files with pyarrow: pip install 'fastcost[data]'"
        ) from exc
    return ds


def open_dataset(path: str, fmt: str, schema: Any = None) -> Any:
    """``pyarrow.dataset`` of one file; CSV text cells that pandas reads as missing
    (``NA``, empty, ...) are nulls, not text levels (``CSV_NULL_VALUES``).
    ``schema``: the dataset's (:func:`_schema_of`), whose typed columns a CSV file
    is read as, so that every file's batches agree (a column of one file's
    missing values alone would have no type there)."""
    ds = _import_pyarrow()
    if fmt != "csv":
        return ds.dataset(path, format=fmt)
    import pyarrow as pa
    import pyarrow.csv as csv

    types = (
        {} if schema is None else {f.name: f.type for f in schema if not pa.types.is_null(f.type)}
    )
    convert = csv.ConvertOptions(
        strings_can_be_null=True, null_values=list(CSV_NULL_VALUES), column_types=types
    )
    return ds.dataset(path, format=ds.CsvFileFormat(convert_options=convert))


def _files(source: Any) -> list[str]:
    """The files of ``source``: a path, a glob pattern, a directory or a list of them."""
    if isinstance(source, (list, tuple)):
        return [f for s in source for f in _files(s)]
    path = os.fspath(source)
    if any(ch in path for ch in "*?["):
        found = sorted(glob.glob(path, recursive=True))
        if not found:
            raise FileNotFoundError(f"no file matches {path!r}")
        return [f for f in found if os.path.isfile(f)]
    if os.path.isdir(path):
        found = sorted(
            os.path.join(root, f)
            for root, _, names in os.walk(path)
            for f in names
            if os.path.splitext(f)[1].lower() in FORMATS
        )
        if not found:
            raise FileNotFoundError(f"{path!r} holds no {sorted(set(FORMATS))} file")
        return found
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    return [path]


def _format_of(files: list[str], fmt: str | None, arguments: Mapping[str, str]) -> str:
    if fmt is not None:
        if fmt not in set(FORMATS.values()):
            raise ValueError(f"format must be one of {sorted(set(FORMATS.values()))}, got {fmt!r}")
        return fmt
    kinds = {FORMATS.get(os.path.splitext(f)[1].lower()) for f in files}
    if None in kinds or len(kinds) != 1:
        raise ValueError(
            "cannot tell the files' format from their extensions "
            f"({sorted({os.path.splitext(f)[1] for f in files})}): pass {arguments['format']}"
        )
    return str(kinds.pop())


@dataclass
class StreamSource:
    """The files of a dataset, its columns and how to read them in batches."""

    files: list[str]
    fmt: str
    features: list[str]
    target: str
    weight: str | None
    batch_rows: int
    n_rows: int | None = None
    #: Categorical feature columns (text, dictionary, or declared) and the declared ones.
    categorical: list[str] = field(default_factory=list)
    declared: list[str] = field(default_factory=list)
    #: How messages name the arguments that fix a problem (:data:`ARGUMENTS`).
    arguments: Mapping[str, str] = field(default_factory=lambda: ARGUMENTS)
    #: The dataset's schema (:func:`_schema_of`), which every file is read with.
    schema: Any = None

    @classmethod
    def open(cls, source: Any, target: str, columns: Any, weight: str | None,
             fmt: str | None, batch_rows: int | None, declared: Any = None,
             arguments: Mapping[str, str] = ARGUMENTS) -> StreamSource:  # fmt: skip
        files = _files(source)
        fmt = _format_of(files, fmt, arguments)
        schema, typed = _schema_of(files, fmt)
        names = list(schema.names)
        wanted = [target] + ([weight] if weight else [])
        features = list(columns) if columns is not None else [c for c in names if c not in wanted]
        missing = [c for c in [*wanted, *features] if c not in names]
        if missing:
            raise ValueError(f"{typed} has no column(s) {missing}; its columns are {names}")
        _check_rows(schema, typed, fmt)
        _check_target(schema, target, weight)
        if columns is None:  # the main job's rule: an unnamed first column may be the row index
            features = _without_index(typed, fmt, features)
        if not features:
            raise ValueError(f"no feature column: pass {arguments['columns']}")
        declared = [] if declared is None or isinstance(declared, str) else list(declared)
        unknown = [c for c in declared if c not in features]
        if unknown:
            raise ValueError(
                f"{arguments['categorical_features']}: {unknown} are not feature columns"
            )
        categorical = _check_types(schema, features, declared, typed, arguments)
        rows = batch_rows or max(1024, BATCH_BYTES // (8 * len(features)))
        src = cls(files, fmt, features, target, weight, int(rows), None, categorical, declared,
                  arguments, schema)  # fmt: skip
        src.n_rows = src._count_rows()
        return src

    def _dataset(self, path: str) -> Any:
        return open_dataset(path, self.fmt, self.schema)

    def _count_rows(self) -> int | None:
        if self.fmt == "csv":
            return None  # a full parse: the progress bar goes without a total
        try:
            return int(sum(self._dataset(f).count_rows() for f in self.files))
        except Exception:
            return None  # the pass itself names the unreadable file

    def batches(self, with_x: bool = True, columns: list[str] | None = None,
                prefetch: bool = False) -> Iterator[tuple[str, int, Any]]:  # fmt: skip
        """(file, row offset of the batch in the dataset, record batch), in order:
        the features (``with_x``), target and weights, or just ``columns``.
        ``prefetch``: read on a thread of its own, two batches ahead, so that the
        reading and the kernels overlap."""
        if prefetch:
            return _prefetch(self.batches(with_x, columns), depth=2)
        return self._batches(with_x, columns)

    def _batches(self, with_x: bool, columns: list[str] | None) -> Iterator[tuple[str, int, Any]]:
        if columns is not None:
            cols = list(columns)
        else:
            cols = (self.features if with_x else []) + [self.target]
            cols += [self.weight] if self.weight else []
        offset = 0
        for path in self.files:
            try:
                scanner = self._dataset(path).to_batches(
                    columns=cols, batch_size=self.batch_rows, batch_readahead=2,
                    fragment_readahead=1, use_threads=True, **_scan_options(self.fmt),
                )  # fmt: skip
                for batch in scanner:
                    if batch.num_rows:
                        yield path, offset, batch
                        offset += batch.num_rows
            except (OSError, ValueError) as exc:
                if isinstance(exc, NonFiniteError):
                    raise
                raise ValueError(f"cannot read {path}: {exc}") from exc

    def blocks(self, batch: Any, buf: np.ndarray, with_x: bool = True
               ) -> Iterator[tuple[int, np.ndarray | None, np.ndarray, np.ndarray | None]]:  # fmt: skip
        """(first row, X, y, weights) of blocks of at most ``len(buf)`` rows of a
        batch; X is a view of ``buf`` (Fortran-ordered float64), refilled per block."""
        cols = [_float64(batch.column(name)) for name in self.features] if with_x else []
        y, sw = self.target_weights(batch)
        step = buf.shape[0]
        for a in range(0, batch.num_rows, step):
            b = min(a + step, batch.num_rows)
            X = None
            if with_x:
                X = buf[: b - a]
                for j, col in enumerate(cols):
                    X[:, j] = col[a:b]
            yield a, X, np.ascontiguousarray(y[a:b]), None if sw is None else sw[a:b]

    def target_weights(self, batch: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """A batch's y and weights as float64 (a missing value: NaN)."""
        y = np.ascontiguousarray(_float64(batch.column(self.target)))
        return y, _float64(batch.column(self.weight)) if self.weight else None

    def take(self, rows: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows (global indices) of X and the weights, read from their files."""
        want = np.asarray(rows, dtype=np.int64)
        parts: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        offset = 0
        for path in self.files:
            dset = self._dataset(path)
            n = dset.count_rows()
            mine = want[(want >= offset) & (want < offset + n)] - offset
            if mine.size:
                cols = self.features + ([self.weight] if self.weight else [])
                table = dset.take(mine, columns=cols)
                parts.append(np.column_stack([_float64(table.column(c)) for c in self.features]))
                if self.weight:
                    weights.append(table.column(self.weight).to_numpy())
            offset += n
        X = np.concatenate(parts)
        return X, (np.concatenate(weights) if self.weight else None)


def _without_index(path: str, fmt: str, features: list[str]) -> list[str]:
    """``features`` without the first file's row-index column, with the main job's
    note as a warning (``_tables.index_column``, on that one column's values)."""
    from ._tables import UNNAMED, index_column

    if not features or features[0] not in UNNAMED:
        return features
    found = index_column(open_dataset(path, fmt).to_table(columns=[features[0]]))
    if found is None:
        return features
    warnings.warn(found[1], UserWarning, stacklevel=4)
    return features[1:]


def _scan_options(fmt: str) -> dict[str, Any]:
    """Parquet without pre-buffering: the scanner then holds the pages of the
    batches in flight, not whole row groups of every column (2,000,000 x 100
    float64 in 2 files: peak RSS 436 MB instead of 1.6 GB, and 1.9x faster)."""
    if fmt != "parquet":
        return {}
    ds = _import_pyarrow()
    return {"fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False)}


def _prefetch(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """``items`` produced on a thread, up to ``depth`` ahead; its errors are raised
    here, and the thread stops when the consumer does (an error, a break)."""
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", end))
        except BaseException as exc:  # handed to the consumer
            put(("error", exc))

    thread = threading.Thread(target=run, name="fastcost-read", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def compute_threads(n_threads: int) -> int:
    """Kernel threads beside the reading thread: one core is left to decoding
    (OpenMP threads preempted by it stall at every barrier)."""
    return max(1, n_threads - 1)


def _float64(column: Any) -> np.ndarray:
    """An Arrow column as float64 values (missing: NaN); float64 without nulls is a view."""
    import pyarrow as pa

    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))


def _schema_of(files: list[str], fmt: str) -> tuple[Any, str]:
    """The dataset's schema and the file it is read from: the first file whose
    columns all have a type. A CSV file's column has none (``null``) where the
    file has no data rows or that column no value; the first file then need not
    decide the types. Without such a file, the first file's schema."""
    import pyarrow as pa

    first = None
    for path in files:
        try:
            schema = open_dataset(path, fmt).schema
        except Exception as exc:
            raise ValueError(f"cannot read {path}: {exc}") from exc
        if not any(pa.types.is_null(t) for t in schema.types):
            return schema, path
        if first is None:
            first = (schema, path)
        if fmt != "csv":  # Parquet and Arrow files state their types: no search
            break
    assert first is not None
    return _type_nulls(first[0], files, fmt), first[1]


def _type_nulls(schema: Any, files: list[str], fmt: str) -> Any:
    """``schema`` with its CSV columns typed ``null`` typed from all their values:
    pyarrow types a CSV column from the first block of each file (about 1 MB),
    and one whose first block holds no value has no type, though text or numbers
    may follow. Those columns alone are read through every file once, as text;
    one with values becomes float64 if they all read as numbers, else text. A
    column without any value stays ``null`` (missing numbers, as pandas reads it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    nulls = [f.name for f in schema if pa.types.is_null(f.type)]
    if fmt != "csv" or not nulls:
        return schema
    text = pa.schema([pa.field(c, pa.string()) for c in nulls])
    seen, numeric = dict.fromkeys(nulls, False), dict.fromkeys(nulls, True)
    for path in files:
        for batch in open_dataset(path, fmt, text).to_batches(columns=nulls):
            for c in nulls:
                values = batch.column(c).drop_null()
                if len(values) == 0:
                    continue
                seen[c] = True
                if numeric[c]:
                    try:
                        pc.cast(values, pa.float64())
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        numeric[c] = False
    for c in nulls:
        if seen[c]:
            schema = schema.set(
                schema.get_field_index(c), pa.field(c, pa.float64() if numeric[c] else pa.string())
            )
    return schema


def _check_rows(schema: Any, path: str, fmt: str) -> None:
    """An error for a file of a header and no data rows: its CSV columns then have
    no type (``null``), which would read as a type error instead."""
    import pyarrow as pa

    if any(pa.types.is_null(t) for t in schema.types) and open_dataset(path, fmt).count_rows() == 0:
        raise ValueError(f"{path} has no data rows (only the columns {list(schema.names)})")


def _numeric(t: Any) -> bool:
    """Whether a column of Arrow type ``t`` reads as numbers: numeric, boolean, or
    without a type (every value missing: numbers, all missing, that the pass names)."""
    import pyarrow as pa

    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)
                or pa.types.is_boolean(t) or pa.types.is_decimal(t))  # fmt: skip


def _check_target(schema: Any, target: str, weight: str | None) -> None:
    """An error for a target or weights column that is not numeric or boolean."""
    for role, name in (("target", target), ("weights", weight)):
        if name is not None and not _numeric(schema.field(name).type):
            raise TypeError(
                f"{role} column {name!r} must be numeric or boolean, got {schema.field(name).type}"
            )


def _check_types(schema: Any, features: list[str], declared: list[str], path: str,
                 arguments: Mapping[str, str]) -> list[str]:  # fmt: skip
    """The categorical features (text, dictionary, declared); an error for a
    feature of another type (dates, lists, ...)."""
    from ._streaming_tables import is_categorical_type

    categorical = [
        n for n in features if n in declared or is_categorical_type(schema.field(n).type)
    ]
    bad = [f"{n} ({schema.field(n).type})" for n in features
           if n not in categorical and not _numeric(schema.field(n).type)]  # fmt: skip
    if bad:
        raise TypeError(
            f"{path}: feature column(s) {', '.join(bad)} are neither numeric, boolean nor text; "
            f"leave them out with {arguments['columns']}"
        )
    return categorical


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
