"""Least-squares linear regression with compiled solvers."""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from ._statistics import gram_to_factor, regression_statistics
from ._threads import resolve_n_threads
from ._validation import (
    FLOAT_DTYPES,
    LONGDOUBLE,
    check_coef_init,
    check_weights,
    find_nonfinite,
    is_longdouble,
    kernel_layout,
    raise_for_nonfinite,
)
from .exceptions import (
    ConvergenceWarning,
    DivergenceError,
    IllConditionedWarning,
    NonFiniteError,
    RankDeficientWarning,
)
from .preprocessing import FitPreprocessing, fit_preprocessed
from .resources import fit_clock, solver_flops

SOLVERS = ("auto", "newton", "qr", "lbfgs", "gd", "sgd")
QR_PRECISIONS = ("auto", "double", "extended")

#: Default ``max_iter`` per solver when ``max_iter=None``: iterations for
#: lbfgs and gd, epochs for sgd (the Keras recipe's 10).
DEFAULT_MAX_ITER = {"lbfgs": 1000, "gd": 1000, "sgd": 10}

#: ``solver="auto"`` uses newton up to this many features and lbfgs above.
AUTO_NEWTON_MAX_FEATURES = 1000

#: Above this condition estimate of newton's equilibrated normal equations,
#: ``solver="auto"`` redoes the fit with qr and an explicit ``solver="newton"``
#: warns (:class:`~fastcost.exceptions.IllConditionedWarning`). The normal
#: equations lose about log10(cond) of float64's ~16 digits normwise, and
#: coefficients with a small effect on the fit lose more: on NIST's Wampler1
#: (cond 3.4e6) newton keeps 6 digits where qr keeps 9.7. So at 1e6 newton may
#: already keep fewer than ~8 digits; qr keeps about 16 - log10(sqrt(cond)).
ILL_CONDITIONED_THRESHOLD = 1e6


def choose_solver(n_samples: int, n_features: int) -> str:
    """The rule behind ``solver="auto"``.

    newton costs one pass over X plus O(n d^2) compute-bound work and d^2 memory
    per shard; lbfgs costs one memory-bound pass per iteration and O(d) memory.
    Up to ``AUTO_NEWTON_MAX_FEATURES`` features (or whenever n <= d, where the
    exact minimum-norm solution matters) newton is cheaper; above, lbfgs.
    """
    if n_features <= AUTO_NEWTON_MAX_FEATURES or n_samples <= n_features:
        return "newton"
    return "lbfgs"


def solver_options(
    est: Any, solver: str, d: int, coef_init: Any, intercept_init: float | None
) -> dict[str, Any]:
    """The options of ``_core.fit`` and ``_cuda.fit`` that both backends read alike.

    ``coef_init`` is checked here (d finite values). For sgd without a starting
    point the Keras Dense default is drawn from ``est.random_state``: a
    Glorot-uniform kernel and zero bias, then the shuffle seed.
    """
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
    if coef_init is not None:
        options["coef_init"] = coef_init
        options["intercept_init"] = float(intercept_init or 0.0)
    if solver == "sgd":
        rng = check_random_state(est.random_state)
        if coef_init is None:
            limit = np.sqrt(6.0 / (d + 1))
            options["coef_init"] = rng.uniform(-limit, limit, size=d)
            options["intercept_init"] = 0.0
        options["seed"] = int(rng.randint(0, np.iinfo(np.int32).max))
    return options


class LinearRegression(RegressorMixin, BaseEstimator):
    """Least-squares linear regression (optional L2 penalty) with compiled solvers.

    Minimizes ``(1 / sum(s)) * sum_i s_i (x_i^T w + b - y_i)^2 + alpha * ||w||^2``
    with sample weights ``s`` (ones by default). X is read in place: C- or
    Fortran-ordered float32/float64 arrays are never copied; float32 data is
    fitted in float32 (statistics accumulated in float64) and ``coef_`` has X's dtype.

    ``numpy.longdouble`` X keeps digits that float64 would round away (e.g. the
    powers of a high-degree polynomial design built in extended precision). The
    qr solver reads it in place, in its extended-precision pass; ``solver="auto"``
    then goes straight to qr (newton's normal equations cannot use the digits).
    y and sample_weight are converted to X's dtype. ``coef_`` and ``intercept_``
    are float64 (solved in long double, rounded once at the end); ``predict``
    accepts longdouble X and returns longdouble. Every other solver, and qr with
    ``standardize``, ``prune`` or ``noise_augmentation``, converts longdouble X
    to float64 (one copy). Where long double is just double (MSVC, Apple
    silicon), ``numpy.longdouble`` is float64 and gains nothing.

    Parameters
    ----------
    alpha : float, default=0.0
        L2 penalty on the coefficients (never on the intercept).
    fit_intercept : bool, default=True
        Fit an intercept; X is centered implicitly (no copy).
    solver : {"auto", "newton", "qr", "lbfgs", "gd", "sgd"}, default="auto"
        ``newton``: one pass of sufficient statistics and a Cholesky solve (exact;
        rank-deficient problems get the minimum-norm solution with a warning). It
        squares the condition number: above ``ILL_CONDITIONED_THRESHOLD`` it warns.
        ``qr``: one pass of a sharded tall-skinny Householder QR and a triangular
        solve; keeps the digits the normal equations lose (about 2-2.5x newton's
        time on tall data).
        ``lbfgs``: L-BFGS with exact line searches: each iteration is one pass
        over X that returns the gradient and the Hessian times the search
        direction, which give the exact step (the loss is quadratic). It starts
        from the least-squares solution of a sample of about ``2 n / d`` rows
        (when the penalty is uniform and no ``coef_init`` is given), centers at
        the exact column means from its first pass and, when the sample shows
        an ill-conditioned problem, takes the sample's Hessian as its
        preconditioner (``fit_info_`` says which). ``gd``: gradient descent
        with backtracking. ``sgd``: the Keras recipe (mini-batches of ``batch_size``,
        constant ``learning_rate``, ``max_iter`` epochs, reshuffled each epoch).
        ``auto``: see :func:`choose_solver`; when that picks newton and newton's
        condition estimate exceeds ``ILL_CONDITIONED_THRESHOLD`` (or the Gram is
        singular), the fit is redone with qr and ``fit_info_`` says why.
        For longdouble X, ``auto`` is qr (see above).
    tol : float, default=1e-6
        lbfgs/gd stop when ``max|grad| <= tol * max|grad at the start|``.
    max_iter : int or None, default=None
        Iterations (lbfgs, gd) or epochs (sgd); None means ``DEFAULT_MAX_ITER``.
    batch_size : int, default=100
        sgd mini-batch size.
    learning_rate : float, default=0.01
        sgd step size.
    n_threads : int or None, default=None
        Threads; None uses every core the process may use, honouring
        ``OMP_NUM_THREADS`` and ``threadpoolctl`` limits.
    random_state : int, RandomState or None, default=None
        sgd's initial weights (Glorot-uniform, as Keras' ``Dense``) and shuffling.
    n_shards : int or None, default=None
        Row shards of the sharded passes; None picks a count from the data's shape.
        For a given shard count the result is bitwise identical for any n_threads.
    compute_statistics : bool, default=False
        Also compute ``coef_stderr_``, ``intercept_stderr_``, ``residual_std_``,
        ``r2_`` and ``dof_resid_`` (statsmodels' WLS conventions: weights are
        inverse-variance weights, ``dof_resid_ = n_nonzero_weights - rank - fit_intercept``).
        qr and newton get them from their factor without another pass (newton's
        carry its squared condition number); lbfgs, gd and sgd make one extra qr
        pass. With ``alpha > 0`` the standard errors are the ridge sandwich
        ``sigma^2 H^-1 G H^-1``; for a rank-deficient design they are NaN.
        Not available with ``standardize``, ``prune`` or ``noise_augmentation``.
    standardize : bool, default=False
        Fit as if X were standardized (``fastcost.preprocessing.StandardScaler``,
        weighted like the fit; centering only with an intercept) without copying
        X: the solvers work in coordinates ``v = scale * w`` and report ``coef_``
        on X's scale. ``alpha`` penalizes ``v``, so the coefficients equal
        StandardScaler + fit mapped back. Better conditioning for lbfgs, gd and
        sgd (sgd standardizes each row of a batch on the fly: the Keras recipe on
        standardized inputs); newton and qr equilibrate anyway, so only the
        penalty changes. newton and qr take the scales from their own pass, the
        others from one moments pass that replaces their means pass.
    prune : bool, default=False
        Drop constant, duplicate and exactly collinear columns found in the Gram
        (:func:`fastcost.preprocessing.find_redundant_columns`); ``coef_`` is 0
        for them and ``prune_report_`` says which and what it saves. newton and
        qr solve on the kept block of the statistics of their one pass (the
        full Gram, or the kept columns of R re-triangularized); lbfgs, gd and sgd
        make one extra Gram pass and hold the dropped coefficients at 0. X is
        never copied or subset.
    prune_tol : float or None, default=None
        Collinearity tolerance of ``prune`` (None: by dtype, see
        ``fastcost.preprocessing.DEFAULT_PRUNE_TOL``).
    noise_augmentation : float, default=0.0
        Standard deviation s of Gaussian noise added to X (on X's own scale).
        Trains the model that augmenting X with infinitely many noisy copies
        would give, without making any: in expectation the noise adds
        ``s^2 * ||w||^2`` to the loss, so the penalty is ``alpha + s^2`` on X's
        scale; with ``standardize`` it is ``alpha`` on ``v`` plus
        ``s^2 / scale_j^2`` per column.
    qr_precision : {"auto", "double", "extended"}, default="auto"
        Working precision of the qr solver (also when ``"auto"`` switches to qr).
        ``"auto"``: a double pass; if the factor's estimate of the digits double
        keeps on the least accurate parameter is below
        ``_core.EXTENDED_MIN_DIGITS`` (9.5), a second pass in long double
        (x86-64: 64-bit mantissa; aarch64: IEEE quad), which replaces the double
        result, statistics included. Well-conditioned data never take it; it is
        far slower than the double pass (x87 arithmetic has no vector units).
        ``"extended"``: one long double pass. ``"double"``: never extended. Where
        long double is double (MSVC) the extended pass gains nothing and auto skips it.
        For longdouble X, ``"auto"`` is one extended pass (a double pass would
        round the data's extra digits away); ``"double"`` rounds X as it is read.
    device : {"cpu", "cuda"}, default="cpu"
        ``"cuda"``: fit on an NVIDIA GPU with the CUDA backend (built with
        ``pip install . -Ccmake.define.FASTCOST_CUDA=ON``; see ``fastcost._gpu``).
        X may then also be a CuPy array or PyTorch CUDA tensor, read in place;
        numpy input is copied to the GPU once (``cuda_timings_`` separates the
        copy from the compute). Solvers newton, lbfgs, gd, sgd (and auto);
        not with qr, standardize, prune, noise_augmentation or compute_statistics.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        X's dtype; float64 for longdouble X.
    intercept_ : float
    n_iter_ : int
        Iterations (lbfgs, gd), epochs (sgd) or 1 (newton).
    loss_history_ : ndarray
        Objective after each iteration (per epoch for sgd: the mean of the batch
        losses weighted by batch size, as Keras reports it).
    n_passes_ : int
        Full passes over X made by the fit.
    solver_ : str
        The solver used (resolves ``"auto"``).
    fit_report_ : fastcost.resources.ResourceReport
        What the fit cost: wall and CPU time, threads, energy (RAPL when
        readable, else estimated and marked so), passes over X, bytes read,
        FLOPs and the achieved GB/s and GFLOP/s (see ``fastcost.resources.fit_clock``).
    fit_info_ : str
        How the solver was chosen (e.g. why ``"auto"`` switched from newton to qr)
        and, for qr, its working precision and why.
    qr_precision_ : str
        qr only: ``"double"`` or ``"extended"``, the precision of the reported fit.
    condition_number_ : float
        newton and qr: estimate of the condition number of the equilibrated
        normal equations (for qr, the square of its factor's).
    coef_stderr_, intercept_stderr_, residual_std_, r2_, dof_resid_
        Only with ``compute_statistics=True``; see that parameter.
    converged_ : bool
    rank_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X has string column names

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost import LinearRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = X @ np.array([2.0, -1.0]) + 0.5
    >>> model = LinearRegression(solver="newton").fit(X, y)
    >>> np.round(model.coef_, 6), round(float(model.intercept_), 6)
    (array([ 2., -1.]), 0.5)
    """

    def __init__(
        self,
        *,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        solver: str = "auto",
        tol: float = 1e-6,
        max_iter: int | None = None,
        batch_size: int = 100,
        learning_rate: float = 0.01,
        n_threads: int | None = None,
        random_state: Any = None,
        n_shards: int | None = None,
        compute_statistics: bool = False,
        standardize: bool = False,
        prune: bool = False,
        prune_tol: float | None = None,
        noise_augmentation: float = 0.0,
        qr_precision: str = "auto",
        device: str = "cpu",
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_threads = n_threads
        self.random_state = random_state
        self.n_shards = n_shards
        self.compute_statistics = compute_statistics
        self.standardize = standardize
        self.prune = prune
        self.prune_tol = prune_tol
        self.noise_augmentation = noise_augmentation
        self.qr_precision = qr_precision
        self.device = device

    # -- parameters -------------------------------------------------------------

    def _check_params(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        _check_real(self.alpha, "alpha", minimum=0.0)
        _check_real(self.tol, "tol", minimum=0.0)
        _check_real(self.learning_rate, "learning_rate", minimum=0.0, strict=True)
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise TypeError(f"fit_intercept must be a bool, got {self.fit_intercept!r}")
        if not isinstance(self.compute_statistics, bool | np.bool_):
            raise TypeError(f"compute_statistics must be a bool, got {self.compute_statistics!r}")
        if self.max_iter is not None:
            _check_int(self.max_iter, "max_iter", minimum=1)
        _check_int(self.batch_size, "batch_size", minimum=1)
        if self.n_shards is not None:
            _check_int(self.n_shards, "n_shards", minimum=1)
        for name in ("standardize", "prune"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.prune_tol is not None:
            _check_real(self.prune_tol, "prune_tol", minimum=0.0)
        _check_real(self.noise_augmentation, "noise_augmentation", minimum=0.0)
        if self.qr_precision not in QR_PRECISIONS:
            raise ValueError(
                f"qr_precision must be one of {QR_PRECISIONS}, got {self.qr_precision!r}"
            )

    # -- fitting ----------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        coef_init: Any = None,
        intercept_init: float | None = None,
    ) -> LinearRegression:
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, not all zero.
        coef_init, intercept_init : optional
            Starting point for the iterative solvers (e.g. the initial weights of a
            Keras model, to train exactly the same recipe from the same start).

        Returns
        -------
        self

        A fit that fails or is interrupted (Ctrl-C raises ``KeyboardInterrupt``
        promptly, even inside the compiled loops) leaves the estimator as it was.
        """
        with unchanged_on_failure(self):
            with fit_clock() as clock:
                self._fit(X, y, sample_weight, coef_init, intercept_init)
            n, d, itemsize = self._fit_work
            self.fit_report_ = clock.report(
                threads=resolve_n_threads(self.n_threads),
                n_passes=self.n_passes_,
                bytes_per_pass=n * (d + 1) * itemsize,
                flops=solver_flops(self.solver_, n, d, self.n_passes_, self.n_iter_),
            )
        return self

    def _fit(
        self, X: Any, y: Any, sample_weight: Any, coef_init: Any, intercept_init: float | None
    ) -> LinearRegression:
        self._check_params()
        if self.device == "cuda":
            from . import _gpu

            return _gpu.fit(self, X, y, sample_weight, coef_init, intercept_init)
        # longdouble X stays longdouble for plain qr (auto: straight to qr); else float64.
        wide = (
            is_longdouble(X) and self.solver in ("qr", "auto") and not _preprocessing(self).active
        )
        X, y = _validate_fit_data(self, X, y, wide)
        X = kernel_layout(X)
        n, d = X.shape
        self._fit_work = (n, d, X.itemsize)
        y = np.ascontiguousarray(y, dtype=X.dtype)
        sw = check_weights(sample_weight, n, X.dtype)
        solver = self.solver if self.solver != "auto" else "qr" if wide else choose_solver(n, d)
        options = solver_options(self, solver, d, coef_init, intercept_init)
        options["n_threads"] = resolve_n_threads(self.n_threads)
        options["n_shards"] = int(self.n_shards or 0)
        options["precision"] = str(self.qr_precision)  # qr only
        if solver == "sgd" and coef_init is None:
            options["init_standardized"] = bool(self.standardize)  # the draw is for v

        run, prep = _run_core, _preprocessing(self)
        if prep.active:
            if self.compute_statistics:
                raise ValueError(
                    "compute_statistics is not available with standardize, prune or noise_augmentation"
                )
            run = partial(fit_preprocessed, prep=prep, run_core=_run_core)
        factor: dict[str, Any] | None = None
        if solver == "newton" and self.compute_statistics:
            result, factor = _run_newton_with_factor(X, y, sw, options)
        else:
            result = run(X, y, sw, solver, options)
        fit_info = f"{solver} (solver={self.solver!r})"
        if wide and self.solver == "auto":
            fit_info += ": X is longdouble, which only qr reads"
        if solver == "newton":
            cond = float(result["condition_estimate"])
            ill = bool(result["singular"]) or not cond <= ILL_CONDITIONED_THRESHOLD
            if ill and self.solver == "auto":
                why = (
                    "are singular"
                    if result["singular"]
                    else f"have condition estimate {cond:.3g} > {ILL_CONDITIONED_THRESHOLD:.0e}"
                )
                result = run(X, y, sw, "qr", options)
                result["n_passes"] = int(result["n_passes"]) + 1  # newton's pass came first
                solver, factor = "qr", result
                fit_info = (
                    f"qr (solver='auto'): newton's normal equations {why}, too ill-conditioned "
                    "to keep the digits, so the fit was redone with qr"
                )
            elif ill and not result["singular"]:  # singular: RankDeficientWarning says it
                digits = max(0.0, 16.0 - np.log10(cond))
                warnings.warn(
                    f"newton: the normal equations have condition estimate {cond:.3g} "
                    f"(> {ILL_CONDITIONED_THRESHOLD:.0e}); they keep only about {digits:.0f} "
                    "significant digits and coefficients with a small effect can lose more. "
                    "Use solver='qr' (or 'auto').",
                    IllConditionedWarning,
                    stacklevel=2,
                )
        elif solver == "qr":
            factor = result
        if result.get("notes"):
            fit_info += f"; {result['notes']}"
        self._set_result(result, solver, np.dtype(np.float64) if wide else X.dtype)
        if solver == "qr" and "precision" in result:
            self.qr_precision_ = str(result["precision"])
            fit_info += f"; precision {result['precision_reason']}"
            if result["precision"] == "extended" and self.qr_precision == "auto" and not wide:
                fit_info += " (one more pass)"
        self.fit_info_ = fit_info
        self.preprocessing_ = prep.as_dict() if prep.active else None
        if prep.prune_report is not None:
            self.prune_report_ = prep.prune_report
        if self.compute_statistics:
            if factor is None:  # iterative solvers: one extra pass for the factor
                shift = None if self.fit_intercept else np.zeros(d + 1)
                n_shards, n_threads = options["n_shards"], options["n_threads"]
                factor = _core.tsqr_stats(X, y, sw, shift, n_shards, n_threads)
                self.n_passes_ += 1
            self._set_statistics(result, factor, solver)
        return self

    def _set_statistics(self, result: dict[str, Any], factor: dict[str, Any], solver: str) -> None:
        stats = regression_statistics(
            factor["r"],
            factor["shift"],
            result["coef"],
            float(result["intercept"]),
            alpha=float(self.alpha),
            fit_intercept=bool(self.fit_intercept),
            n_nonzero=int(factor["n_nonzero"]),
            rank=self.rank_,
            exact=solver in ("newton", "qr"),
            r_lo=factor.get("r_lo"),
        )
        self.coef_stderr_ = stats["coef_stderr"]
        self.intercept_stderr_ = stats["intercept_stderr"]
        self.residual_std_ = stats["residual_std"]
        self.r2_ = stats["r2"]
        self.dof_resid_ = stats["dof_resid"]

    def _set_result(self, result: dict[str, Any], solver: str, dtype: np.dtype) -> None:
        coef = np.asarray(result["coef"], dtype=np.float64)
        if not (np.isfinite(coef).all() and np.isfinite(result["intercept"])):
            raise FloatingPointError(
                f"solver {solver!r} produced non-finite coefficients; "
                "the data are too badly scaled for this solver (standardize X)"
            )
        self.coef_ = coef.astype(dtype)
        self.intercept_ = dtype.type(result["intercept"]) if self.fit_intercept else dtype.type(0.0)
        self.n_iter_ = int(result["n_iter"])
        self.loss_history_ = np.asarray(result["loss_history"], dtype=np.float64)
        self.n_passes_ = int(result["n_passes"])
        self.solver_ = solver
        self.converged_ = bool(result["converged"])
        self.rank_ = int(result["rank"])
        if solver in ("newton", "qr"):
            self.condition_number_ = float(result["condition_estimate"])
        if result["singular"]:
            warnings.warn(str(result["message"]), RankDeficientWarning, stacklevel=3)
        if not result["converged"]:
            warnings.warn(
                f"{solver} did not converge: {result['message']} (n_iter={self.n_iter_}); "
                "raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )

    # -- prediction -------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``X @ coef_ + intercept_``."""
        check_is_fitted(self)
        if hasattr(X, "__cuda_array_interface__"):  # CuPy / PyTorch on the GPU: predict there
            from . import _gpu

            return _gpu.predict(self, X)
        X = _validate_X(self, X, reset=False)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below as an error
            pred = X @ self.coef_.astype(X.dtype, copy=False) + X.dtype.type(self.intercept_)
        if not np.isfinite(pred).all():
            # NaN/inf in X always reaches the prediction (0 * inf is NaN), so X
            # is only scanned, without a temporary, when something is wrong.
            bad = find_nonfinite(X)
            if bad is not None:
                raise ValueError(
                    f"X contains NaN or infinity (first at row {bad[0]}, column {bad[1]})"
                )
            raise ValueError(
                f"predictions overflow {X.dtype}: X holds values too large for this model; "
                "rescale X or use float64"
            )
        return pred

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to ``path`` in fastcost's safe JSON format.

        Read it back with :func:`fastcost.load`; see :mod:`fastcost.persistence`.
        """
        from .persistence import save

        save(self, path)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _preprocessing(est: LinearRegression) -> FitPreprocessing:
    return FitPreprocessing(
        standardize=bool(est.standardize),
        prune=bool(est.prune),
        noise_std=float(est.noise_augmentation),
        prune_tol=None if est.prune_tol is None else float(est.prune_tol),
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


def _validate_X(est: BaseEstimator, X: Any, *, reset: bool) -> np.ndarray:
    dtypes = [*FLOAT_DTYPES, LONGDOUBLE] if is_longdouble(X) else list(FLOAT_DTYPES)
    X = validate_data(est, X, reset=reset, dtype=dtypes, order=None, ensure_all_finite=False)
    return kernel_layout(X)


def _run_core(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, solver: str, options: dict[str, Any]
) -> dict:
    try:
        if solver == "qr":  # fit()'s dict plus the R factor, for statistics
            result = _core.fit_qr(X, y, sw, options)
        else:
            result = _core.fit(X, y, sw, solver, options)
    except NonFiniteError as exc:
        raise_for_nonfinite(X, exc)  # names the first bad cell, or reports overflow
    except DivergenceError as exc:  # sgd's loss stopped being finite
        if find_nonfinite(X) is not None:
            raise_for_nonfinite(X, exc)
        raise
    if not np.isfinite(result["coef"]).all() and find_nonfinite(X) is not None:
        raise_for_nonfinite(X)
    return result


def _run_newton_with_factor(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, options: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """newton as ``_core.fit`` runs it (one statistics pass, then the solve), but
    keeping the Gram, whose Cholesky factor gives the regression statistics."""
    st = _core.gram_stats(X, y, sw, None, options["n_shards"], options["n_threads"])
    gram = np.asarray(st["gram"])
    if not np.isfinite(gram).all():
        raise_for_nonfinite(X)
    result = _core.solve_stats(gram, st["shift"], options["alpha"], options["fit_intercept"])
    result["n_passes"] = 1
    n_nonzero = X.shape[0] if sw is None else int(np.count_nonzero(sw))
    return result, {"r": gram_to_factor(gram), "shift": st["shift"], "n_nonzero": n_nonzero}


@contextmanager
def unchanged_on_failure(est: BaseEstimator) -> Iterator[None]:
    """Undo every attribute the block sets if it raises (a failed or interrupted
    fit leaves the estimator as it was); fit only sets attributes."""
    saved = est.__dict__.copy()
    try:
        yield
    except BaseException:
        est.__dict__.clear()
        est.__dict__.update(saved)
        raise


def _check_real(value: Any, name: str, *, minimum: float, strict: bool = False) -> None:
    if type(value) is float and minimum <= value < math.inf and (value > minimum or not strict):
        return  # the common case, without the numbers.Real ABC check
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(float(value)) or value < minimum or (strict and value <= minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be finite and {op} {minimum}, got {value!r}")


def _check_int(value: Any, name: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
