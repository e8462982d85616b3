"""LinearRegression: every solver against float64 numpy references."""

from __future__ import annotations

import fastcost
import numpy as np
import pytest
from fastcost import LinearRegression
from fastcost._threads import resolve_n_threads
from fastcost.exceptions import DivergenceError, RankDeficientWarning
from helpers import make_problem, reference_fit
from sklearn.datasets import make_regression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

EXACT = ["newton"]
ITERATIVE = ["lbfgs", "gd"]

# Tight tolerances for the iterative solvers so they can be compared to lstsq.
ITER_PARAMS = {"lbfgs": {"tol": 1e-10, "max_iter": 5000}, "gd": {"tol": 1e-12, "max_iter": 500000}}


def _tolerance(dtype, solver):
    eps = np.finfo(dtype).eps
    if dtype == np.float32:
        return 2000 * eps  # float32 data: the residual of the data itself limits the digits
    return 1e6 * eps if solver in ITERATIVE else 1e4 * eps


def _assert_close(model, w_ref, b_ref, rtol):
    scale = max(1.0, np.abs(w_ref).max())
    np.testing.assert_allclose(model.coef_, w_ref, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(
        model.intercept_, b_ref, rtol=0, atol=rtol * max(1.0, abs(b_ref)) * 10
    )


SHAPES = [(500, 5), (60, 50), (300, 1), (8, 3)]


@pytest.mark.parametrize("solver", EXACT + ITERATIVE)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_solvers_match_lstsq_float64(solver, shape, fit_intercept, weights, order):
    n, d = shape
    X, y, s = make_problem(n, d, seed=n + d, order=order, weights=weights)
    w_ref, b_ref = reference_fit(X, y, s, fit_intercept=fit_intercept)
    params = dict(ITER_PARAMS.get(solver, {}))
    model = LinearRegression(solver=solver, fit_intercept=fit_intercept, **params)
    model.fit(X, y, sample_weight=s)
    assert model.coef_.dtype == np.float64
    assert model.solver_ == solver
    tol = _tolerance(np.float64, solver)
    if solver in ITERATIVE:
        # A gradient below tol * |g0| leaves a coefficient error up to cond(H) times that.
        tol = max(tol, 10 * _hessian_condition(X, s, fit_intercept) * params["tol"])
    _assert_close(model, w_ref, b_ref, tol)


def _hessian_condition(X, s, fit_intercept):
    s = np.ones(len(X)) if s is None else s
    Xc = X - (s @ X / s.sum() if fit_intercept else 0.0)
    return np.linalg.cond(Xc * np.sqrt(s)[:, None]) ** 2


@pytest.mark.parametrize("solver", EXACT + ITERATIVE)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weights", [False, True])
def test_solvers_float32(solver, order, weights):
    X, y, s = make_problem(2000, 8, seed=3, dtype=np.float32, order=order, weights=weights)
    w_ref, b_ref = reference_fit(X, y, s)
    params = {"lbfgs": {"tol": 1e-5}, "gd": {"tol": 1e-5, "max_iter": 20000}}.get(solver, {})
    model = LinearRegression(solver=solver, **params).fit(X, y, sample_weight=s)
    assert model.coef_.dtype == np.float32
    assert isinstance(model.intercept_, np.float32)
    tol = _tolerance(np.float32, solver)
    if solver in ITERATIVE:  # the tolerance is floored at 1000 ulps of float32
        effective = max(params["tol"], 1000 * np.finfo(np.float32).eps)
        tol = max(tol, 10 * _hessian_condition(X.astype(float), s, True) * effective)
    _assert_close(model, w_ref, b_ref, tol)


@pytest.mark.parametrize("solver", EXACT + ITERATIVE)
@pytest.mark.parametrize("alpha", [0.1, 3.0])
@pytest.mark.parametrize("weights", [False, True])
def test_ridge_matches_closed_form(solver, alpha, weights):
    X, y, s = make_problem(400, 6, seed=11, weights=weights)
    w_ref, b_ref = reference_fit(X, y, s, alpha=alpha)
    model = LinearRegression(solver=solver, alpha=alpha, **ITER_PARAMS.get(solver, {})).fit(X, y, s)
    _assert_close(model, w_ref, b_ref, _tolerance(np.float64, solver))


def test_solvers_agree_with_each_other():
    X, y, s = make_problem(3000, 12, seed=5, weights=True)
    fits = {
        solver: LinearRegression(solver=solver, alpha=0.01, **ITER_PARAMS.get(solver, {})).fit(
            X, y, s
        )
        for solver in EXACT + ITERATIVE
    }
    for solver in ITERATIVE:
        np.testing.assert_allclose(fits[solver].coef_, fits["newton"].coef_, rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(
            fits[solver].intercept_, fits["newton"].intercept_, rtol=1e-8, atol=1e-9
        )
    # The iterative solvers' final loss equals newton's exact minimum.
    for solver in ITERATIVE:
        assert fits[solver].loss_history_[-1] == pytest.approx(
            fits["newton"].loss_history_[-1], rel=1e-9
        )


def test_integer_weights_equal_repeated_rows():
    X, y, _ = make_problem(200, 4, seed=8)
    rep = np.random.default_rng(0).integers(0, 4, size=200)
    Xr, yr = np.repeat(X, rep, axis=0), np.repeat(y, rep)
    for solver in EXACT + ITERATIVE:
        a = LinearRegression(solver=solver, **ITER_PARAMS.get(solver, {})).fit(
            X, y, rep.astype(float)
        )
        b = LinearRegression(solver=solver, **ITER_PARAMS.get(solver, {})).fit(Xr, yr)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd", "sgd"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_bitwise_identical_across_thread_counts(solver, order):
    X, y, s = make_problem(60000, 10, seed=2, order=order, weights=True)
    X = (X - X.mean(0)) / X.std(0)
    params = dict(solver=solver, n_shards=16, random_state=0, max_iter=20 if solver != "sgd" else 2)
    one = LinearRegression(n_threads=1, **params).fit(X, y, s)
    two = LinearRegression(n_threads=2, **params).fit(X, y, s)
    assert one.coef_.tobytes() == two.coef_.tobytes()
    assert np.float64(one.intercept_).tobytes() == np.float64(two.intercept_).tobytes()
    assert one.loss_history_.tobytes() == two.loss_history_.tobytes()


def _seed_scenario():
    X, y = make_regression(n_samples=10000, n_features=20, noise=0.1, random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_seed_scenario_newton_and_keras_recipe():
    X_train, X_test, y_train, y_test = _seed_scenario()
    w_ref, b_ref = reference_fit(X_train, y_train)
    mse_ref = np.mean((X_test @ w_ref + b_ref - y_test) ** 2)

    newton = LinearRegression(solver="newton").fit(X_train, y_train)
    mse_newton = np.mean((newton.predict(X_test) - y_test) ** 2)
    assert mse_newton == pytest.approx(mse_ref, rel=1e-9)

    sgd = LinearRegression(
        solver="sgd", batch_size=100, learning_rate=0.01, max_iter=10, random_state=0
    )
    sgd.fit(X_train, y_train)
    mse_sgd = np.mean((sgd.predict(X_test) - y_test) ** 2)
    assert sgd.n_iter_ == 10 and sgd.loss_history_.shape == (10,)
    assert sgd.loss_history_[-1] < sgd.loss_history_[0] / 1000
    assert abs(mse_sgd - mse_ref) <= 0.05 * mse_ref


def test_sgd_reproducible_and_starts_from_coef_init():
    X_train, _, y_train, _ = _seed_scenario()
    a = LinearRegression(solver="sgd", random_state=3).fit(X_train, y_train)
    b = LinearRegression(solver="sgd", random_state=3).fit(X_train, y_train)
    c = LinearRegression(solver="sgd", random_state=4).fit(X_train, y_train)
    assert a.coef_.tobytes() == b.coef_.tobytes()
    assert a.coef_.tobytes() != c.coef_.tobytes()
    # One epoch of plain SGD from a given start, replayed in numpy with the same
    # batches, needs the same order: check the first epoch's loss instead, which
    # for batch_size = n is full-batch gradient descent and fully determined.
    X, y, _ = make_problem(50, 3, seed=1)
    w0 = np.array([0.1, -0.2, 0.3])
    m = LinearRegression(
        solver="sgd", batch_size=50, learning_rate=0.05, max_iter=3, random_state=0
    )
    m.fit(X, y, coef_init=w0, intercept_init=0.5)
    w, b = w0.copy(), 0.5
    losses = []
    for _ in range(3):
        r = X @ w + b - y
        losses.append(np.mean(r**2))
        w, b = w - 0.05 * 2 * X.T @ r / 50, b - 0.05 * 2 * r.mean()
    np.testing.assert_allclose(m.loss_history_, losses, rtol=1e-12)
    np.testing.assert_allclose(m.coef_, w, rtol=1e-12)
    np.testing.assert_allclose(m.intercept_, b, rtol=1e-12)


def test_iterative_loss_history_and_counters():
    X, y, _ = make_problem(1000, 5, seed=4)
    m = LinearRegression(solver="lbfgs").fit(X, y)
    assert m.n_iter_ >= 1 and m.converged_
    assert len(m.loss_history_) == m.n_iter_
    assert np.all(np.diff(m.loss_history_) <= 1e-12 * m.loss_history_[0])
    assert m.n_passes_ >= m.n_iter_ + 1
    n = LinearRegression(solver="newton").fit(X, y)
    assert n.n_iter_ == 1 and n.n_passes_ == 1


@pytest.mark.parametrize("kind", ["duplicate", "collinear", "constant", "wide"])
def test_singular_gram_gives_minimum_norm_solution(kind):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((200, 4))
    if kind == "duplicate":
        X = np.c_[X, X[:, 1]]
    elif kind == "collinear":
        X = np.c_[X, 2.0 * X[:, 0] - 3.0 * X[:, 2]]
    elif kind == "constant":
        X = np.c_[X, np.full(200, 5.0)]
    else:  # fewer samples than features
        X = rng.standard_normal((6, 10))
    y = X @ rng.standard_normal(X.shape[1]) + 1.0 + 0.01 * rng.standard_normal(X.shape[0])
    w_ref, b_ref = reference_fit(X, y)
    with pytest.warns(RankDeficientWarning, match="minimum-norm"):
        m = LinearRegression(solver="newton").fit(X, y)
    assert np.isfinite(m.coef_).all()
    np.testing.assert_allclose(m.coef_, w_ref, atol=1e-7)
    np.testing.assert_allclose(m.intercept_, b_ref, atol=1e-7)
    assert m.rank_ < X.shape[1]


def test_auto_rule():
    X, y, _ = make_problem(300, 5, seed=1)
    assert LinearRegression().fit(X, y).solver_ == "newton"
    assert fastcost.linear_model.choose_solver(10_000, 5000) == "lbfgs"
    assert fastcost.linear_model.choose_solver(100, 5000) == "newton"


def test_predict_and_score():
    X, y, _ = make_problem(500, 3, seed=9)
    m = LinearRegression().fit(X, y)
    np.testing.assert_allclose(m.predict(X), X @ m.coef_ + m.intercept_, rtol=1e-14)
    resid = y - m.predict(X)
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    assert m.score(X, y) == pytest.approx(r2, rel=1e-12)


def test_dataframe_feature_names():
    import pandas as pd

    X, y, _ = make_problem(100, 3, seed=2)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    m = LinearRegression().fit(df, y)
    assert list(m.feature_names_in_) == ["a", "b", "c"]
    assert m.n_features_in_ == 3


def test_non_contiguous_input_is_copied_once_and_views_are_not():
    X, y, _ = make_problem(400, 6, seed=1)
    w_ref, b_ref = reference_fit(X[::2], y[::2])
    m = LinearRegression().fit(X[::2], y[::2])  # row stride 2: copied once
    _assert_close(m, w_ref, b_ref, 1e-10)
    w_ref, b_ref = reference_fit(X[:, :4], y)
    m = LinearRegression().fit(X[:, :4], y)  # a column block of a C array: read in place
    _assert_close(m, w_ref, b_ref, 1e-10)


def test_n_threads_follows_threadpoolctl_and_env():
    assert resolve_n_threads(3) == 3
    with threadpool_limits(limits=1, user_api="openmp"):
        assert resolve_n_threads(None) == 1
    with pytest.raises(ValueError, match="n_threads"):
        resolve_n_threads(0)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"solver": "adam"}, "solver must be one of"),
        ({"alpha": -1.0}, "alpha"),
        ({"tol": float("nan")}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"n_threads": -5}, "n_threads"),
    ],
)
def test_bad_parameters(params, match):
    X, y, _ = make_problem(50, 2)
    with pytest.raises(ValueError, match=match):
        LinearRegression(**params).fit(X, y)


def test_bad_inputs():
    X, y, _ = make_problem(50, 2)
    Xn = X.copy()
    Xn[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"row 7, column 1"):
        LinearRegression().fit(Xn, y)
    for solver in ["lbfgs", "gd", "sgd"]:
        with pytest.raises(ValueError, match=r"row 7, column 1"):
            LinearRegression(solver=solver).fit(Xn, y)
    yn = y.copy()
    yn[3] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        LinearRegression().fit(X, yn)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[50, 49\]"):
        LinearRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2D"):
        LinearRegression().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="negative"):
        LinearRegression().fit(X, y, sample_weight=-np.ones(50))
    with pytest.raises(ValueError, match="sums to zero"):
        LinearRegression().fit(X, y, sample_weight=np.zeros(50))
    with pytest.raises(ValueError, match="Complex data not supported"):
        LinearRegression().fit(X.astype(complex), y)
    with pytest.raises(ValueError, match="0 sample"):
        LinearRegression().fit(np.empty((0, 2)), np.empty(0))


def test_int_input_is_converted_to_float64():
    X = np.arange(40).reshape(20, 2) % 7
    y = X @ np.array([1, 2]) + 3
    m = LinearRegression().fit(X, y)
    assert m.coef_.dtype == np.float64
    np.testing.assert_allclose(m.coef_, [1, 2], atol=1e-10)
    np.testing.assert_allclose(m.intercept_, 3, atol=1e-10)


def test_sgd_divergence_is_an_error_not_nan():
    X, y, _ = make_problem(500, 3, seed=1)
    with pytest.raises(DivergenceError, match="learning_rate"):
        LinearRegression(solver="sgd", learning_rate=10.0, max_iter=50, random_state=0).fit(
            X * 100, y
        )


@pytest.mark.parametrize("epochs", [1, 3])
def test_sgd_divergence_with_a_finite_loss_is_an_error(epochs):
    # A learning rate past the stable one on unscaled columns: the loss reaches
    # 1e51 in the first epoch and grows by 1e50 an epoch, still finite.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 5)) * 30
    y = X @ np.arange(1.0, 6.0)
    est = LinearRegression(solver="sgd", random_state=0, max_iter=epochs)
    match = "grew from" if epochs > 1 else "times that of predicting 0"
    with pytest.raises(DivergenceError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coef_")
    # Standardized, the same recipe learns (20 steps an epoch): no error, the loss falls.
    Xs = (X - X.mean(0)) / X.std(0)
    ok = LinearRegression(solver="sgd", random_state=0, max_iter=epochs).fit(Xs, y)
    assert ok.score(Xs, y) > 0.5 and ok.loss_history_[-1] <= ok.loss_history_[0]


# ------------------------------------------------------------ lbfgs: one pass per iteration


def _max_rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_makes_one_pass_per_iteration(weights, fit_intercept, dtype):
    # 40000 x 12: large enough for the sample warm start (2 n / d rows).
    X, y, s = make_problem(40000, 12, seed=31, dtype=dtype, weights=weights, noise=1.0)
    m = LinearRegression(solver="lbfgs", fit_intercept=fit_intercept, tol=1e-8)
    m.fit(X, y, sample_weight=s)
    w_ref, b_ref = reference_fit(X, y, s, fit_intercept=fit_intercept)
    assert m.converged_
    # The first pass, then one per iteration (the last may only confirm convergence).
    assert m.n_iter_ + 1 <= m.n_passes_ <= m.n_iter_ + 2
    assert len(m.loss_history_) == m.n_iter_
    # float32 gradients stop at the tolerance floor of 1000 eps(float32).
    tol = 1e-7 if dtype == np.float64 else 5e-3
    assert _max_rel(m.coef_, w_ref) <= tol
    assert abs(m.intercept_ - b_ref) <= tol * max(1.0, abs(b_ref))
    if dtype == np.float64:
        # The loss history is the exact loss of each iterate.
        r = X @ m.coef_ + m.intercept_ - y
        sw = np.ones(len(y)) if s is None else s
        assert m.loss_history_[-1] == pytest.approx((sw @ r**2) / sw.sum(), rel=1e-9)


def test_lbfgs_needs_few_passes_on_well_conditioned_data():
    # Isotropic data: the warm start from a row sample leaves only the sampling
    # error, and exact steps remove it by about 100x per pass.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((100_000, 20))
    y = X @ rng.standard_normal(20) + 3.0 + rng.standard_normal(100_000)
    m = LinearRegression(solver="lbfgs").fit(X, y)
    w_ref, b_ref = reference_fit(X, y)
    assert m.converged_ and m.n_passes_ <= 4
    assert _max_rel(m.coef_, w_ref) <= 1e-5


def test_lbfgs_exact_means_handle_large_offsets():
    # Columns far from zero: the first pass's exact means center the problem.
    rng = np.random.default_rng(6)
    X = rng.standard_normal((20000, 6)) * [1, 2, 3, 1, 0.5, 4] + [1e4, -3e3, 50, 7e5, 0, 1e3]
    y = X @ np.array([0.5, -1, 2, 0.1, 3, -0.2]) + 1.0 + rng.standard_normal(20000)
    m = LinearRegression(solver="lbfgs", tol=1e-10).fit(X, y)
    newton = LinearRegression(solver="newton").fit(X, y)
    assert m.converged_
    assert _max_rel(m.coef_, newton.coef_) <= 1e-7
    assert abs(m.intercept_ - newton.intercept_) <= 1e-6 * max(1.0, abs(newton.intercept_))


def test_lbfgs_ill_conditioned_and_rank_deficient_data():
    rng = np.random.default_rng(7)
    base = rng.standard_normal((5000, 3))
    # Nearly collinear columns (condition number ~1e5 after centering).
    X = np.column_stack([base, base[:, 0] + 1e-3 * rng.standard_normal(5000), base[:, 1] * 2])
    y = base @ [1.0, 2.0, -1.0] + 0.1 * rng.standard_normal(5000)
    m = LinearRegression(solver="lbfgs", tol=1e-12, max_iter=5000).fit(X, y)
    with pytest.warns(RankDeficientWarning):
        newton = LinearRegression(solver="newton").fit(X, y)
    # An exact duplicate (column 4 = 2 x column 1) leaves a flat direction:
    # the predictions, not the split of the coefficients, are determined.
    np.testing.assert_allclose(m.predict(X), newton.predict(X), rtol=0, atol=1e-6)
    assert np.all(np.isfinite(m.coef_))


@pytest.mark.parametrize(
    "kw",
    [
        {"alpha": 0.5},
        {"standardize": True},
        {"standardize": True, "alpha": 0.1},
        {"noise_augmentation": 0.3},
    ],
)
def test_lbfgs_with_and_without_the_warm_start_agree_with_newton(kw):
    # alpha alone and standardize alone use the sample warm start; per-column
    # penalties (standardize + alpha, noise) start from zero. All reach newton.
    X, y, s = make_problem(30000, 8, seed=8, weights=True, noise=0.5)
    X = X * np.linspace(0.5, 5, 8) + 2.0
    m = LinearRegression(solver="lbfgs", tol=1e-10, **kw).fit(X, y, sample_weight=s)
    ref = LinearRegression(solver="newton", **kw).fit(X, y, sample_weight=s)
    assert m.converged_
    assert _max_rel(m.coef_, ref.coef_) <= 1e-7
    assert abs(m.intercept_ - ref.intercept_) <= 1e-7 * max(1.0, abs(ref.intercept_))


def _raw_problem(n=60000, d=30, seed=11):
    # Correlated (AR(1), rho = 0.7), scaled 0.3..3 and offset columns: condition
    # number ~1e3 before centering and scaling.
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    for j in range(1, d):
        X[:, j] = 0.7 * X[:, j - 1] + np.sqrt(1 - 0.49) * X[:, j]
    X = X * np.geomspace(0.3, 3, d) + rng.uniform(-10, 10, d)
    y = X @ rng.standard_normal(d) + 2.0 + rng.standard_normal(n)
    return X, y


def test_lbfgs_preconditions_ill_conditioned_data_only():
    X, y = _raw_problem()
    m = LinearRegression(solver="lbfgs", tol=1e-10).fit(X, y)
    ref = LinearRegression(solver="newton").fit(X, y)
    assert "preconditioned by the sample's Hessian" in m.fit_info_
    assert m.converged_ and m.n_passes_ <= 10
    assert _max_rel(m.coef_, ref.coef_) <= 1e-7
    assert abs(m.intercept_ - ref.intercept_) <= 1e-7 * max(1.0, abs(ref.intercept_))
    # Isotropic data: the sample's Hessian would be worse than the identity.
    rng = np.random.default_rng(12)
    Xi = rng.standard_normal((60000, 30))
    mi = LinearRegression(solver="lbfgs").fit(Xi, Xi @ np.ones(30) + rng.standard_normal(60000))
    assert "preconditioned" not in mi.fit_info_ and "sampled rows" in mi.fit_info_


@pytest.mark.parametrize(
    "kw",
    [
        {"noise_augmentation": 0.5},
        {"standardize": True, "alpha": 0.01},
        {"prune": True},
        {"fit_intercept": False},
    ],
)
def test_preconditioned_lbfgs_with_options_agrees_with_newton(kw):
    X, y = _raw_problem(seed=13)
    if kw.get("prune"):
        X = np.column_stack([X, X[:, 0] * 2.0, np.full(len(y), 1.5)])  # duplicate, constant
    m = LinearRegression(solver="lbfgs", tol=1e-10, **kw).fit(X, y)
    ref = LinearRegression(solver="newton", **kw).fit(X, y)
    assert m.converged_ and "preconditioned" in m.fit_info_
    assert _max_rel(m.coef_, ref.coef_) <= 1e-6
    assert abs(m.intercept_ - ref.intercept_) <= 1e-6 * max(1.0, abs(ref.intercept_))


def test_sample_preconditioner_against_numpy():
    from fastcost import _core

    X, y = _raw_problem(n=5000, d=8, seed=14)
    st = _core.gram_stats(X, y, None, None, 1, 1)
    sigma, lam = np.linspace(0.5, 2, 8), np.full(8, 0.01)
    pc = _core.sample_preconditioner(st["gram"], st["shift"], 5000, True, sigma, lam)
    Xc = X - X.mean(axis=0)
    M = 2 * (Xc.T @ Xc) / 5000 / np.outer(sigma, sigma) + 2 * np.diag(lam)
    ev = np.linalg.eigvalsh(M)
    assert pc["use"] and pc["kappa"] == pytest.approx(ev[-1] / ev[0], rel=0.1)
    r = np.sqrt(8 / 5000)
    assert pc["kappa_sampling"] == pytest.approx(((1 + r) / (1 - r)) ** 2, rel=1e-12)
    L = pc["chol"]
    np.testing.assert_allclose(
        np.tril(L) @ np.tril(L).T, M, rtol=1e-10, atol=1e-12 * np.abs(M).max()
    )
    q = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(
        _core.apply_preconditioner(L, q), np.r_[np.linalg.solve(M, q[:8]), q[8] / 2], rtol=1e-10
    )
    # Near-identity statistics: the sampling alone explains the spread.
    Z = np.random.default_rng(1).standard_normal((20000, 8))
    sz = _core.gram_stats(Z, None, None, None, 1, 1)
    pz = _core.sample_preconditioner(sz["gram"], sz["shift"], 20000, True, np.ones(8), np.zeros(8))
    assert not pz["use"] and pz["kappa"] < pz["kappa_sampling"] ** 2


def _correlated(n, d, rho, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * X[:, j]
    return X, X @ rng.standard_normal(d) + 1.0 + 0.1 * rng.standard_normal(n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_long_runs_refresh_the_carried_gradient(dtype):
    # 2000 x 50: too few rows for the sample (no warm start, no preconditioner),
    # correlated columns: many iterations, so the gradient carried as g + a Hp
    # is recomputed from the data several times (every 8 steps in float64).
    X, y = _correlated(2000, 50, 0.9, seed=16)
    X, y = X.astype(dtype), y.astype(dtype)
    m = LinearRegression(solver="lbfgs", tol=1e-10, max_iter=10000).fit(X, y)
    ref = LinearRegression(solver="newton").fit(X, y)
    assert "sampled rows" not in m.fit_info_
    assert m.converged_ and m.n_iter_ > 16
    assert m.n_iter_ + 1 <= m.n_passes_ <= m.n_iter_ + 2
    tol = 1e-6 if dtype == np.float64 else 1e-2
    assert _max_rel(m.coef_, ref.coef_) <= tol
    # The final gradient, from the data, meets the tolerance the solver claims.
    X64, y64 = X.astype(float), y.astype(float)
    r = X64 @ m.coef_.astype(float) + float(m.intercept_) - y64
    g = np.r_[2 * (X64 - X64.mean(0)).T @ r / len(y), 2 * r.mean()]
    g0 = 2 * (X64 - X64.mean(0)).T @ (y64 - y64.mean()) / len(y)
    floor = 1000 * np.finfo(dtype).eps
    assert np.abs(g).max() <= 2 * max(1e-10, floor) * np.abs(g0).max()


def test_lbfgs_float32_with_a_huge_gradient_stays_finite():
    # Found by the fuzz test: g ~ 1e19 made the first direction -g overflow
    # (x^T p)^2 in float32 sums; lbfgs now probes along a unit direction.
    X = np.array([[380874.0], [0.0]], dtype=np.float32)
    y = np.array([9.6865337e13, 0.0])
    m = LinearRegression(solver="lbfgs").fit(X, y)
    w_ref = 9.6865337e13 / 380874.0
    assert m.converged_ and np.isfinite(m.intercept_)
    assert m.coef_[0] == pytest.approx(w_ref, rel=1e-5)
    assert abs(m.intercept_) <= 1e-7 * 9.6865337e13
    assert m.loss_history_.min() >= 0.0
