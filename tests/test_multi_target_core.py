"""Multi-target one-pass statistics of fastcost._core (gram_stats, tsqr_stats,
tsqr_merge, reshift_stats with a 2-D y) against float64 numpy references and
against the one-target kernels."""

from __future__ import annotations

import fastcost
import numpy as np
import pytest
from fastcost import _core

ISAS = ["baseline", "auto"] + (
    ["avx2"] if fastcost.config_info()["isa_best_supported"] in ("avx2+fma", "avx512f") else []
)


def _problem(n, d, k, dtype=np.float64, order_x="C", order_y="C", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-2, 2, d)
    Y = X @ rng.standard_normal((d, k)) + rng.uniform(-3, 3, k) + 0.3 * rng.standard_normal((n, k))
    s = rng.uniform(0.2, 3.0, n)
    X = np.asarray(X, dtype=dtype, order=order_x)
    Y = np.asarray(Y, dtype=dtype, order=order_y)
    return X, Y, s.astype(dtype)


def _gram_ref(X, Y, s, shift):
    """float64 Gram of [x - c, y - c_y, 1] (gram_stats' column order)."""
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    s = np.ones(len(X)) if s is None else s.astype(np.float64)
    d = X.shape[1]
    Z = np.c_[X - shift[:d], Y - shift[d:], np.ones(len(X))]
    return (Z * s[:, None]).T @ Z


def _qr_gram_ref(X, Y, s, shift):
    """float64 Gram of [1, x - c, y - c_y] (tsqr_stats' column order)."""
    G = _gram_ref(X, Y, s, shift)
    order = np.r_[G.shape[0] - 1, np.arange(G.shape[0] - 1)]
    return G[np.ix_(order, order)]


def _tol(dtype, ref):
    return (1e-12 if dtype == np.float64 else 50 * np.finfo(np.float32).eps) * np.abs(ref).max()


def _target_block(d, k, t):
    """Indices of target t's (d + 2) block in a gram_stats Gram of k targets."""
    return np.r_[np.arange(d), d + t, d + k]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order_x", ["C", "F"])
@pytest.mark.parametrize("order_y", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("given_shift", [False, True])
@pytest.mark.parametrize("k", [1, 2, 7])
@pytest.mark.parametrize("d", [5, 30])
def test_gram_matches_numpy(dtype, order_x, order_y, weighted, given_shift, k, d):
    X, Y, s = _problem(1500, d, k, dtype, order_x, order_y)
    sw = s if weighted else None
    shift = np.r_[X.mean(0), Y.mean(0)].astype(np.float64) if given_shift else None
    st = _core.gram_stats(X, Y, sw, shift)
    want_shift = shift if given_shift else np.r_[X[0], Y[0]].astype(np.float64)
    np.testing.assert_array_equal(st["shift"], want_shift)
    assert st["gram"].shape == (d + k + 1, d + k + 1)
    assert st["n_targets"] == k and st["n_rows"] == 1500
    ref = _gram_ref(X, Y, sw, want_shift)
    np.testing.assert_allclose(st["gram"], ref, rtol=0, atol=_tol(dtype, ref))
    np.testing.assert_array_equal(st["gram"], st["gram"].T)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_every_isa(isa, dtype):
    X, Y, s = _problem(900, 29, 4, dtype, "C", "F", seed=1)  # width 34: the wide tile on AVX-512
    fastcost.set_isa(isa)
    try:
        st = _core.gram_stats(X, Y, s)
    finally:
        fastcost.set_isa("auto")
    ref = _gram_ref(X, Y, s, st["shift"])
    np.testing.assert_allclose(st["gram"], ref, rtol=0, atol=_tol(dtype, ref))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order_y", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [2, 7])
@pytest.mark.parametrize("n_shards", [0, 3])
def test_gram_target_block_equals_one_target_pass(dtype, order_y, weighted, k, n_shards):
    d = 12
    X, Y, s = _problem(2500, d, k, dtype, "C", order_y, seed=2)
    sw = s if weighted else None
    st = _core.gram_stats(X, Y, sw, None, n_shards)
    for t in range(k):
        one = _core.gram_stats(X, np.ascontiguousarray(Y[:, t]), sw, None, n_shards)
        np.testing.assert_array_equal(one["shift"], st["shift"][np.r_[np.arange(d), d + t]])
        block = st["gram"][np.ix_(_target_block(d, k, t), _target_block(d, k, t))]
        if n_shards or dtype == np.float64:
            # Same shards: each entry is the same sums in the same order.
            np.testing.assert_allclose(block, one["gram"], rtol=1e-12, atol=0)
        else:  # float32 with default shards: the shard count follows the width
            np.testing.assert_allclose(block, one["gram"], rtol=0, atol=_tol(dtype, one["gram"]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_one_d_y_is_bitwise_a_one_column_y(dtype, weighted):
    X, Y, s = _problem(3000, 9, 3, dtype, seed=3)
    sw = s if weighted else None
    y = np.ascontiguousarray(Y[:, 0])
    for order in "CF":
        col = np.asarray(Y[:, :1], order=order)
        a, b = _core.gram_stats(X, y, sw), _core.gram_stats(X, col, sw)
        np.testing.assert_array_equal(a["gram"], b["gram"])
        np.testing.assert_array_equal(a["shift"], b["shift"])
        assert a["n_targets"] == b["n_targets"] == 1
        qa, qb = _core.tsqr_stats(X, y, sw), _core.tsqr_stats(X, col, sw)
        np.testing.assert_array_equal(qa["r"], qb["r"])
        assert qa["n_targets"] == qb["n_targets"] == 1
    # Where the shards agree, target 0's leading blocks of k targets are y's exactly:
    # gram's [x, y_0, 1] block and R's leading (d + 2) square.
    full = _core.gram_stats(X, Y, sw, None, 4)
    idx = _target_block(9, 3, 0)
    np.testing.assert_array_equal(
        full["gram"][np.ix_(idx, idx)], _core.gram_stats(X, y, sw, None, 4)["gram"]
    )
    r = _core.tsqr_stats(X, Y, sw, None, 4)["r"]
    np.testing.assert_array_equal(r[:11, :11], _core.tsqr_stats(X, y, sw, None, 4)["r"])


def test_no_targets_and_empty_rows():
    X, Y, _ = _problem(200, 4, 3)
    st = _core.gram_stats(X)
    assert st["n_targets"] == 1 and st["gram"].shape == (6, 6)
    empty = _core.gram_stats(X[:0], Y[:0])
    assert empty["n_targets"] == 3 and empty["n_rows"] == 0
    np.testing.assert_array_equal(empty["gram"], np.zeros((8, 8)))
    np.testing.assert_array_equal(empty["shift"], np.zeros(7))
    q = _core.tsqr_stats(X[:0], Y[:0])
    assert q["n_targets"] == 3 and q["r"].shape == (8, 8)


def test_strided_targets_are_read_in_place():
    X, Y, s = _problem(700, 6, 5, seed=4)
    for view in (Y[:, 1:4], np.asfortranarray(Y)[:, 1:4], Y[100:400, :3]):
        Xv = X[100:400] if len(view) == 300 else X
        sv = s[: len(view)]
        st = _core.gram_stats(Xv, view, sv)
        ref = _gram_ref(Xv, view, sv, st["shift"])
        np.testing.assert_allclose(st["gram"], ref, rtol=0, atol=_tol(np.float64, ref))


@pytest.mark.parametrize("k", [2, 7])
def test_sharded_results_do_not_depend_on_threads(k):
    X, Y, s = _problem(20000, 10, k, seed=5)
    a = _core.gram_stats(X, Y, s, None, 8, 1)
    b = _core.gram_stats(X, Y, s, None, 8, 2)
    np.testing.assert_array_equal(a["gram"], b["gram"])
    qa = _core.tsqr_stats(X, Y, s, None, 8, 1)
    qb = _core.tsqr_stats(X, Y, s, None, 8, 2)
    np.testing.assert_array_equal(qa["r"], qb["r"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order_x", ["C", "F"])
@pytest.mark.parametrize("order_y", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("given_shift", [False, True])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_tsqr_r_matches_gram(dtype, order_x, order_y, weighted, given_shift, k):
    d = 8
    X, Y, s = _problem(1200, d, k, dtype, order_x, order_y, seed=6)
    sw = s if weighted else None
    shift = np.r_[X.mean(0), Y.mean(0)].astype(np.float64) if given_shift else None
    st = _core.tsqr_stats(X, Y, sw, shift)
    p = d + k + 1
    assert st["r"].shape == (p, p) and st["n_targets"] == k
    assert st["n_nonzero"] == 1200 and st["n_rows"] == 1200
    np.testing.assert_array_equal(np.tril(st["r"], -1), 0.0)
    ref = _qr_gram_ref(X, Y, sw, st["shift"])
    np.testing.assert_allclose(st["r"].T @ st["r"], ref, rtol=0, atol=_tol(dtype, ref))


@pytest.mark.skipif(not _core.EXTENDED_IS_WIDER, reason="long double is double here")
@pytest.mark.parametrize("k", [2, 7])
def test_tsqr_extended_matches_gram(k):
    X, Y, s = _problem(800, 6, k, seed=7)
    st = _core.tsqr_stats(X, Y, s, precision="extended")
    r = st["r"].astype(np.longdouble) + st["r_lo"]
    ref = _qr_gram_ref(X, Y, s, st["shift"])
    np.testing.assert_allclose(
        np.asarray(r.T @ r, dtype=np.float64), ref, rtol=0, atol=_tol(np.float64, ref)
    )
    Xl, Yl = X.astype(np.longdouble), Y.astype(np.longdouble)
    wide = _core.tsqr_stats(Xl, Yl, s.astype(np.longdouble), precision="extended")
    assert wide["n_targets"] == k
    rl = wide["r"].astype(np.longdouble) + wide["r_lo"]
    np.testing.assert_allclose(
        np.asarray(rl.T @ rl, dtype=np.float64), ref, rtol=0, atol=_tol(np.float64, ref)
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("precision", ["double", "extended"])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_tsqr_merge_of_halves_equals_the_whole(dtype, precision, k):
    X, Y, s = _problem(3000, 7, k, dtype, "C", "F", seed=8)
    whole = _core.tsqr_stats(X, Y, s, precision=precision)
    a = _core.tsqr_stats(X[:1100], Y[:1100], s[:1100], precision=precision)
    b = _core.tsqr_stats(X[1100:], Y[1100:], s[1100:], precision=precision)  # its own shift
    merged = _core.tsqr_merge(a, b)
    assert merged["n_targets"] == k and merged["n_rows"] == 3000 and merged["n_nonzero"] == 3000
    np.testing.assert_array_equal(merged["shift"], whole["shift"])
    ref = _qr_gram_ref(X, Y, s, whole["shift"])
    tol = 1e-12 * np.abs(ref).max()
    np.testing.assert_allclose(
        merged["r"].T @ merged["r"], whole["r"].T @ whole["r"], rtol=0, atol=tol
    )
    np.testing.assert_allclose(merged["r"].T @ merged["r"], ref, rtol=0, atol=_tol(dtype, ref))


@pytest.mark.parametrize("k", [1, 2, 7])
def test_reshift_equals_recomputation(k):
    d = 6
    X, Y, s = _problem(2000, d, k, seed=9)
    st = _core.gram_stats(X, Y, s)
    new_shift = np.r_[X.mean(0), Y.mean(0)]
    moved = _core.reshift_stats(st["gram"], st["shift"], new_shift)
    again = _core.gram_stats(X, Y, s, new_shift)
    np.testing.assert_allclose(
        moved, again["gram"], rtol=0, atol=1e-12 * np.abs(again["gram"]).max()
    )
    # Chunks about different shifts add up once moved to one.
    a = _core.gram_stats(X[:800], Y[:800], s[:800])
    b = _core.gram_stats(X[800:], Y[800:], s[800:])
    total = a["gram"] + _core.reshift_stats(b["gram"], b["shift"], a["shift"])
    np.testing.assert_allclose(total, st["gram"], rtol=0, atol=1e-12 * np.abs(st["gram"]).max())


@pytest.mark.parametrize("func", [_core.gram_stats, _core.tsqr_stats])
def test_bad_targets_raise_clear_errors(func):
    X, Y, _ = _problem(50, 3, 2)
    with pytest.raises(ValueError, match="y has 49 rows, expected 50"):
        func(X, Y[:49])
    with pytest.raises(ValueError, match="y has 49 entries, expected 50"):
        func(X, np.ascontiguousarray(Y[:49, 0]))
    with pytest.raises(ValueError, match="at least one target"):
        func(X, np.empty((50, 0)))
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        func(X, np.zeros((50, 2, 1)))
    with pytest.raises(TypeError, match="same float dtype as X"):
        func(X, Y.astype(np.float32))
    with pytest.raises(TypeError, match="same float dtype as X"):
        func(X, Y.astype(np.int64))
    with pytest.raises(ValueError, match="shift must be a 1-D array of length 5"):
        func(X, Y, None, np.zeros(4))
    with pytest.raises(ValueError, match="unit stride"):
        func(X, np.zeros((50, 4))[:, ::2])


def test_merge_rejects_different_target_counts():
    X, Y, _ = _problem(100, 3, 2)
    a = _core.tsqr_stats(X, Y)
    b = _core.tsqr_stats(X, np.ascontiguousarray(Y[:, 0]))
    with pytest.raises(
        ValueError, match="different target counts|different feature counts|wrong size"
    ):
        _core.tsqr_merge(a, b)
    c = _core.tsqr_stats(X[:, :2], np.c_[X[:, 2], Y])  # also 6 x 6, one feature fewer
    with pytest.raises(ValueError, match="different feature counts"):
        _core.tsqr_merge(a, c)
    with pytest.raises(ValueError, match="r must be a square"):
        _core.tsqr_merge({**a, "n_targets": 6}, a)
