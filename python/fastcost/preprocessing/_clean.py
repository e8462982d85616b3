"""NaN and inf in X and y: clean (a function) and Cleaner (a transformer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .. import _core
from .._tables_columns import table_view
from .._threads import resolve_n_threads
from .._validation import FLOAT_DTYPES, kernel_layout
from ._common import _as_float_matrix
from ._frames import is_table, numeric_block, with_columns

POLICIES = ("raise", "drop", "impute")


@dataclass(frozen=True)
class CleanReport:
    """What :func:`clean` (or :class:`Cleaner`) did.

    Attributes
    ----------
    policy : str
    n_rows : int
        Rows looked at.
    bad_cells_X, bad_cells_y : int
        NaN/inf cells found in X and y.
    rows_dropped : int
    cells_imputed : int
    columns_affected : tuple of int
        Columns of X holding at least one NaN/inf.
    first_bad : tuple of (int, int) or None
        First bad cell in row order; column ``n_features`` means y.
    bytes_copied : int
        Bytes of X and y copied (0 when nothing was bad or the fix was in place).
    in_place : bool
        Whether X was modified in place.
    """

    policy: str
    n_rows: int
    bad_cells_X: int
    bad_cells_y: int
    rows_dropped: int
    cells_imputed: int
    columns_affected: tuple[int, ...]
    first_bad: tuple[int, int] | None
    bytes_copied: int
    in_place: bool

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["columns_affected"] = list(self.columns_affected)
        out["first_bad"] = None if self.first_bad is None else list(self.first_bad)
        return out


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")


_TABLE_HINT = (
    "clean returns one float matrix: drop these columns first, or use Cleaner, which cleans "
    "a table's numeric columns and keeps the others"
)


def _as_vector(y: Any, dtype: np.dtype) -> np.ndarray:
    """y as a 1-D array; pandas' missing values (``pd.NA``) as NaN."""
    if type(y).__module__.split(".")[0] == "pandas" and hasattr(y, "to_numpy"):
        y = y.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(y, dtype=dtype).reshape(-1)


def clean(
    X: Any,
    y: Any = None,
    policy: str = "raise",
    *,
    copy: bool = True,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None, CleanReport]:
    """Deal with NaN and inf in X (and y) after one compiled scan.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        A table (pandas or polars DataFrame, pyarrow Table) must hold numbers
        only (numeric or boolean columns; ``pd.NA`` and null count as missing):
        the result is one float matrix. :class:`Cleaner` cleans a table's
        numeric columns and keeps the others.
    y : array-like of shape (n_samples,), optional
    policy : {"raise", "drop", "impute"}, default="raise"
        ``raise``: ValueError naming the first bad row and column.
        ``drop``: new arrays without the rows holding any bad cell in X or y
        (one copy of the kept rows).
        ``impute``: replace X's bad cells with the mean of the column's finite
        values -- in place when ``copy=False`` and X is a writable float array,
        else in one copy. A target cannot be imputed without biasing the fit,
        so rows with a bad y are dropped (one copy) before imputing.
    copy : bool, default=True
        ``impute`` only: False allows overwriting X.
    n_threads : int or None, default=None

    Returns
    -------
    X, y, report : ndarray, ndarray or None, CleanReport
        X and y unchanged (the same objects) when nothing was bad.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost.preprocessing import clean
    >>> X = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 6.0]])
    >>> Xc, _, report = clean(X, policy="impute")
    >>> Xc[1, 0], report.cells_imputed, report.columns_affected
    (np.float64(2.0), 1, (0,))
    """
    _check_policy(policy)
    threads = resolve_n_threads(n_threads)
    X, converted = _as_float_matrix(X, _TABLE_HINT)
    n, d = X.shape
    yv = None
    if y is not None:
        yv = np.ascontiguousarray(_as_vector(y, X.dtype))
        if yv.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {yv.shape[0]}")
    scan = _core.scan_nonfinite(X, yv, policy != "raise", 0, threads)
    col_bad = np.asarray(scan["col_bad"])
    first = None if scan["first"] is None else (int(scan["first"][0]), int(scan["first"][1]))
    base = dict(
        policy=policy,
        n_rows=n,
        bad_cells_X=int(col_bad.sum()),
        bad_cells_y=int(scan["y_bad"]),
        columns_affected=tuple(int(j) for j in np.flatnonzero(col_bad)),
        first_bad=first,
    )
    copied = X.nbytes if converted else 0
    if first is None:
        return X, yv, CleanReport(rows_dropped=0, cells_imputed=0, bytes_copied=copied,
                                  in_place=False, **base)  # fmt: skip
    if policy == "raise":
        i, j = first
        what = "y" if j == d else f"X (column {j})"
        raise ValueError(
            f"{what} holds NaN or infinity, first at row {i}; "
            f"{base['bad_cells_X']} bad cells in X, {base['bad_cells_y']} in y. "
            "Use policy='drop' or 'impute'"
        )
    row_bad = np.asarray(scan["row_bad"]).view(bool)
    if policy == "drop":
        keep = ~row_bad
        X2 = X[keep]
        y2 = None if yv is None else yv[keep]
        copied += X2.nbytes + (0 if y2 is None else y2.nbytes)
        return X2, y2, CleanReport(rows_dropped=int(row_bad.sum()), cells_imputed=0,
                                   bytes_copied=copied, in_place=False, **base)  # fmt: skip
    # impute
    dropped = 0
    in_place = False
    if scan["y_bad"]:
        assert yv is not None  # y_bad counts y's cells
        keep = np.isfinite(yv)
        dropped = int((~keep).sum())
        X, yv = X[keep], yv[keep]
        copied += X.nbytes + yv.nbytes
        scan = _core.scan_nonfinite(X, None, False, 0, threads)
        col_bad = np.asarray(scan["col_bad"])
    elif copy and not converted or not X.flags.writeable:
        X = X.copy(order="K")
        copied += X.nbytes
    else:
        in_place = not converted
    n_kept = X.shape[0]
    finite = n_kept - col_bad
    if (finite[col_bad > 0] == 0).any():
        j = int(np.flatnonzero((finite == 0) & (col_bad > 0))[0])
        raise ValueError(f"column {j} has no finite value to impute from")
    means = np.asarray(scan["col_finite_sum"]) / np.maximum(finite, 1)
    imputed = int(_core.fill_nonfinite(X, means, 0, threads)) if col_bad.any() else 0
    return X, yv, CleanReport(rows_dropped=dropped, cells_imputed=imputed, bytes_copied=copied,
                              in_place=in_place, **base)  # fmt: skip


class Cleaner(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Transformer for NaN and inf in X: raise, impute column means, or drop rows.

    ``fit`` scans X once (in C++) and learns the means of each column's finite
    values; ``transform`` applies the policy: ``raise`` names the first bad
    cell, ``impute`` fills bad cells with the fitted means (in place when
    ``copy=False``), ``drop`` returns the rows without bad cells -- which
    changes the number of rows, so in a pipeline with a target use
    :func:`clean` on ``(X, y)`` instead.

    A table (pandas or polars DataFrame, pyarrow Table) stays a table: its
    numeric and boolean columns are cleaned -- ``pd.NA`` and null count as
    missing, and an imputed column becomes float64, as scikit-learn's
    ``SimpleImputer(strategy="mean")`` makes it -- and its text, categorical
    and date columns are kept as they are (a missing level is a level of its
    own for the estimators). A table is never modified in place.

    Parameters
    ----------
    policy : {"raise", "drop", "impute"}, default="raise"
    copy : bool, default=True
    n_threads : int or None, default=None

    Attributes
    ----------
    statistics_ : ndarray of shape (n_features,) or (len(numeric_columns_),)
        Means of each cleaned column's finite values at fit (NaN for a column
        without any).
    numeric_columns_ : ndarray of int
        Fitted on a table only: the positions of its numeric and boolean columns,
        the ones cleaned.
    report_ : CleanReport
        What the fit's scan found (columns by their position in X).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Fitted on a table whose column names are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost.preprocessing import Cleaner
    >>> X = np.array([[1.0, np.inf], [3.0, 4.0]])
    >>> Cleaner(policy="impute").fit_transform(X)
    array([[1., 4.],
           [3., 4.]])
    """

    def __init__(
        self, policy: str = "raise", *, copy: bool = True, n_threads: int | None = None
    ) -> None:
        self.policy = policy
        self.copy = copy
        self.n_threads = n_threads

    def fit(self, X: Any, y: Any = None) -> Cleaner:
        """Scan X once; learn the means of the finite values."""
        _check_policy(self.policy)
        names: list[str] | None = None
        if is_table(X):
            validate_data(self, X, reset=True, skip_check_array=True)
            view = table_view(X)
            M, numeric, _ = numeric_block(view)
            self.numeric_columns_ = np.asarray(numeric, dtype=np.intp)
            columns: Sequence[int] = numeric
            names = view.names
        else:
            self.__dict__.pop("numeric_columns_", None)
            M = validate_data(self, X, reset=True, dtype=list(FLOAT_DTYPES), order=None,
                              ensure_all_finite=False)  # fmt: skip
            M = kernel_layout(M)
            columns = range(M.shape[1])
        scan = _core.scan_nonfinite(M, None, False, 0, resolve_n_threads(self.n_threads))
        col_bad = np.asarray(scan["col_bad"])
        finite = M.shape[0] - col_bad
        with np.errstate(invalid="ignore", divide="ignore"):
            self.statistics_ = np.where(
                finite > 0, np.asarray(scan["col_finite_sum"]) / finite, np.nan
            )
        first = (
            None if scan["first"] is None else (int(scan["first"][0]), columns[scan["first"][1]])
        )
        self.report_ = CleanReport(
            policy=self.policy, n_rows=M.shape[0], bad_cells_X=int(col_bad.sum()), bad_cells_y=0,
            rows_dropped=0, cells_imputed=0,
            columns_affected=tuple(columns[j] for j in np.flatnonzero(col_bad).tolist()),
            first_bad=first, bytes_copied=0, in_place=False,
        )  # fmt: skip
        if self.policy == "raise" and first is not None:
            raise _bad_cells_error(scan, columns, names)
        return self

    def transform(self, X: Any) -> Any:
        """Apply the policy to X (a table stays a table: its numeric columns are
        cleaned, the others kept as they are)."""
        check_is_fitted(self)
        columns = getattr(self, "numeric_columns_", None)
        if columns is None:
            return self._transform_array(X)
        if not is_table(X):  # an array by position, as scikit-learn reads one after a table
            X = check_array(X, dtype=None, ensure_all_finite=False, estimator=self)
        validate_data(self, X, reset=False, skip_check_array=True)
        view = table_view(X)
        M, _, _ = numeric_block(view, columns)
        M, keep, filled = self._apply(M, columns, view.names, in_place=True)
        if keep is not None:
            return view.take_rows(keep)
        if not filled.size:
            return X
        return with_columns(X, {int(columns[k]): M[:, k] for k in filled})

    def _transform_array(self, X: Any) -> np.ndarray:
        X_in = X
        X = validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES), order=None,
                          ensure_all_finite=False)  # fmt: skip
        X = kernel_layout(X)
        in_place = (X is not X_in or not self.copy) and X.flags.writeable
        X, keep, _ = self._apply(X, range(X.shape[1]), None, in_place)
        return X if keep is None else X[keep]

    def _apply(
        self, M: np.ndarray, columns: Sequence[int], names: list[str] | None, in_place: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The policy on the float matrix M, whose columns are X's ``columns``
        (named ``names`` in a table): M cleaned (filled in place where ``in_place``
        allows, else in a copy), the rows to keep (``drop``; else None) and the
        columns of M that were filled (``impute``)."""
        threads = resolve_n_threads(self.n_threads)
        scan = _core.scan_nonfinite(M, None, self.policy == "drop", 0, threads)
        filled = np.zeros(0, dtype=np.intp)
        if scan["first"] is None:
            return M, None, filled
        if self.policy == "raise":
            raise _bad_cells_error(scan, columns, names)
        if self.policy == "drop":
            return M, ~np.asarray(scan["row_bad"]).view(bool), filled
        filled = np.flatnonzero(np.asarray(scan["col_bad"]))
        empty = [_column_label(columns[j], names) for j in filled.tolist()
                 if np.isnan(self.statistics_[j])]  # fmt: skip
        if empty:
            raise ValueError(f"columns {empty} of X had no finite value at fit to impute from")
        if not in_place:
            M = M.copy(order="K")
        _core.fill_nonfinite(M, self.statistics_, 0, threads)
        return M, None, filled

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.policy != "raise"  # "raise" rejects them, by design
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _column_label(j: int, names: list[str] | None) -> int | str:
    return int(j) if names is None else names[j]


def _bad_cells_error(
    scan: dict[str, Any], columns: Sequence[int], names: list[str] | None
) -> ValueError:
    """Where a scan found NaN/inf: the first bad cell and the count per column."""
    i, j = scan["first"]
    col_bad = np.asarray(scan["col_bad"])
    counts = {
        _column_label(columns[k], names): int(col_bad[k]) for k in np.flatnonzero(col_bad).tolist()
    }
    return ValueError(
        f"X holds NaN or infinity, first at row {i}, column {_column_label(columns[j], names)!r}; "
        f"cells per column: {counts}"
    )
