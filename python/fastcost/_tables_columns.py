"""Columns of user tables in one form, whatever library holds the table.

:func:`table_view` wraps a pandas, polars or pyarrow table or a 2-D NumPy array
in a view whose :meth:`~_View.column` returns a :class:`Column`: float64 values
for numeric and boolean columns, string labels for text, codes and labels for
categorical columns. Polars and pyarrow tables are converted column by column
with their own libraries; pandas is not needed for them.
"""

from __future__ import annotations

import datetime
import decimal
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Column", "table_view", "NUMERIC", "BOOL", "TEXT", "CATEGORY", "DATETIME", "OTHER"]

NUMERIC = "numeric"
BOOL = "bool"
TEXT = "text"
CATEGORY = "category"
DATETIME = "datetime"
OTHER = "other"

_NUMBER_TYPES = (int, float, np.integer, np.floating, decimal.Decimal)
_BOOL_TYPES = (bool, np.bool_)
_TIME_TYPES = (datetime.date, datetime.time, datetime.timedelta, np.datetime64, np.timedelta64)


def number_label(value: Any) -> str:
    """The label of a number used as a level: ``"3"`` for 3 and 3.0, ``"2.5"`` for 2.5."""
    v = float(value)
    if v.is_integer() and abs(v) < 2.0**53:
        return str(int(v))
    return repr(v)


def label(value: Any) -> str:
    """The label of one value used as a level: strings as they are, numbers as by
    :func:`number_label`, anything else through ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, _BOOL_TYPES):
        return str(bool(value))
    if isinstance(value, _NUMBER_TYPES):
        return number_label(value)
    return str(value)


@dataclass
class Column:
    """One column of a table, converted.

    Attributes
    ----------
    name : str
    kind : str
        ``"numeric"`` or ``"bool"`` (``values`` float64, NaN where missing),
        ``"text"`` or ``"datetime"`` (``values`` object array of str labels),
        ``"category"`` (``values`` signed integer codes into ``categories``, -1
        where missing) or ``"other"`` (a type fastcost does not encode; ``values`` empty).
    values : ndarray
        (``data``, or for a text column made from its factors, built from them
        when first needed.)
    mask : ndarray of bool, optional
        Where values are missing; None for ``"numeric"`` and ``"bool"`` columns,
        whose :attr:`missing` is computed from the NaNs when first needed.
    dtype : str
        The source type, for notes and messages.
    categories : list of str, optional
        The labels of a ``"category"`` column, in the column's own order.
    """

    name: str
    kind: str
    data: np.ndarray | None
    mask: np.ndarray | None
    dtype: str
    categories: list[str] | None = None
    _factors: tuple[list[str | None], np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )
    _n_missing: int | None = field(default=None, repr=False, compare=False)

    @property
    def values(self) -> np.ndarray:
        """The values (see the class description)."""
        if self.data is None:
            labels, inv = self.factorize()
            self.data = np.array([*(lv or "" for lv in labels), ""], dtype=object)[inv]
        return self.data

    @property
    def missing(self) -> np.ndarray:
        """Where values are missing (bool)."""
        if self.mask is None:
            self.mask = np.isnan(self.values)
        return self.mask

    @property
    def n_missing(self) -> int:
        """Number of missing values (counted once)."""
        if self._n_missing is None:
            with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, then counted
                total = np.add.reduce(self.values) if self.mask is None else np.nan
            if not np.isnan(total):
                self._n_missing = 0  # a NaN would make the sum NaN: no scan for them
            else:
                self._n_missing = int(np.count_nonzero(self.missing))
        return self._n_missing

    def factorize(self) -> tuple[list[str | None], np.ndarray]:
        """Distinct labels and each row's index into them.

        Text and numbers come sorted (numbers by value), a categorical column
        keeps its own order and all its categories; ``None`` (last) stands for
        missing values. Computed once per column.
        """
        if self._factors is None:
            self._factors = self._factorize()
        return self._factors

    def _factorize(self) -> tuple[list[str | None], np.ndarray]:
        if self.kind == CATEGORY:
            return self._factorize_codes()
        n = self.missing.shape[0]
        inv = np.empty(n, dtype=np.intp)
        present = ~self.missing
        labels: list[str | None]
        if self.kind == OTHER:
            raise ValueError(f"column {self.name!r} ({self.dtype}) cannot be used as categorical")
        elif self.kind in (BOOL, NUMERIC):
            uniq, sub = np.unique(self.values[present], return_inverse=True)
            inv[present] = sub.reshape(-1)
            to_label = (lambda u: str(bool(u))) if self.kind == BOOL else number_label
            labels = [to_label(u) for u in uniq]
        else:
            text, inv[present] = factorize_text(self.values[present])
            labels = list(text)
        if not present.all():
            inv[~present] = len(labels)
            labels.append(None)
        return labels, inv

    def _factorize_codes(self) -> tuple[list[str | None], np.ndarray]:
        """A categorical column's factors: its codes as they are (no copy) where
        nothing is missing, else a copy with the missing rows on a last level."""
        labels: list[str | None] = list(self.categories or [])
        if self.n_missing == 0:
            return labels, self.values
        inv = self.values.astype(np.intp)
        inv[self.missing] = len(labels)
        labels.append(None)
        return labels, inv


def factorize_text(values: np.ndarray, use_pandas: bool = True) -> tuple[list[str], np.ndarray]:
    """Sorted distinct strings of an object array and each value's index into them.

    With pandas installed its hash-based factorization does the work (about 40
    times faster than sorting Python strings with ``np.unique``); without it a
    dictionary collects the distinct values, which are then sorted.
    """
    if use_pandas:
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the installation
            pass
        else:
            codes, uniq = pd.factorize(values, sort=True)
            return [str(u) for u in uniq], np.asarray(codes, dtype=np.intp)
    first: dict[str, int] = {}
    seen = np.fromiter(
        (first.setdefault(v, len(first)) for v in values), dtype=np.intp, count=values.shape[0]
    )
    labels = sorted(first)
    rank = {v: i for i, v in enumerate(labels)}
    lookup = np.array([rank[v] for v in first], dtype=np.intp)  # first-seen order
    return labels, lookup[seen]


def _float_column(name: str, values: Any, kind: str, dtype: str) -> Column:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return Column(name, kind, arr, None, dtype)


def _text_column(
    name: str,
    values: np.ndarray,
    missing: np.ndarray,
    kind: str,
    dtype: str,
    convert: bool = False,
) -> Column:
    """A text column; ``convert``: values may be any objects, labelled by :func:`label`."""
    out = np.asarray(values, dtype=object).reshape(-1).copy()
    missing = np.asarray(missing, dtype=bool).reshape(-1)
    out[missing] = ""
    present = ~missing
    if convert and present.any() and not all(isinstance(v, str) for v in out[present]):
        out[present] = [label(v) for v in out[present]]
    return Column(name, kind, out, missing, dtype)


def _category_column(
    name: str, codes: Any, categories: list[Any], dtype: str, labelled: bool = False
) -> Column:
    """A categorical column; ``labelled``: the categories are already str labels."""
    arr = np.asarray(codes).reshape(-1)
    if arr.dtype.kind != "i":
        arr = arr.astype(np.int64)
    cats = list(categories) if labelled else [label(c) for c in categories]
    return Column(name, CATEGORY, arr, arr < 0, dtype, cats)


def _sorted_text_column(name: str, codes: np.ndarray, uniques: list[str], dtype: str) -> Column:
    """A text column from a factorization in any order (``codes`` -1 where missing):
    the distinct labels sorted, the codes mapped through a small permutation."""
    order = sorted(range(len(uniques)), key=uniques.__getitem__)
    labels: list[str | None] = [uniques[i] for i in order]
    rank = np.empty(len(uniques) + 1, dtype=np.intp)
    rank[order] = np.arange(len(uniques), dtype=np.intp)
    missing = codes < 0
    rank[-1] = len(uniques)  # code -1: missing, the last level
    inv = rank[codes]
    if missing.any():
        labels.append(None)
    return Column(name, TEXT, None, missing, dtype, _factors=(labels, inv))


def _pandas_category(name: str, s: Any, dtype: str) -> Column:
    from pandas.api import types as pdt

    cats = s.dtype.categories
    if pdt.is_string_dtype(cats.dtype) and (
        cats.dtype != np.dtype(object) or pdt.infer_dtype(cats, skipna=False) == "string"
    ):  # str labels already: no Python work per category
        return _category_column(
            name, s.cat.codes.to_numpy(), cats.to_numpy(object).tolist(), dtype, True
        )
    return _category_column(name, s.cat.codes.to_numpy(), list(cats), dtype)


def _pandas_strings(name: str, s: Any, dtype: str) -> Column:
    """A pandas string column (``StringDtype``), factorized once by pandas."""
    import pandas as pd

    codes, uniques = pd.factorize(s.array)
    return _sorted_text_column(
        name, np.asarray(codes, dtype=np.intp), uniques.to_numpy(object).tolist(), dtype
    )


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return type(value).__name__ in ("NAType", "NaTType")


def objects_column(name: str, values: np.ndarray, dtype: str = "object") -> Column:
    """A column of Python objects, by what its values are: all booleans, all
    numbers, all dates/times, else text (each value through ``str``)."""
    values = np.asarray(values, dtype=object).reshape(-1)
    missing = np.fromiter((_is_missing(v) for v in values), dtype=bool, count=values.shape[0])
    present = values[~missing]
    if present.size and all(isinstance(v, _BOOL_TYPES) for v in present):
        out = np.full(values.shape[0], np.nan)
        out[~missing] = present.astype(bool)
        return Column(name, BOOL, out, missing, dtype)
    if present.size and all(
        isinstance(v, _NUMBER_TYPES) and not isinstance(v, _BOOL_TYPES) for v in present
    ):
        out = np.full(values.shape[0], np.nan)
        out[~missing] = [float(v) for v in present]
        return Column(name, NUMERIC, out, np.isnan(out), dtype)
    if present.size and all(isinstance(v, _TIME_TYPES) for v in present):
        return _text_column(name, values, missing, DATETIME, dtype, convert=True)
    return _text_column(name, values, missing, TEXT, dtype, convert=True)


class _View:
    """A table seen column by column (the base of the per-library views)."""

    def __init__(self, frame: Any, names: list[str], n_rows: int) -> None:
        self.frame = frame
        self.names = names
        self.n_rows = n_rows
        dup = sorted(n for n, count in Counter(names).items() if count > 1)
        if dup:
            raise ValueError(f"the table has duplicate column names: {dup}")

    def column(self, j: int) -> Column:
        """Column ``j``, converted."""
        raise NotImplementedError

    def drop_column(self, j: int) -> Any:
        """The table without column ``j`` (same library)."""
        raise NotImplementedError

    def take_rows(self, keep: np.ndarray) -> Any:
        """The rows where ``keep`` (bool) is true (same library)."""
        raise NotImplementedError


def _column_name(name: Any) -> str:
    """A column name as a string; a missing name (None, NaN) as ``""``."""
    return "" if _is_missing(name) else str(name)


class _PandasView(_View):
    def __init__(self, frame: Any) -> None:
        super().__init__(frame, [_column_name(c) for c in frame.columns], int(frame.shape[0]))

    def column(self, j: int) -> Column:
        import pandas as pd
        from pandas.api import types as pdt

        s = self.frame.iloc[:, j]
        dt = s.dtype
        name, desc = self.names[j], str(dt)
        if isinstance(dt, pd.ArrowDtype):
            import pyarrow as pa

            return arrow_column(name, pa.chunked_array([s.array.__arrow_array__()]))
        if isinstance(dt, pd.CategoricalDtype):
            return _pandas_category(name, s, desc)
        if pdt.is_bool_dtype(dt):
            return _float_column(name, s.to_numpy(dtype=np.float64, na_value=np.nan), BOOL, desc)
        if pdt.is_datetime64_any_dtype(dt) or pdt.is_timedelta64_dtype(dt):
            return _text_column(name, s.astype(str).to_numpy(), s.isna().to_numpy(), DATETIME, desc)
        if isinstance(dt, pd.PeriodDtype):
            return _text_column(name, s.astype(str).to_numpy(), s.isna().to_numpy(), DATETIME, desc)
        if pdt.is_complex_dtype(dt):
            return Column(name, OTHER, np.empty(0), np.zeros(len(s), dtype=bool), desc)
        if pdt.is_numeric_dtype(dt):
            return _float_column(name, s.to_numpy(dtype=np.float64, na_value=np.nan), NUMERIC, desc)
        if dt == np.dtype(object):
            return objects_column(name, s.to_numpy(dtype=object), desc)
        if isinstance(dt, pd.StringDtype):
            return _pandas_strings(name, s, desc)
        if pdt.is_string_dtype(dt):
            return _text_column(name, s.to_numpy(dtype=object), s.isna().to_numpy(), TEXT, desc)
        return Column(name, OTHER, np.empty(0), np.zeros(len(s), dtype=bool), desc)

    def drop_column(self, j: int) -> Any:
        return self.frame.iloc[:, [i for i in range(len(self.names)) if i != j]]

    def take_rows(self, keep: np.ndarray) -> Any:
        return self.frame.iloc[np.flatnonzero(keep)]


def arrow_column(name: str, col: Any) -> Column:
    """A pyarrow ChunkedArray (or Array) as a :class:`Column`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.Array):
        col = pa.chunked_array([col])
    t = col.type
    desc = str(t)
    n = len(col)
    if pa.types.is_dictionary(t):
        col = col.unify_dictionaries()
        cats = col.chunks[0].dictionary.to_pylist() if col.num_chunks else []
        idx = pa.chunked_array([c.indices for c in col.chunks], type=t.index_type)
        # int64 first: unsigned indices (polars writes uint32) have no -1
        codes = pc.fill_null(pc.cast(idx, pa.int64()), -1).to_numpy() if n else np.empty(0)
        return _category_column(name, codes, cats, desc)
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t):
        kind = BOOL if pa.types.is_boolean(t) else NUMERIC
        return _float_column(name, pc.cast(col, pa.float64()).to_numpy(), kind, desc)
    if pa.types.is_decimal(t) or pa.types.is_null(t):
        return _float_column(name, pc.cast(col, pa.float64()).to_numpy(), NUMERIC, desc)
    missing = col.is_null().to_numpy() if n else np.zeros(0, dtype=bool)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return _text_column(name, col.to_numpy(zero_copy_only=False), missing, TEXT, desc)
    if pa.types.is_temporal(t):
        labels = np.array([str(v) for v in col.to_pylist()], dtype=object)
        return _text_column(name, labels, missing, DATETIME, desc)
    return Column(name, OTHER, np.empty(0), np.zeros(n, dtype=bool), desc)


class _ArrowView(_View):
    def __init__(self, frame: Any) -> None:
        super().__init__(frame, [_column_name(c) for c in frame.column_names], frame.num_rows)

    def column(self, j: int) -> Column:
        return arrow_column(self.names[j], self.frame.column(j))

    def drop_column(self, j: int) -> Any:
        return self.frame.drop_columns([self.frame.column_names[j]])

    def take_rows(self, keep: np.ndarray) -> Any:
        import pyarrow as pa

        return self.frame.filter(pa.array(np.asarray(keep, dtype=bool)))


class _PolarsView(_View):
    def __init__(self, frame: Any) -> None:
        super().__init__(frame, list(frame.columns), int(frame.height))

    def column(self, j: int) -> Column:
        import polars as pl

        s = self.frame.to_series(j)
        dt = s.dtype
        name, desc = self.names[j], str(dt)
        if isinstance(dt, pl.Enum):
            codes = s.to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
            return _category_column(name, codes, dt.categories.to_list(), desc)
        if isinstance(dt, pl.Categorical):
            s = s.cast(pl.String)
            dt = s.dtype
        if dt == pl.Boolean:
            return _float_column(name, s.cast(pl.Float64).to_numpy(), BOOL, desc)
        if dt.is_numeric() or dt == pl.Null:
            return _float_column(name, s.cast(pl.Float64).to_numpy(), NUMERIC, desc)
        missing = s.is_null().to_numpy()
        if dt == pl.String:
            return _text_column(name, np.array(s.to_list(), dtype=object), missing, TEXT, desc)
        if dt.is_temporal():
            try:
                texts = s.cast(pl.String).to_list()
            except pl.exceptions.InvalidOperationError:  # durations have no cast to text
                texts = [None if v is None else str(v) for v in s.to_list()]
            return _text_column(name, np.array(texts, dtype=object), missing, DATETIME, desc)
        if dt == pl.Object:
            return objects_column(name, np.array(s.to_list(), dtype=object), desc)
        return Column(name, OTHER, np.empty(0), np.zeros(len(s), dtype=bool), desc)

    def drop_column(self, j: int) -> Any:
        return self.frame.drop(self.names[j])

    def take_rows(self, keep: np.ndarray) -> Any:
        import polars as pl

        return self.frame.filter(pl.Series(np.asarray(keep, dtype=bool)))


class _NumpyView(_View):
    def __init__(self, frame: np.ndarray) -> None:
        if frame.ndim != 2:
            raise ValueError(f"a NumPy table must be 2-D, got shape {frame.shape}")
        if frame.dtype.names is not None:
            raise ValueError("structured NumPy arrays are not supported; use a DataFrame")
        super().__init__(frame, [str(j) for j in range(frame.shape[1])], frame.shape[0])

    def column(self, j: int) -> Column:
        v = self.frame[:, j]
        name, desc, k = self.names[j], str(v.dtype), v.dtype.kind
        if k == "b":
            return _float_column(name, v, BOOL, desc)
        if k in "iuf":
            return _float_column(name, v, NUMERIC, desc)
        if k in "US":
            text = v.astype(str).astype(object)
            return _text_column(name, text, np.zeros(v.shape[0], dtype=bool), TEXT, desc)
        if k in "Mm":
            return _text_column(name, v.astype(str).astype(object), np.isnat(v), DATETIME, desc)
        if k == "O":
            return objects_column(name, v, desc)
        return Column(name, OTHER, np.empty(0), np.zeros(v.shape[0], dtype=bool), desc)

    def drop_column(self, j: int) -> Any:
        return np.delete(self.frame, j, axis=1)

    def take_rows(self, keep: np.ndarray) -> Any:
        return self.frame[np.asarray(keep, dtype=bool)]


def _instance_of(frame: Any, module: str, *classes: str) -> bool:
    mod = sys.modules.get(module)
    return mod is not None and isinstance(frame, tuple(getattr(mod, c) for c in classes))


def is_table(X: Any) -> bool:
    """Whether X is a dataframe (pandas, polars) or an Arrow table, which go
    through the column typing of :class:`fastcost._tables.TableEncoder`."""
    module = type(X).__module__.split(".")[0]
    return module in ("pandas", "polars", "pyarrow") and hasattr(X, "columns")


def table_view(frame: Any) -> _View:
    """A column-by-column view of a pandas, polars or pyarrow table or a 2-D array.

    Raises
    ------
    TypeError
        For any other kind of object.
    ValueError
        For duplicate column names or an array that is not 2-D.
    """
    if isinstance(frame, np.ndarray):
        return _NumpyView(frame)
    if _instance_of(frame, "pandas", "DataFrame"):
        return _PandasView(frame)
    if _instance_of(frame, "polars", "DataFrame"):
        return _PolarsView(frame)
    if _instance_of(frame, "pyarrow", "Table", "RecordBatch"):
        return _ArrowView(frame)
    if _instance_of(frame, "polars", "LazyFrame"):
        raise TypeError("a polars LazyFrame must be collected first: pass frame.collect()")
    raise TypeError(
        "expected a pandas, polars or pyarrow table or a 2-D NumPy array, "
        f"got {type(frame).__module__}.{type(frame).__name__}"
    )
