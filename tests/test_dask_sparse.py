"""fastcost.dask on dask arrays of scipy.sparse chunks (and local scipy.sparse X):
every solver against the local sparse fit (fastcost._sparse) and numpy's float64
least squares on the densified matrix."""

from __future__ import annotations

import dask
import dask.array as da
import fastcost
import fastcost.dask as fdask
import numpy as np
import pytest
import scipy.sparse as sp
from fastcost.exceptions import NonFiniteError
from helpers import convert_sparse, reference_fit, sparse_problem

N, D = 240, 10

# Chunkings of N rows: one chunk, even chunks, uneven ones with a one-row chunk,
# and more chunks than the reduction's fan-in (a two-level tree).
CHUNKINGS = [(N,), (60,) * 4, (1, 119, 40, 80), (16,) * 15]

# (format, container, index dtype) of the chunks.
CONTAINERS = [
    ("csr", "matrix", np.int32),
    ("csr", "array", np.int64),
    ("csc", "matrix", np.int64),
    ("csc", "array", np.int32),
]


def to_dask(X, y, s, chunks, columns=None):
    """Dask arrays of sparse chunks of X (``chunks`` rows each) and dense y, s."""
    Xd = da.from_array(X, chunks=(chunks, columns or X.shape[1]), asarray=False)
    yd = da.from_array(y, chunks=(chunks,))
    sd = None if s is None else da.from_array(s, chunks=(chunks,))
    return Xd, yd, sd


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _close_to(model, other, rtol):
    assert _rel(model.coef_, other.coef_) <= rtol
    assert abs(model.intercept_ - other.intercept_) <= rtol * max(1.0, abs(other.intercept_))


# ------------------------------------------------------------------------ newton


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_newton_equals_local_sparse_and_dense_fits(client, chunks, fit_intercept, weights, alpha):
    X, y, s = sparse_problem(n=N, d=D, seed=1, weights=weights)
    kw = {"solver": "newton", "alpha": alpha, "fit_intercept": fit_intercept}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    dense = fastcost.LinearRegression(**kw).fit(X.toarray(), y, sample_weight=s)
    w_ref, b_ref = reference_fit(X.toarray(), y, s, alpha=alpha, fit_intercept=fit_intercept)
    Xd, yd, sd = to_dask(X, y, s, chunks)
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    assert model.n_chunks_ == len(chunks) and model.n_passes_ == 1 and model.solver_ == "newton"
    assert "sparse Dask chunks" in model.fit_info_
    # The chunks' Grams about [0, y_0] add up to the local sparse Gram: to rounding.
    _close_to(model, local, 1e-10)
    _close_to(model, dense, 1e-10)
    assert _rel(model.coef_, w_ref) <= 1e-9
    assert abs(model.intercept_ - b_ref) <= 1e-9 * max(1.0, abs(b_ref))


def test_newton_compute_statistics_and_standardize_equal_local_fit(client):
    X, y, s = sparse_problem(n=N, d=D, seed=2, weights=True)
    Xd, yd, sd = to_dask(X, y, s, (1, 119, 40, 80))
    kw = {"solver": "newton", "compute_statistics": True}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    _close_to(model, local, 1e-10)
    np.testing.assert_allclose(model.coef_stderr_, local.coef_stderr_, rtol=1e-9)
    np.testing.assert_allclose(model.r2_, local.r2_, rtol=1e-10)
    kw = {"solver": "newton", "standardize": True, "alpha": 0.2}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    _close_to(model, local, 1e-10)


# ------------------------------------------------------------ iterative solvers

# gd's tolerance stops it before its loss decreases reach rounding: below about
# 1e-8 here, its last backtracking steps compare losses equal to rounding, so
# any other order of the sums (Dask chunks of dense X too) can take one
# evaluation more or less and end at another, equally converged, point.
TOL = {"lbfgs": 1e-10, "gd": 1e-6}


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("weights", "alpha"), [(False, 0.0), (True, 0.3)])
def test_iterative_follow_the_local_sparse_fit(
    client, solver, chunks, fit_intercept, weights, alpha
):
    X, y, s = sparse_problem(n=N, d=D, seed=3, weights=weights)
    kw = {"solver": solver, "alpha": alpha, "fit_intercept": fit_intercept, "tol": TOL[solver]}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    w_ref, b_ref = reference_fit(X.toarray(), y, s, alpha=alpha, fit_intercept=fit_intercept)
    Xd, yd, sd = to_dask(X, y, s, chunks)
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    # The same loop over the same sums (no row sample, as SparsePass): the
    # iterates agree to rounding, so do the counts.
    assert model.n_iter_ == local.n_iter_ and model.n_passes_ == local.n_passes_
    assert model.converged_ == local.converged_
    assert "sampled rows" not in model.fit_info_
    _close_to(model, local, 1e-10)
    np.testing.assert_allclose(model.loss_history_, local.loss_history_, rtol=1e-10)
    assert _rel(model.coef_, w_ref) <= 1e-5
    assert abs(model.intercept_ - b_ref) <= 1e-5 * max(1.0, abs(b_ref))


def test_lbfgs_declines_the_row_sample_as_the_local_sparse_pass(client):
    # Enough rows for lbfgs to precondition with a row sample on dense data.
    X, y, _ = sparse_problem(n=20000, d=12, density=0.5, seed=16)
    kw = {"solver": "lbfgs", "tol": 1e-10}
    assert "sampled rows" in fastcost.LinearRegression(**kw).fit(X.toarray(), y).fit_info_
    local = fastcost.LinearRegression(**kw).fit(X, y)
    model = fdask.LinearRegression(client=client, **kw).fit(*to_dask(X, y, None, 7000)[:2])
    assert "sampled rows" not in model.fit_info_
    assert model.n_iter_ == local.n_iter_ and model.n_passes_ == local.n_passes_
    _close_to(model, local, 1e-10)


def test_lbfgs_float32_chunks_and_warm_start(client):
    X, y, _ = sparse_problem(n=N, d=D, seed=4, dtype=np.float32)
    local = fastcost.LinearRegression(solver="lbfgs").fit(X, y)
    model = fdask.LinearRegression(solver="lbfgs", client=client)
    model.fit(*to_dask(X, y, None, (100, 140))[:2])
    assert model.coef_.dtype == np.float32
    assert model.n_iter_ == local.n_iter_
    assert _rel(model.coef_, local.coef_) <= 1e2 * np.finfo(np.float32).eps
    start = {"coef_init": np.linspace(-1, 1, D), "intercept_init": 2.0}
    X, y = X.astype(np.float64), y.astype(np.float64)
    local = fastcost.LinearRegression(solver="lbfgs").fit(X, y, **start)
    model.fit(*to_dask(X, y, None, (100, 140))[:2], **start)
    assert model.n_iter_ == local.n_iter_
    _close_to(model, local, 1e-10)


def test_lbfgs_prune_and_compute_statistics_equal_local_fit(client):
    X, y, s = sparse_problem(n=N, d=D, seed=5, weights=True)
    X = sp.hstack([X, X[:, [2]]], format="csr")  # a duplicate column: pruned
    Xd, yd, sd = to_dask(X, y, s, (60,) * 4)
    kw = {"solver": "lbfgs", "prune": True, "tol": 1e-10}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    assert model.n_iter_ == local.n_iter_ and model.coef_[-1] == 0.0
    _close_to(model, local, 1e-10)
    X, y, s = sparse_problem(n=N, d=D, seed=5, weights=True)
    kw = {"solver": "lbfgs", "compute_statistics": True, "tol": 1e-10}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    model = fdask.LinearRegression(client=client, **kw).fit(*to_dask(X, y, s, (60,) * 4))
    assert model.n_passes_ == local.n_passes_
    np.testing.assert_allclose(model.coef_stderr_, local.coef_stderr_, rtol=1e-8)


# ------------------------------------------------------------ inputs and formats


@pytest.mark.parametrize(("fmt", "container", "index"), CONTAINERS)
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_csr_and_csc_chunks(client, fmt, container, index, solver):
    X, y, s = sparse_problem(n=N, d=D, seed=6, weights=True)
    kw = {"solver": solver, "alpha": 0.05, "tol": 1e-10}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    Xc = convert_sparse(X, fmt, container, index)
    Xd, yd, sd = to_dask(Xc, y, s, (1, 119, 40, 80))
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    assert model.n_iter_ == local.n_iter_
    _close_to(model, local, 1e-10)


def test_column_chunks_are_joined(client):
    X, y, _ = sparse_problem(n=N, d=D, seed=7)
    local = fastcost.LinearRegression(solver="newton").fit(X, y)
    Xd, yd, _ = to_dask(X, y, None, (60,) * 4, columns=4)
    assert Xd.numblocks[1] > 1
    model = fdask.LinearRegression(solver="newton", client=client).fit(Xd, yd)
    _close_to(model, local, 1e-10)


def test_chunks_built_from_blocks_with_sparse_meta(client):
    X, y, _ = sparse_problem(n=N, d=D, seed=8)
    bounds = [0, 50, 51, 170, N]
    blocks = [
        da.from_delayed(
            dask.delayed(lambda a, b: X[a:b])(a, b),
            shape=(b - a, D),
            dtype=X.dtype,
            meta=sp.csr_matrix((0, 0), dtype=X.dtype),
        )
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    Xd = da.concatenate(blocks, axis=0)
    yd = da.from_array(y, chunks=(tuple(np.diff(bounds)),))
    for solver in ["newton", "lbfgs"]:
        local = fastcost.LinearRegression(solver=solver).fit(X, y)
        model = fdask.LinearRegression(solver=solver, client=client).fit(Xd, yd)
        assert model.n_chunks_ == 4 and model.n_iter_ == local.n_iter_
        _close_to(model, local, 1e-10)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd"])
def test_local_sparse_x_given_to_the_dask_estimator(client, fmt, solver):
    X, y, s = sparse_problem(n=N, d=D, seed=9, weights=True)
    kw = {"solver": solver, "alpha": 0.1, "tol": TOL.get(solver, 1e-10)}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    model = fdask.LinearRegression(client=client, **kw).fit(X.asformat(fmt), y, sample_weight=s)
    assert model.n_chunks_ == 2  # one per worker
    assert model.n_iter_ == local.n_iter_
    _close_to(model, local, 1e-10)
    np.testing.assert_allclose(model.predict(X.asformat(fmt)), local.predict(X), rtol=1e-10)


def test_predict_and_score_on_sparse_chunks(client):
    X, y, _ = sparse_problem(n=N, d=D, seed=10)
    Xd, yd, _ = to_dask(X, y, None, (1, 119, 40, 80))
    model = fdask.LinearRegression(solver="newton", client=client).fit(Xd, yd)
    pred = model.predict(Xd)
    assert isinstance(pred, da.Array)
    with client.as_current():
        got = pred.compute()
        score = model.score(Xd, yd)
    np.testing.assert_allclose(got, X @ model.coef_ + model.intercept_, rtol=1e-12)
    assert score == pytest.approx(model.score(X, y), rel=1e-12)


def test_auto_takes_lbfgs_for_many_sparse_features(client):
    rng = np.random.default_rng(11)
    X = sp.random(300, 1001, density=0.01, format="csr", random_state=11)
    y = X @ rng.standard_normal(1001) + 0.1 * rng.standard_normal(300)
    local = fastcost.LinearRegression(alpha=1.0).fit(X, y)
    model = fdask.LinearRegression(alpha=1.0, client=client).fit(*to_dask(X, y, None, 100)[:2])
    assert model.solver_ == local.solver_ == "lbfgs"
    assert "too large for newton" in model.fit_info_
    assert model.n_iter_ == local.n_iter_
    _close_to(model, local, 1e-10)


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_value_names_its_global_row_and_column(client, solver, fmt, bad):
    X, y, _ = sparse_problem(n=N, d=D, seed=12)
    X = X.tolil()
    X[150, 4] = bad  # in the fourth chunk, at local row 30
    X = X.asformat(fmt)
    Xd, yd, _ = to_dask(X, y, None, (60,) * 4)
    model = fdask.LinearRegression(solver=solver, client=client)
    with pytest.raises(NonFiniteError, match=r"X contains NaN or infinity .*row 150, column 4"):
        model.fit(Xd, yd)
    assert not hasattr(model, "coef_")


def test_nonfinite_value_in_local_sparse_x(client):
    X, y, _ = sparse_problem(n=N, d=D, seed=13)
    X = X.tolil()
    X[200, 1] = np.nan
    with pytest.raises(NonFiniteError, match=r"row 200, column 1"):
        fdask.LinearRegression(solver="newton", client=client).fit(X.tocsr(), y)


def test_qr_and_standardized_iterative_solvers_are_refused(client):
    X, y, _ = sparse_problem(n=N, d=D, seed=14)
    Xd, yd, _ = to_dask(X, y, None, (60,) * 4)
    with pytest.raises(NotImplementedError, match="solver='qr' is not available"):
        fdask.LinearRegression(solver="qr", client=client).fit(Xd, yd)
    with pytest.raises(NotImplementedError, match="solver='qr' is not available"):
        fdask.LinearRegression(solver="qr", client=client).fit(X, y)
    for solver in ["lbfgs", "gd"]:
        with pytest.raises(NotImplementedError, match="would densify sparse X"):
            fdask.LinearRegression(solver=solver, standardize=True, client=client).fit(Xd, yd)


def test_statistics_of_a_sparse_batch_equal_the_dense_ones():
    # batch_statistics' sparse branch: the Gram about a given shift, as the dense pass.
    from fastcost._sufficient import batch_statistics

    X, y, s = sparse_problem(n=N, d=D, seed=15, weights=True)
    shift = np.r_[np.zeros(D), y[0]]
    sparse = batch_statistics("gram", X, y, s, shift, 0, 1)
    dense = batch_statistics("gram", X.toarray(), y, s, shift, 0, 1)
    np.testing.assert_allclose(sparse.matrix, dense.matrix, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sparse.shift, dense.shift)
    assert (sparse.n_rows, sparse.n_nonzero) == (dense.n_rows, dense.n_nonzero)
    moved = np.r_[np.linspace(-1, 1, D), 0.5]  # a nonzero shift of X: moved algebraically
    np.testing.assert_allclose(
        batch_statistics("gram", X.tocsc(), y, s, moved, 0, 1).matrix,
        batch_statistics("gram", X.toarray(), y, s, moved, 0, 1).matrix,
        rtol=1e-10,
        atol=1e-10,
    )
    with pytest.raises(NotImplementedError, match="kind='qr'"):
        batch_statistics("qr", X, y, s, None, 0, 1)
