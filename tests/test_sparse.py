"""scipy.sparse X (fastcost._sparse, cpp/include/fastcost/sparse.hpp): every solver
against numpy's float64 least squares on the densified matrix, the sparse Gram
against numpy's Z^T S Z, sparse sgd against dense sgd, and the input checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from fastcost import LinearRegression, _core
from fastcost.exceptions import IllConditionedWarning, NonFiniteError, RankDeficientWarning
from helpers import convert_sparse, reference_fit, sparse_problem

# (format, container, index dtype) of the inputs the estimator reads.
CONTAINERS = [
    ("csr", "matrix", np.int32),
    ("csr", "array", np.int64),
    ("csc", "matrix", np.int64),
    ("csc", "array", np.int32),
]


def numpy_gram(X, y, s, cy):
    """Z^T S Z of z = [x, y - cy, 1] in float64 (the dense reference)."""
    Xd = np.asarray(X.toarray(), dtype=np.float64)
    Z = np.column_stack([Xd, np.asarray(y, np.float64) - cy, np.ones(len(y))])
    s = np.ones(len(y)) if s is None else np.asarray(s, np.float64)
    return (Z * s[:, None]).T @ Z


# ---- the kernels ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("weights", [False, True])
def test_gram_matches_numpy(dtype, index, weights):
    X, y, s = sparse_problem(zero_column=3, dtype=dtype, weights=weights)
    X = convert_sparse(X, "csr", "matrix", index)
    st = _core.sparse_gram_stats(X.data, X.indices, X.indptr, X.shape, y, s)
    ref = numpy_gram(X, y, s, float(y[0]))
    assert st["shift"][:-1].tolist() == [0.0] * X.shape[1] and st["shift"][-1] == y[0]
    assert st["n_rows"] == X.shape[0]
    # Products and sums in float64 either way: agreement to float64 rounding.
    np.testing.assert_allclose(st["gram"], ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_array_equal(st["gram"], st["gram"].T)


def test_gram_with_a_shift_matches_the_dense_kernel():
    X, y, _ = sparse_problem(zero_column=3)
    shift = np.r_[np.linspace(-1, 1, X.shape[1]), 0.25]
    st = _core.sparse_gram_stats(X.data, X.indices, X.indptr, X.shape, y, None, shift)
    dense = _core.gram_stats(X.toarray(), y, None, shift)
    np.testing.assert_allclose(st["shift"], shift)
    np.testing.assert_allclose(st["gram"], dense["gram"], rtol=1e-11, atol=1e-9)


def test_gram_is_bitwise_the_same_for_any_thread_count():
    # Large enough (about 10^7 pairs) for the kernel to use its threads.
    X, y, s = sparse_problem(zero_column=3, n=20000, d=200, density=0.15, seed=3, weights=True)
    grams = [
        _core.sparse_gram_stats(X.data, X.indices, X.indptr, X.shape, y, s, None, t)["gram"]
        for t in (1, 2, 3)
    ]
    for g in grams[1:]:
        np.testing.assert_array_equal(g, grams[0])
    np.testing.assert_allclose(grams[0], numpy_gram(X, y, s, float(y[0])), rtol=1e-11, atol=1e-6)


PROBES = [(0, 0.3, True), (None, 1.0, False), (1, -0.2, False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_probe_sums_match_numpy(dtype, index, k):
    # One to three probes (the kernel interleaves them), one of them w = None.
    X, y, s = sparse_problem(zero_column=3, weights=True, dtype=dtype)
    rng = np.random.default_rng(1)
    ws = rng.standard_normal((2, X.shape[1]))
    probes = [(None if w is None else ws[w], b, m) for w, b, m in PROBES[-k:]]
    out = _core.sparse_probe_sums(
        X.data, X.indices.astype(index), X.indptr.astype(index), X.shape, y, probes, s
    )
    Xd, yd, sd = X.toarray().astype(np.float64), y.astype(np.float64), s.astype(np.float64)
    u = np.column_stack(
        [
            (0.0 if w is None else Xd @ w) + b - (yd if m else 0.0) + np.zeros(len(y))
            for w, b, m in probes
        ]
    )
    np.testing.assert_allclose(out["sum_w"], sd.sum(), rtol=1e-13)
    np.testing.assert_allclose(out["sum_ux"], (u * sd[:, None]).T @ Xd, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(out["sum_u"], sd @ u, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(out["sum_uu"], (u * sd[:, None]).T @ u, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_probe_sums_are_bitwise_the_same_for_any_thread_count(k):
    # About 1.5 million nonzeros: enough for the kernel to use its threads; the
    # shards' partials are reduced by column ranges, each in shard order.
    X, y, s = sparse_problem(n=100_000, d=300, density=0.05, seed=5, weights=True)
    rng = np.random.default_rng(2)
    ws = rng.standard_normal((2, X.shape[1]))
    probes = [(None if w is None else ws[w], b, m) for w, b, m in PROBES[:k]]
    args = (X.data, X.indices, X.indptr, X.shape, y, probes, s)
    for shards in (0, 7):
        ref = _core.sparse_probe_sums(*args, n_shards=shards, n_threads=1)
        for t in (2, 3):
            out = _core.sparse_probe_sums(*args, n_shards=shards, n_threads=t)
            for key in ("sum_w", "sum_ux", "sum_u", "sum_uu"):
                np.testing.assert_array_equal(out[key], ref[key])
        Xd, u = X.toarray(), np.zeros((len(y), k))
        for q, (w, b, m) in enumerate(probes):
            u[:, q] = (0.0 if w is None else Xd @ w) + b - (y if m else 0.0)
        np.testing.assert_allclose(ref["sum_ux"], (u * s[:, None]).T @ Xd, rtol=1e-10, atol=1e-8)


# ---- the estimator against numpy ---------------------------------------------------------


@pytest.mark.parametrize(("fmt", "container", "index"), CONTAINERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.05])
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd"])
def test_fit_matches_numpy(fmt, container, index, dtype, fit_intercept, weights, alpha, solver):
    X, y, s = sparse_problem(zero_column=3, dtype=dtype, weights=weights)
    Xs = convert_sparse(X, fmt, container, index)
    est = LinearRegression(
        solver=solver, alpha=alpha, fit_intercept=fit_intercept, tol=1e-12, max_iter=20000
    )
    # Column 3 is all zero: without a penalty newton reports the rank deficiency
    # (its coefficient is 0, the minimum-norm solution).
    if solver == "newton" and alpha == 0.0:
        with pytest.warns(RankDeficientWarning):
            est.fit(Xs, y, sample_weight=s)
    else:
        est.fit(Xs, y, sample_weight=s)
    w, b = reference_fit(X.toarray(), y, s, alpha=alpha, fit_intercept=fit_intercept)
    eps = np.finfo(dtype).eps
    tol = (1e4 if dtype == np.float32 else 1e5) * eps
    assert est.coef_.dtype == dtype
    assert est.n_features_in_ == X.shape[1]
    assert est.coef_[3] == 0.0
    np.testing.assert_allclose(est.coef_, w, rtol=tol, atol=tol * np.abs(w).max())
    np.testing.assert_allclose(est.intercept_, b, rtol=tol, atol=tol)
    pred = est.predict(Xs)
    np.testing.assert_allclose(
        pred,
        X.toarray() @ est.coef_ + est.intercept_,
        rtol=10 * eps,
        atol=10 * eps * np.abs(pred).max(),
    )


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_sgd_matches_dense_sgd(weights, alpha):
    X, y, s = sparse_problem(zero_column=3, weights=weights)
    kw = {"solver": "sgd", "alpha": alpha, "random_state": 0, "max_iter": 8, "batch_size": 16}
    sparse = LinearRegression(**kw).fit(X, y, sample_weight=s)
    dense = LinearRegression(**kw).fit(X.toarray(), y, sample_weight=s)
    # The same shuffles, batches and updates; only each row's dot product adds
    # its terms in another order.
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sparse.loss_history_, dense.loss_history_, rtol=1e-12)


def test_solvers_agree_with_each_other():
    X, y, _ = sparse_problem(zero_column=3, n=500, d=20, density=0.4, seed=5)
    X = X[:, [j for j in range(20) if j != 3]]  # full rank
    fits = {
        s: LinearRegression(solver=s, tol=1e-12, max_iter=20000).fit(X, y)
        for s in ("newton", "lbfgs", "gd")
    }
    for s in ("lbfgs", "gd"):
        np.testing.assert_allclose(fits[s].coef_, fits["newton"].coef_, rtol=1e-9, atol=1e-10)


def test_non_canonical_input_is_read_as_its_sum():
    X, y, _ = sparse_problem(zero_column=3)
    # Every row's values split in two duplicate entries, in decreasing column order.
    data, indices, indptr = [], [], [0]
    for i in range(X.shape[0]):
        cols = X.indices[X.indptr[i] : X.indptr[i + 1]]
        vals = X.data[X.indptr[i] : X.indptr[i + 1]]
        indices += list(np.r_[cols, cols][::-1])
        data += list(np.r_[0.25 * vals, 0.75 * vals][::-1])
        indptr.append(len(data))
    raw = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=X.shape)
    assert not raw.has_canonical_format
    ref = LinearRegression(solver="lbfgs", alpha=0.01).fit(X, y)
    est = LinearRegression(solver="lbfgs", alpha=0.01).fit(raw, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-12, atol=1e-12)
    assert raw.indices[0] > raw.indices[1]  # the caller's matrix is left as it was


def test_auto_takes_newton_for_narrow_and_lbfgs_for_wide_x():
    X, y, _ = sparse_problem(zero_column=3, n=300, d=10, density=0.5, seed=6)
    narrow = LinearRegression().fit(X[:, [0, 1, 2, 4, 5]], y)
    assert narrow.solver_ == "newton"
    wide = sp.random(60, 1500, density=0.01, format="csr", random_state=7)
    yw = np.random.default_rng(7).standard_normal(60)
    est = LinearRegression(alpha=0.01).fit(wide, yw)
    assert est.solver_ == "lbfgs"
    assert "too large for newton" in est.fit_info_


def test_ill_conditioned_sparse_x_keeps_newton_and_says_what_to_do():
    # Two nearly equal columns: auto would redo a dense fit with qr; sparse X has no
    # qr (its factor densifies X), so newton's answer stays, with advice that applies.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 3))
    X = np.c_[X, X[:, 0] + 1e-5 * rng.standard_normal(500)]
    y = X @ np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.warns(IllConditionedWarning, match=r"qr is not available for sparse X.*toarray"):
        m = LinearRegression().fit(sp.csr_matrix(X), y)
    assert m.solver_ == "newton"
    np.testing.assert_allclose(m.coef_[1:3], [2, 3], rtol=1e-8)  # the well-determined ones
    np.testing.assert_allclose(m.predict(X), y, atol=1e-6 * np.abs(y).max())


def test_integer_data_is_converted_once():
    X, y, _ = sparse_problem(zero_column=3)
    Xi = sp.csr_matrix(np.round(X.toarray() * 3).astype(np.int64))
    est = LinearRegression(solver="newton", alpha=0.01).fit(Xi, y)
    w, b = reference_fit(Xi.toarray(), y, alpha=0.01)
    assert est.coef_.dtype == np.float64
    np.testing.assert_allclose(est.coef_, w, rtol=1e-10, atol=1e-10)


def test_newton_with_standardize_and_statistics_match_dense():
    X, y, s = sparse_problem(zero_column=3, weights=True)
    X = X[:, [j for j in range(X.shape[1]) if j != 3]]
    for kw in ({"standardize": True, "alpha": 0.1}, {"compute_statistics": True}):
        sparse = LinearRegression(solver="newton", **kw).fit(X, y, sample_weight=s)
        dense = LinearRegression(solver="newton", **kw).fit(X.toarray(), y, sample_weight=s)
        np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-12)
        if "compute_statistics" in kw:
            np.testing.assert_allclose(sparse.coef_stderr_, dense.coef_stderr_, rtol=1e-8)
            np.testing.assert_allclose(sparse.r2_, dense.r2_, rtol=1e-10)


def test_column_transformer_one_hot_pipeline():
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression as SkLinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(8)
    n = 400
    city = rng.choice(["paris", "rome", "oslo", "lima"], n)
    shop = rng.choice(["a", "b", "c"], n)
    x = rng.standard_normal(n)
    effect = {"paris": 1.0, "rome": -0.5, "oslo": 2.0, "lima": 0.0, "a": 0.3, "b": -0.3, "c": 0.0}
    y = 2.0 * x + np.array([effect[c] + effect[s] for c, s in zip(city, shop, strict=True)])
    y = y + 0.05 * rng.standard_normal(n)
    frame = pd.DataFrame({"city": city, "shop": shop, "x": x})

    def transformer():
        return ColumnTransformer(
            [
                ("onehot", OneHotEncoder(sparse_output=True, drop="first"), ["city", "shop"]),
                ("num", "passthrough", ["x"]),
            ],
            sparse_threshold=1.0,
        )

    assert sp.issparse(transformer().fit_transform(frame))
    model = make_pipeline(transformer(), LinearRegression()).fit(frame, y)
    ref = make_pipeline(transformer(), SkLinearRegression()).fit(frame, y)
    assert model[-1].solver_ == "newton"
    np.testing.assert_allclose(model[-1].coef_, ref[-1].coef_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(model.predict(frame), ref.predict(frame), rtol=1e-9, atol=1e-9)


# ---- what is not offered, and bad input ----------------------------------------------


def test_unavailable_options_say_so():
    X, y, _ = sparse_problem(zero_column=3)
    with pytest.raises(NotImplementedError, match="qr.*not available on scipy.sparse X"):
        LinearRegression(solver="qr").fit(X, y)
    with pytest.raises(NotImplementedError, match="standardize=True with solver='lbfgs'"):
        LinearRegression(solver="lbfgs", standardize=True).fit(X, y)
    with pytest.raises(NotImplementedError, match="does not take scipy.sparse X"):
        LinearRegression(device="cuda").fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_nonfinite_data_is_named(bad, fmt):
    X, y, _ = sparse_problem(zero_column=3)
    X = X.asformat(fmt)
    X.data[5] = bad
    # The first bad stored value: in row order for CSR, column order for CSC.
    bad_cells = np.argwhere(~np.isfinite(X.toarray() if fmt == "csr" else X.toarray().T))
    i, j = bad_cells[0] if fmt == "csr" else bad_cells[0][::-1]
    with pytest.raises(NonFiniteError, match="X contains NaN or infinity") as err:
        LinearRegression().fit(X, y)
    assert f"row {i}, column {j}" in str(err.value)
    assert isinstance(err.value, ValueError)
    model = LinearRegression(alpha=0.01).fit(sparse_problem(zero_column=3)[0], y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.predict(X)


def test_bad_shapes_are_value_errors():
    X, y, _ = sparse_problem(zero_column=3)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearRegression(alpha=0.01).fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        LinearRegression().fit(X, y, sample_weight=np.ones(3))
    model = LinearRegression(alpha=0.01).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :5])


def test_core_checks_the_csr_arrays():
    X, y, _ = sparse_problem(zero_column=3)
    args = (X.data, X.indices, X.indptr)
    with pytest.raises(ValueError, match="indptr has"):
        _core.sparse_gram_stats(X.data, X.indices, X.indptr[:-1], X.shape, y)
    with pytest.raises(ValueError, match="y has"):
        _core.sparse_gram_stats(*args, X.shape, y[:-1])
    with pytest.raises(ValueError, match="outside"):
        _core.sparse_gram_stats(*args, (X.shape[0], 5), y)
    bad = X.indices.copy()
    r = next(i for i in range(X.shape[0]) if X.indptr[i + 1] - X.indptr[i] >= 2)
    bad[X.indptr[r] : X.indptr[r] + 2] = bad[X.indptr[r] : X.indptr[r] + 2][::-1]
    with pytest.raises(ValueError, match="not strictly increasing"):
        _core.sparse_gram_stats(X.data, bad, X.indptr, X.shape, y)
    with pytest.raises(TypeError, match="same integer dtype"):
        _core.sparse_gram_stats(
            X.data, X.indices.astype(np.int64), X.indptr.astype(np.int32), X.shape, y
        )
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.fit_sparse(
            X.data.astype(np.int64), *args[1:], X.shape, y, None, "lbfgs", _core.FitOptions()
        )
    with pytest.raises(ValueError, match="unknown solver"):
        _core.fit_sparse(*args, X.shape, y, None, "qr", _core.FitOptions())
