"""The fit pipeline: what every fit does, whatever runs it.

Solver resolution (``solver="auto"``), the newton -> qr fallback for
ill-conditioned data and its warnings, the extra pass for
``compute_statistics``, the fitted attributes (from one typed result) and the
fit report live here, once. Where the data live is a backend's business: the
CPU (``linear_model``), the CUDA device (``_gpu``) and a Dask cluster
(``dask``) each implement :class:`Backend`, a small protocol of one-pass
statistics, the iterative solvers' pass and a description for ``fit_info_``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Protocol

import numpy as np
from sklearn.utils import check_random_state

from ._fit_preprocessing import FitPreprocessing, solve_exact_from_stats
from ._result import SolveResult
from ._robust import check_robust_supported, set_covariance
from ._statistics import regression_statistics
from ._validation import check_coef_init, check_column_scales
from .exceptions import (
    ConvergenceWarning,
    DivergenceError,
    IllConditionedWarning,
    NonFiniteError,
    RankDeficientWarning,
    SolverNotAvailableError,
)
from .preprocessing import DEFAULT_PRUNE_TOL, redundant_from_gram
from .resources import ResourceReport, fit_clock, solver_flops

#: Default ``max_iter`` per solver when ``max_iter=None``: iterations for
#: lbfgs and gd, epochs for sgd (the Keras recipe's 10).
DEFAULT_MAX_ITER = {"lbfgs": 1000, "gd": 1000, "sgd": 10}

#: The fixed rule of ``solver="auto"`` (:func:`choose_solver`): newton up to this
#: many features, lbfgs above. Arrays in host memory are decided by the cost
#: model of ``_auto_cost`` instead, except where it does not apply.
AUTO_NEWTON_MAX_FEATURES = 1000

#: ``solver="auto"`` answers to newton's digits whichever solver it picks: its
#: lbfgs stops at this relative gradient (or at ``tol``, where that is
#: smaller). lbfgs' own default, 1e-6, can stop far from the optimum of a
#: near-collinear design: 5 % above the least MSE, predictions 9 % of max |y|
#: apart, on a real table's columns at 121 scales (benchmarks/README.md).
AUTO_LBFGS_TOL = 1e-10

#: auto's lbfgs where the fixed rule picked it (``choose_solver``: Dask, CUDA,
#: sparse, tables, streaming, and arrays with prune or compute_statistics;
#: not with positive) runs at most this many iterations, stopping sooner once
#: its rate projects past them, then newton does the fit (and qr, where newton's
#: normal equations are past its limit). At 1e-10 a well-conditioned problem
#: takes 10-25; a near-collinear table took over 1,000 (benchmarks/README.md).
AUTO_RULE_GUARD = 100

#: Above this condition estimate of newton's equilibrated normal equations,
#: ``solver="auto"`` redoes the fit with qr and an explicit ``solver="newton"``
#: warns (:class:`~fastcost.exceptions.IllConditionedWarning`). The normal
#: equations lose about log10(cond) of float64's ~16 digits normwise, and
#: coefficients with a small effect on the fit lose more: on NIST's Wampler1
#: (cond 3.4e6) newton keeps 6 digits where qr keeps 9.7. So at 1e6 newton may
#: already keep fewer than ~8 digits; qr keeps about 16 - log10(sqrt(cond)).
ILL_CONDITIONED_THRESHOLD = 1e6

#: sgd has diverged when its last epoch's loss is this many times its first
#: epoch's (the first holds the transient from the starting point, so a recipe
#: that learns ends below it), or this many squared times the loss of the zero
#: model, mean(y^2), where y is in host memory: a learning rate past the
#: stable one grows the loss geometrically, by orders of magnitude an epoch.
SGD_DIVERGED_GROWTH = 100.0


def choose_solver(n_samples: int, n_features: int) -> str:
    """The fixed rule behind ``solver="auto"`` where costs are not modelled.

    newton costs one pass over X plus O(n d^2) compute-bound work and d^2 memory
    per shard; lbfgs costs one memory-bound pass per iteration and O(d) memory.
    Up to ``AUTO_NEWTON_MAX_FEATURES`` features (or whenever n <= d, where the
    exact minimum-norm solution matters) newton; above, lbfgs. The Dask, CUDA,
    sparse, streaming and categorical backends use this rule. Arrays in host
    memory use the measured cost model of ``fastcost._auto_cost`` (newton or
    lbfgs, whichever is predicted faster) and fall back on this rule with
    ``positive``, ``prune`` or ``compute_statistics``.
    """
    if n_features <= AUTO_NEWTON_MAX_FEATURES or n_samples <= n_features:
        return "newton"
    return "lbfgs"


def auto_lbfgs_tol(tol: float) -> float:
    """The relative gradient at which ``solver="auto"``'s lbfgs stops:
    ``AUTO_LBFGS_TOL``, or ``tol`` where that is smaller."""
    return min(float(tol), AUTO_LBFGS_TOL)


def _check_intercept_init(value: Any) -> float:
    """``intercept_init`` as a finite float (None: 0)."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"intercept_init must be None or a finite real number, got {value!r}")
    return float(value)


def solver_options(
    est: Any, solver: str, d: int, coef_init: Any, intercept_init: float | None
) -> dict[str, Any]:
    """The options of the compiled solvers (``_core.fit``, ``_core.minimize``,
    ``_cuda.fit``) that every backend reads alike.

    ``coef_init`` is checked here (d finite values). For sgd without a starting
    point the Keras Dense default is drawn from ``est.random_state``: a
    Glorot-uniform kernel and zero bias, then the shuffle seed.
    """
    if np.ndim(est.alpha) > 0:
        raise ValueError(
            f"alpha holds {np.size(est.alpha)} values, one per target of a 2-D y; "
            "this y has one target: pass a number"
        )
    options: dict[str, Any] = {
        "alpha": float(est.alpha),
        "fit_intercept": bool(est.fit_intercept),
        "tol": float(est.tol),
        "batch_size": int(est.batch_size),
        "learning_rate": float(est.learning_rate),
    }
    if solver in DEFAULT_MAX_ITER:
        options["max_iter"] = int(est.max_iter or DEFAULT_MAX_ITER[solver])
    coef_init = check_coef_init(coef_init, d)
    intercept = _check_intercept_init(intercept_init)
    if coef_init is not None:
        options["coef_init"] = coef_init
        options["intercept_init"] = intercept
    if solver == "sgd":
        rng = check_random_state(est.random_state)
        if coef_init is None:
            limit = np.sqrt(6.0 / (d + 1))
            options["coef_init"] = rng.uniform(-limit, limit, size=d)
            options["intercept_init"] = 0.0
            options["init_standardized"] = bool(est.standardize)  # the draw is for v
        options["seed"] = int(rng.randint(0, np.iinfo(np.int32).max))
    return options


def fit_preprocessing(est: Any) -> FitPreprocessing:
    """The preprocessing steps an estimator's parameters fold into its fit."""
    return FitPreprocessing(
        standardize=bool(est.standardize),
        prune=bool(est.prune),
        noise_std=float(est.noise_augmentation),
        prune_tol=None if est.prune_tol is None else float(est.prune_tol),
    )


class Backend(Protocol):
    """Where a fit runs: what the pipeline needs from the CPU, CUDA or Dask side."""

    #: Solvers the backend runs (``"auto"`` resolves among them).
    solvers: tuple[str, ...]
    n_samples: int
    n_features: int
    #: The dtype of the fitted coefficients.
    dtype: np.dtype
    #: X where the client holds it (confirms duplicate columns cell by cell), else None.
    witness: np.ndarray | None

    def auto_solver(self) -> tuple[str, str]:
        """The solver ``"auto"`` picks here and why (``""``: the usual rule)."""
        ...

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:
        """One compiled solver; with ``want_factor``, the result keeps newton's or
        qr's factor. Iterative solvers read standardize, noise_var and frozen
        from ``options``."""
        ...

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """One pass of sufficient statistics and its shift: the augmented Gram
        (``"newton"``) or the R factor (``"qr"``), finite or an error."""
        ...

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        """One extra qr pass for the statistics of an iterative fit."""
        ...

    def where(self) -> str:
        """Where it ran, for ``fit_info_`` (e.g. ``" on 7 Dask chunks"``)."""
        ...

    def attributes(self) -> dict[str, Any]:
        """Fitted attributes of this backend only (e.g. ``n_chunks_``)."""
        ...

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        """The fit's resource report."""
        ...


def run_fit(
    est: Any, backend: Backend, coef_init: Any = None, intercept_init: float | None = None,
    overrides: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Fit ``est`` on ``backend`` and set every fitted attribute.

    ``overrides`` replace solver options (``partial_fit``'s one sgd epoch and
    its own shuffle seed).

    The caller validates the parameters and builds the backend inside a
    :func:`fit_clock`, then sets ``fit_report_`` with :func:`finish_report`
    once the clock has stopped, so that the report covers the whole fit.
    """
    prep = fit_preprocessing(est)
    check_robust_supported(est, backend)
    if prep.active and est.compute_statistics:
        raise ValueError(
            "compute_statistics is not available with standardize, prune or noise_augmentation"
        )
    d = backend.n_features
    _check_scales(backend, None)
    if est.solver == "auto":
        solver, why_auto = backend.auto_solver()
    else:
        solver, why_auto = est.solver, ""
    if solver not in backend.solvers:
        where = backend.where() or " here"
        raise SolverNotAvailableError(
            f"solver={solver!r} is not available{where} (use one of {backend.solvers})"
        )
    options = _auto_options(est, backend, solver, solver_options(est, solver, d, coef_init,
                                                                 intercept_init))  # fmt: skip
    options.update(overrides or {})
    want_factor = bool(est.compute_statistics)
    positive = bool(getattr(est, "positive", False))
    # auto's lbfgs runs at most its guard's iterations, then newton (or the
    # backend's own fallback: qr for a singular design) takes over.
    plan, fallback = _auto_guard(est, backend, solver, positive)
    if plan is not None:
        options["max_iter"] = min(int(options["max_iter"]), int(plan.guard))
        options["guard_projection"] = True
    solve = solve_positive if positive else _solve
    result = solve(backend, solver, options, prep, want_factor)
    if plan is not None and not result.converged:  # worse conditioned than predicted
        passes = result.n_passes
        if fallback is None:
            solver, why_auto = "newton", plan.describe_fallback(passes)
        else:
            solver, why_auto = fallback(passes)
        options = _auto_options(est, backend, solver, solver_options(est, solver, d, coef_init,
                                                                     intercept_init))  # fmt: skip
        options.update(overrides or {})
        result = solve(backend, solver, options, prep, want_factor)
        result.n_passes += passes
    fit_info = f"{solver} (solver={est.solver!r}){backend.where()}{why_auto}"
    if positive:
        fit_info += "; non-negative coefficients " + (
            "(Lawson-Hanson on the normal equations)"
            if solver in ("newton", "qr")
            else "(projected: an active set on the free coefficients)"
        )
    if solver == "newton" and not positive:
        result, solver, fit_info = _newton_fallback(est, backend, result, options, prep, fit_info)
    if result.notes:
        fit_info += f"; {result.notes}"
    if solver == "sgd":
        _check_sgd_loss(result, backend)
    _check_scales(backend, result)
    _set_result(est, result, solver, backend.dtype)
    est.fit_info_ = fit_info + _precision_info(est, result)
    for name, value in backend.attributes().items():
        setattr(est, name, value)
    est.preprocessing_ = prep.as_dict() if prep.active else None
    if prep.prune_report is not None:
        est.prune_report_ = prep.prune_report
    if want_factor:
        factor, exact = result.factor, solver in ("newton", "qr")
        if factor is None or _gram_too_coarse(solver, backend):  # one extra qr pass
            factor, exact = backend.statistics_factor(options), False
            est.n_passes_ += 1
        _set_statistics(est, result, factor, exact, backend)


def _solve(
    backend: Backend, solver: str, options: dict[str, Any], prep: FitPreprocessing,
    want_factor: bool,
) -> SolveResult:  # fmt: skip
    """The backend's solver with the steps in ``prep`` folded in, without a copy of X.

    newton and qr: one statistics pass, then pruning (the kept block of the Gram,
    or the kept columns of R re-triangularized) and the per-column penalty on
    (d + 2)^2 numbers (``solve_exact_from_stats``). lbfgs, gd, sgd: the compiled
    objective works in standardized coordinates with the noise penalty per
    column; pruned columns are found in one extra Gram pass and frozen at 0.
    """
    if not prep.active:
        return backend.solve(solver, options, want_factor)
    # A mixed design (``_categorical``) names the expanded columns its statistics
    # cover and which of them are level indicators (never standardized or noised).
    columns = getattr(backend, "stats_columns", None)
    if solver in ("newton", "qr"):
        stats, shift = backend.statistics(solver, options)
        if columns is None:
            return solve_exact_from_stats(
                solver, stats, shift, options, prep, backend.dtype, X=backend.witness
            )
        cols = columns(solver)
        result = solve_exact_from_stats(
            solver, stats, shift, options, prep, backend.dtype, X=backend.witness,
            fixed=backend.categorical_mask[cols], moments=backend.moments_gram(),  # type: ignore[attr-defined]
            penalty_factor=backend.penalty_factor(),  # type: ignore[attr-defined]
        )  # fmt: skip
        return backend.finish_exact(result, solver, options)  # type: ignore[attr-defined,no-any-return]
    options = _fold_steps(options, prep)
    if prep.prune:
        gram, shift = backend.statistics("newton", options)
        tol = (
            DEFAULT_PRUNE_TOL[np.dtype(backend.dtype)] if prep.prune_tol is None else prep.prune_tol
        )
        prep.prune_report = redundant_from_gram(
            gram, shift, fit_intercept=bool(options["fit_intercept"]), tol=tol, X=backend.witness
        )
        cols = np.arange(backend.n_features) if columns is None else columns("newton")
        frozen = np.zeros(backend.n_features)
        frozen[cols] = 1.0
        frozen[cols[list(prep.prune_report.kept)]] = 0.0
        options["frozen"] = frozen
        prep.extra_passes = 1  # the moments pass of standardize is the solver's own
    result = backend.solve(solver, options, False)
    result.n_passes += prep.extra_passes
    return result


def _fold_steps(options: dict[str, Any], prep: FitPreprocessing) -> dict[str, Any]:
    """The options of lbfgs, gd and sgd with standardize and the noise penalty folded in."""
    return dict(options, standardize=prep.standardize, noise_var=prep.noise_std**2)


def loop_options(est: Any, d: int) -> dict[str, Any]:
    """The options :func:`run_fit` hands ``backend.solve`` for ``est.solver`` lbfgs
    or gd when that one call is the whole fit: no ``prune`` (its Gram pass comes
    first), no ``compute_statistics``, no starting point.

    ``_multi_target`` runs every target's loop with these options at once (in
    lockstep), then sets each target's attributes through :func:`run_fit`,
    whose call to ``solve`` must ask for exactly these options.
    """
    prep = fit_preprocessing(est)
    if est.solver not in ("lbfgs", "gd") or prep.prune or est.compute_statistics:
        raise ValueError("loop_options: lbfgs or gd without prune or compute_statistics only")
    options = solver_options(est, est.solver, d, None, None)
    if bool(getattr(est, "positive", False)):
        options["positive"] = True  # as solve_positive asks
    return _fold_steps(options, prep) if prep.active else options


def solve_positive(
    backend: Backend, solver: str, options: dict[str, Any], prep: FitPreprocessing,
    want_factor: bool,
) -> SolveResult:  # fmt: skip
    """``positive=True``: newton and qr make one statistics pass, then
    Lawson-Hanson (``_nnls``); lbfgs and gd hold the coefficients >= 0 inside
    their compiled loops (an active set), with the preprocessing steps folded in
    as without the constraint."""
    from ._nnls import nnls_from_gram

    if want_factor:
        raise NotImplementedError("positive=True is not available with compute_statistics")
    if solver in ("lbfgs", "gd"):
        return _solve(backend, solver, dict(options, positive=True), prep, want_factor)
    if solver not in ("newton", "qr"):
        raise NotImplementedError(
            f"positive=True runs on newton's or qr's statistics or in lbfgs and gd, "
            f"not solver={solver!r}"
        )
    if prep.active:
        raise NotImplementedError(
            "positive=True with standardize, prune or noise_augmentation needs "
            "solver='lbfgs' or 'gd'"
        )
    stats, shift = backend.statistics(solver, options)
    gram = np.asarray(stats, dtype=np.float64)
    if solver == "qr":  # R^T R is the Gram of [1, x - c, y - c_y]: to gram_stats' order
        p = gram.shape[0]
        order = np.r_[np.arange(1, p), 0]
        gram = (gram.T @ gram)[np.ix_(order, order)]
    coef, intercept, info = nnls_from_gram(
        gram, shift, float(options["alpha"]), bool(options["fit_intercept"])
    )
    converged = bool(info["converged"])
    return SolveResult(
        coef=coef[0], intercept=float(intercept[0]), n_iter=int(info["iterations"][0]),
        loss_history=np.zeros(0), n_passes=1, converged=converged, singular=False,
        rank=int(info["passive_size"][0]), condition_estimate=math.nan,
        message="" if converged else "the active-set iterations reached max_iter",
    )  # fmt: skip


class _RuleGuard:
    """The guard of an lbfgs that ``choose_solver``'s fixed rule picked (no cost
    model predicted it): ``AUTO_RULE_GUARD`` iterations, then newton."""

    guard = AUTO_RULE_GUARD

    def describe_fallback(self, passes: int) -> str:
        return (
            f": lbfgs (over {AUTO_NEWTON_MAX_FEATURES} features) had not converged after "
            f"{passes} passes, so newton"
        )


def _auto_guard(est: Any, backend: Backend, solver: str, positive: bool) -> tuple[Any, Any]:
    """What guards auto's lbfgs pick, and the backend's fallback (None: newton):
    the cost model's plan where it predicted the pick, else :class:`_RuleGuard`.
    None where auto did not pick lbfgs, newton is not on this backend, or with
    ``positive``: the projected lbfgs stops on its own optimality conditions,
    and its rate, judged by the active set, is not the one the guard projects."""
    if est.solver != "auto" or solver != "lbfgs" or positive:
        return None, None
    plan = getattr(backend, "auto_plan", None)
    if plan is not None:
        return plan, getattr(backend, "auto_fallback", None)
    if "newton" not in backend.solvers:
        return None, None
    return _RuleGuard(), None


def _auto_options(
    est: Any, backend: Backend, solver: str, options: dict[str, Any]
) -> dict[str, Any]:
    """``auto``'s options for the solver it picked. newton, where qr is there to
    redo a singular fit: the compiled solve stops at the failed Cholesky instead
    of forming the minimum-norm solution (an eigendecomposition of the d x d
    system) that the redo would discard. lbfgs: it runs to
    :func:`auto_lbfgs_tol`, so that auto's answer has newton's digits."""
    if est.solver != "auto":
        return options
    if solver == "newton" and "qr" in backend.solvers:
        options["minimum_norm"] = False
    elif solver == "lbfgs":
        options["tol"] = auto_lbfgs_tol(options["tol"])
    return options


def _precision_info(est: Any, result: SolveResult) -> str:
    """qr's working precision for ``fit_info_`` (and ``qr_precision_``); a warning
    where qr_precision='auto' wanted the long double pass but it was past its budget."""
    if result.extended_skipped:
        warnings.warn(
            f"qr ran in {result.precision_reason} (digits of the least accurate coefficient)",
            IllConditionedWarning,
            stacklevel=4,
        )
    if result.precision is None:
        return ""
    est.qr_precision_ = result.precision
    return f"; precision {result.precision_reason}"


def _newton_fallback(
    est: Any, backend: Backend, result: SolveResult, options: dict[str, Any],
    prep: FitPreprocessing, fit_info: str,
) -> tuple[SolveResult, str, str]:  # fmt: skip
    """``auto`` redoes an ill-conditioned newton fit with qr; an explicit newton warns."""
    cond = result.condition_estimate
    ill = result.singular or not cond <= ILL_CONDITIONED_THRESHOLD
    if not ill:
        return result, "newton", fit_info
    if est.solver == "auto" and "qr" in backend.solvers:
        why = "are singular" if result.singular else (
            f"have condition estimate {cond:.3g} > {ILL_CONDITIONED_THRESHOLD:.0e}"
        )  # fmt: skip
        redo = _solve(backend, "qr", options, prep, bool(est.compute_statistics))
        redo.n_passes += result.n_passes  # newton's pass came first
        # fit_info so far: "newton (solver='auto')<where><why auto took newton>"
        how = fit_info.removeprefix(f"newton (solver='auto'){backend.where()}")
        info = (
            f"qr (solver='auto'){backend.where()}{how}{';' if how else ':'} newton's normal "
            f"equations {why}, too ill-conditioned to keep the digits, so the fit was redone "
            "with qr"
        )
        return redo, "qr", info
    if not result.singular:  # singular: RankDeficientWarning says it
        digits = max(0.0, 16.0 - math.log10(cond)) if math.isfinite(cond) else 0.0
        advice = (
            "Use solver='qr' (or 'auto')."
            if "qr" in backend.solvers
            else getattr(backend, "qr_advice", "")
            or "qr is not available here: use device='cpu' with solver='qr' (or 'auto')."
        )
        warnings.warn(
            f"newton: the normal equations have condition estimate {cond:.3g} "
            f"(> {ILL_CONDITIONED_THRESHOLD:.0e}); they keep only about {digits:.0f} "
            f"significant digits and coefficients with a small effect can lose more. {advice}",
            IllConditionedWarning,
            stacklevel=4,
        )
    return result, "newton", fit_info


def _check_scales(backend: Backend, result: SolveResult | None) -> None:
    """:func:`check_column_scales` on X where the client holds it: before the fit
    (``result`` None) on a row sample, after it on all of X where the result
    looks degenerate (:func:`_looks_degenerate`)."""
    if backend.witness is None:
        return
    if result is None:
        check_column_scales(backend.witness, sample=True)
    elif _looks_degenerate(result):
        check_column_scales(backend.witness)


def _looks_degenerate(result: SolveResult) -> bool:
    """A result that columns out of float64's range for sums of squares would give
    (a rank-deficient factor, no coefficient, a loss that never fell), so that
    only such fits pay for :func:`check_column_scales`' pass over X."""
    hist = np.asarray(result.loss_history)
    flat = hist.size >= 2 and bool(hist[-1] >= hist[0] * (1.0 - 1e-9))
    return bool(result.singular) or not np.any(result.coef) or flat


def _check_sgd_loss(result: SolveResult, backend: Backend) -> None:
    """Raise :class:`DivergenceError` where sgd's finite loss says it diverged
    (:data:`SGD_DIVERGED_GROWTH`): the recipe runs its epochs without a stopping
    rule, so nothing else would tell a user its coefficients are noise."""
    losses = np.asarray(result.loss_history, dtype=np.float64)
    if losses.size == 0:
        return
    first, last = float(losses[0]), float(losses[-1])
    why = None
    if losses.size > 1 and last > SGD_DIVERGED_GROWTH * first:
        why = f"its loss grew from {first:.3g} in the first epoch to {last:.3g} in the last"
    y, sw = getattr(backend, "y", None), getattr(backend, "sw", None)
    if why is None and isinstance(y, np.ndarray) and y.size:
        w = sw if isinstance(sw, np.ndarray) and sw.shape == y.shape else None
        if w is None:  # no temporary the size of y
            zero_loss = float(np.dot(y, y)) / y.size
        else:
            total = float(w.sum())
            zero_loss = float(np.einsum("i,i,i->", w, y, y)) / total if total > 0 else 0.0
        if last > SGD_DIVERGED_GROWTH**2 * max(zero_loss, np.finfo(np.float64).tiny):
            why = (
                f"its last epoch's loss, {last:.3g}, is over {SGD_DIVERGED_GROWTH**2:g} times "
                f"that of predicting 0 ({zero_loss:.3g})"
            )
    if why is not None:
        raise DivergenceError(
            f"sgd diverged: {why}; lower learning_rate, or standardize X (standardize=True)"
        )


def _set_result(est: Any, result: SolveResult, solver: str, dtype: np.dtype) -> None:
    if not (np.isfinite(result.coef).all() and math.isfinite(result.intercept)):
        raise FloatingPointError(
            f"solver {solver!r} produced non-finite coefficients; "
            "the data are too badly scaled for this solver (standardize X)"
        )
    with np.errstate(over="ignore"):
        coef = result.coef.astype(dtype)
        intercept = dtype.type(result.intercept) if est.fit_intercept else dtype.type(0.0)
    if not (np.isfinite(coef).all() and np.isfinite(intercept)):
        big = max(float(np.abs(result.coef).max(initial=0.0)), abs(float(result.intercept)))
        raise NonFiniteError(
            f"the least-squares coefficients reach {big:.3g}, beyond {dtype}'s range: "
            "fit in float64 or rescale X"
        )
    est.coef_ = coef
    est.intercept_ = intercept
    est.n_iter_ = result.n_iter
    est.loss_history_ = result.loss_history
    est.n_passes_ = result.n_passes
    est.solver_ = solver
    est.converged_ = result.converged
    est.rank_ = result.rank
    if solver in ("newton", "qr"):
        est.condition_number_ = result.condition_estimate
    if result.singular:
        warnings.warn(result.message, RankDeficientWarning, stacklevel=4)
    if not result.converged:
        advice = (
            "raise max_iter, or take solver='newton' or 'qr' (auto's lbfgs runs to "
            f"tol={AUTO_LBFGS_TOL:g})"
            if est.solver == "auto"
            else "raise max_iter or tol"
        )
        warnings.warn(
            f"{solver} did not converge: {result.message} (n_iter={result.n_iter}); {advice}",
            ConvergenceWarning,
            stacklevel=4,
        )


def _gram_too_coarse(solver: str, backend: Backend) -> bool:
    """newton's factor cannot give the statistics: on float32 X (dense, in memory
    or in Dask chunks) the Gram kernel sums each block of rows in float32 lanes.
    That keeps the coefficients' float32 digits, but the residual sum of squares
    read off the factor is ``y'y`` less the fitted part, as small as the residuals,
    and loses them (residual_std_ 14 % off at R^2 = 0.9999998). qr sums in float64."""
    return (
        solver == "newton"
        and np.dtype(backend.dtype) == np.float32
        and not getattr(backend, "gram_in_float64", False)
    )


def _set_statistics(
    est: Any, result: SolveResult, factor: dict[str, Any], exact: bool, backend: Backend
) -> None:
    stats = regression_statistics(
        factor["r"],
        factor["shift"],
        result.coef,
        result.intercept,
        alpha=float(est.alpha),
        fit_intercept=bool(est.fit_intercept),
        n_nonzero=int(factor["n_nonzero"]),
        rank=est.rank_,
        exact=exact,
        r_lo=factor.get("r_lo"),
    )
    est.coef_stderr_ = stats["coef_stderr"]
    est.intercept_stderr_ = stats["intercept_stderr"]
    est.residual_std_ = stats["residual_std"]
    est.r2_ = stats["r2"]
    est.dof_resid_ = stats["dof_resid"]
    # The covariance type (a robust one reads X once more) and what predict_interval keeps.
    set_covariance(est, result.coef, result.intercept, factor, stats, backend)


def finish_report(est: Any, backend: Backend, clock: fit_clock) -> None:
    """``fit_report_`` of a finished fit, from its clock and the backend."""
    flops = solver_flops(
        est.solver_, backend.n_samples, backend.n_features, est.n_passes_, est.n_iter_
    )
    est.fit_report_ = backend.report(clock, est.n_passes_, flops)
