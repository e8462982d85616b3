"""The mixed-design kernels of fastcost._core (dense block + categorical codes)
against float64 numpy references that build the one-hot design explicitly."""

from __future__ import annotations

import fastcost
import numpy as np
import pytest
from fastcost import _core
from fastcost.exceptions import DivergenceError, NonFiniteError


def _problem(n, p, levels, seed=0, dtype=np.float64, order="C", weights=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p) + rng.uniform(-2, 2, p)
    codes = np.array([rng.integers(0, L, n) for L in levels], dtype=np.int32).reshape(
        len(levels), n
    )
    y = X @ rng.standard_normal(p) + 0.5 + 0.1 * rng.standard_normal(n)
    for k, L in enumerate(levels):
        y += rng.standard_normal(L)[codes[k]]
    s = rng.uniform(0.2, 3.0, n).astype(dtype) if weights else None
    X = np.asarray(X, dtype=dtype, order=order)
    return X, codes, np.array(levels, dtype=np.int64), y.astype(dtype), s


def _expand(X, codes, levels, drop):
    """The explicit one-hot design: X's columns, then each categorical's levels."""
    n = X.shape[0]
    blocks = [np.asarray(X, dtype=np.float64)]
    for k, L in enumerate(levels):
        Z = np.zeros((n, L))
        Z[np.arange(n), codes[k]] = 1.0
        blocks.append(Z[:, 1:] if drop[k] else Z)
    return np.hstack(blocks)


def _augmented_gram(E, y, s, shift):
    Z = np.c_[E - shift[:-1], y - shift[-1], np.ones(len(E))]
    return (Z * s[:, None]).T @ Z


def _lstsq(E, y, s, alpha=0.0):
    """Weighted least squares with an unpenalized intercept (ridge closed form for alpha > 0)."""
    s = np.ones(len(y)) if s is None else np.asarray(s, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xm, ym = s @ E / s.sum(), s @ y / s.sum()
    Ec, yc = E - xm, y - ym
    if alpha == 0.0:
        r = np.sqrt(s)
        w = np.linalg.lstsq(Ec * r[:, None], yc * r, rcond=None)[0]
    else:
        A = (Ec * s[:, None]).T @ Ec + alpha * s.sum() * np.eye(E.shape[1])
        w = np.linalg.solve(A, (Ec * s[:, None]).T @ yc)
    return w, ym - xm @ w


def _close(a, b, rtol):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * max(1.0, np.abs(b).max()))


CASES = [  # (p, levels, drop_first)
    (3, [4], [False]),
    (3, [4], [True]),
    (2, [3, 5], [True, False]),
    (4, [2, 6, 3], [False, True, True]),
    (0, [5], [True]),
    (0, [3, 4], [False, True]),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mixed_gram_stats_is_the_one_hot_gram(case, weights, order, dtype):
    p, levels, drop = case
    X, codes, L, y, s = _problem(
        700, p, levels, seed=p + len(levels), dtype=dtype, order=order, weights=weights
    )
    st = _core.mixed_gram_stats(X, codes, L, np.array(drop), y, s)
    E = _expand(X, codes, levels, drop)
    D = E.shape[1]
    shift = np.r_[E[0, :p], np.zeros(D - p), float(y[0])]
    np.testing.assert_array_equal(st["shift"], shift)
    assert st["gram"].shape == (D + 2, D + 2) and st["n_rows"] == 700
    s64 = np.ones(700) if s is None else s.astype(np.float64)
    ref = _augmented_gram(E, y.astype(np.float64), s64, shift)
    rtol = 1e-12 if dtype == np.float64 else 50 * np.finfo(np.float32).eps
    _close(st["gram"], ref, rtol)
    np.testing.assert_array_equal(st["gram"], st["gram"].T)


ISAS = ["baseline", "auto"] + (
    ["avx2"] if fastcost.config_info()["isa_best_supported"] in ("avx2+fma", "avx512f") else []
)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(
    "p, levels, drop",
    [
        (20, [5, 20, 50], [True, False, True]),  # one joint table of 5000 keys
        (3, [100, 90, 2], [False, True, False]),  # 9000 > 8192 keys: two tables and their cross-tab
        (70, [3, 4], [True, False]),  # wider than the register-built rows
    ],
)
@pytest.mark.parametrize("order", ["C", "F"])
def test_mixed_gram_stats_table_layouts(isa, p, levels, drop, order):
    X, codes, L, y, s = _problem(3000, p, levels, seed=len(levels), order=order, weights=True)
    fastcost.set_isa(isa)
    try:
        st = _core.mixed_gram_stats(X, codes, L, np.array(drop), y, s)
        ar = _core.mixed_arrow_stats(X, codes, L, np.array(drop), 0, y, s)
    finally:
        fastcost.set_isa("auto")
    E = _expand(X, codes, levels, drop)
    shift = np.r_[X[0], np.zeros(E.shape[1] - p), y[0]]
    _close(st["gram"], _augmented_gram(E, y, s, shift), 1e-12)
    rest = list(range(1, len(levels)))
    E_rest = _expand(X, codes[rest], [levels[k] for k in rest], np.array(drop)[rest])
    Z = _expand(np.zeros((3000, 0)), codes[[0]], [levels[0]], [drop[0]])
    A = np.c_[E_rest - ar["shift"][:-1], y - ar["shift"][-1], np.ones(3000)]
    _close(ar["cross"], (Z * s[:, None]).T @ A, 1e-12)
    _close(ar["gram"], _augmented_gram(E_rest, y, s, ar["shift"]), 1e-12)


def test_mixed_gram_stats_with_a_caller_shift_and_without_y():
    X, codes, L, y, _ = _problem(300, 2, [3, 4], seed=5)
    drop = np.array([True, False])
    E = _expand(X, codes, [3, 4], drop)
    shift = np.linspace(-1, 1, E.shape[1] + 1)
    st = _core.mixed_gram_stats(X, codes, L, drop, y, None, shift)
    np.testing.assert_array_equal(st["shift"], shift)
    _close(st["gram"], _augmented_gram(E, y, np.ones(300), shift), 1e-12)
    st0 = _core.mixed_gram_stats(X, codes, L, drop)
    _close(
        st0["gram"],
        _augmented_gram(E, np.zeros(300), np.ones(300), np.r_[X[0], np.zeros(6), 0.0]),
        1e-12,
    )


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_without_categoricals_it_is_gram_stats_exactly(weights, order):
    X, codes, L, y, s = _problem(5000, 7, [], seed=3, order=order, weights=weights)
    none = np.zeros((0, 5000), dtype=np.int32)
    a = _core.mixed_gram_stats(X, none, np.zeros(0, np.int64), np.zeros(0, bool), y, s)
    b = _core.gram_stats(X, y, s)
    np.testing.assert_array_equal(a["gram"], b["gram"])
    np.testing.assert_array_equal(a["shift"], b["shift"])
    assert a["n_shards"] == b["n_shards"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("weights", [False, True])
def test_solve_stats_gives_the_one_hot_least_squares(case, weights):
    p, levels, drop = case
    X, codes, L, y, s = _problem(900, p, levels, seed=11, weights=weights)
    st = _core.mixed_gram_stats(X, codes, L, np.array(drop), y, s)
    r = _core.solve_stats(st["gram"], st["shift"], 0.0, True)
    E = _expand(X, codes, levels, drop)
    w, b = _lstsq(E, y, s)
    if all(drop):  # full rank: the unique solution
        assert not r.singular
    # Without drop_first the design is collinear with the intercept: both give
    # the minimum-norm solution of the centered problem.
    _close(r.coef, w, 1e-10)
    _close(r.intercept, b, 1e-10)


@pytest.mark.parametrize(
    "p, levels, drop, arrow",
    [
        (3, [50], [True], 0),
        (3, [50], [False], 0),
        (2, [4, 30, 3], [True, False, True], 1),
        (0, [6, 20], [False, True], 1),
        (2, [7, 5], [True, True], 0),
    ],
)
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_arrow_stats_are_blocks_of_the_one_hot_gram(p, levels, drop, arrow, weights, order):
    X, codes, L, y, s = _problem(800, p, levels, seed=7, order=order, weights=weights)
    drop = np.array(drop)
    st = _core.mixed_arrow_stats(X, codes, L, drop, arrow, y, s)
    rest = [k for k in range(len(levels)) if k != arrow]
    E_rest = _expand(X, codes[rest], [levels[k] for k in rest], drop[rest])
    Z = _expand(np.zeros((800, 0)), codes[[arrow]], [levels[arrow]], drop[[arrow]])
    Dr = E_rest.shape[1]
    shift = np.r_[E_rest[0, :p], np.zeros(Dr - p), y[0]]
    np.testing.assert_array_equal(st["shift"], shift)
    s64 = np.ones(800) if s is None else s
    _close(st["gram"], _augmented_gram(E_rest, y, s64, shift), 1e-12)
    A = np.c_[E_rest - shift[:-1], y - shift[-1], np.ones(800)]
    _close(st["cross"], (Z * s64[:, None]).T @ A, 1e-12)
    assert st["cross"].shape == (levels[arrow] - drop[arrow], Dr + 2)
    # The same blocks as the full Gram of the design with the arrow last.
    order_ = rest + [arrow]
    full = _core.mixed_gram_stats(
        X, np.ascontiguousarray(codes[order_]), L[order_], drop[order_], y, s
    )
    G = full["gram"]
    idx_rest = list(range(Dr)) + [G.shape[0] - 2, G.shape[0] - 1]
    idx_arrow = list(range(Dr, G.shape[0] - 2))
    _close(st["gram"], G[np.ix_(idx_rest, idx_rest)], 1e-12)
    _close(st["cross"], G[np.ix_(idx_arrow, idx_rest)], 1e-12)


def _schur_solution(st):
    """Least squares with an intercept from mixed_arrow_stats, by the Schur
    complement of the arrow's diagonal block: (rest coefficients, then the
    arrow's), intercept. The arrow's levels must all occur (drop_first: the
    reference level's rows are in the intercept)."""
    G, C, c = st["gram"], st["cross"], st["shift"]
    Dr = G.shape[0] - 2
    # Normal equations in [rest (Dr), intercept] about the shift, arrow block diagonal.
    rest_idx = list(range(Dr)) + [Dr + 1]
    A = G[np.ix_(rest_idx, rest_idx)]
    rhs = G[rest_idx, Dr]
    B = C[:, rest_idx]
    counts = C[:, -1]
    rhs_a = C[:, Dr]
    S = A - B.T @ (B / counts[:, None])
    beta = np.linalg.solve(S, rhs - B.T @ (rhs_a / counts))
    w_arrow = (rhs_a - B @ beta) / counts
    coef_rest, b0 = beta[:Dr], beta[Dr]
    return np.r_[coef_rest, w_arrow], b0 + c[Dr] - c[:Dr] @ coef_rest


@pytest.mark.parametrize("weights", [False, True])
def test_schur_complement_of_the_arrow_gives_lstsq(weights):
    p, levels, drop = 3, [40, 4], np.array([True, True])
    X, codes, L, y, s = _problem(1500, p, levels, seed=9, weights=weights)
    coef, intercept = _schur_solution(_core.mixed_arrow_stats(X, codes, L, drop, 0, y, s))
    Dr = p + levels[1] - 1
    w, b = _lstsq(_expand(X, codes, levels, drop), y, s)
    # E's columns: dense, arrow (categorical 0), then categorical 1.
    _close(np.r_[coef[:p], coef[Dr:], coef[p:Dr]], w, 1e-10)
    _close(intercept, b, 1e-10)


def _opts(**kw):
    return _core.FitOptions(**kw)


FIT_CASES = [
    (3, [5, 3], [True, True]),
    (2, [4], [False]),
    (0, [6, 3], [True, False]),
]


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("case", FIT_CASES)
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_lbfgs_and_gd_converge_to_lstsq(solver, case, weights, order):
    p, levels, drop = case
    X, codes, L, y, s = _problem(600, p, levels, seed=21, order=order, weights=weights)
    tol = dict(lbfgs=dict(tol=1e-12, max_iter=5000), gd=dict(tol=1e-12, max_iter=200000))[solver]
    r = _core.fit_mixed(X, codes, L, np.array(drop), y, s, solver, _opts(**tol))
    E = _expand(X, codes, levels, drop)
    w, b = _lstsq(E, y, s)
    assert r.coef.shape == (E.shape[1],)
    _close(r.coef, w, 1e-6)
    _close(r.intercept, b, 1e-6)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_ridge_matches_the_closed_form_on_the_expanded_design(solver):
    X, codes, L, y, s = _problem(500, 3, [5, 4], seed=4, weights=True)
    drop = np.array([False, True])
    r = _core.fit_mixed(
        X, codes, L, drop, y, s, solver, _opts(alpha=0.3, tol=1e-12, max_iter=100000)
    )
    w, b = _lstsq(_expand(X, codes, [5, 4], drop), y, s, alpha=0.3)
    _close(r.coef, w, 1e-6)
    _close(r.intercept, b, 1e-6)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_standardize_scales_the_dense_block_only(solver, alpha):
    X, codes, L, y, s = _problem(500, 3, [4, 3], seed=6, weights=True)
    drop = np.array([True, True])  # full rank: the dense reference's lbfgs needs it
    E = _expand(X, codes, [4, 3], drop)
    m = _core.column_moments(X, s)
    sigma = np.r_[m["scale"], np.ones(E.shape[1] - 3)]
    opts = dict(alpha=alpha, tol=1e-12, max_iter=100000)
    r = _core.fit_mixed(X, codes, L, drop, y, s, solver, _opts(standardize=True, **opts))
    # The same fit on a dense matrix whose dense columns are scaled, one-hot columns not.
    ref = _core.fit(np.ascontiguousarray(E / sigma), y, s, solver, _opts(**opts))
    _close(r.coef, ref.coef / sigma, 1e-6)
    _close(r.intercept, ref.intercept, 1e-6)


def test_noise_var_and_frozen_act_on_the_dense_columns():
    X, codes, L, y, s = _problem(500, 3, [4], seed=8)
    drop = np.array([True])
    E = _expand(X, codes, [4], drop)
    D = E.shape[1]
    frozen = np.zeros(D)
    frozen[1] = 1
    r = _core.fit_mixed(
        X,
        codes,
        L,
        drop,
        y,
        None,
        "lbfgs",
        _opts(noise_var=0.5, alpha=0.01, frozen=frozen, tol=1e-12, max_iter=5000),
    )
    # Reference: ridge with per-column penalty alpha + noise_var on the dense columns (sigma = 1).
    lam = np.r_[np.full(3, 0.51), np.full(D - 3, 0.01)]
    keep = frozen == 0
    Ek = E[:, keep]
    xm, ym = Ek.mean(0), y.mean()
    A = (Ek - xm).T @ (Ek - xm) + 500 * np.diag(lam[keep])
    wk = np.linalg.solve(A, (Ek - xm).T @ (y - ym))
    w = np.zeros(D)
    w[keep] = wk
    _close(r.coef, w, 1e-6)
    _close(r.intercept, ym - xm @ wk, 1e-6)


@pytest.mark.parametrize("solver", ["lbfgs", "gd", "sgd"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_without_categoricals_fit_mixed_is_fit_exactly(solver, weights, order):
    X, _, _, y, s = _problem(3000, 6, [], seed=2, order=order, weights=weights)
    none = np.zeros((0, 3000), dtype=np.int32)
    for kw in [
        dict(),
        dict(standardize=True, alpha=0.1),
        dict(coef_init=np.ones(6), intercept_init=0.5),
    ]:
        opts = dict(tol=1e-8, max_iter=50 if solver != "sgd" else 3, seed=1, batch_size=64, **kw)
        a = _core.fit_mixed(
            X, none, np.zeros(0, np.int64), np.zeros(0, bool), y, s, solver, _opts(**opts)
        )
        b = _core.fit(X, y, s, solver, _opts(**opts))
        np.testing.assert_array_equal(a.coef, b.coef)
        assert a.intercept == b.intercept and a.n_iter == b.n_iter and a.n_passes == b.n_passes
        np.testing.assert_array_equal(a.loss_history, b.loss_history)


@pytest.mark.parametrize("alpha", [0.0, 0.05])
@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_sgd_is_sgd_on_the_explicit_one_hot_matrix(alpha, batch, weights, order):
    # batch 1 with many levels takes the lazy decay, batch 32 the eager one.
    levels, drop = [60, 3], np.array([True, False])
    X, codes, L, y, s = _problem(400, 3, levels, seed=12, order=order, weights=weights)
    E = np.asarray(_expand(X, codes, levels, drop), order=order)
    init = np.random.default_rng(0).uniform(-0.1, 0.1, E.shape[1])
    opts = dict(
        alpha=alpha,
        batch_size=batch,
        learning_rate=0.02,
        max_iter=4,
        seed=7,
        coef_init=init,
        intercept_init=0.3,
    )
    a = _core.fit_mixed(X, codes, L, drop, y, s, "sgd", _opts(**opts))
    b = _core.fit(E, y, s, "sgd", _opts(**opts))
    _close(a.coef, b.coef, 1e-10)
    _close(a.intercept, b.intercept, 1e-10)
    _close(a.loss_history, b.loss_history, 1e-10)
    assert a.n_iter == 4 and a.n_passes == b.n_passes


@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_sgd_standardizes_the_dense_block_on_the_fly(alpha):
    levels, drop = [5, 4], np.array([False, True])
    X, codes, L, y, s = _problem(300, 3, levels, seed=13, weights=True)
    m = _core.column_moments(X, s)
    mu, sigma = m["mean"], m["scale"]
    E = _expand((X - mu) / sigma, codes, levels, drop)
    v0 = np.random.default_rng(1).uniform(-0.1, 0.1, E.shape[1])
    opts = dict(
        alpha=alpha,
        batch_size=16,
        learning_rate=0.02,
        max_iter=3,
        seed=3,
        coef_init=v0,
        intercept_init=0.1,
    )
    a = _core.fit_mixed(
        X, codes, L, drop, y, s, "sgd", _opts(standardize=True, init_standardized=True, **opts)
    )
    b = _core.fit(E, y, s, "sgd", _opts(**opts))
    sig = np.r_[sigma, np.ones(E.shape[1] - 3)]
    w = b.coef / sig
    _close(a.coef, w, 1e-10)
    _close(a.intercept, b.intercept - mu @ w[:3], 1e-10)
    _close(a.loss_history, b.loss_history, 1e-10)


def test_bad_codes_name_the_categorical_and_the_row():
    X, codes, L, y, _ = _problem(100, 2, [3, 4], seed=1)
    drop = np.array([False, False])
    bad = codes.copy()
    bad[1, 37] = 4
    with pytest.raises(ValueError, match="categorical 1, row 37"):
        _core.mixed_gram_stats(X, bad, L, drop, y)
    bad = codes.copy()
    bad[0, 5] = -1
    with pytest.raises(ValueError, match="categorical 0, row 5"):
        _core.mixed_arrow_stats(X, bad, L, drop, 1, y)
    for solver in ["lbfgs", "gd", "sgd"]:
        with pytest.raises(ValueError, match="categorical 0, row 5"):
            _core.fit_mixed(X, bad, L, drop, y, None, solver, _opts())
    with pytest.raises(TypeError, match="int32"):
        _core.mixed_gram_stats(X, codes.astype(np.int64), L, drop, y)
    with pytest.raises(ValueError, match="rows"):
        _core.mixed_gram_stats(X, codes[:, :50], L, drop, y)
    with pytest.raises(ValueError, match="coef_init"):
        _core.fit_mixed(X, codes, L, drop, y, None, "lbfgs", _opts(coef_init=np.zeros(2)))


def test_non_finite_data_raises_non_finite_error():
    X, codes, L, y, _ = _problem(200, 2, [3], seed=1)
    drop = np.array([True])
    Xn = X.copy()
    Xn[17, 1] = np.nan
    yn = y.copy()
    yn[3] = np.inf
    for A, b in [(Xn, y), (X, yn)]:
        with pytest.raises(NonFiniteError):
            _core.mixed_gram_stats(A, codes, L, drop, b)
        with pytest.raises(NonFiniteError):
            _core.mixed_arrow_stats(A, codes, L, drop, 0, b)
        for solver in ["lbfgs", "gd"]:
            with pytest.raises(NonFiniteError):
                _core.fit_mixed(A, codes, L, drop, b, None, solver, _opts())
        # sgd's loss stops being finite, as _core.fit's sgd reports it.
        with pytest.raises(DivergenceError):
            _core.fit(A, b, None, "sgd", _opts())
        with pytest.raises(DivergenceError):
            _core.fit_mixed(A, codes, L, drop, b, None, "sgd", _opts())


@pytest.mark.parametrize("order", ["C", "F"])
def test_results_do_not_depend_on_the_thread_count(order):
    X, codes, L, y, s = _problem(20000, 5, [7, 300], seed=3, order=order, weights=True)
    drop = np.array([True, False])
    a = _core.mixed_gram_stats(X, codes, L, drop, y, s, None, 6, 1)
    b = _core.mixed_gram_stats(X, codes, L, drop, y, s, None, 6, 2)
    np.testing.assert_array_equal(a["gram"], b["gram"])
    a = _core.mixed_arrow_stats(X, codes, L, drop, 1, y, s, None, 5, 1)
    b = _core.mixed_arrow_stats(X, codes, L, drop, 1, y, s, None, 5, 2)
    np.testing.assert_array_equal(a["gram"], b["gram"])
    np.testing.assert_array_equal(a["cross"], b["cross"])
    for solver in ["lbfgs", "gd"]:
        opts = dict(n_shards=6, tol=1e-8, max_iter=30)
        a = _core.fit_mixed(X, codes, L, drop, y, s, solver, _opts(n_threads=1, **opts))
        b = _core.fit_mixed(X, codes, L, drop, y, s, solver, _opts(n_threads=2, **opts))
        np.testing.assert_array_equal(a.coef, b.coef)
        assert a.intercept == b.intercept


def test_lbfgs_declines_the_sample_of_a_wide_design():
    # 2 n / D >= 8 (D + 2) rows would be sampled for D = 30; a wide design (D > 2000)
    # never takes the sample, and still converges from zero.
    X, codes, L, y, _ = _problem(40000, 2, [28], seed=5)
    r = _core.fit_mixed(X, codes, L, np.array([True]), y, None, "lbfgs", _opts(tol=1e-10))
    assert "sampled rows" in r.notes
    w, b = _lstsq(_expand(X, codes, [28], [True]), y, None)
    _close(r.coef, w, 1e-6)
    # Collinear by construction (no drop_first, an intercept): no sample either.
    r = _core.fit_mixed(X, codes, L, np.array([False]), y, None, "lbfgs", _opts(tol=1e-10))
    assert "sampled rows" not in r.notes and "preconditioned" not in r.notes
    w, b = _lstsq(_expand(X, codes, [28], [False]), y, None)
    _close(r.coef, w, 1e-6)
    X, codes, L, y, _ = _problem(6000, 2, [2500], seed=5)
    codes[0] = np.random.default_rng(0).permutation(np.arange(6000) % 2500)  # every level occurs
    drop = np.array([True])
    r = _core.fit_mixed(X, codes, L, drop, y, None, "lbfgs", _opts(tol=1e-10, max_iter=3000))
    assert "sampled rows" not in r.notes and r.converged
    w, b = _schur_solution(_core.mixed_arrow_stats(X, codes, L, drop, 0, y))
    _close(r.coef, np.r_[w[:2], w[2:]], 1e-6)
    _close(r.intercept, b, 1e-6)


@pytest.mark.parametrize("dtype", [np.float32])
def test_float32_fits_agree_with_float64(dtype):
    X, codes, L, y, s = _problem(2000, 3, [5, 4], seed=14, dtype=dtype, weights=True)
    drop = np.array([True, True])
    w, b = _lstsq(_expand(X, codes, [5, 4], drop), y, s)
    for solver in ["lbfgs", "gd"]:
        r = _core.fit_mixed(X, codes, L, drop, y, s, solver, _opts(tol=1e-7, max_iter=100000))
        _close(r.coef, w, 2e-3)
