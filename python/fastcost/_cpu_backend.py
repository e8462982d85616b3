"""The fit pipeline's backend for arrays in memory (``_pipeline.Backend``): X and y
checked without a copy where they can be, the compiled solvers on them, and the
extra passes of statistics and robust covariances."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data

from . import _core
from ._auto_cost import (
    CostPrediction,
    auto_plan,
    condition_floor,
    obvious_newton,
    uniform_penalty,
)
from ._pipeline import ILL_CONDITIONED_THRESHOLD, choose_solver, fit_preprocessing
from ._result import SolveResult, solve_gram
from ._threads import resolve_n_threads
from ._validation import (
    FLOAT_DTYPES,
    LONGDOUBLE,
    check_weights,
    find_nonfinite,
    is_longdouble,
    kernel_layout,
    raise_for_nonfinite,
)
from .exceptions import DivergenceError, NonFiniteError
from .resources import ResourceReport, fit_clock


class CpuBackend:
    """The fit pipeline's backend (``_pipeline.Backend``) for arrays in host
    memory: the compiled kernels read X in place."""

    solvers: tuple[str, ...] = ("newton", "qr", "lbfgs", "gd", "sgd")

    def __init__(self, est: Any, X: Any, y: Any, sample_weight: Any) -> None:
        # longdouble X stays longdouble for plain qr (auto: straight to qr); else float64.
        self.wide = (
            is_longdouble(X) and est.solver in ("qr", "auto") and not fit_preprocessing(est).active
        )
        X, y = _validate_fit_data(est, X, y, self.wide)
        self.X = kernel_layout(X)
        self.n_samples, self.n_features = self.X.shape
        self.dtype = np.dtype(np.float64) if self.wide else self.X.dtype
        self.y = np.ascontiguousarray(y, dtype=self.X.dtype)
        self.sw = check_weights(sample_weight, self.n_samples, self.X.dtype)
        self.n_threads = resolve_n_threads(est.n_threads)
        self.n_shards = int(est.n_shards or 0)
        self.qr_precision = str(est.qr_precision)
        self.witness: np.ndarray | None = self.X
        self.est = est
        self.auto_plan: CostPrediction | None = None  # auto's prediction, read by run_fit

    def auto_solver(self) -> tuple[str, str]:
        if self.wide:
            return "qr", ": X is longdouble, which only qr reads"
        if self.X.dtype == np.float32 and not obvious_newton(self.n_samples, self.n_features):
            # lbfgs on float32 stops at a relative gradient of 1,000 eps: on
            # ill-conditioned columns that can be far from the least-squares
            # answer (75x its loss measured), while newton sums in float64.
            return "newton", ": X is float32, on which lbfgs stops 1,000 eps short"
        self.auto_plan = auto_plan(self.est, self.X, self.y, self.sw, self.n_threads)
        if self.auto_plan is None:  # obvious, or a case the model leaves to the fixed rule
            return choose_solver(self.n_samples, self.n_features), ""
        return self.auto_plan.solver, self.auto_plan.describe()

    def auto_fallback(self, passes: int) -> tuple[str, str]:
        """The solver after auto's guarded lbfgs stopped unconverged, and why:
        qr where a sample of X estimates the normal equations' condition past
        newton's limit (newton would be redone with qr), else newton."""
        plan = self.auto_plan
        assert plan is not None
        if not uniform_penalty(self.est):  # the sample would not show newton's system
            return "newton", plan.describe_fallback(passes)
        floor, rows, columns = condition_floor(
            self.X, self.y, self.sw, alpha=float(self.est.alpha),
            fit_intercept=bool(self.est.fit_intercept), n_threads=self.n_threads,
        )  # fmt: skip
        solver = "qr" if floor > ILL_CONDITIONED_THRESHOLD else "newton"
        return solver, plan.describe_fallback(passes, solver, floor, rows, columns)

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:
        options = dict(options, n_threads=self.n_threads, n_shards=self.n_shards)
        if solver == "qr":
            options["precision"] = self.qr_precision
        if solver == "newton" and want_factor:
            return _run_newton_with_factor(self.X, self.y, self.sw, options)
        result = _run_core(self.X, self.y, self.sw, solver, options)
        if result.precision == "extended" and self.qr_precision == "auto" and not self.wide:
            result.precision_reason = f"{result.precision_reason} (one more pass)"
        return result

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        args = (self.n_shards, self.n_threads)
        if solver == "newton":
            st = _core.gram_stats(self.X, self.y, self.sw, None, *args)
            stats = np.asarray(st["gram"])
        else:
            shift0 = None if options["fit_intercept"] else np.zeros(self.n_features + 1)
            st = _core.tsqr_stats(self.X, self.y, self.sw, shift0, *args)
            stats = np.asarray(st["r"], dtype=np.float64)
        if not np.isfinite(stats).all():
            raise_for_nonfinite(self.X)
        return stats, np.asarray(st["shift"])

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        shift = None if options["fit_intercept"] else np.zeros(self.n_features + 1)
        return dict(_core.tsqr_stats(self.X, self.y, self.sw, shift, self.n_shards, self.n_threads))

    def robust_sums(self, **model: Any) -> dict[str, Any]:
        """One pass for a robust covariance's meat (``_core.sandwich_sums``)."""
        X, y, sw = self.X, self.y, self.sw
        if self.wide:  # the kernel reads float32/float64: longdouble X is copied once
            X, y = X.astype(np.float64), y.astype(np.float64)
            sw = None if sw is None else sw.astype(np.float64)
        return dict(_core.sandwich_sums(X, y, sample_weight=sw, n_shards=self.n_shards,
                                        n_threads=self.n_threads, **model))  # fmt: skip

    def where(self) -> str:
        return ""

    def attributes(self) -> dict[str, Any]:
        return {}

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        return clock.report(
            threads=self.n_threads,
            n_passes=n_passes,
            bytes_per_pass=self.n_samples * (self.n_features + 1) * self.X.itemsize,
            flops=flops,
        )


def _validate_fit_data(
    est: BaseEstimator, X: Any, y: Any, wide: bool
) -> tuple[np.ndarray, np.ndarray]:
    """X and y checked and converted as scikit-learn's ``validate_data`` would.

    A plain 2-D float ndarray X with a finite 1-D real ndarray y needs none of
    its conversions, and its checks (dataframe detection, two check_array calls,
    feature names) cost about 0.2 ms, as much as a whole 8,000 x 20 fit: such
    input takes a direct path with the same outcome. Everything else (lists,
    dataframes, other dtypes, NaN in y, longdouble) goes through validate_data.
    """
    if (
        not wide
        and type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype in FLOAT_DTYPES
        and type(y) is np.ndarray
        and y.ndim == 1
        and y.dtype.kind in "fiu"
        and X.shape[0] == y.shape[0] >= 1
        and X.shape[1] >= 1
        and np.isfinite(y).all()
    ):
        est.n_features_in_ = X.shape[1]
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
        return X, y
    return validate_data(  # type: ignore[no-any-return]
        est,
        X,
        y,
        reset=True,
        dtype=[LONGDOUBLE] if wide else list(FLOAT_DTYPES),
        order=None,
        ensure_all_finite=False,  # X is checked inside the compiled pass, without a copy
        y_numeric=True,
    )


def _run_core(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, solver: str, options: dict[str, Any]
) -> SolveResult:
    """One compiled solver on X in memory; qr keeps its factor for statistics."""
    options = dict(options)
    precision = options.pop("precision", "auto")
    opts = _core.FitOptions(**options)
    try:
        if solver == "qr":
            result = SolveResult.from_core(*_core.fit_qr(X, y, sw, opts, precision))
        else:
            result = SolveResult.from_core(_core.fit(X, y, sw, solver, opts))
    except NonFiniteError as exc:
        raise_for_nonfinite(X, exc)  # names the first bad cell, or reports overflow
    except DivergenceError as exc:  # sgd's loss stopped being finite
        if find_nonfinite(X) is not None:
            raise_for_nonfinite(X, exc)
        raise
    return _checked(result, X)


def _checked(result: SolveResult, X: np.ndarray) -> SolveResult:
    """A result with non-finite coefficients names the first bad cell of X, if any."""
    if not np.isfinite(result.coef).all() and find_nonfinite(X) is not None:
        raise_for_nonfinite(X)
    return result


class LockstepTarget(CpuBackend):
    """One target of a multi-target lbfgs or gd fit (``_multi_target``): the
    backend of arrays in memory, whose ``solve`` hands the fit pipeline the
    result :func:`run_lockstep` made for this target with the same options."""

    def __init__(self, est: Any, X: Any, y: Any, sample_weight: Any, n_targets: int) -> None:
        super().__init__(est, X, y, sample_weight)
        self.n_targets = n_targets
        self.planned: tuple[str, dict[str, Any], SolveResult] | None = None

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:
        planned = self.planned
        if planned is None or want_factor or (solver, options) != planned[:2]:
            raise RuntimeError("the lockstep fit ran other options than the fit pipeline asks for")
        return planned[2]

    def where(self) -> str:
        return f" for {self.n_targets} targets in lockstep (one read of X per iteration for all)"


def run_lockstep(targets: list[LockstepTarget], solver: str, options: list[dict[str, Any]]) -> int:
    """lbfgs or gd for every target at once (``_core.fit_targets``): one read of X
    per iteration round for all of them, each target's result equal to its own
    fit's. The results wait in the targets for the fit pipeline; returns the
    reads of X made."""
    first = targets[0]
    opts = [
        _core.FitOptions(**dict(o, n_threads=first.n_threads, n_shards=first.n_shards))
        for o in options
    ]
    X = first.X
    try:
        results, reads = _core.fit_targets(X, [t.y for t in targets], first.sw, solver, opts)
    except NonFiniteError as exc:
        raise_for_nonfinite(X, exc)
    for target, o, r in zip(targets, options, results, strict=True):
        target.planned = (solver, o, _checked(SolveResult.from_core(r), X))
    return int(reads)


def _run_newton_with_factor(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, options: dict[str, Any]
) -> SolveResult:
    """newton as ``_core.fit`` runs it (one statistics pass, then the solve), but
    keeping the Gram, whose Cholesky factor gives the regression statistics."""
    st = _core.gram_stats(X, y, sw, None, options["n_shards"], options["n_threads"])
    gram = np.asarray(st["gram"])
    if not np.isfinite(gram).all():
        raise_for_nonfinite(X)
    n_nonzero = X.shape[0] if sw is None else int(np.count_nonzero(sw))
    return solve_gram(
        gram, st["shift"], options["alpha"], options["fit_intercept"], True, n_nonzero
    )
