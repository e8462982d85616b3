"""Shared references for the tests (independent of fastcost)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np


def reference_fit(X, y, sample_weight=None, alpha=0.0, fit_intercept=True):
    """Independent float64 reference: numpy lstsq on the centered, weighted design
    (minimum-norm for rank-deficient X) or the closed-form ridge solution."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if fit_intercept:
        xm = s @ X / s.sum()
        ym = s @ y / s.sum()
    else:
        xm = np.zeros(X.shape[1])
        ym = 0.0
    Xc = X - xm
    yc = y - ym
    if alpha == 0.0:
        r = np.sqrt(s)
        w = np.linalg.lstsq(Xc * r[:, None], yc * r, rcond=None)[0]
    else:
        A = (Xc * s[:, None]).T @ Xc + alpha * s.sum() * np.eye(X.shape[1])
        w = np.linalg.solve(A, (Xc * s[:, None]).T @ yc)
    b = ym - xm @ w if fit_intercept else 0.0
    return w, b


def make_problem(n, d, seed=0, dtype=np.float64, order="C", weights=False, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-2, 2, d)
    w = rng.standard_normal(d)
    y = X @ w + 0.7 + noise * rng.standard_normal(n)
    s = rng.uniform(0.2, 3.0, n) if weights else None
    X = np.asarray(X, dtype=dtype, order=order)
    y = y.astype(dtype)
    if s is not None:
        s = s.astype(dtype)
    return X, y, s


def table_rows(out: str) -> dict[str, str]:
    """The rows of ``fastcost compare``'s printed table, by solver name."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("solver"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line or line.startswith("("):
            break
        rows[line.split()[0]] = line
    return rows


def dask_split(X, y, s, chunks):
    """X, y and the weights as dask arrays of the given row chunks."""
    import dask.array as da

    Xd = da.from_array(X, chunks=(chunks, X.shape[1]))
    yd = da.from_array(y, chunks=(chunks,))
    sd = None if s is None else da.from_array(s, chunks=(chunks,))
    return Xd, yd, sd


def nnls_reference(X, y, s=None, alpha=0.0, fit_intercept=True, ridge_scale=None):
    """scipy's NNLS on the weighted, centered design, ridge rows appended
    (``ridge_scale``: per-column factors of those rows, for standardize)."""
    s = np.ones(len(y)) if s is None else s
    if fit_intercept:
        xm, ym = s @ X / s.sum(), s @ y / s.sum()
    else:
        xm, ym = np.zeros(X.shape[1]), 0.0
    r = np.sqrt(s / s.sum())
    A = (X - xm) * r[:, None]
    b = (y - ym) * r
    if alpha > 0:
        scale = np.ones(X.shape[1]) if ridge_scale is None else ridge_scale
        A = np.vstack([A, np.sqrt(alpha) * np.diag(scale)])
        b = np.r_[b, np.zeros(X.shape[1])]
    from scipy.optimize import nnls

    w = nnls(A, b, maxiter=50 * X.shape[1])[0]
    return w, (ym - xm @ w if fit_intercept else 0.0)


def sparse_problem(n=240, d=12, density=0.3, seed=0, dtype=np.float64, weights=False,
                   zero_column=None):  # fmt: skip
    """A sparse CSR problem with an empty row (row 7) and, if given, an all-zero column."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = rng.standard_normal(X.nnz) * 2.0 + 0.5
    X = X.tolil()
    if zero_column is not None:
        X[:, zero_column] = 0.0
    X[7, :] = 0.0
    X = X.tocsr()
    X.eliminate_zeros()
    y = X @ rng.standard_normal(d) + 0.7 + 0.1 * rng.standard_normal(n)
    s = rng.uniform(0.2, 3.0, n).astype(dtype) if weights else None
    return X.astype(dtype), y.astype(dtype), s


def convert_sparse(X, fmt, container, index):
    """X as a csr/csc matrix/array whose indices and indptr have the given dtype."""
    import scipy.sparse as sp

    X = X.asformat(fmt)
    if container == "array":
        X = sp.csr_array(X) if fmt == "csr" else sp.csc_array(X)
    # scipy's constructors pick the smallest index dtype: set the wanted one.
    X.indices = X.indices.astype(index)
    X.indptr = X.indptr.astype(index)
    assert X.indices.dtype == index
    return X


_ISA_NAMES = ["baseline", "avx2", "avx512"]  # fastcost.set_isa's names
_ISA_ORDER = ["baseline", "avx2+fma", "avx512f"]  # config_info's, in the same order


def supported_isas():
    """The instruction sets ``fastcost.set_isa`` can force on this CPU."""
    import fastcost

    best = _ISA_ORDER.index(fastcost.config_info()["isa_best_supported"])
    return _ISA_NAMES[: best + 1]


@contextmanager
def forced_isa(name):
    """``fastcost.set_isa(name)`` until the block ends, then back to ``"auto"``."""
    import fastcost

    fastcost.set_isa(name)
    try:
        yield
    finally:
        fastcost.set_isa("auto")
