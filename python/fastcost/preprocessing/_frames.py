"""Tables (pandas, polars, pyarrow) in the preprocessing steps: their numeric
columns as one float matrix, and the table with cleaned columns written back.

Columns are typed by :func:`fastcost._tables_columns.table_view`, as the
estimators type them: numeric and boolean columns are numbers (missing values --
NaN, ``pd.NA``, null -- read as NaN); text, categorical and date columns are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._tables_columns import BOOL, NUMERIC, is_table

__all__ = ["is_table", "numeric_block", "with_columns"]


def numeric_block(
    view: Any, columns: Sequence[int] | None = None
) -> tuple[np.ndarray, list[int], list[int]]:
    """A table view's numeric and boolean columns as one float64 matrix.

    ``columns``: the positions to read, each of which must hold numbers; None:
    every column that does. Returns the matrix (Fortran order, NaN where a value
    is missing), the positions read and the positions of the other columns.
    """
    positions = range(len(view.names)) if columns is None else columns
    out = np.empty((view.n_rows, len(positions)), order="F")
    numeric: list[int] = []
    other: list[int] = []
    for j in positions:
        col = view.column(int(j))
        if col.kind in (NUMERIC, BOOL):
            out[:, len(numeric)] = col.values
            numeric.append(int(j))
        elif columns is None:
            other.append(int(j))
        else:
            raise ValueError(
                f"column {view.names[j]!r} held numbers at fit but holds {col.dtype} values now"
            )
    return out[:, : len(numeric)], numeric, other


def with_columns(X: Any, values: dict[int, np.ndarray]) -> Any:
    """X (a table or a 2-D array) with the columns at these positions replaced
    by float64 ``values``, in a new object of the same kind; X is left as it is."""
    if isinstance(X, np.ndarray):
        out = X.astype(np.float64 if X.dtype.kind in "biu" else X.dtype)
        for j, v in values.items():
            out[:, j] = v
        return out
    module = type(X).__module__.split(".")[0]
    if module == "pandas":
        out = X.copy(deep=False)
        for j, v in values.items():
            out.isetitem(j, v)
        return out
    if module == "polars":
        import polars as pl

        return X.with_columns([pl.Series(X.columns[j], v) for j, v in values.items()])
    import pyarrow as pa

    for j, v in values.items():
        X = X.set_column(j, X.column_names[j], pa.array(v))
    # pandas' schema note would still give the replaced columns their old types
    # (a boolean column now holding imputed means), which to_pandas() refuses.
    return X.replace_schema_metadata(None) if values and X.schema.metadata else X
