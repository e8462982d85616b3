"""The files of a ``fastcost.fit_dataset`` and how they are read: the formats,
the files a source names, each file's ``pyarrow.dataset`` (CSV cells read as
missing as pandas reads them), the dataset's schema (typed from the files that
give types) and the checks of its columns, and :class:`StreamSource`, which
reads the record batches in order, on a thread of their own if asked.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import NonFiniteError

#: File formats by extension (``pyarrow.dataset`` format names).
FORMATS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".arrow": "ipc",
    ".ipc": "ipc", ".feather": "ipc",
}  # fmt: skip

#: Bytes of feature values per record batch: big enough to amortize the kernels'
#: start-up, small enough that a few batches in flight stay far below the data.
BATCH_BYTES = 32 << 20

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
        _check_distinct(features, target, weight, arguments)
        missing = [c for c in [*wanted, *features] if c not in names]
        if missing:
            raise ValueError(f"{typed} has no column(s) {missing}; its columns are {names}")
        _check_rows(schema, typed, fmt)
        _check_target(schema, target, weight)
        if columns is None:  # pandas' index, and an unnamed first column of row numbers
            features = _without_index(typed, fmt, _without_pandas_index(schema, features))
        if not features:
            raise ValueError(f"no feature column: pass {arguments['columns']}")
        declared = [] if declared is None or isinstance(declared, str) else list(declared)
        unknown = [c for c in declared if c not in features]
        if unknown:
            raise ValueError(
                f"{arguments['categorical_features']}: {unknown} are not feature columns"
            )
        schema = _widen_csv_integers(schema, fmt, declared)
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


def _check_distinct(features: list[str], target: str, weight: str | None,
                    arguments: Mapping[str, str]) -> None:  # fmt: skip
    """A feature named twice, or also the target or the weights, is refused by name."""
    twice = sorted({c for c in features if features.count(c) > 1})
    if twice:
        raise ValueError(f"{arguments['columns']} names {twice} more than once")
    roles = [(target, "target"), (weight, "weights")]
    both = [f"{c!r} (the {role})" for c, role in roles if c is not None and c in features]
    if both:
        raise ValueError(f"{arguments['columns']} holds {', '.join(both)}: a column has one role")
    if weight is not None and weight == target:
        raise ValueError(f"the weights column {weight!r} is the target")


def _without_pandas_index(schema: Any, features: list[str]) -> list[str]:
    """``features`` without the index pandas stored with the file (its
    ``index_columns``: ``__index_level_0__``, or a named index), which
    ``pandas.read_parquet`` reads back as the index, not as a column."""
    meta = schema.pandas_metadata or {}
    index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    return [c for c in features if c not in index]


def _without_index(path: str, fmt: str, features: list[str]) -> list[str]:
    """``features`` without the first file's row-index column, with the main job's
    note as a warning (``_tables_roles.index_column``, on that one column's values)."""
    from ._tables_roles import UNNAMED, index_column

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


def _widen_csv_integers(schema: Any, fmt: str, declared: list[str]) -> Any:
    """A CSV schema with its integer columns read as float64 (but those declared
    categorical): pyarrow types a column from the first block of the first file,
    and a column of whole numbers there may hold 2.5 further on or in another
    file, which pandas reads as float64 and int64 would refuse."""
    import pyarrow as pa

    if fmt != "csv":
        return schema
    for i, f in enumerate(schema):
        if pa.types.is_integer(f.type) and f.name not in declared:
            schema = schema.set(i, pa.field(f.name, pa.float64()))
    return schema


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
