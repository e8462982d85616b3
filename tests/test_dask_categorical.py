"""Categorical columns on Dask: a dask DataFrame with text and category columns
fits as the local estimator fits the same pandas frame (and as numpy's least
squares on the one-hot matrix, through tests/test_categorical.py's reference)."""

from __future__ import annotations

import dask.dataframe as dd
import fastcost
import fastcost._categorical as categorical
import fastcost.dask as fdask
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from test_categorical import lstsq_reference


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=":0") as cluster,
        Client(cluster, set_as_default=False) as c,
    ):  # fmt: skip
        yield c


def frame(n: int = 1200, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2)) * [1.0, 5.0]
    c0 = rng.integers(0, 4, n)
    c1 = rng.integers(0, 30, n)
    c0[:4], c1[:30] = np.arange(4), np.arange(30)
    df = pd.DataFrame({
        "x0": X[:, 0], "x1": X[:, 1],
        "c0": pd.array([f"v{i}" for i in c0], dtype="str"),
        "c1": pd.Categorical.from_codes(c1, [f"L{i:02d}" for i in range(30)]),
    })  # fmt: skip
    y = X @ [2.0, -1.0] + rng.standard_normal(4)[c0] + rng.standard_normal(30)[c1]
    y = y + 0.1 * rng.standard_normal(n)
    return df, X, [c0, c1], y


@pytest.mark.parametrize("solver", ["newton", "qr"])
def test_dask_frame_equals_the_local_fit_and_numpy(client, solver: str) -> None:
    df, X, codes, y = frame()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    ddf = dd.from_pandas(df, npartitions=5)
    dy = dd.from_pandas(pd.Series(y), npartitions=5)
    dsw = dd.from_pandas(pd.Series(sw), npartitions=5)
    model = fdask.LinearRegression(solver=solver, client=client).fit(ddf, dy, dsw)
    local = fastcost.LinearRegression(solver=solver).fit(df, y, sw)
    ref, b = lstsq_reference(X, codes, (4, 30), y, sw=sw)
    np.testing.assert_allclose(model.coef_, ref, atol=1e-10 * np.abs(ref).max())
    np.testing.assert_allclose(model.coef_, local.coef_, atol=1e-11)
    assert model.intercept_ == pytest.approx(b, abs=1e-9)
    assert list(model.feature_names_out_) == list(local.feature_names_out_)
    assert model.n_chunks_ == 5 and "Dask partitions" in model.fit_info_
    pred = model.predict(ddf).compute().to_numpy()
    np.testing.assert_allclose(pred, local.predict(df), atol=1e-10)
    r2 = 1.0 - np.average((y - pred) ** 2, weights=sw) / np.average(
        (y - np.average(y, weights=sw)) ** 2, weights=sw
    )
    for target, weight in ((dy, dsw), (y, sw)):  # dask or numpy y and weights
        assert model.score(ddf, target, weight) == pytest.approx(r2, rel=1e-12)


def test_dask_block_arrow_and_ridge(client, monkeypatch: pytest.MonkeyPatch) -> None:
    df, X, codes, y = frame(seed=2)
    monkeypatch.setattr(categorical, "ARROW_MIN_LEVELS", 10)
    ddf = dd.from_pandas(df, npartitions=3)
    model = fdask.LinearRegression(solver="newton", alpha=0.01, client=client).fit(ddf, y)
    ref, b = lstsq_reference(X, codes, (4, 30), y, alpha=0.01)
    np.testing.assert_allclose(model.coef_, ref, atol=1e-10 * np.abs(ref).max())
    assert model.intercept_ == pytest.approx(b, abs=1e-9)


def _rel(a, b):  # type: ignore[no-untyped-def]
    return float(np.abs(np.asarray(a) - b).max() / np.abs(b).max())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("standardize", [False, True])
def test_dask_frame_iterative_solvers_step_for_step(client, solver: str, standardize: bool) -> None:
    # The local fit's compiled loop over the partitions: the same iterates (lbfgs
    # takes its row sample here, as the local pass does: no level column is
    # collinear by construction), up to the rounding of the partitions' sums.
    df, X, codes, y = frame()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    # gd needs thousands of steps here: 30 of them are compared (one round trip each).
    kw: dict = {"solver": solver, "standardize": standardize, "tol": 1e-8, "max_iter": 5000}
    if solver == "gd":
        kw.update(tol=1e-6, max_iter=30)
    local = fastcost.LinearRegression(**kw).fit(df, y, sw)
    if solver == "lbfgs":
        ref, _ = lstsq_reference(X, codes, (4, 30), y, sw=sw)
        assert _rel(local.coef_, ref) <= 1e-5
    for parts in (1, 5):
        ddf = dd.from_pandas(df, npartitions=parts)
        dy = dd.from_pandas(pd.Series(y), npartitions=parts)
        dsw = dd.from_pandas(pd.Series(sw), npartitions=parts)
        model = fdask.LinearRegression(client=client, **kw).fit(ddf, dy, dsw)
        assert model.n_iter_ == local.n_iter_, parts
        assert model.n_passes_ == local.n_passes_, parts
        # The partitions' sums (and the sample's Grams, summed per block here and per
        # group of blocks locally) round otherwise: over the iterations that reaches
        # ~1e-9 of the coefficients on this design (rare levels).
        assert _rel(model.coef_, local.coef_) <= 1e-8, parts
        assert model.intercept_ == pytest.approx(local.intercept_, rel=1e-8)
        assert model.fit_info_.split("; ")[1:] == local.fit_info_.split("; ")[1:]
        # One round trip for the levels, one to start (with standardize's read of X
        # in it), one per probe read of X.
        assert model.round_trips_ == model.n_passes_ + 2 - standardize
        pred = model.predict(ddf).compute().to_numpy()
        np.testing.assert_allclose(pred, local.predict(df), rtol=1e-7, atol=1e-7)


def test_dask_frame_lbfgs_without_sample_and_unweighted(client) -> None:
    # A ridge keeps every level's column: collinear by construction with the
    # intercept, so both passes decline lbfgs' row sample; no weights; y in memory.
    df, X, codes, y = frame(seed=3)
    kw = {"solver": "lbfgs", "alpha": 0.01, "tol": 1e-8}
    assert not fastcost._core.mixed_takes_row_sample(2, [4, 30], [False, False], True)
    local = fastcost.LinearRegression(**kw).fit(df, y)
    model = fdask.LinearRegression(client=client, **kw).fit(dd.from_pandas(df, npartitions=4), y)
    # A table's sums are added per chunk (README): they round as the local
    # shards' do not, so the stop test may land one step apart; the same answer.
    assert abs(model.n_iter_ - local.n_iter_) <= 1
    assert _rel(model.coef_, local.coef_) <= (1e-10 if model.n_iter_ == local.n_iter_ else 1e-6)
    ref, _ = lstsq_reference(X, codes, (4, 30), y, alpha=0.01)
    assert _rel(model.coef_, ref) <= 1e-5


def test_dask_frame_sgd_refused_clearly(client) -> None:
    df, X, codes, y = frame()
    ddf = dd.from_pandas(df, npartitions=2)
    with pytest.raises(NotImplementedError, match="not available"):
        fdask.LinearRegression(solver="sgd", client=client).fit(ddf, y)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_dask_frame_with_an_empty_first_partition(client, solver: str) -> None:
    import dask

    df, X, codes, y = frame(n=600, seed=3)
    cuts = (0, 0, 1, 250, 600)  # an empty first partition, then a one-row one

    def split(obj):  # type: ignore[no-untyped-def]
        pieces = [dask.delayed(obj.iloc[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        return dd.from_delayed(pieces, meta=obj.iloc[:0], verify_meta=False)

    model = fdask.LinearRegression(solver=solver, client=client, tol=1e-12)
    model.fit(split(df), split(pd.Series(y)))
    ref, b = lstsq_reference(X, codes, (4, 30), y)
    np.testing.assert_allclose(model.coef_, ref, atol=1e-8 * np.abs(ref).max())
    assert model.intercept_ == pytest.approx(b, abs=1e-8)


def test_dask_frame_applies_the_table_rules_with_the_whole_data(client) -> None:
    """A text column of 60 levels over 2,000 rows is categorical (the encoder sees
    one row per level, where it looked like identifiers and was dropped); an
    unnamed column counting the rows is the index and a column of distinct names
    is left out, with the local fit's notes; the fit equals numpy's lstsq."""
    rng = np.random.default_rng(4)
    n = 2000
    g = rng.integers(0, 60, n)
    g[:60] = np.arange(60)
    df = pd.DataFrame({
        "Unnamed: 0": np.arange(n), "x": rng.standard_normal(n),
        "g": pd.array([f"L{i:02d}" for i in g], dtype="str"),
        "name": pd.array([f"p{i}" for i in range(n)], dtype="str"),
    })  # fmt: skip
    y = 2.0 * df["x"].to_numpy() + rng.standard_normal(60)[g] + 0.1 * rng.standard_normal(n)
    with pytest.warns(UserWarning) as local_notes:
        local = fastcost.LinearRegression().fit(df, y)
    ddf, dy = dd.from_pandas(df, npartitions=3), dd.from_pandas(pd.Series(y), npartitions=3)
    with pytest.warns(UserWarning) as dask_notes:
        model = fdask.LinearRegression(client=client).fit(ddf, dy)
    assert [str(w.message) for w in dask_notes] == [str(w.message) for w in local_notes]
    assert len(local_notes) == 2 and "counting the rows (0..1999)" in str(local_notes[0].message)
    assert list(model.feature_names_out_) == list(local.feature_names_out_)
    assert len(model.feature_names_out_) == 61
    ref, b = lstsq_reference(df[["x"]].to_numpy(), [g], (60,), y)
    np.testing.assert_allclose(model.coef_, ref, atol=1e-10 * np.abs(ref).max())
    assert model.intercept_ == pytest.approx(b, abs=1e-9)
