"""Exact leave-one-out residuals of the ridge path, a block of rows at a time.

``_cv_path.loo_basis`` turns the full data's augmented Gram into a
:class:`LooBasis` (the eigendecomposition of the sum-scale normal matrix and
the right-hand side in its eigenbasis); :func:`loo_block_sums` then needs
only a block of rows to add its weighted squared held-out residuals for every
alpha. The blocks may be slices of a numpy X, rows of a table's expanded
design or the chunks of a dask array on its workers (this module imports
numpy only, so a Dask task pays nothing more to load it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LooBasis:
    """What every row's held-out fit needs from the full data."""

    S: float  # sum of weights
    mean_x: np.ndarray  # (d,) weighted means (zeros without an intercept)
    mean_y: np.ndarray  # (k,)
    lam: np.ndarray  # (d,) eigenvalues of the sum-scale normal matrix
    V: np.ndarray  # (d, d) its eigenvectors
    g: np.ndarray  # (d, k) V^T X^T y on the sum scale
    tiny: np.ndarray  # (d,) eigenvalues dropped at alpha = 0 (pseudo-inverse)
    fit_intercept: bool


def loo_block_sums(
    basis: LooBasis, Xb: np.ndarray, Yb: np.ndarray, sb: np.ndarray | None, alphas: np.ndarray
) -> np.ndarray:
    """sum_i s_i e_i(alpha)^2 over the block's rows, (n_alphas, k).

    Row i's held-out fit is ``LinearRegression(alpha)`` on the other rows: on
    the sum scale its penalty is ``lam_i = alpha (S - s_i)``. The full data's
    fit with that penalty and its hat value ``h_i`` give the held-out residual
    ``r_i / (1 - h_i)`` (the intercept unpenalized), from the row's projection
    ``V^T (x_i - mean)``."""
    Xb = np.asarray(Xb, dtype=np.float64)
    y = np.asarray(Yb, dtype=np.float64).reshape(Xb.shape[0], -1)
    n = Xb.shape[0]
    s = np.ones(n) if sb is None else np.asarray(sb, dtype=np.float64)
    sq = np.zeros((alphas.size, y.shape[1]))
    if n == 0:
        return sq
    Q = ((Xb - basis.mean_x) if basis.fit_intercept else Xb) @ basis.V
    base_h = s / basis.S if basis.fit_intercept else np.zeros(n)
    uniform = bool(np.all(s == s[0]))
    QQ = Q * Q
    for i, a in enumerate(alphas):
        lam_i = a * (basis.S - (s[:1] if uniform else s))  # one value, or one per row
        inv = 1.0 / (basis.lam[None, :] + lam_i[:, None])
        inv[:, basis.tiny & (a == 0)] = 0.0
        if uniform:
            pred = basis.mean_y + Q @ (inv[0][:, None] * basis.g)
            h = base_h + s * (QQ @ inv[0])
        else:
            pred = basis.mean_y + (Q * inv) @ basis.g
            h = base_h + s * np.einsum("nd,nd->n", QQ, inv)
        e = (y - pred) / (1.0 - h)[:, None]
        sq[i] += s @ (e * e)
    return sq
