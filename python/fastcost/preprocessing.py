"""Preprocessing that costs no copies: clean, standardize, prune, augment.

Every step reads X in place through the compiled kernels and says what it did
in a report object:

* :class:`StandardScaler` -- scikit-learn's scaler with statistics from one
  sharded pass (per-block corrected two-pass moments merged in a fixed order,
  Chan et al.) and the transform done in C++ (in place with ``copy=False``).
* :func:`clean` and :class:`Cleaner` -- NaN/inf in X and y: raise (naming the
  first bad cell), drop rows, or impute column means; one scan in C++.
* :func:`find_redundant_columns` -- constant, duplicate and exactly collinear
  columns from the one-pass Gram, and what dropping them saves.
* ``LinearRegression(standardize=True, prune=True, noise_augmentation=s)``
  folds all three into the fit without copying X; the helpers below
  (:func:`fit_preprocessed`) are what it calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _core
from ._threads import resolve_n_threads
from ._validation import FLOAT_DTYPES, kernel_layout

__all__ = [
    "CleanReport",
    "Cleaner",
    "PruneReport",
    "ScalerReport",
    "StandardScaler",
    "clean",
    "find_redundant_columns",
]

POLICIES = ("raise", "drop", "impute")

#: Default collinearity tolerance (relative Schur complement of the correlation
#: matrix) by the dtype of X: float32 statistics accumulate 256-row blocks in
#: float32, so their Gram carries about 1e-5 relative error.
DEFAULT_PRUNE_TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


# ------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ScalerReport:
    """What :meth:`StandardScaler.fit` / ``partial_fit`` did.

    Attributes
    ----------
    n_samples_seen : float
        Rows (or the sum of sample weights) summarized so far.
    n_passes : int
        Passes over X made by the last call (always 1).
    n_shards : int
        Row shards of that pass.
    constant_columns : tuple of int
        Columns whose variance is indistinguishable from 0 (scale 1).
    bytes_copied : int
        Bytes of X copied by validation (0 for float C/Fortran arrays).
    """

    n_samples_seen: float
    n_passes: int
    n_shards: int
    constant_columns: tuple[int, ...]
    bytes_copied: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_samples_seen": float(self.n_samples_seen),
            "n_passes": self.n_passes,
            "n_shards": self.n_shards,
            "constant_columns": list(self.constant_columns),
            "bytes_copied": self.bytes_copied,
        }


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


@dataclass(frozen=True)
class PruneReport:
    """Redundant columns found in the one-pass Gram, and what dropping them saves.

    Attributes
    ----------
    n_features_in : int
    kept : tuple of int
        Columns kept, in order.
    constant : tuple of int
        Columns with zero variance (with an intercept) or all zeros (without).
    duplicate : dict of int to int
        Exact duplicates: dropped column -> the earlier kept column it equals.
    collinear : tuple of int
        Columns in the span of earlier kept columns (relative Schur complement
        of the correlation matrix <= ``tol``).
    tol : float
    gram_work_fraction : float
        ``(k + 2)^2 / (d + 2)^2``: the share of newton's statistics pass (and of
        its per-shard memory) that a fit on the kept columns needs.
    solve_work_fraction : float
        ``k^3 / d^3``: the share of the dense solve.
    """

    n_features_in: int
    kept: tuple[int, ...]
    constant: tuple[int, ...]
    duplicate: dict[int, int]
    collinear: tuple[int, ...]
    tol: float
    gram_work_fraction: float = field(init=False)
    solve_work_fraction: float = field(init=False)

    def __post_init__(self) -> None:
        d, k = self.n_features_in, len(self.kept)
        object.__setattr__(self, "gram_work_fraction", ((k + 2) / (d + 2)) ** 2)
        object.__setattr__(self, "solve_work_fraction", (k / d) ** 3 if d else 1.0)

    @property
    def dropped(self) -> tuple[int, ...]:
        return tuple(sorted({*self.constant, *self.duplicate, *self.collinear}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_features_in": self.n_features_in,
            "n_features_kept": len(self.kept),
            "kept": list(self.kept),
            "constant": list(self.constant),
            "duplicate": {str(k): v for k, v in self.duplicate.items()},
            "collinear": list(self.collinear),
            "tol": self.tol,
            "gram_work_fraction": self.gram_work_fraction,
            "solve_work_fraction": self.solve_work_fraction,
        }


# ---------------------------------------------------------------- shared bits


def _nonfinite_error(X: np.ndarray, what: str = "X") -> ValueError:
    bad = _core.find_nonfinite(X)
    where = "" if bad is None else f" (first at row {bad[0]}, column {bad[1]})"
    return ValueError(
        f"{what} contains NaN or infinity{where}; clean it first with "
        "fastcost.preprocessing.clean or Cleaner"
    )


def _is_constant(var: np.ndarray, mean: np.ndarray, n: float) -> np.ndarray:
    """scikit-learn's rule: a variance within the two-pass algorithm's error bound."""
    eps = np.finfo(np.float64).eps
    return var <= n * eps * var + (n * mean * eps) ** 2


def _output_like(X: np.ndarray) -> np.ndarray:
    """An empty array the kernels see with X's layout (C for row-major views)."""
    row_major = X.flags.c_contiguous or (not X.flags.f_contiguous and X.strides[1] == X.itemsize)
    return np.empty(X.shape, dtype=X.dtype, order="C" if row_major else "F")


# ------------------------------------------------------------ StandardScaler


class StandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardize features, ``z = (x - mean) / scale``, with compiled passes.

    A drop-in for :class:`sklearn.preprocessing.StandardScaler` on dense float
    arrays: the same attributes and the same numbers (statistics agree to a few
    ulps, the transform bit for bit), computed in one sharded pass that reads X
    in place. Each shard forms corrected two-pass moments block by block about
    a row of the data (exact for columns with a large mean and small spread,
    e.g. ``1e9 + N(0, 1e-3)``) and the shards are merged in a fixed order
    (Chan, Golub & LeVeque), so results do not depend on the thread count.
    ``transform`` runs in C++ too; ``copy=False`` overwrites X in place. NaN
    and inf are rejected (see :func:`clean`); sparse input is not supported.

    Parameters
    ----------
    copy : bool, default=True
        False: ``transform``/``inverse_transform`` overwrite X when it is a
        writable float array the kernels can read in place.
    with_mean : bool, default=True
    with_std : bool, default=True
    n_threads : int or None, default=None
        Threads of the passes (None: all cores the process may use).

    Attributes
    ----------
    mean_, var_, scale_ : ndarray of shape (n_features,) or None
        As scikit-learn's (float64); ``scale_`` is 1 for constant columns.
    n_samples_seen_ : int or float
        Rows seen, or the sum of sample weights.
    report_ : ScalerReport
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X has string column names

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost.preprocessing import StandardScaler
    >>> X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    >>> scaler = StandardScaler().fit(X)
    >>> scaler.mean_, scaler.scale_
    (array([ 3., 10.]), array([1.63299316, 1.        ]))
    >>> scaler.transform(X)[:, 0]
    array([-1.22474487,  0.        ,  1.22474487])
    """

    def __init__(
        self, *, copy: bool = True, with_mean: bool = True, with_std: bool = True,
        n_threads: int | None = None,
    ) -> None:  # fmt: skip
        self.copy = copy
        self.with_mean = with_mean
        self.with_std = with_std
        self.n_threads = n_threads

    def _reset(self) -> None:
        for attr in ("mean_", "var_", "scale_", "n_samples_seen_", "report_", "_mean", "_m2"):
            self.__dict__.pop(attr, None)

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Compute mean and standard deviation in one pass over X."""
        self._reset()
        return self.partial_fit(X, y, sample_weight)

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Add a batch of rows to the running statistics (Chan et al. merge)."""
        first = not hasattr(self, "n_samples_seen_")
        X_in = X
        X = validate_data(
            self, X, reset=first, dtype=list(FLOAT_DTYPES), order=None, ensure_all_finite=False
        )
        X = kernel_layout(X)
        copied = 0 if X is X_in else X.nbytes
        sw = None
        if sample_weight is not None:
            sw = np.ascontiguousarray(_check_sample_weight(sample_weight, X, dtype=X.dtype))
        st = _core.column_moments(X, sw, 0, resolve_n_threads(self.n_threads))
        if not st["finite"]:
            raise _nonfinite_error(X)
        n_new = float(st["sum_weights"]) if sw is not None else X.shape[0]
        mean_b = np.asarray(st["mean"], dtype=np.float64)
        m2_b = np.asarray(st["m2"], dtype=np.float64)
        if first or getattr(self, "n_samples_seen_", 0) == 0:
            n_tot, mean, m2 = n_new, mean_b, m2_b
        else:
            n_old: Any = getattr(self, "n_samples_seen_")  # noqa: B009 - set by an earlier call
            mean_old: np.ndarray = getattr(self, "_mean")  # noqa: B009
            m2_old: np.ndarray = getattr(self, "_m2")  # noqa: B009
            n_tot = n_old + n_new
            delta = mean_b - mean_old
            mean = mean_old + delta * (n_new / n_tot) if n_tot > 0 else mean_old
            m2 = m2_old + m2_b + delta**2 * (n_old * n_new / n_tot if n_tot > 0 else 0.0)
        self.n_samples_seen_ = np.int64(n_tot) if sw is None and isinstance(n_tot, int) else n_tot
        # Keep the running moments even when with_mean/with_std hide them.
        self._mean, self._m2 = mean, m2
        var = m2 / n_tot if n_tot > 0 else np.zeros_like(m2)
        if not (self.with_mean or self.with_std):
            self.mean_ = self.var_ = self.scale_ = None
        else:
            self.mean_ = mean
            self.var_ = var if self.with_std else None
            if self.with_std:
                constant = _is_constant(var, mean, n_tot)
                scale = np.sqrt(var)
                scale[constant | (scale < 10 * np.finfo(np.float64).eps)] = 1.0
                self.scale_ = scale
            else:
                self.scale_ = None
        const = _is_constant(var, mean, n_tot) if n_tot > 0 else np.ones(var.shape, bool)
        self.report_ = ScalerReport(
            n_samples_seen=float(n_tot),
            n_passes=1,
            n_shards=int(st["n_shards"]),
            constant_columns=tuple(int(j) for j in np.flatnonzero(const)),
            bytes_copied=copied,
        )
        return self

    def _apply(self, X: Any, copy: bool | None, inverse: bool) -> np.ndarray:
        check_is_fitted(self)
        copy = self.copy if copy is None else copy
        X_in = X
        X = validate_data(
            self, X, reset=False, dtype=list(FLOAT_DTYPES), order=None, ensure_all_finite=False
        )
        X = kernel_layout(X)
        if not copy and X is X_in and not X.flags.writeable:
            copy = True
        out = _output_like(X) if copy else X
        offset = self.mean_ if self.with_mean else None
        scale = self.scale_ if self.with_std else None
        n_bad = _core.affine_columns(
            X, out, offset, scale, inverse, 0, resolve_n_threads(self.n_threads)
        )
        if n_bad:
            raise _nonfinite_error(out)
        return out

    def transform(self, X: Any, copy: bool | None = None) -> np.ndarray:
        """Standardize X (in place when ``copy=False`` and X allows it)."""
        return self._apply(X, copy, inverse=False)

    def inverse_transform(self, X: Any, copy: bool | None = None) -> np.ndarray:
        """Map standardized data back: ``x * scale + mean``."""
        return self._apply(X, copy, inverse=True)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# ------------------------------------------------------------------ cleaning


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")


def _as_float_matrix(X: Any) -> tuple[np.ndarray, bool]:
    """X as an array the kernels read in place; True when that took a copy."""
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {arr.shape}")
    if arr.dtype not in FLOAT_DTYPES:
        return kernel_layout(arr.astype(np.float64)), True
    out = kernel_layout(arr)
    return out, out is not X


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

    def transform(self, X: Any) -> np.ndarray:
        """Apply the policy to X."""
        check_is_fitted(self)
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


# ------------------------------------------------------------------- pruning


def _centered(
    gram: np.ndarray, shift: np.ndarray, fit_intercept: bool
) -> tuple[np.ndarray, float, np.ndarray]:
    """The x-block of the weighted Gram about the means (intercept) or about 0,
    the sum of weights and the column means, from gram_stats' augmented Gram."""
    d = gram.shape[0] - 2
    S = float(gram[d + 1, d + 1])
    m = gram[:d, d + 1]
    c = np.asarray(shift[:d], dtype=np.float64)
    mean = c + m / S
    if fit_intercept:
        A = gram[:d, :d] - np.outer(m, m) / S
    else:
        A = gram[:d, :d] + np.outer(c, m) + np.outer(m, c) + S * np.outer(c, c)
    return A, S, mean


def redundant_from_gram(
    gram: np.ndarray,
    shift: np.ndarray,
    *,
    fit_intercept: bool = True,
    tol: float = 1e-10,
    X: np.ndarray | None = None,
) -> PruneReport:
    """Constant, duplicate and collinear columns from an augmented Gram
    (``_core.gram_stats`` layout). With X, duplicate candidates are confirmed
    cell by cell (two column reads each); without, they count as collinear."""
    gram = np.asarray(gram, dtype=np.float64)
    d = gram.shape[0] - 2
    A, S, mean = _centered(gram, shift, fit_intercept)
    diag = np.diag(A).copy()
    if fit_intercept:
        constant = _is_constant(diag / S, mean, S)
    else:
        constant = ~(diag > 0)
    alive = [j for j in range(d) if not constant[j]]
    duplicate: dict[int, int] = {}
    collinear: list[int] = []
    kept: list[int] = []
    L = np.zeros((0, 0))
    for j in alive:
        # Exact duplicate of a kept column? The Gram gives candidates cheaply.
        dup = None
        for k in kept:
            dist = diag[j] + diag[k] - 2 * A[j, k]
            if dist <= tol * (diag[j] + diag[k]) and mean[j] == mean[k]:
                if X is not None and np.array_equal(X[:, j], X[:, k]):
                    dup = k
                    break
        if dup is not None:
            duplicate[j] = dup
            continue
        # Cholesky of the correlation matrix, one column at a time in the
        # original order: a column whose Schur complement (its variance left
        # unexplained by the kept columns, relative) is below tol is collinear.
        scale = 1.0 / np.sqrt(diag[kept] * diag[j]) if kept else np.zeros(0)
        r = A[kept, j] * scale
        lrow = solve_triangular(L, r, lower=True, check_finite=False) if kept else r
        schur = 1.0 - float(lrow @ lrow)
        if schur <= tol:
            collinear.append(j)
            continue
        k = len(kept)
        L2 = np.zeros((k + 1, k + 1))
        L2[:k, :k] = L
        L2[k, :k] = lrow
        L2[k, k] = np.sqrt(schur)
        L = L2
        kept.append(j)
    return PruneReport(
        n_features_in=d,
        kept=tuple(kept),
        constant=tuple(int(j) for j in np.flatnonzero(constant)),
        duplicate=duplicate,
        collinear=tuple(collinear),
        tol=float(tol),
    )


def find_redundant_columns(
    X: Any,
    sample_weight: Any = None,
    *,
    fit_intercept: bool = True,
    tol: float | None = None,
    n_threads: int | None = None,
) -> PruneReport:
    """Constant, exactly duplicated and exactly collinear columns of X.

    One sharded pass forms the weighted Gram (``_core.gram_stats``, no copy of
    X); constant columns have zero centered variance (scikit-learn's bound),
    duplicates are confirmed cell by cell, and a Cholesky of the correlation
    matrix taken column by column in the original order drops each column the
    earlier kept columns explain to within ``tol`` (so the first of a
    collinear set is kept). Select the kept columns with ``X[:, report.kept]``
    or let ``LinearRegression(prune=True)`` do it without a copy.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,), optional
    fit_intercept : bool, default=True
        True: redundancy up to a constant (the model has an intercept).
    tol : float, optional
        Relative Schur-complement tolerance; default ``DEFAULT_PRUNE_TOL`` by dtype.
    n_threads : int or None

    Returns
    -------
    PruneReport

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost.preprocessing import find_redundant_columns
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((2, 100))
    >>> X = np.column_stack([a, b, np.ones(100), a, a + 2 * b])
    >>> r = find_redundant_columns(X)
    >>> r.kept, r.constant, r.duplicate, r.collinear
    ((0, 1), (2,), {3: 0}, (4,))
    """
    X, _ = _as_float_matrix(X)
    sw = None
    if sample_weight is not None:
        sw = np.ascontiguousarray(_check_sample_weight(sample_weight, X, dtype=X.dtype))
    st = _core.gram_stats(X, None, sw, None, 0, resolve_n_threads(n_threads))
    gram = np.asarray(st["gram"])
    if not np.isfinite(gram).all():
        raise _nonfinite_error(X)
    tol = DEFAULT_PRUNE_TOL[X.dtype] if tol is None else float(tol)
    return redundant_from_gram(gram, st["shift"], fit_intercept=fit_intercept, tol=tol, X=X)


# --------------------------------------------- preprocessing inside the fit


@dataclass
class FitPreprocessing:
    """Settings and results of the steps ``LinearRegression`` folds into a fit."""

    standardize: bool
    prune: bool
    noise_std: float
    prune_tol: float | None = None
    prune_report: PruneReport | None = None
    x_mean: np.ndarray | None = None
    x_scale: np.ndarray | None = None
    penalty: np.ndarray | None = None
    extra_passes: int = 0

    @property
    def active(self) -> bool:
        return bool(self.standardize or self.prune or self.noise_std > 0)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "standardize": self.standardize,
            "prune": self.prune,
            "noise_augmentation": self.noise_std,
            "extra_passes": self.extra_passes,
        }
        if self.prune_report is not None:
            out["prune_report"] = self.prune_report.as_dict()
        return out


def penalty_per_column(
    alpha: float, noise_std: float, scale: np.ndarray | None
) -> np.ndarray | float:
    """L2 penalty on each original-scale coefficient w_j.

    ``alpha`` penalizes the coefficients of the model the solver sees: the
    standardized one when ``scale`` is given (v = scale * w, so
    ``alpha * v_j^2 = alpha * scale_j^2 * w_j^2``, as StandardScaler + fit).
    Gaussian noise of variance s^2 added to X adds ``s^2 |w|^2`` in
    expectation, ``E (x + e)^T w - y)^2 = (x^T w - y)^2 + s^2 |w|^2``, on X's
    own scale whatever the standardization (on v: ``s^2 / scale_j^2``).
    """
    noise = noise_std**2
    if scale is None:
        return alpha + noise
    return alpha * scale**2 + noise


def _solve_exact(
    solver: str, X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, options: dict[str, Any],
    prep: FitPreprocessing,
) -> dict[str, Any]:  # fmt: skip
    """newton / qr with pruning and a per-column penalty: one pass for the
    statistics (the Gram or the R factor), everything else on (d + 2)^2 numbers."""
    d = X.shape[1]
    n_shards, n_threads = options["n_shards"], options["n_threads"]
    if solver == "newton":
        st = _core.gram_stats(X, y, sw, None, n_shards, n_threads)
        stats = np.asarray(st["gram"])
    else:
        shift0 = None if options["fit_intercept"] else np.zeros(d + 1)
        st = _core.tsqr_stats(X, y, sw, shift0, n_shards, n_threads)
        stats = np.asarray(st["r"], dtype=np.float64)
    if not np.isfinite(stats).all():
        raise _nonfinite_error(X)
    return solve_exact_from_stats(solver, stats, st["shift"], options, prep, X.dtype, X=X)


def solve_exact_from_stats(
    solver: str, stats: np.ndarray, shift: np.ndarray, options: dict[str, Any],
    prep: FitPreprocessing, dtype: np.dtype, X: np.ndarray | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The solve of :func:`_solve_exact` from the statistics of its pass.

    ``stats`` is ``_core.gram_stats``' augmented Gram (newton) or
    ``_core.tsqr_stats``' R factor (qr), with its ``shift``; ``fastcost.dask``
    passes the statistics merged over its chunks. Standardizing takes the
    weighted column means and scales from them, pruning the kept block, and the
    penalty becomes per column (:func:`penalty_per_column`). ``X``, when given,
    confirms duplicate columns cell by cell; without it they count as collinear
    (dropped all the same). ``options`` needs ``alpha`` and ``fit_intercept``.
    """
    fit_intercept = bool(options["fit_intercept"])
    shift = np.asarray(shift, dtype=np.float64)
    d = shift.size - 1
    if solver == "newton":
        gram = np.asarray(stats, dtype=np.float64)
    else:
        R = np.asarray(stats, dtype=np.float64)
        # R^T R is the Gram of [1, x - c, y - c_y]; reorder to gram_stats' [x, y, 1].
        order = np.r_[np.arange(1, d + 2), 0]
        gram = (R.T @ R)[np.ix_(order, order)]
    A, S, mean = _centered(gram, shift, True)
    if prep.prune:
        tol = DEFAULT_PRUNE_TOL[np.dtype(dtype)] if prep.prune_tol is None else prep.prune_tol
        prep.prune_report = redundant_from_gram(
            gram, shift, fit_intercept=fit_intercept, tol=tol, X=X
        )
        kept = np.asarray(prep.prune_report.kept, dtype=np.intp)
    else:
        kept = np.arange(d)
    scale = None
    if prep.standardize:
        var = np.diag(A) / S
        scale = np.sqrt(var)
        scale[_is_constant(var, mean, S) | (scale < 10 * np.finfo(np.float64).eps)] = 1.0
        prep.x_mean, prep.x_scale = mean, scale
    lam = np.broadcast_to(penalty_per_column(float(options["alpha"]), prep.noise_std, scale), (d,))
    prep.penalty = np.array(lam, dtype=np.float64)
    lam_k = lam[kept]
    # Column scaling u = f w with f = sqrt(lam / mean(lam)) turns the per-column
    # penalty into a uniform one the compiled solves take; equilibration inside
    # them makes the scaling harmless to the digits.
    alpha_u = float(lam_k.mean()) if lam_k.size and lam_k.mean() > 0 else 0.0
    f = np.sqrt(lam_k / alpha_u) if alpha_u > 0 else np.ones(kept.size)
    if solver == "newton":
        idx = np.r_[kept, d, d + 1]
        g = gram[np.ix_(idx, idx)].copy()
        fx = np.r_[f, 1.0, 1.0]
        g /= np.outer(fx, fx)
        sh = np.r_[shift[kept] / f, shift[d]]
        result = _core.solve_stats(g, sh, alpha_u, fit_intercept)
        result["n_passes"] = 1
    else:
        cols = np.r_[0, kept + 1, d + 1]
        Rs: np.ndarray = R[:, cols]
        if kept.size < d:  # re-triangularize the selected columns: X_S = Q (R[:, S])
            Rs = np.asarray(np.linalg.qr(Rs, mode="r"))
            signs = np.where(np.diag(Rs) < 0, -1.0, 1.0)
            Rs = Rs * signs[:, None]
        else:
            Rs = Rs.copy()
        Rs[:, 1 : kept.size + 1] /= f
        sh = np.r_[shift[kept] / f, shift[d]]
        result = _core.solve_r(Rs, sh, alpha_u, fit_intercept)
        result["n_passes"] = 1
        result["precision"] = "double"
        result["precision_reason"] = "double (the preprocessed qr path solves tsqr_stats' factor)"
        result["r"], result["shift"] = Rs, sh
    coef = np.zeros(d)
    coef[kept] = np.asarray(result["coef"]) / f
    result["coef"] = coef
    return result


def fit_preprocessed(
    X: np.ndarray,
    y: np.ndarray,
    sw: np.ndarray | None,
    solver: str,
    options: dict[str, Any],
    *,
    prep: FitPreprocessing,
    run_core: Any,
) -> dict[str, Any]:
    """``LinearRegression``'s fit with the steps in ``prep`` folded in, without a copy of X.

    newton and qr: one statistics pass, pruning by selecting the kept block of
    the Gram (or re-triangularizing the kept columns of R), the penalty made
    per column (see :func:`penalty_per_column`); standardizing changes nothing
    else, their equilibration already removes column scale. lbfgs, gd, sgd: the
    compiled objective works in standardized coordinates (one moments pass
    replaces the means pass), pruned columns are frozen at 0 after one extra
    Gram pass to find them, and the noise penalty is added per column.
    """
    if solver in ("newton", "qr"):
        return _solve_exact(solver, X, y, sw, options, prep)
    opts = dict(options)
    opts["standardize"] = prep.standardize
    opts["noise_var"] = prep.noise_std**2
    extra = 0
    if prep.prune:
        st = _core.gram_stats(X, None, sw, None, options["n_shards"], options["n_threads"])
        gram = np.asarray(st["gram"])
        if not np.isfinite(gram).all():
            raise _nonfinite_error(X)
        tol = DEFAULT_PRUNE_TOL[X.dtype] if prep.prune_tol is None else prep.prune_tol
        prep.prune_report = redundant_from_gram(
            gram, st["shift"], fit_intercept=bool(options["fit_intercept"]), tol=tol, X=X
        )
        frozen = np.ones(X.shape[1])
        frozen[list(prep.prune_report.kept)] = 0.0
        opts["frozen"] = frozen
        extra = 1
    result = run_core(X, y, sw, solver, opts)
    result["n_passes"] = int(result["n_passes"]) + extra
    prep.extra_passes = extra
    return result
