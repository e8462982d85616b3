"""The shard kernels of fastcost._core against float64 numpy references."""

from __future__ import annotations

import fastcost
import numpy as np
import pytest
from fastcost import _core
from helpers import make_problem

# Forced instruction sets: baseline, avx2 when the CPU has it, and auto (the best).
ISAS = ["baseline", "auto"] + (
    ["avx2"] if fastcost.config_info()["isa_best_supported"] in ("avx2+fma", "avx512f") else []
)


def _augmented_gram(X, y, s, shift):
    n = len(X)
    Z = np.c_[X - shift[:-1], y - shift[-1], np.ones(n)]
    return (Z * s[:, None]).T @ Z


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (1000, 17), (5000, 40)])
@pytest.mark.parametrize("isa", ISAS)
def test_gram_stats_matches_numpy(dtype, order, shape, isa):
    X, y, s = make_problem(*shape, seed=1, dtype=dtype, order=order, weights=True)
    fastcost.set_isa(isa)
    try:
        st = _core.gram_stats(X, y, s)
    finally:
        fastcost.set_isa("auto")
    X64, y64, s64 = X.astype(float), y.astype(float), s.astype(float)
    shift = np.r_[X64[0], y64[0]]
    np.testing.assert_array_equal(st["shift"], shift)
    ref = _augmented_gram(X64, y64, s64, shift)
    tol = 50 * np.finfo(dtype).eps * np.abs(ref).max()
    np.testing.assert_allclose(st["gram"], ref, rtol=0, atol=tol)
    np.testing.assert_array_equal(st["gram"], st["gram"].T)


def _check_gram_by_regions(n, d, dtype, order, weighted, isa, regions):
    rng = np.random.default_rng(21)
    X = np.asarray(
        rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + 4.0, dtype=dtype, order=order
    )
    Y = rng.standard_normal((n, 2)).astype(dtype)
    s = rng.uniform(0.0, 2.0, n).astype(dtype) if weighted else None
    if weighted:
        s[::7] = 0.0
    fastcost.set_isa(isa)
    width = _core.set_wide_gram_min(10**9)  # AVX2 float64 would go to dsyrk from 1,536
    geometry = _core.set_gram_regions(*regions)
    try:
        # 4 shards asked for: the region path sums all rows in one partial (and
        # says 1), where the sharded path would take the 4.
        one = _core.gram_stats(X, Y, s, None, 4, 1)
        two = _core.gram_stats(X, Y, s, None, 4, 2)
    finally:
        fastcost.set_isa("auto")
        _core.set_wide_gram_min(width)
        _core.set_gram_regions(*geometry)
    assert not one["blas"] and one["n_shards"] == 1
    assert one["gram"].tobytes() == two["gram"].tobytes()
    Z = np.c_[
        X.astype(np.float64) - one["shift"][:d], Y.astype(np.float64) - one["shift"][d:], np.ones(n)
    ]
    w = np.ones(n) if s is None else s.astype(np.float64)
    ref = (Z * w[:, None]).T @ Z
    # float32 tiles sum blocks of rows in float32, then in float64
    tol = (1e-12 if dtype == np.float64 else 200 * np.finfo(np.float32).eps) * np.abs(ref).max()
    np.testing.assert_allclose(one["gram"], ref, rtol=0, atol=tol)
    np.testing.assert_array_equal(one["gram"], one["gram"].T)
    if s is None:
        assert one["gram"][-1, -1] == n


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("isa", [i for i in ISAS if i != "baseline"])
def test_wide_gram_by_regions_matches_numpy_and_any_thread_count(dtype, order, weighted, isa):
    """From 3,072 augmented columns the tile kernel sums the Gram region by
    region (1,056 x 1,056 columns, all rows each), the threads sharing out
    regions of one partial. The same code on a geometry scaled down by 11
    (regions of 96 columns from 192 on), for every tile width and layout at a
    tenth of the cost: 4 x 4 regions at 333 augmented columns, the last
    ragged; float32 at 603 (7 x 7), since AVX-512 float32 takes its wide tiles,
    and so the regions, only past 512."""
    d = 330 if dtype == np.float64 else 600
    _check_gram_by_regions(450, d, dtype, order, weighted, isa, (96, 192))


def test_wide_gram_by_regions_at_its_own_geometry():
    """The default geometry once: 3 x 3 regions of 1,056 columns at 3,153
    augmented columns (padded to the tile width)."""
    _check_gram_by_regions(450, 3150, np.float64, "C", True, "auto", (0, 0))


def test_gram_region_geometry_is_checked_and_restored():
    with pytest.raises(ValueError, match="multiple of 96"):
        _core.set_gram_regions(100, 0)
    with pytest.raises(ValueError, match="min_width"):
        _core.set_gram_regions(96, -1)
    with pytest.raises(ValueError, match="at most"):
        _core.set_gram_regions(96 << 20, 0)
    try:
        previous = _core.set_gram_regions(192, 384)
        assert previous == (1056, 3072)
        assert _core.set_gram_regions(0, 0) == (192, 384)
    finally:
        _core.set_gram_regions(0, 0)
    assert _core.set_gram_regions(0, 0) == (1056, 3072)


def test_gram_stats_without_targets_or_weights():
    X, _, _ = make_problem(300, 4, seed=2)
    st = _core.gram_stats(X)
    ref = _augmented_gram(X, np.zeros(300), np.ones(300), np.r_[X[0], 0.0])
    np.testing.assert_allclose(st["gram"], ref, rtol=1e-13, atol=1e-10)
    assert st["gram"][-1, -1] == 300.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("isa", ISAS)
def test_loss_grad_matches_numpy(dtype, order, isa):
    X, y, s = make_problem(3000, 13, seed=3, dtype=dtype, order=order, weights=True)
    w = np.random.default_rng(0).standard_normal(13)
    fastcost.set_isa(isa)
    try:
        sum_w, sum_r2, sum_r, g = _core.loss_grad(X, y, w, 0.25, s)
    finally:
        fastcost.set_isa("auto")
    X64, y64, s64 = X.astype(float), y.astype(float), s.astype(float)
    r = X64 @ w.astype(dtype).astype(float) + 0.25 - y64
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    assert sum_w == pytest.approx(s64.sum(), rel=rtol)
    assert sum_r2 == pytest.approx(s64 @ r**2, rel=rtol)
    assert sum_r == pytest.approx(s64 @ r, rel=rtol, abs=rtol * np.abs(s64 * r).sum())
    ref = X64.T @ (s64 * r)
    bound = rtol * (np.abs(X64.T) @ np.abs(s64 * r))
    assert np.all(np.abs(g - ref) <= bound), np.abs(g - ref) / bound


@pytest.mark.parametrize("kernel", ["gram", "loss_grad"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_bitwise_identical_for_any_thread_count(kernel, order):
    X, y, s = make_problem(40000, 9, seed=4, order=order, weights=True)
    w = np.linspace(-1, 1, 9)

    def run(threads):
        if kernel == "gram":
            return _core.gram_stats(X, y, s, n_shards=13, n_threads=threads)["gram"].tobytes()
        return np.r_[
            _core.loss_grad(X, y, w, 0.5, s, n_shards=13, n_threads=threads)[:3],
            _core.loss_grad(X, y, w, 0.5, s, n_shards=13, n_threads=threads)[3],
        ].tobytes()

    assert run(1) == run(2) == run(3)


@pytest.mark.parametrize(
    ("n", "d", "dtype"),
    [
        (9000, 40, np.float64),
        (3000, 200, np.float64),
        (3000, 200, np.float32),
        (2000, 4000, np.float64),
    ],
)
def test_pass_sums_are_the_same_bits_for_any_shard_count(n, d, dtype):
    """A pass's shards hold whole blocks of the rows' sum tree (block_tree.hpp):
    the default shards (about 2 MiB of X each), any other count and any thread
    count give the same bits."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    w = rng.standard_normal(d)

    def run(n_shards, threads):
        out = _core.loss_grad(X, y, w, 0.5, None, n_shards=n_shards, n_threads=threads)
        return np.r_[out[:3], out[3]].tobytes()

    assert run(0, 1) == run(0, 2) == run(1, 1) == run(2, 2) == run(3, 2) == run(64, 2)


def test_chunks_merge_to_the_whole():
    """Statistics of two row blocks, moved to a common shift and added, equal the
    statistics of all rows (what the Dask backend relies on)."""
    X, y, s = make_problem(2000, 6, seed=5, weights=True)
    full = _core.gram_stats(X, y, s)
    a = _core.gram_stats(X[:700], y[:700], s[:700])
    b = _core.gram_stats(X[700:], y[700:], s[700:])
    b_moved = _core.reshift_stats(b["gram"], b["shift"], a["shift"])
    np.testing.assert_allclose(a["gram"] + b_moved, full["gram"], rtol=1e-11, atol=1e-9)
    # And the solve from merged statistics equals the direct fit.
    merged = _core.solve_stats(a["gram"] + b_moved, a["shift"], 0.0, True)
    direct = _core.fit(X, y, s, "newton", _core.FitOptions())
    np.testing.assert_allclose(merged.coef, direct.coef, rtol=1e-10)
    np.testing.assert_allclose(merged.intercept, direct.intercept, rtol=1e-10)


def test_explicit_shift_is_used():
    X, y, _ = make_problem(500, 3, seed=6)
    shift = np.r_[X.mean(0), y.mean()]
    st = _core.gram_stats(X, y, shift=shift)
    ref = _augmented_gram(X, y, np.ones(500), shift)
    np.testing.assert_allclose(st["gram"], ref, rtol=1e-12, atol=1e-9)


def test_large_mean_small_spread_keeps_digits():
    rng = np.random.default_rng(0)
    X = 1e8 + rng.standard_normal((5000, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) - 1e8 * (-0.5) + 0.01 * rng.standard_normal(5000)
    st = _core.gram_stats(X, y)
    res = _core.solve_stats(st["gram"], st["shift"], 0.0, True)
    Xc, yc = X - X.mean(0), y - y.mean()
    ref = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    np.testing.assert_allclose(res.coef, ref, rtol=1e-6)


def test_kernel_argument_errors():
    X = np.ones((10, 2))
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.gram_stats(X.astype(np.int64))
    with pytest.raises(ValueError, match="2-D"):
        _core.gram_stats(np.ones(10))
    with pytest.raises(ValueError, match="y has 9 entries, expected 10"):
        _core.gram_stats(X, np.ones(9))
    with pytest.raises(TypeError, match="same float dtype"):
        _core.gram_stats(X, np.ones(10, dtype=np.float32))
    with pytest.raises(ValueError, match="unit stride"):
        _core.gram_stats(np.ones((10, 10))[::2, ::2])
    with pytest.raises(ValueError, match="unknown solver"):
        _core.fit(X, np.ones(10), None, "adam", _core.FitOptions())
    with pytest.raises(ValueError, match="unknown instruction set"):
        fastcost.set_isa("sse9")


def test_find_nonfinite():
    X = np.zeros((5, 3))
    assert _core.find_nonfinite(X) is None
    X[3, 2] = np.inf
    X[4, 0] = np.nan
    assert _core.find_nonfinite(X) == (3, 2)
    assert _core.find_nonfinite(np.asfortranarray(X)) == (3, 2)


def test_options_and_results_are_bound_types():
    X, y, _ = make_problem(200, 3, seed=4)
    with pytest.raises(ValueError, match="unknown option 'alhpa'"):
        _core.FitOptions(alhpa=1.0)
    opts = _core.FitOptions(alpha=0.5, max_iter=7, coef_init=np.zeros(3))
    assert (opts.alpha, opts.max_iter) == (0.5, 7) and opts.coef_init.shape == (3,)
    with pytest.raises(ValueError, match="coef_init must be a 1-D array of length 2"):
        _core.fit(X[:, :2], y, None, "lbfgs", opts)
    with pytest.raises(TypeError):
        _core.fit(X, y, None, "newton", {"alpha": 0.5})  # a dict is not FitOptions
    res = _core.fit(X, y, None, "newton", _core.FitOptions(alpha=0.5))
    assert isinstance(res, _core.FitResult) and res.coef.shape == (3,) and res.n_passes == 1
    Xc, yc = X - X.mean(0), y - y.mean()
    ref = np.linalg.solve(Xc.T @ Xc / len(y) + 0.5 * np.eye(3), Xc.T @ yc / len(y))
    np.testing.assert_allclose(res.coef, ref, rtol=1e-10)


def test_newton_minimum_norm_option():
    """minimum_norm=False: a singular Gram returns at once (singular, zero
    coefficients, infinite condition); a regular one solves as by default."""
    X, y, _ = make_problem(200, 4, seed=5)
    Xs = np.c_[X, X[:, 0] + 2.0 * X[:, 1]]  # exactly collinear
    full = _core.fit(Xs, y, None, "newton", _core.FitOptions())
    quick = _core.fit(Xs, y, None, "newton", _core.FitOptions(minimum_norm=False))
    assert full.singular and full.rank == 4 and np.isfinite(full.coef).all()
    ref = np.linalg.lstsq(Xs - Xs.mean(0), y - y.mean(), rcond=None)[0]  # minimum norm
    np.testing.assert_allclose(full.coef, ref, rtol=1e-8, atol=1e-10)
    assert quick.singular and not np.any(quick.coef) and quick.condition_estimate == np.inf
    assert not _core.FitOptions(minimum_norm=False).minimum_norm
    regular = _core.fit(X, y, None, "newton", _core.FitOptions(minimum_norm=False))
    default = _core.fit(X, y, None, "newton", _core.FitOptions())
    np.testing.assert_array_equal(regular.coef, default.coef)
    assert not regular.singular


@pytest.mark.parametrize("d", [1, 2, 5, 10])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
def test_narrow_gram_rows_in_lanes_against_numpy(d, dtype, order, weighted):
    """d + 2 <= 12 takes the rows-in-lanes kernel (gram_narrow.hpp), which sums
    in float64 whatever the dtype: equal to numpy's float64 Gram of the same
    float32 values to float64 rounding, for row counts that leave a partial block."""
    rng = np.random.default_rng(d)
    n = 64 * 37 + 13
    X = np.asarray(rng.standard_normal((n, d)) * 3 + 7, dtype=dtype, order=order)
    y = (rng.standard_normal(n) + 2).astype(dtype)
    s = rng.uniform(0, 3, n).astype(dtype) if weighted else None
    st = _core.gram_stats(X, y, s, None, 5)
    Z = np.c_[
        X.astype(np.float64) - st["shift"][:d], y.astype(np.float64) - st["shift"][d], np.ones(n)
    ]
    w = np.ones(n) if s is None else s.astype(np.float64)
    expected = (Z * w[:, None]).T @ Z
    np.testing.assert_allclose(st["gram"], expected, rtol=0, atol=1e-13 * np.abs(expected).max())


# ---- narrow Grams: columns read in place (gram_narrow.hpp), d = 1 and a few


def _reference_gram(X, Y, s, shift):
    """Augmented Gram of [X - c, Y - c_y, 1] weighted by s (Y: n x k or None),
    summed in long double: BLAS's float64 sums of 10,000 rows can be 2.5e-14
    (relative) off, more than the tolerances the tests check."""
    n, d = X.shape
    Y = np.zeros((n, len(shift) - d)) if Y is None else Y.reshape(n, -1).astype(float)
    Z = np.c_[X.astype(float) - shift[:d], Y - shift[d:], np.ones(n)].astype(np.longdouble)
    return ((Z * np.asarray(s, dtype=np.longdouble)[:, None]).T @ Z).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n", [1, 63, 64, 65, 10_001])
@pytest.mark.parametrize("with_y", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_one_column_gram_matches_numpy_and_any_thread_count(dtype, order, n, with_y, weighted):
    rng = np.random.default_rng(n)
    X = np.asarray(rng.standard_normal((n, 1)) * 3 + 7, dtype=dtype, order=order)
    y = (rng.standard_normal(n) - 2).astype(dtype) if with_y else None
    s = rng.uniform(0.1, 2.0, n).astype(dtype) if weighted else None
    st = _core.gram_stats(X, y, s)
    shift = np.asarray(st["shift"])
    ref = _reference_gram(X, y, np.ones(n) if s is None else s.astype(float), shift)
    tol = 50 * np.finfo(np.float64).eps * np.abs(ref).max()
    np.testing.assert_allclose(st["gram"], ref, rtol=0, atol=tol)
    np.testing.assert_array_equal(st["gram"], st["gram"].T)
    if not weighted:
        assert st["gram"][-1, -1] == n
    if not with_y:
        assert not np.any(st["gram"][1])  # the absent target is a zero row and column
    for shards in (1, 3, 8):
        one = _core.gram_stats(X, y, s, None, shards, 1)["gram"]
        two = _core.gram_stats(X, y, s, None, shards, 2)["gram"]
        assert one.tobytes() == two.tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_narrow_gram_is_the_same_read_in_place_or_packed(dtype, d, weighted):
    """Column-major X and a 1-D y are read in place, row-major X is packed (and
    from five data columns on, the pairs run on packed blocks): same bits."""
    rng = np.random.default_rng(d)
    n = 1000
    X = (rng.standard_normal((n, d)) + 4).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    s = rng.uniform(0.5, 1.5, n).astype(dtype) if weighted else None
    grams = [
        _core.gram_stats(Xo, yo, s, None, 3, 1)["gram"].tobytes()
        for Xo in (np.ascontiguousarray(X), np.asfortranarray(X))
        for yo in (y, y[:, None].copy(), np.asfortranarray(y[:, None]))
    ]
    assert len(set(grams)) == 1
    # without y, about a zero target shift (the default) and about another one
    none = _core.gram_stats(np.asfortranarray(X), None, s)
    ref = _reference_gram(X, None, np.ones(n) if s is None else s.astype(float), none["shift"])
    tol = 50 * np.finfo(np.float64).eps * np.abs(ref).max()
    np.testing.assert_allclose(none["gram"], ref, rtol=0, atol=tol)
    shift = np.r_[X[0].astype(float), 2.5]
    other = _core.gram_stats(np.asfortranarray(X), None, s, shift)
    ref = _reference_gram(X, None, np.ones(n) if s is None else s.astype(float), shift)
    np.testing.assert_allclose(
        other["gram"], ref, rtol=0, atol=50 * np.finfo(np.float64).eps * np.abs(ref).max()
    )


def test_one_column_gram_of_a_non_finite_value_is_not_finite():
    X = np.ones((100, 1))
    X[40, 0] = np.inf
    g = _core.gram_stats(X, None, None, None, 1, 1)["gram"]
    assert not np.isfinite(g[0, 0]) and np.isnan(g[0, 1])  # the absent target's pair, as inf * 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 3, 40, 700])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_stats_of_a_column_list_equals_the_array(dtype, d, weighted):
    """A list of 1-D columns (an Arrow batch's buffers, read in place) gives the
    bits of the same data as one Fortran-ordered array, and numpy's values."""
    X, y, s = make_problem(1500, d, seed=d, weights=weighted, dtype=dtype)
    cols = [np.ascontiguousarray(X[:, j]) for j in range(d)]
    whole = _core.gram_stats(np.asfortranarray(X), y, s, None, 1, 2)
    listed = _core.gram_stats(cols, y, s, None, 1, 2)
    np.testing.assert_array_equal(listed["gram"], whole["gram"])
    np.testing.assert_array_equal(listed["shift"], whole["shift"])
    X64 = X.astype(np.float64)
    sw = np.ones(1500) if s is None else s.astype(np.float64)
    ref = _augmented_gram(X64, y.astype(np.float64), sw, np.r_[X64[0], float(y[0])])
    tol = 1e-11 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(listed["gram"], ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_gram_stats_column_list_errors():
    a = np.ones(10)
    with pytest.raises(ValueError, match="no columns"):
        _core.gram_stats([])
    with pytest.raises(ValueError, match="column 1 has 9 rows, column 0 has 10"):
        _core.gram_stats([a, np.ones(9)])
    with pytest.raises(TypeError, match="column 1 must have column 0's float dtype"):
        _core.gram_stats([a, np.ones(10, dtype=np.float32)])
    with pytest.raises(ValueError, match="column 0 must be 1-D"):
        _core.gram_stats([np.ones((10, 1)), a])
    with pytest.raises(ValueError, match="column 1 must be contiguous"):
        _core.gram_stats([a, np.ones(20)[::2]])
    with pytest.raises(TypeError, match="column 1 must be a numpy array"):
        _core.gram_stats([a, [1.0] * 10])
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.gram_stats([np.ones(10, dtype=np.int64)])
