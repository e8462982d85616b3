"""Every compiled instruction set the CPU supports gives the same answers.

The kernels are compiled for baseline (16-byte vectors), AVX2+FMA and AVX-512
and picked at run time; these tests force each one with ``fastcost.set_isa``
and compare kernels and solvers against a float64 reference and each other.
The Gram pass also switches tile shape on AVX-512 (square one-vector tiles for
float32 and for float64 with d + 2 <= 32, two-vector tiles otherwise), so the
shapes straddle that boundary.
"""

from __future__ import annotations

import warnings

import fastcost
import numpy as np
import pytest
from fastcost import LinearRegression, _core
from helpers import forced_isa, make_problem, reference_fit, supported_isas

_ORDER = ["baseline", "avx2+fma", "avx512f"]  # config_info's names of set_isa's
_BEST = fastcost.config_info()["isa_best_supported"]
SUPPORTED = supported_isas()


isa = forced_isa


def _augmented_gram(X, y, s, shift):
    Z = np.c_[X - shift[:-1], y - shift[-1], np.ones(len(X))]
    return (Z * s[:, None]).T @ Z


def test_set_isa_is_reported():
    for name in SUPPORTED:
        with isa(name):
            assert (
                fastcost.config_info()["isa"] == _ORDER[["baseline", "avx2", "avx512"].index(name)]
            )
            assert _core.get_isa() == fastcost.config_info()["isa"]
    assert fastcost.config_info()["isa"] == _BEST


@pytest.mark.parametrize("name", ["baseline", "avx2", "avx512"])
def test_each_isa_is_either_used_or_refused(name):
    """A compiled instruction set the CPU lacks is refused; one it has is used."""
    if name in SUPPORTED:
        with isa(name):
            assert _core.get_isa() == _ORDER[["baseline", "avx2", "avx512"].index(name)]
    else:
        with pytest.raises(ValueError, match="not supported"):
            fastcost.set_isa(name)
    with pytest.raises(ValueError, match="unknown instruction set"):
        fastcost.set_isa("avx1024")


@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("d", [1, 6, 29, 30, 31, 62, 63, 100])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_every_isa_and_tile(name, dtype, order, d, weighted):
    X, y, s = make_problem(700, d, seed=d, dtype=dtype, order=order, weights=weighted)
    with isa(name):
        st = _core.gram_stats(X, y, s)
    s64 = np.ones(len(X)) if s is None else s.astype(float)
    X64, y64 = X.astype(float), y.astype(float)
    ref = _augmented_gram(X64, y64, s64, np.r_[X64[0], y64[0]])
    tol = 50 * np.finfo(dtype).eps * np.abs(ref).max()
    np.testing.assert_allclose(st["gram"], ref, rtol=0, atol=tol)


@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [3, 6, 10, 29, 37, 100, 150, 700])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_is_the_same_from_rows_or_columns(name, dtype, d, weighted):
    """Wide tiles: row-major X is packed row by row, column-major X and a list of
    columns in register-transposed blocks; narrow ones (d <= 10): row-major rows
    go through register transposes while their whole-vector loads stay inside X.
    The packed values, and so the Gram's bits, are the same for every layout,
    a row-major view with a longer row stride included. 1003 rows leave a short
    last block and rows beyond the last full transpose block."""
    X, y, s = make_problem(1003, d, seed=d, dtype=dtype, weights=weighted)
    Xc = np.ascontiguousarray(X)
    wider = np.ascontiguousarray(np.c_[X, np.full((len(X), 5), np.nan, dtype=X.dtype)])[:, :d]
    layouts = [
        Xc,
        np.asfortranarray(X),
        [np.ascontiguousarray(X[:, j]) for j in range(d)],
        wider,
    ]
    with isa(name):
        grams = [_core.gram_stats(Xo, y, s, None, 3, 2)["gram"] for Xo in layouts]
    for g in grams[1:]:
        np.testing.assert_array_equal(g, grams[0])
    X64 = X.astype(float)
    s64 = np.ones(len(X)) if s is None else s.astype(float)
    ref = _augmented_gram(X64, y.astype(float), s64, np.r_[X64[0], float(y[0])])
    tol = 50 * np.finfo(dtype).eps * np.abs(ref).max()
    np.testing.assert_allclose(grams[0], ref, rtol=0, atol=tol)


@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 3, 4, 7, 12, 100, 300])
def test_loss_grad_every_isa(name, dtype, d):
    # Row counts that leave 1..3 rows after the groups of four.
    X, y, s = make_problem(1003, d, seed=d, dtype=dtype, weights=True)
    w = np.random.default_rng(d).standard_normal(d)
    with isa(name):
        sum_w, sum_r2, sum_r, g = _core.loss_grad(X, y, w, -0.5, s)
    X64, y64, s64 = X.astype(float), y.astype(float), s.astype(float)
    r = X64 @ w.astype(dtype).astype(float) - 0.5 - y64
    rtol = 1e-12 if dtype == np.float64 else 2e-4
    assert sum_w == pytest.approx(s64.sum(), rel=rtol)
    assert sum_r2 == pytest.approx(s64 @ r**2, rel=rtol)
    bound = rtol * (np.abs(X64.T) @ np.abs(s64 * r)) + 1e-300
    assert np.all(np.abs(g - X64.T @ (s64 * r)) <= bound)


PROBE_SETS = {
    "point": [("w", -0.5, True)],
    "point+direction": [("w", -0.5, True), ("p", 0.25, False)],
    "point+means": [("w", -0.5, True), (None, 1.0, False)],
    "means+point+zero": [(None, 1.0, False), ("w", 0.0, True), (None, 2.0, True)],
    "three vectors": [("p", 0.0, False), ("w", 1.0, True), ("p", -1.0, True)],
    "two zeros": [(None, 1.0, False), (None, 0.5, True)],
}


@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("d", [1, 5, 12, 100])
@pytest.mark.parametrize("probes", list(PROBE_SETS))
def test_probe_sums_every_isa(name, dtype, order, d, probes):
    # 1013 rows: blocks of 256 and a tail of 5 rows after the groups of eight.
    X, y, s = make_problem(1013, d, seed=d, dtype=dtype, weights=True)
    X = np.asarray(X, order=order)
    rng = np.random.default_rng(d)
    vec = {"w": rng.standard_normal(d), "p": rng.standard_normal(d), None: None}
    spec = [(vec[k], b, with_y) for k, b, with_y in PROBE_SETS[probes]]
    with isa(name):
        out = _core.probe_sums(X, y, spec, s)
    X64, y64, s64 = X.astype(float), y.astype(float), s.astype(float)
    us = []
    for v, b, with_y in spec:
        u = (X64 @ v.astype(dtype).astype(float) if v is not None else np.zeros(len(y))) + b
        us.append(u - y64 if with_y else u)
    U = np.array(us)
    rtol = 1e-12 if dtype == np.float64 else 2e-4
    assert out["sum_w"] == pytest.approx(s64.sum(), rel=rtol)
    np.testing.assert_allclose(
        out["sum_u"], U @ s64, rtol=rtol, atol=rtol * (np.abs(U) @ s64).max()
    )
    uu = (U * s64) @ U.T
    np.testing.assert_allclose(out["sum_uu"], uu, rtol=rtol, atol=rtol * np.abs(uu).max())
    ux = (U * s64) @ X64
    bound = rtol * ((np.abs(U) * s64) @ np.abs(X64)) + 1e-300
    assert np.all(np.abs(out["sum_ux"] - ux) <= bound)


def test_probe_sums_of_one_probe_equal_loss_grad():
    X, y, s = make_problem(3001, 17, seed=3, weights=True)
    w = np.linspace(-1, 1, 17)
    sum_w, sum_r2, sum_r, g = _core.loss_grad(X, y, w, 0.5, s)
    out = _core.probe_sums(X, y, [(w, 0.5, True)], s)
    assert (out["sum_w"], out["sum_uu"][0, 0], out["sum_u"][0]) == (sum_w, sum_r2, sum_r)
    assert out["sum_ux"][0].tobytes() == g.tobytes()


def test_probe_sums_argument_errors():
    X, y, _ = make_problem(20, 3, seed=1)
    with pytest.raises(ValueError, match="one to three"):
        _core.probe_sums(X, y, [])
    with pytest.raises(ValueError, match="one to three"):
        _core.probe_sums(X, y, [(None, 1.0, False)] * 4)
    with pytest.raises(ValueError, match="length 3"):
        _core.probe_sums(X, y, [(np.ones(2), 1.0, True)])
    with pytest.raises(ValueError, match="needs y"):
        _core.probe_sums(X, None, [(np.ones(3), 1.0, True)])


@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("kernel", ["gram", "loss_grad", "probes"])
@pytest.mark.parametrize("d", [9, 40])
def test_bitwise_identical_for_any_thread_count_every_isa(name, kernel, d):
    X, y, s = make_problem(30000, d, seed=4, weights=True)
    w = np.linspace(-1, 1, d)

    def run(threads):
        if kernel == "gram":
            return _core.gram_stats(X, y, s, n_shards=11, n_threads=threads)["gram"].tobytes()
        if kernel == "probes":
            spec = [(w, 0.5, True), (w[::-1].copy(), -1.0, False), (None, 1.0, False)]
            out = _core.probe_sums(X, y, spec, s, n_shards=11, n_threads=threads)
            return b"".join(
                np.asarray(out[k]).tobytes() for k in ("sum_w", "sum_ux", "sum_u", "sum_uu")
            )
        out = _core.loss_grad(X, y, w, 0.5, s, n_shards=11, n_threads=threads)
        return np.r_[out[:3], out[3]].tobytes()

    with isa(name):
        assert run(1) == run(2) == run(3)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd", "sgd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_solvers_agree_across_isas(solver, dtype):
    X, y, s = make_problem(3000, 12, seed=7, dtype=dtype, weights=True)
    kw = {"random_state": 0, "max_iter": 3} if solver == "sgd" else {}
    fits = {}
    for name in SUPPORTED:
        with isa(name), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gd may stop at max_iter; compared below anyway
            m = LinearRegression(solver=solver, **kw).fit(X, y, sample_weight=s)
        fits[name] = np.r_[m.coef_, m.intercept_].astype(float)
    eps = np.finfo(dtype).eps
    base = fits["baseline"]
    scale = np.abs(base).max()
    # sgd is a fixed recipe (3 epochs): the ISAs differ only by rounding; the
    # others converge to the same optimum.
    tol = {"newton": 1e3, "lbfgs": 1e6 if dtype == np.float32 else 1e4, "gd": 1e6, "sgd": 1e4}[
        solver
    ]
    if dtype == np.float64 and solver in ("lbfgs", "gd"):
        tol = 1e9  # converged to tol=1e-6 relative gradient, not to rounding
    for name, coef in fits.items():
        assert np.abs(coef - base).max() <= tol * eps * scale, (name, solver)
    if solver == "newton":
        w, b = reference_fit(X, y, s)
        np.testing.assert_allclose(base, np.r_[w, b], rtol=0, atol=1e3 * eps * scale)
