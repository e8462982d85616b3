"""2-D targets (n, k) as scikit-learn takes them, against per-target fits and numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from fastcost import LinearRegression
from helpers import make_problem, reference_fit


def _targets(n=900, d=5, k=3, seed=51, weights=False):
    X, y, s = make_problem(n, d, seed=seed, weights=weights)
    rng = np.random.default_rng(seed)
    Y = np.c_[y, X @ rng.standard_normal((d, k - 1)) - 3.0 + rng.standard_normal((n, k - 1))]
    return X, Y, s


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("solver", ["auto", "newton", "qr"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("order", ["C", "F"])  # F: the pass reads Y's columns in place
def test_one_pass_for_all_targets_equals_each_target_alone(solver, weights, fit_intercept, order):
    X, Y, s = _targets(weights=weights)
    Y = np.asarray(Y, order=order)
    alphas = np.array([0.0, 0.1, 2.0])
    model = LinearRegression(solver=solver, alpha=alphas, fit_intercept=fit_intercept)
    model.fit(X, Y, sample_weight=s)
    assert model.coef_.shape == (3, 5) and model.intercept_.shape == (3,)
    assert model.n_passes_ == 1 and model.n_targets_ == 3
    for t in range(3):
        one = LinearRegression(solver=solver, alpha=alphas[t], fit_intercept=fit_intercept)
        one.fit(X, Y[:, t], sample_weight=s)
        assert _rel(model.coef_[t], one.coef_) < 1e-12
        assert abs(model.intercept_[t] - one.intercept_) < 1e-12 * max(1, abs(one.intercept_))
        w, b = reference_fit(X, Y[:, t], s, alpha=alphas[t], fit_intercept=fit_intercept)
        assert _rel(model.coef_[t], w) < 1e-10
    pred = model.predict(X)
    assert pred.shape == (900, 3)
    np.testing.assert_allclose(pred, X @ model.coef_.T + model.intercept_, rtol=1e-12)
    assert "for 3 targets from one pass" in model.fit_info_


def test_a_column_y_keeps_its_shape():
    X, Y, _ = _targets()
    model = LinearRegression().fit(X, Y[:, :1])
    assert model.coef_.shape == (1, 5) and model.intercept_.shape == (1,)
    assert model.predict(X).shape == (900, 1)
    one = LinearRegression().fit(X, Y[:, 0])
    assert _rel(model.coef_[0], one.coef_) < 1e-12


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_iterative_solvers_fit_each_target(solver):
    X, Y, _ = _targets()
    model = LinearRegression(solver=solver, tol=1e-10, max_iter=5000).fit(X, Y)
    for t in range(3):
        w, b = reference_fit(X, Y[:, t])
        assert _rel(model.coef_[t], w) < 1e-6
    assert model.n_passes_ >= 3


@pytest.mark.parametrize("option", [dict(positive=True), dict(standardize=True, alpha=0.3),
                                    dict(compute_statistics=True)])  # fmt: skip
def test_options_apply_per_target(option):
    X, Y, _ = _targets(seed=52)
    model = LinearRegression(**option).fit(X, Y)
    for t in range(3):
        one = LinearRegression(**option).fit(X, Y[:, t])
        assert _rel(model.coef_[t], one.coef_) < 1e-11
        if "compute_statistics" in option:
            assert _rel(model.coef_stderr_[t], one.coef_stderr_) < 1e-10


def test_float32_keeps_its_dtype():
    X, Y, _ = _targets()
    model = LinearRegression().fit(X.astype(np.float32), Y.astype(np.float32))
    assert model.coef_.dtype == np.float32
    ref = LinearRegression().fit(X.astype(np.float32), Y[:, 1].astype(np.float32))
    assert _rel(model.coef_[1], ref.coef_) < 1e-4


def test_alpha_per_target_errors():
    X, Y, _ = _targets()
    with pytest.raises(ValueError, match="3 finite values"):
        LinearRegression(alpha=[0.1, 0.2]).fit(X, Y)
    with pytest.raises(ValueError, match="one per target"):
        LinearRegression(alpha=[0.1, 0.2]).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="finite values >= 0"):
        LinearRegression(alpha=[0.1, -1.0, 0.0]).fit(X, Y)


@pytest.mark.parametrize("solver", ["newton", "qr"])
def test_partial_fit_with_several_targets(solver):
    X, Y, _ = _targets(seed=53)
    model = LinearRegression(solver=solver, alpha=[0.0, 0.5, 1.0])
    for a in range(0, 900, 250):
        model.partial_fit(X[a : a + 250], Y[a : a + 250])
    whole = LinearRegression(solver=solver, alpha=[0.0, 0.5, 1.0]).fit(X, Y)
    assert model.coef_.shape == (3, 5) and model.n_batches_ == 4
    assert model.statistics_.n_targets == 3 and model.statistics_.n_rows == 900
    assert _rel(model.coef_, whole.coef_) < 1e-12
    assert _rel(model.intercept_, whole.intercept_) < 1e-12


def test_statistics_of_several_targets_merge_and_split():
    from fastcost import SufficientStatistics

    X, Y, _ = _targets(seed=54)
    for kind in ("gram", "qr"):
        a = SufficientStatistics.from_data(X[:400], Y[:400], kind=kind)
        b = SufficientStatistics.from_data(X[400:], Y[400:], kind=kind)
        total = a + b
        assert total.n_targets == 3
        for t in range(3):
            one = SufficientStatistics.from_data(X, Y[:, t], kind=kind)
            m1 = LinearRegression().fit_from_statistics(total.target(t))
            m2 = LinearRegression().fit_from_statistics(one)
            assert _rel(m1.coef_, m2.coef_) < 1e-12


@pytest.mark.parametrize("kind", ["gram", "qr"])
def test_fit_from_statistics_of_several_targets(kind):
    """The merged statistics of workers' parts solve every target, as numpy's
    lstsq (ridge: its closed form) on all rows does, each with its own alpha."""
    from fastcost import SufficientStatistics

    X, Y, _ = _targets(seed=55)
    parts = [SufficientStatistics.from_data(X[i::3], Y[i::3], kind=kind) for i in range(3)]
    total = parts[0] + parts[1] + parts[2]
    assert np.array_equal(sum(parts).matrix, total.matrix)  # sum() merges in the same order
    alphas = [0.0, 0.5, 1.0]
    model = LinearRegression(alpha=alphas).fit_from_statistics(total)
    assert model.coef_.shape == (3, 5) and model.n_passes_ == 0 and model.statistics_ is total
    assert model.fit_report_.passes == 0
    for t in range(3):
        coef, intercept = reference_fit(X, Y[:, t], alpha=alphas[t])
        assert _rel(model.coef_[t], coef) < 1e-10
        assert model.intercept_[t] == pytest.approx(intercept, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(model.predict(X[:4]), X[:4] @ model.coef_.T + model.intercept_)


def test_partial_fit_refuses_a_change_of_targets():
    X, Y, _ = _targets(seed=56)
    model = LinearRegression().partial_fit(X[:100], Y[:100, 0])
    with pytest.raises(ValueError, match=r"y has 3 target\(s\) .* earlier batches had 1"):
        model.partial_fit(X[100:200], Y[100:200])
    model.partial_fit(X[100:200], Y[100:200, :1])  # (n, 1) is one target too
    assert model.n_batches_ == 2


@pytest.mark.parametrize("solver", ["newton", "qr", "lbfgs", "gd"])
@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_a_numeric_dataframe_takes_the_one_pass_paths(solver, kind):
    X, Y, _ = _targets()
    names = [f"f{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    if kind == "polars":
        frame = pl.from_pandas(frame)
    model = LinearRegression(solver=solver).fit(frame, Y)
    singles = [LinearRegression(solver=solver).fit(frame, Y[:, t]) for t in range(3)]
    for t in range(3):  # each target's own fit on the frame (lockstep: bit for bit)
        if solver in ("lbfgs", "gd"):
            np.testing.assert_array_equal(model.coef_[t], singles[t].coef_)
            assert model.intercept_[t] == singles[t].intercept_
        assert _rel(model.coef_[t], singles[t].coef_) < 1e-12
        assert model.intercept_[t] == pytest.approx(singles[t].intercept_, rel=1e-12)
        w, b = reference_fit(X, Y[:, t])
        assert _rel(model.coef_[t], w) < (1e-10 if solver in ("newton", "qr") else 1e-5)
    passes = [s.n_passes_ for s in singles]
    assert model.n_passes_ == (1 if solver in ("newton", "qr") else max(passes)) < sum(passes)
    assert list(model.feature_names_in_) == names and model.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(model.predict(frame), X @ model.coef_.T + model.intercept_)


def test_a_dataframe_with_integer_labels_or_a_category_column():
    X, Y, _ = _targets()
    model = LinearRegression(solver="newton").fit(pd.DataFrame(X), Y)
    assert model.n_passes_ == 1 and not hasattr(model, "feature_names_in_")
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame["group"] = pd.Categorical(np.where(np.arange(len(X)) % 3 == 0, "a", "b"))
    model = LinearRegression(solver="newton").fit(frame, Y)  # the table path, target by target
    one = LinearRegression(solver="newton").fit(frame, Y[:, 2])
    np.testing.assert_allclose(model.coef_[2], one.coef_, rtol=1e-12, atol=1e-14)
    assert model.n_passes_ == 3


def test_prediction_intervals_per_target():
    compute_statistics = True  # the robust types refuse a 2-D y (they read the rows again)
    X, Y, s = _targets(n=400, weights=True)
    Y[:, 2] *= 30.0  # a target of another scale: its own residual scale and covariance
    alphas = np.array([0.0, 0.5, 0.0])
    model = LinearRegression(alpha=alphas, compute_statistics=compute_statistics)
    model.fit(X, Y, sample_weight=s)
    Xn = X[:7] + 0.25
    pred, std = model.predict(Xn, return_std=True)
    lo, hi = model.predict_interval(Xn, level=0.8, kind="mean")
    assert pred.shape == std.shape == lo.shape == hi.shape == (7, 3)
    assert model.cov_params_.shape == (3, 6, 6) and model.prediction_cov_.shape == (3, 6, 6)
    for t in range(3):
        one = LinearRegression(alpha=alphas[t], compute_statistics=compute_statistics)
        one.fit(X, Y[:, t], sample_weight=s)
        p1, s1 = one.predict(Xn, return_std=True)
        l1, h1 = one.predict_interval(Xn, level=0.8, kind="mean")
        for got, want in ((pred[:, t], p1), (std[:, t], s1), (lo[:, t], l1), (hi[:, t], h1)):
            assert _rel(got, want) < 1e-10
        assert _rel(model.cov_params_[t], one.cov_params_) < 1e-10


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_save_and_load_several_targets(tmp_path, solver):
    import json

    import fastcost
    from fastcost.persistence import ModelFileError, _digest

    X, Y, _ = _targets()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    model = LinearRegression(solver=solver, compute_statistics=solver == "newton").fit(frame, Y)
    path = tmp_path / "m.json"
    model.save(path)
    back = fastcost.load(path)
    for attr in ("coef_", "intercept_", "n_iter_", "converged_", "rank_"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(model, attr))
    np.testing.assert_array_equal(back.predict(frame), model.predict(frame))
    assert back.n_targets_ == 3 and list(back.feature_names_in_) == list(frame.columns)
    if solver == "newton":
        np.testing.assert_array_equal(back.predict(frame[:4], return_std=True)[1],
                                      model.predict(frame[:4], return_std=True)[1])  # fmt: skip
    doc = json.loads(path.read_text())
    doc["attributes"]["intercept_"]["values"].pop()  # two intercepts for three targets
    doc["attributes"]["intercept_"]["shape"] = [2]
    doc.pop("sha256")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(doc, sha256=_digest(doc))))
    with pytest.raises(ModelFileError, match=r"intercept_ must hold one entry per target \(3\)"):
        fastcost.load(bad)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_a_table_with_text_columns_predicts_every_target(solver):
    # Salaries (Fox & Weisberg, carData; see tests/data/README.md): text columns
    # rank, discipline and sex beside a count; two targets.
    from pathlib import Path

    sal = pd.read_csv(Path(__file__).parent / "data" / "Salaries.csv", index_col=0)
    X = sal[["rank", "discipline", "yrs.since.phd", "sex"]]
    Y = sal[["salary", "yrs.service"]].to_numpy(dtype=np.float64)
    model = LinearRegression(solver=solver, tol=1e-10).fit(X, Y)
    pred = model.predict(X.head(20))
    assert model.coef_.shape[0] == 2 and pred.shape == (20, 2)
    for t in range(2):
        one = LinearRegression(solver=solver, tol=1e-10).fit(X, Y[:, t])
        assert _rel(model.coef_[t], one.coef_) < 1e-12
        assert _rel(pred[:, t], one.predict(X.head(20))) < 1e-12


def test_float32_targets_statistics_keep_the_residuals_digits():
    """Two targets of float32 X with R^2 near 1: each target's residual_std_ is that
    of numpy's lstsq on the same float32 values in float64 (it was 1.6-4x)."""
    rng = np.random.default_rng(57)
    X = rng.standard_normal((20000, 20))
    Y = X @ rng.uniform(20.0, 40.0, (20, 2)) + 0.01 * rng.standard_normal((20000, 2))
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    model = LinearRegression(solver="newton", compute_statistics=True).fit(X32, Y32)
    A = np.column_stack([np.ones(20000), X32.astype(np.float64)])
    for t in range(2):
        y = Y32[:, t].astype(np.float64)
        r = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
        assert model.residual_std_[t] == pytest.approx(np.sqrt(r @ r / (20000 - 21)), rel=1e-5)
