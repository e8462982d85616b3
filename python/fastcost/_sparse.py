"""scipy.sparse X without densifying it: the fit pipeline's backend for sparse
matrices and arrays (CSR, CSC; other formats are converted to CSR).

The compiled kernels (``cpp/include/fastcost/sparse.hpp``) read the CSR arrays
(data, indices, indptr) in place:

- newton: one pass forms the augmented Gram from each row's nonzeros
  (``_core.sparse_gram_stats``, the layout of ``_core.gram_stats``), shifted by
  0 for X and ``y[0]`` for y, and ``_core.solve_stats`` solves it unchanged. Its
  memory is the (d + 2)^2 Gram: ``solver="auto"`` takes newton only up to
  ``AUTO_NEWTON_MAX_FEATURES`` features, lbfgs above.
- lbfgs, gd: the compiled loops of dense data over a sparse data pass
  (``SparsePass``); sgd: the same recipe over sparse rows
  (``_core.fit_sparse``), equal to dense sgd up to rounding.
- qr is not available.

Copies: CSC (and COO, LIL, ...) X is converted to CSR once, a copy of its
nonzeros; X with unsorted or duplicate column indices is copied once and made
canonical; data of another dtype is converted once to float64. A canonical
float32/float64 CSR matrix is read in place. ``standardize`` works with newton
(it acts on the Gram) but not with the iterative solvers, which would have to
center the rows and so densify them.

``fastcost.dask`` reads sparse chunks with the same kernels, through the
helpers here (``is_sparse``, ``as_csr``, ``csr_args``, ``find_nonfinite``):
so this module imports no scikit-learn, scipy.linalg or fit pipeline at
import time (they are imported where used), and a Dask worker that unpickles
a task pays for none of them.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from . import _core
from ._result import SolveResult, solve_gram
from ._threads import resolve_n_threads
from ._validation import FLOAT_DTYPES, check_weights
from .exceptions import DivergenceError, NonFiniteError
from .resources import ResourceReport, fit_clock

_ACCEPT = ("csr", "csc")

#: Values per block of the finiteness check.
_FINITE_BLOCK = 1 << 20


def is_sparse(X: Any) -> bool:
    """Whether X is a scipy.sparse matrix or array (without importing scipy:
    if scipy.sparse was never imported, X cannot be one)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(X))


def as_csr(X: Any) -> Any:
    """X as a canonical CSR matrix or array (sorted, unique column indices per row)
    whose indices and indptr share one integer dtype; copied only when it is not."""
    if X.format != "csr":
        X = X.tocsr()  # one copy of the nonzeros (CSC's are ordered by column)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # also sorts each row's indices
    if X.indices.dtype != X.indptr.dtype:
        X = type(X)((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape)
    return X


def csr_args(X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """The leading arguments (data, indices, indptr, shape) of the ``_core.sparse_*``
    kernels for a canonical CSR X (``as_csr``)."""
    return X.data, X.indices, X.indptr, (int(X.shape[0]), int(X.shape[1]))


def find_nonfinite(X: Any) -> tuple[int, int] | None:
    """(row, column) of the first NaN/inf stored value of CSR or CSC X, or None.

    Blocks of ``_FINITE_BLOCK`` values: a temporary of 1 MB, not one the size of X."""
    data = X.data
    for start in range(0, len(data), _FINITE_BLOCK):
        block = np.isfinite(data[start : start + _FINITE_BLOCK])
        if block.all():
            continue
        k = start + int(np.argmin(block))
        pos = int(np.searchsorted(X.indptr, k, side="right")) - 1
        return (pos, int(X.indices[k])) if X.format == "csr" else (int(X.indices[k]), pos)
    return None


def check_finite(X: Any) -> None:
    """A NonFiniteError (a ValueError) naming the first NaN/inf stored value of X."""
    bad = find_nonfinite(X)
    if bad is not None:
        i, j = bad
        raise NonFiniteError(
            f"X contains NaN or infinity (at row {i}, column {j}); "
            "clean it first, e.g. with fastcost.preprocessing"
        )


def _validate(est: Any, X: Any, y: Any = None, *, reset: bool) -> Any:
    """scikit-learn's checks for sparse X (and y): CSR or CSC, float32/float64."""
    from sklearn.utils.validation import validate_data

    kwargs: dict[str, Any] = {
        "accept_sparse": _ACCEPT,
        "dtype": list(FLOAT_DTYPES),
        "ensure_all_finite": False,  # checked below, naming the cell
        "reset": reset,
    }
    if y is None:
        X = validate_data(est, X, **kwargs)
        check_finite(X)
        return X
    X, y = validate_data(est, X, y, y_numeric=True, **kwargs)
    check_finite(X)
    return X, y


def predict_sparse(est: Any, X: Any) -> np.ndarray:
    """``X @ coef_ + intercept_`` for sparse X, without densifying it."""
    X = _validate(est, X, reset=False)
    coef = est.coef_.astype(X.dtype, copy=False)
    if coef.ndim == 2:  # several targets: (n, k)
        return np.asarray(X @ coef.T) + np.asarray(est.intercept_, dtype=X.dtype)
    pred = np.asarray(X @ coef).reshape(-1)
    return pred + X.dtype.type(est.intercept_)


def auto_solver(n_samples: int, n_features: int) -> tuple[str, str]:
    """``solver="auto"`` for sparse X (the solver and why): the dense rule, but
    lbfgs above ``AUTO_NEWTON_MAX_FEATURES`` features, whose Gram is too large."""
    from ._pipeline import AUTO_NEWTON_MAX_FEATURES, choose_solver

    solver = choose_solver(n_samples, n_features)
    if solver == "newton" and n_features > AUTO_NEWTON_MAX_FEATURES:
        d = n_features
        return "lbfgs", f": the {d} x {d} Gram of sparse X is too large for newton"
    return solver, ""


def check_iterative_options(solver: str, options: dict[str, Any]) -> None:
    """NotImplementedError for the options of an iterative solver that would
    densify sparse X (centered rows)."""
    if options.get("standardize"):
        raise NotImplementedError(
            f"standardize=True with solver={solver!r} would densify sparse X; "
            "use solver='newton' (standardized through its Gram) or scale X's columns"
        )
    if solver == "sgd" and (options.get("noise_var") or options.get("frozen") is not None):
        raise NotImplementedError(
            "sgd on sparse X does not support noise_augmentation or prune; use lbfgs"
        )


#: What newton's ill-conditioning warning advises for sparse X (here and on Dask).
SPARSE_QR_ADVICE = (
    "qr is not available for sparse X (its factor would densify it): densify X "
    "(X.toarray()) and use solver='qr' where it fits in memory, or set a small alpha."
)


#: The solvers that run on scipy.sparse X (qr's factor would densify it).
SPARSE_SOLVERS: tuple[str, ...] = ("newton", "lbfgs", "gd", "sgd")


class SparseBackend:
    """The fit pipeline's backend (``_pipeline.Backend``) for scipy.sparse X:
    CSR arrays read in place by the compiled kernels."""

    #: Its Gram sums float32 values in float64 (see _pipeline._gram_too_coarse).
    gram_in_float64 = True

    solvers: tuple[str, ...] = SPARSE_SOLVERS
    witness: np.ndarray | None = None
    qr_advice = SPARSE_QR_ADVICE

    def __init__(self, est: Any, X: Any, y: Any, sample_weight: Any) -> None:
        if est.device != "cpu":
            raise NotImplementedError(
                f"device={est.device!r} does not take scipy.sparse X; use device='cpu'"
            )
        if not isinstance(est.categorical_features, str):
            raise ValueError("categorical_features applies to dataframes, not to scipy.sparse X")
        X, y = _validate(est, X, y, reset=True)
        self.X = as_csr(X)
        self.n_samples, self.n_features = self.X.shape
        self.dtype = np.dtype(self.X.dtype)
        self.y = np.ascontiguousarray(y, dtype=self.dtype)
        self.sw = check_weights(sample_weight, self.n_samples, self.dtype)
        self.n_threads = resolve_n_threads(est.n_threads)
        self.n_shards = int(est.n_shards or 0)

    def _csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
        return csr_args(self.X)

    # -- the protocol ------------------------------------------------------------

    def auto_solver(self) -> tuple[str, str]:
        return auto_solver(self.n_samples, self.n_features)

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:

        if solver == "newton":
            gram, shift = self._gram()
            return solve_gram(gram, shift, options["alpha"], options["fit_intercept"],
                              want_factor, self._nonzero())  # fmt: skip
        check_iterative_options(solver, options)
        opts = dict(options, n_threads=self.n_threads, n_shards=self.n_shards)
        try:
            out = _core.fit_sparse(*self._csr(), self.y, self.sw, solver, _core.FitOptions(**opts))
        except (NonFiniteError, DivergenceError) as exc:
            # X was checked finite: the sums overflowed, or sgd diverged.
            if isinstance(exc, DivergenceError):
                raise
            raise NonFiniteError(
                f"numerical overflow in {solver}: X holds no NaN or infinity, but its "
                "values (or y's) are too large for the sums; rescale X or y"
            ) from exc
        return SolveResult.from_core(out)

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        if solver != "newton":
            raise NotImplementedError(f"{solver}'s statistics are not available for sparse X")
        return self._gram()

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        """The regression statistics' factor from one Gram pass (qr is not available)."""
        from ._statistics import gram_to_factor

        gram, shift = self._gram()
        return {"r": gram_to_factor(gram), "shift": shift, "n_nonzero": self._nonzero()}

    def where(self) -> str:
        return " on scipy.sparse X"

    def attributes(self) -> dict[str, Any]:
        return {}

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        X = self.X
        nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes + self.y.nbytes
        return clock.report(
            threads=self.n_threads, n_passes=n_passes, bytes_per_pass=nbytes, flops=flops
        )

    # -- helpers -------------------------------------------------------------------

    def _gram(self) -> tuple[np.ndarray, np.ndarray]:
        st = _core.sparse_gram_stats(*self._csr(), self.y, self.sw, None, self.n_threads)
        gram = st["gram"]
        # X is finite, so only overflow makes the Gram non-finite, and a
        # non-finite entry implies a non-finite diagonal (Cauchy-Schwarz).
        if not np.isfinite(np.diagonal(gram)).all():
            raise NonFiniteError(
                "numerical overflow: X holds no NaN or infinity, but the sums of squares "
                "exceed float64's range; rescale X or y"
            )
        return gram, np.asarray(st["shift"])

    def _nonzero(self) -> int:
        return self.n_samples if self.sw is None else int(np.count_nonzero(self.sw))
