"""Least-squares linear regression with compiled solvers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._categorical import finish_table_fit, predict_table, table_backend
from ._multi_target import fit_multi_target, is_multi_target
from ._params import LINEAR_REGRESSION, QR_PRECISIONS, SOLVERS, validate
from ._pipeline import (
    AUTO_NEWTON_MAX_FEATURES,
    DEFAULT_MAX_ITER,
    ILL_CONDITIONED_THRESHOLD,
    Backend,
    choose_solver,
    finish_report,
    run_fit,
    solver_options,
)
from ._robust import cluster_codes, prediction_interval, prediction_std
from ._sparse import SPARSE_SOLVERS
from ._validation import (
    FLOAT_DTYPES,
    LONGDOUBLE,
    find_nonfinite,
    is_device_array,
    is_longdouble,
    kernel_layout,
)
from .resources import fit_clock

__all__ = [
    "AUTO_NEWTON_MAX_FEATURES",
    "DEFAULT_MAX_ITER",
    "ILL_CONDITIONED_THRESHOLD",
    "QR_PRECISIONS",
    "SOLVERS",
    "LinearRegression",
    "choose_solver",
    "solver_options",
]


#: Fitted attributes of a fit on a dataframe (see ``categorical_features``).
_TABLE_ATTRIBUTES = ("encoder_", "feature_names_out_", "reference_levels_dropped_")

#: What ``partial_fit`` accumulates; ``fit`` starts over without them.
_PARTIAL_ATTRIBUTES = ("statistics_", "n_batches_", "_partial_rng")

#: What one backend's fit sets (``Backend.attributes``); a fit elsewhere drops it.
_BACKEND_ATTRIBUTES = ("cuda_timings_",)


class LinearRegression(RegressorMixin, BaseEstimator):
    """Least-squares linear regression (optional L2 penalty) with compiled solvers.

    Minimizes ``(1 / sum(s)) * sum_i s_i (x_i^T w + b - y_i)^2 + alpha * ||w||^2``
    with sample weights ``s`` (ones by default). X is read in place: C- or
    Fortran-ordered float32/float64 arrays are never copied; float32 data is
    fitted in float32 (the Gram's blocks of rows summed in float32 lanes, the blocks in
    float64) and ``coef_`` has X's dtype.

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
        ``auto``: for arrays in memory, newton or lbfgs, whichever the cost model
        of ``fastcost._auto_cost`` predicts faster (``fit_info_`` states both; an
        lbfgs pick whose rate projects past its guard stops and turns to newton,
        or to qr where a sample of X shows normal equations past newton's limit); elsewhere,
        and with positive, prune or compute_statistics, :func:`choose_solver`,
        whose lbfgs (but with positive) runs at most ``AUTO_RULE_GUARD`` (100)
        iterations, then newton (or qr) does the fit.
        ``auto``'s lbfgs runs to a relative gradient of ``AUTO_LBFGS_TOL``
        (1e-10, or ``tol`` where that is smaller), since lbfgs' own 1e-6 can
        stop far from the least squares on nearly collinear columns: on float64
        data auto's answer has newton's digits whichever solver it picks
        (float32: lbfgs' floor of 1,000 eps).
        When newton's condition estimate exceeds ``ILL_CONDITIONED_THRESHOLD``
        (or the Gram is singular), the fit is redone with qr and ``fit_info_``
        says why.
        For longdouble X, ``auto`` is qr (see above).
    tol : float, default=1e-6
        lbfgs/gd stop when ``max|grad| <= tol * max|grad at the start|``
        (``solver="auto"``'s lbfgs: at 1e-10, or ``tol`` where smaller), each
        coefficient's entry divided by its column's standard deviation in a
        row sample (float64 data), so that a column's units do not decide
        when it counts as converged.
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
    compute_statistics : bool or str, default=False
        Also compute ``coef_stderr_``, ``intercept_stderr_``, ``residual_std_``,
        ``r2_`` and ``dof_resid_`` (statsmodels' WLS conventions: weights are
        inverse-variance weights, ``dof_resid_ = n_nonzero_weights - rank - fit_intercept``).
        qr and newton get them from their factor without another pass (newton's
        carry its squared condition number; on float32 X newton makes one qr pass,
        whose float64 sums keep the residuals' digits); lbfgs, gd and sgd make one
        extra qr pass. With ``alpha > 0`` the standard errors are the ridge sandwich
        ``sigma^2 H^-1 G H^-1``; for a rank-deficient design they are NaN.
        Not available with ``standardize``, ``prune`` or ``noise_augmentation``.
        A table with categorical columns gets the standard errors, not
        ``cov_params_`` or prediction intervals.
        A statsmodels ``cov_type`` name asks for that covariance: ``"classical"``
        (as True), ``"HC0"``-``"HC3"`` or ``"cluster"`` (with fit's ``groups``);
        the robust ones cost one more pass over X (``fastcost._robust``).
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
        far slower than the double pass (x87 arithmetic has no vector units), so
        auto skips it past ``_core.EXTENDED_MAX_FLOPS`` (2 n p^2 > 1e10, about
        10 s) and warns (``IllConditionedWarning``) instead.
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
    categorical_features : "from_dtype" or list of str or int, default="from_dtype"
        How a dataframe X (pandas, polars, Arrow) is read, column by column
        (``fastcost._tables.TableEncoder``): numeric and nullable columns as
        numbers (missing: NaN, an error unless cleaned), booleans as 0/1, text
        and category columns as categorical features, coded as integers and
        never one-hot encoded (``fastcost._categorical``: the kernels read the
        codes). Columns listed here are categorical too (e.g. integer codes).
        Text columns whose values are almost all distinct (free text, IDs) and
        date columns are left out with a warning; an unnamed first column that
        numbers the rows (distinct whole numbers) is dropped as an index. A missing categorical value is
        a level of its own. ``coef_`` then has one entry per dense column and
        per level, named by ``feature_names_out_``; with an intercept and no
        penalty each categorical's first level is the reference (coefficient
        0), with ``alpha > 0`` every level is penalized. ``predict`` maps
        levels unseen in the fit to the reference level, with a warning. One
        categorical with more than 1000 levels (up to millions) is solved by
        newton through the Gram's block-arrow structure, in memory linear in
        its levels. Not with ``device="cuda"``.

    positive : bool, default=False
        Constrain the coefficients to be >= 0 (scikit-learn's ``positive``; the
        intercept is free). newton and qr: one pass of statistics, then an
        active-set (Lawson-Hanson) solve on the d x d normal equations
        (``fastcost._nnls``), equal to ``scipy.optimize.nnls`` on the same
        problem. lbfgs and gd: a projected active-set method inside their
        loops, for wide data (coefficients at 0 whose gradient pushes them
        below are held there, the direction lives on the free coefficients,
        a step stops where a coefficient reaches 0; converged when the
        projected gradient meets ``tol``), also with standardize, prune and
        noise_augmentation. ``auto`` runs newton, or lbfgs above 1000
        features. With ``alpha``, weights, categorical columns and on Dask;
        on device="cuda" with lbfgs or gd. Not with sgd or
        compute_statistics; standardize, prune and noise_augmentation only
        with lbfgs or gd.
    copy_X : bool, default=True
        scikit-learn's parameter, for drop-in use: fastcost never writes into
        X, y or the weights (the kernels read them in place), so neither value
        copies or overwrites anything.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        X's dtype; float64 for longdouble X. For a dataframe with categorical
        columns: one entry per dense column and per level (``feature_names_out_``).
    feature_names_out_ : ndarray of str
        Only for a dataframe X: the names of ``coef_``'s entries (``"col=level"``
        for levels).
    intercept_ : float
    n_iter_ : int
        Iterations (lbfgs, gd), epochs (sgd) or 1 (newton).
    loss_history_ : ndarray
        Objective after each iteration (per epoch for sgd: the mean of the batch
        losses weighted by batch size, as Keras reports it). newton reads it off
        its Gram: on float32 X, whose Gram sums blocks of rows in float32 lanes, it
        is good to about 1e-7 of ``y``'s spread squared, which is a few percent of
        a loss near zero (``compute_statistics`` and ``score`` read X again).
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
        Only with ``compute_statistics``; see that parameter.
    cov_type_, cov_params_, prediction_cov_, prediction_shift_
        With ``compute_statistics``: the covariance type and the covariance of
        ``[intercept_, *coef_]``, also about the fit's shift for ``predict_interval``.
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
        categorical_features: Any = "from_dtype",
        positive: bool = False,
        copy_X: bool = True,
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
        self.categorical_features = categorical_features
        self.positive = positive
        self.copy_X = copy_X

    # -- parameters -------------------------------------------------------------

    #: The declaration every parameter is validated from (``_params``).
    _parameters = LINEAR_REGRESSION

    def _check_params(self) -> None:
        # Refitting with unchanged parameters (the same objects) skips the
        # checks: they cost a few microseconds, as much as a small fit's Python.
        values = tuple(getattr(self, name) for name in self._parameters)
        seen = self.__dict__.get("_checked_params")
        if seen is not None and all(a is b for a, b in zip(values, seen, strict=True)):
            return
        validate(dict(zip(self._parameters, values, strict=True)), self._parameters)
        self._checked_params = values

    # -- fitting ----------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        coef_init: Any = None,
        intercept_init: float | None = None,
        groups: Any = None,
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
        groups : array-like of shape (n_samples,), optional
            Cluster labels for ``compute_statistics="cluster"`` (required there,
            an error otherwise, as statsmodels' ``cov_kwds={"groups": ...}``).

        Returns
        -------
        self

        A fit that fails or is interrupted (Ctrl-C raises ``KeyboardInterrupt``
        promptly, even inside the compiled loops) leaves the estimator as it was.
        """
        with unchanged_on_failure(self):
            for name in (*_TABLE_ATTRIBUTES, *_PARTIAL_ATTRIBUTES, *_BACKEND_ATTRIBUTES):
                self.__dict__.pop(name, None)  # a refit keeps none
            if is_multi_target(y):
                self._check_params()
                if groups is not None:
                    raise NotImplementedError("groups are not available with a 2-D y")
                fit_multi_target(self, X, y, sample_weight, coef_init, intercept_init)
                return self
            self.__dict__.pop("n_targets_", None)
            with fit_clock(gpu=self.device == "cuda") as clock:
                self._check_params()
                backend = self._backend(X, y, sample_weight)
                backend.cluster = cluster_codes(self, groups, backend.n_samples)  # type: ignore[attr-defined]
                run_fit(self, backend, coef_init, intercept_init)
                if hasattr(self, "encoder_"):
                    finish_table_fit(self, backend)
            finish_report(self, backend, clock)
        return self

    def _has_partial_fit(self) -> bool:
        return self.solver in ("auto", "newton", "qr", "sgd") and self.device == "cpu"

    @available_if(_has_partial_fit)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearRegression:
        """Fit one more batch of rows (data that arrive in pieces or exceed memory).

        ``solver`` newton, qr or auto (newton): the batch's one-pass statistics
        are added to those of the batches before (``statistics_``, a
        :class:`fastcost.SufficientStatistics`), and the model is solved from
        them: after any sequence of batches, ``coef_`` equals one ``fit`` on
        all their rows, to rounding. float32 batches accumulate in float64.
        ``alpha`` may change between batches (the solve reads the statistics
        only); standardize, prune and compute_statistics act on all rows so
        far. ``sgd``: one epoch of the recipe over the batch, from the
        coefficients so far (the first batch starts from the Keras default).
        lbfgs and gd read every row at each iteration and have no partial_fit
        (it is not an attribute then, as scikit-learn's ``available_if`` does;
        see :func:`fastcost.fit_dataset` for files). ``fit`` starts over.

        A batch that fails (empty, wrong column count, NaN) leaves the model
        and its statistics as they were.
        """
        from ._incremental import partial_fit

        with unchanged_on_failure(self):
            if self.solver != "sgd":
                for name in _TABLE_ATTRIBUTES:
                    self.__dict__.pop(name, None)
            partial_fit(self, X, y, sample_weight)
        return self

    def fit_from_statistics(self, statistics: Any) -> LinearRegression:
        """Fit from :class:`fastcost.SufficientStatistics` (no data are read).

        For statistics computed elsewhere and merged: e.g. one
        ``SufficientStatistics.from_data`` per worker of a multiprocessing
        pool, a Spark ``mapInPandas`` or a Ray task, merged on the driver.
        newton (``"gram"`` statistics) or qr (``"qr"``); every option of those
        solvers applies. ``n_passes_`` is 0.
        """
        from ._incremental import fit_from_statistics

        with unchanged_on_failure(self):
            for name in (*_TABLE_ATTRIBUTES, *_PARTIAL_ATTRIBUTES, *_BACKEND_ATTRIBUTES):
                self.__dict__.pop(name, None)
            fit_from_statistics(self, statistics)
        return self

    def _backend(self, X: Any, y: Any, sample_weight: Any) -> Backend:
        if sp.issparse(X):  # read as CSR, never densified
            from ._sparse import SparseBackend

            return SparseBackend(self, X, y, sample_weight)
        table = table_backend(self, X, y, sample_weight)
        if table is not None:  # a dataframe: typed column by column, categoricals coded
            return table  # type: ignore[no-any-return]
        if self.device == "cuda":
            from ._gpu import CudaBackend

            return CudaBackend(self, X, y, sample_weight)
        from ._cpu_backend import CpuBackend

        return CpuBackend(self, X, y, sample_weight)

    # -- prediction -------------------------------------------------------------

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """Predict ``X @ coef_ + intercept_``; with ``return_std``, also the
        standard error of a new observation (needs ``compute_statistics``)."""
        if return_std:
            return prediction_std(self, X)
        check_is_fitted(self)
        if is_device_array(X):  # CuPy / PyTorch on the GPU: predict there
            from . import _gpu

            return _gpu.predict(self, X)
        if hasattr(self, "encoder_"):
            return predict_table(self, X)
        if sp.issparse(X):
            from ._sparse import predict_sparse

            return predict_sparse(self, X)
        X = _validate_X(self, X, reset=False)
        coef, intercept = self.coef_, self.intercept_
        with np.errstate(over="ignore", invalid="ignore"):  # reported below as an error
            if coef.ndim == 2:  # several targets: (n, k)
                pred = X @ coef.T.astype(X.dtype, copy=False) + intercept.astype(X.dtype)
            else:
                pred = X @ coef.astype(X.dtype, copy=False) + X.dtype.type(intercept)
        if not np.isfinite(pred).all():
            # NaN/inf in X always reaches the prediction (0 * inf is NaN), so X
            # is only scanned, without a temporary, when something is wrong.
            bad = find_nonfinite(X)
            if bad is not None:
                raise ValueError(
                    f"X contains NaN or infinity (first at row {bad[0]}, column {bad[1]})"
                )
            hint = "rescale X or use float64" if X.dtype == np.float32 else "rescale X"
            raise ValueError(
                f"predictions overflow {X.dtype}: X holds values too large for this model; {hint}"
            )
        return pred

    def predict_interval(
        self, X: Any, level: float = 0.95, kind: str = "observation"
    ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of a new observation's (or the mean's) ``level`` interval,
        as statsmodels' ``obs_ci_*`` (``mean_ci_*``); needs ``compute_statistics``."""
        return prediction_interval(self, X, level, kind)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to ``path`` in fastcost's safe JSON format.

        Read it back with :func:`fastcost.load`; see :mod:`fastcost.persistence`.
        """
        from .persistence import save

        save(self, path)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = self.solver in ("auto", *SPARSE_SOLVERS)
        tags.target_tags.multi_output = True
        return tags


def _validate_X(est: BaseEstimator, X: Any, *, reset: bool) -> np.ndarray:
    dtypes = [*FLOAT_DTYPES, LONGDOUBLE] if is_longdouble(X) else list(FLOAT_DTYPES)
    X = validate_data(est, X, reset=reset, dtype=dtypes, order=None, ensure_all_finite=False)
    return kernel_layout(X)


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
