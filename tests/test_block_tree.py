"""The rows' block tree (cpp/include/fastcost/block_tree.hpp): the iterative
solvers' sums have the same bits however the rows are split (shards, threads,
Dask chunks), and agree with float64 numpy."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost import _core
from helpers import make_problem

NB = _core.TREE_BLOCK_ROWS


def _bits(out):
    return b"".join(np.asarray(out[k]).tobytes() for k in ("sum_w", "sum_ux", "sum_u", "sum_uu"))


def _probes(d, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal(d), 0.5, True),
        (rng.standard_normal(d), -1.0, False),
        (None, 1.0, False),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_probe_sums_are_the_same_bits_for_any_shard_and_thread_count(dtype, order):
    X, y, s = make_problem(5 * NB + 77, 13, seed=5, dtype=dtype, weights=True)
    X = np.asarray(X, order=order)
    spec = _probes(13)
    ref = _bits(_core.probe_sums(X, y, spec, s, n_shards=1, n_threads=1))
    for shards in (2, 3, 6, 64):
        for threads in (1, 2):
            assert _bits(_core.probe_sums(X, y, spec, s, n_shards=shards, n_threads=threads)) == ref
    # and they are the sums: float64 numpy on the same values
    X64, y64, s64 = (a.astype(np.float64) for a in (X, y, s))
    out = _core.probe_sums(X, y, spec, s)
    u = X64 @ spec[0][0].astype(dtype).astype(np.float64) + 0.5 - y64
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    bound = rtol * (np.abs(u * s64) @ np.abs(X64))
    assert np.all(np.abs(out["sum_ux"][0] - (u * s64) @ X64) <= bound)
    assert out["sum_uu"][0, 0] == pytest.approx((u * u) @ s64, rel=rtol)


def _cuts(n, rng, k):
    """k - 1 random cuts of [0, n) at block boundaries."""
    inner = rng.choice(np.arange(1, -(-n // NB)), size=k - 1, replace=False) * NB
    return [0, *sorted(int(c) for c in inner), n]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", [False, True])
def test_block_sums_of_any_split_merge_to_the_whole(dtype, weights):
    n, d = 23 * NB + 5, 9
    X, y, s = make_problem(n, d, seed=11, dtype=dtype, weights=weights)
    spec = _probes(d, seed=3)
    whole = _core.probe_sums(X, y, spec, s)
    rng = np.random.default_rng(0)
    for k in (2, 3, 7, 23):
        cuts = _cuts(n, rng, k)
        parts = [
            _core.probe_nodes(
                X[a:b], y[a:b], spec, None if s is None else s[a:b], first_block=a // NB
            )
            for a, b in zip(cuts, cuts[1:], strict=False)
        ]
        left = _core.merge_block_nodes(parts)
        # merged in another grouping (as Dask's reduction tree may): the same nodes
        mid = len(parts) // 2
        grouped = _core.merge_block_nodes(
            [_core.merge_block_nodes(parts[:mid]), None, _core.merge_block_nodes(parts[mid:])]
        )
        for key in ("levels", "starts", "values"):
            np.testing.assert_array_equal(grouped[key], left[key])
        assert _bits(_core.probe_sums_from_nodes(left, spec, d)) == _bits(whole), cuts
        totals = _core.merge_block_nodes(
            [
                _core.totals_nodes(y[a:b], None if s is None else s[a:b], a // NB)
                for a, b in zip(cuts, cuts[1:], strict=False)
            ]  # fmt: skip
        )
        got = _core.block_nodes_total(totals)
        assert got.tobytes() == _core.block_nodes_total(_core.totals_nodes(y, s, 0)).tobytes()
    s64 = np.ones(n) if s is None else s.astype(np.float64)
    sum_w, sum_wy = _core.block_nodes_total(_core.totals_nodes(y, s, 0))
    assert sum_w == (n if s is None else pytest.approx(s64.sum(), rel=1e-12))
    assert sum_wy == pytest.approx(
        s64 @ y.astype(np.float64), rel=1e-12 if dtype == np.float64 else 1e-5
    )


def test_the_tree_is_canonical():
    # 7 blocks: nodes of 4, 2 and 1 blocks, whatever the order of the pushes' runs.
    y = np.arange(7 * NB, dtype=np.float64)
    nodes = _core.totals_nodes(y, None, 0)
    assert nodes["levels"].tolist() == [2, 1, 0] and nodes["starts"].tolist() == [0, 4, 6]
    # a run that starts at block 3: block 3 alone, then blocks 4-5, then 6
    tail = _core.totals_nodes(y[3 * NB :], None, 3)
    assert tail["levels"].tolist() == [0, 1, 0] and tail["starts"].tolist() == [3, 4, 6]
    head = _core.totals_nodes(y[: 3 * NB], None, 0)
    merged = _core.merge_block_nodes([head, tail])
    for key in ("levels", "starts", "values"):
        np.testing.assert_array_equal(merged[key], nodes[key])


def test_malformed_block_sums_are_refused():
    y = np.ones(3 * NB)
    a, b = _core.totals_nodes(y[:NB], None, 0), _core.totals_nodes(y[NB:], None, 2)
    with pytest.raises(ValueError, match="contiguous"):
        _core.merge_block_nodes([a, b])  # block 1 is missing
    with pytest.raises(ValueError, match="contiguous"):
        _core.merge_block_nodes([_core.totals_nodes(y, None, 0), a])  # out of order
    bad = dict(_core.totals_nodes(y[:NB], None, 1))
    bad["levels"] = np.array([1])
    with pytest.raises(ValueError, match="aligned"):
        _core.merge_block_nodes([bad])
    with pytest.raises(ValueError, match="widths"):
        _core.merge_block_nodes(
            [a, _core.probe_nodes(np.ones((NB, 2)), y[:NB], [(None, 1.0, False)], None, 1)]
        )
    with pytest.raises(ValueError, match="not None"):
        _core.merge_block_nodes([None])
    for level in (-1, 57, 2**32, 2**40):  # out of range, not read modulo 2**32
        huge = dict(a, levels=np.array([level]))
        with pytest.raises(ValueError, match="out of range"):
            _core.merge_block_nodes([huge])
    with pytest.raises(ValueError, match="out of range"):
        _core.merge_block_nodes([dict(a, starts=np.array([2**60]))])
    with pytest.raises(TypeError, match="integer"):
        _core.merge_block_nodes([dict(a, levels=np.array([0.7]))])
    with pytest.raises(ValueError, match=r"2\*\*56"):
        _core.totals_nodes(y, None, 2**56)
    # moments nodes hold 2 d + 1 values: anything else is refused, never read past
    for width in (0, 4):
        nodes = {"levels": np.array([0]), "starts": np.array([0]), "values": np.ones((1, width))}
        with pytest.raises(ValueError, match=r"2 d \+ 1"):
            _core.moments_from_nodes(nodes, np.zeros(width // 2))
        with pytest.raises(ValueError, match=r"2 d \+ 1"):
            _core.merge_block_nodes([nodes], "moments")
    with pytest.raises(ValueError, match="first_block"):
        _core.totals_nodes(y, None, -1)
    with pytest.raises(ValueError, match="another width"):
        _core.probe_sums_from_nodes(a, [(None, 1.0, False)], 4)


def test_weighted_row_mean_is_the_weighted_mean():
    X, _, s = make_problem(500, 6, seed=2, weights=True)
    np.testing.assert_allclose(_core.weighted_row_mean(X, s), s @ X / s.sum(), rtol=1e-13)
    np.testing.assert_allclose(
        _core.weighted_row_mean(X, np.zeros(500)), X.mean(axis=0), rtol=1e-13
    )
    np.testing.assert_allclose(_core.weighted_row_mean(X, None), X.mean(axis=0), rtol=1e-13)
    with pytest.raises(ValueError, match="empty"):
        _core.weighted_row_mean(np.ones((0, 3)), None)


@pytest.mark.parametrize("weights", [False, True])
def test_column_moments_merge_the_same_for_any_split(weights):
    n, d = 9 * NB + 31, 5
    X, _, s = make_problem(n, d, seed=8, weights=weights)
    X = X * np.logspace(-3, 3, d) + 1e6  # large means, small spreads
    whole = _core.column_moments(X, s, 1, 1)
    for shards, threads in ((2, 2), (5, 1), (64, 2)):
        other = _core.column_moments(X, s, shards, threads)
        assert other["mean"].tobytes() == whole["mean"].tobytes()
        assert other["m2"].tobytes() == whole["m2"].tobytes()
    shift = X[0]
    rng = np.random.default_rng(1)
    for k in (2, 4, 9):
        cuts = _cuts(n, rng, k)
        parts = [
            _core.moments_nodes(X[a:b], None if s is None else s[a:b], shift, a // NB)
            for a, b in zip(cuts, cuts[1:], strict=False)
        ]
        got = _core.moments_from_nodes(_core.merge_block_nodes(parts, "moments"), shift)
        assert got["mean"].tobytes() == whole["mean"].tobytes()
        assert got["m2"].tobytes() == whole["m2"].tobytes()
        assert got["sum_weights"] == whole["sum_weights"]
    s64 = np.ones(n) if s is None else s
    mean = s64 @ X / s64.sum()
    np.testing.assert_allclose(whole["mean"], mean, rtol=1e-14)
    np.testing.assert_allclose(whole["m2"], s64 @ (X - mean) ** 2, rtol=1e-9)
    with pytest.raises(ValueError, match="kind"):
        _core.merge_block_nodes(parts, "product")
