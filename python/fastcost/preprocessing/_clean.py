"""NaN and inf in X and y: clean (a function) and Cleaner (a transformer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _core
from .._threads import resolve_n_threads
from .._validation import FLOAT_DTYPES, kernel_layout
from ._common import _as_float_matrix

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
    X, converted = _as_float_matrix(X)
    n, d = X.shape
    yv = None
    if y is not None:
        yv = np.ascontiguousarray(np.asarray(y, dtype=X.dtype).reshape(-1))
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


class Cleaner(TransformerMixin, BaseEstimator):
    """Transformer for NaN and inf in X: raise, impute column means, or drop rows.

    ``fit`` scans X once (in C++) and learns the means of each column's finite
    values; ``transform`` applies the policy: ``raise`` names the first bad
    cell, ``impute`` fills bad cells with the fitted means (in place when
    ``copy=False``), ``drop`` returns the rows without bad cells -- which
    changes the number of rows, so in a pipeline with a target use
    :func:`clean` on ``(X, y)`` instead.

    Parameters
    ----------
    policy : {"raise", "drop", "impute"}, default="raise"
    copy : bool, default=True
    n_threads : int or None, default=None

    Attributes
    ----------
    statistics_ : ndarray of shape (n_features,)
        Means of each column's finite values at fit (NaN for a column without any).
    report_ : CleanReport
        What the fit's scan found.
    n_features_in_ : int

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
        if _is_pandas_frame(X):
            return self._fit_frame(X)
        self.__dict__.pop("numeric_columns_", None)
        X = validate_data(self, X, reset=True, dtype=list(FLOAT_DTYPES), order=None,
                          ensure_all_finite=False)  # fmt: skip
        X = kernel_layout(X)
        scan = _core.scan_nonfinite(X, None, False, 0, resolve_n_threads(self.n_threads))
        col_bad = np.asarray(scan["col_bad"])
        finite = X.shape[0] - col_bad
        with np.errstate(invalid="ignore", divide="ignore"):
            self.statistics_ = np.where(
                finite > 0, np.asarray(scan["col_finite_sum"]) / finite, np.nan
            )
        first = None if scan["first"] is None else (int(scan["first"][0]), int(scan["first"][1]))
        self.report_ = CleanReport(
            policy=self.policy, n_rows=X.shape[0], bad_cells_X=int(col_bad.sum()), bad_cells_y=0,
            rows_dropped=0, cells_imputed=0,
            columns_affected=tuple(int(j) for j in np.flatnonzero(col_bad)),
            first_bad=first, bytes_copied=0, in_place=False,
        )  # fmt: skip
        if self.policy == "raise" and first is not None:
            raise ValueError(f"X holds NaN or infinity, first at row {first[0]}, column {first[1]}")
        return self

    def _fit_frame(self, X: Any) -> Cleaner:
        """A pandas frame: the numeric columns' means over the training rows; text
        and categorical columns are left alone (a missing level is a level of its own)."""
        numeric = [c for c in X.columns if _numeric_column(X[c])]
        values = X[numeric].astype("float64").to_numpy(na_value=np.nan) if numeric else None
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.numeric_columns_ = numeric
        if values is None:
            self.statistics_ = np.zeros(0)
            bad_cols = np.zeros(0, dtype=int)
        else:
            finite = np.isfinite(values)
            bad_cols = (~finite).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.statistics_ = np.where(finite, values, 0.0).sum(axis=0) / finite.sum(axis=0)
        bad = {str(c): int(k) for c, k in zip(numeric, bad_cols, strict=True) if k}
        self.report_ = CleanReport(
            policy=self.policy, n_rows=X.shape[0], bad_cells_X=int(sum(bad.values())),
            bad_cells_y=0, rows_dropped=0, cells_imputed=0,
            columns_affected=tuple(i for i, c in enumerate(X.columns) if str(c) in bad),
            first_bad=None, bytes_copied=0, in_place=False,
        )  # fmt: skip
        if self.policy == "raise" and bad:
            raise ValueError(f"X holds NaN or infinity in columns {bad} (cells per column)")
        return self

    def _transform_frame(self, X: Any) -> Any:
        numeric = self.numeric_columns_
        missing = [c for c in numeric if c not in X.columns]
        if missing:
            raise ValueError(f"columns missing from X: {missing} (seen at fit)")
        values = X[numeric].astype("float64").to_numpy(na_value=np.nan)
        bad = ~np.isfinite(values)
        if not bad.any():
            return X
        names = {str(numeric[j]): int(k) for j, k in enumerate(bad.sum(axis=0)) if k}
        if self.policy == "raise":
            raise ValueError(f"X holds NaN or infinity in columns {names} (cells per column)")
        if self.policy == "drop":
            return X[~bad.any(axis=1)]
        empty = [str(numeric[j]) for j in np.flatnonzero(np.isnan(self.statistics_))]
        if empty:
            raise ValueError(f"columns {empty} had no finite value at fit to impute from")
        out = X.copy()
        filled = np.where(bad, self.statistics_, values)
        for j, c in enumerate(numeric):
            if bad[:, j].any():
                out[c] = filled[:, j]
        return out

    def transform(self, X: Any) -> np.ndarray:
        """Apply the policy to X (a pandas frame stays a frame: its numeric
        columns are cleaned, the others kept as they are)."""
        check_is_fitted(self)
        if getattr(self, "numeric_columns_", None) is not None:
            return self._transform_frame(X)  # type: ignore[no-any-return]
        X_in = X
        X = validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES), order=None,
                          ensure_all_finite=False)  # fmt: skip
        X = kernel_layout(X)
        converted = X is not X_in
        threads = resolve_n_threads(self.n_threads)
        scan = _core.scan_nonfinite(X, None, self.policy == "drop", 0, threads)
        if scan["first"] is None:
            return X
        i, j = scan["first"]
        if self.policy == "raise":
            raise ValueError(f"X holds NaN or infinity, first at row {i}, column {j}")
        if self.policy == "drop":
            return X[~np.asarray(scan["row_bad"]).view(bool)]
        bad_cols = np.flatnonzero(np.asarray(scan["col_bad"]))
        if np.isnan(self.statistics_[bad_cols]).any():
            raise ValueError("a column with NaN/inf had no finite value at fit to impute from")
        if (self.copy and not converted) or not X.flags.writeable:
            X = X.copy(order="K")
        _core.fill_nonfinite(X, self.statistics_, 0, threads)
        return X

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.policy != "raise"  # "raise" rejects them, by design
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _is_pandas_frame(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "pandas" and hasattr(X, "columns")


def _numeric_column(col: Any) -> bool:
    """Whether a pandas column holds numbers (numpy or nullable; not bool or text)."""
    kind = getattr(col.dtype, "kind", "O")
    return kind in "iuf"
