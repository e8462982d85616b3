"""Covariance types of ``compute_statistics`` and prediction intervals.

``compute_statistics`` takes statsmodels' ``cov_type`` names. Every type
starts from the bread ``H = Z^T S Z + alpha (sum s) P`` (``Z = [1, X]``,
``S = diag(s)``, ``P`` the identity on the coefficients and 0 on the
intercept), which the fit's factor gives without reading X
(:func:`fastcost._statistics.bread_factor`). With ``theta = [b, w]`` and
``e = y - Z theta``:

- ``True`` / ``"classical"``: ``sigma^2 H^-1 (Z^T S Z) H^-1`` (statsmodels'
  ``"nonrobust"`` when ``alpha = 0``).
- ``"HC0"``: ``H^-1 M H^-1`` with ``M = sum_i s_i^2 e_i^2 z_i z_i^T``; ``"HC1"``:
  HC0 times ``n / dof_resid``; ``"HC2"``, ``"HC3"``: each term of M divided by
  ``1 - h_i`` or ``(1 - h_i)^2``, ``h_i = s_i z_i^T H^-1 z_i`` the leverage. These
  are statsmodels' ``WLS(...).fit(cov_type=...)``, which applies the HC formulas
  to the whitened design ``sqrt(s) Z`` and residuals ``sqrt(s) e``.
- ``"cluster"``: ``c H^-1 (sum_g u_g u_g^T) H^-1`` with the score sums
  ``u_g = sum_{i in g} s_i e_i z_i`` and statsmodels' default correction
  ``c = G / (G - 1) * (n - 1) / (n - p)`` (G clusters, p parameters).

Rows of zero weight are not observations (as for ``dof_resid_``): n counts
positive weights and G the clusters holding one; statsmodels gives the same
numbers on the data without those rows. With ``alpha > 0`` the same formulas
are the sandwich of the ridge estimate ``theta = H^-1 Z^T S y`` (its leverages
those of the ridge hat matrix); statsmodels has no ridge counterpart.

The robust meat costs one more pass over X (``_core.sandwich_sums``), which
``n_passes_`` counts. The covariance is kept about the shift of the fit's
factor (``prediction_cov_``, ``prediction_shift_``) for the prediction
standard errors, and in the parameters' own coordinates (``cov_params_``,
intercept first: statsmodels' ``cov_params()`` with ``add_constant``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy import stats as scipy_stats
from sklearn.utils.validation import check_is_fitted, validate_data

from ._statistics import bread_factor
from ._validation import FLOAT_DTYPES, is_device_array


def cov_type_of(value: Any) -> str | None:
    """The covariance type a ``compute_statistics`` value asks for (None: none)."""
    if isinstance(value, str):
        return value
    return "classical" if value else None


def cluster_codes(est: Any, groups: Any, n_samples: int) -> tuple[np.ndarray, int] | None:
    """fit's ``groups``, checked against ``compute_statistics``, as int32 codes.

    As in statsmodels, where groups are a keyword of ``cov_type="cluster"`` only,
    groups without ``"cluster"`` and ``"cluster"`` without groups are errors.
    """
    cov_type = cov_type_of(est.compute_statistics)
    if groups is None:
        if cov_type == "cluster":
            raise ValueError(
                "compute_statistics='cluster' needs fit(..., groups=...): one label per row"
            )
        return None
    if cov_type != "cluster":
        raise ValueError(
            f"groups are used by compute_statistics='cluster' only, not {est.compute_statistics!r}"
        )
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D (one label per row), got shape {g.shape}")
    if g.shape[0] != n_samples:
        raise ValueError(f"groups has {g.shape[0]} labels, X has {n_samples} rows")
    try:
        _, codes = np.unique(g, return_inverse=True)
    except TypeError:  # labels of mixed types do not sort: number them as they come
        index: dict[Any, int] = {}
        codes = np.array([index.setdefault(label, len(index)) for label in g.tolist()])
    codes = np.ascontiguousarray(codes.reshape(-1), dtype=np.int32)
    return codes, int(codes.max()) + 1


def check_robust_supported(est: Any, backend: Any) -> None:
    """A robust covariance type reads the rows again (the meat): refused, before
    any pass, where the backend cannot (``robust_sums`` missing)."""
    cov_type = cov_type_of(est.compute_statistics)
    if cov_type in (None, "classical") or hasattr(backend, "robust_sums"):
        return
    table = hasattr(backend, "stats_columns")
    raise NotImplementedError(
        f"compute_statistics={cov_type!r} reads the rows again (the robust meat), which "
        "only fits on dense arrays do (in memory or Dask chunks; not partial_fit, "
        "fit_from_statistics, a 2-D y, sparse, dataframe or CUDA input); use "
        "compute_statistics=True"
        + (
            ", or encode the table's categorical columns as numbers first (e.g. "
            "pandas.get_dummies(X, drop_first=True, dtype=float))"
            if table
            else ""
        )
    )


def set_covariance(
    est: Any, coef: np.ndarray, intercept: float, factor: dict[str, Any],
    stats: dict[str, Any], backend: Any,
) -> None:  # fmt: skip
    """``cov_type_``, ``cov_params_``, ``prediction_cov_``, ``prediction_shift_``
    and, for a robust type, its standard errors (one more pass over X)."""
    cov_type = cov_type_of(est.compute_statistics) or "classical"
    fit_intercept = bool(est.fit_intercept)
    alpha = float(est.alpha)
    est.__dict__.pop("n_groups_", None)  # a refit of another type has none
    robust = getattr(backend, "robust_sums", None)  # run_fit checked it up front
    if hasattr(backend, "stats_columns"):  # a dataframe's design: coef_ is laid out later
        return
    d = coef.shape[0]
    p = d + fit_intercept
    bread = bread_factor(
        factor["r"], factor["shift"], alpha=alpha, fit_intercept=fit_intercept,
        rank=est.rank_, r_lo=factor.get("r_lo"),
    )  # fmt: skip
    if bread is None:  # rank deficient: no covariance (and no pass for a meat)
        cov_s = np.full((p, p), np.nan)
        shift = np.zeros(d)
    else:
        K, shift = bread["K"], bread["shift"]
        w = np.asarray(coef, dtype=np.float64)
        if cov_type == "classical":
            FK = bread["FK"]
            meat = np.eye(p) if alpha == 0.0 else FK.T @ FK
            meat = stats["sigma2"] * meat
        else:
            b = float(intercept) + float(shift @ w) if fit_intercept else 0.0
            meat = _robust_meat(est, cov_type, robust, w, b, K, shift, stats, backend)
            est.n_passes_ += 1
        cov_s = K @ meat @ K.T
    J = np.eye(p)
    if fit_intercept:
        J[0, 1:] = -shift  # b = b_shifted - c^T w
    cov = J @ cov_s @ J.T
    est.cov_type_ = cov_type
    est.cov_params_ = cov
    est.prediction_cov_ = cov_s
    est.prediction_shift_ = shift
    if cov_type != "classical":
        se = np.sqrt(np.diag(cov))
        est.coef_stderr_ = se[p - d :]
        est.intercept_stderr_ = float(se[0]) if fit_intercept else 0.0


def _robust_meat(
    est: Any, cov_type: str, robust: Any, w: np.ndarray, b: float, K: np.ndarray,
    shift: np.ndarray, stats: dict[str, Any], backend: Any,
) -> np.ndarray:  # fmt: skip
    """The meat in the coordinates of ``v = K^T z``, scaled as statsmodels does."""
    n = int(stats["dof_resid"]) + K.shape[0]  # observations: rows of positive weight
    cluster = getattr(backend, "cluster", None)
    kind = {"HC1": "HC0"}.get(cov_type, cov_type)
    fit_intercept = bool(est.fit_intercept)
    if cov_type != "cluster":
        sums = robust(w=w, b=b, K=K, shift=shift, fit_intercept=fit_intercept, kind=kind)
        scale = n / stats["dof_resid"] if cov_type == "HC1" else 1.0
        return np.asarray(sums["meat"]) * scale
    if cluster is None:
        raise ValueError("compute_statistics='cluster' needs fit(..., groups=...)")
    codes, n_groups = cluster
    sums = robust(
        w=w, b=b, K=K, shift=shift, fit_intercept=fit_intercept, kind="cluster",
        codes=codes, n_groups=n_groups,
    )  # fmt: skip
    scores = np.asarray(sums["scores"])
    if "observed" in sums:  # rows of positive weight per group, counted in the pass (Dask)
        g = int(np.count_nonzero(sums["observed"]))
    else:
        sw = getattr(backend, "sw", None)
        g = int(np.unique(codes if sw is None else codes[sw > 0]).size)  # clusters observed
    p = K.shape[0]
    est.n_groups_ = g
    if g < 2:
        return np.full((p, p), np.nan)
    correction = g / (g - 1) * (n - 1) / (n - p)
    return correction * (scores.T @ scores)


# -- prediction ---------------------------------------------------------------


def _prediction_rows(est: Any, X: Any) -> np.ndarray:
    """X as float64, checked against the fit."""
    check_is_fitted(est)
    if hasattr(est, "encoder_"):
        raise NotImplementedError(
            "prediction standard errors and intervals are not available for a model fitted "
            "on a table whose columns fastcost typed (its coef_stderr_ are); fit on the "
            "numeric columns as an array, categorical ones encoded as numbers first (e.g. "
            "pandas.get_dummies(X, drop_first=True, dtype=float)), to get them"
        )
    if not hasattr(est, "prediction_cov_"):
        raise ValueError(
            "prediction standard errors and intervals need compute_statistics "
            "(True or a covariance type) at fit"
        )
    if is_device_array(X):
        raise NotImplementedError("prediction intervals take a dense numpy array X")
    X = validate_data(est, X, reset=False, dtype=list(FLOAT_DTYPES), accept_sparse=False)
    return np.asarray(X, dtype=np.float64)


def prediction_std(est: Any, X: Any, kind: str = "observation") -> tuple[np.ndarray, np.ndarray]:
    """The prediction (float64) and its standard error: of the mean
    ``sqrt(z^T Cov z)`` or of a new observation ``sqrt(sigma^2 + z^T Cov z)``."""
    if kind not in ("observation", "mean"):
        raise ValueError(f"kind must be 'observation' or 'mean', got {kind!r}")
    X64 = _prediction_rows(est, X)
    if np.ndim(est.coef_) == 1:
        return _target_std(est, X64, (), kind)
    # Several targets (n, k): each column from its own covariance and residual scale.
    parts = [_target_std(est, X64, (t,), kind) for t in range(np.shape(est.coef_)[0])]
    return np.stack([p for p, _ in parts], axis=1), np.stack([s for _, s in parts], axis=1)


def _target_std(est: Any, X64: np.ndarray, t: tuple[int, ...], kind: str
                ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The prediction and its standard error of target ``est.coef_[t]`` (t = ():
    the one target; (i,): target i of several, whose attributes are stacked)."""
    Z = X64 - est.prediction_shift_[t]
    if est.fit_intercept:
        Z = np.hstack([np.ones((Z.shape[0], 1)), Z])
    var = np.einsum("ij,ij->i", Z @ est.prediction_cov_[t], Z)
    if kind == "observation":
        var = var + float(np.asarray(est.residual_std_)[t]) ** 2
    coef = np.asarray(est.coef_, dtype=np.float64)[t]
    return X64 @ coef + float(np.asarray(est.intercept_)[t]), np.sqrt(var)


def prediction_interval(
    est: Any, X: Any, level: float = 0.95, kind: str = "observation"
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) as statsmodels' ``get_prediction(X).summary_frame(1 - level)``:
    Student's t with ``dof_resid_`` degrees of freedom for the classical
    covariance, the normal distribution for the robust types (statsmodels'
    default ``use_t=False`` for them)."""
    if not (isinstance(level, numbers.Real) and 0.0 < float(level) < 1.0):
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    pred, se = prediction_std(est, X, kind)
    tail = 0.5 + 0.5 * float(level)
    if est.cov_type_ == "classical":
        q = scipy_stats.t.ppf(tail, est.dof_resid_)
    else:
        q = scipy_stats.norm.ppf(tail)
    return pred - q * se, pred + q * se
