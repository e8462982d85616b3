"""LinearRegressionCV for wide data: lbfgs along the grid, warm-started.

Above ``AUTO_NEWTON_MAX_FEATURES`` columns the d x d statistics of the one-pass
path cost more than iterating. Each fold's model is still exactly
``LinearRegression(alpha=a)`` fitted on the fold's training rows: an lbfgs fit
on all rows with the held-out rows weighted 0 (their terms vanish from the loss
and from the weighted means; the weights sum to the training rows'), so X is
never copied or subset. The penalties run from the largest down, each fit
warm-started from the previous one's coefficients (a larger penalty's solution
is close and well conditioned), and every fit's passes over X are counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._pipeline import AUTO_LBFGS_TOL, AUTO_NEWTON_MAX_FEATURES


def _lbfgs(est: Any, alpha: float) -> Any:
    """lbfgs at the tolerance of ``solver="auto"``'s lbfgs: the fit
    ``LinearRegression(alpha=alpha)`` would give, to its digits."""
    from .linear_model import LinearRegression

    return LinearRegression(
        solver="lbfgs", alpha=float(alpha), fit_intercept=est.fit_intercept,
        standardize=est.standardize, n_threads=est.n_threads, n_shards=est.n_shards,
        tol=AUTO_LBFGS_TOL,
    )  # fmt: skip


def _scores(pred: np.ndarray, y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Weighted held-out MSE and R^2 (as scikit-learn's metrics with sample_weight)."""
    sse = float(s @ (pred - y) ** 2)
    mean = float(s @ y) / float(s.sum())
    sst = float(s @ (y - mean) ** 2)
    r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)
    return sse / float(s.sum()), r2


def wide_path(
    est: Any, X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None, alphas: np.ndarray,
    groups: Any,
) -> np.ndarray:  # fmt: skip
    """Fold scores (n_folds, n_alphas, k) by lbfgs along the grid; sets ``n_splits_``,
    ``n_passes_`` and ``fit_info_``."""
    from sklearn.model_selection import check_cv

    splits = list(check_cv(est.cv, Y[:, 0], classifier=False).split(X, Y, groups))
    if not splits:
        raise ValueError("the cross-validation splitter gave no splits")
    n, k = X.shape[0], Y.shape[1]
    base = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    order = np.argsort(-alphas, kind="stable")  # the largest penalty first
    scores = np.empty((len(splits), alphas.size, k))
    passes = 0
    for j, (train, test) in enumerate(splits):
        weights = np.zeros(n)
        weights[train] = base[train]
        s_test = base[test]
        for t in range(k):
            start: tuple[np.ndarray, float] | None = None
            for a in order:
                model = _lbfgs(est, alphas[a])
                init = {} if start is None else {"coef_init": start[0], "intercept_init": start[1]}
                model.fit(X, Y[:, t], sample_weight=weights, **init)
                passes += int(model.n_passes_)
                start = (np.asarray(model.coef_, dtype=np.float64), float(model.intercept_))
                mse, r2 = _scores(model.predict(X[test]), Y[test, t], s_test)
                scores[j, a, t] = r2 if est.scoring == "r2" else -mse
    est.n_splits_ = len(splits)
    est.n_passes_ = passes
    est.fit_info_ = (
        f"{len(splits)} folds x {alphas.size} alphas by lbfgs along the grid (largest alpha "
        f"first, each fit warm-started from the previous; held-out rows weighted 0): "
        f"{X.shape[1]} features > {AUTO_NEWTON_MAX_FEATURES}, {passes} passes over X"
    )
    return scores


def wide_refit(est: Any, X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None, one_d: bool) -> None:
    """``coef_`` and ``intercept_`` at ``alpha_`` by lbfgs on all rows (its passes counted)."""
    k = Y.shape[1]
    alpha = np.broadcast_to(np.asarray(est.alpha_, dtype=np.float64), (k,))
    coefs, intercepts = [], []
    for t in range(k):
        model = _lbfgs(est, alpha[t]).fit(X, Y[:, t], sample_weight=sw)
        est.n_passes_ += int(model.n_passes_)
        coefs.append(model.coef_)
        intercepts.append(float(model.intercept_))
    if one_d:
        est.coef_, est.intercept_ = np.asarray(coefs[0]), intercepts[0]
    else:
        est.coef_, est.intercept_ = np.asarray(coefs), np.asarray(intercepts)
