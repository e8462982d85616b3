"""LinearRegressionCV against brute-force loops of LinearRegression fits, and the grouped Gram pass."""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
import pytest
from fastcost import LinearRegression, LinearRegressionCV, _core
from fastcost.exceptions import RankDeficientWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GroupKFold, KFold, TimeSeriesSplit, check_cv
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

ALPHAS = (0.0, 1e-3, 0.03, 1.0, 10.0)
RTOL = 1e-10
DATA = pathlib.Path(__file__).parent / "data"


def _data(n=240, d=6, k=None, seed=0, weights=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d) * 4
    coef = rng.normal(size=(d,) if k is None else (d, k))
    y = X @ coef + 3.0 + rng.normal(scale=2.0, size=(n,) if k is None else (n, k))
    sw = rng.uniform(0.2, 3.0, size=n) if weights else None
    return X, y, sw


def _brute(X, y, sw, splits, alphas, scoring, fit_intercept=True, standardize=False):
    """(n_folds, n_alphas) scores of LinearRegression fits, averaged over targets."""
    out = np.empty((len(splits), len(alphas)))
    for j, (tr, te) in enumerate(splits):
        for i, a in enumerate(alphas):
            m = LinearRegression(
                alpha=a, solver="newton", fit_intercept=fit_intercept, standardize=standardize
            ).fit(X[tr], y[tr], None if sw is None else sw[tr])
            pred = m.predict(X[te])
            w = None if sw is None else sw[te]
            if scoring == "r2":
                out[j, i] = r2_score(y[te], pred, sample_weight=w)
            else:
                out[j, i] = -mean_squared_error(y[te], pred, sample_weight=w)
    return out


def _check_against_brute(est, X, y, sw, groups=None, alphas=ALPHAS):
    est.fit(X, y, sample_weight=sw, groups=groups)
    splits = list(check_cv(est.cv, y).split(X, y, groups))
    ref = _brute(X, y, sw, splits, alphas, est.scoring, est.fit_intercept, est.standardize)
    for j in range(len(splits)):
        np.testing.assert_allclose(est.cv_results_[f"split{j}_test_score"], ref[j], rtol=RTOL)
    np.testing.assert_allclose(est.cv_results_["mean_test_score"], ref.mean(0), rtol=RTOL)
    assert est.alpha_ == alphas[int(np.argmax(ref.mean(0)))]
    assert est.n_passes_ == 1
    full = LinearRegression(
        alpha=est.alpha_, solver="newton", fit_intercept=est.fit_intercept,
        standardize=est.standardize,
    ).fit(X, y, sw)  # fmt: skip
    np.testing.assert_allclose(est.coef_, full.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(est.intercept_, full.intercept_, rtol=1e-12, atol=1e-12)
    return ref


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("scoring", [None, "r2"])
@pytest.mark.parametrize(
    "cv",
    [KFold(5, shuffle=True, random_state=0), 4, TimeSeriesSplit(4), GroupKFold(5)],
    ids=["kfold-shuffle", "int", "timeseries", "groupkfold"],
)
def test_folds_match_brute_force(cv, scoring, weights):
    X, y, sw = _data(weights=weights)
    groups = np.arange(X.shape[0]) % 13 if isinstance(cv, GroupKFold) else None
    est = LinearRegressionCV(alphas=ALPHAS, cv=cv, scoring=scoring)
    _check_against_brute(est, X, y, sw, groups=groups)


@pytest.mark.parametrize("order", ["C", "F"])
def test_no_intercept_and_fortran(order):
    X, y, sw = _data(weights=True, seed=1)
    X = np.asarray(X, order=order)
    est = LinearRegressionCV(alphas=ALPHAS, cv=KFold(3, shuffle=True, random_state=1),
                             fit_intercept=False)  # fmt: skip
    _check_against_brute(est, X, y, sw)


def test_standardize_matches_pipeline_per_fold():
    X, y, sw = _data(seed=2, weights=True)
    alphas = (1e-3, 0.1, 1.0, 10.0)
    cv = KFold(4, shuffle=True, random_state=2)
    est = LinearRegressionCV(alphas=alphas, cv=cv, standardize=True)
    _check_against_brute(est, X, y, sw, alphas=alphas)
    # The same through scikit-learn's own scaler, one pipeline per fold.
    for j, (tr, te) in enumerate(cv.split(X)):
        pipe = make_pipeline(StandardScaler(), LinearRegression(alpha=est.alpha_))
        pipe.fit(X[tr], y[tr], standardscaler__sample_weight=sw[tr],
                 linearregression__sample_weight=sw[tr])  # fmt: skip
        score = -mean_squared_error(y[te], pipe.predict(X[te]), sample_weight=sw[te])
        i = alphas.index(est.alpha_)
        np.testing.assert_allclose(est.cv_results_[f"split{j}_test_score"][i], score, rtol=1e-9)


@pytest.mark.parametrize("per_target", [False, True])
def test_multi_output(per_target):
    X, Y, sw = _data(k=3, seed=3, weights=True)
    Y[:, 2] *= 0.01  # targets with different best alphas
    cv = KFold(5, shuffle=True, random_state=3)
    est = LinearRegressionCV(alphas=ALPHAS, cv=cv, alpha_per_target=per_target).fit(X, Y, sw)
    splits = list(cv.split(X))
    per = np.stack([_brute(X, Y[:, t], sw, splits, ALPHAS, None) for t in range(3)], axis=-1)
    if per_target:
        for j in range(5):
            np.testing.assert_allclose(est.cv_results_[f"split{j}_test_score"], per[j], rtol=RTOL)
        best = np.argmax(per.mean(0), axis=0)
        np.testing.assert_array_equal(est.alpha_, np.asarray(ALPHAS)[best])
        assert est.alpha_.shape == (3,)
    else:
        ref = _brute(X, Y, sw, splits, ALPHAS, None)  # sklearn averages the targets' MSEs
        np.testing.assert_allclose(est.cv_results_["mean_test_score"], ref.mean(0), rtol=RTOL)
        np.testing.assert_allclose(per.mean(axis=(0, 2)), ref.mean(0), rtol=RTOL)
    for t in range(3):
        a = est.alpha_[t] if per_target else est.alpha_
        full = LinearRegression(alpha=a, solver="newton").fit(X, Y[:, t], sw)
        np.testing.assert_allclose(est.coef_[t], full.coef_, rtol=1e-12, atol=1e-12)
    assert est.coef_.shape == (3, X.shape[1])
    assert est.predict(X).shape == Y.shape


def _brute_loo(X, y, sw, alphas, fit_intercept=True):
    n = X.shape[0]
    mse, r2 = [], []
    for a in alphas:
        pred = np.empty_like(y, dtype=np.float64)
        for i in range(n):
            keep = np.arange(n) != i
            m = LinearRegression(alpha=a, solver="newton", fit_intercept=fit_intercept)
            m.fit(X[keep], y[keep], None if sw is None else sw[keep])
            pred[i] = m.predict(X[i : i + 1])[0]
        mse.append(mean_squared_error(y, pred, sample_weight=sw))
        r2.append(r2_score(y, pred, sample_weight=sw))
    return np.array(mse), np.array(r2)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
def test_leave_one_out_matches_brute_force(weights, fit_intercept):
    X, y, sw = _data(n=40, d=4, seed=4, weights=weights)
    alphas = (1e-3, 0.1, 1.0)
    mse, r2 = _brute_loo(X, y, sw, alphas, fit_intercept)
    est = LinearRegressionCV(alphas=alphas, fit_intercept=fit_intercept).fit(X, y, sw)
    np.testing.assert_allclose(est.cv_results_["mean_test_score"], -mse, rtol=RTOL)
    assert est.n_passes_ == 2
    est_r2 = LinearRegressionCV(alphas=alphas, scoring="r2", fit_intercept=fit_intercept)
    np.testing.assert_allclose(est_r2.fit(X, y, sw).cv_results_["mean_test_score"], r2, rtol=RTOL)


def _sklearn_loo_standardized(X, y, sw, alphas, fit_intercept):
    """Leave-one-out of StandardScaler + Ridge refitted on each training set (the
    scaler weighted as the fit), fastcost's alpha as Ridge's alpha x the weights' sum."""
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    n = X.shape[0]
    s = np.ones(n) if sw is None else sw
    mse, r2 = [], []
    for a in alphas:
        pred = np.empty(n)
        for i in range(n):
            keep = np.arange(n) != i
            scaler = StandardScaler(with_mean=fit_intercept)
            Z = scaler.fit(X[keep], sample_weight=s[keep]).transform(X)
            ridge = Ridge(alpha=a * s[keep].sum(), fit_intercept=fit_intercept, solver="cholesky")
            pred[i] = ridge.fit(Z[keep], y[keep], sample_weight=s[keep]).predict(Z[i : i + 1])[0]
        mse.append(mean_squared_error(y, pred, sample_weight=sw))
        r2.append(r2_score(y, pred, sample_weight=sw))
    return np.array(mse), np.array(r2)


@pytest.mark.parametrize("weights", [False, True])
def test_leave_one_out_standardized_matches_scaler_and_ridge_per_row(weights):
    # each training set standardized by its own (weighted) moments; column 2 is
    # constant except at row 5, so that row's training set leaves it unscaled
    X, y, sw = _data(n=36, d=4, seed=11, weights=weights)
    X[:, 2] = 3.0
    X[5, 2] = 4.0
    alphas = (1e-3, 0.1, 2.0)
    mse, r2 = _sklearn_loo_standardized(X, y, sw, alphas, True)
    est = LinearRegressionCV(alphas=alphas, standardize=True).fit(X, y, sw)
    np.testing.assert_allclose(est.cv_results_["mean_test_score"], -mse, rtol=1e-9)
    assert "standardized by its own moments" in est.fit_info_ and est.n_passes_ == 2
    est_r2 = LinearRegressionCV(alphas=alphas, standardize=True, scoring="r2").fit(X, y, sw)
    np.testing.assert_allclose(est_r2.cv_results_["mean_test_score"], r2, rtol=1e-9)
    full = LinearRegression(alpha=est.alpha_, standardize=True, solver="newton").fit(X, y, sw)
    np.testing.assert_allclose(est.coef_, full.coef_, rtol=1e-10, atol=1e-12)


def test_leave_one_out_standardized_refuses_past_its_work_limit(monkeypatch):
    from fastcost import _cv_path

    monkeypatch.setattr(_cv_path, "LOO_STANDARDIZED_MAX_WORK", 10 * (2e4 + 6**3))
    X, y, _ = _data(n=11, d=4, seed=12)
    with pytest.raises(NotImplementedError, match="11 training sets"):
        LinearRegressionCV(standardize=True).fit(X, y)
    LinearRegressionCV(standardize=True).fit(X[:10], y[:10])


def test_leave_one_out_equals_ridgecv_mapped():
    """Unit weights: RidgeCV(alphas=(n - 1) a, cv=None) is exact LOO of fastcost's alpha a."""
    X, y, _ = _data(n=60, d=5, seed=5)
    n = X.shape[0]
    alphas = np.array([1e-3, 0.05, 0.3, 2.0])
    est = LinearRegressionCV(alphas=alphas).fit(X, y)
    ridge = RidgeCV(alphas=(n - 1) * alphas, cv=None).fit(X, y)
    np.testing.assert_allclose(ridge.alpha_, (n - 1) * est.alpha_, rtol=1e-12)
    np.testing.assert_allclose(ridge.best_score_, est.best_score_, rtol=1e-9)
    # RidgeCV refits with penalty (n - 1) alpha_ on n rows: fastcost's alpha_ (n - 1) / n.
    ref = LinearRegression(alpha=est.alpha_ * (n - 1) / n, solver="newton").fit(X, y)
    np.testing.assert_allclose(ridge.coef_, ref.coef_, rtol=1e-9)


def test_multi_output_leave_one_out():
    X, Y, _ = _data(n=30, d=3, k=2, seed=6)
    alphas = (1e-2, 1.0)
    est = LinearRegressionCV(alphas=alphas, alpha_per_target=True).fit(X, Y)
    for t in range(2):
        mse, _ = _brute_loo(X, Y[:, t], None, alphas)
        np.testing.assert_allclose(est.cv_results_["mean_test_score"][:, t], -mse, rtol=RTOL)


def test_prestige_table():
    import pandas as pd

    df = pd.read_csv(DATA / "Prestige.csv").dropna()
    X = df[["education", "income", "women", "census"]].to_numpy(dtype=np.float64)
    y = df["prestige"].to_numpy(dtype=np.float64)
    alphas = tuple(np.logspace(-4, 2, 7))
    est = LinearRegressionCV(alphas=alphas, cv=KFold(5, shuffle=True, random_state=0),
                             standardize=True)  # fmt: skip
    _check_against_brute(est, X, y, None, alphas=alphas)
    assert 0 < est.cv_results_["rank_test_score"].min() == 1


def test_rank_deficient_alpha_zero_is_minimum_norm():
    X, y, _ = _data(n=80, d=4, seed=7)
    X = np.c_[X, X[:, 0] + X[:, 1]]  # exactly collinear
    cv = KFold(4, shuffle=True, random_state=7)
    est = LinearRegressionCV(alphas=(0.0, 1.0), cv=cv)
    with pytest.warns(RankDeficientWarning):
        ref = _brute(X, y, None, list(cv.split(X)), (0.0, 1.0), None)
    with warnings.catch_warnings():  # the refit warns if alpha_ is 0
        warnings.simplefilter("ignore", RankDeficientWarning)
        est.fit(X, y)
    np.testing.assert_allclose(est.cv_results_["mean_test_score"], ref.mean(0), rtol=1e-8)
    assert "minimum-norm" in est.fit_info_


def test_grouped_gram_stats_against_numpy():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(500, 7))
    Y = rng.normal(size=(500, 2))
    sw = rng.uniform(size=500)
    groups = rng.integers(-1, 4, size=500)
    for Xo in (X, np.asfortranarray(X), X.astype(np.float32)):
        Yo = Y.astype(Xo.dtype)
        st = _core.grouped_gram_stats(Xo, Yo, sw.astype(Xo.dtype), groups, 4)
        shift = st["shift"]
        assert st["gram"].shape == (4, 10, 10)
        tol = 1e-12 if Xo.dtype == np.float64 else 1e-5
        for g in range(4):
            rows = groups == g
            Z = np.c_[Xo[rows] - shift[:7], Yo[rows] - shift[7:], np.ones(rows.sum())]
            ref = (Z * sw[rows, None]).T @ Z
            np.testing.assert_allclose(st["gram"][g], ref, rtol=tol, atol=tol * np.abs(ref).max())
            assert st["counts"][g] == rows.sum()
        # Deterministic for any thread count.
        again = _core.grouped_gram_stats(Xo, Yo, sw.astype(Xo.dtype), groups, 4, None, 3, 1)
        other = _core.grouped_gram_stats(Xo, Yo, sw.astype(Xo.dtype), groups, 4, None, 3, 2)
        np.testing.assert_array_equal(again["gram"], other["gram"])


def test_grouped_gram_stats_bad_groups():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="outside"):
        _core.grouped_gram_stats(X, None, None, np.array([0, 1, 2, 0, 0]), 2)
    with pytest.raises(TypeError, match="integer"):
        _core.grouped_gram_stats(X, None, None, np.zeros(5), 2)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"scoring": "accuracy"}, ValueError, "scoring"),
        ({"alphas": ()}, ValueError, "empty"),
        ({"alphas": (1.0, -0.1)}, ValueError, ">= 0"),
        ({"cv": 1}, ValueError, ">= 2"),
    ],
)
def test_bad_parameters(params, error, match):
    X, y, _ = _data(n=20, d=2)
    with pytest.raises(error, match=match):
        LinearRegressionCV(**params).fit(X, y)


def test_nan_raises():
    X, y, _ = _data(n=20, d=2)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LinearRegressionCV(cv=3).fit(X, y)
    X[3, 1] = 0.0
    y[2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LinearRegressionCV(cv=3).fit(X, y)


@pytest.mark.parametrize("weights", [False, True])
def test_wide_leave_one_out_matches_brute_force(weights):
    # d > 1000 and d > n: the eigendecomposition of the full Gram serves every row.
    rng = np.random.default_rng(73)
    n, d = 24, 1030
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, d) + rng.normal(size=d)
    y = X[:, :10] @ rng.standard_normal(10) + 2.0 + rng.standard_normal(n)
    sw = rng.uniform(0.2, 3.0, n) if weights else None
    alphas = (0.05, 1.0)
    mse, r2 = _brute_loo(X, y, sw, alphas)
    est = LinearRegressionCV(alphas=alphas).fit(X, y, sw)
    np.testing.assert_allclose(est.cv_results_["mean_test_score"], -mse, rtol=1e-9)
    est_r2 = LinearRegressionCV(alphas=alphas, scoring="r2").fit(X, y, sw)
    # R^2 is near 0 here: its relative precision is that of 1 - R^2 = SSE / SST.
    np.testing.assert_allclose(1 - est_r2.cv_results_["mean_test_score"], 1 - r2, rtol=1e-9)


def test_leave_one_out_refuses_grams_past_its_memory_limit(monkeypatch):
    from fastcost import _cv_path

    monkeypatch.setattr(_cv_path, "CV_GRAM_MAX_BYTES", 3 * 40**2 * 8)
    X = np.zeros((3, 39))
    with pytest.raises(NotImplementedError, match=r"d x d Grams.*X has 39 features"):
        LinearRegressionCV(cv=None).fit(X, np.zeros(3))
    LinearRegressionCV(cv=None, alphas=(1.0,)).fit(X[:, :38], np.arange(3.0))


@pytest.mark.parametrize("scoring", [None, "r2"])
@pytest.mark.parametrize("weights", [False, True])
def test_wide_data_runs_lbfgs_along_the_grid(scoring, weights):
    # d > 1000: each fold x alpha is an lbfgs fit of the fold's training rows (held-out
    # rows weighted 0), warm-started along the grid; against exact newton fits per fold.
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(72)
    n, d = 1500, 1020
    X = rng.standard_normal((n, d))
    Y = np.c_[X[:, :20] @ rng.standard_normal(20), X[:, 20:40] @ rng.standard_normal(20)]
    Y += rng.standard_normal((n, 2))
    s = rng.uniform(0.5, 2.0, n) if weights else None
    alphas = [0.01, 0.1, 1.0]
    folds = KFold(3, shuffle=True, random_state=0)
    cv = LinearRegressionCV(alphas=alphas, cv=folds, scoring=scoring).fit(X, Y, sample_weight=s)
    assert "lbfgs along the grid" in cv.fit_info_ and cv.n_passes_ > 3 * 3 * 2
    w = np.ones(n) if s is None else s
    for a_i, a in enumerate(alphas):
        fold_scores = []
        for train, test in folds.split(X):
            ref = LinearRegression(solver="newton", alpha=a).fit(X[train], Y[train], w[train])
            pred = ref.predict(X[test])
            if scoring == "r2":
                fold_scores.append(np.mean(r2_score(Y[test], pred, sample_weight=w[test],
                                                    multioutput="raw_values")))  # fmt: skip
            else:
                fold_scores.append(-np.mean(mean_squared_error(
                    Y[test], pred, sample_weight=w[test], multioutput="raw_values")))  # fmt: skip
        assert cv.cv_results_["mean_test_score"][a_i] == pytest.approx(np.mean(fold_scores),
                                                                        rel=1e-5)  # fmt: skip
    ref = LinearRegression(solver="newton", alpha=cv.alpha_).fit(X, Y, sample_weight=s)
    assert np.max(np.abs(cv.coef_ - ref.coef_)) < 1e-4 * np.max(np.abs(ref.coef_))


@parametrize_with_checks([LinearRegressionCV(), LinearRegressionCV(cv=3, alphas=(0.0, 1.0))])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        check(estimator)


def test_many_folds_take_the_wide_pattern_path():
    X, y, sw = _data(n=70, d=3, seed=9, weights=True)
    est = LinearRegressionCV(alphas=(1e-3, 1.0), cv=35)  # > 31 folds: unique rows of states
    _check_against_brute(est, X, y, sw, alphas=(1e-3, 1.0))


@pytest.mark.parametrize("n", [103, 100])
def test_unshuffled_kfold_laid_out_directly_equals_its_listed_splits(n):
    # cv=int (KFold without shuffling) never lists its splits: its folds are consecutive
    # row blocks; the same folds given as a list of (train, test) go the general way.
    from fastcost._cv_path import fold_atoms, splitter_atoms
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(71)
    X = rng.standard_normal((n, 4))
    y = X @ rng.standard_normal(4) + rng.standard_normal(n)
    direct = LinearRegressionCV(alphas=[0.0, 0.1, 1.0], cv=5).fit(X, y)
    listed = LinearRegressionCV(alphas=[0.0, 0.1, 1.0], cv=list(KFold(5).split(X))).fit(X, y)
    np.testing.assert_allclose(direct.cv_results_["mean_test_score"],
                               listed.cv_results_["mean_test_score"], rtol=1e-12)  # fmt: skip
    assert direct.alpha_ == listed.alpha_ and direct.n_splits_ == listed.n_splits_ == 5
    atom, train, test, k = splitter_atoms(KFold(5), n, lambda: None)
    ref_atom, ref_train, ref_test = fold_atoms(list(KFold(5).split(X)), n)
    assert k == 5 and len(np.unique(atom)) == len(np.unique(ref_atom))
    # the same rows in every fold's train and test set (atom numbers may differ)
    np.testing.assert_array_equal(train[atom], ref_train[ref_atom])
    np.testing.assert_array_equal(test[atom], ref_test[ref_atom])
    with pytest.raises(ValueError, match="n_splits=5 greater than the number of samples"):
        splitter_atoms(KFold(5), 4, lambda: None)


@pytest.mark.parametrize("cv", [KFold(5, shuffle=True, random_state=0), None], ids=["kfold", "loo"])
def test_float32_scores_keep_the_residuals_digits(cv):
    """y = X w + 0.1 noise with y's spread about 100: a held-out MSE of 0.01 is y'y
    less the fitted part to 1 part in 1e6. Float32 X and y give the scores of the
    same float32 values read in float64 (they were 60 % too large: the Gram's
    float32 lanes), and the per-fold fits' held-out MSE."""
    rng = np.random.default_rng(5)
    n, d = 3000 if cv is None else 8000, 20
    X = rng.standard_normal((n, d))
    y = X @ rng.uniform(20.0, 40.0, d) + 0.1 * rng.standard_normal(n)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    alphas = (1e-6, 1e-3)
    got = LinearRegressionCV(alphas=alphas, cv=cv).fit(X32, y32)
    ref = LinearRegressionCV(alphas=alphas, cv=cv).fit(
        X32.astype(np.float64), y32.astype(np.float64)
    )
    np.testing.assert_allclose(
        got.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-6
    )
    if cv is not None:
        mse = [
            mean_squared_error(y32[te].astype(np.float64), LinearRegression(alpha=1e-6)
                               .fit(X32[tr], y32[tr]).predict(X32[te]).astype(np.float64))
            for tr, te in cv.split(X32)
        ]  # fmt: skip
        assert -got.best_score_ == pytest.approx(np.mean(mse), rel=1e-4)
