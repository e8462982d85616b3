"""Robust covariance types (HC0-HC3, cluster) and prediction intervals against
statsmodels (``OLS``/``WLS(...).fit(cov_type=...)``, ``get_prediction``) and,
for the ridge sandwich, a direct numpy formula."""

from __future__ import annotations

import math
import pathlib
import warnings
from fractions import Fraction

import numpy as np
import pytest
import statsmodels.api as sm
from fastcost import LinearRegression, _core
from nist_data import SETS, certified_params, design

DATA = pathlib.Path(__file__).parent / "data"
HC = ["HC0", "HC1", "HC2", "HC3"]
TYPES = ["classical", *HC, "cluster"]


def _sm_type(cov_type):
    return "nonrobust" if cov_type == "classical" else cov_type


def sm_fit(X, y, sw=None, fit_intercept=True, cov_type="classical", groups=None):
    """statsmodels on the rows of positive weight (zero-weight rows are not observations)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if sw is not None:
        keep = sw > 0
        X, y, sw = X[keep], y[keep], np.asarray(sw, dtype=np.float64)[keep]
        groups = None if groups is None else np.asarray(groups)[keep]
    A = sm.add_constant(X, has_constant="add") if fit_intercept else X
    model = sm.OLS(y, A) if sw is None else sm.WLS(y, A, weights=sw)
    kw = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    return model.fit(cov_type=_sm_type(cov_type), **kw)


def stderr(m):
    return np.r_[m.intercept_stderr_, m.coef_stderr_] if m.fit_intercept else m.coef_stderr_


def fit(X, y, sw=None, groups=None, **params):
    params.setdefault("solver", "qr")
    m = LinearRegression(**params)
    return m.fit(X, y, sample_weight=sw, groups=groups)


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def tol_for(dtype):
    return 1e-10 if dtype == np.float64 else 2e3 * np.finfo(np.float32).eps


# -- data -----------------------------------------------------------------------


def random_data(n=300, d=4, seed=0, hetero=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d) + rng.normal(size=d) * 3
    noise = rng.normal(size=n) * (1.0 + 2.0 * np.abs(X[:, 0] - X[:, 0].mean()) if hetero else 1.0)
    y = X @ rng.normal(size=d) + 1.5 + noise
    groups = rng.integers(0, 17, size=n)
    return X, y, groups


def prestige():
    import pandas as pd

    t = pd.read_csv(DATA / "Prestige.csv")
    X = t[["education", "income", "women"]].to_numpy(dtype=np.float64)
    return X, t["prestige"].to_numpy(dtype=np.float64), t["type"].fillna("none").to_numpy()


def slid():
    import pandas as pd

    t = pd.read_csv(DATA / "SLID.csv")[["wages", "education", "age", "sex"]].dropna()
    X = t[["education", "age"]].to_numpy(dtype=np.float64)
    return X, np.log(t["wages"].to_numpy(dtype=np.float64)), t["age"].to_numpy() // 5


# -- standard errors against statsmodels ------------------------------------------


@pytest.mark.parametrize("cov_type", TYPES)
@pytest.mark.parametrize("hetero", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_random_data_match_statsmodels(cov_type, hetero, fit_intercept, weighted):
    X, y, g = random_data(hetero=hetero)
    sw = np.random.default_rng(1).uniform(0.2, 3.0, len(y)) if weighted else None
    groups = g if cov_type == "cluster" else None
    m = fit(X, y, sw, groups, compute_statistics=cov_type, fit_intercept=fit_intercept)
    ref = sm_fit(X, y, sw, fit_intercept, cov_type, groups)
    assert rel(stderr(m), ref.bse) < 1e-10
    assert rel(m.cov_params_, ref.cov_params()) < 1e-9
    assert m.cov_type_ == cov_type


@pytest.mark.parametrize("cov_type", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("solver", ["qr", "newton", "lbfgs"])
def test_dtype_order_solver(cov_type, dtype, order, solver):
    X, y, g = random_data(n=500, d=3, seed=2, hetero=True)
    X = np.asarray(X, dtype=dtype, order=order)
    y = y.astype(dtype)
    groups = g if cov_type == "cluster" else None
    m = fit(X, y, None, groups, compute_statistics=cov_type, solver=solver, tol=1e-12)
    ref = sm_fit(X, y, None, True, cov_type, groups)
    tol = tol_for(dtype) if solver != "lbfgs" else max(tol_for(dtype), 1e-7)
    assert rel(stderr(m), ref.bse) < tol


@pytest.mark.parametrize("cov_type", TYPES)
@pytest.mark.parametrize("table", [prestige, slid])
def test_real_tables(cov_type, table):
    X, y, labels = table()
    groups = labels if cov_type == "cluster" else None
    m = fit(X, y, None, groups, compute_statistics=cov_type)
    ref = sm_fit(X, y, None, True, cov_type, groups)
    assert rel(stderr(m), ref.bse) < 1e-10


def exact_stderr(X, y, fit_intercept, cov_type):
    """Classical or HC standard errors of the float64 data in rational arithmetic
    (rounded once, at the square root): the reference statsmodels itself misses
    by up to 4e-7 (Pontius HC, SVD rounding) or entirely (Filip)."""
    n = len(y)
    A = [[Fraction(1)] * fit_intercept + [Fraction(float(v)) for v in row] for row in X]
    b = [Fraction(float(v)) for v in y]
    k = len(A[0])
    G = [[sum(A[t][i] * A[t][j] for t in range(n)) for j in range(k)] for i in range(k)]
    aug = [G[i] + [Fraction(int(i == j)) for j in range(k)] for i in range(k)]
    for c in range(k):  # Gauss-Jordan: G is SPD, no pivoting needed
        aug[c] = [v / aug[c][c] for v in aug[c]]
        for r in range(k):
            if r != c and aug[r][c] != 0:
                f = aug[r][c]
                aug[r] = [vr - f * vc for vr, vc in zip(aug[r], aug[c], strict=True)]
    Gi = [row[k:] for row in aug]
    Atb = [sum(A[t][i] * b[t] for t in range(n)) for i in range(k)]
    theta = [sum(Gi[i][j] * Atb[j] for j in range(k)) for i in range(k)]
    e = [b[t] - sum(A[t][i] * theta[i] for i in range(k)) for t in range(n)]
    if cov_type == "classical":
        s2 = sum(v * v for v in e) / (n - k)
        return np.array([math.sqrt(s2 * Gi[i][i]) for i in range(k)])
    Ga = [[sum(Gi[i][j] * A[t][j] for j in range(k)) for i in range(k)] for t in range(n)]
    h = [sum(A[t][i] * Ga[t][i] for i in range(k)) for t in range(n)]
    f = {
        "HC0": lambda t: 1,
        "HC1": lambda t: Fraction(n, n - k),
        "HC2": lambda t: 1 / (1 - h[t]),
        "HC3": lambda t: 1 / (1 - h[t]) ** 2,
    }[cov_type]
    c = [e[t] * e[t] * f(t) for t in range(n)]
    return np.array([math.sqrt(sum(c[t] * Ga[t][i] ** 2 for t in range(n))) for i in range(k)])


#: Digits the float64 data keep: Filip's design amplifies its rounding by ~1e8.6
#: (see test_nist.py), so any solver's robust errors carry ~5e-8 of it.
NIST_TOL = {name: 1e-10 for name in SETS} | {"Filip": 3e-7}


@pytest.mark.parametrize("cov_type", ["classical", *HC])
@pytest.mark.parametrize("name", sorted(SETS))
def test_nist_sets(cov_type, name):
    """Against the exact standard errors, and against statsmodels up to its own error."""
    s = SETS[name]
    X, y = design(s)
    fi = s["fit_intercept"]
    exact = exact_stderr(X, y, fi, cov_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on the exact fits and on Filip
        ref = np.asarray(sm_fit(X, y, None, fi, cov_type).bse)
    m = fit(X, y, None, None, compute_statistics=cov_type, fit_intercept=fi)
    if name in ("Wampler1", "Wampler2"):  # exact fits: the standard errors are rounding
        assert np.all(stderr(m) < 1e-12 * np.maximum(np.abs(certified_params(s)), 1.0))
        return
    assert rel(stderr(m), exact) < NIST_TOL[name]
    if name != "Filip":  # statsmodels' pinv loses all digits there
        sm_error = np.abs(ref - exact) / exact
        assert np.all(np.abs(stderr(m) - ref) / exact <= 1e-10 + 2 * sm_error)


def test_zero_weights_are_not_observations():
    X, y, g = random_data(n=200, seed=5, hetero=True)
    sw = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    sw[::7] = 0.0
    for cov_type in ("HC1", "HC3", "cluster"):
        groups = g if cov_type == "cluster" else None
        m = fit(X, y, sw, groups, compute_statistics=cov_type)
        assert rel(stderr(m), sm_fit(X, y, sw, True, cov_type, groups).bse) < 1e-10


def test_groups_of_any_label_type():
    X, y, g = random_data(n=120, seed=3)
    labels = np.array([f"firm-{v}" for v in g], dtype=object)
    m1 = fit(X, y, None, labels, compute_statistics="cluster")
    m2 = fit(X, y, None, g.astype(np.float64) * 0.5, compute_statistics="cluster")
    m3 = fit(X, y, None, list(g), compute_statistics="cluster")
    np.testing.assert_allclose(stderr(m1), stderr(m2), rtol=1e-13)
    np.testing.assert_allclose(stderr(m1), stderr(m3), rtol=1e-13)
    assert m1.n_groups_ == len(np.unique(g))


def test_one_extra_pass_and_determinism():
    X, y, g = random_data(n=5000, d=5, seed=4, hetero=True)
    base = fit(X, y, compute_statistics=True)
    for cov_type in (*HC, "cluster"):
        groups = g if cov_type == "cluster" else None
        a = fit(X, y, None, groups, compute_statistics=cov_type, n_shards=7, n_threads=1)
        b = fit(X, y, None, groups, compute_statistics=cov_type, n_shards=7, n_threads=2)
        assert a.n_passes_ == base.n_passes_ + 1
        np.testing.assert_array_equal(a.coef_stderr_, b.coef_stderr_)


# -- ridge: the sandwich against numpy --------------------------------------------


def ridge_sandwich(X, y, sw, alpha, cov_type, groups, fit_intercept=True):
    """H^-1 M H^-1 in float64 numpy, H = Z^T S Z + alpha (sum s) P."""
    n, d = X.shape
    s = np.ones(n) if sw is None else sw
    Z = np.column_stack([np.ones(n), X]) if fit_intercept else X
    P = np.eye(Z.shape[1])
    if fit_intercept:
        P[0, 0] = 0.0
    H = Z.T @ (s[:, None] * Z) + alpha * s.sum() * P
    Hinv = np.linalg.inv(H)
    theta = Hinv @ (Z.T @ (s * y))
    e = y - Z @ theta
    h = s * np.einsum("ij,jk,ik->i", Z, Hinv, Z)
    p = Z.shape[1]
    nobs = np.count_nonzero(s)
    if cov_type == "cluster":
        u = np.zeros((groups.max() + 1, p))
        np.add.at(u, groups, (s * e)[:, None] * Z)
        G = len(np.unique(groups))
        meat = G / (G - 1) * (nobs - 1) / (nobs - p) * (u.T @ u)
    else:
        f = {"HC0": 1.0, "HC1": nobs / (nobs - p), "HC2": 1 / (1 - h), "HC3": 1 / (1 - h) ** 2}
        meat = Z.T @ ((s**2 * e**2 * f[cov_type])[:, None] * Z)
    return theta, Hinv @ meat @ Hinv


@pytest.mark.parametrize("cov_type", [*HC, "cluster"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_sandwich(cov_type, fit_intercept, weighted):
    X, y, g = random_data(n=250, seed=6, hetero=True)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y)) if weighted else None
    groups = g if cov_type == "cluster" else None
    m = fit(X, y, sw, groups, compute_statistics=cov_type, alpha=0.3, fit_intercept=fit_intercept)
    theta, cov = ridge_sandwich(X, y, sw, 0.3, cov_type, g, fit_intercept)
    np.testing.assert_allclose(np.r_[m.intercept_, m.coef_] if fit_intercept else m.coef_, theta,
                               rtol=1e-10)  # fmt: skip
    assert rel(m.cov_params_, cov) < 1e-9
    assert rel(stderr(m), np.sqrt(np.diag(cov))) < 1e-10


# -- rank deficiency, bad input, other backends -----------------------------------


@pytest.mark.parametrize("cov_type", [*HC, "cluster"])
def test_rank_deficient_gives_nan(cov_type):
    X, y, g = random_data(n=100, d=3, seed=7)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    groups = g if cov_type == "cluster" else None
    with pytest.warns(Warning):
        m = fit(X, y, None, groups, compute_statistics=cov_type, solver="newton")
    assert np.isnan(m.coef_stderr_).all()


def test_bad_input():
    X, y, g = random_data(n=50, seed=8)
    with pytest.raises(ValueError, match="compute_statistics"):
        fit(X, y, compute_statistics="HC4")
    with pytest.raises(TypeError, match="compute_statistics"):
        fit(X, y, compute_statistics=1)
    with pytest.raises(ValueError, match="groups"):
        fit(X, y, compute_statistics="cluster")
    with pytest.raises(ValueError, match="labels"):
        fit(X, y, None, g[:-1], compute_statistics="cluster")
    with pytest.raises(ValueError, match="cluster"):
        fit(X, y, None, g, compute_statistics="HC0")
    with pytest.raises(ValueError, match="1-D"):
        fit(X, y, None, np.column_stack([g, g]), compute_statistics="cluster")
    m = fit(X, y, compute_statistics="HC0")
    m2 = fit(X, y, compute_statistics="HC0")  # a failed fit leaves the model as it was
    with pytest.raises(ValueError):
        m2.fit(X, y, groups=g)
    np.testing.assert_array_equal(m.coef_stderr_, m2.coef_stderr_)


def test_other_backends_raise_not_implemented():
    import scipy.sparse as sp

    X, y, _ = random_data(n=80, seed=9)
    with pytest.raises(NotImplementedError, match="compute_statistics='HC1'"):
        LinearRegression(compute_statistics="HC1").fit(sp.csr_matrix(X), y)
    with pytest.raises(NotImplementedError, match="compute_statistics='HC3'"):
        LinearRegression(compute_statistics="HC3").fit(X, np.column_stack([y, y]))
    with pytest.raises(NotImplementedError, match="compute_statistics='HC0'"):
        LinearRegression(compute_statistics="HC0", solver="newton").partial_fit(X, y)


def test_kernel_checks_its_arguments():
    X, y, g = random_data(n=20, d=2, seed=10)
    K = np.eye(3)
    out = _core.sandwich_sums(X, y, np.zeros(2), 0.0, K, kind="HC0")
    np.testing.assert_allclose(out["meat"], (np.column_stack([np.ones(20), X]) * y[:, None]).T
                               @ (np.column_stack([np.ones(20), X]) * y[:, None]), rtol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match="kind"):
        _core.sandwich_sums(X, y, np.zeros(2), 0.0, K, kind="HC1")
    with pytest.raises(ValueError, match="codes"):
        _core.sandwich_sums(X, y, np.zeros(2), 0.0, K, kind="cluster")
    with pytest.raises(TypeError, match="int32"):
        _core.sandwich_sums(X, y, np.zeros(2), 0.0, K, kind="cluster", codes=g, n_groups=20)
    with pytest.raises(ValueError, match="range"):
        _core.sandwich_sums(X, y, np.zeros(2), 0.0, K, kind="cluster",
                            codes=g.astype(np.int32), n_groups=2)  # fmt: skip
    with pytest.raises(ValueError, match="K must be"):
        _core.sandwich_sums(X, y, np.zeros(2), 0.0, np.eye(2))


# -- prediction intervals ---------------------------------------------------------


@pytest.mark.parametrize("cov_type", TYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_prediction_intervals_match_statsmodels(cov_type, fit_intercept, weighted):
    X, y, g = random_data(n=150, seed=11, hetero=True)
    sw = np.random.default_rng(4).uniform(0.5, 2.0, len(y)) if weighted else None
    groups = g if cov_type == "cluster" else None
    m = fit(X, y, sw, groups, compute_statistics=cov_type, fit_intercept=fit_intercept)
    ref = sm_fit(X, y, sw, fit_intercept, cov_type, groups)
    Xn = random_data(n=30, seed=12)[0]
    An = sm.add_constant(Xn, has_constant="add") if fit_intercept else Xn
    frame = ref.get_prediction(An).summary_frame(alpha=0.1)
    lo, hi = m.predict_interval(Xn, level=0.9)
    assert rel(lo, frame["obs_ci_lower"]) < 1e-10 and rel(hi, frame["obs_ci_upper"]) < 1e-10
    lo, hi = m.predict_interval(Xn, level=0.9, kind="mean")
    assert rel(lo, frame["mean_ci_lower"]) < 1e-10 and rel(hi, frame["mean_ci_upper"]) < 1e-10
    pred, std = m.predict(Xn, return_std=True)
    assert rel(pred, frame["mean"]) < 1e-10
    half = (frame["obs_ci_upper"] - frame["obs_ci_lower"]) / 2
    q = half / np.sqrt(frame["mean_se"] ** 2 + ref.scale)
    assert rel(std, half / q) < 1e-10
    if cov_type == "classical":
        from scipy import stats

        assert rel(std * stats.t.ppf(0.95, ref.df_resid), half) < 1e-10


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_prediction_dtype_order(dtype, order):
    X, y, _ = random_data(n=200, seed=13)
    Xd = np.asarray(X, dtype=dtype, order=order)
    m = fit(Xd, y.astype(dtype), compute_statistics=True)
    ref = sm_fit(Xd, y.astype(dtype))
    frame = ref.get_prediction(sm.add_constant(Xd.astype(np.float64))).summary_frame()
    lo, hi = m.predict_interval(Xd)
    assert rel(lo, frame["obs_ci_lower"]) < tol_for(dtype)
    assert rel(hi, frame["obs_ci_upper"]) < tol_for(dtype)


def test_prediction_needs_statistics_and_checks_input():
    X, y, _ = random_data(n=60, seed=14)
    m = fit(X, y)
    with pytest.raises(ValueError, match="compute_statistics"):
        m.predict(X, return_std=True)
    with pytest.raises(ValueError, match="compute_statistics"):
        m.predict_interval(X)
    m = fit(X, y, compute_statistics=True)
    with pytest.raises(ValueError, match="level"):
        m.predict_interval(X, level=1.5)
    with pytest.raises(ValueError, match="kind"):
        m.predict_interval(X, kind="median")
    with pytest.raises(ValueError, match="features"):
        m.predict_interval(X[:, :2])


def test_save_and_load_keep_the_intervals(tmp_path):
    import fastcost

    X, y, g = random_data(n=80, seed=15)
    for cov_type in ("classical", "HC3", "cluster"):
        groups = g if cov_type == "cluster" else None
        m = fit(X, y, None, groups, compute_statistics=cov_type)
        m.save(tmp_path / "m.json")
        back = fastcost.load(tmp_path / "m.json")
        np.testing.assert_array_equal(back.cov_params_, m.cov_params_)
        np.testing.assert_array_equal(back.predict_interval(X)[0], m.predict_interval(X)[0])


def test_longdouble_x():
    """qr's extended pass on longdouble X: the meat pass reads a float64 copy."""
    X, y, _ = random_data(n=120, seed=16, hetero=True)
    m = fit(X.astype(np.longdouble), y.astype(np.longdouble), compute_statistics="HC3")
    assert rel(stderr(m), sm_fit(X, y, cov_type="HC3").bse) < 1e-10


def test_a_table_is_refused_before_any_pass_and_its_encoding_works(monkeypatch):
    """A dataframe with text columns: a robust type is refused before the data are
    read (the error names the way out), and the table encoded as numbers gives
    statsmodels' HC3 errors on the real Salaries data."""
    import pandas as pd

    df = pd.read_csv(DATA / "Salaries.csv").drop(columns=["Unnamed: 0"], errors="ignore")
    y = df.pop("salary").to_numpy(dtype=np.float64) / 1000.0
    calls = []
    gram_stats = _core.mixed_gram_stats
    monkeypatch.setattr(_core, "mixed_gram_stats", lambda *a: calls.append(1) or gram_stats(*a))
    with pytest.raises(NotImplementedError, match=r"get_dummies"):
        LinearRegression(compute_statistics="HC3").fit(df, y)
    assert not calls
    X = pd.get_dummies(df, drop_first=True, dtype=float).to_numpy()
    m = fit(X, y, None, None, compute_statistics="HC3")
    assert rel(stderr(m), sm_fit(X, y, None, True, "HC3").bse) < 1e-10


def test_a_table_model_says_why_it_has_no_intervals_and_any_real_level_works():
    """A table model fitted with compute_statistics=True has its standard errors
    but no prediction covariance: the error says so (not "needs
    compute_statistics"). A numpy scalar level gives the float's interval."""
    import pandas as pd

    df = pd.read_csv(DATA / "Salaries.csv").drop(columns=["Unnamed: 0"])
    y = df.pop("salary").to_numpy(dtype=np.float64) / 1000.0
    m = LinearRegression(compute_statistics=True).fit(df, y)
    assert np.isfinite(m.coef_stderr_[m.coef_ != 0]).all()
    for call in (lambda: m.predict_interval(df), lambda: m.predict(df, return_std=True)):
        with pytest.raises(NotImplementedError, match="table whose columns fastcost typed"):
            call()
    X, y, _ = random_data(n=60, seed=14)
    m = fit(X, y, compute_statistics=True)
    ref = m.predict_interval(X, level=0.9)
    for level in (np.float32(0.9), np.float64(0.9)):
        got = m.predict_interval(X, level=level)
        assert rel(got[0], ref[0]) < 1e-6 and rel(got[1], ref[1]) < 1e-6
    for bad in (True, "0.9", np.float32(1.5)):
        with pytest.raises(ValueError, match="level"):
            m.predict_interval(X, level=bad)


@pytest.mark.parametrize("solver", ["newton", "auto", "qr"])
def test_float32_newton_statistics_keep_the_residuals_digits(solver):
    """R^2 near 1 on float32 X: the residual sum of squares is y'y less the fitted
    part to 1 part in 1e7, below the float32 lanes of the Gram kernel. newton's
    statistics come from one qr pass (float64 sums) and equal statsmodels on the
    same float32 values (residual_std_ was 14 % off)."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((8000, 20))
    y = X @ rng.uniform(20.0, 40.0, 20) + 0.1 * rng.standard_normal(8000)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    m = LinearRegression(solver=solver, compute_statistics=True).fit(X32, y32)
    ref = sm.OLS(y32.astype(np.float64), sm.add_constant(X32.astype(np.float64))).fit()
    assert m.residual_std_ == pytest.approx(np.sqrt(ref.scale), rel=1e-5)
    assert rel(stderr(m), ref.bse) < 1e-5
    assert m.n_passes_ == (1 if solver == "qr" else 2)
