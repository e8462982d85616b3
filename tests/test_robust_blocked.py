"""The blocked robust pass (``_core.sandwich_sums``) against a float64 numpy
reference written out from the formulas, for every kernel variant: row- and
column-major X, float32 and float64, weights (some zero), no intercept, a
triangular and a full K, the cluster scores, row counts at the block
boundaries, and bitwise independence of the thread count."""

from __future__ import annotations

import numpy as np
import pytest
from fastcost import _core
from helpers import forced_isa, supported_isas

KINDS = ["HC0", "HC2", "HC3", "cluster"]
ISAS = supported_isas()
N_GROUPS = 11


isa = forced_isa


def block_rows():
    X = np.zeros((2, 1))
    out = _core.sandwich_sums(X, np.zeros(2), np.zeros(1), 0.0, np.eye(2))
    return int(out["block_rows"])


def problem(n, d, *, seed=0, dtype=np.float64, order="C", weighted=False, fit_intercept=True,
            full_k=False):  # fmt: skip
    """X, y, sw and the model arguments of a least-squares fit of them."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d) + 5.0).astype(dtype)
    y = (X @ rng.normal(size=d) + 2.0 + rng.normal(size=n) * (1 + np.abs(X[:, 0] - 5))).astype(
        dtype
    )
    sw = None
    if weighted:
        sw = rng.uniform(0.2, 3.0, n).astype(dtype)
        sw[rng.random(n) < 0.1] = 0.0
    X = np.asfortranarray(X) if order == "F" else np.ascontiguousarray(X)
    shift = np.asarray(X[0], dtype=np.float64)
    Z = np.asarray(X, dtype=np.float64) - shift
    if fit_intercept:
        Z = np.column_stack([np.ones(n), Z])
    p = Z.shape[1]
    s = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    H = Z.T @ (s[:, None] * Z) + np.eye(p)  # a small ridge keeps tiny n well posed
    R = np.linalg.cholesky(H).T
    K = np.linalg.inv(R)  # upper triangular, K K^T = H^-1
    if full_k:  # any K with K K^T = H^-1 gives the same meat up to a rotation
        Q, _ = np.linalg.qr(rng.normal(size=(p, p)))
        K = K @ Q
    theta = np.linalg.solve(H, Z.T @ (s * np.asarray(y, dtype=np.float64)))
    b, w = (theta[0], theta[1:]) if fit_intercept else (0.0, theta)
    codes = rng.integers(0, N_GROUPS, size=n).astype(np.int32)
    model = dict(w=w, b=float(b), K=K, shift=shift, fit_intercept=fit_intercept, codes=codes)
    return X, y, sw, model


def reference(X, y, sw, model, kind):
    """The meat (or scores) in float64 numpy from the module's formulas."""
    Z = np.asarray(X, dtype=np.float64) - model["shift"]
    if model["fit_intercept"]:
        Z = np.column_stack([np.ones(len(Z)), Z])
    theta = np.r_[model["b"], model["w"]] if model["fit_intercept"] else model["w"]
    e = np.asarray(y, dtype=np.float64) - Z @ theta
    s = np.ones(len(Z)) if sw is None else np.asarray(sw, dtype=np.float64)
    V = Z @ model["K"]
    if kind == "cluster":
        u = np.zeros((N_GROUPS, V.shape[1]))
        np.add.at(u, model["codes"], (s * e)[:, None] * V)
        return u
    h = s * np.einsum("ij,ij->i", V, V)
    f = {"HC0": 1.0, "HC2": 1.0 / (1.0 - h), "HC3": 1.0 / (1.0 - h) ** 2}[kind]
    c = s**2 * e**2 * f
    return V.T @ (c[:, None] * V)


def run(X, y, sw, model, kind, **kw):
    out = _core.sandwich_sums(
        X, y, model["w"], model["b"], model["K"], sample_weight=sw, shift=model["shift"],
        fit_intercept=model["fit_intercept"], kind=kind,
        codes=model["codes"] if kind == "cluster" else None,
        n_groups=N_GROUPS if kind == "cluster" else 0, **kw,
    )  # fmt: skip
    return np.asarray(out["scores"] if kind == "cluster" else out["meat"])


def check(got, want, rtol=1e-12):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


# d = 5 and 20 take the square AVX-512 tile ([v, fit] at most 32 wide), d = 40 the wide one.
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [5, 20, 40])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("weighted", "fit_intercept"), [(False, True), (True, True), (True, False)]
)
def test_matches_numpy(kind, d, order, dtype, weighted, fit_intercept):
    X, y, sw, model = problem(
        700, d, seed=d, dtype=dtype, order=order, weighted=weighted, fit_intercept=fit_intercept
    )
    check(run(X, y, sw, model, kind, n_shards=3), reference(X, y, sw, model, kind))


@pytest.mark.parametrize("name", ISAS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [3, 20, 40])
@pytest.mark.parametrize("full_k", [False, True])
def test_every_isa_and_a_full_k(name, kind, d, full_k):
    X, y, sw, model = problem(500, d, seed=7, weighted=True, full_k=full_k)
    with isa(name):
        got = run(X, y, sw, model, kind, n_shards=2)
    check(got, reference(X, y, sw, model, kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("offset", ["1", "B-1", "B", "B+1", "2B+5"])
def test_block_boundaries(kind, order, offset):
    B = block_rows()
    n = {"1": 1, "B-1": B - 1, "B": B, "B+1": B + 1, "2B+5": 2 * B + 5}[offset]
    X, y, sw, model = problem(n, 20, seed=n, order=order, weighted=True)
    check(run(X, y, sw, model, kind, n_shards=1), reference(X, y, sw, model, kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [5, 40])
def test_bitwise_independent_of_threads(kind, d):
    X, y, sw, model = problem(3000, d, seed=3, weighted=True)
    first = run(X, y, sw, model, kind, n_shards=7, n_threads=1)
    for threads in (2, 3):
        np.testing.assert_array_equal(
            run(X, y, sw, model, kind, n_shards=7, n_threads=threads), first
        )


@pytest.mark.parametrize("kind", KINDS)
def test_zero_weight_rows_add_nothing_even_if_not_finite(kind):
    X, y, sw, model = problem(300, 6, seed=5, weighted=True)
    drop = np.flatnonzero(sw == 0.0)
    X2, y2 = X.copy(), y.copy()
    X2[drop[0], 2] = np.inf
    y2[drop[1]] = np.nan
    keep = sw > 0
    model_kept = dict(model, codes=model["codes"][keep])
    want = run(np.ascontiguousarray(X[keep]), y[keep], sw[keep], model_kept, kind, n_shards=1)
    check(run(X2, y2, sw, model, kind, n_shards=1), want)


def test_no_features():
    n = 50
    y = np.random.default_rng(0).normal(size=n)
    X = np.zeros((n, 0))
    codes = (np.arange(n) % N_GROUPS).astype(np.int32)
    model = dict(w=np.zeros(0), b=0.25, K=np.array([[1.0 / np.sqrt(n)]]), shift=np.zeros(0),
                 fit_intercept=True, codes=codes)  # fmt: skip
    for kind in KINDS:
        check(run(X, y, None, model, kind), reference(X, y, None, model, kind))
