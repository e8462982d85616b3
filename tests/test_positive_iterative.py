"""positive=True in lbfgs and gd (the active set of nonnegative.hpp) against
scipy.optimize.nnls, newton's Lawson-Hanson solve, and across passes (host,
the mixed categorical pass, Dask)."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost import LinearRegression, _core
from fastcost.exceptions import ConvergenceWarning
from helpers import dask_split, make_problem, nnls_reference

ITERATIVE = ["lbfgs", "gd"]
# Tight enough that the fit agrees with the exact NNLS optimum to ~1e-6.
TIGHT = dict(tol=1e-10, max_iter=50_000)


def _kkt_residual(X, y, s, alpha, fit_intercept, w, b):
    """max |projected gradient| of the loss at (w, b), relative to max|grad| at 0."""
    s = np.ones(len(y)) if s is None else s

    def grad(w, b):
        r = X @ w + b - y
        g = 2 * (X.T @ (s * r)) / s.sum() + 2 * alpha * w
        return g, (2 * (s @ r) / s.sum() if fit_intercept else 0.0)

    g, gb = grad(w, b)
    g0, _ = grad(np.zeros_like(w), s @ y / s.sum() if fit_intercept else 0.0)
    pg = np.where(w > 0, g, np.minimum(g, 0.0))
    return max(np.abs(pg).max(), abs(gb)) / np.abs(g0).max()


def _signed_problem(seed, n=800, d=8, weights=False, signs=None):
    """y from coefficients of both signs (or the given ones): the constraint binds."""
    X, _, s = make_problem(n, d, seed=seed, weights=weights)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d) * 2 if signs is None else signs
    y = X @ w + rng.standard_normal(n)
    return X, y, s


def _assert_close(model, w, b, rtol=1e-6):
    assert (model.coef_ >= 0).all()
    np.testing.assert_allclose(model.coef_, w, rtol=0, atol=rtol * max(np.abs(w).max(), 1e-12))
    assert abs(model.intercept_ - b) <= rtol * max(1.0, abs(b))


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_equals_scipy_nnls(solver, weights, fit_intercept, alpha):
    X, y, s = _signed_problem(41, weights=weights)
    model = LinearRegression(
        positive=True, solver=solver, alpha=alpha, fit_intercept=fit_intercept, **TIGHT
    ).fit(X, y, sample_weight=s)
    w, b = nnls_reference(X, y, s, alpha, fit_intercept)
    assert 0 < np.count_nonzero(w) < X.shape[1]  # the constraint is active
    _assert_close(model, w, b)
    assert np.count_nonzero(model.coef_) == np.count_nonzero(w)  # zeros are exact
    assert "non-negative" in model.fit_info_ and solver in model.fit_info_
    assert model.n_iter_ > 0


@pytest.mark.parametrize("solver", ITERATIVE)
def test_many_constraints_active(solver):
    d = 30
    signs = -np.abs(np.random.default_rng(5).standard_normal(d))
    signs[[3, 17]] = [1.5, 0.7]
    X, y, s = _signed_problem(6, n=1500, d=d, weights=True, signs=signs)
    model = LinearRegression(positive=True, solver=solver, **TIGHT).fit(X, y, sample_weight=s)
    w, b = nnls_reference(X, y, s)
    assert np.count_nonzero(w) <= 5
    _assert_close(model, w, b)
    assert np.count_nonzero(model.coef_) == np.count_nonzero(w)


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_every_constraint_active(solver, fit_intercept):
    """Every coefficient of the unconstrained fit negative: the optimum is w = 0."""
    rng = np.random.default_rng(7)
    X = rng.uniform(0.0, 2.0, (600, 5))
    y = -X.sum(axis=1) + 0.1 * rng.standard_normal(600)
    model = LinearRegression(
        positive=True, solver=solver, fit_intercept=fit_intercept, **TIGHT
    ).fit(X, y)
    w, b = nnls_reference(X, y, None, 0.0, fit_intercept)
    assert not w.any()
    assert not model.coef_.any()
    assert model.intercept_ == pytest.approx(b, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("solver", ITERATIVE)
def test_no_constraint_active_equals_the_unconstrained_fit(solver):
    signs = np.abs(np.random.default_rng(8).standard_normal(10)) + 0.5
    X, y, s = _signed_problem(8, n=1000, d=10, weights=True, signs=signs)
    model = LinearRegression(positive=True, solver=solver, **TIGHT).fit(X, y, sample_weight=s)
    plain = LinearRegression(solver="newton").fit(X, y, sample_weight=s)
    assert (plain.coef_ > 0).all()
    _assert_close(model, plain.coef_, plain.intercept_)


def test_wide_lbfgs_equals_newton_lawson_hanson():
    n, d = 3000, 400
    rng = np.random.default_rng(9)
    X = rng.standard_normal((n, d)) + 0.5 * rng.standard_normal((n, 1))  # correlated
    y = X @ (rng.standard_normal(d) * 2) + rng.standard_normal(n) + 3.0
    s = rng.uniform(0.5, 2.0, n)
    lh = LinearRegression(positive=True, solver="newton").fit(X, y, sample_weight=s)
    model = LinearRegression(positive=True, solver="lbfgs", **TIGHT).fit(X, y, sample_weight=s)
    assert 0 < np.count_nonzero(lh.coef_) < d
    _assert_close(model, lh.coef_, lh.intercept_)
    assert model.n_passes_ < 2000  # iterations, not a crawl


def test_wide_gd_reaches_the_kkt_point():
    n, d = 3000, 400
    rng = np.random.default_rng(10)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    model = LinearRegression(positive=True, solver="gd", tol=1e-7, max_iter=20_000).fit(X, y)
    assert model.coef_.min() >= 0
    assert _kkt_residual(X, y, None, 0.0, True, model.coef_, model.intercept_) <= 1e-6


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standardize(solver, alpha, fit_intercept):
    """The sign constraint on v = sigma w is the one on w; alpha penalizes v."""
    X, y, s = _signed_problem(12, weights=True)
    model = LinearRegression(
        positive=True, solver=solver, standardize=True, alpha=alpha,
        fit_intercept=fit_intercept, **TIGHT,
    ).fit(X, y, sample_weight=s)  # fmt: skip
    mean = s @ X / s.sum()
    sigma = np.sqrt(s @ (X - mean) ** 2 / s.sum())
    w, b = nnls_reference(X, y, s, alpha, fit_intercept, ridge_scale=sigma)
    assert 0 < np.count_nonzero(w) < X.shape[1]
    _assert_close(model, w, b)


def test_ill_conditioned_lbfgs_keeps_its_memory():
    """No intercept, large column means, standardize: the Hessian has a few huge
    eigenvalues that L-BFGS captures in a few steps. Releasing held coefficients
    on every sign change of the gradient restarted that memory at each step and
    took thousands of iterations; the face is now nearly solved first."""
    rng = np.random.default_rng(1)
    n, d = 3000, 60
    Z = rng.standard_normal((n, d))
    X = (Z + 0.5 * Z[:, [0]]) * np.logspace(-1, 1, d) + rng.uniform(-30, 30, d)
    y = X @ (rng.standard_normal(d) / np.logspace(-1, 1, d)) + rng.standard_normal(n)
    model = LinearRegression(
        positive=True, solver="lbfgs", standardize=True, alpha=0.01, fit_intercept=False,
        tol=1e-10, max_iter=1000,
    ).fit(X, y)  # fmt: skip
    sigma = X.std(axis=0)
    w, b = nnls_reference(X, y, None, 0.01, False, ridge_scale=sigma)
    assert 0 < np.count_nonzero(w) < d
    _assert_close(model, w, b, rtol=5e-6)  # condition ~1e7: tol=1e-10 leaves ~1e-6


@pytest.mark.parametrize("solver", ITERATIVE)
def test_noise_augmentation_is_a_ridge_term(solver):
    X, y, _ = _signed_problem(13)
    model = LinearRegression(
        positive=True, solver=solver, noise_augmentation=0.5, alpha=0.1, **TIGHT
    ).fit(X, y)
    w, b = nnls_reference(X, y, None, 0.1 + 0.25)
    _assert_close(model, w, b)


@pytest.mark.parametrize("solver", ITERATIVE)
def test_prune_keeps_pruned_columns_at_zero(solver):
    X, y, _ = _signed_problem(14, n=500, d=5)
    X = np.column_stack([X, X[:, 0], np.full(len(y), 2.0)])  # a duplicate and a constant
    model = LinearRegression(positive=True, solver=solver, prune=True, **TIGHT).fit(X, y)
    kept = list(model.prune_report_.kept)
    assert kept == [0, 1, 2, 3, 4]
    assert (model.coef_[5:] == 0).all()
    w, b = nnls_reference(X[:, kept], y)
    _assert_close(model, np.r_[w, 0.0, 0.0], b)


@pytest.mark.parametrize("solver", ITERATIVE)
def test_negative_coef_init_is_projected(solver):
    X, y, _ = _signed_problem(15)
    start = np.linspace(-3.0, 3.0, X.shape[1])
    model = LinearRegression(positive=True, solver=solver, **TIGHT)
    model.fit(X, y, coef_init=start, intercept_init=-5.0)
    _assert_close(model, *nnls_reference(X, y))


@pytest.mark.parametrize("solver", ITERATIVE)
def test_float32(solver):
    """float32 floors the relative gradient tolerance at 1000 eps (1.2e-4)."""
    X, y, s = _signed_problem(16, weights=True)
    X32, y32, s32 = (a.astype(np.float32) for a in (X, y, s))
    model = LinearRegression(positive=True, solver=solver, max_iter=50_000)
    model.fit(X32, y32, sample_weight=s32)
    assert model.coef_.dtype == np.float32 and (model.coef_ >= 0).all()
    w, b = nnls_reference(X, y, s)
    assert np.count_nonzero(model.coef_) == np.count_nonzero(w)
    coef = model.coef_.astype(np.float64)
    assert _kkt_residual(X, y, s, 0.0, True, coef, float(model.intercept_)) <= 2e-4
    _assert_close(model, w, b, rtol=2e-2)


def test_auto_takes_lbfgs_above_the_newton_threshold():
    n, d = 2400, 1100
    rng = np.random.default_rng(17)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    model = LinearRegression(positive=True, tol=1e-8).fit(X, y)
    assert model.fit_info_.startswith("lbfgs (solver='auto')")
    assert "projected" in model.fit_info_
    assert model.coef_.min() >= 0 and 0 < np.count_nonzero(model.coef_) < d
    assert _kkt_residual(X, y, None, 0.0, True, model.coef_, model.intercept_) <= 1e-7
    small = LinearRegression(positive=True).fit(X[:, :20], y)
    assert small.fit_info_.startswith("newton") and "Lawson-Hanson" in small.fit_info_


def test_max_iter_warns_and_stays_feasible():
    X, y, _ = _signed_problem(18, n=2000, d=50)
    with pytest.warns(ConvergenceWarning):
        model = LinearRegression(positive=True, solver="gd", tol=1e-12, max_iter=3).fit(X, y)
    assert (model.coef_ >= 0).all()


@pytest.mark.parametrize(
    "params",
    [dict(solver="sgd"), dict(solver="lbfgs", compute_statistics=True)],
)
def test_what_still_does_not_run_is_an_error(params):
    X, y, _ = _signed_problem(19)
    with pytest.raises(NotImplementedError, match="positive=True"):
        LinearRegression(positive=True, **params).fit(X, y)


def test_core_option():
    assert _core.FitOptions(positive=True).positive
    assert not _core.FitOptions().positive
    X, y, _ = _signed_problem(20)
    opts = _core.FitOptions(positive=True)
    for solver in ("newton", "sgd"):
        with pytest.raises(ValueError, match="positive"):
            _core.fit(X, y, None, solver, opts)
    r = _core.fit(X, y, None, "lbfgs", _core.FitOptions(positive=True, tol=1e-10))
    assert r.converged and (np.asarray(r.coef) >= 0).all()
    with pytest.raises(ValueError, match="unknown option"):
        _core.FitOptions(postive=True)


# ------------------------------------------------------- the mixed categorical pass


def _frame(seed=21, n=900):
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    codes = rng.integers(0, 4, n)
    y = X @ np.array([1.5, -2.0, 0.5, -0.3]) + np.array([0.0, -1.0, 2.0, -0.5])[codes]
    y = y + 0.3 * rng.standard_normal(n)
    df = pd.DataFrame({f"x{j}": X[:, j] for j in range(4)})
    df["c"] = pd.array([f"v{c}" for c in codes], dtype="str")
    return df, y


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_categorical_frame_equals_newton(solver, alpha):
    df, y = _frame()
    s = np.random.default_rng(22).uniform(0.5, 2.0, len(y))
    lh = LinearRegression(positive=True, solver="newton", alpha=alpha).fit(df, y, sample_weight=s)
    model = LinearRegression(positive=True, solver=solver, alpha=alpha, **TIGHT)
    model.fit(df, y, sample_weight=s)
    assert list(model.feature_names_out_) == list(lh.feature_names_out_)
    assert 0 < np.count_nonzero(lh.coef_) < len(lh.coef_)
    _assert_close(model, lh.coef_, lh.intercept_)


# ------------------------------------------------------------------------- Dask


@pytest.mark.parametrize("solver", ITERATIVE)
def test_dask_equals_the_local_fit(client, solver):
    import fastcost.dask as fdask

    X, y, s = _signed_problem(23, n=600, d=6, weights=True)
    Xd, yd, sd = dask_split(X, y, s, (200, 250, 150))
    params = dict(positive=True, solver=solver, **TIGHT)
    model = fdask.LinearRegression(client=client, **params).fit(Xd, yd, sample_weight=sd)
    local = LinearRegression(**params).fit(X, y, sample_weight=s)
    assert (model.coef_ >= 0).all() and np.count_nonzero(model.coef_ == 0) >= 1
    assert np.array_equal(model.coef_ == 0, local.coef_ == 0)
    if solver == "lbfgs":  # gd's backtracking amplifies the chunk sums' rounding
        assert model.n_iter_ == local.n_iter_
    np.testing.assert_allclose(model.coef_, local.coef_, rtol=0, atol=1e-8)
    _assert_close(model, *nnls_reference(X, y, s))
