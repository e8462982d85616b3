"""LinearRegressionCV on a dask DataFrame with text or category columns against
the local fit on the same pandas frame (tests/test_cv_tables.py checks that one
against brute-force LinearRegression fits per fold)."""

from __future__ import annotations

import warnings

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from fastcost import LinearRegressionCV
from sklearn.model_selection import GroupKFold, KFold
from test_cv_tables import _salaries, _synthetic

ALPHAS = (0.0, 1e-4, 0.01, 0.3, 5.0)
TOL = 1e-10
# Row counts of the partitions (the last takes the rest): one partition, uneven
# ones with an empty first partition and a one-row one, more partitions than the
# reduction's fan-in.
PARTITIONS = {"one": (), "uneven": (0, 1, 150, 37), "many": (30,) * 11}


def _cuts(sizes, n):
    return np.r_[0, np.cumsum(sizes), n] if sizes else np.r_[0, n]


def _split(obj, sizes):
    """A pandas frame or series as a dask one with these partitions (from delayed
    pieces, so that the rows of each are exactly the ones given)."""
    cuts = _cuts(sizes, len(obj))
    pieces = [dask.delayed(obj.iloc[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    return dd.from_delayed(pieces, meta=obj.iloc[:0], verify_meta=False)


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _assert_same(got, want, n_passes):
    assert got.alpha_ == want.alpha_
    assert _rel(got.best_score_, want.best_score_) < TOL
    for key, value in want.cv_results_.items():
        if key.endswith("_score") and key != "rank_test_score":
            assert _rel(got.cv_results_[key], value) < TOL, key
    assert set(got.cv_results_) == set(want.cv_results_)
    assert np.array_equal(got.cv_results_["rank_test_score"], want.cv_results_["rank_test_score"])
    assert _rel(got.coef_, want.coef_) < TOL
    assert abs(got.intercept_ - want.intercept_) <= TOL * max(abs(want.intercept_), 1.0)
    assert list(got.feature_names_out_) == list(want.feature_names_out_)
    assert np.array_equal(got.reference_levels_dropped_, want.reference_levels_dropped_)
    assert got.n_splits_ == want.n_splits_ and got.n_passes_ == want.n_passes_ == n_passes
    assert got.n_features_in_ == want.n_features_in_
    assert list(got.feature_names_in_) == list(want.feature_names_in_)


def _fit_both(client, est, df, y, sw, sizes, how="dask", groups=None):
    """The local fit and the Dask one (y and the weights dask series with X's
    partitions, or numpy with ``how="numpy"``)."""
    with warnings.catch_warnings():  # the local fit's note on the missing values
        warnings.filterwarnings("ignore", "column .* missing value", UserWarning)
        want = LinearRegressionCV(**est.get_params()).fit(df, y, sw, groups=groups)
    yd, sd = y, sw
    if how == "dask":
        yd = _split(pd.Series(y), sizes)
        sd = None if sw is None else _split(pd.Series(sw), sizes)
    with client.as_current():
        got = LinearRegressionCV(**est.get_params()).fit(_split(df, sizes), yd, sd, groups=groups)
    return got, want


def _check_predict(client, got, want, df, sizes):
    ref = want.predict(df)
    atol = 1e-9 * np.abs(ref).max()
    np.testing.assert_allclose(got.predict(df), ref, rtol=1e-9, atol=atol)
    with client.as_current():
        pred = got.predict(_split(df, sizes))
    assert isinstance(pred, np.ndarray)
    np.testing.assert_allclose(pred, ref, rtol=1e-9, atol=atol)


def _weights(n, seed=1):
    return np.random.default_rng(seed).uniform(0.2, 3.0, size=n)


@pytest.mark.parametrize("sizes", PARTITIONS.values(), ids=PARTITIONS)
@pytest.mark.parametrize(
    ("weights", "standardize", "scoring"),
    [(None, False, None), ("numpy", True, "r2"), ("dask", False, "r2"), ("dask", True, None)],
)
def test_salaries_kfold_shuffle(client, sizes, weights, standardize, scoring):
    df, y = _salaries()
    sw = None if weights is None else _weights(len(y))
    est = LinearRegressionCV(alphas=ALPHAS, cv=KFold(5, shuffle=True, random_state=0),
                             scoring=scoring, standardize=standardize)  # fmt: skip
    got, want = _fit_both(client, est, df, y, sw, sizes, how=weights or "dask")
    _assert_same(got, want, 1)
    assert "one pass over the table" in got.fit_info_
    if weights is None:
        _check_predict(client, got, want, df, sizes)


def test_salaries_alpha_zero_drops_the_reference_levels(client):
    df, y = _salaries()
    est = LinearRegressionCV(alphas=(0.0, 50.0), cv=4)  # KFold without shuffling
    got, want = _fit_both(client, est, df, y, None, PARTITIONS["uneven"])
    _assert_same(got, want, 1)
    assert got.alpha_ == 0.0 and got.reference_levels_dropped_.all()


def _sorted_synthetic():
    """The synthetic table sorted by city: each partition holds a few cities only
    (and the missing ones, sorted last, one partition)."""
    df, y = _synthetic(n=400, seed=3)
    order = np.argsort(df["city"].fillna("~").to_numpy(), kind="stable")
    return df.iloc[order].reset_index(drop=True), y[order]


@pytest.mark.parametrize("sizes", PARTITIONS.values(), ids=PARTITIONS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_group_kfold_with_levels_missing_from_partitions(client, sizes, fit_intercept):
    df, y = _sorted_synthetic()
    groups = np.random.default_rng(0).integers(0, 9, len(y))
    sw = _weights(len(y), seed=2)
    est = LinearRegressionCV(alphas=ALPHAS, cv=GroupKFold(4), fit_intercept=fit_intercept)
    got, want = _fit_both(client, est, df, y, sw, sizes, groups=groups)
    _assert_same(got, want, 1)
    _check_predict(client, got, want, df, sizes)


def test_dask_groups_and_a_category_column(client):
    df, y = _sorted_synthetic()
    df["kind"] = df["kind"].astype("category")
    groups = np.random.default_rng(1).integers(0, 7, len(y))
    sizes = PARTITIONS["uneven"]
    with pytest.warns(UserWarning, match="missing value"):
        want = LinearRegressionCV(alphas=ALPHAS, cv=GroupKFold(3)).fit(df, y, groups=groups)
    with client.as_current():
        got = LinearRegressionCV(alphas=ALPHAS, cv=GroupKFold(3)).fit(
            _split(df, sizes), y, groups=_split(pd.Series(groups), sizes)
        )
    _assert_same(got, want, 1)


class _SplitOnY:
    """A splitter of its own that reads y (so the Dask fit computes it to numpy)."""

    def get_n_splits(self, X=None, y=None, groups=None):
        return 2

    def split(self, X, y, groups=None):
        high = np.asarray(y) > np.median(y)
        rows = np.arange(len(high))
        yield rows[high], rows[~high]
        yield rows[~high], rows[high]


def test_a_splitter_that_reads_y(client):
    df, y = _salaries()
    est = LinearRegressionCV(alphas=ALPHAS, cv=_SplitOnY())
    got, want = _fit_both(client, est, df, y, None, PARTITIONS["many"])
    _assert_same(got, want, 1)


@pytest.mark.parametrize("sizes", [PARTITIONS["one"], PARTITIONS["many"]], ids=["one", "many"])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("weights", [None, "numpy", "dask"])
def test_leave_one_out(client, sizes, standardize, weights):
    df, y = _salaries()
    sw = None if weights is None else _weights(len(y), seed=4)
    est = LinearRegressionCV(alphas=ALPHAS, standardize=standardize)
    got, want = _fit_both(client, est, df, y, sw, sizes, how=weights or "dask")
    _assert_same(got, want, 2)
    assert "leave-one-out" in got.fit_info_


@pytest.mark.parametrize("standardize", [False, True])
def test_leave_one_out_with_levels_missing_from_partitions(client, standardize):
    df, y = _sorted_synthetic()
    df, y = df.iloc[::2].reset_index(drop=True), y[::2]  # 200 rows
    est = LinearRegressionCV(alphas=(0.0, 0.01, 1.0), standardize=standardize, scoring="r2")
    got, want = _fit_both(client, est, df, y, _weights(len(y)), PARTITIONS["uneven"])
    _assert_same(got, want, 2)


def test_numeric_dask_frame_keeps_the_array_path(client):
    df, y = _salaries()
    num = df[["yrs.since.phd", "yrs.service"]].astype(np.float64)
    with client.as_current():
        got = LinearRegressionCV(alphas=ALPHAS, cv=3).fit(dd.from_pandas(num, npartitions=2), y)
    assert not hasattr(got, "encoder_") and got.coef_.shape == (2,)


def test_bad_weights_are_refused(client):
    df, y = _salaries()
    sw = _weights(len(y))
    sw[100] = -1.0
    with client.as_current(), pytest.raises(ValueError, match="negative"):
        LinearRegressionCV(alphas=ALPHAS, cv=3).fit(
            _split(df, (200,)), y, _split(pd.Series(sw), (200,))
        )
