"""Least-squares regression with the penalty chosen by cross-validation, from one pass over X."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from ._categorical import is_table, predict_table
from ._cv_path import (
    PathInfo,
    check_loo,
    check_width,
    fold_grams,
    fold_path,
    grouped_grams,
    loo_basis,
    loo_path,
    loo_scores,
    loo_standardized,
    splitter_atoms,
)
from ._fit_preprocessing import FitPreprocessing, solve_exact_from_stats
from ._params import Param, boolean, integer, validate
from ._pipeline import AUTO_NEWTON_MAX_FEATURES
from ._result import SolveResult
from ._threads import resolve_n_threads
from ._validation import FLOAT_DTYPES, check_weights, kernel_layout, raise_for_nonfinite
from .exceptions import RankDeficientWarning
from .linear_model import _TABLE_ATTRIBUTES, unchanged_on_failure
from .resources import fit_clock

if TYPE_CHECKING:
    from ._dask_cv import ClusterRows

__all__ = ["SCORINGS", "LinearRegressionCV"]

#: ``scoring`` values (None: neg_mean_squared_error); higher is better, as in scikit-learn.
SCORINGS = ("neg_mean_squared_error", "r2")


def _alphas(name: str, value: Any) -> None:
    a = np.asarray(value) if isinstance(value, list | tuple | np.ndarray) else None
    if a is None or a.ndim != 1 or a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a 1-D sequence of real numbers, got {value!r}")
    if a.size == 0:
        raise ValueError(f"{name} is empty: give at least one penalty")
    if not (np.isfinite(a).all() and (a >= 0).all()):
        raise ValueError(f"{name} must hold finite values >= 0, got {value!r}")


def _cv(name: str, value: Any) -> None:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be None, an int, a splitter or an iterable of splits")
    if isinstance(value, numbers.Integral):
        if value < 2:
            raise ValueError(f"{name} must be >= 2 folds, got {value!r}")
        return
    if value is None or hasattr(value, "split") or isinstance(value, Iterable):
        return
    raise TypeError(f"{name} must be None, an int, a splitter or an iterable of splits")


def _scoring(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or value not in SCORINGS):
        raise ValueError(f"{name} must be None or one of {SCORINGS}, got {value!r}")


#: ``LinearRegressionCV``'s parameters (``_params``' rules).
LINEAR_REGRESSION_CV: dict[str, Param] = {
    "alphas": Param((0.1, 1.0, 10.0), _alphas),
    "fit_intercept": Param(True, boolean),
    "cv": Param(None, _cv),
    "scoring": Param(None, _scoring),
    "alpha_per_target": Param(False, boolean),
    "standardize": Param(False, boolean),
    "n_threads": Param(None, integer(1, optional=True, also=(-1,))),
    "n_shards": Param(None, integer(1, optional=True)),
}


class LinearRegressionCV(RegressorMixin, BaseEstimator):
    """``LinearRegression`` with ``alpha`` chosen by cross-validation, from one pass over X.

    The loss is ``LinearRegression``'s: ``(1 / sum(s)) sum_i s_i (x_i^T w + b - y_i)^2
    + alpha ||w||^2``. One grouped pass (``_core.grouped_gram_stats``) gives the
    augmented Gram of every group of rows that share their membership in the
    folds' train and test sets; each fold's train and test statistics are sums
    of them. Per fold, one eigendecomposition of the train block gives every
    alpha's coefficients in O(d^2), and the held-out weighted squared error is
    a quadratic form in the test Gram: every fold and every alpha costs no
    further pass. The refit at ``alpha_`` solves the total statistics
    (``_core.solve_stats``), so ``coef_`` equals
    ``LinearRegression(alpha=alpha_).fit(X, y, sample_weight)`` to rounding.

    Fold scores are those of ``LinearRegression(alpha=a)`` fitted on the fold's
    training rows and scored on its test rows with ``mean_squared_error`` or
    ``r2_score`` weighted by ``sample_weight`` (multi-output: averaged over the
    targets, scikit-learn's ``"uniform_average"``). An alpha whose fold system is
    ill-conditioned (``_cv_path.EIGEN_PATH_MAX_CONDITION``) is solved by the
    equilibrated solve instead; at alpha = 0 a singular fold gets the
    minimum-norm solution (the pseudo-inverse), as ``solver="newton"`` does.

    A dataframe (pandas, polars, Arrow) with text or category columns is read as
    ``LinearRegression`` reads it, categoricals without one-hot copies
    (``fastcost._cv_tables``). Its levels come from the whole table, encoded once:
    each fold's scores are those of ``LinearRegression`` on the fold's rows with
    every level of the table declared (as ``RidgeCV`` on a matrix encoded
    beforehand; a ``Pipeline`` refitting its encoder per fold would not), and
    ``predict`` takes tables (cv=None as well). A dask DataFrame with such columns
    fits on the cluster with the same results (``fastcost._dask_cv_tables``): the
    levels learnt in one round trip, each partition encoded on its worker.

    The statistics path solves from d x d Grams (an eigendecomposition per fold,
    or one for cv=None: about a second at 2,000 columns, growing as d^3); it
    refuses widths whose three d x d work arrays would pass 4 GiB
    (``_cv_path.CV_GRAM_MAX_BYTES``; d of about 13,000). A numpy X above 1000
    features with folds runs lbfgs along the grid instead.

    Parameters
    ----------
    alphas : sequence of float, default=(0.1, 1.0, 10.0)
        Penalties to try, in fastcost's parameterization (on the mean loss:
        scikit-learn's ``Ridge(alpha=sum(s) * a)`` on the same rows).
    fit_intercept : bool, default=True
    cv : None, int, splitter or iterable of (train, test), default=None
        None: exact leave-one-out (row i's model is ``LinearRegression(alpha)``
        on the other rows) from the eigendecomposition of the full Gram and one
        more pass for the leverages (``n_passes_ = 2``). With unit weights it
        equals ``sklearn.linear_model.RidgeCV(alphas=(n - 1) * alphas, cv=None)``:
        the same ``best_score_`` and mean squared LOO errors, ``alpha_`` scaled by
        n - 1 (RidgeCV's ``coef_`` then refits with penalty ``(n - 1) alpha_`` on
        n rows, i.e. fastcost's ``alpha_ (n - 1) / n``). An int is ``KFold``; any
        splitter whose sets are sets of rows works (``groups`` goes to its
        ``split``).
    scoring : None, "neg_mean_squared_error" or "r2", default=None
        None is ``"neg_mean_squared_error"``; higher is better.
    alpha_per_target : bool, default=False
        With a 2-D y, choose an alpha for each target (``alpha_`` and
        ``best_score_`` become arrays, the scores in ``cv_results_`` (n_alphas, k)).
    standardize : bool, default=False
        As ``LinearRegression(standardize=True)``: each fold standardized with
        its own training rows' weighted moments (a ``Pipeline(StandardScaler(),
        LinearRegression())`` per fold), the penalty on the standardized
        coefficients. With ``cv=None`` each of the n training sets is
        standardized by its own moments (arrays, tables with the level columns
        unscaled, dask arrays on the workers): its Gram is the full one less the
        row's, solved with its own eigendecomposition (O(n d^3), refused past
        ``_cv_path.LOO_STANDARDIZED_MAX_WORK``).
    n_threads, n_shards : int or None, default=None
        As ``LinearRegression``'s, for the pass.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_targets,)
    best_score_ : float or ndarray of shape (n_targets,)
    cv_results_ : dict
        ``param_alpha``, ``params``, ``split{j}_test_score`` (not for cv=None),
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``, as
        ``GridSearchCV``'s.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_splits_ : int
        Folds (n_samples for cv=None).
    n_passes_ : int
        Passes over X: 1 (folds) or 2 (leave-one-out).
    fit_info_ : str
    fit_report_ : fastcost.resources.ResourceReport
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X has string column names

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost import LinearRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)
    >>> model = LinearRegressionCV(alphas=[1e-3, 1e-1, 10.0], cv=5).fit(X, y)
    >>> float(model.alpha_), model.n_passes_
    (0.001, 1)
    """

    def __init__(
        self,
        *,
        alphas: Any = (0.1, 1.0, 10.0),
        fit_intercept: bool = True,
        cv: Any = None,
        scoring: str | None = None,
        alpha_per_target: bool = False,
        standardize: bool = False,
        n_threads: int | None = None,
        n_shards: int | None = None,
    ) -> None:
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.alpha_per_target = alpha_per_target
        self.standardize = standardize
        self.n_threads = n_threads
        self.n_shards = n_shards

    _parameters = LINEAR_REGRESSION_CV

    # One value, or one per target (alpha_per_target; a 2-D y's intercepts).
    alpha_: float | np.ndarray
    best_score_: float | np.ndarray
    intercept_: float | np.ndarray

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None
    ) -> LinearRegressionCV:
        """Score every alpha on every fold, then refit at the best one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), a table, or a dask array / DataFrame
            A dask X stays on the cluster: the grouped pass is one map-reduce over
            its chunks (``fastcost._dask_cv``; a DataFrame with text or category
            columns: ``fastcost._dask_cv_tables``) on the current default Dask client,
            else on a LocalCluster started for the fit (``fastcost.dask.connect()``),
            with the same scores, ``alpha_`` and ``coef_`` as the local fit to
            rounding. Only the splitter runs on the client: scikit-learn's row-count
            splitters (KFold, GroupKFold, TimeSeriesSplit, ...) compute nothing,
            other splitters get y computed to numpy. ``cv=None`` takes a second
            map-reduce for the leverages.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            With a dask X: dask or numpy.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the fits and of the held-out scores (dask or numpy with a dask X).
        groups : array-like of shape (n_samples,), optional
            Passed to the splitter's ``split`` (e.g. ``GroupKFold``); numpy.

        Returns
        -------
        self
        """
        if _is_dask_table(X):  # the same on the cluster: _dask_cv_tables
            from ._dask_cv_tables import fit_dask_table

            fit_dask_table(self, X, y, sample_weight, groups)
            return self
        if is_table(X):  # categorical columns, the levels from the whole table: _cv_tables
            from ._cv_tables import fit_table

            if fit_table(self, X, y, sample_weight, groups):
                return self
        with unchanged_on_failure(self):
            for name in _TABLE_ATTRIBUTES:
                self.__dict__.pop(name, None)
            with fit_clock() as clock:
                validate({n: getattr(self, n) for n in self._parameters}, self._parameters)
                alphas = np.asarray(self.alphas, dtype=np.float64)
                X, Y, one_d, sw = self._data(X, y, sample_weight)
                n_threads = resolve_n_threads(self.n_threads)
                # wide data in memory with folds: lbfgs along the grid (leave-one-out
                # and the cluster's rows take the Gram, up to _cv_path.check_width)
                wide = self.cv is not None and isinstance(X, np.ndarray)
                if wide and X.shape[1] > AUTO_NEWTON_MAX_FEATURES:
                    from ._cv_wide import wide_path, wide_refit

                    self._select(alphas, wide_path(self, X, Y, sw, alphas, groups), one_d)
                    wide_refit(self, X, Y, sw, one_d)
                else:
                    if self.cv is None:
                        scores, total, shift = self._leave_one_out(X, Y, sw, alphas, groups,
                                                                   n_threads)  # fmt: skip
                    else:
                        scores, total, shift = self._folds(X, Y, sw, alphas, groups, n_threads)
                    self._select(alphas, scores, one_d)
                    self._refit(total, shift, X.dtype, one_d)
            n, d = X.shape
            p = d + Y.shape[1] + 1
            self.fit_report_ = clock.report(
                threads=n_threads, n_passes=self.n_passes_,
                bytes_per_pass=n * (d + Y.shape[1]) * X.itemsize,
                flops=float(self.n_passes_) * n * p * p,
            )  # fmt: skip
        return self

    # -- steps of fit ---------------------------------------------------------------

    def _data(
        self, X: Any, y: Any, sample_weight: Any
    ) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray | None]:
        if hasattr(X, "__dask_graph__"):  # the pass runs on a cluster: fastcost._dask_cv
            from ._dask_cv import prepare

            return prepare(self, X, y, sample_weight)  # type: ignore[return-value]
        X, y = validate_data(
            self, X, y, reset=True, dtype=list(FLOAT_DTYPES), order=None,
            ensure_all_finite=False, y_numeric=True, multi_output=True,
        )  # fmt: skip
        X = kernel_layout(X)
        if self.cv is None:  # wide data with folds: lbfgs along the grid (_cv_wide)
            check_width(X.shape[1], f"X has {X.shape[1]} features")
        one_d = np.ndim(y) == 1
        Y = np.ascontiguousarray(y, dtype=X.dtype).reshape(X.shape[0], -1)
        sw = check_weights(sample_weight, X.shape[0], X.dtype)
        return X, Y, one_d, sw

    def _folds(
        self, X: np.ndarray | ClusterRows, Y: np.ndarray, sw: np.ndarray | None, alphas: np.ndarray,
        groups: Any, n_threads: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Fold scores (n_folds, n_alphas, k) from one grouped pass."""
        splitter = check_cv(self.cv, Y[:, 0], classifier=False)
        if isinstance(X, np.ndarray):
            rows = X

            def splits_of() -> list[Any]:
                return list(splitter.split(rows, Y, groups))
        else:  # fastcost._dask_cv.ClusterRows: the splitter on the client
            cluster = X

            def splits_of() -> list[Any]:
                return cluster.split(splitter, groups)

        atom, train, test, n_splits = splitter_atoms(splitter, X.shape[0], splits_of)
        if not isinstance(X, np.ndarray):  # one map-reduce of the same kernel over X's chunks
            grams, shift = X.grouped_stats(atom, train.shape[0], int(self.n_shards or 0))
        else:
            grams, shift = grouped_grams(
                X, Y, sw, atom, train.shape[0], int(self.n_shards or 0), n_threads
            )
            if not np.isfinite(grams).all():
                raise_for_nonfinite(X)
        g_train, g_test, total = fold_grams(grams, train, test)
        d = X.shape[1]
        info = PathInfo()
        use_r2 = self.scoring == "r2"
        scores = np.empty((n_splits, alphas.size, Y.shape[1]))
        for j in range(n_splits):
            mse, r2 = fold_path(
                g_train[j], g_test[j], shift, alphas, d, self.fit_intercept, self.standardize,
                info, j,
            )  # fmt: skip
            scores[j] = r2 if use_r2 else -mse
        self.n_splits_ = n_splits
        self.n_passes_ = 1
        self.fit_info_ = (
            f"{n_splits} folds x {alphas.size} alphas from one pass over X "
            f"({train.shape[0]} row groups); one eigendecomposition per fold" + _direct_note(info)
        )
        return scores, total, shift

    def _leave_one_out(
        self, X: np.ndarray | ClusterRows, Y: np.ndarray, sw: np.ndarray | None, alphas: np.ndarray,
        groups: Any, n_threads: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        n = X.shape[0]
        if not isinstance(X, np.ndarray):  # dask: two map-reduces over the chunks
            check_loo(self, groups, n, None, X.shape[1])
            grams, shift = X.grouped_stats(np.zeros(n, np.int32), 1, int(self.n_shards or 0))
            gram = grams[0]
            if self.standardize:
                sq = X.loo_standardized_sums(gram, shift, alphas, self.fit_intercept)
            else:
                sq = X.loo_sums(loo_basis(gram, shift, X.shape[1], self.fit_intercept), alphas)
            mse, r2 = loo_scores(sq, gram, X.shape[1])
        else:
            check_loo(self, groups, n, sw, X.shape[1])
            grams, shift = grouped_grams(X, Y, sw, None, 1, int(self.n_shards or 0), n_threads)
            gram = grams[0]
            if not np.isfinite(gram).all():
                raise_for_nonfinite(X)
            path = loo_standardized if self.standardize else loo_path
            mse, r2 = path(X, Y, sw, gram, shift, alphas, self.fit_intercept)
        self.n_splits_ = n
        self.n_passes_ = 2
        self.fit_info_ = f"exact leave-one-out over {n} rows x {alphas.size} alphas: " + (
            "each training set standardized by its own moments, its Gram the full one less "
            "the row's, one eigendecomposition per row"
            if self.standardize
            else "one eigendecomposition of the full Gram, one more pass for the leverages"
        )
        return (r2 if self.scoring == "r2" else -mse)[None], gram, shift

    def _select(self, alphas: np.ndarray, scores: np.ndarray, one_d: bool) -> None:
        """``alpha_``, ``best_score_`` and ``cv_results_`` from fold scores (F, A, k)."""
        per_target = self.alpha_per_target and not one_d
        split = scores if per_target else scores.mean(axis=2)  # (F, A[, k])
        mean = split.mean(axis=0)
        finite = np.where(np.isfinite(mean), mean, -np.inf)
        best = np.argmax(finite, axis=0)  # the first of equal scores, as GridSearchCV
        results: dict[str, Any] = {
            "param_alpha": alphas.copy(),
            "params": [{"alpha": float(a)} for a in alphas],
        }
        if self.cv is not None:
            for j in range(split.shape[0]):
                results[f"split{j}_test_score"] = split[j]
        results["mean_test_score"] = mean
        results["std_test_score"] = split.std(axis=0)
        results["rank_test_score"] = rankdata(-finite, method="min", axis=0).astype(np.int32)
        self.cv_results_ = results
        if per_target:
            self.alpha_ = alphas[best]
            self.best_score_ = mean[best, np.arange(mean.shape[1])]
        else:
            self.alpha_ = float(alphas[best])
            self.best_score_ = float(mean[best])

    def _refit(
        self, total: np.ndarray, shift: np.ndarray, dtype: np.dtype, one_d: bool,
        d: int | None = None, fixed: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """``coef_`` and ``intercept_`` at ``alpha_`` from the total statistics (no pass);
        ``d`` columns (default ``n_features_in_``), ``fixed`` ones never standardized."""
        d = self.n_features_in_ if d is None else d
        q = total.shape[0] - 1  # d + k
        k_t = q - d
        alpha = np.broadcast_to(np.asarray(self.alpha_, dtype=np.float64), (k_t,))
        coefs, intercepts, singular = [], [], []
        for t in range(k_t):
            idx = np.r_[np.arange(d), d + t, q]
            g = np.ascontiguousarray(total[np.ix_(idx, idx)])
            sh = np.r_[shift[:d], shift[d + t]]
            if self.standardize:
                prep = FitPreprocessing(standardize=True, prune=False, noise_std=0.0)
                options = {"alpha": float(alpha[t]), "fit_intercept": self.fit_intercept}
                res = solve_exact_from_stats("newton", g, sh, options, prep, dtype, fixed=fixed)
            else:
                res = SolveResult.from_core(
                    _core.solve_stats(g, sh, float(alpha[t]), self.fit_intercept)
                )
            coefs.append(res.coef)
            intercepts.append(res.intercept if self.fit_intercept else 0.0)
            if res.singular:
                singular.append(res.message)
        if singular:
            warnings.warn(f"refit at alpha_: {singular[0]}", RankDeficientWarning, stacklevel=3)
        if one_d:
            self.coef_ = np.asarray(coefs[0], dtype=dtype)
            self.intercept_ = float(intercepts[0])
        else:
            self.coef_ = np.asarray(coefs, dtype=dtype)
            self.intercept_ = np.asarray(intercepts, dtype=np.float64)

    # -- prediction -----------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``X @ coef_.T + intercept_`` (numpy out: a dask X is computed; a
        model fitted on a table reads a dask DataFrame partition by partition)."""
        check_is_fitted(self)
        if hasattr(self, "encoder_"):  # fitted on a table: read X with its encoder
            if hasattr(X, "__dask_graph__"):  # each partition on its worker, to numpy
                from ._dask_cv_tables import predict_dask_table

                return predict_dask_table(self, X)
            return predict_table(self, X)
        X = validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES), order=None)
        coef = self.coef_.astype(X.dtype, copy=False)
        if coef.ndim == 2:
            return X @ coef.T + np.asarray(self.intercept_, dtype=X.dtype)  # type: ignore[no-any-return]
        return X @ coef + X.dtype.type(self.intercept_)  # type: ignore[no-any-return]

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.multi_output = True
        return tags


def _is_dask_table(X: Any) -> bool:
    """A dask DataFrame with a text or category column (``_dask_categorical``)."""
    if not hasattr(X, "__dask_graph__"):
        return False
    from ._dask_categorical import is_dask_table

    return is_dask_table(X, None)


def _direct_note(info: PathInfo) -> str:
    if not info.n_direct:
        return ""
    note = (
        f"; {info.n_direct} fold x alpha solves ill-conditioned on the eigen path, solved directly"
    )
    if info.n_min_norm:
        note += f" ({info.n_min_norm} singular: minimum-norm, by the pseudo-inverse)"
    return note
