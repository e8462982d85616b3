"""lbfgs and gd with a 2-D y: every target's loop in lockstep, one read of X per
iteration round for all (``_core.fit_targets``, cpp/include/fastcost/lockstep.hpp),
against single-target fits bit for bit and against numpy in float64."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost import LinearRegression, _core
from fastcost.exceptions import NonFiniteError
from helpers import make_problem, reference_fit

ITERATIVE = ["lbfgs", "gd"]


def _targets(n=20_000, d=12, k=3, seed=61, dtype=np.float64, order="C", weights=False):
    """k targets of different scales and noise; n spans several shards (4 by default)."""
    X, y, s = make_problem(n, d, seed=seed, dtype=dtype, order=order, weights=weights)
    rng = np.random.default_rng(seed)
    extra = X @ rng.standard_normal((d, k - 1)) * [10.0 ** (t % 3) for t in range(k - 1)]
    Y = np.c_[y, extra - 3.0 + rng.standard_normal((n, k - 1))].astype(dtype)
    return X, Y, s


def _singles(X, Y, s, alphas=None, **params):
    out = []
    for t in range(Y.shape[1]):
        a = None if alphas is None else np.broadcast_to(alphas, Y.shape[1])[t]
        p = dict(params) if a is None else dict(params, alpha=float(a))
        out.append(LinearRegression(**p).fit(X, Y[:, t], sample_weight=s))
    return out


def _assert_equals_singles(model, singles):
    k = len(singles)
    assert model.coef_.shape == (k, singles[0].coef_.shape[0])
    assert model.intercept_.shape == (k,) and model.n_iter_.shape == (k,)
    for t, one in enumerate(singles):
        np.testing.assert_array_equal(model.coef_[t], one.coef_)
        assert model.intercept_[t] == one.intercept_
        assert model.n_iter_[t] == one.n_iter_
        assert model.converged_[t] == one.converged_
    # One read of X per round for every target: the most any target needed.
    assert model.n_passes_ == max(one.n_passes_ for one in singles)


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("order", ["C", "F"])
def test_lockstep_equals_each_target_alone(solver, dtype, weights, fit_intercept, order):
    X, Y, s = _targets(dtype=dtype, order=order, weights=weights)
    params = dict(solver=solver, fit_intercept=fit_intercept, tol=1e-8, max_iter=3000)
    model = LinearRegression(**params).fit(X, Y, sample_weight=s)
    singles = _singles(X, Y, s, **params)
    _assert_equals_singles(model, singles)
    assert model.coef_.dtype == dtype and model.n_targets_ == 3
    assert model.n_passes_ < sum(one.n_passes_ for one in singles)
    assert "for 3 targets in lockstep" in model.fit_info_
    assert model.predict(X).shape == (len(X), 3)


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize(
    "option",
    [
        dict(alpha=[0.0, 0.3, 5.0]),
        dict(standardize=True, alpha=[0.0, 0.3, 5.0]),
        dict(noise_augmentation=0.2),
        dict(positive=True),
        dict(positive=True, standardize=True, alpha=0.1),
    ],
    ids=["alpha", "standardize", "noise", "positive", "positive-standardize"],
)
@pytest.mark.parametrize("weights", [False, True])
def test_options_per_target_equal_each_target_alone(solver, option, weights):
    X, Y, s = _targets(seed=62, weights=weights)
    option = dict(option)
    alphas = option.pop("alpha", None)
    params = dict(solver=solver, tol=1e-8, max_iter=3000, **option)
    model = LinearRegression(alpha=0.0 if alphas is None else alphas, **params)
    model.fit(X, Y, sample_weight=s)
    _assert_equals_singles(model, _singles(X, Y, s, alphas=alphas, **params))
    if option.get("positive"):
        assert (model.coef_ >= 0).all()


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize("weights", [False, True])
def test_lockstep_matches_numpy(solver, weights):
    X, Y, s = _targets(n=3000, d=6, seed=63, weights=weights)
    alphas = np.array([0.0, 0.2, 1.5])
    model = LinearRegression(solver=solver, alpha=alphas, tol=1e-12, max_iter=20_000)
    model.fit(X, Y, sample_weight=s)
    for t in range(3):
        w, b = reference_fit(X, Y[:, t], s, alpha=alphas[t])
        scale = max(np.abs(w).max(), 1.0)
        np.testing.assert_allclose(model.coef_[t], w, rtol=0, atol=1e-9 * scale)
        assert abs(model.intercept_[t] - b) <= 1e-9 * max(abs(b), scale)


@pytest.mark.parametrize("solver", ITERATIVE)
def test_a_column_y_keeps_its_shape(solver):
    X, Y, _ = _targets(n=2000, seed=64)
    model = LinearRegression(solver=solver).fit(X, Y[:, :1])
    assert model.coef_.shape == (1, 12) and model.intercept_.shape == (1,)
    assert model.predict(X).shape == (2000, 1)
    one = LinearRegression(solver=solver).fit(X, Y[:, 0])
    np.testing.assert_array_equal(model.coef_[0], one.coef_)
    assert model.n_passes_ == one.n_passes_ and model.n_iter_[0] == one.n_iter_


@pytest.mark.parametrize("solver", ITERATIVE)
def test_a_target_that_converges_early_stops_asking(solver):
    X, Y, _ = _targets(n=8000, seed=65)
    Y[:, 1] = 4.0  # a constant: the start is the solution
    params = dict(solver=solver, tol=1e-10, max_iter=5000)
    model = LinearRegression(**params).fit(X, Y)
    singles = _singles(X, Y, None, **params)
    _assert_equals_singles(model, singles)
    assert model.n_iter_[1] == 0 and model.n_iter_.max() > 3
    np.testing.assert_array_equal(model.coef_[1], 0.0)
    assert model.intercept_[1] == 4.0


def test_nan_in_one_target_column_is_a_clear_error():
    X, Y, _ = _targets(n=2000, seed=66)
    Y[17, 2] = np.nan
    for solver in ITERATIVE:
        with pytest.raises(ValueError, match="NaN"):
            LinearRegression(solver=solver).fit(X, Y)


@pytest.mark.parametrize("solver", ITERATIVE)
def test_nan_in_x_stops_every_target(solver):
    X, Y, _ = _targets(n=9000, seed=67)
    X[4321, 5] = np.nan
    model = LinearRegression(solver=solver)
    with pytest.raises(NonFiniteError, match=r"row 4321"):
        model.fit(X, Y)
    assert not hasattr(model, "coef_")


def test_passes_are_the_lockstep_count_not_the_sum():
    X, Y, _ = _targets(n=20_000, k=6, seed=68)
    model = LinearRegression(solver="gd", tol=1e-7, max_iter=5000, standardize=True).fit(X, Y)
    singles = _singles(X, Y, None, solver="gd", tol=1e-7, max_iter=5000, standardize=True)
    _assert_equals_singles(model, singles)
    total = sum(one.n_passes_ for one in singles)
    assert model.n_passes_ < total / 2, (model.n_passes_, total)


def test_more_targets_than_one_group():
    """Over 32 targets run in several lockstep groups; each still equals its own fit."""
    X, Y, _ = _targets(n=1500, d=4, k=40, seed=69)
    model = LinearRegression(solver="lbfgs").fit(X, Y)
    singles = _singles(X, Y, None, solver="lbfgs")
    for t, one in enumerate(singles):
        np.testing.assert_array_equal(model.coef_[t], one.coef_)
    rounds = [one.n_passes_ for one in singles]
    assert model.n_passes_ == max(rounds[:32]) + max(rounds[32:])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_shards", [0, 7])
def test_core_fit_targets_equals_core_fit(dtype, n_shards):
    X, Y, s = _targets(n=30_000, d=33, k=4, seed=70, dtype=dtype, weights=True)
    ys = [np.ascontiguousarray(Y[:, t]) for t in range(4)]
    for solver in ITERATIVE:
        opts = [
            _core.FitOptions(alpha=a, tol=1e-9, n_shards=n_shards, standardize=a > 0)
            for a in (0.0, 0.1, 1.0, 0.0)
        ]
        results, reads = _core.fit_targets(X, ys, s, solver, opts)
        singles = [_core.fit(X, y, s, solver, o) for y, o in zip(ys, opts, strict=True)]
        for r, one in zip(results, singles, strict=True):
            np.testing.assert_array_equal(r.coef, one.coef)
            assert r.intercept == one.intercept and r.n_iter == one.n_iter
            np.testing.assert_array_equal(r.loss_history, one.loss_history)
            assert r.n_passes == one.n_passes
        # The moments read of standardize is made once for the targets that ask.
        rounds = max(
            one.n_passes - (1 if o.standardize else 0) for one, o in zip(singles, opts, strict=True)
        )
        assert reads == rounds + 1


def test_core_fit_targets_any_thread_count():
    X, Y, _ = _targets(n=40_000, d=20, k=3, seed=71)
    ys = [np.ascontiguousarray(Y[:, t]) for t in range(3)]
    out = []
    for threads in (1, 2):
        opts = [_core.FitOptions(n_threads=threads, tol=1e-9) for _ in ys]
        out.append(_core.fit_targets(X, ys, None, "lbfgs", opts))
    for a, b in zip(out[0][0], out[1][0], strict=True):
        np.testing.assert_array_equal(a.coef, b.coef)
    assert out[0][1] == out[1][1]


def test_core_fit_targets_checks_its_arguments():
    X, Y, _ = _targets(n=500, seed=72)
    ys = [np.ascontiguousarray(Y[:, t]) for t in range(3)]
    opts = [_core.FitOptions() for _ in ys]
    with pytest.raises(ValueError, match="lbfgs, gd"):
        _core.fit_targets(X, ys, None, "newton", opts)
    with pytest.raises(ValueError, match="one FitOptions per target"):
        _core.fit_targets(X, ys, None, "lbfgs", opts[:2])
    with pytest.raises(ValueError, match="no targets"):
        _core.fit_targets(X, [], None, "lbfgs", [])
    with pytest.raises(TypeError, match="same float dtype"):
        _core.fit_targets(X, [y.astype(np.float32) for y in ys], None, "lbfgs", opts)
    with pytest.raises(ValueError, match="share n_threads and n_shards"):
        _core.fit_targets(X, ys, None, "gd", [*opts[:2], _core.FitOptions(n_shards=3)])
    with pytest.raises(ValueError, match="entries"):
        _core.fit_targets(X, [ys[0][:-1], *ys[1:]], None, "lbfgs", opts)


@pytest.mark.parametrize("solver", ITERATIVE)
def test_one_target_failing_stops_the_others(solver):
    X, Y, _ = _targets(n=9000, dtype=np.float32, seed=73)
    Y[:, 1] *= np.float32(1e20)  # finite, but its squared residuals overflow float32
    with pytest.raises(NonFiniteError):
        LinearRegression(solver=solver).fit(X, Y[:, 1])
    model = LinearRegression(solver=solver)
    with pytest.raises(NonFiniteError):
        model.fit(X, Y)
    assert not hasattr(model, "coef_")
    ys = [np.ascontiguousarray(Y[:, t]) for t in range(3)]
    with pytest.raises(NonFiniteError, match="non-finite"):
        _core.fit_targets(X, ys, None, solver, [_core.FitOptions() for _ in ys])
    Y[:, 1] /= np.float32(1e20)
    assert model.fit(X, Y).coef_.shape == (3, 12)  # nothing left over from the failed fit


def test_fit_report_counts_each_read_once():
    X, Y, _ = _targets(n=5000, d=4, seed=74)
    model = LinearRegression(solver="lbfgs").fit(X, Y)
    one = LinearRegression(solver="lbfgs").fit(X, Y[:, 0])
    per_pass = one.fit_report_.bytes_read / one.fit_report_.passes
    assert model.fit_report_.passes == model.n_passes_
    assert model.fit_report_.bytes_read == model.n_passes_ * per_pass


@pytest.mark.parametrize("option", [dict(prune=True), dict(compute_statistics=True)])
def test_prune_and_statistics_fit_the_targets_one_after_another(option):
    X, Y, _ = _targets(n=3000, seed=75)
    model = LinearRegression(solver="lbfgs", **option).fit(X, Y)
    singles = _singles(X, Y, None, solver="lbfgs", **option)
    for t, one in enumerate(singles):
        np.testing.assert_array_equal(model.coef_[t], one.coef_)
    assert model.n_passes_ == sum(one.n_passes_ for one in singles)
    assert "lockstep" not in model.fit_info_
