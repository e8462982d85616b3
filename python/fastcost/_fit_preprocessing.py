"""The preprocessing steps ``LinearRegression`` folds into its fit, without a copy of X.

``standardize``, ``prune`` and ``noise_augmentation``: the settings and results
(:class:`FitPreprocessing`), the per-column penalty and the newton / qr solve
from one pass of statistics on any backend (:func:`solve_exact_from_stats`);
the fit pipeline (``_pipeline._solve``) applies them. The standalone steps are
in :mod:`fastcost.preprocessing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._result import SolveResult
from .preprocessing import DEFAULT_PRUNE_TOL, PruneReport, redundant_from_gram
from .preprocessing._common import _centered, _is_constant


@dataclass
class FitPreprocessing:
    """Settings and results of the steps ``LinearRegression`` folds into a fit."""

    standardize: bool
    prune: bool
    noise_std: float
    prune_tol: float | None = None
    prune_report: PruneReport | None = None
    x_mean: np.ndarray | None = None
    x_scale: np.ndarray | None = None
    penalty: np.ndarray | None = None
    extra_passes: int = 0

    @property
    def active(self) -> bool:
        return bool(self.standardize or self.prune or self.noise_std > 0)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "standardize": self.standardize,
            "prune": self.prune,
            "noise_augmentation": self.noise_std,
            "extra_passes": self.extra_passes,
        }
        if self.prune_report is not None:
            out["prune_report"] = self.prune_report.as_dict()
        return out


def penalty_per_column(
    alpha: float, noise_std: float, scale: np.ndarray | None
) -> np.ndarray | float:
    """L2 penalty on each original-scale coefficient w_j.

    ``alpha`` penalizes the coefficients of the model the solver sees: the
    standardized one when ``scale`` is given (v = scale * w, so
    ``alpha * v_j^2 = alpha * scale_j^2 * w_j^2``, as StandardScaler + fit).
    Gaussian noise of variance s^2 added to X adds ``s^2 |w|^2`` in
    expectation, ``E (x + e)^T w - y)^2 = (x^T w - y)^2 + s^2 |w|^2``, on X's
    own scale whatever the standardization (on v: ``s^2 / scale_j^2``).
    """
    noise = noise_std**2
    if scale is None:
        return alpha + noise
    return alpha * scale**2 + noise


def solve_exact_from_stats(
    solver: str, stats: np.ndarray, shift: np.ndarray, options: dict[str, Any],
    prep: FitPreprocessing, dtype: np.dtype, X: np.ndarray | None = None,
    fixed: np.ndarray | None = None, moments: np.ndarray | None = None,
    penalty_factor: float = 1.0,
) -> SolveResult:  # fmt: skip
    """newton or qr with the preprocessing steps, from the statistics of one pass.

    ``stats`` is ``_core.gram_stats``' augmented Gram (newton) or
    ``_core.tsqr_stats``' R factor (qr), with its ``shift``; ``fastcost.dask``
    passes the statistics merged over its chunks. Standardizing takes the
    weighted column means and scales from them, pruning the kept block, and the
    penalty becomes per column (:func:`penalty_per_column`). ``X``, when given,
    confirms duplicate columns cell by cell; without it they count as collinear
    (dropped all the same). ``options`` needs ``alpha`` and ``fit_intercept``.
    ``fixed`` marks columns that are never standardized and get no noise
    penalty (a categorical's level indicators); ``moments``, when given, is the
    Gram the means and scales come from (``stats`` with a categorical projected
    out, on the block-arrow path, has no plain moments), and ``penalty_factor``
    multiplies the penalty of the solve (that path's statistics have a smaller
    sum of weights than the data, by which the compiled solves scale it).
    """
    fit_intercept = bool(options["fit_intercept"])
    shift = np.asarray(shift, dtype=np.float64)
    d = shift.size - 1
    if solver == "newton":
        gram = np.asarray(stats, dtype=np.float64)
    else:
        R = np.asarray(stats, dtype=np.float64)
        # R^T R is the Gram of [1, x - c, y - c_y]; reorder to gram_stats' [x, y, 1].
        order = np.r_[np.arange(1, d + 2), 0]
        gram = (R.T @ R)[np.ix_(order, order)]
    A, S, mean = _centered(gram, shift, True)
    if prep.prune:
        tol = DEFAULT_PRUNE_TOL[np.dtype(dtype)] if prep.prune_tol is None else prep.prune_tol
        prep.prune_report = redundant_from_gram(
            gram, shift, fit_intercept=fit_intercept, tol=tol, X=X
        )
        kept = np.asarray(prep.prune_report.kept, dtype=np.intp)
    else:
        kept = np.arange(d)
    scale = None
    if prep.standardize:
        if moments is not None:
            A, S, mean = _centered(np.asarray(moments, dtype=np.float64), shift, True)
        var = np.diag(A) / S
        scale = np.sqrt(var)
        scale[_is_constant(var, mean, S) | (scale < 10 * np.finfo(np.float64).eps)] = 1.0
        if fixed is not None:
            scale[fixed] = 1.0
        prep.x_mean, prep.x_scale = mean, scale
    lam = np.broadcast_to(penalty_per_column(float(options["alpha"]), prep.noise_std, scale), (d,))
    prep.penalty = np.array(lam, dtype=np.float64)
    if fixed is not None:
        prep.penalty[fixed] = float(options["alpha"])
        lam = prep.penalty
    lam_k = lam[kept] * penalty_factor
    # Column scaling u = f w with f = sqrt(lam / mean(lam)) turns the per-column
    # penalty into a uniform one the compiled solves take; equilibration inside
    # them makes the scaling harmless to the digits.
    alpha_u = float(lam_k.mean()) if lam_k.size and lam_k.mean() > 0 else 0.0
    f = np.sqrt(lam_k / alpha_u) if alpha_u > 0 else np.ones(kept.size)
    if solver == "newton":
        idx = np.r_[kept, d, d + 1]
        g = gram[np.ix_(idx, idx)].copy()
        fx = np.r_[f, 1.0, 1.0]
        g /= np.outer(fx, fx)
        sh = np.r_[shift[kept] / f, shift[d]]
        result = SolveResult.from_core(_core.solve_stats(g, sh, alpha_u, fit_intercept))
    else:
        cols = np.r_[0, kept + 1, d + 1]
        Rs: np.ndarray = R[:, cols]
        if kept.size < d:  # re-triangularize the selected columns: X_S = Q (R[:, S])
            Rs = np.asarray(np.linalg.qr(Rs, mode="r"))
            signs = np.where(np.diag(Rs) < 0, -1.0, 1.0)
            Rs = Rs * signs[:, None]
        else:
            Rs = Rs.copy()
        Rs[:, 1 : kept.size + 1] /= f
        sh = np.r_[shift[kept] / f, shift[d]]
        result = SolveResult.from_core(_core.solve_r(Rs, sh, alpha_u, fit_intercept))
        result.precision_reason = "double (the preprocessed qr path solves tsqr_stats' factor)"
    result.n_passes = 1
    coef = np.zeros(d)
    coef[kept] = result.coef / f
    result.coef = coef
    return result
