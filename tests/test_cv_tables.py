"""LinearRegressionCV on dataframes with categorical columns against brute-force
loops of LinearRegression fits on the fold's rows (the same level set: the
reference tables declare every level of the whole table as a category)."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest
from fastcost import LinearRegression, LinearRegressionCV, _cv_path
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GroupKFold, KFold, check_cv

DATA = pathlib.Path(__file__).parent / "data"
ALPHAS = (0.0, 1e-4, 0.01, 0.3, 5.0)
RTOL = 1e-10


def _salaries():
    df = pd.read_csv(DATA / "Salaries.csv").drop(columns="Unnamed: 0")
    y = df.pop("salary").to_numpy(dtype=np.float64) / 1000.0
    return df, y


def _synthetic(n=600, seed=0):
    """Dense columns, a 30-level text column with missing values and a 3-level one."""
    rng = np.random.default_rng(seed)
    city = rng.choice([f"c{i:02d}" for i in range(30)], size=n).astype(object)
    city[rng.random(n) < 0.06] = None
    kind = rng.choice(["x", "y", "z"], size=n)
    df = pd.DataFrame({
        "a": rng.normal(size=n) * 3 + 10, "city": city, "b": rng.uniform(-2, 5, size=n),
        "kind": kind, "c": rng.normal(size=n),
    })  # fmt: skip
    effect = dict(zip([f"c{i:02d}" for i in range(30)], rng.normal(size=30) * 2, strict=True))
    y = (1.5 * df["a"] - df["b"] + 0.3 * df["c"] + df["city"].map(effect).fillna(-4.0)
         + df["kind"].map({"x": 0.0, "y": 1.0, "z": -2.0}) + rng.normal(scale=1.5, size=n))  # fmt: skip
    return df, y.to_numpy()


def _declared(est, df):
    """``df`` with each categorical a pandas Categorical declaring every level the
    estimator's encoder took from the whole table (missing values as the
    ``<missing>`` level): a fit on some rows then has the same columns."""
    out = df.copy()
    enc = est.encoder_
    design = enc.transform(df.iloc[:1])
    for name, levels in zip(design.categorical_names, design.levels, strict=True):
        values = out[name].astype(object).where(out[name].notna(), "<missing>")
        out[name] = pd.Categorical(values, categories=list(levels))
    return out


def _brute(est, df, y, sw, splits, alphas):
    """Each fold's scores from LinearRegression on all rows, those outside the
    fold's training rows weighted 0: every level of the whole table has rows, as
    in the CV's fold fits, and a level without training rows gets a column of
    zero weight (coefficient 0 under a penalty)."""
    ref_df = _declared(est, df)
    out = np.empty((len(splits), len(alphas)))
    for j, (tr, te) in enumerate(splits):
        w_tr = np.zeros(y.size)
        w_tr[tr] = 1.0 if sw is None else sw[tr]
        for i, a in enumerate(alphas):
            m = LinearRegression(
                alpha=a, solver="newton", fit_intercept=est.fit_intercept,
                standardize=est.standardize,
            ).fit(ref_df, y, w_tr)  # fmt: skip
            pred = m.predict(ref_df.iloc[te])
            w = None if sw is None else sw[te]
            if est.scoring == "r2":
                out[j, i] = r2_score(y[te], pred, sample_weight=w)
            else:
                out[j, i] = -mean_squared_error(y[te], pred, sample_weight=w)
    return out, ref_df


def _check(est, df, y, sw=None, groups=None, alphas=ALPHAS):
    est.fit(df, y, sample_weight=sw, groups=groups)
    splits = list(check_cv(est.cv, y).split(df, y, groups))
    ref, ref_df = _brute(est, df, y, sw, splits, alphas)
    for j in range(len(splits)):
        np.testing.assert_allclose(est.cv_results_[f"split{j}_test_score"], ref[j], rtol=RTOL)
    np.testing.assert_allclose(est.cv_results_["mean_test_score"], ref.mean(0), rtol=RTOL)
    assert est.alpha_ == alphas[int(np.argmax(ref.mean(0)))]
    assert est.n_passes_ == 1 and est.n_splits_ == len(splits)
    full = LinearRegression(
        alpha=est.alpha_, solver="newton", fit_intercept=est.fit_intercept,
        standardize=est.standardize,
    ).fit(df, y, sw)  # fmt: skip
    scale = np.abs(full.coef_).max()
    np.testing.assert_allclose(est.coef_, full.coef_, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(est.intercept_, full.intercept_, rtol=RTOL, atol=RTOL * scale)
    assert list(est.feature_names_out_) == list(full.feature_names_out_)
    np.testing.assert_array_equal(est.reference_levels_dropped_, full.reference_levels_dropped_)
    pred = est.predict(df)
    np.testing.assert_allclose(pred, full.predict(df), rtol=1e-9, atol=1e-9 * np.abs(y).max())
    declared = LinearRegression(
        alpha=est.alpha_, solver="newton", fit_intercept=est.fit_intercept,
        standardize=est.standardize,
    ).fit(ref_df, y, sw)  # fmt: skip
    np.testing.assert_allclose(declared.coef_, full.coef_, rtol=RTOL, atol=RTOL * scale)
    return ref


@pytest.mark.parametrize("scoring", [None, "r2"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("standardize", [False, True])
def test_salaries_kfold(scoring, weights, standardize):
    df, y = _salaries()
    sw = np.random.default_rng(1).uniform(0.2, 3.0, size=len(y)) if weights else None
    est = LinearRegressionCV(alphas=ALPHAS, cv=KFold(5, shuffle=True, random_state=0),
                             scoring=scoring, standardize=standardize)  # fmt: skip
    _check(est, df, y, sw)
    assert est.encoder_.feature_names_out(False)[0] == "yrs.since.phd"
    assert est.coef_.size == 2 + 3 + 2 + 2


def test_salaries_alpha_zero_selected_drops_references():
    df, y = _salaries()
    est = LinearRegressionCV(alphas=(0.0, 50.0), cv=KFold(4, shuffle=True, random_state=2))
    _check(est, df, y, alphas=(0.0, 50.0))
    assert est.alpha_ == 0.0
    assert est.reference_levels_dropped_.all()
    first = [2, 5, 7]  # rank's, discipline's and sex's first level, after 2 dense columns
    assert (est.coef_[first] == 0).all()


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("splitter", ["kfold", "group"])
def test_synthetic_many_levels_and_missing(fit_intercept, standardize, weights, splitter):
    df, y = _synthetic()
    rng = np.random.default_rng(3)
    sw = rng.uniform(0.2, 3.0, size=len(y)) if weights else None
    groups = rng.integers(0, 23, size=len(y)) if splitter == "group" else None
    cv = KFold(5, shuffle=True, random_state=1) if splitter == "kfold" else GroupKFold(5)
    est = LinearRegressionCV(alphas=ALPHAS, cv=cv, fit_intercept=fit_intercept,
                             standardize=standardize)  # fmt: skip
    with pytest.warns(UserWarning, match="missing"):
        _check(est, df, y, sw, groups)
    assert "city=<missing>" in list(est.feature_names_out_)
    assert est.coef_.size == 3 + 31 + 3


def test_levels_from_the_whole_table():
    """A level that no training rows of a fold have keeps its column (0 coefficient
    under a penalty): the fold fits on the declared level set."""
    df, y = _salaries()
    rare = df["rank"] == "AsstProf"
    order = np.r_[np.flatnonzero(~rare), np.flatnonzero(rare)]
    df, y = df.iloc[order].reset_index(drop=True), y[order]
    test = np.flatnonzero(df["rank"] == "AsstProf")
    train = np.flatnonzero(df["rank"] != "AsstProf")
    splits = [(train, test), (test, train)]
    est = LinearRegressionCV(alphas=(0.1, 1.0), cv=splits)
    est.fit(df, y)
    ref, _ = _brute(est, df, y, None, splits, (0.1, 1.0))
    for j in range(2):
        np.testing.assert_allclose(est.cv_results_[f"split{j}_test_score"], ref[j], rtol=RTOL)


def test_index_column_dropped_with_a_note():
    raw = pd.read_csv(DATA / "Salaries.csv")
    df, y = _salaries()
    cv = KFold(3, shuffle=True, random_state=0)
    with pytest.warns(UserWarning, match="index"):
        a = LinearRegressionCV(alphas=(0.0, 1.0), cv=cv).fit(raw.drop(columns="salary"), y)
    b = LinearRegressionCV(alphas=(0.0, 1.0), cv=cv).fit(df, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.n_features_in_ == 6 and b.n_features_in_ == 5
    np.testing.assert_array_equal(a.predict(raw.drop(columns="salary")), b.predict(df))


def test_numeric_frame_takes_the_array_path():
    df, y = _synthetic()
    num = df[["a", "b", "c"]]
    est = LinearRegressionCV(alphas=(0.1, 1.0), cv=3).fit(num, y)
    assert not hasattr(est, "encoder_")
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    ref = LinearRegressionCV(alphas=(0.1, 1.0), cv=3).fit(num.to_numpy(), y)
    np.testing.assert_array_equal(est.coef_, ref.coef_)


def test_refit_on_array_forgets_the_table():
    df, y = _salaries()
    est = LinearRegressionCV(alphas=(0.1,), cv=3).fit(df, y)
    assert hasattr(est, "encoder_")
    est.fit(df[["yrs.since.phd", "yrs.service"]].to_numpy(dtype=float), y)
    assert not hasattr(est, "encoder_") and not hasattr(est, "feature_names_out_")
    assert est.predict(np.zeros((2, 2))).shape == (2,)


@pytest.mark.parametrize(
    "weights, fit_intercept, standardize",
    [(False, True, False), (True, True, False), (False, False, False), (True, False, False),
     (False, True, True), (True, True, True)],
)  # fmt: skip
def test_leave_one_out_on_a_table_matches_brute_force(weights, fit_intercept, standardize):
    """cv=None on Salaries.csv (three text columns): each row's held-out fit is
    LinearRegression(alpha) on the other rows of the table with every level
    declared; alpha = 0 takes the level set without reference levels. With
    standardize, each training set is standardized by its own moments."""
    df, y = _salaries()
    df, y = df.iloc[:80].reset_index(drop=True), y[:80]
    sw = np.random.default_rng(3).uniform(0.5, 2.0, y.size) if weights else None
    alphas = (0.0, 0.01, 1.0)
    kw = dict(fit_intercept=fit_intercept, standardize=standardize)
    est = LinearRegressionCV(alphas=alphas, **kw).fit(df, y, sw)
    est_r2 = LinearRegressionCV(alphas=alphas, scoring="r2", **kw)
    est_r2.fit(df, y, sw)
    ref_df = _declared(est, df)
    mse, r2 = [], []
    for a in alphas:
        pred = np.empty(y.size)
        for i in range(y.size):
            keep = np.arange(y.size) != i
            m = LinearRegression(alpha=a, solver="newton", **kw)
            m.fit(ref_df[keep], y[keep], None if sw is None else sw[keep])
            pred[i] = m.predict(ref_df.iloc[i : i + 1])[0]
        mse.append(mean_squared_error(y, pred, sample_weight=sw))
        r2.append(r2_score(y, pred, sample_weight=sw))
    np.testing.assert_allclose(est.cv_results_["mean_test_score"], -np.array(mse), rtol=1e-9)
    np.testing.assert_allclose(est_r2.cv_results_["mean_test_score"], r2, rtol=1e-9)
    assert est.n_passes_ == 2 and est.n_splits_ == y.size
    assert "leave-one-out" in est.fit_info_
    assert ("standardized by its own moments" in est.fit_info_) == standardize
    full = LinearRegression(alpha=est.alpha_, solver="newton", **kw)
    full.fit(df, y, sw)
    np.testing.assert_allclose(
        est.coef_, full.coef_, rtol=RTOL, atol=RTOL * np.abs(full.coef_).max()
    )


def test_leave_one_out_on_a_table_refuses_what_arrays_refuse(monkeypatch):
    df, y = _salaries()
    monkeypatch.setattr(_cv_path, "LOO_STANDARDIZED_MAX_WORK", 1.0)
    with pytest.raises(NotImplementedError, match="standardize=True with cv=None"):
        LinearRegressionCV(alphas=(0.1,), standardize=True).fit(df, y)
    with pytest.raises(ValueError, match="groups needs a cv splitter"):
        LinearRegressionCV(alphas=(0.1,)).fit(df, y, groups=np.arange(y.size))


def test_not_implemented(monkeypatch):
    df, y = _salaries()
    n = 3000
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({"id": rng.choice([f"k{i}" for i in range(1200)], size=n)})
    monkeypatch.setattr(_cv_path, "CV_GRAM_MAX_BYTES", 2**20)  # 1 MiB: 3 Grams of 1,202^2 pass it
    with pytest.raises(NotImplementedError, match="expands to"):
        LinearRegressionCV(alphas=(0.1,), cv=3).fit(wide, rng.normal(size=n))
    est = LinearRegressionCV(alphas=(0.1,), cv=3)
    with pytest.raises(NotImplementedError):
        est.fit(wide, rng.normal(size=n))
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("kind", ["polars", "pyarrow"])
def test_polars_and_arrow_equal_pandas(kind):
    df, y = _salaries()
    if kind == "polars":
        table = __import__("polars").from_pandas(df)
    else:
        table = __import__("pyarrow").Table.from_pandas(df)
    cv = KFold(4, shuffle=True, random_state=0)
    a = LinearRegressionCV(alphas=ALPHAS, cv=cv).fit(df, y)
    b = LinearRegressionCV(alphas=ALPHAS, cv=cv).fit(table, y)
    np.testing.assert_array_equal(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict(df), b.predict(table))


def test_a_table_expanding_past_1000_columns_matches_brute_force():
    # 1,100 levels of one text column plus a numeric one: 1,100 expanded columns.
    rng = np.random.default_rng(8)
    n = 6000
    ids = rng.choice([f"k{i}" for i in range(1100)], size=n)
    df = pd.DataFrame({"id": ids, "x": rng.normal(size=n)})
    effect = {f"k{i}": e for i, e in enumerate(rng.normal(size=1100))}
    y = df["id"].map(effect).to_numpy() + 2.0 * df["x"].to_numpy() + rng.normal(size=n)
    est = LinearRegressionCV(alphas=(0.01, 0.3), cv=KFold(3, shuffle=True, random_state=0))
    _check(est, df, y, alphas=(0.01, 0.3))
    assert len(est.coef_) > 1000


def test_two_targets_on_a_table_are_refused_clearly():
    df, y = _salaries()
    Y = np.column_stack([y, 2.0 * y])
    with pytest.raises(ValueError, match=r"takes one target .* got y of shape \(397, 2\)"):
        LinearRegressionCV(alphas=(0.1,), cv=3).fit(df, Y)
    numeric = df[["yrs.since.phd", "yrs.service"]].sample(frac=1.0, random_state=0)
    numeric.insert(0, "Unnamed: 0", numeric.index.to_numpy())  # a saved shuffle's index
    with (
        pytest.warns(UserWarning, match="is the row index"),
        pytest.raises(ValueError, match=r"left out: 'Unnamed: 0' \(index\)"),
    ):
        LinearRegressionCV(alphas=(0.1,), cv=3).fit(numeric, Y[numeric.index])
    one = LinearRegressionCV(alphas=(0.1, 1.0), cv=3).fit(df, y[:, None])  # (n, 1) is one target
    ref = LinearRegressionCV(alphas=(0.1, 1.0), cv=3).fit(df, y)
    np.testing.assert_array_equal(np.ravel(one.coef_), ref.coef_)
