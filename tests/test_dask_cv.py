"""LinearRegressionCV with a dask X against the local fit on the same rows."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from fastcost import LinearRegressionCV
from fastcost.exceptions import NonFiniteError
from helpers import make_problem
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

# 300 rows: one chunk, uneven chunks with a one-row chunk, more chunks than
# folds and than the reduction's fan-in (a two-level tree).
CHUNKINGS = [(300,), (1, 99, 37, 163), (20,) * 15]
ALPHAS = [0.0, 1e-3, 0.1, 10.0]
TOL = 1e-10


def _chunked(a, chunks):
    return da.from_array(a, chunks=(chunks,) + ((a.shape[1],) if a.ndim == 2 else ()))


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _assert_same(got, want):
    assert np.all(got.alpha_ == want.alpha_)
    assert _rel(got.best_score_, want.best_score_) < TOL
    for key, value in want.cv_results_.items():
        if key.endswith("_score") and key != "rank_test_score":
            assert _rel(got.cv_results_[key], value) < TOL, key
    assert np.array_equal(got.cv_results_["rank_test_score"], want.cv_results_["rank_test_score"])
    assert _rel(got.coef_, want.coef_) < TOL
    assert _rel(got.intercept_, want.intercept_) < TOL
    assert got.n_splits_ == want.n_splits_ and got.n_passes_ == want.n_passes_ == 1
    assert got.n_features_in_ == want.n_features_in_


def _problem(k=1, weights=False, seed=0):
    X, y, s = make_problem(300, 4, seed=seed, weights=weights)
    if k > 1:
        rng = np.random.default_rng(seed + 1)
        y = np.column_stack([y] + [X @ rng.normal(size=4) + rng.normal(size=300)
                                   for _ in range(k - 1)])  # fmt: skip
    return X, y, s


def _fit_both(client, est, X, y, s, chunks, groups=None, dask_y=True):
    want = LinearRegressionCV(**est.get_params()).fit(X, y, s, groups=groups)
    yd = _chunked(y, chunks) if dask_y else y
    sd = None if s is None else (_chunked(s, chunks) if dask_y else s)
    with client.as_current():
        got = LinearRegressionCV(**est.get_params()).fit(_chunked(X, chunks), yd, sd, groups=groups)
    return got, want


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_kfold_equals_local_fit(client, chunks, weights, fit_intercept):
    X, y, s = _problem(weights=weights)
    est = LinearRegressionCV(
        alphas=ALPHAS, cv=KFold(5, shuffle=True, random_state=3), fit_intercept=fit_intercept
    )
    got, want = _fit_both(client, est, X, y, s, chunks)
    _assert_same(got, want)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_group_kfold_equals_local_fit(client, chunks):
    X, y, s = _problem(weights=True, seed=2)
    groups = np.random.default_rng(0).integers(0, 12, X.shape[0])
    got, want = _fit_both(client, LinearRegressionCV(alphas=ALPHAS, cv=GroupKFold(4)), X, y, s,
                          chunks, groups=groups)  # fmt: skip
    _assert_same(got, want)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_time_series_split_equals_local_fit(client, chunks):
    # Rows before the first training set belong to no fold: an atom of their own.
    X, y, s = _problem(seed=4)
    est = LinearRegressionCV(alphas=ALPHAS, cv=TimeSeriesSplit(4, test_size=40), scoring="r2")
    got, want = _fit_both(client, est, X, y, s, chunks)
    _assert_same(got, want)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("alpha_per_target", [False, True])
def test_multi_output_equals_local_fit(client, chunks, alpha_per_target):
    X, Y, s = _problem(k=3, weights=True, seed=5)
    est = LinearRegressionCV(alphas=ALPHAS, cv=4, alpha_per_target=alpha_per_target)
    got, want = _fit_both(client, est, X, Y, s, chunks)
    _assert_same(got, want)
    assert got.coef_.shape == (3, 4)


def test_numpy_y_and_weights_and_standardize(client):
    X, y, s = _problem(weights=True, seed=6)
    est = LinearRegressionCV(alphas=ALPHAS, cv=KFold(3), standardize=True)
    got, want = _fit_both(client, est, X, y, s, CHUNKINGS[1], dask_y=False)
    _assert_same(got, want)


def test_splitter_that_reads_y(client):
    # StratifiedKFold reads y: it is computed on the client (n numbers).
    X, _, _ = _problem(seed=7)
    y = np.round(X[:, 0]).clip(-1, 1)
    got, want = _fit_both(client, LinearRegressionCV(alphas=ALPHAS, cv=StratifiedKFold(3)),
                          X, y, None, CHUNKINGS[2])  # fmt: skip
    _assert_same(got, want)


def test_dask_dataframe(client):
    import dask.dataframe as dd
    import pandas as pd

    X, y, s = _problem(weights=True, seed=8)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    want = LinearRegressionCV(alphas=ALPHAS, cv=5).fit(frame, y, s)
    with client.as_current():
        got = LinearRegressionCV(alphas=ALPHAS, cv=5).fit(
            dd.from_pandas(frame, npartitions=3), dd.from_pandas(pd.Series(y), npartitions=3), s
        )
    _assert_same(got, want)
    assert list(got.feature_names_in_) == ["a", "b", "c", "d"]


def test_nan_in_a_chunk_is_a_clear_error(client):
    X, y, _ = _problem(seed=9)
    X[157, 2] = np.nan
    with client.as_current(), pytest.raises(NonFiniteError, match=r"row 157, column 2"):
        LinearRegressionCV(alphas=ALPHAS, cv=3).fit(_chunked(X, CHUNKINGS[1]), y)
    with pytest.raises(ValueError, match="NaN"):  # NonFiniteError is a ValueError
        LinearRegressionCV(alphas=ALPHAS, cv=3).fit(X, y)


def test_bad_weights_are_refused(client):
    X, y, s = _problem(weights=True, seed=10)
    s[200] = -1.0
    with client.as_current(), pytest.raises(ValueError, match="negative"):
        LinearRegressionCV(alphas=ALPHAS, cv=3).fit(_chunked(X, CHUNKINGS[1]), y, s)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("k", [1, 2])
def test_leave_one_out_on_dask_equals_the_local_fit(client, chunks, weights, k):
    """cv=None: the total Gram in one map-reduce, the held-out residuals of every
    chunk in a second; the scores, alpha_ and coef_ of the local fit to rounding."""
    X, y, s = _problem(k=k, weights=weights, seed=12)
    alphas = [1e-3, 0.1, 10.0]
    local = LinearRegressionCV(alphas=alphas, alpha_per_target=k > 1).fit(X, y, s)
    with client.as_current():
        dist = LinearRegressionCV(alphas=alphas, alpha_per_target=k > 1).fit(
            _chunked(X, chunks), y, None if s is None else _chunked(s, chunks)
        )
    np.testing.assert_allclose(
        dist.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-10
    )
    np.testing.assert_array_equal(dist.alpha_, local.alpha_)
    np.testing.assert_allclose(dist.coef_, local.coef_, rtol=1e-10, atol=1e-12)
    assert dist.n_passes_ == 2 and dist.n_splits_ == X.shape[0]


@pytest.mark.parametrize("chunks", CHUNKINGS[:2])
@pytest.mark.parametrize("weights", [False, True])
def test_leave_one_out_standardized_on_dask_equals_the_local_fit(client, chunks, weights):
    """cv=None with standardize: every chunk's rows held out of training sets
    standardized by their own moments, on the workers; the local fit's scores."""
    X, y, s = _problem(weights=weights, seed=14)
    alphas = [1e-3, 0.1, 10.0]
    local = LinearRegressionCV(alphas=alphas, standardize=True).fit(X, y, s)
    with client.as_current():
        dist = LinearRegressionCV(alphas=alphas, standardize=True).fit(
            _chunked(X, chunks), y, None if s is None else _chunked(s, chunks)
        )
    np.testing.assert_allclose(
        dist.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-10
    )
    np.testing.assert_allclose(dist.coef_, local.coef_, rtol=1e-10, atol=1e-12)
    assert "standardized by its own moments" in dist.fit_info_ and dist.n_passes_ == 2


@pytest.mark.parametrize("cv", [None, 3])
def test_wide_data_on_dask_takes_the_gram_path(client, cv):
    """Above 1000 features a dask X keeps the statistics path (leave-one-out and
    folds); the local fit it is compared with: leave-one-out's Gram path, or, with
    folds, brute-force newton fits per fold."""
    rng = np.random.default_rng(13)
    n, d = 60, 1010
    X = rng.standard_normal((n, d)) + rng.normal(size=d)
    y = X[:, :8] @ rng.standard_normal(8) + 1.0 + rng.standard_normal(n)
    alphas = [0.05, 1.0]
    with client.as_current():
        dist = LinearRegressionCV(alphas=alphas, cv=cv).fit(_chunked(X, (25, 35)), y)
    if cv is None:
        local = LinearRegressionCV(alphas=alphas).fit(X, y)
        np.testing.assert_allclose(
            dist.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-10
        )
    else:
        from fastcost import LinearRegression

        ref = []
        for a in alphas:
            mse = []
            for tr, te in KFold(3).split(X):
                m = LinearRegression(alpha=a, solver="newton").fit(X[tr], y[tr])
                mse.append(np.mean((m.predict(X[te]) - y[te]) ** 2))
            ref.append(-np.mean(mse))
        np.testing.assert_allclose(dist.cv_results_["mean_test_score"], ref, rtol=1e-9)
    full = LinearRegressionCV(alphas=(dist.alpha_,), cv=None).fit(X, y)
    np.testing.assert_allclose(dist.coef_, full.coef_, rtol=1e-9, atol=1e-12)


def test_runs_on_the_current_client(client, monkeypatch):
    import distributed

    def no_cluster(*args, **kwargs):
        raise AssertionError("a LocalCluster was started despite a current client")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    X, y, _ = _problem(seed=11)
    got, want = _fit_both(client, LinearRegressionCV(alphas=ALPHAS, cv=3), X, y, None,
                          CHUNKINGS[1])  # fmt: skip
    _assert_same(got, want)


def test_without_a_client_an_embedded_cluster_is_used():
    X, y, _ = _problem(seed=12)
    want = LinearRegressionCV(alphas=ALPHAS, cv=3).fit(X, y)
    got = LinearRegressionCV(alphas=ALPHAS, cv=3).fit(_chunked(X, CHUNKINGS[1]), y)
    _assert_same(got, want)


@pytest.mark.parametrize("cv", [KFold(4, shuffle=True, random_state=0), None], ids=["kfold", "loo"])
def test_float32_chunks_keep_the_residuals_digits(client, cv):
    """Float32 chunks: the held-out scores of the local float32 fit (read in float64)."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((2400, 20)).astype(np.float32)  # wide enough for the tiled Gram
    y = X.astype(np.float64) @ rng.uniform(20.0, 40.0, 20) + 0.1 * rng.standard_normal(2400)
    y = y.astype(np.float32)
    alphas = (1e-6, 1e-2)
    local = LinearRegressionCV(alphas=alphas, cv=cv).fit(X, y)
    with client.as_current():
        dist = LinearRegressionCV(alphas=alphas, cv=cv).fit(da.from_array(X, chunks=(600, -1)), y)
    np.testing.assert_allclose(
        dist.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-9
    )
    ref = LinearRegressionCV(alphas=alphas, cv=cv).fit(X.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(
        dist.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-6
    )
