"""LinearRegression(positive=True) against scipy.optimize.nnls and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost import LinearRegression
from helpers import make_problem, nnls_reference
from sklearn.linear_model import LinearRegression as SkLinearRegression


def _signed_problem(seed, weights=False):
    X, y, s = make_problem(800, 8, seed=seed, weights=weights)
    rng = np.random.default_rng(seed)
    y = X @ (rng.standard_normal(8) * 2) + rng.standard_normal(800)  # about half negative
    return X, y, s


@pytest.mark.parametrize("solver", ["auto", "newton", "qr"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_equals_scipy_nnls(solver, weights, fit_intercept, alpha):
    X, y, s = _signed_problem(41, weights)
    model = LinearRegression(
        positive=True, solver=solver, alpha=alpha, fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=s)
    w, b = nnls_reference(X, y, s, alpha, fit_intercept)
    assert (model.coef_ >= 0).all()
    assert 0 < np.count_nonzero(model.coef_) < X.shape[1]  # the constraint is active
    np.testing.assert_allclose(model.coef_, w, rtol=1e-10, atol=1e-10 * np.abs(w).max())
    assert abs(model.intercept_ - b) <= 1e-10 * max(1.0, abs(b))
    assert "non-negative" in model.fit_info_


def test_equals_scikit_learn_positive():
    X, y, s = _signed_problem(42, weights=True)
    ours = LinearRegression(positive=True).fit(X, y, sample_weight=s)
    theirs = SkLinearRegression(positive=True).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8, atol=1e-10)
    assert abs(ours.intercept_ - theirs.intercept_) < 1e-8


def test_positive_with_partial_fit_equals_one_fit():
    X, y, _ = _signed_problem(43)
    model = LinearRegression(positive=True)
    for a in range(0, 800, 200):
        model.partial_fit(X[a : a + 200], y[a : a + 200])
    np.testing.assert_allclose(model.coef_, nnls_reference(X, y)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd"),
        dict(standardize=True),  # auto: newton (lbfgs and gd take it)
        dict(compute_statistics=True),
    ],  # fmt: skip
)
def test_what_positive_does_not_run_is_an_error(params):
    X, y, _ = _signed_problem(44)
    with pytest.raises(NotImplementedError, match="positive=True"):
        LinearRegression(positive=True, **params).fit(X, y)


def test_positive_must_be_a_bool():
    X, y, _ = _signed_problem(45)
    with pytest.raises(TypeError, match="positive"):
        LinearRegression(positive="yes").fit(X, y)
