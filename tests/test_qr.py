"""The tall-skinny QR solver: against numpy in float64, its factor, merges of
chunks, bitwise reproducibility, the auto fallback and regression statistics."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost import LinearRegression, _core
from fastcost.exceptions import IllConditionedWarning, RankDeficientWarning
from helpers import make_problem, reference_fit


def _tol(dtype):
    return 200 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_qr_matches_lstsq(dtype, order, weights, fit_intercept):
    X, y, s = make_problem(3000, 13, seed=3, dtype=dtype, order=order, weights=weights)
    w_ref, b_ref = reference_fit(X, y, s, fit_intercept=fit_intercept)  # float64 on the same data
    m = LinearRegression(solver="qr", fit_intercept=fit_intercept).fit(X, y, sample_weight=s)
    assert m.coef_.dtype == dtype and m.solver_ == "qr" and m.n_passes_ == 1
    scale = np.abs(w_ref).max()
    np.testing.assert_allclose(m.coef_, w_ref, rtol=_tol(dtype), atol=_tol(dtype) * scale)
    np.testing.assert_allclose(m.intercept_, b_ref, rtol=_tol(dtype), atol=_tol(dtype) * scale)


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_qr_ridge_matches_closed_form(weights, fit_intercept):
    X, y, s = make_problem(2000, 9, seed=5, weights=weights)
    for alpha in (1e-3, 0.5, 20.0):
        w_ref, b_ref = reference_fit(X, y, s, alpha=alpha, fit_intercept=fit_intercept)
        m = LinearRegression(solver="qr", alpha=alpha, fit_intercept=fit_intercept).fit(
            X, y, sample_weight=s
        )
        np.testing.assert_allclose(m.coef_, w_ref, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(m.intercept_, b_ref, rtol=1e-12, atol=1e-13)
        # The reported loss is the penalized objective at the solution.
        sw = np.ones(len(y)) if s is None else s
        r = X @ w_ref + b_ref - y
        loss = sw @ (r * r) / sw.sum() + alpha * w_ref @ w_ref
        assert m.loss_history_[-1] == pytest.approx(loss, rel=1e-10)


@pytest.mark.parametrize("kind", ["duplicate", "collinear", "constant", "wide"])
def test_rank_deficient_gives_minimum_norm(kind):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((300, 4)) + 3.0
    if kind == "duplicate":
        X = np.c_[X, X[:, 1]]
    elif kind == "collinear":
        X = np.c_[X, 2.0 * X[:, 0] - 3.0 * X[:, 2]]
    elif kind == "constant":
        X = np.c_[X, np.full(300, 5.0)]
    else:
        X = rng.standard_normal((6, 10))
    y = X @ rng.standard_normal(X.shape[1]) + 1.0 + 0.01 * rng.standard_normal(X.shape[0])
    w_ref, b_ref = reference_fit(X, y)
    with pytest.warns(RankDeficientWarning, match="minimum-norm"):
        m = LinearRegression(solver="qr").fit(X, y)
    np.testing.assert_allclose(m.coef_, w_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(m.intercept_, b_ref, rtol=1e-10, atol=1e-10)
    assert m.rank_ < X.shape[1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_factor_is_r_of_the_augmented_design(dtype, order):
    X, y, s = make_problem(5000, 7, seed=2, dtype=dtype, order=order, weights=True)
    st = _core.tsqr_stats(X, y, s, n_shards=5)
    X64, y64, s64 = (a.astype(np.float64) for a in (X, y, s))
    c = st["shift"]
    np.testing.assert_array_equal(c, np.r_[X64[0], y64[0]])  # default shift: the first row
    Z = np.sqrt(s64)[:, None] * np.column_stack([np.ones(len(y)), X64 - c[:-1], y64 - c[-1]])
    R = st["r"]
    assert np.array_equal(R, np.triu(R))
    G = Z.T @ Z
    np.testing.assert_allclose(R.T @ R, G, rtol=1e-11, atol=1e-11 * np.abs(G).max())
    assert st["n_rows"] == 5000 and st["n_nonzero"] == 5000 and st["n_shards"] == 5


def test_bitwise_identical_across_thread_counts():
    X, y, s = make_problem(40_000, 12, seed=8, weights=True)
    fits = [
        LinearRegression(solver="qr", n_threads=t, n_shards=7, compute_statistics=True).fit(
            X, y, sample_weight=s
        )
        for t in (1, 2)
    ]
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert fits[0].intercept_ == fits[1].intercept_
    assert np.array_equal(fits[0].coef_stderr_, fits[1].coef_stderr_)
    r1 = _core.tsqr_stats(X, y, s, n_shards=7, n_threads=1)["r"]
    r2 = _core.tsqr_stats(X, y, s, n_shards=7, n_threads=2)["r"]
    assert np.array_equal(r1, r2)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_chunk_factors_merge_like_one_pass(fit_intercept):
    """What a Dask job does: one factor per chunk (each about its own shift),
    merged in a fixed order, then solved."""
    X, y, s = make_problem(9000, 6, seed=4, weights=True)
    chunks = [slice(0, 2500), slice(2500, 2600), slice(2600, 9000)]
    shift = None if fit_intercept else np.zeros(7)
    parts = [_core.tsqr_stats(X[c], y[c], s[c], shift) for c in chunks]
    merged = parts[0]
    for part in parts[1:]:
        merged = _core.tsqr_merge(merged, part)
    assert merged["n_rows"] == 9000 and merged["n_nonzero"] == 9000
    got = _core.solve_r(merged["r"], merged["shift"], 0.0, fit_intercept)
    w_ref, b_ref = reference_fit(X, y, s, fit_intercept=fit_intercept)
    np.testing.assert_allclose(got.coef, w_ref, rtol=1e-12, atol=1e-13)
    assert got.intercept == pytest.approx(b_ref, rel=1e-12, abs=1e-13)


def test_zero_weights_and_float32_statistics_counts():
    X, y, s = make_problem(1000, 4, seed=6, weights=True)
    s[::3] = 0.0
    st = _core.tsqr_stats(X, y, s)
    assert st["n_nonzero"] == 1000 - len(range(0, 1000, 3))


def test_auto_falls_back_to_qr_on_ill_conditioned_design():
    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 3.0, 500)
    X = np.column_stack([x**k for k in range(1, 8)])  # condition ~1e11 for the Gram
    y = X @ np.ones(7) + 0.01 * rng.standard_normal(500)
    auto = LinearRegression().fit(X, y)
    # newton's pass, qr's double pass and, if its digits estimate asks for it, an extended one
    assert auto.solver_ == "qr" and auto.n_passes_ == 2 + (auto.qr_precision_ == "extended")
    assert "condition estimate" in auto.fit_info_ and auto.condition_number_ > 1e6
    with pytest.warns(IllConditionedWarning):
        LinearRegression(solver="newton").fit(X, y)
    w_ref, b_ref = reference_fit(X, y)
    qr = LinearRegression(solver="qr").fit(X, y)
    np.testing.assert_array_equal(auto.coef_, qr.coef_)
    np.testing.assert_allclose(qr.coef_, w_ref, rtol=1e-6)
    well = LinearRegression().fit(*make_problem(500, 5, seed=1)[:2])
    assert well.solver_ == "newton" and well.n_passes_ == 1


def test_newton_condition_estimate_is_sound():
    """newton's and qr's estimates are within a small factor of the true condition
    number of the equilibrated, centered normal equations (numpy's SVD)."""
    rng = np.random.default_rng(3)
    for k in (0.0, 0.9, 0.999, 0.9999):
        base = rng.standard_normal((2000, 1))
        X = k * base + (1 - k) * rng.standard_normal((2000, 6))
        X = np.c_[X, rng.standard_normal((2000, 3))]
        y = X.sum(1) + rng.standard_normal(2000)
        m = LinearRegression(solver="qr").fit(X, y)  # same estimate, from R, never warns
        newton = _core.fit(X, y, None, "newton", _core.FitOptions())
        Xc = X - X.mean(0)
        true = np.linalg.cond(Xc / np.linalg.norm(Xc, axis=0)) ** 2
        for est in (m.condition_number_, newton.condition_estimate):
            assert true / 10 <= est <= 10 * X.shape[1] * true


def _wls_reference(X, y, s, fit_intercept, alpha=0.0):
    """Independent float64 WLS statistics (statsmodels' conventions) with numpy."""
    n, d = X.shape
    s = np.ones(n) if s is None else s
    A = np.column_stack([np.ones(n), X]) if fit_intercept else X
    k = A.shape[1]
    G = A.T @ (s[:, None] * A)
    P = np.zeros((k, k))
    P[k - d :, k - d :] = alpha * s.sum() * np.eye(d)
    theta = np.linalg.solve(G + P, A.T @ (s * y))
    r = y - A @ theta
    rss = s @ (r * r)
    dof = np.count_nonzero(s) - k
    Hinv = np.linalg.inv(G + P)
    cov = rss / dof * Hinv @ G @ Hinv
    se = np.sqrt(np.diag(cov))
    ybar = s @ y / s.sum() if fit_intercept else 0.0
    tss = s @ ((y - ybar) ** 2)
    return theta, se, np.sqrt(rss / dof), 1 - rss / tss, dof


@pytest.mark.parametrize("solver", ["qr", "newton", "auto", "lbfgs"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_statistics_match_numpy_wls(solver, weights, fit_intercept):
    X, y, s = make_problem(400, 5, seed=12, weights=weights, noise=0.5)
    if weights:
        s[::7] = 0.0  # zero weights do not count as observations
    theta, se, rsd, r2, dof = _wls_reference(X, y, s, fit_intercept)
    m = LinearRegression(
        solver=solver, fit_intercept=fit_intercept, compute_statistics=True, tol=1e-12
    )
    m.fit(X, y, sample_weight=s)
    rtol = 1e-6 if solver == "lbfgs" else 1e-10
    assert m.dof_resid_ == dof
    np.testing.assert_allclose(m.coef_stderr_, se[-5:], rtol=rtol)
    if fit_intercept:
        assert m.intercept_stderr_ == pytest.approx(se[0], rel=rtol)
    else:
        assert m.intercept_stderr_ == 0.0
    assert m.residual_std_ == pytest.approx(rsd, rel=rtol)
    assert m.r2_ == pytest.approx(r2, rel=rtol)
    plain = LinearRegression(solver=solver, fit_intercept=fit_intercept, tol=1e-12).fit(
        X, y, sample_weight=s
    )
    assert m.n_passes_ == plain.n_passes_ + (solver == "lbfgs")  # lbfgs: one extra qr pass


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_statistics_are_the_sandwich(fit_intercept):
    X, y, s = make_problem(300, 4, seed=13, weights=True, noise=0.5)
    theta, se, rsd, r2, dof = _wls_reference(X, y, s, fit_intercept, alpha=0.3)
    m = LinearRegression(
        solver="qr", alpha=0.3, fit_intercept=fit_intercept, compute_statistics=True
    )
    m.fit(X, y, sample_weight=s)
    np.testing.assert_allclose(m.coef_stderr_, se[-4:], rtol=1e-10)
    assert m.residual_std_ == pytest.approx(rsd, rel=1e-10)
    assert m.r2_ == pytest.approx(r2, rel=1e-10)


def test_rank_deficient_statistics_are_nan():
    X, y, _ = make_problem(200, 3, seed=1)
    X = np.c_[X, X[:, 0]]
    with pytest.warns(RankDeficientWarning):
        m = LinearRegression(solver="qr", compute_statistics=True).fit(X, y)
    assert np.isnan(m.coef_stderr_).all()
    assert m.dof_resid_ == 200 - 3 - 1
    assert np.isfinite(m.residual_std_) and 0 < m.r2_ <= 1


def test_bad_inputs_raise():
    X, y, _ = make_problem(100, 3)
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match="row 5, column 1"):
        LinearRegression(solver="qr").fit(X, y)
    with pytest.raises(ValueError, match="square"):
        _core.solve_r(np.zeros((1, 1)), np.zeros(0))
    with pytest.raises(ValueError, match="compute_statistics"):
        LinearRegression(compute_statistics="yes").fit(*make_problem(50, 2)[:2])
    with pytest.raises(TypeError, match="compute_statistics"):
        LinearRegression(compute_statistics=1.5).fit(*make_problem(50, 2)[:2])


# -- working precision (qr_precision) ------------------------------------------------


def _precision_problems():
    rng = np.random.default_rng(21)
    x = rng.uniform(0.0, 20.0, 60)
    poly = np.column_stack([x**k for k in range(1, 6)])  # Wampler-like: digits est. ~9
    yield "poly noise-free", poly, poly @ np.ones(5) + 1.0
    yield "poly huge residual", poly, poly @ np.ones(5) + 1.0 + 1e9 * rng.standard_normal(60)
    z = rng.uniform(1.0, 3.0, 500)
    steep = np.column_stack([z**k for k in range(1, 8)])  # Gram condition ~1e11
    yield "steep poly", steep, steep @ np.ones(7) + 0.01 * rng.standard_normal(500)
    X, y, _ = make_problem(3000, 13, seed=3)
    yield "well conditioned", X, y
    X, y, _ = make_problem(2000, 6, seed=9, noise=0.5)
    yield "noisy", X, y


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_extended_exactly_when_the_double_estimate_asks(fit_intercept):
    """auto takes the extended pass iff the double solve's digits estimate is
    below EXTENDED_MIN_DIGITS; otherwise its result is the double fit, bitwise."""
    seen = set()
    for _, X, y in _precision_problems():
        dbl, _ = _core.fit_qr(X, y, None, _core.FitOptions(fit_intercept=fit_intercept), "double")
        auto = LinearRegression(solver="qr", fit_intercept=fit_intercept, compute_statistics=True)
        auto.fit(X, y)
        needed = dbl.digits_estimate < _core.EXTENDED_MIN_DIGITS and _core.EXTENDED_IS_WIDER
        seen.add(needed)
        assert auto.qr_precision_ == ("extended" if needed else "double")
        assert auto.n_passes_ == 1 + needed
        assert ("redone in long double" in auto.fit_info_) == needed
        if not needed:
            plain = LinearRegression(
                solver="qr",
                fit_intercept=fit_intercept,
                qr_precision="double",
                compute_statistics=True,
            ).fit(X, y)
            assert np.array_equal(auto.coef_, plain.coef_) and auto.intercept_ == plain.intercept_
            assert np.array_equal(auto.coef_stderr_, plain.coef_stderr_)
            assert auto.residual_std_ == plain.residual_std_ and auto.r2_ == plain.r2_
    if _core.EXTENDED_IS_WIDER:
        assert seen == {True, False}  # both branches exercised


def test_benchmark_shaped_data_stays_in_double():
    """The shape of benchmarks/bench_accuracy.py's timing data (scaled, shifted
    normal columns, small noise) must never pay for the extended pass."""
    rng = np.random.default_rng(0)
    n, d = 50_000, 100
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-2, 2, d)
    y = X @ rng.standard_normal(d) + 0.7 + 0.1 * rng.standard_normal(n)
    m = LinearRegression(solver="qr").fit(X, y)
    assert m.qr_precision_ == "double" and m.n_passes_ == 1
    assert _core.fit_qr(X, y, None, _core.FitOptions())[0].digits_estimate > 11


@pytest.mark.skipif(not _core.EXTENDED_IS_WIDER, reason="long double is double here")
def test_extended_factor_is_the_factor_with_more_digits():
    X, y, s = make_problem(5000, 7, seed=2, weights=True)
    dbl = _core.tsqr_stats(X, y, s, n_shards=5)
    ext = _core.tsqr_stats(X, y, s, n_shards=5, precision="extended")
    assert "r_lo" not in dbl and ext["r_lo"].shape == ext["r"].shape
    R = ext["r"].astype(np.longdouble) + ext["r_lo"]
    assert np.array_equal(ext["r"], R.astype(np.float64))  # r is r + r_lo rounded
    assert np.abs(ext["r_lo"]).max() <= np.finfo(np.float64).eps * np.abs(ext["r"]).max()
    np.testing.assert_allclose(ext["r"], dbl["r"], rtol=1e-12, atol=1e-12 * np.abs(dbl["r"]).max())


@pytest.mark.skipif(not _core.EXTENDED_IS_WIDER, reason="long double is double here")
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_extended_chunks_merge_and_solve_in_extended(fit_intercept):
    """A Dask job with precision='extended' keeps the digits through merges."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0.0, 20.0, 3000)
    X = np.column_stack([x**k for k in range(1, 6)])
    y = X @ np.ones(5) + 1.0 + 1e9 * rng.standard_normal(3000)
    shift = None if fit_intercept else np.zeros(6)
    chunks = [slice(0, 1000), slice(1000, 1100), slice(1100, 3000)]
    parts = [_core.tsqr_stats(X[c], y[c], None, shift, precision="extended") for c in chunks]
    merged = parts[0]
    for part in parts[1:]:
        merged = _core.tsqr_merge(merged, part)
    assert "r_lo" in merged
    got = _core.solve_r(merged["r"], merged["shift"], 0.0, fit_intercept, r_lo=merged["r_lo"])
    one, _ = _core.fit_qr(X, y, None, _core.FitOptions(fit_intercept=fit_intercept), "extended")
    assert got.precision == one.precision == "extended"
    np.testing.assert_allclose(got.coef, one.coef, rtol=1e-13)
    # Dropping r_lo (a double merge) loses digits the extended solve keeps.
    assert _core.solve_r(merged["r"], merged["shift"], 0.0, fit_intercept).precision == "double"


@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_extended_statistics_match_numpy_wls(alpha, fit_intercept):
    X, y, s = make_problem(400, 5, seed=12, weights=True, noise=0.5)
    theta, se, rsd, r2, dof = _wls_reference(X, y, s, fit_intercept, alpha=alpha)
    m = LinearRegression(
        solver="qr",
        alpha=alpha,
        fit_intercept=fit_intercept,
        qr_precision="extended",
        compute_statistics=True,
    ).fit(X, y, sample_weight=s)
    assert m.qr_precision_ == "extended" and m.n_passes_ == 1
    np.testing.assert_allclose(np.r_[m.intercept_, m.coef_][-len(theta) :], theta, rtol=1e-10)
    np.testing.assert_allclose(m.coef_stderr_, se[-5:], rtol=1e-10)
    assert m.residual_std_ == pytest.approx(rsd, rel=1e-10)
    assert m.r2_ == pytest.approx(r2, rel=1e-10)
    assert m.dof_resid_ == dof


def test_qr_precision_is_validated():
    X, y, _ = make_problem(50, 2)
    with pytest.raises(ValueError, match="qr_precision"):
        LinearRegression(qr_precision="quad").fit(X, y)
    with pytest.raises(ValueError, match="precision"):
        _core.tsqr_stats(X, y, precision="auto")


# -- longdouble input (qr only) --------------------------------------------------------

needs_longdouble = pytest.mark.skipif(
    np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
    reason="numpy.longdouble is float64 here",
)


def _as_longdouble(X, y, s, order="C"):
    Xl = np.asarray(X, dtype=np.longdouble, order=order)
    return Xl, y.astype(np.longdouble), None if s is None else s.astype(np.longdouble)


@needs_longdouble
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_longdouble_input_matches_float64_extended_fit(order, weights, fit_intercept):
    """The same numbers read as longdouble give the extended fit of the float64 data
    (the pass widens float64 rows to the same long double values)."""
    X, y, s = make_problem(3000, 9, seed=17, order=order, weights=weights)
    Xl, yl, sl = _as_longdouble(X, y, s, order)
    ext = LinearRegression(solver="qr", fit_intercept=fit_intercept, qr_precision="extended")
    ext.fit(X, y, sample_weight=s)
    for solver in ("qr", "auto"):
        m = LinearRegression(solver=solver, fit_intercept=fit_intercept).fit(
            Xl, yl, sample_weight=sl
        )
        assert m.solver_ == "qr" and m.qr_precision_ == "extended" and m.n_passes_ == 1
        assert m.coef_.dtype == np.float64 and isinstance(m.intercept_, np.float64)
        assert np.array_equal(m.coef_, ext.coef_) and m.intercept_ == ext.intercept_
    assert "longdouble" in m.fit_info_ and "one more pass" not in m.fit_info_


@needs_longdouble
def test_longdouble_factor_and_precision_choice():
    X, y, s = make_problem(2000, 5, seed=4, weights=True)
    Xl, yl, sl = _as_longdouble(X, y, s)
    st = _core.tsqr_stats(Xl, yl, sl, n_shards=3, precision="extended")
    ref = _core.tsqr_stats(X, y, s, n_shards=3, precision="extended")
    assert np.array_equal(st["r"], ref["r"]) and np.array_equal(st["r_lo"], ref["r_lo"])
    opts = _core.FitOptions()
    auto, _ = _core.fit_qr(Xl, yl, sl, opts)
    assert auto.precision == "extended" and "long double" in auto.precision_reason
    dbl, factor = _core.fit_qr(Xl, yl, sl, opts, "double")  # honoured: X rounded as read
    assert dbl.precision == "double" and "r_lo" not in factor
    np.testing.assert_array_equal(dbl.coef, _core.fit_qr(X, y, s, opts, "double")[0].coef)


@needs_longdouble
def test_longdouble_keeps_digits_float64_loses():
    """y = 1 + x + delta x^2 with delta x^2 below half an ulp of y in float64 but
    ~1000 ulps in long double: only the longdouble data carry the curvature."""
    x = np.arange(1.0, 2001.0, dtype=np.longdouble)
    delta = np.longdouble(2.0) ** -66
    X = np.column_stack([x, x * x])
    y = 1 + x + delta * x * x
    assert np.array_equal(y.astype(np.float64), 1 + x.astype(np.float64))  # float64 drops it
    m = LinearRegression(solver="qr").fit(X, y)
    assert m.coef_[1] == pytest.approx(float(delta), rel=0.05)  # a parameter with a tiny effect
    assert m.coef_[0] == pytest.approx(1.0, rel=1e-12) and m.intercept_ == pytest.approx(1.0)
    m64 = LinearRegression(solver="qr").fit(X.astype(np.float64), y.astype(np.float64))
    assert abs(m64.coef_[1]) < 0.1 * float(delta)


@needs_longdouble
def test_longdouble_predict_and_statistics():
    X, y, s = make_problem(500, 4, seed=8, weights=True, noise=0.5)
    Xl, yl, sl = _as_longdouble(X, y, s)
    m = LinearRegression(solver="qr", compute_statistics=True).fit(Xl, yl, sample_weight=sl)
    ref = LinearRegression(solver="qr", qr_precision="extended", compute_statistics=True)
    ref.fit(X, y, sample_weight=s)
    assert np.array_equal(m.coef_stderr_, ref.coef_stderr_) and m.r2_ == ref.r2_
    pred = m.predict(Xl)
    assert pred.dtype == np.longdouble
    np.testing.assert_allclose(pred.astype(np.float64), m.predict(X), rtol=1e-14, atol=1e-13)


@needs_longdouble
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_longdouble_input_is_float64_for_other_solvers(solver):
    X, y, _ = make_problem(400, 3, seed=2)
    Xl, yl, _ = _as_longdouble(X, y, None)
    m = LinearRegression(solver=solver, tol=1e-12).fit(Xl, yl)
    ref = LinearRegression(solver=solver, tol=1e-12).fit(X, y)
    assert m.coef_.dtype == np.float64 and np.array_equal(m.coef_, ref.coef_)
    m = LinearRegression(solver="qr", standardize=True).fit(Xl, yl)  # preprocessing: float64 too
    assert m.coef_.dtype == np.float64


@needs_longdouble
def test_longdouble_is_rejected_where_not_read():
    X, y, _ = make_problem(100, 3)
    Xl, yl, _ = _as_longdouble(X, y, None)
    for call in (
        lambda: _core.gram_stats(Xl, yl, None, None, 0, 0),
        lambda: _core.fit(Xl, yl, None, "newton", _core.FitOptions()),
        lambda: _core.find_nonfinite(Xl),
    ):
        with pytest.raises(TypeError, match="longdouble, which only the qr solver reads"):
            call()
    with pytest.raises(TypeError, match="same float dtype as X"):
        _core.fit_qr(Xl, y, None, _core.FitOptions())  # y float64, X longdouble
    Xl[7, 2] = np.nan
    with pytest.raises(ValueError, match="row 7, column 2"):
        LinearRegression(solver="qr").fit(Xl, yl)
