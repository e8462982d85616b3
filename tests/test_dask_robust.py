"""Robust covariance types (HC0-HC3, cluster) on Dask against the local estimator
and statsmodels, for any chunking; the refusals of what the chunks cannot give."""

from __future__ import annotations

import dask.array as da
import dask.dataframe as dd
import fastcost
import fastcost.dask as fdask
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import dask_split
from test_robust import HC, prestige, random_data, rel, sm_fit, stderr

ROBUST = [*HC, "cluster"]
# Chunkings of 300 rows: one chunk, uneven ones with a one-row chunk, and more
# chunks than the reduction's fan-in (a two-level tree).
CHUNKINGS = [(300,), (1, 149, 100, 50), (20,) * 15]


def _weights(groups):
    """Weights with zeros, among them every row of group 3: a cluster without an
    observation, which neither n nor G counts."""
    sw = np.random.default_rng(1).uniform(0.2, 3.0, groups.size)
    sw[::23] = 0.0
    sw[groups == 3] = 0.0
    return sw


@pytest.mark.parametrize("cov_type", ROBUST)
@pytest.mark.parametrize(("fit_intercept", "weighted"), [(True, True), (False, False)])
def test_equals_local_and_statsmodels_for_any_chunking(client, cov_type, fit_intercept, weighted):
    X, y, g = random_data(n=300, d=4, seed=3, hetero=True)
    sw = _weights(g) if weighted else None
    groups = g if cov_type == "cluster" else None
    kw = {"compute_statistics": cov_type, "fit_intercept": fit_intercept, "solver": "qr"}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=sw, groups=groups)
    ref = sm_fit(X, y, sw, fit_intercept, cov_type, groups)
    assert rel(stderr(local), ref.bse) < 1e-10
    for chunks in CHUNKINGS:
        Xd, yd, sd = dask_split(X, y, sw, chunks)
        model = fdask.LinearRegression(client=client, **kw)
        model.fit(Xd, yd, sample_weight=sd, groups=groups)
        assert model.cov_type_ == cov_type
        assert rel(model.cov_params_, local.cov_params_) < 1e-10, chunks
        assert rel(stderr(model), stderr(local)) < 1e-10, chunks
        assert rel(stderr(model), ref.bse) < 1e-10, chunks
        assert rel(model.cov_params_, ref.cov_params()) < 1e-9, chunks
        if cov_type == "cluster":
            assert model.n_groups_ == local.n_groups_ == (16 if weighted else 17)
        # qr's pass and the meat's, one round trip each.
        assert model.n_passes_ == local.n_passes_ == 2
        assert model.round_trips_ == 2
        assert model.fit_report_.passes == 2


def test_groups_as_dask_collections_and_lists(client):
    X, y, g = random_data(n=300, d=3, seed=4, hetero=True)
    Xd, yd, _ = dask_split(X, y, None, (100, 120, 80))
    kw = {"compute_statistics": "cluster", "solver": "newton", "client": client}
    local = fastcost.LinearRegression(compute_statistics="cluster").fit(X, y, groups=g)
    ref = sm_fit(X, y, None, True, "cluster", g)
    labels = np.array([f"g{v}" for v in g], dtype=object)
    for groups, trips in [
        (da.from_array(g, chunks=70), 3),  # chunks unlike X's: gathered first
        (dd.from_pandas(pd.Series(labels), npartitions=4), 3),
        (list(g), 2),
        (pd.Series(labels), 2),
    ]:
        model = fdask.LinearRegression(**kw).fit(Xd, yd, groups=groups)
        assert rel(model.cov_params_, local.cov_params_) < 1e-10
        assert rel(stderr(model), ref.bse) < 1e-10
        assert model.n_groups_ == 17
        assert model.round_trips_ == trips and model.n_passes_ == 2


def test_real_table_as_dask_dataframe(client):
    X, y, labels = prestige()
    frame = pd.DataFrame(X, columns=["education", "income", "women"])
    Xd = dd.from_pandas(frame, npartitions=3)
    yd = dd.from_pandas(pd.Series(y), npartitions=3)
    for cov_type in ("HC3", "cluster"):
        groups = labels if cov_type == "cluster" else None
        model = fdask.LinearRegression(client=client, compute_statistics=cov_type)
        model.fit(Xd, yd, groups=groups)
        local = fastcost.LinearRegression(compute_statistics=cov_type).fit(X, y, groups=groups)
        assert rel(stderr(model), sm_fit(X, y, None, True, cov_type, groups).bse) < 1e-10
        assert rel(model.cov_params_, local.cov_params_) < 1e-10
        assert list(model.feature_names_in_) == list(frame.columns)


def test_iterative_solver_and_float32(client):
    X, y, g = random_data(n=300, d=3, seed=5, hetero=True)
    sw = _weights(g)
    Xd, yd, sd = dask_split(X, y, sw, (150, 150))
    kw = {"compute_statistics": "HC2", "solver": "lbfgs", "tol": 1e-12}
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=sw)
    assert rel(stderr(model), stderr(local)) < 1e-7
    assert model.n_passes_ == local.n_passes_  # the loop's, the factor's and the meat's
    assert model.round_trips_ == model.n_passes_ + 1  # and lbfgs' start
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    Xd, yd, _ = dask_split(X32, y32, None, (1, 299))
    model = fdask.LinearRegression(client=client, compute_statistics="HC1").fit(Xd, yd)
    local = fastcost.LinearRegression(compute_statistics="HC1").fit(X32, y32)
    assert rel(stderr(model), stderr(local)) < 2e3 * np.finfo(np.float32).eps


def test_refusals(client):
    X, y, g = random_data(n=120, d=3, seed=6)
    Xd, yd, _ = dask_split(X, y, None, (60, 60))
    model = fdask.LinearRegression(client=client, compute_statistics="HC0").fit(Xd, yd)
    before = model.coef_stderr_.copy()
    Xs = da.from_array(sp.csr_matrix(X), chunks=(60, 3), asarray=False)
    with pytest.raises(NotImplementedError, match="dense numeric chunks.*sparse"):
        model.fit(Xs, yd)
    np.testing.assert_array_equal(model.coef_stderr_, before)  # a failed fit changes nothing
    frame = pd.DataFrame({"a": X[:, 0], "c": pd.Categorical(np.where(g % 2, "u", "v"))})
    with pytest.raises(NotImplementedError, match="categorical or text columns"):
        fdask.LinearRegression(client=client, compute_statistics="HC3").fit(
            dd.from_pandas(frame, npartitions=2), y
        )
    with pytest.raises(ValueError, match="needs fit"):
        fdask.LinearRegression(client=client, compute_statistics="cluster").fit(Xd, yd)
    with pytest.raises(ValueError, match="cluster"):
        fdask.LinearRegression(client=client, compute_statistics="HC1").fit(Xd, yd, groups=g)
    with pytest.raises(ValueError, match="119 labels"):
        fdask.LinearRegression(client=client, compute_statistics="cluster").fit(
            Xd, yd, groups=da.from_array(g[:-1], chunks=60)
        )
    # The classical covariance still takes sparse chunks.
    classical = fdask.LinearRegression(client=client, compute_statistics=True).fit(Xs, yd)
    assert classical.cov_type_ == "classical"
