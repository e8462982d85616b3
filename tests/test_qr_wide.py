"""qr on wide designs: the blocked pass, merge and ridge fold (tsqr_wide.hpp) and the solve's
triangular algebra at large order (triangular.hpp), against the narrow kernels, numpy and SciPy,
and their results across thread counts (fastcost's and the BLAS's)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
from fastcost import LinearRegression, _core
from helpers import make_problem, reference_fit
from threadpoolctl import threadpool_limits

WIDE = _core.QR_WIDE_MIN_COLS  # augmented width d + k + 1 from which the blocked kernel runs
D = WIDE + 38  # 102 features with the defaults: p = 104, 3 panels of 32 and a partial one


@pytest.fixture
def kernel():
    """kernel("wide" | "narrow"): the blocked kernel everywhere, or nowhere, until the test ends."""
    prev = _core.set_qr_wide_min_cols(WIDE)

    def use(which):
        _core.set_qr_wide_min_cols(1 if which == "wide" else 10**9)

    yield use
    _core.set_qr_wide_min_cols(prev)


def _reference(*args, **kwargs):
    """helpers.reference_fit on one BLAS thread: numpy's lstsq of a 1,000 x 200 problem can take
    seconds when its threads wait on each other on a busy machine."""
    with threadpool_limits(1, "blas"):
        return reference_fit(*args, **kwargs)


def _augmented(X, Y, s, shift):
    """sqrt(s) [1, X - c, Y - c_y] in float64, as the pass forms it."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    s = np.ones(len(X)) if s is None else np.asarray(s, dtype=np.float64)
    d = X.shape[1]
    return np.sqrt(s)[:, None] * np.column_stack([np.ones(len(X)), X - shift[:d], Y - shift[d:]])


def test_threshold_is_settable():
    assert _core.QR_WIDE_MIN_COLS == 64
    prev = _core.set_qr_wide_min_cols(7)
    try:
        assert prev == _core.QR_WIDE_MIN_COLS
        assert _core.set_qr_wide_min_cols(prev) == 7
    finally:
        _core.set_qr_wide_min_cols(prev)


@pytest.mark.parametrize(
    "n, d, k",
    [(1, 3, 1), (7, 5, 1), (37, 31, 1), (300, 30, 2), (301, 31, 1), (1500, 62, 3), (2100, 95, 1)],
)
@pytest.mark.parametrize("order", ["C", "F"])
def test_blocked_factor_is_r_of_the_augmented_design(kernel, n, d, k, order):
    """Any shape, forced through the blocked kernel: blocks of 1,024 rows and a partial one,
    widths below, at and above a panel of 32, fewer rows than columns, zero weights."""
    kernel("wide")
    rng = np.random.default_rng(n + d)
    X = np.asarray(rng.standard_normal((n, d)) * 3 + 1, order=order)
    Y = rng.standard_normal((n, k)) if k > 1 else rng.standard_normal(n)
    s = rng.uniform(0.0, 2.0, n)
    s[::5] = 0.0
    st = _core.tsqr_stats(X, Y, s)
    R = st["r"]
    assert R.shape == (d + k + 1,) * 2 and np.array_equal(R, np.triu(R))
    assert st["n_rows"] == n and st["n_nonzero"] == np.count_nonzero(s) and st["n_shards"] == 1
    Z = _augmented(X, Y, s, st["shift"])
    G = Z.T @ Z
    np.testing.assert_allclose(R.T @ R, G, rtol=1e-12, atol=1e-12 * np.abs(G).max())
    # SciPy's R of the same matrix agrees up to the signs of its rows.
    if n >= Z.shape[1]:
        R_ref = scipy.linalg.qr(Z, mode="r")[0][: Z.shape[1]]
        dr = np.abs(np.diag(R_ref))  # (zero weights can leave fewer rows than columns: zeros)
        np.testing.assert_allclose(np.abs(np.diag(R)), dr, rtol=1e-10, atol=1e-12 * dr.max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_wide_factor_matches_the_narrow_kernel(kernel, dtype, order):
    X, y, s = make_problem(2500, D, seed=1, dtype=dtype, order=order, weights=True)
    kernel("wide")
    wide = _core.tsqr_stats(X, y, s)
    kernel("narrow")
    narrow = _core.tsqr_stats(X, y, s)
    assert wide["n_shards"] == 1
    Rw, Rn = wide["r"], narrow["r"]
    G = Rn.T @ Rn
    np.testing.assert_allclose(Rw.T @ Rw, G, rtol=1e-12, atol=1e-13 * np.abs(G).max())
    # The factor is unique up to row signs.
    np.testing.assert_allclose(np.abs(Rw), np.abs(Rn), rtol=1e-9, atol=1e-11 * np.abs(Rn).max())


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_wide_fit_matches_numpy_and_the_narrow_kernel(kernel, weights, fit_intercept, alpha):
    X, y, s = make_problem(1200, D, seed=2, weights=weights)
    w_ref, b_ref = _reference(X, y, s, alpha=alpha, fit_intercept=fit_intercept)
    fits = {}
    for which in ("wide", "narrow"):
        kernel(which)
        fits[which] = LinearRegression(solver="qr", alpha=alpha, fit_intercept=fit_intercept).fit(
            X, y, sample_weight=s
        )
    m = fits["wide"]
    assert m.qr_precision_ == "double" and m.rank_ == D
    scale = np.abs(w_ref).max()
    np.testing.assert_allclose(m.coef_, w_ref, rtol=1e-10, atol=1e-11 * scale)
    assert m.intercept_ == pytest.approx(b_ref, rel=1e-10, abs=1e-11 * scale)
    n = fits["narrow"]
    np.testing.assert_allclose(m.coef_, n.coef_, rtol=1e-11, atol=1e-12 * scale)
    assert m.loss_history_[-1] == pytest.approx(n.loss_history_[-1], rel=1e-10)
    assert m.condition_number_ == pytest.approx(n.condition_number_, rel=1e-6)


def test_wide_multi_target_matches_per_target_fits(kernel):
    kernel("wide")
    X, y, s = make_problem(1000, D, seed=3, weights=True)
    rng = np.random.default_rng(3)
    Y = np.c_[y, X @ rng.standard_normal((D, 2)) + rng.standard_normal((len(y), 2))]
    m = LinearRegression(solver="qr").fit(X, Y, sample_weight=s)
    assert m.coef_.shape == (3, D)
    for t in range(3):
        w_ref, b_ref = _reference(X, Y[:, t], s)
        np.testing.assert_allclose(m.coef_[t], w_ref, rtol=1e-10, atol=1e-11 * np.abs(w_ref).max())
        assert m.intercept_[t] == pytest.approx(b_ref, rel=1e-10, abs=1e-10)


def test_wide_float32_fit(kernel):
    kernel("wide")
    X, y, s = make_problem(1500, D, seed=4, dtype=np.float32, weights=True)
    w_ref, b_ref = _reference(X, y, s)  # float64 on the same (float32) data
    m = LinearRegression(solver="qr").fit(X, y, sample_weight=s)
    assert m.coef_.dtype == np.float32
    tol = 200 * np.finfo(np.float32).eps
    np.testing.assert_allclose(m.coef_, w_ref, rtol=tol, atol=tol * np.abs(w_ref).max())


def test_wide_results_do_not_depend_on_threads(kernel):
    """One factor with the columns split over the threads (the default below 32 rows per
    column), or row shards (tall data, or n_shards given): bitwise the same with 1, 2 or 3
    threads at a given shard count, and the same factor up to rounding across shard counts."""
    kernel("wide")
    X, y, s = make_problem(3000, D, seed=5, weights=True)
    by_shards = {}
    for shards in (0, 7):
        rs = [_core.tsqr_stats(X, y, s, None, shards, threads) for threads in (1, 2, 3)]
        assert rs[0]["n_shards"] == (1 if shards == 0 else 7)
        for r in rs[1:]:
            assert np.array_equal(rs[0]["r"], r["r"])
        by_shards[shards] = rs[0]["r"]
    G = by_shards[0].T @ by_shards[0]
    R7 = by_shards[7]
    np.testing.assert_allclose(R7.T @ R7, G, rtol=1e-12, atol=1e-13 * np.abs(G).max())
    fits = [LinearRegression(solver="qr", n_threads=t).fit(X, y, sample_weight=s) for t in (1, 2)]
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert fits[0].intercept_ == fits[1].intercept_
    assert fits[0].condition_number_ == fits[1].condition_number_


def test_tall_wide_data_is_sharded_by_shape(kernel):
    kernel("wide")
    X, y, s = make_problem(64 * (D + 2), D, seed=10, weights=True)  # >= 32 rows per column
    rs = [_core.tsqr_stats(X, y, s, None, 0, threads) for threads in (1, 2)]
    assert rs[0]["n_shards"] == rs[1]["n_shards"] > 1
    assert np.array_equal(rs[0]["r"], rs[1]["r"])
    w_ref, b_ref = _reference(X, y, s)
    m = LinearRegression(solver="qr").fit(X, y, sample_weight=s)
    np.testing.assert_allclose(m.coef_, w_ref, rtol=1e-10, atol=1e-11 * np.abs(w_ref).max())


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_wide_results_do_not_depend_on_blas_threads(kernel, alpha):
    """The pass, merge, ridge fold and triangular algebra call no BLAS; this checks that no
    result moves when SciPy's BLAS runs on 1 or 2 threads."""
    kernel("wide")
    X, y, s = make_problem(2000, D, seed=6, weights=True)
    out = []
    for n in (1, 2):
        with threadpool_limits(n, "blas"):
            m = LinearRegression(solver="qr", alpha=alpha).fit(X, y, sample_weight=s)
            r = _core.fit_qr(X, y, s, _core.FitOptions(alpha=alpha))[0]
        out.append((m.coef_, m.intercept_, r.digits_estimate, r.condition_estimate))
    assert np.array_equal(out[0][0], out[1][0])
    assert out[0][1:] == out[1][1:]


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wide_chunk_factors_merge_like_one_pass(kernel, fit_intercept):
    kernel("wide")
    X, y, s = make_problem(2400, D, seed=7, weights=True)
    shift = None if fit_intercept else np.zeros(D + 1)
    parts = [
        _core.tsqr_stats(X[c], y[c], s[c], shift)
        for c in (slice(0, 900), slice(900, 1000), slice(1000, None))
    ]
    merged = parts[0]
    for part in parts[1:]:
        merged = _core.tsqr_merge(merged, part)
    assert merged["n_rows"] == 2400 and merged["n_shards"] == 3
    R = merged["r"]
    assert np.array_equal(R, np.triu(R))
    one = _core.tsqr_stats(X, y, s, merged["shift"])["r"]
    G = one.T @ one
    np.testing.assert_allclose(R.T @ R, G, rtol=1e-11, atol=1e-12 * np.abs(G).max())
    got = _core.solve_r(R, merged["shift"], 0.0, fit_intercept)
    w_ref, b_ref = _reference(X, y, s, fit_intercept=fit_intercept)
    np.testing.assert_allclose(got.coef, w_ref, rtol=1e-10, atol=1e-11 * np.abs(w_ref).max())
    assert got.intercept == pytest.approx(b_ref, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("d", [D, 300])
def test_wide_rank_deficient_gives_minimum_norm(kernel, d):
    """Jacobi's SVD below 256 active columns (the same digits with 1 or 2 BLAS threads),
    LAPACK's dgesdd from there on (Jacobi would take minutes at d = 2,000)."""
    kernel("wide")
    rng = np.random.default_rng(8)
    rank = d - 48
    base = rng.standard_normal((3 * d, rank))
    X = np.c_[base, base[:, :40] @ rng.standard_normal((40, d - rank))]
    y = base @ rng.standard_normal(rank) + 0.1 * rng.standard_normal(3 * d)
    coefs = []
    for n in (1, 2):
        with threadpool_limits(n, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = LinearRegression(solver="qr").fit(X, y)
        assert m.rank_ == rank
        coefs.append(m.coef_)
    with threadpool_limits(1, "blas"):
        w_ref = np.linalg.lstsq(X - X.mean(0), y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(coefs[0], w_ref, rtol=1e-8, atol=1e-10 * np.abs(w_ref).max())
    if d < 256:
        assert np.array_equal(coefs[0], coefs[1])


def _digits_reference(r, shift, fit_intercept):
    """qr_digits_estimate (qr_solve.hpp) in numpy, with an explicit inverse."""
    r = np.asarray(r, dtype=np.float64)
    p = r.shape[0]
    if fit_intercept:
        f = r.copy()
        f[0, 1:] += shift * f[0, 0]
    else:
        h = r[:, 1:].copy()
        h[0] += shift * r[0, 0]
        f = scipy.linalg.qr(h, mode="r")[0][: p - 1]
    k = f.shape[0] - 1
    fs = f[:k, :k] / np.linalg.norm(f[:k, :k], axis=0)
    inv = scipy.linalg.solve_triangular(fs, np.eye(k))
    z = scipy.linalg.solve_triangular(fs, f[:k, k])
    rown = (inv * inv).sum(axis=1)
    amp = np.linalg.norm(z) + np.sqrt(rown.sum()) * abs(f[k, k])
    err = (
        np.finfo(np.float64).eps
        / 2
        * np.sqrt(rown)
        * amp
        / np.maximum(np.abs(z), 1e-6 * np.linalg.norm(z))
    )
    return min(16.0, -np.log10(err.max()))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_digits_estimate_at_large_order(fit_intercept):
    """The blocked inverse of the digits estimate (from order 64) against an explicit one."""
    X, y, s = make_problem(1500, 130, seed=9, weights=True)
    X[:, 5] = X[:, 6] + 1e-5 * X[:, 5]  # a nearly collinear pair: fewer digits
    shift = None if fit_intercept else np.zeros(131)
    st = _core.tsqr_stats(X, y, s, shift)
    got = _core.solve_r(st["r"], st["shift"], 0.0, fit_intercept)
    assert got.digits_estimate == pytest.approx(
        _digits_reference(st["r"], st["shift"], fit_intercept), abs=1e-6
    )


def test_auto_precision_skips_an_extended_pass_past_its_budget():
    """qr_precision='auto' wants the long double pass when double keeps few digits, but
    not at any price: past EXTENDED_MAX_FLOPS (2 n p^2 of scalar x87 work, ~10 s) it keeps
    the double result, says so in fit_info_ and warns. The double result is still the
    one SciPy's lstsq (double, SVD) gives, to the digits both keep."""
    from fastcost.exceptions import IllConditionedWarning

    rng = np.random.default_rng(0)
    n, d = 100_000, 250
    p = d + 2
    assert 2.0 * n * p * p > _core.EXTENDED_MAX_FLOPS
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = rng.standard_normal((n, d)) @ (q * np.logspace(0, -8, d)) @ q.T + 3.0  # condition ~1e8
    w = rng.standard_normal(d)
    y = X @ w + 1.0 + 0.1 * rng.standard_normal(n)
    dbl, _ = _core.fit_qr(X, y, None, _core.FitOptions(), "double")
    assert dbl.digits_estimate < _core.EXTENDED_MIN_DIGITS
    with pytest.warns(IllConditionedWarning, match="past auto's budget"):
        m = LinearRegression(solver="qr").fit(X, y)
    assert m.qr_precision_ == "double" and m.n_passes_ == 1
    assert "qr_precision='extended' takes it" in m.fit_info_
    np.testing.assert_array_equal(m.coef_, dbl.coef)
    Xc = X - X.mean(axis=0)
    ref = scipy.linalg.lstsq(Xc, y - y.mean(), lapack_driver="gelsd")[0]
    # both lose ~8 digits to the condition number on the least determined direction
    fitted = Xc @ ref + y.mean()
    np.testing.assert_allclose(m.predict(X), fitted, rtol=1e-9, atol=1e-9 * np.abs(y).max())
