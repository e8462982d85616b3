"""Categorical features through the estimator: every solver on a coded design
against numpy's least squares on the explicit one-hot matrix (float64)."""

from __future__ import annotations

import warnings

import fastcost._categorical as categorical
import numpy as np
import pandas as pd
import pytest
from fastcost import LinearRegression


def make_frame(n: int = 600, levels: tuple[int, ...] = (3, 5), seed: int = 0, p: int = 3):
    """A frame with ``p`` numeric columns and string categoricals (levels "a00".. in sorted order)."""
    rng = np.random.default_rng(seed)
    frame: dict[str, object] = {}
    X = rng.standard_normal((n, p)) * np.array([1.0, 10.0, 0.1][:p] + [1.0] * max(0, p - 3))
    for j in range(p):
        frame[f"x{j}"] = X[:, j]
    y = X @ rng.standard_normal(p) + 0.3 * rng.standard_normal(n) + 2.0
    codes = []
    for k, L in enumerate(levels):
        c = rng.integers(0, L, n)
        c[:L] = np.arange(L)
        y = y + rng.standard_normal(L)[c]
        frame[f"c{k}"] = pd.array([f"v{i:02d}" for i in c], dtype="str")
        codes.append(c)
    return pd.DataFrame(frame), X, codes, y


def one_hot(X: np.ndarray, codes: list[np.ndarray], levels: tuple[int, ...],
            drop: list[bool]) -> np.ndarray:  # fmt: skip
    cols = [X]
    for c, L, d in zip(codes, levels, drop, strict=True):
        M = np.zeros((len(c), L))
        M[np.arange(len(c)), c] = 1.0
        cols.append(M[:, 1:] if d else M)
    return np.hstack(cols)


def full_coef(sol: np.ndarray, p: int, levels: tuple[int, ...], drop: list[bool]) -> np.ndarray:
    """Reference coefficients with an entry per level (0 for a dropped reference)."""
    parts, start = [sol[:p]], p
    for L, d in zip(levels, drop, strict=True):
        width = L - d
        parts.append(np.r_[np.zeros(int(d)), sol[start : start + width]])
        start += width
    return np.concatenate(parts)


def lstsq_reference(X, codes, levels, y, sw=None, alpha=0.0, fit_intercept=True):  # type: ignore[no-untyped-def]
    drop = list(categorical.drop_first_levels(len(levels), fit_intercept, alpha))
    A = one_hot(X, codes, levels, drop)
    sw = np.ones(len(y)) if sw is None else sw
    S = sw.sum()
    if fit_intercept:
        mu, ym = sw @ A / S, sw @ y / S
        Ac, yc = A - mu, y - ym
    else:
        Ac, yc = A, y
    G = Ac.T @ (sw[:, None] * Ac) + S * alpha * np.eye(A.shape[1])
    sol = np.linalg.solve(G, Ac.T @ (sw * yc)) if alpha > 0 else np.linalg.lstsq(
        np.sqrt(sw)[:, None] * Ac, np.sqrt(sw) * yc, rcond=None
    )[0]  # fmt: skip
    b = float(ym - mu @ sol) if fit_intercept else 0.0
    return full_coef(sol, X.shape[1], levels, drop), b


@pytest.mark.parametrize("solver", ["newton", "qr", "lbfgs", "gd"])
@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_every_solver_equals_one_hot_least_squares(solver: str, alpha: float) -> None:
    df, X, codes, y = make_frame()
    ref, b = lstsq_reference(X, codes, (3, 5), y, alpha=alpha)
    tol_fit = 1e-10 if solver == "gd" else 1e-12
    model = LinearRegression(solver=solver, alpha=alpha, tol=tol_fit, max_iter=300_000).fit(df, y)
    tol = 1e-10 if solver in ("newton", "qr") else 1e-6
    np.testing.assert_allclose(model.coef_, ref, rtol=0, atol=tol * np.abs(ref).max())
    assert model.intercept_ == pytest.approx(b, rel=tol, abs=tol)
    assert list(model.feature_names_out_) == (
        ["x0", "x1", "x2"] + [f"c0=v{i:02d}" for i in range(3)] + [f"c1=v{i:02d}" for i in range(5)]
    )
    assert model.n_features_in_ == 5
    expanded = one_hot(X, codes, (3, 5), [False] * 2)
    np.testing.assert_allclose(model.predict(df), expanded @ model.coef_ + model.intercept_)


def test_weights_and_no_intercept() -> None:
    df, X, codes, y = make_frame(seed=1)
    sw = np.random.default_rng(2).uniform(0.1, 3.0, len(y))
    for fit_intercept in (True, False):
        ref, b = lstsq_reference(X, codes, (3, 5), y, sw=sw, fit_intercept=fit_intercept)
        for solver in ("newton", "qr"):
            m = LinearRegression(solver=solver, fit_intercept=fit_intercept).fit(df, y, sw)
            np.testing.assert_allclose(m.coef_, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
            assert m.intercept_ == pytest.approx(b, abs=1e-9)


def test_sgd_is_the_one_hot_recipe() -> None:
    """sgd on the codes takes exactly the steps of sgd on the explicit one-hot matrix."""
    df, X, codes, y = make_frame(n=400)
    drop = list(categorical.drop_first_levels(2, True, 0.0))
    A = one_hot(X, codes, (3, 5), drop)
    start = np.random.default_rng(3).uniform(-0.5, 0.5, A.shape[1])
    kw = dict(solver="sgd", random_state=7, max_iter=5)
    dense = LinearRegression(**kw).fit(A, y, coef_init=start, intercept_init=0.0)
    coded = LinearRegression(**kw).fit(df, y, coef_init=start, intercept_init=0.0)
    np.testing.assert_allclose(coded.coef_, full_coef(dense.coef_, 3, (3, 5), drop), atol=1e-10)
    assert coded.intercept_ == pytest.approx(dense.intercept_, abs=1e-10)
    np.testing.assert_allclose(coded.loss_history_, dense.loss_history_, rtol=1e-10)


def test_standardize_scales_the_dense_block_only() -> None:
    df, X, codes, y = make_frame(seed=4)
    alpha = 0.1
    mean, scale = X.mean(axis=0), X.std(axis=0)
    Z = pd.DataFrame((X - mean) / scale, columns=["x0", "x1", "x2"])
    Z["c0"], Z["c1"] = df["c0"], df["c1"]
    plain = LinearRegression(solver="newton", alpha=alpha).fit(Z, y)
    expect = plain.coef_.copy()
    expect[:3] /= scale
    for solver in ("newton", "qr", "lbfgs"):
        m = LinearRegression(solver=solver, alpha=alpha, standardize=True, tol=1e-12).fit(df, y)
        np.testing.assert_allclose(m.coef_, expect, rtol=1e-6, atol=1e-8)


def test_block_arrow_newton_equals_the_full_gram(monkeypatch: pytest.MonkeyPatch) -> None:
    """One categorical eliminated through its Schur complement gives the same
    coefficients as the full one-hot Gram (and as numpy)."""
    df, X, codes, y = make_frame(n=3000, levels=(40, 4), seed=5)
    ref, b = lstsq_reference(X, codes, (40, 4), y)
    full = LinearRegression(solver="newton").fit(df, y)
    monkeypatch.setattr(categorical, "ARROW_MIN_LEVELS", 10)
    arrow = LinearRegression(solver="newton").fit(df, y)
    assert "block-arrow" in LinearRegression().fit(df, y).fit_info_
    for m in (full, arrow):
        np.testing.assert_allclose(m.coef_, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
        assert m.intercept_ == pytest.approx(b, abs=1e-9)
    assert arrow.loss_history_[-1] == pytest.approx(full.loss_history_[-1], rel=1e-10)
    ridge = LinearRegression(solver="newton", alpha=0.01).fit(df, y)
    ref_r, b_r = lstsq_reference(X, codes, (40, 4), y, alpha=0.01)
    np.testing.assert_allclose(ridge.coef_, ref_r, atol=1e-10 * np.abs(ref_r).max())
    assert ridge.intercept_ == pytest.approx(b_r, abs=1e-9)
    resid = one_hot(X, codes, (40, 4), [False, False]) @ ref_r + b_r - y
    assert ridge.loss_history_[-1] == pytest.approx(
        np.mean(resid**2) + 0.01 * np.sum(ref_r**2), rel=1e-9
    )
    std = LinearRegression(solver="newton", alpha=0.01, standardize=True).fit(df, y)
    monkeypatch.setattr(categorical, "ARROW_MIN_LEVELS", 1000)
    std_full = LinearRegression(solver="newton", alpha=0.01, standardize=True).fit(df, y)
    np.testing.assert_allclose(std.coef_, std_full.coef_, atol=1e-9)


def test_predict_maps_unseen_levels_to_the_reference() -> None:
    df, X, codes, y = make_frame()
    m = LinearRegression().fit(df, y)
    new = df.head(3).copy()
    new["c0"] = pd.array(["v00", "zzz", "v01"], dtype="str")
    with pytest.warns(UserWarning, match="c0"):
        pred = m.predict(new)
    ref_row = df.head(3).copy()
    ref_row["c0"] = pd.array(["v00", "v00", "v01"], dtype="str")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(pred, m.predict(ref_row))


def test_compute_statistics_match_the_one_hot_fit() -> None:
    df, X, codes, y = make_frame(seed=6)
    drop = list(categorical.drop_first_levels(2, True, 0.0))
    dense = LinearRegression(solver="qr", compute_statistics=True).fit(
        one_hot(X, codes, (3, 5), drop), y
    )
    coded = LinearRegression(solver="newton", compute_statistics=True).fit(df, y)
    expect = full_coef(dense.coef_stderr_, 3, (3, 5), drop)
    expect[[3, 6]] = np.nan  # the reference levels
    np.testing.assert_allclose(coded.coef_stderr_, expect, rtol=1e-7)
    assert coded.r2_ == pytest.approx(dense.r2_, rel=1e-10)


def test_refit_on_an_array_forgets_the_table() -> None:
    df, X, codes, y = make_frame()
    m = LinearRegression().fit(df, y)
    m.fit(X, y)
    assert not hasattr(m, "feature_names_out_") and m.coef_.shape == (3,)
    np.testing.assert_allclose(m.predict(X), X @ m.coef_ + m.intercept_)


def test_cuda_refuses_categoricals_clearly() -> None:
    df, X, codes, y = make_frame()
    with pytest.raises(NotImplementedError, match="categorical"):
        LinearRegression(device="cuda").fit(df, y)


def test_polars_and_arrow_tables_fit_like_pandas() -> None:
    import polars as pl
    import pyarrow as pa

    df, X, codes, y = make_frame(seed=8)
    expect = LinearRegression(solver="newton").fit(df, y)
    for table in (pl.from_pandas(df), pa.Table.from_pandas(df)):
        m = LinearRegression(solver="newton").fit(table, y)
        np.testing.assert_allclose(m.coef_, expect.coef_, atol=1e-12)
        assert list(m.feature_names_in_) == ["x0", "x1", "x2", "c0", "c1"]
        np.testing.assert_allclose(m.predict(table), expect.predict(df), atol=1e-12)


def test_nullable_bool_and_missing_values_in_a_frame() -> None:
    df, X, codes, y = make_frame(seed=9)
    df["flag"] = pd.array(np.arange(len(y)) % 3 == 0, dtype="boolean")
    df["count"] = pd.array(np.arange(len(y)) % 7, dtype="Int64")
    m = LinearRegression(solver="newton").fit(df, y)
    dense = np.c_[X, df["flag"].to_numpy(dtype=float), df["count"].to_numpy(dtype=float)]
    ref, b = lstsq_reference(dense, codes, (3, 5), y)
    # The frame's columns: x0..x2, c0, c1, flag, count -> dense block x0, x1, x2, flag, count.
    np.testing.assert_allclose(m.coef_, ref, atol=1e-10 * np.abs(ref).max())
    df.loc[5, "count"] = pd.NA
    named = r"NaN or infinity \(first in column 'count', at row 5 "
    with (
        pytest.warns(UserWarning, match="'count': 1 missing"),
        pytest.raises(ValueError, match=named),
    ):
        LinearRegression(solver="newton").fit(df, y)
    with pytest.raises(ValueError, match=named):  # predict names it too
        m.predict(df)
    df["c0"] = df["c0"].astype(object)
    df.loc[6, "c0"] = None  # a missing categorical value is a level of its own
    df.loc[5, "count"] = 1
    with pytest.warns(UserWarning, match="own level"):
        m = LinearRegression(solver="newton").fit(df, y)
    assert "c0=<missing>" in list(m.feature_names_out_)


def test_cleaner_in_a_pipeline_imputes_from_the_training_rows_only() -> None:
    from fastcost.preprocessing import Cleaner
    from sklearn.pipeline import make_pipeline

    df, X, codes, y = make_frame(seed=10)
    train, test = df.iloc[:400].copy(), df.iloc[400:].copy()
    train.loc[train.index[:20], "x1"] = np.nan
    test.loc[test.index[:5], "x1"] = np.nan
    pipe = make_pipeline(Cleaner(policy="impute"), LinearRegression(solver="newton"))
    pipe.fit(train, y[:400])
    mean = np.nanmean(train["x1"].to_numpy())
    assert pipe[0].statistics_[1] == pytest.approx(mean)
    filled = test.copy()
    filled.loc[filled.index[:5], "x1"] = mean  # the training mean, not the test rows'
    np.testing.assert_allclose(pipe.predict(test), pipe[1].predict(filled))
