"""fastcost.dask: the estimator on a Dask cluster against the local fit and numpy."""

from __future__ import annotations

import os
import signal
import sys

import dask.array as da
import fastcost
import fastcost.dask as fdask
import numpy as np
import pytest
from fastcost.exceptions import RankDeficientWarning
from helpers import dask_split, make_problem, reference_fit
from sklearn.utils.estimator_checks import parametrize_with_checks

# Chunkings of 600 rows: one chunk, even chunks, uneven ones with a one-row
# chunk, and more chunks than the reduction's fan-in (a two-level tree).
CHUNKINGS = [(600,), (150, 150, 150, 150), (1, 299, 100, 200), (40,) * 15]


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ------------------------------------------------------------ one-pass solvers


@pytest.mark.parametrize("solver", ["newton", "qr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
def test_one_pass_equals_local_fit_for_any_chunking(client, solver, fit_intercept, weights):
    X, y, s = make_problem(600, 5, seed=1, weights=weights)
    X += 50.0  # large column means: the common shift must keep the centering exact
    alpha = 0.05
    local = fastcost.LinearRegression(solver=solver, alpha=alpha, fit_intercept=fit_intercept)
    local.fit(X, y, sample_weight=s)
    w_ref, b_ref = reference_fit(X, y, s, alpha=alpha, fit_intercept=fit_intercept)
    for chunks in CHUNKINGS:
        Xd, yd, sd = dask_split(X, y, s, chunks)
        model = fdask.LinearRegression(
            solver=solver, alpha=alpha, fit_intercept=fit_intercept, client=client
        ).fit(Xd, yd, sample_weight=sd)
        assert model.n_chunks_ == len(chunks)
        assert _rel(model.coef_, local.coef_) <= 1e-10, chunks
        assert abs(model.intercept_ - local.intercept_) <= 1e-10 * max(1.0, abs(b_ref))
        assert _rel(model.coef_, w_ref) <= 1e-9
        assert model.n_passes_ == 1 and model.n_iter_ == 1 and model.solver_ == solver
        assert model.coef_.dtype == np.float64
        np.testing.assert_allclose(model.loss_history_, local.loss_history_, rtol=1e-10)


@pytest.mark.parametrize("solver", ["newton", "qr"])
def test_float32_is_fitted_in_float32(client, solver):
    X, y, s = make_problem(600, 4, seed=2, dtype=np.float32, weights=True)
    local = fastcost.LinearRegression(solver=solver).fit(X, y, sample_weight=s)
    w_ref, b_ref = reference_fit(X, y, s)
    eps = np.finfo(np.float32).eps
    for chunks in CHUNKINGS[1:3]:
        Xd, yd, sd = dask_split(X, y, s, chunks)
        model = fdask.LinearRegression(solver=solver, client=client).fit(Xd, yd, sample_weight=sd)
        assert model.coef_.dtype == np.float32 and isinstance(model.intercept_, np.float32)
        # Chunk boundaries move the float32 accumulation blocks: rounding-level differences.
        assert _rel(model.coef_, local.coef_) <= 200 * eps
        assert _rel(model.coef_, w_ref) <= 200 * eps
        assert abs(model.intercept_ - b_ref) <= 200 * eps * max(1.0, abs(b_ref))


def test_columns_chunks_dataframes_and_numpy_input(client):
    import dask.dataframe as dd
    import pandas as pd

    X, y, _ = make_problem(500, 6, seed=3)
    local = fastcost.LinearRegression(solver="newton").fit(X, y)
    # Chunks that split the columns are rechunked to one column block.
    Xd = da.from_array(X, chunks=(125, 2))
    model = fdask.LinearRegression(solver="newton", client=client).fit(Xd, da.from_array(y, 125))
    assert _rel(model.coef_, local.coef_) <= 1e-10
    # A dask DataFrame: partitions are the shards, column names are kept.
    cols = [f"f{j}" for j in range(6)]
    frame = dd.from_pandas(pd.DataFrame(X, columns=cols), npartitions=3)
    target = dd.from_pandas(pd.Series(y, name="y"), npartitions=3)
    model = fdask.LinearRegression(solver="qr", client=client).fit(frame, target)
    assert _rel(model.coef_, local.coef_) <= 1e-10
    assert model.n_chunks_ == 3
    assert list(model.feature_names_in_) == cols
    # numpy input is split into chunks of rows.
    model = fdask.LinearRegression(solver="newton", client=client).fit(X, y)
    assert _rel(model.coef_, local.coef_) <= 1e-10 and model.n_features_in_ == 6


def test_weights_mean_repeated_and_dropped_rows(client):
    # Independent of any weighted formula: integer weights equal repeating rows,
    # zero weights equal dropping them.
    X, y, _ = make_problem(300, 3, seed=4)
    counts = np.random.default_rng(4).integers(0, 4, 300).astype(np.float64)
    model = fdask.LinearRegression(solver="newton", client=client).fit(
        da.from_array(X, 70), da.from_array(y, 70), sample_weight=counts
    )
    rows = np.repeat(np.arange(300), counts.astype(int))
    w_ref, b_ref = reference_fit(X[rows], y[rows])
    assert _rel(model.coef_, w_ref) <= 1e-10
    assert abs(model.intercept_ - b_ref) <= 1e-10 * max(1.0, abs(b_ref))


def test_auto_switches_to_qr_when_ill_conditioned(client):
    rng = np.random.default_rng(5)
    t = rng.uniform(0, 1, 400)
    X = np.column_stack([t**k for k in range(1, 8)])  # polynomial: cond far above 1e6
    y = X @ np.ones(7) + 0.01 * rng.standard_normal(400)
    local = fastcost.LinearRegression().fit(X, y)
    model = fdask.LinearRegression(client=client).fit(da.from_array(X, 100), da.from_array(y, 100))
    assert model.solver_ == "qr" == local.solver_
    assert model.n_passes_ == 2 and "ill-conditioned" in model.fit_info_
    np.testing.assert_allclose(model.coef_, local.coef_, rtol=1e-6)


@pytest.mark.parametrize("solver", ["newton", "qr"])
def test_one_pass_equals_partial_fit_over_the_same_chunks(client, solver):
    # Both run SufficientStatistics per chunk and merge them in the same order.
    X, y, s = make_problem(600, 4, seed=21, weights=True)
    chunks = (50, 250, 100, 200)
    Xd, yd, sd = dask_split(X, y, s, chunks)
    model = fdask.LinearRegression(solver=solver, client=client).fit(Xd, yd, sample_weight=sd)
    part = fastcost.LinearRegression(solver=solver)
    for a, b in zip(np.cumsum((0, *chunks[:-1])), np.cumsum(chunks), strict=True):
        part.partial_fit(X[a:b], y[a:b], sample_weight=s[a:b])
    assert _rel(model.coef_, part.coef_) <= 1e-13
    assert abs(model.intercept_ - part.intercept_) <= 1e-13 * max(1.0, abs(part.intercept_))


def test_compute_statistics_match_local(client):
    X, y, s = make_problem(400, 3, seed=6, weights=True)
    for solver in ("newton", "qr", "lbfgs"):
        local = fastcost.LinearRegression(solver=solver, compute_statistics=True)
        local.fit(X, y, sample_weight=s)
        model = fdask.LinearRegression(solver=solver, compute_statistics=True, client=client)
        model.fit(*dask_split(X, y, s, 100)[:2], sample_weight=s)
        np.testing.assert_allclose(model.coef_stderr_, local.coef_stderr_, rtol=1e-8)
        np.testing.assert_allclose(model.residual_std_, local.residual_std_, rtol=1e-8)
        assert model.dof_resid_ == local.dof_resid_ and model.n_passes_ == local.n_passes_


def test_rank_deficient_gets_minimum_norm_with_warning(client):
    X, y, _ = make_problem(200, 3, seed=7)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    with pytest.warns(RankDeficientWarning):
        model = fdask.LinearRegression(solver="newton", client=client).fit(
            da.from_array(X, 50), da.from_array(y, 50)
        )
    w_ref, _ = reference_fit(X, y)
    assert _rel(model.coef_, w_ref) <= 1e-8 and model.rank_ == 3


# ------------------------------------------------------------ iterative solvers


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_iterative_follow_the_compiled_solver(client, solver, fit_intercept):
    X, y, s = make_problem(400, 4, seed=8, weights=True)
    kw = {"solver": solver, "alpha": 0.01, "fit_intercept": fit_intercept, "tol": 1e-8}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    w_ref, b_ref = reference_fit(X, y, s, alpha=0.01, fit_intercept=fit_intercept)
    for chunks in [(400,), (1, 199, 200)]:
        Xd, yd, sd = dask_split(X, y, s, chunks)
        model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
        # The same centering, line search and stopping rule as solvers.hpp: the
        # iterates agree to rounding, so do the counts.
        assert model.n_iter_ == local.n_iter_ and model.n_passes_ == local.n_passes_
        assert model.converged_
        assert _rel(model.coef_, local.coef_) <= 1e-10
        np.testing.assert_allclose(model.loss_history_, local.loss_history_, rtol=1e-10)
        assert _rel(model.coef_, w_ref) <= 1e-6
        assert abs(model.intercept_ - b_ref) <= 1e-6 * max(1.0, abs(b_ref))


def test_lbfgs_float32_and_warm_start(client):
    X, y, _ = make_problem(300, 3, seed=9, dtype=np.float32)
    w_ref, _ = reference_fit(X, y)
    model = fdask.LinearRegression(solver="lbfgs", client=client)
    model.fit(da.from_array(X, 100), da.from_array(y, 100))
    assert model.coef_.dtype == np.float32
    assert _rel(model.coef_, w_ref) <= 1e4 * np.finfo(np.float32).eps
    # A warm start (float64 data) follows the compiled solver's warm start.
    X, y, _ = make_problem(300, 3, seed=9)
    start = {"coef_init": np.array([0.5, -1.0, 2.0]), "intercept_init": 3.0}
    local = fastcost.LinearRegression(solver="lbfgs").fit(X, y, **start)
    model.fit(da.from_array(X, 100), da.from_array(y, 100), **start)
    assert model.n_iter_ == local.n_iter_
    assert _rel(model.coef_, local.coef_) <= 1e-10


def test_killed_worker_does_not_change_the_fit(client, monkeypatch):
    X, y, _ = make_problem(4000, 5, seed=10)
    Xd, yd, _ = dask_split(X, y, None, 250)
    undisturbed = fdask.LinearRegression(solver="lbfgs", tol=1e-12, client=client).fit(Xd, yd)
    assert undisturbed.n_passes_ > 3

    killed: list[int] = []
    call = fdask._ClusterPass.probes

    def kill_then_evaluate(self, probes):
        # Mid-fit, with chunks persisted on both workers: kill one worker
        # process outright. Its chunks are lost and must be recomputed.
        if self.round_trips == 3 and not killed:
            holding = {w: len(keys) for w, keys in client.has_what().items()}
            victim = max(holding, key=holding.get)
            assert holding[victim] > 0
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return call(self, probes)

    monkeypatch.setattr(fdask._ClusterPass, "probes", kill_then_evaluate)
    disturbed = fdask.LinearRegression(solver="lbfgs", tol=1e-12, client=client).fit(Xd, yd)
    assert killed and killed[0] not in client.run(os.getpid).values()
    assert _rel(disturbed.coef_, undisturbed.coef_) <= 1e-10
    assert abs(disturbed.intercept_ - undisturbed.intercept_) <= 1e-10
    assert disturbed.n_passes_ == undisturbed.n_passes_
    client.wait_for_workers(2)  # the nanny restarts it, for the tests that follow


# ------------------------------------------------ standardize, noise, prune

# (fit_intercept, weights, alpha, noise_augmentation): every switch on and off.
PREP_CASES = [(True, False, 0.05, 0.0), (True, True, 0.05, 0.03), (False, True, 0.0, 0.03),
              (False, False, 0.05, 0.03)]  # fmt: skip


def _prep_problem(fit_intercept, weights, seed=20):
    X, y, s = make_problem(600, 5, seed=seed, weights=weights)
    X *= np.array([1.0, 10.0, 0.1, 100.0, 3.0])  # scales the standardization must undo
    if fit_intercept:
        X += 50.0  # large means: the moments and the common shift must keep the centering
    return X, y, s


def _standardized_reference(X, y, s, alpha, noise, fit_intercept):
    """numpy: StandardScaler's weighted mean and scale (centered std, whatever
    the intercept), centering only with an intercept, ridge with penalty
    alpha + noise^2 / scale^2 on v = scale * w, mapped back to X's scale."""
    s = np.ones(len(y)) if s is None else s
    mean = s @ X / s.sum()
    scale = np.sqrt(s @ (X - mean) ** 2 / s.sum())
    xm, ym = (mean, s @ y / s.sum()) if fit_intercept else (np.zeros(X.shape[1]), 0.0)
    Z = (X - xm) / scale
    lam = alpha + noise**2 / scale**2
    Zs = Z * s[:, None]
    v = np.linalg.solve(Zs.T @ Z + s.sum() * np.diag(lam), Zs.T @ (y - ym))
    w = v / scale
    return w, (ym - xm @ w if fit_intercept else 0.0)


@pytest.mark.parametrize("solver", ["newton", "qr"])
@pytest.mark.parametrize(("fit_intercept", "weights", "alpha", "noise"), PREP_CASES)
def test_one_pass_standardize_and_noise_equal_local_fit(
    client, solver, fit_intercept, weights, alpha, noise
):
    X, y, s = _prep_problem(fit_intercept, weights)
    kw = {"solver": solver, "alpha": alpha, "fit_intercept": fit_intercept,
          "standardize": True, "noise_augmentation": noise}  # fmt: skip
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    w_ref, b_ref = _standardized_reference(X, y, s, alpha, noise, fit_intercept)
    assert _rel(local.coef_, w_ref) <= 1e-9  # the reference is the right one
    for chunks in CHUNKINGS[1:]:
        Xd, yd, sd = dask_split(X, y, s, chunks)
        model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
        assert _rel(model.coef_, local.coef_) <= 1e-10, chunks
        assert abs(model.intercept_ - local.intercept_) <= 1e-10 * max(1.0, abs(b_ref))
        assert model.n_passes_ == 1 == local.n_passes_ and model.solver_ == solver
        assert model.preprocessing_ == local.preprocessing_


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize(("fit_intercept", "weights", "alpha", "noise"), PREP_CASES)
def test_iterative_standardize_and_noise_equal_local_fit(
    client, monkeypatch, solver, fit_intercept, weights, alpha, noise
):
    X, y, s = _prep_problem(fit_intercept, weights)
    kw = {"solver": solver, "alpha": alpha, "fit_intercept": fit_intercept, "tol": 1e-10,
          "standardize": True, "noise_augmentation": noise}  # fmt: skip
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    w_ref, b_ref = _standardized_reference(X, y, s, alpha, noise, fit_intercept)
    evals = [0]
    probe = fdask._ClusterPass.probes

    def counted_probe(self, probes):
        evals[0] += 1
        return probe(self, probes)

    monkeypatch.setattr(fdask._ClusterPass, "probes", counted_probe)
    for chunks in [(600,), (1, 299, 100, 200)]:
        evals[0] = 0
        Xd, yd, sd = dask_split(X, y, s, chunks)
        model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
        assert model.converged_
        # The moments merged over chunks differ from the local pass's by rounding:
        # the iterates (and gd's stopping iteration) may differ at that level.
        assert _rel(model.coef_, local.coef_) <= 1e-8, chunks
        assert abs(model.intercept_ - local.intercept_) <= 1e-8 * max(1.0, abs(b_ref))
        assert _rel(model.coef_, w_ref) <= 1e-7
        # One moments pass, then one pass per loss+gradient evaluation.
        assert model.n_passes_ == evals[0] + 1
        if solver == "lbfgs":
            assert model.n_iter_ == local.n_iter_ and model.n_passes_ == local.n_passes_


@pytest.mark.parametrize("solver", ["newton", "qr", "lbfgs", "gd"])
def test_prune_drops_the_columns_the_local_fit_drops(client, solver):
    X, y, s = make_problem(400, 4, seed=21, weights=True)
    # constant, duplicate of 0, collinear with 1 and 2: dropped, coefficient 0.
    X = np.column_stack([X, np.full(400, 3.0), X[:, 0], X[:, 1] - 2 * X[:, 2]])
    kw = {"solver": solver, "alpha": 0.01, "prune": True, "standardize": True, "tol": 1e-10}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    model = fdask.LinearRegression(client=client, **kw)
    model.fit(*dask_split(X, y, None, (1, 149, 250))[:2], sample_weight=s)
    tol = 1e-10 if solver in ("newton", "qr") else 1e-8
    assert _rel(model.coef_, local.coef_) <= tol
    assert abs(model.intercept_ - local.intercept_) <= tol * max(1.0, abs(local.intercept_))
    report = model.prune_report_
    assert report.kept == local.prune_report_.kept == (0, 1, 2, 3)
    assert report.constant == (4,) and np.all(model.coef_[4:] == 0.0)
    # No X on the client to confirm the duplicate cell by cell: it counts as collinear.
    assert set(report.dropped) == set(local.prune_report_.dropped) == {4, 5, 6}
    if solver in ("newton", "qr"):  # pruned on the statistics of the one pass
        assert model.preprocessing_["extra_passes"] == 0 and model.n_passes_ == 1
    else:  # one Gram pass to find the columns, one moments pass, the evaluations
        assert model.preprocessing_["extra_passes"] == 1
        assert model.n_passes_ >= model.n_iter_ + 3
    if solver == "lbfgs":
        assert model.n_passes_ == local.n_passes_


def test_preprocessing_refuses_statistics_as_locally(client):
    X, y, _ = make_problem(100, 2, seed=22)
    with pytest.raises(ValueError, match="compute_statistics is not available"):
        fdask.LinearRegression(standardize=True, compute_statistics=True, client=client).fit(X, y)


# ------------------------------------------------------------ cluster handling


def test_unreachable_scheduler_is_a_clear_error():
    X, y, _ = make_problem(50, 2)
    # Port 1 on loopback: nothing listens there.
    model = fdask.LinearRegression(scheduler="tcp://127.0.0.1:1", timeout=1)
    with pytest.raises(ConnectionError, match=r"tcp://127\.0\.0\.1:1.*within 1 s"):
        model.fit(X, y)


def test_scheduler_address_and_current_client(client):
    X, y, _ = make_problem(200, 2, seed=11)
    local = fastcost.LinearRegression(solver="newton").fit(X, y)
    model = fdask.LinearRegression(solver="newton", scheduler=client.scheduler.address)
    assert _rel(model.fit(X, y).coef_, local.coef_) <= 1e-10
    with client.as_current():  # no client parameter: the current client is used
        with fdask.connect() as c:
            assert c is client


def test_embedded_local_cluster_is_started_and_closed():
    X, y, _ = make_problem(300, 3, seed=12)
    local = fastcost.LinearRegression(solver="newton").fit(X, y)
    seen = []
    with fdask.connect() as c:  # what fit() does without a client
        seen.append(c)
        info = c.scheduler_info(n_workers=-1)["workers"]
        assert len(info) == fastcost._threads.available_cores()
        assert all(w["nthreads"] == 1 and "127.0.0.1" in a for a, w in info.items())
    assert seen[0].status == "closed"
    model = fdask.LinearRegression(solver="newton").fit(da.from_array(X, 100), y)
    assert _rel(model.coef_, local.coef_) <= 1e-10


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import now fails
    X, y, _ = make_problem(20, 2)
    with pytest.raises(ImportError, match=r"pip install 'fastcost\[dask\]'"):
        fdask.LinearRegression().fit(X, y)


# ------------------------------------------------------------ checks and outputs


def test_parameters_are_checked_and_sgd_is_refused(client):
    X, y, _ = make_problem(20, 2)
    with pytest.raises(NotImplementedError, match="sgd"):
        fdask.LinearRegression(solver="sgd", client=client).fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        fdask.LinearRegression(alpha=-1.0, client=client).fit(X, y)
    # Every parameter of the local estimator exists here too; those the
    # distributed fit lacks refuse anything but their default.
    local_params = fastcost.LinearRegression().get_params()
    for name, default in local_params.items():
        if name not in fdask.DASK_PARAMETERS:
            other = (not default) if isinstance(default, bool) else "not-the-default"
            with pytest.raises(NotImplementedError, match=name):
                fdask.LinearRegression(client=client, **{name: other}).fit(X, y)
    with pytest.raises(ValueError, match="timeout"):
        fdask.LinearRegression(timeout=0, client=client).fit(X, y)
    with pytest.raises(ValueError, match="either client or scheduler"):
        fdask.LinearRegression(client=client, scheduler="tcp://127.0.0.1:1").fit(X, y)
    params = fdask.LinearRegression().get_params()
    assert set(fastcost.LinearRegression().get_params()) < set(params)
    assert {"client", "scheduler", "timeout"} <= set(params)
    Y = np.column_stack([y, 2.0 * y])
    with pytest.raises(ValueError, match=r"fits one target .* got y of shape \(20, 2\)"):
        fdask.LinearRegression(client=client).fit(da.from_array(X), da.from_array(Y))


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_bad_values_are_named_in_global_rows(client, solver):
    X, y, s = make_problem(300, 3, seed=13, weights=True)
    Xb = X.copy()
    Xb[211, 2] = np.nan  # in the third chunk of 100: the row must be global
    with pytest.raises(ValueError, match=r"X contains NaN.*row 211, column 2"):
        fdask.LinearRegression(solver=solver, client=client).fit(da.from_array(Xb, 100), y)
    with pytest.raises(fastcost.exceptions.NonFiniteError):  # the local fit's type
        fdask.LinearRegression(solver=solver, client=client).fit(da.from_array(Xb, 100), y)
    yb = y.copy()
    yb[150] = np.inf
    with pytest.raises(ValueError, match=r"y contains NaN.*row 150"):
        fdask.LinearRegression(solver=solver, client=client).fit(da.from_array(X, 100), yb)
    sb = s.copy()
    sb[5] = -1.0
    with pytest.raises(ValueError, match="negative"):
        fdask.LinearRegression(solver=solver, client=client).fit(X, y, sample_weight=sb)
    with pytest.raises(ValueError, match="sums to zero"):
        fdask.LinearRegression(solver=solver, client=client).fit(X, y, sample_weight=0 * s)


def test_predict_and_score_stay_lazy_on_dask(client):
    X, y, s = make_problem(400, 3, seed=14, weights=True)
    model = fdask.LinearRegression(solver="newton", client=client).fit(X, y)
    Xd = da.from_array(X, 100)
    pred = model.predict(Xd)
    assert isinstance(pred, da.Array) and pred.chunks == ((100,) * 4,)
    expected = X @ model.coef_ + model.intercept_
    np.testing.assert_allclose(client.compute(pred, sync=True), expected, rtol=1e-12)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12)
    from sklearn.metrics import r2_score

    r2 = model.score(Xd, da.from_array(y, 100), sample_weight=da.from_array(s, 100))
    assert r2 == pytest.approx(r2_score(y, expected, sample_weight=s), rel=1e-12)


def test_compare_cli_runs_on_the_cluster(client, capsys):
    from fastcost.cli import main

    status = main(
        ["compare", "--solvers", "newton,lbfgs", "--n-samples", "2000", "--n-features", "5",
         "--scheduler", client.scheduler.address, "--quiet"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    rows = {line.split()[0] for line in out.splitlines() if line.startswith("fastcost")}
    assert {
        "fastcost-newton",
        "fastcost-lbfgs",
        "fastcost-dask-newton",
        "fastcost-dask-lbfgs",
    } <= rows


# Some checks fit tiny random data with fewer samples than features: newton then
# returns the minimum-norm solution and warns, as the local estimator does.
@pytest.mark.filterwarnings("ignore::fastcost.exceptions.RankDeficientWarning")
@parametrize_with_checks([fdask.LinearRegression()])
def test_sklearn_compatible(estimator, check, client):
    with client.as_current():  # the module's cluster, not one started per fit
        check(estimator)


def test_preconditioned_lbfgs_follows_the_compiled_solver(client):
    rng = np.random.default_rng(15)
    X = rng.standard_normal((20000, 12))
    for j in range(1, 12):
        X[:, j] = 0.8 * X[:, j - 1] + 0.6 * X[:, j]
    X = X * np.geomspace(0.2, 5, 12) + rng.uniform(-20, 20, 12)
    y = X @ rng.standard_normal(12) + rng.standard_normal(20000)
    kw = {"solver": "lbfgs", "tol": 1e-10}
    local = fastcost.LinearRegression(**kw).fit(X, y)
    assert "preconditioned" in local.fit_info_
    model = fdask.LinearRegression(client=client, **kw).fit(
        *dask_split(X, y, None, (7000, 6000, 7000))[:2]
    )
    assert "preconditioned" in model.fit_info_ and "sampled rows" in model.fit_info_
    assert model.n_iter_ == local.n_iter_ and model.n_passes_ == local.n_passes_
    assert _rel(model.coef_, local.coef_) <= 1e-10
    np.testing.assert_allclose(model.loss_history_, local.loss_history_, rtol=1e-10)


def test_long_lbfgs_run_follows_the_compiled_solver(client):
    # No sample (too few rows), correlated columns: many iterations, with the
    # gradient recomputed from the data every 8 steps, as locally.
    rng = np.random.default_rng(17)
    X = rng.standard_normal((2000, 40))
    for j in range(1, 40):
        X[:, j] = 0.9 * X[:, j - 1] + np.sqrt(1 - 0.81) * X[:, j]
    y = X @ rng.standard_normal(40) + rng.standard_normal(2000)
    kw = {"solver": "lbfgs", "tol": 1e-10}
    local = fastcost.LinearRegression(**kw).fit(X, y)
    assert local.n_iter_ > 16
    model = fdask.LinearRegression(client=client, **kw).fit(
        *dask_split(X, y, None, (700, 600, 700))[:2]
    )
    # The chunks' sums are the local shards' bits (block_tree.hpp): over 40
    # conjugate steps on this ill-conditioned problem nothing drifts apart.
    assert model.n_iter_ == local.n_iter_ and model.converged_
    np.testing.assert_array_equal(model.loss_history_, local.loss_history_)
    np.testing.assert_array_equal(model.coef_, local.coef_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_cluster_runs_the_compiled_loop_step_for_step(client, solver, dtype):
    # lbfgs: correlated, badly scaled columns with large means (it takes its
    # sample warm start and preconditioner). gd: hundreds of backtracking
    # decisions. Every sum the loops read is added in the rows' block tree
    # (block_tree.hpp), so every chunking, down to chunks of one row and
    # chunks smaller than a block, takes the local fit's steps bit for bit and
    # stops at the same iteration.
    rng = np.random.default_rng(31)
    n, d = 3000, 6
    Z = rng.standard_normal((n, d))
    spread, mix = (2, 0.9) if solver == "lbfgs" else (0.3, 0.3)
    X = (Z + mix * Z[:, [0]]) * np.logspace(-spread, spread, d) + 40.0
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    s = rng.uniform(0.5, 2.0, n).astype(dtype)
    X, y = X.astype(dtype), y.astype(dtype)
    kw = {"solver": solver, "tol": 1e-8, "max_iter": 5000}
    # gd's hundred steps take a round trip each: its one-chunk case is left out.
    chunkings = (
        [(n,), (1, 999, 2000), 250, 97]
        if solver == "lbfgs"
        else [(1, 999, 2000), (300, 1, 1, 2698)]
    )
    for weights in (None, s):
        local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=weights)
        for chunks in chunkings:
            Xd, yd, sd = dask_split(X, y, weights, chunks)
            model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
            where = f"chunks {chunks}, weights: {weights is not None}"
            assert model.n_iter_ == local.n_iter_ and model.n_passes_ == local.n_passes_, where
            np.testing.assert_array_equal(model.loss_history_, local.loss_history_, err_msg=where)
            np.testing.assert_array_equal(model.coef_, local.coef_, err_msg=where)
            assert model.intercept_ == local.intercept_, where
            assert model.fit_info_.split("; ")[1:] == local.fit_info_.split("; ")[1:]
            # One round trip per read of X, plus one to start.
            assert model.round_trips_ == model.n_passes_ + 1
    newton = fdask.LinearRegression(client=client, solver="newton").fit(
        *dask_split(X, y, None, 250)[:2]
    )
    assert newton.round_trips_ == 1  # the shift and the statistics in one round trip


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_standardized_fit_on_dask_is_the_local_fit_bit_for_bit(client, solver):
    # standardize=True: the column moments are merged in the rows' block tree
    # too, about the data's first row, as the local pass takes them.
    rng = np.random.default_rng(5)
    n, d = 3000, 6
    Z = rng.standard_normal((n, d))
    X = (Z + 0.5 * Z[:, [0]]) * np.logspace(-1, 1, d) + 40.0
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    s = rng.uniform(0.5, 2.0, n)
    kw = {"solver": solver, "tol": 1e-8, "max_iter": 3000, "standardize": True, "alpha": 1e-3}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    assert local.n_iter_ > 1
    for chunks in [(1, 999, 2000), (300, 1, 1, 2698)]:
        Xd, yd, sd = dask_split(X, y, s, chunks)
        model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
        assert model.n_iter_ == local.n_iter_, chunks
        np.testing.assert_array_equal(model.loss_history_, local.loss_history_)
        np.testing.assert_array_equal(model.coef_, local.coef_)


def test_many_small_chunks_add_their_sums_instead(client, monkeypatch):
    # Chunks of 97 rows: every 256-row block straddles chunks, and their rows
    # (all of X here) would be held by the client; past STRADDLING_BYTES and 2 %
    # of X the chunks' sums are added instead: the same fit to rounding.
    from fastcost import _dask_data

    X, y, s = make_problem(3000, 6, seed=4, weights=True)
    kw = {"solver": "lbfgs", "tol": 1e-10}
    local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
    Xd, yd, sd = dask_split(X, y, s, 97)
    data = _dask_data._Data(Xd, yd, sd)
    assert data.sums_in_tree()
    monkeypatch.setattr(_dask_data, "STRADDLING_BYTES", 0)
    assert not data.sums_in_tree()
    big = np.zeros((30_000, 6))  # one block of 256 rows straddles: < 2 % of X
    assert _dask_data._Data(*dask_split(big, big[:, 0], None, 15_000)).sums_in_tree()
    model = fdask.LinearRegression(client=client, **kw).fit(Xd, yd, sample_weight=sd)
    assert abs(model.n_iter_ - local.n_iter_) <= 1
    assert _rel(model.coef_, local.coef_) <= 1e-8
    assert model.round_trips_ == model.n_passes_ + 1


@pytest.mark.parametrize("standardize", [False, True])
def test_empty_first_chunk_on_dask(client, standardize):
    # The shift is the first row of the first chunk that has rows.
    X, y, s = make_problem(3000, 5, seed=6, weights=True)
    for solver in ("lbfgs", "newton"):
        kw = {"solver": solver, "standardize": standardize, "tol": 1e-10}
        local = fastcost.LinearRegression(**kw).fit(X, y, sample_weight=s)
        model = fdask.LinearRegression(client=client, **kw).fit(
            *dask_split(X, y, s, (0, 1500, 0, 1500))
        )
        assert _rel(model.coef_, local.coef_) <= 1e-10, solver
        if solver == "lbfgs":
            np.testing.assert_array_equal(model.coef_, local.coef_)


def test_positive_on_dask_equals_the_local_fit(client):
    X, y, s = make_problem(600, 6, seed=22, weights=True)
    y = X @ np.array([1.0, -2.0, 0.5, -1.0, 2.0, 0.0]) + 0.1 * y
    Xd, yd, sd = dask_split(X, y, s, (200, 250, 150))
    model = fdask.LinearRegression(positive=True, client=client).fit(Xd, yd, sample_weight=sd)
    local = fastcost.LinearRegression(positive=True).fit(X, y, sample_weight=s)
    assert (model.coef_ >= 0).all() and np.count_nonzero(model.coef_ == 0) >= 2
    assert _rel(model.coef_, local.coef_) <= 1e-12
