"""Shared references for the tests (independent of fastcost)."""

from __future__ import annotations

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
