"""Regression statistics from a triangular factor of the augmented design.

Everything here works on the small ``(d + 2) x (d + 2)`` upper-triangular R of
``sqrt(s) [1, X - c, y - c_y]`` (columns in that order) that the qr solver
computes in its one pass (``_core.tsqr_stats``) or that a Cholesky of newton's
augmented Gram gives. No second pass over X is needed: ``R^T R`` is the
weighted Gram, so covariances, residual and total sums of squares all follow.

Conventions are statsmodels' WLS: weights are inverse-variance weights, the
residual degrees of freedom are ``n_nonzero_weights - rank - fit_intercept``,
``residual_std = sqrt(sum s r^2 / dof)`` and the covariance of the estimates
is ``residual_std^2 (A^T S A)^{-1}``.

An extended-precision factor (qr's long double pass: ``r + r_lo``) is
evaluated in ``np.longdouble`` throughout, with the small triangular helpers
below (LAPACK has no long double), so its digits reach the statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import solve_triangular


def gram_to_factor(gram: np.ndarray) -> np.ndarray:
    """R factor (ones column first) from newton's augmented Gram.

    ``gram`` is over ``[x - c, y - c_y, 1]`` (``_core.gram_stats`` order). A
    semi-definite Cholesky: pivots at rounding level (collinear columns, an
    exact fit) give a zero row instead of failing. It carries the Gram's
    squared condition number, so statistics from it have newton's accuracy.
    """
    g = np.asarray(gram, dtype=np.float64)
    p = g.shape[0]
    order = np.r_[p - 1, np.arange(p - 1)]
    a = g[np.ix_(order, order)].copy()
    diag = np.diag(a).copy()
    r = np.zeros_like(a)
    tol = p * np.finfo(np.float64).eps
    for k in range(p):
        pivot = a[k, k]
        if not pivot > tol * diag[k]:
            continue
        root = np.sqrt(pivot)
        r[k, k:] = a[k, k:] / root
        a[k + 1 :, k + 1 :] -= np.outer(r[k, k + 1 :], r[k, k + 1 :])
    return r


def _r_of(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.longdouble and np.finfo(np.longdouble).eps < np.finfo(np.float64).eps:
        return _householder_r(a)
    return np.asarray(np.linalg.qr(a, mode="r"))


def _householder_r(a: np.ndarray) -> np.ndarray:
    """R of ``a`` (m x n) by Householder reflections in ``a``'s dtype."""
    a = a.copy()
    m, n = a.shape
    for j in range(min(m, n)):
        x = a[j:, j]
        norm = np.sqrt(x @ x)
        if norm == 0:
            continue
        beta = -norm if x[0] >= 0 else norm
        v = x.copy()
        v[0] -= beta
        v /= np.sqrt(v @ v)
        a[j:, j:] -= 2 * np.outer(v, v @ a[j:, j:])
        a[j + 1 :, j] = 0
    return np.triu(a[:n])


def _solve_upper(F: np.ndarray, B: np.ndarray, trans: bool = False) -> np.ndarray:
    """``F^-1 B`` (or ``F^-T B``) for upper-triangular F, in F's dtype."""
    if F.dtype != np.longdouble:
        return np.asarray(solve_triangular(F, B, trans="T" if trans else "N"))
    k = F.shape[0]
    X = np.array(B, dtype=F.dtype)
    if not trans:
        for i in range(k - 1, -1, -1):
            X[i] = (X[i] - F[i, i + 1 :] @ X[i + 1 :]) / F[i, i]
    else:
        for i in range(k):
            X[i] = (X[i] - F[:i, i] @ X[:i]) / F[i, i]
    return X


def regression_statistics(
    r: Any,
    shift: Any,
    coef: Any,
    intercept: float,
    *,
    alpha: float,
    fit_intercept: bool,
    n_nonzero: int,
    rank: int,
    exact: bool,
    r_lo: Any = None,
) -> dict[str, Any]:
    """Standard errors, residual standard deviation, R^2 and residual dof.

    Parameters
    ----------
    r, shift : the factor and its shift (``_core.tsqr_stats`` / ``fit_qr``).
    coef, intercept : the fitted model (any solver's).
    alpha : the ridge penalty used; with ``alpha > 0`` the covariance is the
        sandwich ``sigma^2 H^-1 G H^-1`` (``G`` the Gram, ``H = G + alpha S I``).
    n_nonzero : rows with a positive weight.
    rank : rank of the coefficient block; below ``d`` the standard errors are NaN.
    exact : the coefficients are the exact least-squares solution (qr, newton),
        so the residual sum of squares is read off R's last diagonal entry.
    r_lo : the low parts of an extended-precision factor (``r + r_lo``); the
        statistics are then computed in ``np.longdouble``.
    """
    dtype = np.float64 if r_lo is None else np.longdouble
    R = np.triu(np.asarray(r, dtype=dtype))
    if r_lo is not None:
        R = R + np.triu(np.asarray(r_lo, dtype=dtype))
    p = R.shape[0]
    d = p - 2
    shift = np.asarray(shift, dtype=dtype)
    w = np.asarray(coef, dtype=dtype)
    S = R[0, 0] ** 2
    # Factor of the unshifted [1, x, y]: column j gains c_j times the ones column, row 0 only.
    Ru = R.copy()
    Ru[0, 1:] += shift * R[0, 0]
    if fit_intercept:
        F = Ru[: d + 1, : d + 1]  # parameters [b, w]
        full = Ru
        theta = np.r_[np.asarray([intercept], dtype=dtype), w]
        tss = R[1:, d + 1] @ R[1:, d + 1]  # about the weighted mean
        rss_exact = R[d + 1, d + 1] ** 2
    else:
        full = _r_of(Ru[:, 1:])  # [x, y] without the ones column
        F = full[:d, :d]
        theta = w
        tss = full[:, d] @ full[:, d]  # about zero
        rss_exact = full[d, d] ** 2
    if exact and alpha == 0.0:
        rss = rss_exact
    else:
        v = np.r_[theta, np.asarray([-1.0], dtype=dtype)]
        cols = np.r_[np.arange(d + 1), d + 1] if fit_intercept else np.arange(d + 1)
        res = full[:, cols] @ v
        rss = res @ res
    dof = int(n_nonzero) - int(rank) - int(bool(fit_intercept))
    sigma2 = rss / dof if dof > 0 else np.nan
    k = F.shape[0]
    if rank < d or not np.all(np.diag(F) != 0.0):
        var = np.full(k, np.nan)
    elif alpha == 0.0:
        Finv = _solve_upper(F, np.eye(k, dtype=dtype))
        var = sigma2 * np.einsum("ij,ij->i", Finv, Finv)
    else:
        pen = np.zeros((d, k), dtype=dtype)
        pen[:, k - d :] = np.sqrt(alpha * S) * np.eye(d, dtype=dtype)
        Fp = _r_of(np.vstack([F, pen]))
        inner = _solve_upper(Fp, _solve_upper(Fp, F.T, trans=True))  # Fp^-1 Fp^-T F^T
        var = sigma2 * np.einsum("ij,ij->i", inner, inner)
    se = np.sqrt(var)
    return {
        "coef_stderr": se[k - d :].astype(np.float64),
        "intercept_stderr": float(se[0]) if fit_intercept else 0.0,
        "residual_std": float(np.sqrt(sigma2)),
        "r2": float(1 - rss / tss) if tss > 0 else np.nan,
        "dof_resid": dof,
        "rss": float(rss),
        "sigma2": float(sigma2),
    }


def bread_factor(
    r: Any, shift: Any, *, alpha: float, fit_intercept: bool, rank: int, r_lo: Any = None
) -> dict[str, np.ndarray] | None:
    """The inverse factor of the bread, in the coordinates of the factor's shift.

    With ``z = [1, x - c]`` (``c`` the factor's shift; ``z = x`` without an
    intercept) and ``H = Z^T S Z + alpha (sum s) P`` (``P`` the identity on the
    coefficients, 0 on the intercept) returns ``K`` (upper triangular) with
    ``K K^T = H^-1``, the shift ``c`` and ``FK = F K`` (``F^T F = Z^T S Z``),
    all float64 (an extended factor is used in ``np.longdouble`` first). None
    when the design is rank deficient (the covariances are then NaN).
    """
    dtype = np.float64 if r_lo is None else np.longdouble
    R = np.triu(np.asarray(r, dtype=dtype))
    if r_lo is not None:
        R = R + np.triu(np.asarray(r_lo, dtype=dtype))
    d = R.shape[0] - 2
    shift = np.asarray(shift, dtype=dtype)
    if fit_intercept:
        F = R[: d + 1, : d + 1]
        c = shift[:d]
    else:  # no ones column: the factor of the unshifted [x, y]
        Ru = R.copy()
        Ru[0, 1:] += shift * R[0, 0]
        F = _r_of(Ru[:, 1:])[:d, :d]
        c = np.zeros(d, dtype=dtype)
    k = F.shape[0]
    if rank < d or not np.all(np.diag(F) != 0.0):
        return None
    Fb = F
    if alpha > 0.0:
        pen = np.zeros((d, k), dtype=dtype)
        pen[:, k - d :] = np.sqrt(alpha * R[0, 0] ** 2) * np.eye(d, dtype=dtype)
        Fb = _r_of(np.vstack([F, pen]))
    K = _solve_upper(Fb, np.eye(k, dtype=dtype))
    return {
        "K": np.triu(K).astype(np.float64),
        "shift": c.astype(np.float64),
        "FK": np.triu(F @ K).astype(np.float64),
    }
