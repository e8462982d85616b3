"""The d x d algebra through SciPy's LAPACK (from order 32) against the built-in
loops and numpy: the same coefficients, rank decisions and condition estimates."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost import LinearRegression, _core
from fastcost.exceptions import RankDeficientWarning
from helpers import reference_fit, supported_isas


@pytest.fixture
def builtin_loops():
    _core.set_lapack(False)
    try:
        yield
    finally:
        _core.set_lapack(True)


def _stats(X, y):
    st = _core.gram_stats(X, y)
    return st["gram"], st["shift"]


def test_lapack_comes_from_scipy():
    info = _core.lapack_info()
    assert info["loaded"] and info["ready"], info
    assert info["source"] == "scipy.linalg.cython_lapack"
    assert info["min_order"] == 32


@pytest.mark.parametrize("d", [32, 90, 257])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_full_rank_solve_matches_builtin_and_numpy(d, alpha, fit_intercept):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((3 * d + 50, d)) * rng.uniform(0.5, 3.0, d) + 5.0
    y = X @ rng.standard_normal(d) + rng.standard_normal(X.shape[0])
    gram, shift = _stats(X, y)
    lap = _core.solve_stats(gram, shift, alpha, fit_intercept)
    _core.set_lapack(False)
    try:
        own = _core.solve_stats(gram, shift, alpha, fit_intercept)
    finally:
        _core.set_lapack(True)
    np.testing.assert_allclose(lap.coef, own.coef, rtol=1e-9, atol=1e-12)
    assert lap.intercept == pytest.approx(own.intercept, rel=1e-9, abs=1e-9)
    assert lap.loss_history[-1] == pytest.approx(own.loss_history[-1], rel=1e-9)
    # Both are estimates of the same kappa_1: equal within a small factor.
    assert 0.2 < lap.condition_estimate / own.condition_estimate < 5.0
    w, b = reference_fit(X, y, alpha=alpha, fit_intercept=fit_intercept)
    np.testing.assert_allclose(lap.coef, w, rtol=1e-7, atol=1e-9 * np.abs(w).max())


def test_condition_estimate_tracks_the_true_condition():
    rng = np.random.default_rng(3)
    d = 60
    q, _ = np.linalg.qr(rng.standard_normal((400, d)))
    X = q * np.logspace(0, -4, d)  # singular values 1 .. 1e-4: kappa(X^T X) = 1e8
    y = X @ rng.standard_normal(d)
    r = _core.solve_stats(*_stats(X, y), 0.0, False)
    kappa = np.linalg.cond(
        X.T @ X / np.outer(np.linalg.norm(X, axis=0), np.linalg.norm(X, axis=0)), 1
    )
    assert kappa / 10 < r.condition_estimate < kappa * 10


def test_rank_deficient_gives_the_minimum_norm_solution():
    rng = np.random.default_rng(5)
    n = 300
    base = rng.standard_normal((n, 30))
    X = np.c_[base, base[:, :20] @ rng.standard_normal((20, 20))]  # rank 30
    y = base @ rng.standard_normal(30) + 0.1 * rng.standard_normal(n)
    lap = _core.solve_stats(*_stats(X, y), 0.0, True)
    assert lap.rank == 30 and lap.singular
    Xc, yc = X - X.mean(0), y - y.mean()
    expected = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    np.testing.assert_allclose(lap.coef, expected, rtol=1e-7, atol=1e-9)


def test_builtin_rank_deficient_path_agrees(builtin_loops):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((200, 40))
    X[:, 39] = X[:, 0] - 2 * X[:, 1]
    y = rng.standard_normal(200)
    r = _core.solve_stats(*_stats(X, y), 0.0, True)
    expected = np.linalg.lstsq(X - X.mean(0), y - y.mean(), rcond=None)[0]
    assert r.rank == 39
    np.testing.assert_allclose(r.coef, expected, rtol=1e-7, atol=1e-9)


def test_constant_columns_are_left_out_with_lapack():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((500, 64))
    X[:, [3, 40]] = 2.5
    y = X[:, :10].sum(1) + rng.standard_normal(500)
    with pytest.warns(RankDeficientWarning):
        model = LinearRegression(solver="newton").fit(X, y)
    keep = np.setdiff1d(np.arange(64), [3, 40])
    expected = np.linalg.lstsq(X[:, keep] - X[:, keep].mean(0), y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(model.coef_[keep], expected, rtol=1e-9, atol=1e-12)
    assert model.coef_[3] == 0.0 and model.coef_[40] == 0.0


def test_wide_newton_fit_matches_lstsq():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((1500, 600))
    y = X @ rng.standard_normal(600) + rng.standard_normal(1500)
    model = LinearRegression(solver="newton").fit(X, y)
    w, b = reference_fit(X, y)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-9, atol=1e-11 * np.abs(w).max())
    assert model.intercept_ == pytest.approx(b, rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------- wide Gram


@pytest.fixture
def avx2_tiles():
    """The AVX2 tiles hand a float64 Gram to dsyrk from 1,536 columns (AVX-512
    ones from 1,024 when the BLAS's own kernels are AVX-512, float32 never), so
    with that width forced for both dtypes a modest problem exercises the BLAS path."""
    before = _core.get_isa()
    _core.set_isa("avx2")
    width = _core.set_wide_gram_min(1536)
    try:
        yield
    finally:
        _core.set_isa(before)
        _core.set_wide_gram_min(width)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
def test_wide_gram_through_syrk_matches_the_tile_kernel(avx2_tiles, dtype, order, weighted):
    rng = np.random.default_rng(11)
    n, d = 1800, 1540
    X = np.asarray(rng.standard_normal((n, d)) + 3.0, dtype=dtype, order=order)
    Y = np.asarray(rng.standard_normal((n, 2)), dtype=dtype)
    s = rng.uniform(0.0, 2.0, n).astype(dtype) if weighted else None
    wide = _core.gram_stats(X, Y, s)
    _core.set_lapack(False)
    try:
        tiles = _core.gram_stats(X, Y, s)
    finally:
        _core.set_lapack(True)
    assert wide["blas"] and not tiles["blas"]
    scale = np.abs(tiles["gram"]).max()
    # float32 tiles sum blocks of rows in float32; the BLAS path packs in float64
    tile_tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(wide["gram"], tiles["gram"], rtol=0, atol=tile_tol * scale)
    np.testing.assert_array_equal(wide["gram"], wide["gram"].T)
    # and against numpy in float64
    Z = np.c_[X.astype(np.float64) - wide["shift"][:d], Y - wide["shift"][d:], np.ones(n)]
    w = np.ones(n) if s is None else s.astype(np.float64)
    np.testing.assert_allclose(wide["gram"], (Z * w[:, None]).T @ Z, rtol=0, atol=1e-12 * scale)


@pytest.fixture
def syrk_from(request):
    """float32 through ssyrk from the given augmented width, for the test's duration."""
    before = _core.set_wide_gram_min(request.param)
    was = _core.set_float_syrk(True)
    try:
        yield request.param
    finally:
        _core.set_wide_gram_min(before)
        _core.set_float_syrk(was)


@pytest.mark.parametrize("syrk_from", [2], indirect=True)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("targets", [0, 1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n", [1, 1000, 20_001])
def test_float32_ssyrk_gram_matches_tiles_and_numpy(syrk_from, order, targets, weighted, n):
    """Blocks of 6,000+ rows at this width: 20,001 rows add three float Grams
    (a group of 8,192 rows or more each) to the double one."""
    rng = np.random.default_rng(n + targets)
    d = 300
    X = np.asarray(
        rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + 3.0, dtype=np.float32, order=order
    )
    Y = None if targets == 0 else rng.standard_normal((n, targets)).astype(np.float32)
    if targets == 1:
        Y = Y[:, 0].copy()
    s = rng.uniform(0.0, 2.0, n).astype(np.float32) if weighted else None
    wide = _core.gram_stats(X, Y, s)
    _core.set_wide_gram_min(10**9)
    try:
        tiles = _core.gram_stats(X, Y, s)
    finally:
        _core.set_wide_gram_min(syrk_from)
    assert wide["blas"] and not tiles["blas"]
    scale = np.abs(tiles["gram"]).max()
    tol = 200 * np.finfo(np.float32).eps * scale
    np.testing.assert_allclose(wide["gram"], tiles["gram"], rtol=0, atol=tol)
    np.testing.assert_array_equal(wide["gram"], wide["gram"].T)
    k = wide["n_targets"]
    Yd = np.zeros((n, k)) if Y is None else Y.reshape(n, k).astype(np.float64)
    Z = np.c_[X.astype(np.float64) - wide["shift"][:d], Yd - wide["shift"][d:], np.ones(n)]
    w = np.ones(n) if s is None else s.astype(np.float64)
    np.testing.assert_allclose(wide["gram"], (Z * w[:, None]).T @ Z, rtol=0, atol=tol)
    if not weighted:
        assert wide["gram"][-1, -1] == n


@pytest.mark.parametrize("syrk_from", [2], indirect=True)
def test_float32_ssyrk_gram_is_the_same_for_any_packing_thread_count(syrk_from):
    """n_threads does not change the bits; the BLAS's own thread count does (the
    reason the float path is off by default), so it is held at one here."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(14)
    X = rng.standard_normal((9000, 700)).astype(np.float32)
    y = rng.standard_normal(9000).astype(np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        one = _core.gram_stats(X, y, None, None, 0, 1)
        two = _core.gram_stats(X, y, None, None, 0, 2)
    assert one["blas"] and one["gram"].tobytes() == two["gram"].tobytes()


def test_float32_takes_ssyrk_only_when_enabled():
    assert _core.set_wide_gram_min(0) == 0 and _core.set_float_syrk(False) is False
    X = np.random.default_rng(15).standard_normal((300, 3000)).astype(np.float32)
    if _core.get_isa() == "avx512f":
        assert not _core.gram_stats(X)["blas"]  # float32: AVX-512 tiles at any width
    _core.set_float_syrk(True)
    try:
        assert _core.gram_stats(X)["blas"]
        assert not _core.gram_stats(X[:, :1000])["blas"]
    finally:
        _core.set_float_syrk(False)


def _lib(path, api, arch=None):
    return {"user_api": "blas", "internal_api": api, "filepath": path, "architecture": arch}


def test_blas_kernels_are_read_from_scipys_library():
    from fastcost._threads import blas_uses_avx512

    scipy_lib = "/site-packages/scipy.libs/libscipy_openblas-1.so"
    numpy_lib = "/site-packages/numpy.libs/libscipy_openblas64_-2.so"
    assert blas_uses_avx512([_lib(scipy_lib, "openblas", "SkylakeX")])
    assert blas_uses_avx512([_lib(scipy_lib, "openblas", "SapphireRapids")])
    assert not blas_uses_avx512([_lib(scipy_lib, "openblas", "Haswell")])
    assert not blas_uses_avx512([_lib(scipy_lib, "openblas", "Zen")])
    # SciPy's own library decides, whatever numpy's runs
    assert not blas_uses_avx512(
        [_lib(numpy_lib, "openblas", "SkylakeX"), _lib(scipy_lib, "openblas", "Haswell")]
    )
    assert blas_uses_avx512([_lib("/usr/lib/libopenblas.so.0", "openblas", "Cooperlake")])
    mkl = _core.build_info()["isa_best"] == "avx512f"
    assert blas_uses_avx512([_lib("/opt/lib/libmkl_rt.so.2", "mkl")]) is mkl
    assert not blas_uses_avx512([])
    assert not blas_uses_avx512([{"user_api": "openmp", "internal_api": "openmp", "filepath": "x"}])
    assert blas_uses_avx512() is _core.lapack_info()["blas_avx512"]


@pytest.mark.parametrize("isa", [i for i in ("avx2", "avx512") if i in supported_isas()])
def test_wide_float64_gram_goes_to_dsyrk_by_isa_and_blas_kernels(isa):
    """Default widths: AVX2 tiles hand over from 1,536 augmented columns, AVX-512
    ones from 1,024 only when SciPy's BLAS runs AVX-512 kernels. Through dsyrk
    the bits do not depend on fastcost's or the BLAS's thread count."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(16)
    X = rng.standard_normal((2000, 1600)) + 2.0
    y = rng.standard_normal(2000)
    before = _core.get_isa()
    _core.set_isa(isa)
    try:
        avx512_blas = _core.lapack_info()["blas_avx512"]
        narrow = _core.gram_stats(X[:, :1020].copy(), y)  # 1,022 augmented columns
        mid = _core.gram_stats(X[:, :1400].copy(), y)
        grams = []
        for blas_threads in (1, 2):
            with threadpool_limits(limits=blas_threads, user_api="blas"):
                grams += [_core.gram_stats(X, y, None, None, 0, t) for t in (1, 2)]
    finally:
        _core.set_isa(before)
    assert not narrow["blas"]
    assert mid["blas"] is (isa == "avx512" and avx512_blas)
    assert grams[0]["blas"] is (isa == "avx2" or avx512_blas)
    for g in grams[1:]:
        assert g["gram"].tobytes() == grams[0]["gram"].tobytes()
    Z = np.c_[X - grams[0]["shift"][:-1], y - grams[0]["shift"][-1], np.ones(len(X))]
    ref = Z.T @ Z
    np.testing.assert_allclose(grams[0]["gram"], ref, rtol=0, atol=1e-12 * np.abs(ref).max())
