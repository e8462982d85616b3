"""Which role each column of a table takes when it is not declared: the row
index (an unnamed first column numbering the rows), identifiers or free text
(too many distinct values), dates (typed, or ISO text), a numeric column read
as text because of a few bad cells (an error), or a feature: numeric, boolean
or categorical. The notes saying why a column is left out are written here."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._tables_columns import BOOL, CATEGORY, DATETIME, NUMERIC, TEXT, Column, table_view

#: A text column is identifiers or free text from this many distinct values,
#: when they are at least this fraction of its rows.
HIGH_CARDINALITY_MIN_LEVELS = 50
HIGH_CARDINALITY_FRACTION = 0.9
#: Names pandas gives an unnamed first column (R's and pandas' own CSV exports).
UNNAMED = ("", "Unnamed: 0")


def _counts_rows(col: Column) -> str | None:
    """How the column's values number the rows (``"counting the rows (1..n)"``),
    or None when they do not."""
    n = col.missing.shape[0]
    if n == 0 or col.missing.any() or col.kind not in (NUMERIC, TEXT):
        return None
    values = col.values
    if col.kind == TEXT:
        try:
            values = np.asarray(values, dtype=np.float64)
        except ValueError:
            return None
    for first in (0, 1):
        if np.array_equal(values, np.arange(first, first + n, dtype=np.float64)):
            return f"counting the rows ({first}..{first + n - 1})"
    # Row numbers of a subset of the rows (after dropna, a filter or a shuffled
    # split): distinct whole numbers, none negative.
    values = np.asarray(values, dtype=np.float64)
    if (
        np.all(np.isfinite(values))
        and np.all(values >= 0)
        and np.array_equal(values, np.floor(values))
        and np.unique(values).shape[0] == n
    ):
        return f"of distinct row numbers ({int(values.min())} to {int(values.max())})"
    return None


def _n_distinct(col: Column) -> int:
    """Number of distinct values present (a categorical's unused categories not counted)."""
    labels, inv = col.factorize()
    if col.kind == CATEGORY:
        n_cats = len(col.categories or [])
        return int(np.count_nonzero(np.bincount(inv, minlength=len(labels))[:n_cats]))
    return len(labels) - (col.n_missing > 0)


def _max_distinct(col: Column) -> int:
    """An upper bound of :func:`_n_distinct` known without a scan where the dtype
    tells it (a categorical's number of categories)."""
    if col.kind == CATEGORY:
        return len(col.categories or [])
    return _n_distinct(col)


def _index_note(col: Column) -> str | None:
    """Why an unnamed first column is taken as the row index, or None when it is not."""
    counted = _counts_rows(col)
    if counted is not None:
        return f"column {col.name!r} left out: an unnamed first column {counted} is the row index"
    if col.kind == TEXT and col.n_missing == 0 and _n_distinct(col) == col.missing.shape[0]:
        return f"column {col.name!r} left out: an unnamed first column of distinct labels holds row names"
    return None


def index_column(frame: Any) -> tuple[str, str] | None:
    """The name of the table's row-index column and the note saying so, or None.

    The first column is the row index when it is unnamed (``"Unnamed: 0"`` or
    ``""``, as pandas reads R's and pandas' own CSV exports) and its values count
    the rows (0..n-1 or 1..n), are distinct whole numbers (row numbers left after
    a filter or a shuffled split) or are distinct text labels (R's row names).
    :class:`TableEncoder` applies the same rule; call this on a whole file before
    dropping rows (e.g. those without a target), which breaks the count.
    """
    view = table_view(frame)
    if not view.names or view.names[0] not in UNNAMED:
        return None
    note = _index_note(view.column(0))
    return None if note is None else (view.names[0], note)


def identifier_note(name: str, distinct: int, n_present: int) -> str:
    """The note of a column left out as identifiers or free text."""
    return (
        f"column {name!r} left out: {distinct} distinct values in {n_present} rows "
        f"look like identifiers or free text (categorical_features=[{name!r}] keeps it)"
    )


def row_numbers_note(name: str, n: int, n_present: int, low: float, high: float,
                     sums: tuple[float, float], whole: bool) -> str | None:  # fmt: skip
    """The index note of an unnamed first numeric column known only by its count,
    range, sum and sum of squares (a cluster's reductions, no gather of the
    column): n whole numbers filling low .. high, each once as the two sums say.
    None when they are not. Row numbers with gaps (a filtered table) are not
    recognized this way, as they are in memory."""
    if n == 0 or n_present != n or not whole or low < 0 or high - low + 1 != n:
        return None
    values = np.arange(low, high + 1, dtype=np.float64)
    if not np.allclose(sums, (values.sum(), values @ values), rtol=1e-12, atol=0.0):
        return None
    if low in (0, 1):
        return (
            f"column {name!r} left out: an unnamed first column counting the rows "
            f"({low:g}..{high:g}) is the row index"
        )
    return (
        f"column {name!r} left out: an unnamed first column of distinct row numbers "
        f"({low:g} to {high:g}) is the row index"
    )


def _identifier_like(distinct: int, n_present: int) -> bool:
    return (
        distinct > HIGH_CARDINALITY_MIN_LEVELS and distinct >= HIGH_CARDINALITY_FRACTION * n_present
    )


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"


def _dates_as_text(col: Column) -> str | None:
    """The note of a text column whose every value is an ISO date or time
    (a CSV's dates, which the reader leaves as text), or None."""
    import re

    labels = [lv for lv in col.factorize()[0] if lv is not None]
    pattern = re.compile(_ISO_DATE)
    if not labels or not all(pattern.match(lv) for lv in labels):
        return None
    return (
        f"column {col.name!r} left out: its text values are dates/times, which are not "
        "encoded; convert it to a number (e.g. a year, or days since a date) to use it"
    )


def _refuse_stray_text(col: Column) -> None:
    """A text column of many distinct numbers in which a few cells are not
    numbers (a typo, a marker such as "n/a") is a numeric column read as text:
    left out as identifiers, it would silently lose a predictor. ValueError
    naming the first such cell."""
    labels, inv = col.factorize()
    present = [i for i, lv in enumerate(labels) if lv is not None]
    if len(present) <= HIGH_CARDINALITY_MIN_LEVELS:
        return
    # Free text or codes fail on a spread of 64 labels: no parse of every label.
    probe = present[:: max(1, len(present) // 64)]
    if sum(_as_number(str(labels[i])) for i in probe) < 0.5 * len(probe):
        return
    parsed = np.array([_as_number(str(labels[i])) for i in present], dtype=np.bool_)
    if parsed.all() or np.count_nonzero(parsed) <= HIGH_CARDINALITY_MIN_LEVELS:
        return
    counts = np.bincount(inv, minlength=len(labels))
    bad_codes = [present[k] for k in np.flatnonzero(np.logical_not(parsed))]
    n_bad = int(counts[bad_codes].sum())
    if n_bad > max(1, 0.01 * int(counts[present].sum())):
        return
    row = int(np.flatnonzero(np.isin(inv, bad_codes))[0])
    raise ValueError(
        f"column {col.name!r} holds numbers but {n_bad} cell(s) that are not "
        f"(first: {labels[int(inv[row])]!r} in row {row}): fix them, mark them missing, "
        "or leave the column out"
    )


def _as_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def _auto_role(col: Column, first_unnamed: bool) -> tuple[str, str | None]:
    """The role of a column not forced to be categorical, and the note saying why
    it is left out (None when it is kept)."""
    name = col.name
    note = _index_note(col) if first_unnamed else None
    if note is not None:
        return "index", note
    if col.kind in (NUMERIC, BOOL):
        return col.kind, None
    if col.kind == TEXT:
        dates = _dates_as_text(col)
        if dates is not None:
            return "datetime", dates
        _refuse_stray_text(col)
    if col.kind in (TEXT, CATEGORY):
        n_present = col.missing.shape[0] - col.n_missing
        if _identifier_like(_max_distinct(col), n_present):
            distinct = _n_distinct(col)
        else:  # not even the upper bound passes: no need to count
            distinct = 0
        if _identifier_like(distinct, n_present):
            return "identifier", identifier_note(name, distinct, n_present)
        return "categorical", None
    if col.kind == DATETIME:
        return "datetime", (
            f"column {name!r} left out: date/time columns ({col.dtype}) are not encoded; "
            "convert it to a number (e.g. a year, or days since a date) to use it"
        )
    return "unsupported", (
        f"column {name!r} left out: its type ({col.dtype}) is neither numeric, boolean, "
        "text nor categorical"
    )
