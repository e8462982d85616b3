"""Non-negative least squares from the one-pass Gram (fastcost._nnls) against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost._nnls import nnls_from_gram
from scipy.optimize import nnls

RTOL = 1e-10


def make_gram(X: np.ndarray, Y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """G = sum_i s_i z_i z_i' with z_i = [x_i - c, y_i - c_y, 1], c = X[0], c_y = Y[0]."""
    Y = Y.reshape(len(Y), -1)
    c, c_y = X[0], Y[0]
    Z = np.hstack([X - c, Y - c_y, np.ones((len(X), 1))])
    return (Z * s[:, None]).T @ Z, np.concatenate([c, c_y])


def design(
    X: np.ndarray, y: np.ndarray, s: np.ndarray, alpha: float, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The ordinary least-squares problem ``||A w - b||^2`` equivalent to the model.

    Returns A, b and the weighted means of X and y (zeros without an intercept).
    """
    sw = s / s.sum()
    mx = sw @ X if fit_intercept else np.zeros(X.shape[1])
    my = float(sw @ y) if fit_intercept else 0.0
    root = np.sqrt(sw)
    A = (X - mx) * root[:, None]
    b = (y - my) * root
    if alpha > 0:
        A = np.vstack([A, np.sqrt(alpha) * np.eye(X.shape[1])])
        b = np.concatenate([b, np.zeros(X.shape[1])])
    return A, b, mx, my


def reference(
    X: np.ndarray, y: np.ndarray, s: np.ndarray, alpha: float, fit_intercept: bool
) -> tuple[np.ndarray, float]:
    A, b, mx, my = design(X, y, s, alpha, fit_intercept)
    w, _ = nnls(A, b, maxiter=50 * X.shape[1])
    return w, my - mx @ w


def objective(
    X: np.ndarray, y: np.ndarray, s: np.ndarray, alpha: float, w: np.ndarray, b0: float
) -> float:
    r = X @ w + b0 - y
    return float(s @ r**2 / s.sum() + alpha * w @ w)


def data(
    seed: int, n: int = 200, d: int = 8, k: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offset features (so that the shift matters), mixed-sign true coefficients."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.uniform(-5, 5, size=d)
    W = rng.normal(size=(d, k))
    Y = X @ W + 0.3 * rng.normal(size=(n, k)) + 2.0
    s = rng.uniform(0.2, 3.0, size=n)
    return X, Y[:, 0] if k == 1 else Y, s


def assert_close(actual: np.ndarray, expected: np.ndarray | float, rtol: float = RTOL) -> None:
    expected = np.atleast_1d(np.asarray(expected, dtype=float))
    atol = rtol * max(float(np.max(np.abs(expected))), 1.0)
    np.testing.assert_allclose(np.atleast_1d(actual), expected, rtol=rtol, atol=atol)


def check_against_scipy(
    X: np.ndarray, y: np.ndarray, s: np.ndarray, alpha: float, fit_intercept: bool
) -> dict:
    G, shift = make_gram(X, y, s)
    coef, intercept, info = nnls_from_gram(G, shift, alpha, fit_intercept)
    w, b0 = reference(X, y, s, alpha, fit_intercept)
    assert coef.shape == (1, X.shape[1]) and intercept.shape == (1,)
    assert np.all(coef >= 0)
    assert info["converged"]
    assert_close(coef[0], w)
    assert_close(intercept, b0)
    return info


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_matches_scipy(seed: int, fit_intercept: bool, alpha: float) -> None:
    X, y, s = data(seed)
    info = check_against_scipy(X, y, s, alpha, fit_intercept)
    # Mixed-sign truth: some coefficients are clamped, some are not.
    assert 0 < info["passive_size"][0] < X.shape[1]


def test_no_intercept_uses_raw_moments() -> None:
    X, y, s = data(11)
    G, shift = make_gram(X, y, s)
    with_b = nnls_from_gram(G, shift, 0.0, True)
    without = nnls_from_gram(G, shift, 0.0, False)
    assert without[1][0] == 0.0
    assert not np.allclose(with_b[0], without[0])


def test_unit_weights_and_integer_weights_repeat_rows() -> None:
    X, y, _ = data(2, n=60)
    check_against_scipy(X, y, np.ones(len(X)), 0.0, True)
    reps = np.random.default_rng(0).integers(1, 4, size=len(X))
    G_w, shift = make_gram(X, y, reps.astype(float))
    Xr, yr = np.repeat(X, reps, axis=0), np.repeat(y, reps)
    G_r, shift_r = make_gram(Xr, yr, np.ones(len(Xr)))
    a = nnls_from_gram(G_w, shift, 0.1, True)
    b = nnls_from_gram(G_r, shift_r, 0.1, True)
    assert_close(a[0], b[0])
    assert_close(a[1], b[1])


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multi_target(fit_intercept: bool) -> None:
    X, Y, s = data(3, k=3)
    G, shift = make_gram(X, Y, s)
    coef, intercept, info = nnls_from_gram(G, shift, 0.2, fit_intercept, n_targets=3)
    assert coef.shape == (3, X.shape[1]) and intercept.shape == (3,)
    assert info["iterations"].shape == (3,) and info["converged_targets"].all()
    for t in range(3):
        w, b0 = reference(X, Y[:, t], s, 0.2, fit_intercept)
        assert_close(coef[t], w)
        assert_close(intercept[t], b0)


def test_unconstrained_solution_already_nonnegative() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 6)) + 1.0
    y = X @ rng.uniform(0.5, 2.0, size=6) - 1.0 + 0.01 * rng.normal(size=300)
    s = rng.uniform(0.5, 1.5, size=300)
    G, shift = make_gram(X, y, s)
    coef, intercept, info = nnls_from_gram(G, shift, 0.0, True)
    A, b, mx, my = design(X, y, s, 0.0, True)
    w = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.all(w > 0)
    assert_close(coef[0], w)
    assert_close(intercept, my - mx @ w)
    assert info["passive_size"][0] == 6 and info["iterations"][0] == 6


def test_all_coefficients_clamped() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 5))
    y = -X @ np.array([1.0, 2.0, 0.5, 3.0, 1.5]) + 0.1 * rng.normal(size=400)
    s = rng.uniform(0.5, 1.5, size=400)
    for fit_intercept in (True, False):
        check_against_scipy(X, y, s, 0.0, fit_intercept)
    G, shift = make_gram(X, y, s)
    coef, intercept, info = nnls_from_gram(G, shift, 0.0, True)
    assert np.all(coef == 0.0)
    assert_close(intercept, s @ y / s.sum())
    assert info["passive_size"][0] == 0 and info["iterations"][0] == 0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_duplicate_columns(fit_intercept: bool) -> None:
    X, y, s = data(6, d=5)
    y = y + 3.0 * X[:, 0]  # make the duplicated columns matter
    X = np.hstack([X, X[:, [0, 2]], 2.0 * X[:, [0]]])  # exact and scaled copies
    G, shift = make_gram(X, y, s)
    coef, intercept, info = nnls_from_gram(G, shift, 0.0, fit_intercept)
    w, b0 = reference(X, y, s, 0.0, fit_intercept)
    assert info["converged"] and np.all(coef >= 0)
    ours = objective(X, y, s, 0.0, coef[0], intercept[0])
    theirs = objective(X, y, s, 0.0, w, b0)
    assert ours == pytest.approx(theirs, rel=RTOL)


@pytest.mark.parametrize("slope", [2.0, -2.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_single_feature(slope: float, fit_intercept: bool) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 1)) + 1.0
    y = slope * x[:, 0] + 0.5 + 0.1 * rng.normal(size=50)
    check_against_scipy(x, y, rng.uniform(0.5, 2.0, size=50), 0.0, fit_intercept)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_sklearn_positive(fit_intercept: bool) -> None:
    from sklearn.linear_model import LinearRegression

    for seed in range(3):
        X, y, s = data(20 + seed, n=150, d=10)
        G, shift = make_gram(X, y, s)
        coef, intercept, _ = nnls_from_gram(G, shift, 0.0, fit_intercept)
        model = LinearRegression(positive=True, fit_intercept=fit_intercept)
        model.fit(X, y, sample_weight=s)
        assert_close(coef[0], model.coef_, rtol=1e-8)
        assert_close(intercept[0], model.intercept_, rtol=1e-8)


def test_matches_core_gram_stats() -> None:
    # The statistics of the compiled one-pass kernel use the same layout.
    from fastcost import _core as core

    X, y, s = data(8)
    stats = core.gram_stats(X, y, sample_weight=s)
    coef, intercept, _ = nnls_from_gram(stats["gram"], stats["shift"], 0.3, True)
    w, b0 = reference(X, y, s, 0.3, True)
    assert_close(coef[0], w, rtol=1e-9)
    assert_close(intercept, b0, rtol=1e-9)


def test_constant_columns_and_target() -> None:
    X, y, s = data(9, d=6)
    X[:, 1] = 4.0  # zero variance: slope 0 with an intercept
    X[:, 4] = 0.0  # all zero: slope 0 either way
    for fit_intercept in (True, False):
        for alpha in (0.0, 0.5):
            G, shift = make_gram(X, y, s)
            coef, intercept, info = nnls_from_gram(G, shift, alpha, fit_intercept)
            assert coef[0, 4] == 0.0 and info["converged"]
            # Centred in floating point, a constant column is rounding noise that
            # scipy would happily fit: the reference leaves such columns out.
            keep = [0, 2, 3, 5] if fit_intercept else [0, 1, 2, 3, 5]
            w, b0 = reference(X[:, keep], y, s, alpha, fit_intercept)
            expected = np.zeros(X.shape[1])
            expected[keep] = w
            assert_close(coef[0], expected)
            assert_close(intercept, b0)
    # A constant target next to an ordinary one: slopes 0, intercept the constant.
    G, shift = make_gram(X, np.column_stack([np.full(len(X), 2.5), y]), s)
    coef, intercept, info = nnls_from_gram(G, shift, 0.0, True, n_targets=2)
    assert np.all(coef[0] == 0.0) and intercept[0] == pytest.approx(2.5, rel=1e-14)
    assert info["iterations"][0] == 0 and info["converged"]
    assert np.any(coef[1] > 0)


def test_scale_invariance() -> None:
    X, y, s = data(10)
    check_against_scipy(X * 1e-4, y * 1e6, s * 1e8, 0.0, True)
    check_against_scipy(X * 1e5, y * 1e-7, s, 0.0, False)


def test_larger_problem() -> None:
    X, y, s = data(12, n=2000, d=150)
    info = check_against_scipy(X, y, s, 0.0, True)
    assert info["passive_size"][0] > 30


def test_collinear_columns_objective() -> None:
    # Nearly dependent columns: coefficients are ill-determined, the optimum is not.
    rng = np.random.default_rng(13)
    X = rng.normal(size=(200, 6))
    X = np.hstack(
        [X, X[:, :3] @ rng.uniform(0.2, 1.0, size=(3, 3)) + 1e-9 * rng.normal(size=(200, 3))]
    )
    y = X @ rng.normal(size=9) + 0.1 * rng.normal(size=200)
    s = np.ones(200)
    G, shift = make_gram(X, y, s)
    coef, intercept, info = nnls_from_gram(G, shift, 0.0, True)
    w, b0 = reference(X, y, s, 0.0, True)
    assert info["converged"] and np.all(coef >= 0)
    ours = objective(X, y, s, 0.0, coef[0], intercept[0])
    assert ours == pytest.approx(objective(X, y, s, 0.0, w, b0), rel=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_correlated_design_steps_back(fit_intercept: bool) -> None:
    # Correlated columns make Lawson-Hanson's inner loop drop passive columns again.
    stepped_back = False  # seeds 55, 59 and 105 do, in both modes
    for seed in (1, 2, 55, 59, 105):
        rng = np.random.default_rng(seed)
        mix = rng.normal(size=(10, 10))
        X = rng.normal(size=(60, 10)) @ mix + 1.0
        y = X @ rng.normal(size=10) + rng.normal(size=60)
        info = check_against_scipy(X, y, rng.uniform(0.5, 2.0, size=60), 0.0, fit_intercept)
        stepped_back |= bool(info["iterations"][0] > info["passive_size"][0])
    assert stepped_back


def test_passive_cholesky_add_and_remove(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastcost import _nnls

    rng = np.random.default_rng(16)
    X = rng.normal(size=(40, 7))
    X[:, 6] = X[:, 2]
    A = X.T @ X / 40
    chol = _nnls._PassiveCholesky(A)
    for j in (0, 2, 4, 1, 5, 3):
        assert chol.add(j)
    assert not chol.add(6)  # duplicate of a passive column: refused, P unchanged
    assert chol.idx == [0, 2, 4, 1, 5, 3]

    def check(expected: list[int]) -> None:
        assert chol.idx == expected
        P = np.ix_(expected, expected)
        np.testing.assert_allclose(chol.low @ chol.low.T, A[P], rtol=1e-12, atol=1e-12)
        b = rng.normal(size=7)
        np.testing.assert_allclose(A[P] @ chol.solve(b), b[expected], rtol=1e-10, atol=1e-10)

    assert chol.remove({2, 1}) == []
    check([0, 4, 5, 3])

    # If the Schur refactorisation fails, the columns are re-added one at a time.
    def failing_cholesky(*args: object, **kwargs: object) -> np.ndarray:
        raise _nnls.LinAlgError("forced")

    monkeypatch.setattr(_nnls, "cholesky", failing_cholesky)
    assert chol.remove({4}) == []
    check([0, 5, 3])
    assert chol.remove({3}) == []
    check([0, 5])


def test_max_iter_reports_not_converged() -> None:
    X, y, s = data(14, d=20)
    G, shift = make_gram(X, y, s)
    coef, _, info = nnls_from_gram(G, shift, 0.0, True, max_iter=2)
    assert info["converged"] is False
    assert not info["converged_targets"][0]
    assert info["iterations"][0] <= 2 and np.all(coef >= 0)


def test_bad_inputs() -> None:
    X, y, s = data(15, d=3)
    G, shift = make_gram(X, y, s)
    bad = G.copy()
    bad[0, 1] = bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        nnls_from_gram(bad, shift, 0.0, True)
    bad[0, 1] = bad[1, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        nnls_from_gram(bad, shift, 0.0, True)
    with pytest.raises(ValueError, match="finite"):
        nnls_from_gram(G, np.array([0.0, np.nan, 0.0, 0.0]), 0.0, True)
    with pytest.raises(ValueError, match="finite"):
        nnls_from_gram(G, shift, np.inf, True)
    with pytest.raises(ValueError, match="shift"):
        nnls_from_gram(G, shift[:-1], 0.0, True)
    with pytest.raises(ValueError, match="square"):
        nnls_from_gram(G[:-1], shift, 0.0, True)
    with pytest.raises(ValueError, match="square"):
        nnls_from_gram(G.ravel(), shift, 0.0, True)
    with pytest.raises(ValueError, match="no features"):
        nnls_from_gram(G, shift, 0.0, True, n_targets=4)
    with pytest.raises(ValueError, match="n_targets"):
        nnls_from_gram(G, shift, 0.0, True, n_targets=0)
    with pytest.raises(ValueError, match="alpha"):
        nnls_from_gram(G, shift, -1.0, True)
    with pytest.raises(ValueError, match="symmetric"):
        asym = G.copy()
        asym[0, 2] += 1.0
        nnls_from_gram(asym, shift, 0.0, True)
    with pytest.raises(ValueError, match="sample weights"):
        nnls_from_gram(np.zeros_like(G), shift, 0.0, True)
    with pytest.raises(ValueError, match="tol"):
        nnls_from_gram(G, shift, 0.0, True, tol=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        nnls_from_gram(G, shift, 0.0, True, max_iter=0)
