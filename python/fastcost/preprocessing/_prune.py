"""Constant, duplicate and exactly collinear columns, from the one-pass Gram."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular
from sklearn.utils.validation import _check_sample_weight

from .. import _core
from .._threads import resolve_n_threads
from ._common import _as_float_matrix, _centered, _is_constant, _nonfinite_error

#: Default collinearity tolerance (relative Schur complement of the correlation
#: matrix) by the dtype of X: float32 statistics accumulate 256-row blocks in
#: float32, so their Gram carries about 1e-5 relative error.
DEFAULT_PRUNE_TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


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
