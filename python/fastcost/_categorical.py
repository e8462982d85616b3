"""Categorical features without one-hot copies: the fit pipeline's backend for
a mixed design (a dense float block plus integer-coded categorical columns).

The model is least squares on the one-hot expansion of every categorical, but
the expansion is never built. The compiled kernels read the codes:

- newton: the expanded design's Gram comes from the dense block's Gram,
  weighted counts, cross-tabs and group sums (``_core.mixed_gram_stats``). One
  categorical with many levels (an ID, a zip code) is eliminated through the
  block-arrow structure of the Gram: its block is diagonal (counts), so the
  Schur complement on the other columns costs memory linear in its levels
  (``_core.mixed_arrow_stats``), and its coefficients follow by one division
  per level.
- lbfgs, gd: the same compiled loops as dense data, over a data pass whose
  gradient gets the categorical part from group sums of the residuals; sgd
  updates one coefficient per categorical and row (``_core.fit_mixed``).
- qr: the tall-skinny QR of the expanded rows, built block by block (a block of
  rows at a time, never the whole expansion) and merged.

Level columns: with an intercept and no penalty each categorical's first level
is the reference (no column, coefficient 0); with a penalty every level has a
column (the penalty makes the solution unique); without an intercept and
without a penalty the first categorical keeps every level (it carries the
intercept) and the others drop their reference. ``coef_`` has an entry for
every level either way, named by ``feature_names_out_``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core
from ._pipeline import choose_solver
from ._result import SolveResult, solve_gram
from ._tables_columns import is_table
from ._threads import resolve_n_threads
from ._validation import check_weights
from .exceptions import DivergenceError, NonFiniteError
from .resources import ResourceReport, fit_clock

#: A categorical with more level columns than this is solved by newton through
#: the block-arrow structure (Schur complement) instead of the full Gram.
ARROW_MIN_LEVELS = 1000

#: Most columns of the expanded design qr builds a block of rows for (its R
#: factor is columns^2 numbers).
QR_MAX_COLUMNS = 4000

#: Bytes of one block of expanded rows for qr.
QR_BLOCK_BYTES = 32 << 20


def drop_first_levels(n_categoricals: int, fit_intercept: bool, alpha: float) -> np.ndarray:
    """Which categoricals lose their first level's column (see the module docstring)."""
    drop = np.full(n_categoricals, alpha == 0.0, dtype=bool)
    if alpha == 0.0 and not fit_intercept and n_categoricals:
        drop[0] = False
    return drop


class MixedDesign:
    """The layout of a mixed design's expanded columns, and its arrays when they
    are in this process (a Dask fit keeps them on the workers)."""

    def __init__(self, p: int, n_levels: np.ndarray, drop_first: np.ndarray,
                 dense: np.ndarray | None = None, codes: np.ndarray | None = None) -> None:  # fmt: skip
        self.p = int(p)
        self.n_levels = np.asarray(n_levels, dtype=np.int64)
        self.drop_first = np.asarray(drop_first, dtype=bool)
        self.dense, self.codes = dense, codes
        widths = self.n_levels - self.drop_first
        #: First expanded column of each categorical; ``offsets[-1]`` is D.
        self.offsets = self.p + np.r_[0, np.cumsum(widths)].astype(np.int64)
        self.n_columns = int(self.offsets[-1])

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The dense block and the codes (only where they are in this process)."""
        assert self.dense is not None and self.codes is not None
        return self.dense, self.codes

    def level_coefficients(self, coef: np.ndarray) -> list[np.ndarray]:
        """Per categorical, one coefficient per level (0 for a dropped reference)."""
        out = []
        for k, (lo, hi) in enumerate(zip(self.offsets[:-1], self.offsets[1:], strict=True)):
            c = np.zeros(int(self.n_levels[k]))
            c[int(self.drop_first[k]) :] = coef[lo:hi]
            out.append(c)
        return out

    def expand_rows(self, start: int, stop: int) -> np.ndarray:
        """The expanded design of rows [start, stop) (Fortran order)."""
        assert self.dense is not None and self.codes is not None
        m = stop - start
        E = np.zeros((m, self.n_columns), order="F")
        E[:, : self.p] = self.dense[start:stop]
        rows = np.arange(m)
        for k in range(len(self.n_levels)):
            col = self.codes[k, start:stop].astype(np.int64) - int(self.drop_first[k])
            keep = col >= 0
            E[rows[keep], self.offsets[k] + col[keep]] = 1.0
        return E

    def factor(self, y: np.ndarray, sw: np.ndarray | None, shift: np.ndarray | None,
               n_shards: int, n_threads: int) -> dict[str, Any]:  # fmt: skip
        """qr's factor (``_core.tsqr_stats``) of the expanded rows, built a block
        of rows at a time (never the whole expansion) and merged in order."""
        n = len(y)
        rows = max(4 * (self.n_columns + 2), QR_BLOCK_BYTES // (8 * max(self.n_columns, 1)))
        total: dict[str, Any] | None = None
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            part = _core.tsqr_stats(self.expand_rows(start, stop), y[start:stop],
                                    None if sw is None else sw[start:stop], shift,
                                    n_shards, n_threads)  # fmt: skip
            shift = part["shift"]
            total = dict(part) if total is None else dict(_core.tsqr_merge(total, part))
        assert total is not None
        return total


def predict_mixed(dense: np.ndarray, codes: np.ndarray, level_coef: list[np.ndarray],
                  coef_dense: np.ndarray, intercept: float) -> np.ndarray:  # fmt: skip
    """``dense @ coef_dense + sum_k level_coef[k][codes[k]] + intercept``."""
    pred = dense @ coef_dense if dense.shape[1] else np.zeros(codes.shape[1])
    for k, c in enumerate(level_coef):
        pred += c[codes[k]]
    return pred + intercept


class MixedBackend:
    """The fit pipeline's backend (``_pipeline.Backend``) for a mixed design in
    host memory: dense block and codes read in place by the compiled kernels."""

    solvers: tuple[str, ...] = ("newton", "qr", "lbfgs", "gd", "sgd")
    dtype = np.dtype(np.float64)
    witness = None

    #: The dense columns' names, for errors that point at a cell (None: positions).
    dense_names: list[str] | None = None

    def __init__(self, est: Any, dense: np.ndarray, codes: np.ndarray, n_levels: np.ndarray,
                 y: np.ndarray, sample_weight: Any) -> None:  # fmt: skip
        drop = drop_first_levels(len(n_levels), bool(est.fit_intercept), float(est.alpha))
        self.design = MixedDesign(dense.shape[1], n_levels, drop, dense, codes)
        self.n_samples = dense.shape[0]
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.sw = check_weights(sample_weight, self.n_samples, self.dtype)
        self._init_layout(est)

    def _init_layout(self, est: Any) -> None:
        """What follows from ``self.design``: the expanded width, the block-arrow
        categorical, the solvers and the mask of level columns."""
        self.n_features = self.design.n_columns
        self.fit_intercept = bool(est.fit_intercept)
        self.n_threads = resolve_n_threads(est.n_threads)
        self.n_shards = int(est.n_shards or 0)
        widths = self.design.n_levels - self.design.drop_first
        big = int(np.argmax(widths)) if len(widths) else -1
        #: The categorical newton eliminates by its block-arrow structure, or -1.
        self.arrow = big if big >= 0 and widths[big] > ARROW_MIN_LEVELS else -1
        rest = self.n_features - (int(widths[self.arrow]) if self.arrow >= 0 else 0)
        self.newton_columns = rest
        if self.n_features > QR_MAX_COLUMNS:
            self.solvers = tuple(s for s in self.solvers if s != "qr")
            self.qr_advice = (
                f"qr is not available for a table that expands to over {QR_MAX_COLUMNS:,} "
                "columns (its factor would hold a dense copy of them): set a small alpha."
            )
        #: Expanded columns that are level indicators (never standardized or noised).
        self.categorical_mask = np.zeros(self.n_features, dtype=bool)
        self.categorical_mask[self.design.p :] = True
        self._arrow_pieces: dict[str, Any] | None = None

    # -- the protocol ------------------------------------------------------------

    def auto_solver(self) -> tuple[str, str]:
        if self.newton_columns <= 1000 or self.n_samples <= self.newton_columns:
            why = ""
            if self.arrow >= 0:
                why = (f": the categorical with {int(self.design.n_levels[self.arrow])} levels "
                       "is eliminated through the Gram's block-arrow structure")  # fmt: skip
            return "newton", why
        return choose_solver(self.n_samples, self.n_features), ""

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:
        options = dict(options, n_threads=self.n_threads, n_shards=self.n_shards)
        if solver == "newton":
            if self.arrow >= 0:
                if want_factor:
                    raise NotImplementedError(
                        "compute_statistics is not available for a categorical with "
                        f"{int(self.design.n_levels[self.arrow])} levels (its Gram is not formed)"
                    )
                return self._solve_arrow(options)
            gram, shift = self.statistics("newton", options)
            return solve_gram(gram, shift, options["alpha"], options["fit_intercept"],
                              want_factor, self._nonzero())  # fmt: skip
        if solver == "qr":
            st = self.statistics_factor(options)
            result = SolveResult.from_core(
                _core.solve_r(st["r"], st["shift"], options["alpha"], options["fit_intercept"]),
                st if want_factor else None,
            )
            result.n_passes = 1
            result.precision, result.precision_reason = "double", "double (mixed design)"
            return result
        d = self.design
        opts = {k: v for k, v in options.items() if k != "precision"}
        try:
            out = _core.fit_mixed(*d.arrays(), d.n_levels, d.drop_first, self.y, self.sw,
                                  solver, _core.FitOptions(**opts))  # fmt: skip
        except (NonFiniteError, DivergenceError) as exc:
            self._raise_nonfinite(exc)
            raise
        return SolveResult.from_core(out)

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        if solver == "qr":
            st = self.statistics_factor(options)
            return np.asarray(st["r"]), np.asarray(st["shift"])
        if self.arrow >= 0:
            pieces = self._arrow(options)
            return pieces["reduced"], pieces["shift"]
        st = self._pass("gram")
        return np.asarray(st["gram"]), np.asarray(st["shift"])

    def _pass(self, kind: str) -> dict[str, Any]:
        """One pass of statistics over the data: ``"gram"`` (the expanded design's
        augmented Gram) or ``"arrow"`` (the other columns' Gram and the eliminated
        categorical's group sums); finite, or an error naming the problem."""
        d = self.design
        try:
            if kind == "gram":
                st = _core.mixed_gram_stats(*d.arrays(), d.n_levels, d.drop_first, self.y,
                                            self.sw, None, self.n_shards, self.n_threads)  # fmt: skip
            else:
                st = _core.mixed_arrow_stats(*d.arrays(), d.n_levels, self.arrow_drop_first(),
                                             self.arrow, self.y, self.sw, None, self.n_shards,
                                             self.n_threads)  # fmt: skip
        except NonFiniteError as exc:
            self._raise_nonfinite(exc)
            raise
        # The Gram holds the squares: if it is finite, so are the plain sums (cross).
        if not np.isfinite(np.asarray(st["gram"])).all():
            self._raise_nonfinite(None)
        return dict(st)

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        """qr's factor of the expanded design, one block of expanded rows at a time."""
        d = self.design
        self._check_qr_width()
        self._check_finite()
        shift = None if options["fit_intercept"] else np.zeros(self.n_features + 1)
        total = d.factor(self.y, self.sw, shift, self.n_shards, self.n_threads)
        total["n_nonzero"] = self._nonzero()
        return total

    def _check_qr_width(self) -> None:
        if self.n_features > QR_MAX_COLUMNS:
            raise NotImplementedError(
                f"qr would factor {self.n_features} expanded columns; use solver='newton' "
                "(block-arrow) or 'lbfgs' for categoricals with this many levels"
            )

    def where(self) -> str:
        k = len(self.design.n_levels)
        return f" on a mixed design ({self.design.p} dense + {k} categorical)"

    def attributes(self) -> dict[str, Any]:
        return {}

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        d = self.design
        row_bytes = 8 * (d.p + 1) + 4 * len(d.n_levels)
        return clock.report(threads=self.n_threads, n_passes=n_passes,
                            bytes_per_pass=self.n_samples * row_bytes, flops=flops)  # fmt: skip

    # -- the block-arrow newton ----------------------------------------------------

    def finish_exact(
        self, result: SolveResult, solver: str, options: dict[str, Any]
    ) -> SolveResult:
        """The eliminated categorical's coefficients after a solve on the reduced
        statistics (``_pipeline._solve`` calls this when preprocessing is on)."""
        if self.arrow < 0 or solver != "newton":
            return result
        return self._back_substitute(result, options)

    def moments_gram(self) -> np.ndarray | None:
        """The Gram standardize reads the dense block's moments from (the reduced
        statistics of the block-arrow path have the categorical projected out)."""
        return None if self._arrow_pieces is None else self._arrow_pieces["rest"]

    def stats_columns(self, solver: str) -> np.ndarray:
        """The expanded columns that ``statistics(solver)`` covers, in its order
        (all of them, except the eliminated categorical's on the block-arrow path)."""
        if self.arrow < 0 or solver != "newton":
            return np.arange(self.n_features)
        lo, hi = self.design.offsets[self.arrow], self.design.offsets[self.arrow + 1]
        return np.r_[np.arange(lo), np.arange(hi, self.n_features)]

    def absorbs_intercept(self) -> bool:
        """Whether the block-arrow pass keeps every level of the eliminated
        categorical and lets it carry the intercept (its reference level is
        dropped otherwise: an intercept and no penalty). Eliminating all levels
        leaves the other columns' within-level statistics, with no intercept
        column to recover by a difference of large sums (the reference level's
        rows are a few among millions)."""
        return self.arrow >= 0 and self.fit_intercept and bool(self.design.drop_first[self.arrow])

    def arrow_drop_first(self) -> np.ndarray:
        """The ``drop_first`` flags of the block-arrow pass."""
        drop = self.design.drop_first.copy()
        if self.absorbs_intercept():
            drop[self.arrow] = False
        return drop

    def _arrow(self, options: dict[str, Any]) -> dict[str, Any]:
        st = self._pass("arrow")
        rest = np.asarray(st["gram"])
        cross = np.asarray(st["cross"])
        total_w = rest[-1, -1]
        diag = cross[:, -1] + total_w * float(options["alpha"])
        if (diag <= 0).any():
            raise ValueError(
                f"categorical {self.arrow}: a level without rows (or with zero weight) and no "
                "penalty has no coefficient; drop unused levels or set alpha > 0"
            )
        # The group sums scaled in place by 1/sqrt(diag) (no temporary of the
        # levels' size): their Gram is what eliminating the levels subtracts.
        root = np.sqrt(diag)
        cross /= root[:, None]
        reduced = rest - self._crossprod(cross)
        if self.absorbs_intercept():
            # Every level eliminated: the ones column is exactly 0 once projected.
            # It keeps the sum of weights, by which solve_stats scales the penalty
            # and the loss, and its zero cross terms leave the intercept at 0.
            reduced[-1, :] = 0.0
            reduced[:, -1] = 0.0
            reduced[-1, -1] = total_w
        # solve_stats scales the penalty by the Gram's sum of weights (its ones
        # column), which the elimination shrinks: the penalty is scaled back up.
        factor = total_w / reduced[-1, -1] if reduced[-1, -1] > 0 else 1.0
        self._arrow_pieces = {"rest": rest, "cross": cross, "root": root, "reduced": reduced,
                              "shift": np.asarray(st["shift"]), "factor": factor}  # fmt: skip
        return self._arrow_pieces

    def _crossprod(self, B: np.ndarray) -> np.ndarray:
        """``B^T B`` by the sharded Gram kernel (the OpenMP threads the fit already
        runs; a BLAS pool started beside them fights them for the cores)."""
        m = B.shape[1]
        st = _core.gram_stats(B[:, :-1], np.ascontiguousarray(B[:, -1]), None, np.zeros(m),
                              0, self.n_threads)  # fmt: skip
        return np.asarray(st["gram"])[:m, :m]

    def penalty_factor(self) -> float:
        """What the penalty of a solve on the reduced statistics is multiplied by."""
        return 1.0 if self._arrow_pieces is None else float(self._arrow_pieces["factor"])

    def _solve_arrow(self, options: dict[str, Any]) -> SolveResult:
        pieces = self._arrow(options)
        result = SolveResult.from_core(
            _core.solve_stats(
                pieces["reduced"],
                pieces["shift"],
                options["alpha"] * pieces["factor"],
                options["fit_intercept"],
            )  # fmt: skip
        )
        result.n_passes = 1
        return self._back_substitute(result, options)

    def _back_substitute(self, result: SolveResult, options: dict[str, Any]) -> SolveResult:
        pieces = self._arrow_pieces
        assert pieces is not None
        shift, cross = pieces["shift"], pieces["cross"]
        w = np.asarray(result.coef, dtype=np.float64)
        b = float(result.intercept) if options["fit_intercept"] else 0.0
        b_shifted = b + float(shift[:-1] @ w) - float(shift[-1])
        fitted = np.einsum("lj,j->l", cross[:, :-2], w)  # no BLAS pool (see _crossprod)
        gamma = (cross[:, -2] - fitted - cross[:, -1] * b_shifted) / pieces["root"]
        if self.absorbs_intercept():  # level effects -> intercept and differences to the first
            result.intercept = float(result.intercept) + float(gamma[0])
            gamma = gamma[1:] - gamma[0]
        lo, hi = self.design.offsets[self.arrow], self.design.offsets[self.arrow + 1]
        result.coef = np.r_[w[:lo], gamma, w[lo:]]
        # The reduced objective, over the reduced sum of weights, is the full one.
        result.loss_history = np.asarray(result.loss_history) / pieces["factor"]
        assert result.coef.size == self.n_features and hi - lo == gamma.size
        result.rank += int(gamma.size)
        return result

    # -- helpers -----------------------------------------------------------------

    def _nonzero(self) -> int:
        return self.n_samples if self.sw is None else int(np.count_nonzero(self.sw))

    def _check_finite(self) -> None:
        if not np.isfinite(self.y).all():
            raise NonFiniteError("y contains NaN or infinity")
        if self.design.dense is not None and self.design.p:
            bad = _core.find_nonfinite(self.design.dense)
            if bad is not None:
                self._raise_nonfinite(None)

    def _raise_nonfinite(self, original: BaseException | None) -> None:
        d = self.design
        if d.dense is not None and d.p:
            raise_nonfinite_cell(d.dense, self.dense_names, original)
        if not np.isfinite(self.y).all():
            raise NonFiniteError("y contains NaN or infinity") from original
        if original is not None:
            raise original
        raise NonFiniteError(
            "numerical overflow: the values of X or y are too large for the sums of squares; "
            "rescale them (e.g. standardize=True)"
        )


# -- the estimator's side ---------------------------------------------------------


def target_values(y: Any, n_rows: int) -> np.ndarray:
    """y as finite float64 values: numpy, lists, pandas (nullable dtypes) or polars."""
    if hasattr(y, "to_numpy") and type(y).__module__.split(".")[0] == "pandas":
        try:
            values = y.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numeric, got dtype {y.dtype}") from exc
    else:
        arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"y must be numeric, got dtype {arr.dtype}")
        values = arr.astype(np.float64)
    values = np.ravel(values) if values.ndim == 2 and 1 in values.shape else values
    if values.ndim != 1 or values.shape[0] != n_rows:
        raise ValueError(f"y must have shape ({n_rows},), got {np.shape(values)}")
    if not np.isfinite(values).all():
        raise ValueError("y contains NaN or infinity")
    return values


def table_backend(est: Any, X: Any, y: Any, sample_weight: Any) -> Any | None:
    """The backend for a dataframe X: a mixed design when it has categorical
    columns, else the dense block on the CPU backend. None for arrays."""
    if not is_table(X) and isinstance(est.categorical_features, str):
        return None
    from ._tables import TableEncoder

    listed = (
        None if isinstance(est.categorical_features, str) else list(est.categorical_features or [])
    )
    encoder = TableEncoder(categorical=listed)
    design = encoder.fit_transform(X)
    for note in encoder.notes:
        warnings.warn(note, UserWarning, stacklevel=4)
    # A frame of numeric columns only, all kept in order, needs no encoder to
    # predict (scikit-learn's checks read it as they would have): keep none.
    if len(design.n_levels) or list(design.dense_names) != list(encoder.input_names):
        est.encoder_ = encoder
    y = target_values(y, design.dense.shape[0])
    backend: Any
    if len(design.n_levels):
        if est.device == "cuda":
            raise NotImplementedError(
                "the CUDA backend does not fit categorical columns "
                f"({', '.join(design.categorical_names)}); use device='cpu'"
            )
        backend = MixedBackend(est, design.dense, design.codes, design.n_levels, y, sample_weight)
        backend.dense_names = list(design.dense_names)
    elif est.device == "cuda":
        from ._gpu import CudaBackend

        backend = CudaBackend(est, design.dense, y, sample_weight)
    else:
        # The dense backend names a bad cell by its position in the numeric
        # block; a table's user needs the column's name: one scan here.
        raise_nonfinite_cell(design.dense, design.dense_names)
        from ._cpu_backend import CpuBackend

        backend = CpuBackend(est, design.dense, y, sample_weight)
    # The dense backends validate an array and forget the frame's names: set them after.
    set_input_names(est, encoder, X)
    return backend


def raise_nonfinite_cell(
    dense: np.ndarray, names: Sequence[str] | None, original: BaseException | None = None
) -> None:
    """Raise :class:`NonFiniteError` naming the column (by name where ``names``
    gives them) and row (its position) of the first NaN or infinity in a
    design's dense block; nothing if there is none."""
    bad = _core.find_nonfinite(dense) if dense.size else None
    if bad is not None:
        row, j = bad
        column = repr(names[j]) if names is not None else f"{j} of the numeric ones"
        raise NonFiniteError(
            f"X contains NaN or infinity (first in column {column}, at row {row} counting "
            "from 0); clean it first, e.g. with fastcost.preprocessing"
        ) from original


def set_input_names(est: Any, encoder: Any, X: Any) -> None:
    """``n_features_in_`` and, for string column labels, ``feature_names_in_``
    of an estimator fitted on the table X through ``encoder``."""
    est.n_features_in_ = len(encoder.input_names)
    names = np.asarray(encoder.input_names, dtype=object)
    labels = list(getattr(X, "column_names", None) or getattr(X, "columns", []))
    if all(isinstance(n, str) for n in labels) and len(labels) == len(names):
        est.feature_names_in_ = names
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


def finish_table_fit(est: Any, backend: Any) -> None:
    """After a fit on a dataframe: ``coef_`` with an entry for every level
    (a dropped reference level's is 0) and ``feature_names_out_``."""
    encoder = est.encoder_
    if not isinstance(backend, MixedBackend):  # numeric columns only: no level
        est.feature_names_out_ = np.asarray(encoder.feature_names_out(np.zeros(0, bool)), object)
        est.reference_levels_dropped_ = np.zeros(0, dtype=bool)
        return
    design = backend.design
    levels = design.level_coefficients(est.coef_)
    est.coef_ = np.concatenate([est.coef_[: design.p], *levels])
    if hasattr(est, "coef_stderr_"):
        se = est.coef_stderr_
        parts = [se[: design.p]]
        for k, (lo, hi) in enumerate(zip(design.offsets[:-1], design.offsets[1:], strict=True)):
            full = np.full(int(design.n_levels[k]), np.nan)
            full[int(design.drop_first[k]) :] = se[lo:hi]
            parts.append(full)
        est.coef_stderr_ = np.concatenate(parts)
    est.feature_names_out_ = np.asarray(
        encoder.feature_names_out(np.zeros(len(design.n_levels), dtype=bool)), dtype=object
    )
    est.reference_levels_dropped_ = design.drop_first.copy()


def predict_table(est: Any, X: Any) -> np.ndarray:
    """Predictions for a dataframe X of a model fitted on one; unseen levels map
    to the first (reference) level with a warning (from the encoder)."""
    return predict_coded(est.encoder_, est.coef_, est.intercept_, X)


def predict_coded(encoder: Any, coef: np.ndarray, intercept: Any, X: Any) -> np.ndarray:
    """``predict_table`` from the fitted encoder, ``coef_`` and ``intercept_``
    (a model of k targets: (k, p) and (k,), predictions (n, k); X coded once)."""
    design = encoder.transform(X)
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim == 2:
        columns = [
            _predict_design(design, c, float(b)) for c, b in zip(coef, intercept, strict=True)
        ]
        pred = np.stack(columns, axis=1)
    else:
        pred = _predict_design(design, coef, float(intercept))
    if not np.isfinite(pred).all():
        raise_nonfinite_cell(design.dense, design.dense_names)
        raise ValueError(
            "predictions overflow float64: X holds values too large for this model; rescale X"
        )
    return pred


def _predict_design(design: Any, coef: np.ndarray, intercept: float) -> np.ndarray:
    """One target's predictions from a coded table (its dense block and level codes)."""
    p = design.dense.shape[1]
    if not len(design.n_levels):
        return design.dense @ coef + intercept  # type: ignore[no-any-return]
    level_coef, start = [], p
    for n in design.n_levels:
        level_coef.append(coef[start : start + int(n)])
        start += int(n)
    return predict_mixed(design.dense, design.codes, level_coef, coef[:p], intercept)
