"""From user tables to a design for fastcost's least-squares estimators.

:func:`read_table` reads a file, :func:`split_target` takes the target column
out, and :class:`TableEncoder` decides each remaining column's role at ``fit``
and turns tables into a :class:`Design` at ``transform``:

* numbers (integers, floats, pandas' nullable types) become dense float64
  columns, missing values NaN;
* booleans become dense 0/1 columns (missing: NaN);
* text, object and categorical columns become integer codes with their levels:
  sorted labels (a categorical dtype keeps its own category order; categories
  no row has are left out, with a note), missing values their own last level
  :data:`MISSING_LEVEL`; level 0 is the reference level;
* some columns are left out, each with a note in ``notes``:

  - **index**: an unnamed first column (``"Unnamed: 0"``, ``""`` or ``None``,
    as pandas and R write row names) whose values count the rows, 0..n-1 or
    1..n, or are distinct whole numbers (the row numbers left after a filter,
    ``dropna`` or a shuffled split), or are distinct text labels (R's row names);
  - **identifiers**: a text or categorical column with more than
    :data:`HIGH_CARDINALITY_MIN_LEVELS` distinct values that are at least
    :data:`HIGH_CARDINALITY_FRACTION` of its non-missing rows (names, titles,
    free text, IDs): as levels they would give about one column per row;
  - **datetime**: dates, times and durations are not encoded (no single
    numeric reading fits every use; convert such a column to a number first);
  - columns of other types (lists, structs, complex numbers, ...).

  A column named in ``categorical=`` is always encoded as categorical,
  overriding these rules, and so are integer-coded columns named there.
  Constant columns are kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ._tables_columns import BOOL, CATEGORY, NUMERIC, Column, table_view
from ._tables_io import SUPPORTED_EXTENSIONS, read_table, sniff_delimiter, table_format
from ._tables_roles import (
    HIGH_CARDINALITY_FRACTION,
    HIGH_CARDINALITY_MIN_LEVELS,
    UNNAMED,
    _auto_role,
    index_column,
)

__all__ = [
    "Design",
    "TableEncoder",
    "UnseenLevelWarning",
    "read_table",
    "split_target",
    "index_column",
    "target_name",
    "sniff_delimiter",
    "table_format",
    "MISSING_LEVEL",
    "HIGH_CARDINALITY_MIN_LEVELS",
    "HIGH_CARDINALITY_FRACTION",
    "SUPPORTED_EXTENSIONS",
]

MISSING_LEVEL = "<missing>"
_MAX_SHOWN = 5


class UnseenLevelWarning(UserWarning):
    """``transform`` met values of a categorical column that ``fit`` had not seen;
    they were coded as the reference level (code 0)."""


@dataclass
class Design:
    """A table as fastcost's estimators take it: dense columns and categorical codes.

    Attributes
    ----------
    dense : ndarray of shape (n, p), float64, Fortran-ordered
        Numeric and boolean columns; NaN where a value is missing. ``p`` may be 0.
    dense_names : list of str
    codes : ndarray of shape (K, n), int32, C-contiguous
        Row ``k`` holds the level index of each row in categorical column ``k``.
    n_levels : ndarray of shape (K,), int64
    categorical_names : list of str
    levels : list of ndarray of str (object dtype)
        The level labels of each categorical column; level 0 is the reference.
    notes : list of str
        What the encoder decided, in plain words, naming columns.
    """

    dense: np.ndarray
    dense_names: list[str]
    codes: np.ndarray
    n_levels: np.ndarray
    categorical_names: list[str]
    levels: list[np.ndarray]
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.dense.shape[0])

    def feature_names_out(self, drop_first: Any = True) -> list[str]:
        """Names of the columns of :meth:`to_dense`: the dense names, then
        ``"column=level"`` for each level of each categorical column (without
        level 0 where ``drop_first``: one bool for all, or one per categorical)."""
        return _feature_names(self.dense_names, self.categorical_names, self.levels, drop_first)

    def to_dense(self, drop_first: Any = True) -> np.ndarray:
        """The design as one float64 matrix (Fortran order): the dense columns, then
        one 0/1 indicator column per level (without level 0 where ``drop_first``:
        one bool for all, or one per categorical), as :meth:`feature_names_out`."""
        n, p = self.dense.shape
        starts = _drop_flags(drop_first, len(self.categorical_names)).astype(np.int64)
        widths = [int(k) - int(s) for k, s in zip(self.n_levels, starts, strict=True)]
        out = np.zeros((n, p + sum(widths)), dtype=np.float64, order="F")
        out[:, :p] = self.dense
        offset = p
        for codes, width, start in zip(self.codes, widths, starts, strict=True):
            rows = np.flatnonzero(codes >= start)
            out[rows, offset + codes[rows] - start] = 1.0
            offset += width
        return out

    def take(self, rows: Any) -> Design:
        """The design of some rows (indices or a boolean mask), same columns and levels."""
        rows = np.asarray(rows)
        return replace(
            self,
            dense=np.asfortranarray(self.dense[rows]),
            codes=np.ascontiguousarray(self.codes[:, rows]),
            notes=list(self.notes),
        )


def _drop_flags(drop_first: Any, k: int) -> np.ndarray:
    """``drop_first`` as one bool per categorical column."""
    if np.ndim(drop_first) == 0:
        return np.full(k, bool(drop_first))
    flags = np.asarray(drop_first, dtype=bool).reshape(-1)
    if flags.shape[0] != k:
        raise ValueError(
            f"drop_first needs one flag per categorical column ({k}), got {flags.shape[0]}"
        )
    return flags


def _feature_names(
    dense: list[str], names: list[str], levels: list[np.ndarray], drop_first: Any
) -> list[str]:
    out = list(dense)
    flags = _drop_flags(drop_first, len(names))
    for name, lv, drop in zip(names, levels, flags, strict=True):
        out.extend(f"{name}={level}" for level in lv[int(drop) :])
    return out


def _as_names(value: Any, what: str, names: list[str]) -> list[str]:
    """Column names from a list of names, or of integer positions where no
    column has that name; unknown entries are kept as given, for the error."""
    if value is None:
        return []
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a list of column names, got {value!r}")
    out = []
    for v in value:
        if (
            str(v) not in names
            and isinstance(v, (int, np.integer))
            and -len(names) <= v < len(names)
        ):
            out.append(names[int(v)])
        else:
            out.append(str(v))
    return out


def _missing_label(labels: Sequence[str | None]) -> str:
    taken = {lv for lv in labels if lv is not None}
    name = MISSING_LEVEL
    while name in taken:
        name += "_"
    return name


@dataclass
class _Levels:
    """What ``fit`` learned about one categorical column: the level names, and the
    labels as :meth:`Column.factorize` gives them (``None``: missing), in order."""

    levels: np.ndarray
    lookup: dict[str | None, int] | None = None
    labels: list[str | None] | None = None

    def index(self) -> dict[str | None, int]:
        """Each label's level (built when first needed)."""
        if self.lookup is None:
            self.lookup = {lv: i for i, lv in enumerate(self.labels or [])}
        return self.lookup


def _levels_of(labels: list[str | None]) -> _Levels:
    """The levels of a column's labels in order (``None``, last: the missing values)."""
    names = list(labels)
    if names and names[-1] is None:  # missing values: the last level
        names[-1] = _missing_label(labels)
    return _Levels(np.array(names, dtype=object), labels=labels)


def _fit_levels(col: Column) -> tuple[_Levels, np.ndarray, str | None]:
    """The levels a column's rows have and their codes, and a note naming the
    categories its dtype declares that no row has (None when there are none).

    Such a category would be a column of zeros: without a penalty it makes the
    design rank-deficient (every standard error NaN), and as the first level it
    would be the reference. It is left out, as scikit-learn's ``OneHotEncoder``
    leaves it out; ``predict`` treats it as any level unseen in the fit.
    """
    labels, inv = col.factorize()
    if col.kind != CATEGORY or len(labels) == 0:
        return _levels_of(labels), inv, None
    used = np.bincount(inv, minlength=len(labels)) > 0
    if used.all():
        return _levels_of(labels), inv, None
    unused = [str(lv) for lv, u in zip(labels, used, strict=True) if not u]
    remap = np.cumsum(used) - 1
    labels = [lv for lv, u in zip(labels, used, strict=True) if u]
    shown = ", ".join(repr(lv) for lv in unused[:5]) + (", ..." if len(unused) > 5 else "")
    note = (
        f"column {col.name!r}: {len(unused)} categor{'y' if len(unused) == 1 else 'ies'} of its "
        f"dtype without rows left out of its levels ({shown})"
    )
    return _levels_of(labels), remap[inv].astype(inv.dtype, copy=False), note


def _encode(col: Column, spec: _Levels) -> tuple[np.ndarray, list[str], int]:
    """Codes of ``col`` under fitted levels; unseen labels (shown as they are,
    missing as :data:`MISSING_LEVEL`) and the number of their rows."""
    labels, inv = col.factorize()
    lookup = spec.index()
    if labels == spec.labels and len(lookup) == len(labels):  # the fitted labels, in order
        return inv, [], 0
    table = np.array([lookup.get(lv, -1) for lv in labels], dtype=np.int32)
    used = np.bincount(inv, minlength=len(labels)) > 0
    bad = np.flatnonzero((table < 0) & used)
    if bad.size == 0:
        return table[inv], [], 0
    table[bad] = 0
    n_rows = int(np.isin(inv, bad).sum())
    unseen = [MISSING_LEVEL if labels[i] is None else str(labels[i]) for i in bad]
    return table[inv], unseen, n_rows


class TableEncoder(BaseEstimator):
    """Turn a table into a :class:`Design`: dense numeric columns and categorical codes.

    Accepts pandas DataFrames (every dtype, nullable ones included), polars
    DataFrames, pyarrow Tables and RecordBatches, and 2-D NumPy arrays (columns
    named ``"0"``, ``"1"``, ...; object arrays are read column by column).
    ``fit`` decides the roles (see the module's description); ``transform``
    applies them to a table with the same columns.

    Parameters
    ----------
    categorical : list of str, optional
        Columns to encode as categorical whatever their type (e.g. integer codes);
        overrides the index, identifier and date rules.
    features : list of str, optional
        Use only these columns (default: all).
    drop : list of str, optional
        Leave these columns out.
    index : bool, default=True
        Leave out an unnamed first column that numbers the rows (the row
        index). False keeps it: for a caller that decided on the whole data
        already and fits the encoder on a few rows of it (``fit_dataset``,
        Dask), where a sample's few values would look like row numbers.

    Attributes
    ----------
    feature_names_in_ : list of str
        The columns of the fitted table.
    roles_ : dict of str to str
        Each column's role: ``"numeric"``, ``"bool"``, ``"categorical"``, or why it
        was left out: ``"index"``, ``"identifier"``, ``"datetime"``, ``"unsupported"``,
        ``"dropped"`` (by ``features``/``drop``).
    dense_names_, categorical_names_ : list of str
    levels_ : list of ndarray of str
    notes_ : list of str

    Examples
    --------
    >>> import pandas as pd
    >>> from fastcost._tables import TableEncoder
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "g": ["b", "a", None]})
    >>> design = TableEncoder().fit_transform(frame)
    >>> design.dense_names, design.categorical_names, list(design.levels[0])
    (['x'], ['g'], ['a', 'b', '<missing>'])
    >>> design.codes.tolist()
    [[1, 0, 2]]
    >>> design.feature_names_out(drop_first=True)
    ['x', 'g=b', 'g=<missing>']
    """

    def __init__(
        self,
        *,
        categorical: Sequence[str] | None = None,
        features: Sequence[str] | None = None,
        drop: Sequence[str] | None = None,
        index: bool = True,
    ) -> None:
        self.categorical = categorical
        self.features = features
        self.drop = drop
        self.index = index

    def _selected(self, names: list[str]) -> tuple[list[int], set[str]]:
        features = _as_names(self.features, "features", names)
        drop = _as_names(self.drop, "drop", names)
        forced = _as_names(self.categorical, "categorical", names)
        unknown = [c for c in (*features, *drop, *forced) if c not in names]
        if unknown:
            raise ValueError(f"columns not in the table: {unknown}; its columns are {names}")
        keep = set(features) if self.features is not None else set(names)
        keep -= set(drop)
        left_out = [c for c in forced if c not in keep]
        if left_out:
            raise ValueError(
                f"categorical columns {left_out} are not among the features "
                "(features or drop leave them out)"
            )
        return [j for j, c in enumerate(names) if c in keep], set(forced)

    def _fit(self, frame: Any) -> tuple[Any, dict[str, Column], dict[str, np.ndarray]]:
        view = table_view(frame)
        if view.n_rows == 0:
            raise ValueError("cannot fit on a table without rows")
        selected, forced = self._selected(view.names)
        roles = dict.fromkeys(view.names, "dropped")
        notes: list[str] = []
        self.missing_notes_: list[str] = []  # those of notes that count missing values
        columns: dict[str, Column] = {}
        codes: dict[str, np.ndarray] = {}
        self._levels: dict[str, _Levels] = {}
        for j in selected:
            col = view.column(j)
            first_unnamed = bool(self.index) and j == 0 and col.name in UNNAMED
            role, note = (
                ("categorical", None) if col.name in forced else _auto_role(col, first_unnamed)
            )
            roles[col.name] = role
            if note is not None:
                notes.append(note)
            if role not in ("numeric", "bool", "categorical"):
                continue
            columns[col.name] = col
            if role == "categorical":
                self._levels[col.name], codes[col.name], unused = _fit_levels(col)
                if unused is not None:
                    notes.append(unused)
            missing = _missing_note(col, role, self._levels.get(col.name))
            notes.extend(missing)
            self.missing_notes_.extend(missing)
        self.feature_names_in_ = list(view.names)
        self.roles_ = roles
        self.dense_names_ = [c for c in columns if roles[c] != "categorical"]
        self.categorical_names_ = [c for c in columns if roles[c] == "categorical"]
        self.levels_ = [self._levels[c].levels for c in self.categorical_names_]
        self.notes_ = notes
        return view, columns, codes

    def fit(self, frame: Any, y: Any = None) -> TableEncoder:
        """Decide each column's role and learn the levels of the categorical ones.

        Parameters
        ----------
        frame : table
            pandas/polars DataFrame, pyarrow Table or 2-D NumPy array.
        y : ignored

        Returns
        -------
        self
        """
        self._fit(frame)
        return self

    def fit_transform(self, frame: Any, y: Any = None) -> Design:
        """``fit(frame).transform(frame)``, converting each column once."""
        view, columns, codes = self._fit(frame)
        return self._design(view.n_rows, columns, codes, [])

    def transform(self, frame: Any) -> Design:
        """The :class:`Design` of a table holding the fitted columns.

        Levels not seen at ``fit`` get code 0 (the reference level) and an
        :class:`UnseenLevelWarning`.

        Raises
        ------
        ValueError
            Columns used at ``fit`` are missing, or a numeric column now holds text.
        """
        if not hasattr(self, "roles_"):
            raise ValueError("this TableEncoder is not fitted yet; call fit first")
        view = table_view(frame)
        wanted = [*self.dense_names_, *self.categorical_names_]
        missing = [c for c in wanted if c not in view.names]
        if missing and isinstance(frame, np.ndarray) and len(missing) == len(wanted):
            raise ValueError(
                f"fitted on a table with columns {wanted}: pass a table (pandas, polars or "
                "pyarrow) with those columns, not an array"
            )
        if missing:
            raise ValueError(f"columns missing from the table: {missing} (used at fit)")
        position = {c: j for j, c in enumerate(view.names)}
        columns = {c: view.column(position[c]) for c in wanted}
        codes: dict[str, np.ndarray] = {}
        notes: list[str] = []
        for name in self.categorical_names_:
            spec = self._levels[name]
            codes[name], unseen, n_rows = _encode(columns[name], spec)
            if unseen:
                shown = ", ".join(repr(u) for u in unseen[:_MAX_SHOWN])
                more = f" and {len(unseen) - _MAX_SHOWN} more" if len(unseen) > _MAX_SHOWN else ""
                text = (
                    f"column {name!r}: {len(unseen)} value(s) not seen at fit ({shown}{more}), "
                    f"in {n_rows} row(s), coded as the reference level {spec.levels[0]!r}"
                )
                warnings.warn(text, UnseenLevelWarning, stacklevel=2)
                notes.append(text)
        return self._design(view.n_rows, columns, codes, notes)

    def _design(
        self, n: int, columns: dict[str, Column], codes: dict[str, np.ndarray], notes: list[str]
    ) -> Design:
        dense = np.empty((n, len(self.dense_names_)), dtype=np.float64, order="F")
        for j, name in enumerate(self.dense_names_):
            col = columns[name]
            if col.kind not in (NUMERIC, BOOL):
                raise ValueError(
                    f"column {name!r} was numeric at fit but now holds {col.kind} ({col.dtype})"
                )
            dense[:, j] = col.values
        K = len(self.categorical_names_)
        code_matrix = np.empty((K, n), dtype=np.int32)
        for k, name in enumerate(self.categorical_names_):
            code_matrix[k] = codes[name]
        return Design(
            dense=dense,
            dense_names=list(self.dense_names_),
            codes=code_matrix,
            n_levels=np.array([len(lv) for lv in self.levels_], dtype=np.int64),
            categorical_names=list(self.categorical_names_),
            levels=[lv.copy() for lv in self.levels_],
            notes=[*self.notes_, *notes],
        )

    def feature_names_out(self, drop_first: Any = True) -> list[str]:
        """Names of :meth:`Design.to_dense`'s columns (see there)."""
        return _feature_names(self.dense_names_, self.categorical_names_, self.levels_, drop_first)

    @property
    def notes(self) -> list[str]:
        """The notes of the fit (``notes_``)."""
        return self.notes_

    @property
    def input_names(self) -> list[str]:
        """The columns of the fitted table (``feature_names_in_``)."""
        return self.feature_names_in_


def _missing_note(col: Column, role: str, spec: _Levels | None) -> list[str]:
    n = col.n_missing
    if n == 0:
        return []
    if spec is not None:
        return [
            f"column {col.name!r}: {n} missing value(s) form their own level {spec.levels[-1]!r}"
        ]
    return [f"column {col.name!r}: {n} missing value(s), NaN in the design"]


def target_name(frame: Any, target: str | int | None = None) -> str:
    """The name of the column that :func:`split_target` takes as the target."""
    view = table_view(frame)
    return view.names[_target_position(view.names, target)]


def _target_position(names: list[str], target: Any) -> int:
    if target is None:
        if not names:
            raise ValueError("the table has no columns")
        return len(names) - 1
    if str(target) in names:
        return names.index(str(target))
    try:
        pos = int(target)
    except (TypeError, ValueError):
        pos = None
    if pos is None or isinstance(target, float) or not -len(names) <= pos < len(names):
        raise ValueError(f"target column {target!r} not found; the columns are {names}")
    return pos % len(names)


def split_target(
    frame: Any, target: str | int | None = None, *, notes: list[str] | None = None
) -> tuple[Any, np.ndarray]:
    """Take the target column out of a table.

    Parameters
    ----------
    frame : table
        pandas/polars DataFrame, pyarrow Table or 2-D NumPy array.
    target : str or int, optional
        The target's name, or, when no column has that name, its integer position
        (negative counts from the end). Default: the last column.
    notes : list of str, optional
        Receives a note when rows are dropped.

    Returns
    -------
    X, y : table of the same kind, ndarray of float64
        The other columns, and the target (booleans as 0/1). Rows without a
        target value are dropped from both.

    Raises
    ------
    ValueError
        Unknown target (the message lists the columns), a target that is not
        numeric or boolean, or no row with a target value.
    """
    view = table_view(frame)
    j = _target_position(view.names, target)
    col = view.column(j)
    if col.kind not in (NUMERIC, BOOL):
        raise ValueError(
            f"target column {col.name!r} must be numeric or boolean, got {col.kind} ({col.dtype})"
        )
    X = view.drop_column(j)
    y = np.ascontiguousarray(col.values, dtype=np.float64)
    bad = np.isnan(y)
    if bad.all():
        raise ValueError(f"target column {col.name!r} has no values")
    if bad.any():
        X = table_view(X).take_rows(~bad)
        y = y[~bad]
        if notes is not None:
            notes.append(
                f"target {col.name!r}: {int(bad.sum())} of {bad.shape[0]} rows have no value "
                "and were dropped"
            )
    return X, y
