"""fastcost.preprocessing and the steps LinearRegression folds in, against numpy/scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastcost import LinearRegression
from fastcost.exceptions import ConvergenceWarning
from fastcost.preprocessing import Cleaner, StandardScaler, clean, find_redundant_columns
from helpers import make_problem, reference_fit
from sklearn import preprocessing as skp
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

SOLVERS = ["newton", "qr", "lbfgs", "gd", "sgd"]
ITER = {"lbfgs": {"tol": 1e-12, "max_iter": 5000}, "gd": {"tol": 1e-12, "max_iter": 200000}}


@parametrize_with_checks(
    [StandardScaler(), StandardScaler(with_mean=False), Cleaner(), Cleaner(policy="impute")]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------------------ StandardScaler


def _relerr(a, b):
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weights", [False, True])
def test_scaler_matches_sklearn(dtype, order, weights):
    X, _, s = make_problem(5000, 7, seed=2, dtype=dtype, order=order, weights=weights)
    X[:, 3] = 4.0  # constant column: scale 1
    ref = skp.StandardScaler().fit(X, sample_weight=s)
    ours = StandardScaler().fit(X, sample_weight=s)
    rtol = 1e-12 if dtype == np.float64 else 1e-6  # float32 data, float64 statistics
    assert _relerr(ours.mean_, ref.mean_) < rtol
    assert _relerr(ours.var_, ref.var_ + (ref.var_ == 0)) < rtol or np.allclose(ours.var_, ref.var_)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=rtol)
    assert ours.scale_[3] == 1.0 and ours.report_.constant_columns == (3,)
    assert ours.n_samples_seen_ == pytest.approx(ref.n_samples_seen_)
    Z = ours.transform(X)
    assert Z.dtype == dtype and Z.shape == X.shape
    np.testing.assert_allclose(Z, ref.transform(X), rtol=0, atol=100 * np.finfo(dtype).eps)
    np.testing.assert_allclose(
        ours.inverse_transform(Z), X, rtol=0, atol=100 * np.finfo(dtype).eps * 10
    )


def test_scaler_large_mean_small_spread():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 3))
    X[:, 0] = 1e9 + 1e-3 * rng.standard_normal(2000)
    X[:, 1] = -3e7 + 1e-2 * rng.standard_normal(2000)
    # Exact reference: two-pass about the exact (fraction) mean is overkill; a
    # shifted two-pass in float64 is exact to rounding for these columns.
    exact_var = np.var(X - X[0], axis=0)
    ref = skp.StandardScaler().fit(X)
    for Xo in (X, np.asfortranarray(X)):
        ours = StandardScaler().fit(Xo)
        assert _relerr(ours.var_, ref.var_) < 1e-12
        assert _relerr(ours.var_, exact_var) < 1e-12
        assert _relerr(ours.mean_, ref.mean_) < 1e-12


def test_scaler_partial_fit_matches_sklearn():
    X, _, s = make_problem(3000, 5, seed=4, weights=True)
    ref, ours = skp.StandardScaler(), StandardScaler()
    for part in np.array_split(np.arange(3000), 4):
        ref.partial_fit(X[part], sample_weight=s[part])
        ours.partial_fit(X[part], sample_weight=s[part])
    assert _relerr(ours.mean_, ref.mean_) < 1e-12
    assert _relerr(ours.var_, ref.var_) < 1e-12
    assert ours.n_samples_seen_ == pytest.approx(ref.n_samples_seen_, rel=1e-12)
    whole = StandardScaler().fit(X, sample_weight=s)
    assert _relerr(ours.var_, whole.var_) < 1e-12


@pytest.mark.parametrize("with_mean", [True, False])
@pytest.mark.parametrize("with_std", [True, False])
def test_scaler_options(with_mean, with_std):
    X, _, _ = make_problem(500, 4, seed=5)
    ref = skp.StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    ours = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    for attr in ("mean_", "var_", "scale_"):
        a, b = getattr(ours, attr), getattr(ref, attr)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("order", ["C", "F"])
def test_scaler_copy_false_is_in_place(order):
    X, _, _ = make_problem(400, 3, seed=6, order=order)
    sc = StandardScaler(copy=False).fit(X)
    expected = (X - sc.mean_) / sc.scale_  # scikit-learn's arithmetic, numpy's rounding
    Z = sc.transform(X)
    assert Z is X
    np.testing.assert_array_equal(X, expected)
    back = sc.inverse_transform(X)
    assert back is X
    Z2 = StandardScaler().fit(X).transform(X)
    assert not np.shares_memory(Z2, X)


def test_scaler_identical_across_threads_and_rejects_nan():
    X, _, _ = make_problem(50_000, 6, seed=7)
    a = StandardScaler(n_threads=1).fit(X)
    b = StandardScaler(n_threads=2).fit(X)
    np.testing.assert_array_equal(a.var_, b.var_)
    np.testing.assert_array_equal(a.mean_, b.mean_)
    X[123, 4] = np.nan
    with pytest.raises(ValueError, match="row 123, column 4"):
        StandardScaler().fit(X)


# ------------------------------------------------------------------ cleaning


def _dirty(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 5)).astype(dtype)
    y = rng.standard_normal(200).astype(dtype)
    X[3, 2] = np.nan
    X[10, 0] = np.inf
    X[10, 4] = -np.inf
    X[50, 2] = np.nan
    y[7] = np.nan
    return X, y


def test_clean_raise_names_first_bad_cell():
    X, y = _dirty()
    with pytest.raises(ValueError, match=r"X \(column 2\).*row 3"):
        clean(X, y)
    X[3, 2] = 0.0
    with pytest.raises(ValueError, match=r"^y .*row 7"):
        clean(X, y)
    Xc, yc, report = clean(np.ones((4, 2)), np.ones(4))
    assert report.bad_cells_X == 0 and report.bytes_copied == 0


@pytest.mark.parametrize("order", ["C", "F"])
def test_clean_drop_matches_numpy(order):
    X, y = _dirty()
    X = np.asarray(X, order=order)
    keep = np.isfinite(X).all(axis=1) & np.isfinite(y)
    Xc, yc, report = clean(X, y, policy="drop")
    np.testing.assert_array_equal(Xc, X[keep])
    np.testing.assert_array_equal(yc, y[keep])
    assert report.rows_dropped == 4 and report.bad_cells_X == 4 and report.bad_cells_y == 1
    assert report.columns_affected == (0, 2, 4)
    assert report.bytes_copied == Xc.nbytes + yc.nbytes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clean_impute_matches_numpy(dtype):
    X, _ = _dirty(dtype=dtype)
    ref = np.where(np.isfinite(X), X, np.nan)
    means = np.nanmean(ref.astype(np.float64), axis=0)
    expected = np.where(np.isfinite(X), X, means.astype(dtype))
    Xc, _, report = clean(X, policy="impute")
    np.testing.assert_allclose(Xc, expected, rtol=10 * np.finfo(dtype).eps)
    assert report.cells_imputed == 4 and not report.in_place and report.bytes_copied == X.nbytes
    assert np.isnan(X[3, 2])  # copy=True left X alone
    Xi, _, report = clean(X, policy="impute", copy=False)
    assert Xi is X and report.in_place and report.bytes_copied == 0
    np.testing.assert_allclose(X, expected, rtol=10 * np.finfo(dtype).eps)


def test_clean_impute_drops_rows_with_bad_target():
    X, y = _dirty()
    Xc, yc, report = clean(X, y, policy="impute")
    keep = np.isfinite(y)
    Xk = X[keep]
    means = np.nanmean(np.where(np.isfinite(Xk), Xk, np.nan), axis=0)
    np.testing.assert_allclose(Xc, np.where(np.isfinite(Xk), Xk, means), rtol=1e-15)
    np.testing.assert_array_equal(yc, y[keep])
    assert report.rows_dropped == 1 and report.cells_imputed == 4


def test_cleaner_transformer():
    X, _ = _dirty()
    imp = Cleaner(policy="impute").fit(X)
    means = np.nanmean(np.where(np.isfinite(X), X, np.nan), axis=0)
    np.testing.assert_allclose(imp.statistics_, means, rtol=1e-14)
    np.testing.assert_allclose(imp.transform(X), np.where(np.isfinite(X), X, means), rtol=1e-14)
    assert imp.report_.bad_cells_X == 4
    drop = Cleaner(policy="drop").fit(X)
    assert drop.transform(X).shape == (197, 5)
    with pytest.raises(ValueError, match="row 3, column 2"):
        Cleaner().fit(X)


# pandas' nullable dtypes, text columns, polars: tables as the estimators read them

DATA = Path(__file__).parent / "data"


def _nullable_frame():
    """A frame with NaN in a float column and pd.NA in boolean, Int64 and Float64 ones."""
    return pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0, 4.0, 5.5, -2.0],
            "b": pd.array([True, None, False, True, True, None], dtype="boolean"),
            "i": pd.array([1, 2, None, 7, 3, 4], dtype="Int64"),
            "f": pd.array([0.5, None, 1.5, 2.5, None, 4.0], dtype="Float64"),
        }
    )


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
@pytest.mark.parametrize("policy", ["raise", "drop", "impute"])
def test_clean_counts_pd_na_as_missing(dtype, policy):
    X = pd.DataFrame({"a": pd.array([1, None, 3, 8], dtype=dtype), "b": [1.0, 2.0, 3.0, 4.0]})
    y = pd.Series(pd.array([1, 2, 3, None], dtype=dtype))
    ref_X = X.astype("float64").to_numpy()  # pandas' own conversion: pd.NA -> NaN
    ref_y = y.astype("float64").to_numpy()
    if policy == "raise":
        with pytest.raises(ValueError, match=r"X \(column 0\).*row 1"):
            clean(X, y, policy)
        return
    Xc, yc, report = clean(X, y, policy)
    if policy == "drop":
        keep = ~np.isnan(ref_X).any(axis=1) & ~np.isnan(ref_y)
        np.testing.assert_array_equal(Xc, ref_X[keep])
        np.testing.assert_array_equal(yc, ref_y[keep])
        assert report.rows_dropped == 2 and report.bad_cells_y == 1
    else:  # the row with a missing y goes, then the means of the rows kept
        keep = ~np.isnan(ref_y)
        expected = SimpleImputer(strategy="mean").fit_transform(ref_X[keep])
        np.testing.assert_allclose(Xc, expected, rtol=1e-15)
        np.testing.assert_array_equal(yc, ref_y[keep])
        assert report.cells_imputed == 1 and report.columns_affected == (0,)


def test_clean_names_the_text_columns_of_a_table():
    msleep = pd.read_csv(DATA / "msleep.csv")
    text = ["name", "genus", "vore", "order", "conservation"]
    with pytest.raises(ValueError, match=r"not numbers: \{'name': .*'conservation'.*Cleaner"):
        clean(msleep, msleep["sleep_total"])
    numeric = msleep.drop(columns=text)  # as the message says: drop them, then clean
    Xc, yc, report = clean(numeric, numeric["sleep_total"], "drop")
    ref = numeric.to_numpy(dtype=np.float64)
    keep = np.isfinite(ref).all(axis=1)
    np.testing.assert_array_equal(Xc, ref[keep])
    assert report.rows_dropped == int((~keep).sum()) > 0


def test_cleaner_imputes_boolean_and_nullable_columns_as_simple_imputer():
    X = _nullable_frame()
    X["kind"] = pd.array(["u", "v", None, "u", "w", "v"], dtype="str")
    numeric = ["a", "b", "i", "f"]
    cleaner = Cleaner(policy="impute").fit(X)
    ref = SimpleImputer(strategy="mean").fit(X[numeric])
    np.testing.assert_allclose(cleaner.statistics_, ref.statistics_, rtol=1e-15)
    out = cleaner.transform(X)
    assert list(out.columns) == list(X.columns) and (out.dtypes[numeric] == np.float64).all()
    np.testing.assert_allclose(out[numeric].to_numpy(), ref.transform(X[numeric]), rtol=1e-15)
    pd.testing.assert_series_equal(out["kind"], X["kind"])  # text kept, missing level and all
    assert X["b"].isna().sum() == 2  # the input is left as it was
    # the pipeline of the report: the model fits the imputed 0/1 column
    y = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 0.5])
    X = X[["a", "b"]]
    pipe = make_pipeline(Cleaner(policy="impute"), LinearRegression(solver="newton")).fit(X, y)
    filled = SimpleImputer(strategy="mean").fit_transform(X)
    A = np.column_stack([filled, np.ones(len(y))])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(pipe[-1].coef_, sol[:2], rtol=1e-10)
    np.testing.assert_allclose(pipe[-1].intercept_, sol[2], rtol=1e-10)


def test_cleaner_drop_and_raise_see_pd_na():
    X = _nullable_frame()
    out = Cleaner(policy="drop").fit_transform(X)
    pd.testing.assert_frame_equal(out, X.dropna())  # pandas' reference; dtypes kept
    with pytest.raises(ValueError, match=r"row 1, column 'a'.*'b': 2, 'i': 1, 'f': 2"):
        Cleaner(policy="raise").fit(X)
    fitted = Cleaner(policy="raise").fit(X.dropna())
    with pytest.raises(ValueError, match=r"column 'a'"):
        fitted.transform(X)


def test_cleaner_feature_names_and_set_output():
    X = _nullable_frame()
    pipe = make_pipeline(Cleaner(policy="impute"), skp.StandardScaler())
    out = pipe.set_output(transform="pandas").fit_transform(X)
    ref = make_pipeline(SimpleImputer(strategy="mean"), skp.StandardScaler()).fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(X.columns)
    np.testing.assert_allclose(out.to_numpy(), ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(pipe.get_feature_names_out(), X.columns)
    arr = Cleaner().fit(np.ones((3, 2)))
    np.testing.assert_array_equal(arr.get_feature_names_out(), ["x0", "x1"])
    np.testing.assert_array_equal(arr.get_feature_names_out(["p", "q"]), ["p", "q"])


def test_cleaner_fitted_on_a_frame_reads_arrays_by_position():
    X = _nullable_frame()
    cleaner = Cleaner(policy="impute").fit(X)
    A = X.astype("float64").to_numpy()
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        out = cleaner.transform(A)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, SimpleImputer(strategy="mean").fit(X).transform(X), rtol=1e-15)
    with pytest.warns(UserWarning, match="valid feature names"):
        with pytest.raises(ValueError, match="X has 3 features, but Cleaner is expecting 4"):
            cleaner.transform(A[:, :3])
    with pytest.raises(ValueError, match="feature names should match"):
        cleaner.transform(X[["b", "a", "i", "f"]])


def test_cleaner_on_polars_keeps_text_and_cleans_numbers():
    pl = pytest.importorskip("polars")
    X = pl.DataFrame(
        {
            "name": ["Cheetah", "Owl monkey", None, "Cow", "Dog"],
            "x": [1.0, None, 3.0, float("nan"), 2.0],
            "k": [1, 2, None, 4, 5],
            "ok": [True, None, False, True, True],
        }
    )
    numeric = ["x", "k", "ok"]
    ref_frame = X.select(numeric).to_pandas().astype("float64")  # null, NaN -> NaN
    imp = Cleaner(policy="impute").fit(X)
    ref = SimpleImputer(strategy="mean").fit(ref_frame)
    np.testing.assert_allclose(imp.statistics_, ref.statistics_, rtol=1e-15)
    out = imp.transform(X)
    assert isinstance(out, pl.DataFrame) and out.columns == X.columns
    np.testing.assert_allclose(out.select(numeric).to_numpy(), ref.transform(ref_frame))
    assert out["name"].to_list() == X["name"].to_list()
    dropped = Cleaner(policy="drop").fit_transform(X)
    keep = np.isfinite(ref_frame.to_numpy()).all(axis=1)
    assert dropped.equals(X.filter(pl.Series(keep)))
    with pytest.raises(ValueError, match=r"row 1, column 'x'"):
        Cleaner().fit(X)


# ------------------------------------------------------------------- pruning


def _redundant_problem(seed=0, n=400):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 4)) * [1.0, 2.0, 0.5, 3.0] + [1.0, -2.0, 0.0, 5.0]
    X = np.column_stack(
        [base[:, 0], base[:, 1], np.full(n, 7.0), base[:, 2], base[:, 0],
         base[:, 1] - 3 * base[:, 2], base[:, 3]]
    )  # fmt: skip
    y = base @ [1.0, -0.5, 2.0, 0.3] + 0.1 * rng.standard_normal(n)
    return X, y


def test_find_redundant_columns():
    X, _ = _redundant_problem()
    r = find_redundant_columns(X)
    assert r.constant == (2,)
    assert r.duplicate == {4: 0}
    assert r.collinear == (5,)
    assert r.kept == (0, 1, 3, 6)
    # Reference: the kept columns have full rank and explain every dropped one.
    Xc = X - X.mean(axis=0)
    assert np.linalg.matrix_rank(Xc[:, r.kept]) == 4 == np.linalg.matrix_rank(Xc)
    assert r.gram_work_fraction == pytest.approx((6 / 9) ** 2)
    assert r.solve_work_fraction == pytest.approx((4 / 7) ** 3)


@pytest.mark.parametrize("solver", SOLVERS)
def test_prune_maps_coefficients_back(solver):
    X, y = _redundant_problem()
    kept = [0, 1, 3, 6]
    params = {"random_state": 0, "max_iter": 200} if solver == "sgd" else ITER.get(solver, {})
    # sgd: the raw columns are too badly scaled for lr=0.01; standardize (no copy either).
    model = LinearRegression(solver=solver, prune=True, standardize=solver == "sgd", **params)
    model.fit(X, y)
    assert model.prune_report_.kept == tuple(kept)
    dropped = [2, 4, 5]
    assert (model.coef_[dropped] == 0).all()
    if solver == "sgd":  # the recipe: compare with itself on the kept columns
        # 200 epochs of the recipe land near the least-squares solution.
        w_ref, b_ref = reference_fit(X[:, kept], y)
        np.testing.assert_allclose(model.coef_[kept], w_ref, atol=1e-3)
        return
    w_ref, b_ref = reference_fit(X[:, kept], y)
    np.testing.assert_allclose(model.coef_[kept], w_ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, b_ref, atol=1e-8)


# ------------------------------------------------------------- standardize


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
def test_standardize_equals_scaler_then_fit(solver, alpha, fit_intercept, weights):
    X, y, s = make_problem(1500, 6, seed=11, weights=weights)
    params = dict(ITER.get(solver, {}), solver=solver, alpha=alpha, fit_intercept=fit_intercept)
    if solver == "sgd":
        params["random_state"] = 3
    scaler = skp.StandardScaler(with_mean=fit_intercept).fit(X, sample_weight=s)
    ref = LinearRegression(**params).fit(scaler.transform(X), y, sample_weight=s)
    w = ref.coef_ / scaler.scale_
    b = ref.intercept_ - (scaler.mean_ @ w if fit_intercept else 0.0)
    model = LinearRegression(standardize=True, **params).fit(X, y, sample_weight=s)
    tol = 1e-9 if solver in ITER else 1e-11
    np.testing.assert_allclose(model.coef_, w, rtol=0, atol=tol * max(1, np.abs(w).max()))
    np.testing.assert_allclose(model.intercept_, b, rtol=0, atol=tol * max(1, abs(b)))


def test_standardize_helps_gradient_descent():
    X, y, _ = make_problem(2000, 5, seed=12)
    X[:, 0] *= 1000.0  # badly scaled column
    with pytest.warns(ConvergenceWarning):
        LinearRegression(solver="gd", tol=1e-8, max_iter=2000).fit(X, y)
    std = LinearRegression(solver="gd", tol=1e-8, max_iter=2000, standardize=True).fit(X, y)
    assert std.converged_ and std.n_iter_ < 200
    w_ref, _ = reference_fit(X, y)
    np.testing.assert_allclose(std.coef_, w_ref, rtol=1e-6, atol=1e-9)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from fastcost import LinearRegression
    solver = sys.argv[1]
    n, d = 2_000_000, 50
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    X *= 3.0
    X += 1.0                      # in place: no temporary of X's size
    w = rng.standard_normal(d)
    y = np.empty(n)
    for i in range(0, n, 100_000):  # small temporaries only
        y[i:i + 100_000] = X[i:i + 100_000] @ w + 0.1 * rng.standard_normal(min(100_000, n - i))
    kw = {"max_iter": 20} if solver in ("lbfgs", "gd") else {}
    kw = {"max_iter": 1} if solver == "sgd" else kw
    warm = LinearRegression(solver=solver, standardize=True, prune=True, **kw)
    warm.fit(X[:5000], y[:5000])  # load code and thread pools first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    LinearRegression(solver=solver, standardize=True, prune=True, **kw).fit(X, y)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"extra": after - before, "x_bytes": X.nbytes}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "sgd"])
def test_standardize_and_prune_allocate_no_copy(solver):
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", MEMORY_SCRIPT, solver],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # Every solver stays under 1 % of X; sgd's shuffled row order (4 bytes a row,
    # the recipe's one array of length n) is 1 % of a 50-column X by itself and
    # is allowed on top: it is not a copy of X and exists without preprocessing.
    order_bytes = 4 * 2_000_000 if solver == "sgd" else 0
    assert res["extra"] < 0.01 * res["x_bytes"] + order_bytes, res


# ------------------------------------------------------------ augmentation


@pytest.mark.parametrize("standardize", [False, True])
def test_noise_augmentation_matches_explicit_copies(standardize):
    rng = np.random.default_rng(21)
    n, d, copies, sigma = 60, 3, 200, 0.8
    X = rng.standard_normal((n, d)) * [1.0, 2.0, 0.5] + [0.5, -1.0, 2.0]
    y = X @ [1.0, -2.0, 0.5] + 0.3 + 0.2 * rng.standard_normal(n)
    Xa = np.tile(X, (copies, 1)) + sigma * rng.standard_normal((n * copies, d))
    ya = np.tile(y, copies)
    w_aug, b_aug = reference_fit(Xa, ya)  # explicit augmentation, plain least squares
    model = LinearRegression(solver="newton", noise_augmentation=sigma, standardize=standardize)
    model.fit(X, y)
    # Tolerance from the sampling error of N = n * copies noisy rows. The
    # explicit fit solves mean_i g_i(w) = 0 with g_i = x~_i (x~_i^T w + b - y_i)
    # (centered noisy rows x~); at the expected solution E g_i = 0 and the
    # g_i are independent (the noise is), so the explicit solution deviates by
    # H^-1 mean_i g_i, with covariance H^-1 Cov(g_i) H^-1 / N: 5 standard
    # deviations, shrinking like 1 / sqrt(copies).
    N = n * copies
    Xac = Xa - Xa.mean(axis=0)
    resid = Xac @ model.coef_ - (ya - ya.mean())
    g = Xac * resid[:, None]
    H = Xac.T @ Xac / N
    Hinv = np.linalg.inv(H)
    std = np.sqrt(np.diag(Hinv @ np.cov(g, rowvar=False) @ Hinv) / N)
    tol = 5 * std
    np.testing.assert_array_less(np.abs(model.coef_ - w_aug), tol)
    # ...and the augmentation matters far more than that tolerance.
    w_plain, _ = reference_fit(X, y)
    assert (np.abs(w_plain - w_aug) > 5 * tol).all()
    # The exact expectation: ridge with alpha = sigma^2 on X's scale.
    w_ridge, _ = reference_fit(X, y, alpha=sigma**2)
    np.testing.assert_allclose(model.coef_, w_ridge, rtol=1e-10)


@pytest.mark.parametrize("solver", ["lbfgs", "gd", "qr"])
def test_noise_augmentation_all_solvers_agree(solver):
    X, y, s = make_problem(800, 4, seed=22, weights=True)
    ref = LinearRegression(solver="newton", noise_augmentation=0.7, standardize=True, alpha=0.2)
    ref.fit(X, y, sample_weight=s)
    model = LinearRegression(solver=solver, noise_augmentation=0.7, standardize=True, alpha=0.2,
                             **ITER.get(solver, {}))  # fmt: skip
    model.fit(X, y, sample_weight=s)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)


def test_cleaner_on_an_arrow_table_from_pandas_converts_back():
    """An Arrow table made from pandas keeps pandas' note of the column types; the
    imputed boolean column is float now and the table must still convert back."""
    pa = pytest.importorskip("pyarrow")
    df = pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0, 4.0],
            "b": pd.array([True, None, False, True], dtype="boolean"),
            "g": ["x", "y", "x", "y"],
        }
    )
    out = Cleaner(policy="impute").fit(pa.Table.from_pandas(df)).transform(pa.Table.from_pandas(df))
    back = out.to_pandas()
    ref = SimpleImputer(strategy="mean").fit_transform(df[["a", "b"]].astype("float64"))
    np.testing.assert_allclose(back[["a", "b"]].to_numpy(), ref)
    assert back["g"].tolist() == ["x", "y", "x", "y"]
