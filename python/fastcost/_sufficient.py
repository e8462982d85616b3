"""Mergeable sufficient statistics: exact least squares from data seen in pieces.

newton's augmented Gram and qr's tall-skinny R factor summarize any number of
rows in (d + k + 1)^2 numbers, and two summaries of disjoint rows merge into
the summary of their union exactly (the Gram by addition once both are about
the same shift, the factor by one small QR of the two stacked factors). So a
fit of data that arrives in batches (``LinearRegression.partial_fit``), is
read from files in record batches (``fastcost.fit_dataset``) or is mapped over
workers (``fastcost.dask``, or a user's own multiprocessing, Spark or Ray job)
equals one fit of all the rows, to rounding.

:class:`SufficientStatistics` is that summary as a public, picklable,
versioned object; :class:`StatisticsBackend` lets the fit pipeline solve from
it, so every option a newton or qr fit takes (alpha, standardize, prune,
compute_statistics) works on it unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._result import SolveResult, solve_gram
from ._sparse import as_csr, check_finite, csr_args, is_sparse
from ._validation import FLOAT_DTYPES, check_weights, kernel_layout, raise_for_nonfinite
from .exceptions import NonFiniteError
from .resources import ResourceReport, fit_clock

#: Format version of pickled statistics; an object from a newer fastcost is refused.
STATISTICS_VERSION = 1

#: What each kind of statistics holds and the solver that reads it.
KINDS = {"gram": "newton", "qr": "qr"}


@dataclass(eq=False)
class SufficientStatistics:
    """The one-pass statistics of weighted least squares, mergeable exactly.

    ``kind="gram"`` holds newton's augmented Gram ``sum_i s_i z_i z_i^T`` of
    the rows ``z_i = [x_i - c, y_i - c_y, 1]``; ``kind="qr"`` holds qr's
    upper-triangular R of ``sqrt(s_i) [1, x_i - c, y_i - c_y]`` (columns in
    that order). ``shift`` is ``[c, c_y]``: the first row seen, which keeps the
    centering well conditioned; statistics about different shifts are moved to
    one before they merge (exact algebra, no data). float32 batches are read
    as float64 (one copy of each batch) and accumulate in float64.

    Build them with :meth:`from_data`, add batches with :meth:`update`, combine
    the statistics of disjoint rows with :meth:`merge` (or ``+``), and solve with
    ``LinearRegression(...).fit_from_statistics(stats)``. They pickle (with a
    format version) for users who map over their own workers.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost import LinearRegression, SufficientStatistics
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3)); y = X @ [1.0, 2.0, 3.0] + 0.5
    >>> parts = [SufficientStatistics.from_data(X[i::4], y[i::4]) for i in range(4)]
    >>> total = parts[0].merge(parts[1]).merge(parts[2]).merge(parts[3])
    >>> model = LinearRegression().fit_from_statistics(total)
    >>> np.round(model.coef_, 6), round(float(model.intercept_), 6)
    (array([1., 2., 3.]), 0.5)
    """

    kind: str
    matrix: np.ndarray
    shift: np.ndarray
    n_features: int
    n_rows: int = 0
    n_nonzero: int = 0
    #: The dtype the fitted coefficients take: float32 only if every batch was.
    dtype: str = "float64"
    version: int = field(default=STATISTICS_VERSION)

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_data(
        cls, X: Any, y: Any, sample_weight: Any = None, *, kind: str = "gram",
        shift: Any = None, n_threads: int | None = None, n_shards: int | None = None,
    ) -> SufficientStatistics:  # fmt: skip
        """The statistics of the rows of ``X`` (one pass, compiled, GIL released).

        ``kind``: ``"gram"`` (newton's) or ``"qr"`` (qr's factor, for
        ill-conditioned data). ``shift``: ``[c, c_y]`` (default: the first row).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        X, y, sw = check_batch(X, y, sample_weight)
        if shift is not None:
            shift = np.asarray(shift, dtype=np.float64)
            width = X.shape[1] + (y.shape[1] if y.ndim == 2 else 1)
            if shift.shape != (width,) or not np.isfinite(shift).all():
                raise ValueError(f"shift must be {width} finite values (features, then targets)")
        from ._threads import resolve_n_threads

        return batch_statistics(
            kind, X, y, sw, shift, int(n_shards or 0), resolve_n_threads(n_threads)
        )

    # -- accumulation -------------------------------------------------------------

    @property
    def n_targets(self) -> int:
        return int(self.shift.size - self.n_features)

    @property
    def sum_weights(self) -> float:
        if self.kind == "gram":
            return float(self.matrix[-1, -1])
        return float(self.matrix[0, 0] ** 2)

    def update(
        self, X: Any, y: Any, sample_weight: Any = None, *, n_threads: int | None = None
    ) -> SufficientStatistics:
        """Add the rows of a batch (about this object's shift: the sums are the
        same sums a single pass would form). Returns self."""
        batch = SufficientStatistics.from_data(
            X, y, sample_weight, kind=self.kind, shift=self.shift, n_threads=n_threads
        )
        merged = self.merge(batch)
        self.__dict__.update(merged.__dict__)
        return self

    def merge(self, other: SufficientStatistics) -> SufficientStatistics:
        """The statistics of the union of two disjoint row sets (a new object).

        Exact: ``other`` is moved to this object's shift, then the Grams add (or
        the two factors are stacked and re-triangularized). Merge in a fixed
        order for bitwise-reproducible sums.
        """
        if not isinstance(other, SufficientStatistics):
            raise TypeError(f"can only merge SufficientStatistics, not {type(other).__name__}")
        if other.kind != self.kind:
            raise ValueError(f"cannot merge {self.kind!r} statistics with {other.kind!r} ones")
        if (other.n_features, other.n_targets) != (self.n_features, self.n_targets):
            raise ValueError(
                f"cannot merge statistics of {other.n_features} features and "
                f"{other.n_targets} target(s) into ones of {self.n_features} and {self.n_targets}"
            )
        if self.kind == "gram":
            moved = other.matrix
            if not np.array_equal(other.shift, self.shift):
                moved = _core.reshift_stats(other.matrix, other.shift, self.shift)
            matrix = self.matrix + moved
        else:
            merged = _core.tsqr_merge(self.core_dict(), other.core_dict())
            matrix = np.asarray(merged["r"], dtype=np.float64)
        dtype = "float32" if self.dtype == other.dtype == "float32" else "float64"
        return SufficientStatistics(
            self.kind, matrix, self.shift.copy(), self.n_features,
            self.n_rows + other.n_rows, self.n_nonzero + other.n_nonzero, dtype,
        )  # fmt: skip

    __add__ = merge

    def __radd__(self, other: Any) -> SufficientStatistics:
        """``0 + stats`` is ``stats``, so that ``sum(parts)`` merges a list in order."""
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        """The same kind, counts, dtype and version, and equal arrays (exactly)."""
        if not isinstance(other, SufficientStatistics):
            return NotImplemented
        return bool(
            (self.kind, self.n_features, self.n_rows, self.n_nonzero, self.dtype, self.version)
            == (
                other.kind,
                other.n_features,
                other.n_rows,
                other.n_nonzero,
                other.dtype,
                other.version,
            )
            and np.array_equal(self.matrix, other.matrix)
            and np.array_equal(self.shift, other.shift)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq

    def target(self, t: int) -> SufficientStatistics:
        """The statistics of target ``t`` alone (exact: a block of the Gram, or
        the factor's [1, x] rows with target t's column and residual norm)."""
        d, k = self.n_features, self.n_targets
        if not 0 <= t < k:
            raise IndexError(f"target {t} of {k}")
        if k == 1:
            return self
        if self.kind == "gram":
            idx = np.r_[np.arange(d), d + t, d + k]
            matrix = self.matrix[np.ix_(idx, idx)].copy()
        else:  # R of [1, x, Y]: R11 and column t; its norm below R11's rows, on the diagonal
            R = self.matrix
            matrix = np.zeros((d + 2, d + 2))
            matrix[: d + 1, : d + 1] = R[: d + 1, : d + 1]
            matrix[: d + 1, d + 1] = R[: d + 1, d + 1 + t]
            matrix[d + 1, d + 1] = np.linalg.norm(R[d + 1 :, d + 1 + t])
        shift = np.r_[self.shift[:d], self.shift[d + t]]
        return SufficientStatistics(
            self.kind, matrix, shift, d, self.n_rows, self.n_nonzero, self.dtype
        )

    def core_dict(self) -> dict[str, Any]:
        """The dict ``_core.tsqr_merge`` / ``solve_r`` read (qr) or ``gram_stats`` returns."""
        key = "gram" if self.kind == "gram" else "r"
        return {
            key: self.matrix,
            "shift": self.shift,
            "n_rows": self.n_rows,
            "n_nonzero": self.n_nonzero,
            "n_shards": 1,
        }

    def copy(self) -> SufficientStatistics:
        return copy.deepcopy(self)

    # -- pickling -------------------------------------------------------------------

    def __setstate__(self, state: dict[str, Any]) -> None:
        version = int(state.get("version", 0))
        if version > STATISTICS_VERSION:
            raise ValueError(
                f"these statistics have format version {version}, newer than this "
                f"fastcost reads ({STATISTICS_VERSION}): upgrade fastcost"
            )
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (
            f"SufficientStatistics(kind={self.kind!r}, n_rows={self.n_rows}, "
            f"n_features={self.n_features}, n_targets={self.n_targets}, dtype={self.dtype})"
        )


def check_batch(X: Any, y: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """A batch as the statistics pass reads it: 2-D float X (read in place when
    it can be), y of X's dtype, checked weights; clear errors for empty or
    mismatched batches (non-finite cells are found by the pass itself)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype not in FLOAT_DTYPES:
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
        X = X.astype(np.float64)
    if X.shape[0] == 0:
        raise ValueError("the batch is empty (0 rows): there is nothing to add")
    if X.shape[1] == 0:
        raise ValueError("X has 0 features")
    X = kernel_layout(X)
    yy, sw = check_targets(y, sample_weight, X.shape[0], X.dtype)
    return X, yy, sw


def check_targets(y: Any, sample_weight: Any, n: int, dtype: Any) -> tuple[np.ndarray, Any]:
    """A batch's y (of ``dtype``, 1-D or 2-D) and checked weights for ``n`` rows."""
    yy = np.asarray(y)
    if yy.dtype.kind not in "biuf":
        raise TypeError(f"y must hold numbers, got dtype {yy.dtype}")
    if yy.ndim not in (1, 2) or yy.shape[0] != n or (yy.ndim == 2 and yy.shape[1] < 1):
        raise ValueError(f"y must have shape ({n},) or ({n}, k), got {yy.shape}")
    if not np.isfinite(yy).all():
        i = int(np.flatnonzero(~np.isfinite(yy))[0])
        raise NonFiniteError(f"y contains NaN or infinity (first at row {i})")
    # The passes read a 2-D y in either layout: a Fortran-ordered one is not copied.
    fortran = yy.ndim == 2 and yy.flags.f_contiguous and not yy.flags.c_contiguous
    yy = np.asarray(yy, dtype=dtype, order="F" if fortran else "C")
    return yy, check_weights(sample_weight, n, dtype)


def _record(kind: str, matrix: np.ndarray, st: dict[str, Any], d: int, n: int, sw: Any,
            dtype: str) -> SufficientStatistics:  # fmt: skip
    """The statistics record of one compiled pass (its matrix and shift) over n rows."""
    n_nonzero = n if sw is None else int(np.count_nonzero(sw))
    shift = np.asarray(st["shift"], dtype=np.float64)
    return SufficientStatistics(kind, matrix, shift, d, n, n_nonzero, dtype)


def as_float64_rows(X: np.ndarray, Y: Any, sw: Any) -> tuple[Any, Any, Any]:
    """X, Y and sw in float64 where X is float32 (a copy; X may be scipy.sparse),
    else as they are: the compiled passes sum float32 data in float32 lanes, so
    sums whose differences must keep the residuals' digits read it in float64
    (:func:`batch_statistics` with ``widen``, ``_cv_path.grouped_grams``)."""
    if X.dtype != np.float32:
        return X, Y, sw
    return (
        X.astype(np.float64),
        None if Y is None else np.asarray(Y, dtype=np.float64),
        None if sw is None else np.asarray(sw, dtype=np.float64),
    )


def batch_statistics(
    kind: str, X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, shift: np.ndarray | None,
    n_shards: int, n_threads: int, *, widen: bool = True, check: bool = True,
) -> SufficientStatistics:  # fmt: skip
    """One compiled statistics pass over checked arrays (also a Dask chunk's task).

    With ``widen``, float32 batches are read as float64 (one copy of the batch):
    the compiled passes form float32 data's partial sums in float32 (the Gram
    in blocks of rows, the factor throughout), so the statistics are exactly
    float64's only from a float64 copy. A Dask chunk keeps float32 (as the
    local fit it must equal) and, without
    ``check``, leaves non-finite statistics to the client, which names the
    cell by its global row.

    A scipy.sparse X (kind ``"gram"`` only) goes to :func:`sparse_statistics`.
    """
    if is_sparse(X):
        return sparse_statistics(kind, X, y, sw, shift, n_threads, widen=widen, check=check)
    dtype = "float32" if X.dtype == np.float32 else "float64"
    if widen:
        X, y, sw = as_float64_rows(X, y, sw)
    if kind == "gram":
        st = _core.gram_stats(X, y, sw, shift, n_shards, n_threads)
        matrix = np.asarray(st["gram"], dtype=np.float64)
    else:
        try:
            st = _core.tsqr_stats(X, y, sw, shift, n_shards, n_threads)
        except NonFiniteError as exc:  # a non-finite first row as the shift
            if not check:
                raise
            raise_for_nonfinite(X, exc)
        matrix = np.asarray(st["r"], dtype=np.float64)
    if check and not np.isfinite(matrix).all():
        raise_for_nonfinite(X)
    return _record(kind, matrix, st, X.shape[1], int(X.shape[0]), sw, dtype)


def column_statistics(
    columns: list[np.ndarray], y: Any, sw: Any, shift: np.ndarray | None, n_threads: int
) -> SufficientStatistics:
    """``batch_statistics(kind="gram")`` of a float64 batch given as its columns
    (1-D contiguous arrays, e.g. an Arrow record batch's buffers): the kernel
    reads them in place, so no 2-D copy of the batch is made. Non-finite
    statistics raise NonFiniteError (the caller names the cell)."""
    n = len(columns[0])
    if n == 0:
        raise ValueError("the batch is empty (0 rows): there is nothing to add")
    y, sw = check_targets(y, sw, n, np.float64)
    st = _core.gram_stats(columns, y, sw, shift, 1, n_threads)
    matrix = np.asarray(st["gram"], dtype=np.float64)
    if not np.isfinite(matrix).all():
        raise NonFiniteError("the batch's statistics are not finite")
    return _record("gram", matrix, st, len(columns), n, sw, "float64")


def sparse_statistics(
    kind: str, X: Any, y: np.ndarray, sw: np.ndarray | None, shift: np.ndarray | None,
    n_threads: int, *, widen: bool = True, check: bool = True,
) -> SufficientStatistics:  # fmt: skip
    """``batch_statistics`` of a scipy.sparse batch: the augmented Gram of its
    nonzeros (``_core.sparse_gram_stats``, the layout of ``gram_stats``), X read
    as canonical CSR (``_sparse.as_csr``: CSC and others copied once).

    Without ``shift``, X's is 0 and y's its first value, as in the local sparse
    fit. A nonzero shift of X is applied to the Gram afterwards (exact algebra,
    ``reshift``), since a sparse row cannot be centered without filling it in:
    sparse data gain nothing from one, and ``fastcost.dask`` uses 0 for them.
    qr's factor would need the rows densified: NotImplementedError.
    """
    if kind != "gram":
        raise NotImplementedError(
            f"kind={kind!r} statistics are not available for scipy.sparse X (qr would "
            "densify it); use kind='gram' (newton's)"
        )
    X = as_csr(X)
    dtype = "float32" if X.dtype == np.float32 else "float64"
    if widen:
        X, y, sw = as_float64_rows(X, y, sw)
    st = _core.sparse_gram_stats(*csr_args(X), y, sw, shift, n_threads)
    matrix = np.asarray(st["gram"], dtype=np.float64)
    if check and not np.isfinite(matrix).all():
        check_finite(X)
        raise NonFiniteError(
            "numerical overflow: X holds no NaN or infinity, but its sums of squares "
            "(or y's) overflow; rescale X or y"
        )
    return _record(kind, matrix, st, X.shape[1], int(X.shape[0]), sw, dtype)


def merge_all(*parts: SufficientStatistics) -> SufficientStatistics:
    """Left-to-right merge (a fixed order: reproducible sums)."""
    total = parts[0]
    for p in parts[1:]:
        total = total.merge(p)
    return total


class StatisticsBackend:
    """The fit pipeline's backend (``_pipeline.Backend``) for statistics already
    accumulated: newton or qr solve from them, with no pass over data."""

    #: Its Gram sums float32 values in float64 (see _pipeline._gram_too_coarse).
    gram_in_float64 = True

    witness: np.ndarray | None = None

    def __init__(
        self, stats: SufficientStatistics, n_threads: int, where: str,
        batch_rows: int = 0, batch_bytes: int = 0,
    ) -> None:  # fmt: skip
        if not isinstance(stats, SufficientStatistics):
            raise TypeError(f"expected SufficientStatistics, got {type(stats).__name__}")
        if stats.n_targets != 1:
            raise NotImplementedError("statistics of several targets are solved per target")
        if not stats.sum_weights > 0:
            raise ValueError("the statistics hold no row with a positive weight")
        self.stats = stats
        self.solvers: tuple[str, ...] = (KINDS[stats.kind],)
        # The report covers what this call read: a partial_fit's batch, or nothing.
        self.n_samples = batch_rows
        self.batch_bytes = batch_bytes
        self.n_features = stats.n_features
        self.dtype = np.dtype(stats.dtype)
        self.n_threads = n_threads
        self._where = where
        self.qr_advice = (
            "qr needs the data: refit them with solver='qr'" if stats.kind == "gram" else ""
        )

    def auto_solver(self) -> tuple[str, str]:
        return self.solvers[0], f": the statistics are {self.stats.kind!r}"

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:
        st = self.stats
        alpha, fit_intercept = float(options["alpha"]), bool(options["fit_intercept"])
        factor: dict[str, Any] = {"shift": st.shift, "n_nonzero": st.n_nonzero}
        if st.kind == "gram":
            result = solve_gram(
                st.matrix, st.shift, alpha, fit_intercept, want_factor, st.n_nonzero
            )
            factor = result.factor or factor
        else:
            result = SolveResult.from_core(_core.solve_r(st.matrix, st.shift, alpha, fit_intercept))
            result.precision_reason = "double (solved from accumulated statistics)"
            factor["r"] = st.matrix
        result.n_passes = 0
        result.factor = factor if want_factor else None
        return result

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return self.stats.matrix, self.stats.shift

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError("statistics are solved by newton or qr only")

    def where(self) -> str:
        return self._where

    def attributes(self) -> dict[str, Any]:
        return {"n_features_in_": self.n_features}

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        return clock.report(
            threads=self.n_threads, n_passes=n_passes, bytes_per_pass=self.batch_bytes,
            flops=flops,
        )  # fmt: skip
