"""partial_fit, SufficientStatistics and fit_from_statistics against one fit of
the concatenated rows and against numpy references."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from fastcost import LinearRegression, SufficientStatistics
from fastcost.exceptions import NonFiniteError, RankDeficientWarning
from helpers import make_problem, reference_fit


def _splits(n, rng, n_batches):
    cuts = np.sort(rng.choice(np.arange(1, n), size=n_batches - 1, replace=False))
    return list(zip(np.r_[0, cuts], np.r_[cuts, n], strict=True))


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("solver", ["newton", "qr", "auto"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_batches_equal_one_fit_of_all_rows(solver, weights, fit_intercept, alpha):
    X, y, s = make_problem(3000, 7, seed=1, weights=weights)
    rng = np.random.default_rng(2)
    params = dict(solver=solver, alpha=alpha, fit_intercept=fit_intercept)
    whole = LinearRegression(**params).fit(X, y, sample_weight=s)
    model = LinearRegression(**params)
    for a, b in _splits(len(y), rng, 9):
        model.partial_fit(X[a:b], y[a:b], sample_weight=None if s is None else s[a:b])
    assert _rel(model.coef_, whole.coef_) < 1e-12
    assert abs(model.intercept_ - whole.intercept_) <= 1e-12 * max(1.0, abs(whole.intercept_))
    ref_w, ref_b = reference_fit(X, y, s, alpha=alpha, fit_intercept=fit_intercept)
    assert _rel(model.coef_, ref_w) < 1e-10
    assert model.n_batches_ == 9
    assert model.statistics_.n_rows == len(y)
    assert model.n_passes_ == 1 and model.fit_report_.passes == 1
    assert "partial_fit" in model.fit_info_


def test_coef_after_every_batch_is_the_fit_of_the_rows_so_far():
    X, y, _ = make_problem(400, 3, seed=3)
    model = LinearRegression(solver="newton")
    for b in (4, 10, 57, 400):
        a = model.statistics_.n_rows if hasattr(model, "statistics_") else 0
        model.partial_fit(X[a:b], y[a:b])
        ref_w, ref_b = reference_fit(X[:b], y[:b])
        assert _rel(model.coef_, ref_w) < 1e-10
        assert abs(model.intercept_ - ref_b) < 1e-9


def test_batches_of_one_row():
    X, y, _ = make_problem(60, 3, seed=4)
    model = LinearRegression(solver="qr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)  # the first rows: n < d
        for i in range(len(y)):
            model.partial_fit(X[i : i + 1], y[i : i + 1])
    ref_w, _ = reference_fit(X, y)
    assert _rel(model.coef_, ref_w) < 1e-11
    assert model.n_batches_ == 60


def test_float32_batches_accumulate_in_float64():
    X, y, _ = make_problem(5000, 6, seed=5, dtype=np.float32)
    model = LinearRegression(solver="newton")
    for a in range(0, 5000, 700):
        model.partial_fit(X[a : a + 700], y[a : a + 700])
    assert model.coef_.dtype == np.float32
    assert model.statistics_.matrix.dtype == np.float64
    # float32 products are exact in float64: the statistics are those of the data read as float64
    ref_w, _ = reference_fit(X.astype(np.float64), y.astype(np.float64))
    assert _rel(model.coef_, ref_w) < 2 * np.finfo(np.float32).eps
    stats = SufficientStatistics.from_data(X.astype(np.float64), y.astype(np.float64))
    assert _rel(model.statistics_.matrix, stats.matrix) < 1e-12


@pytest.mark.parametrize("option", ["standardize", "prune", "compute_statistics"])
def test_options_act_on_all_rows_so_far(option):
    X, y, _ = make_problem(2000, 5, seed=6)
    if option == "prune":
        X = np.c_[X, X[:, 0]]  # a duplicate column
    params = dict(solver="newton", alpha=0.1 if option == "standardize" else 0.0)
    params[option] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        whole = LinearRegression(**params).fit(X, y)
        model = LinearRegression(**params)
        for a in range(0, 2000, 300):
            model.partial_fit(X[a : a + 300], y[a : a + 300])
    assert _rel(model.coef_, whole.coef_) < 1e-11
    if option == "compute_statistics":
        finite = np.isfinite(whole.coef_stderr_)
        assert _rel(model.coef_stderr_[finite], whole.coef_stderr_[finite]) < 1e-9
        assert model.dof_resid_ == whole.dof_resid_


def test_alpha_may_change_between_batches():
    X, y, _ = make_problem(500, 4, seed=7)
    model = LinearRegression(solver="newton").partial_fit(X[:250], y[:250])
    model.set_params(alpha=0.5).partial_fit(X[250:], y[250:])
    ref_w, _ = reference_fit(X, y, alpha=0.5)
    assert _rel(model.coef_, ref_w) < 1e-10


def test_fit_starts_over():
    X, y, _ = make_problem(300, 3, seed=8)
    model = LinearRegression(solver="newton").partial_fit(X[:100], y[:100])
    model.fit(X[100:], y[100:])
    assert not hasattr(model, "statistics_")
    # fit kept no statistics: a partial_fit after it starts over, and says so.
    with pytest.warns(UserWarning, match="partial_fit starts over"):
        model.partial_fit(X[:100], y[:100])
    assert model.statistics_.n_rows == 100
    np.testing.assert_allclose(
        model.coef_, np.linalg.lstsq(np.c_[np.ones(100), X[:100]], y[:100])[0][1:], rtol=1e-10
    )
    # From then on the batches accumulate.
    model.partial_fit(X[100:], y[100:])
    assert model.statistics_.n_rows == 300


@pytest.mark.parametrize(
    "batch, match",
    [
        (lambda X, y: (X[:0], y[:0]), "0 sample"),
        (lambda X, y: (X[:10, :2], y[:10]), "features"),
        (lambda X, y: (np.where(np.arange(10)[:, None] == 3, np.nan, X[:10]), y[:10]), "NaN"),
        (lambda X, y: (X[:10], np.r_[y[:9], np.inf]), "y"),
        (lambda X, y: (X[:10], y[:9]), "inconsistent|shape"),
    ],
)
def test_bad_batches_are_rejected_and_change_nothing(batch, match):
    X, y, _ = make_problem(200, 3, seed=9)
    model = LinearRegression(solver="newton").partial_fit(X[:100], y[:100])
    before = (model.coef_.copy(), model.statistics_.matrix.copy(), model.n_batches_)
    Xb, yb = batch(X[100:], y[100:])
    with pytest.raises((ValueError, NonFiniteError), match=match):
        model.partial_fit(Xb, yb)
    np.testing.assert_array_equal(model.coef_, before[0])
    np.testing.assert_array_equal(model.statistics_.matrix, before[1])
    assert model.n_batches_ == before[2]


def test_solvers_without_partial_fit_say_so():
    X, y, _ = make_problem(50, 2, seed=10)
    for solver in ("lbfgs", "gd"):
        assert not hasattr(LinearRegression(solver=solver), "partial_fit")
    from fastcost._incremental import partial_fit

    with pytest.raises(ValueError, match="partial_fit runs solver="):
        partial_fit(LinearRegression(solver="lbfgs"), X, y, None)
    model = LinearRegression(solver="newton").partial_fit(X, y)
    with pytest.raises(ValueError, match="cannot change between batches"):
        model.set_params(solver="qr").partial_fit(X, y)


def test_sgd_partial_fit_is_one_epoch_from_the_coefficients_so_far():
    # With one mini-batch per epoch the epoch is one gradient step, whatever the
    # shuffle: w <- w - lr * grad of the batch's mean squared error.
    X, y, _ = make_problem(80, 3, seed=11)
    model = LinearRegression(solver="sgd", batch_size=100, learning_rate=0.05, random_state=0)
    model.fit(X, y, coef_init=np.zeros(3), intercept_init=0.0)
    w, b = model.coef_.copy(), float(model.intercept_)
    Xb, yb = X[:40], y[:40]
    model.partial_fit(Xb, yb)
    r = Xb @ w + b - yb
    w_ref = w - 0.05 * 2 * (Xb.T @ r) / len(yb)
    b_ref = b - 0.05 * 2 * r.mean()
    assert _rel(model.coef_, w_ref) < 1e-12
    assert abs(model.intercept_ - b_ref) < 1e-12
    assert model.n_iter_ == 1 and model.n_batches_ == 1


def test_sgd_partial_fit_from_scratch_learns():
    X, y, _ = make_problem(4000, 4, seed=12)
    Xs = (X - X.mean(0)) / X.std(0)
    model = LinearRegression(solver="sgd", random_state=0)
    losses = []
    for _ in range(3):
        for a in range(0, 4000, 500):
            model.partial_fit(Xs[a : a + 500], y[a : a + 500])
        losses.append(np.mean((model.predict(Xs) - y) ** 2))
    # the recipe's fit over the same epochs reaches the same loss level
    fit = LinearRegression(solver="sgd", max_iter=3, random_state=0).fit(Xs, y)
    fit_loss = np.mean((fit.predict(Xs) - y) ** 2)
    assert losses[0] > losses[1] > losses[2]
    assert 0.5 * fit_loss < losses[-1] < 2.0 * fit_loss
    assert model.n_batches_ == 24


# -- SufficientStatistics -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gram", "qr"])
def test_merge_of_parts_in_any_grouping_equals_the_whole(kind):
    X, y, s = make_problem(2400, 5, seed=13, weights=True)
    parts = [
        SufficientStatistics.from_data(X[a:b], y[a:b], s[a:b], kind=kind)
        for a, b in _splits(len(y), np.random.default_rng(14), 6)
    ]
    assert len({tuple(p.shift) for p in parts}) == 6  # each about its own first row
    left = parts[0]
    for p in parts[1:]:
        left = left.merge(p)
    tree = (parts[0] + parts[1] + parts[2]) + (parts[3] + (parts[4] + parts[5]))
    whole = LinearRegression(solver="newton" if kind == "gram" else "qr").fit(X, y, s)
    for total in (left, tree):
        model = LinearRegression().fit_from_statistics(total)
        assert _rel(model.coef_, whole.coef_) < 1e-11
        assert model.n_passes_ == 0
        assert total.n_rows == 2400 and total.n_nonzero == 2400


def test_statistics_pickle_with_their_version():
    X, y, _ = make_problem(100, 3, seed=15)
    stats = SufficientStatistics.from_data(X, y, kind="qr")
    back = pickle.loads(pickle.dumps(stats))
    np.testing.assert_array_equal(back.matrix, stats.matrix)
    assert back.version == stats.version == 1
    state = stats.__getstate__() if hasattr(stats, "__getstate__") else dict(stats.__dict__)
    state = dict(state, version=99)
    fresh = SufficientStatistics.__new__(SufficientStatistics)
    with pytest.raises(ValueError, match="version 99"):
        fresh.__setstate__(state)


def test_statistics_from_multiprocessing_workers():
    from concurrent.futures import ProcessPoolExecutor

    X, y, _ = make_problem(3000, 4, seed=16)
    chunks = [(X[i::3], y[i::3]) for i in range(3)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(_stats_of, chunks))
    total = parts[0] + parts[1] + parts[2]
    ref_w, ref_b = reference_fit(X, y)
    model = LinearRegression().fit_from_statistics(total)
    assert _rel(model.coef_, ref_w) < 1e-10


def _stats_of(chunk):
    return SufficientStatistics.from_data(*chunk)


def test_merge_refuses_mismatched_statistics():
    X, y, _ = make_problem(100, 3, seed=17)
    a = SufficientStatistics.from_data(X, y)
    with pytest.raises(ValueError, match="'qr'"):
        a.merge(SufficientStatistics.from_data(X, y, kind="qr"))
    with pytest.raises(ValueError, match="2 features"):
        a.merge(SufficientStatistics.from_data(X[:, :2], y))
    with pytest.raises(TypeError, match="SufficientStatistics"):
        a.merge(X)
    with pytest.raises(ValueError, match="kind"):
        SufficientStatistics.from_data(X, y, kind="svd")
    with pytest.raises(ValueError, match="solver='newton'"):
        LinearRegression(solver="lbfgs").fit_from_statistics(a)


def test_update_adds_rows_in_place():
    X, y, _ = make_problem(500, 3, seed=18)
    stats = SufficientStatistics.from_data(X[:200], y[:200])
    assert stats.update(X[200:], y[200:]) is stats
    once = SufficientStatistics.from_data(X, y, n_shards=1)
    assert _rel(stats.matrix, once.matrix) < 1e-13


def test_statistics_compare_by_value():
    X, y, s = make_problem(300, 4, seed=2, weights=True)
    stats = SufficientStatistics.from_data(X, y, s)
    assert stats == stats.copy() and stats == pickle.loads(pickle.dumps(stats))
    assert stats in [stats.copy()]
    assert stats != SufficientStatistics.from_data(X[:200], y[:200], s[:200])
    assert stats != SufficientStatistics.from_data(X, y, s, kind="qr")
    assert stats != "stats"
    with pytest.raises(TypeError):
        hash(stats)
