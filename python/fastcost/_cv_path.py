"""Cross-validation of the penalty from statistics: every fold, every alpha, no refits.

``LinearRegressionCV``'s numerics. One grouped Gram pass
(``_core.grouped_gram_stats``) gives the augmented Gram of every "atom" (rows
with the same membership in every fold's train and test sets) about one common
shift; a fold's train and test Grams are sums of atom Grams (:func:`fold_atoms`,
:func:`fold_grams`). Per fold, one eigendecomposition of the train block gives
the coefficients of every alpha in O(d^2) (:func:`fold_path`), and the held-out
sum of squared residuals is a quadratic form in the test Gram, so no alpha
needs another pass. ``cv=None`` is exact leave-one-out (:func:`loo_path`): the
eigendecomposition of the full Gram and one more pass for the leverages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._dask_tasks import loo_rows_sums, loo_standardized_rows_sums
from ._loo import LooBasis
from ._sufficient import as_float64_rows
from .preprocessing._common import _is_constant

#: Above this condition number of ``M + alpha I`` (M the fold's normal matrix on
#: the penalty's scale) the eigen path's O(d^2) solve would lose more digits than
#: the equilibrated solve ``_core.solve_stats`` makes; that alpha is solved directly.
EIGEN_PATH_MAX_CONDITION = 1e6

#: Rows per block of the leave-one-out leverage pass.
LOO_BLOCK_ROWS = 16384

#: Bytes of float64 per block when float32 X is read as float64 (:func:`grouped_grams`).
FLOAT64_BLOCK_BYTES = 32 << 20

_EPS = float(np.finfo(np.float64).eps)


# -- folds as unions of atoms ---------------------------------------------------


def fold_atoms(
    splits: list[tuple[np.ndarray, np.ndarray]], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by their membership pattern across the folds.

    Returns ``atom`` (n,) int64, the atom of every row (rows in no set form an
    atom of their own: they still count in the refit), and the boolean masks
    ``train`` and ``test`` (n_atoms, n_folds): whether the atom's rows are in
    fold j's train / test set. Raises ValueError when a set repeats a row or is
    empty, since such a set is no union of atoms.
    """
    n_folds = len(splits)
    narrow = n_folds <= 31  # 2 bits a fold fit one int64 code
    code = np.zeros(n, dtype=np.int64)
    bits = None if narrow else np.zeros((n, n_folds), dtype=np.uint8)
    state = np.empty(n, dtype=np.uint8)
    for j, (train, test) in enumerate(splits):
        state[:] = 0
        for bit, rows, kind in ((1, train, "train"), (2, test, "test")):
            rows = _check_rows(rows, n, j, kind)
            state[rows] |= bit
            if np.count_nonzero(state & bit) != rows.size:
                raise ValueError(
                    f"fold {j}'s {kind} set lists a row more than once; LinearRegressionCV "
                    "needs every train and test set to be a set of rows"
                )
        if bits is None:
            code *= 4
            code += state
        else:
            bits[:, j] = state
    atom, patterns = _patterns(code, n_folds) if bits is None else _patterns_wide(bits)
    return atom, (patterns & 1).astype(bool), (patterns & 2).astype(bool)


def splitter_atoms(
    splitter: Any, n: int, splits_of: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`fold_atoms` of a splitter's folds, and their count.

    ``KFold`` without shuffling (``cv=int``) is laid out directly: its folds are
    consecutive blocks of rows (scikit-learn's sizes: ``n // k``, one more for
    the first ``n % k``), each its own atom, so the splits are never listed.
    Any other splitter goes through ``splits_of()``, its list of (train, test).
    """
    from sklearn.model_selection import KFold

    if type(splitter) is KFold and not splitter.shuffle:
        k = int(splitter.n_splits)
        if k > n:
            raise ValueError(
                f"Cannot have number of splits n_splits={k} greater than the number of "
                f"samples: n_samples={n}."
            )
        sizes = np.full(k, n // k, dtype=np.int64)
        sizes[: n % k] += 1
        test = np.eye(k, dtype=bool)
        return np.repeat(np.arange(k, dtype=np.int64), sizes), ~test, test, k
    splits = splits_of()
    if not splits:
        raise ValueError("the cross-validation splitter gave no splits")
    atom, train, test = fold_atoms(splits, n)
    return atom, train, test, len(splits)


def _check_rows(rows: Any, n: int, j: int, kind: str) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    if rows.ndim != 1 or rows.size == 0 or rows.dtype.kind not in "iu":
        raise ValueError(f"fold {j}'s {kind} set must be a non-empty 1-D array of row indices")
    if rows.min() < -n or rows.max() >= n:
        raise ValueError(f"fold {j}'s {kind} set has row indices outside [0, {n})")
    return rows


def _patterns(code: np.ndarray, n_folds: int) -> tuple[np.ndarray, np.ndarray]:
    """Atom of each row and each atom's (n_folds,) pattern, atoms in code order."""
    n = code.size
    if 4**n_folds <= max(4 * n, 1 << 16):  # a table instead of a sort
        present = np.flatnonzero(np.bincount(code, minlength=4**n_folds))
        table = np.full(4**n_folds, -1, dtype=np.int64)
        table[present] = np.arange(present.size)
        atom, first = table[code], present
    else:
        first, atom = np.unique(code, return_inverse=True)
    digits = (first[:, None] // 4 ** np.arange(n_folds - 1, -1, -1)) % 4
    return atom.astype(np.int64, copy=False), digits.astype(np.uint8)


def _patterns_wide(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_patterns` for more than 31 folds: unique rows of the (n, folds) states."""
    patterns, atom = np.unique(bits, axis=0, return_inverse=True)
    return atom.reshape(-1).astype(np.int64), patterns


def grouped_grams(
    X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None, groups: np.ndarray | None,
    n_groups: int, n_shards: int, n_threads: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Every group's augmented Gram about one shift (``_core.grouped_gram_stats``;
    ``groups=None``: all rows, one group, ``_core.gram_stats``), and the shift.

    The held-out scores are differences of these sums (``y'y`` less the fitted
    part) as small as the residuals, so they need the sums to about 1e-16. The
    Gram kernel sums float32 X in float32 lanes over each block of rows (float32's
    speed, float32's digits), so float32 X is read here in float64 blocks of
    :data:`FLOAT64_BLOCK_BYTES` (the products of float32 values are exact in
    float64), about the first row, the blocks summed in order.
    """
    if groups is None and X.dtype != np.float32:
        st = _core.gram_stats(X, Y, sw, None, n_shards, n_threads)
        return np.asarray(st["gram"])[None], np.asarray(st["shift"])
    if groups is None:
        groups = np.zeros(X.shape[0], np.int64)
    if X.dtype != np.float32:
        st = _core.grouped_gram_stats(X, Y, sw, groups, n_groups, None, n_shards, n_threads)
        return np.asarray(st["gram"]), np.asarray(st["shift"])
    shift = np.r_[X[0], np.asarray(Y)[0]].astype(np.float64)
    step = max(1024, FLOAT64_BLOCK_BYTES // (8 * max(X.shape[1], 1)))
    total = np.zeros((n_groups, shift.size + 1, shift.size + 1))
    for a in range(0, X.shape[0], step):
        b = min(X.shape[0], a + step)
        Xb, Yb, wb = as_float64_rows(X[a:b], Y[a:b], None if sw is None else sw[a:b])
        st = _core.grouped_gram_stats(
            Xb, Yb, wb, np.ascontiguousarray(groups[a:b]), n_groups, shift, n_shards, n_threads
        )
        total += np.asarray(st["gram"])
    return total, shift


def fold_grams(
    grams: np.ndarray, train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every fold's train and test Gram, and the total, as sums of atom Grams
    (exact 0/1 combinations, a fixed order)."""
    n_atoms, p, _ = grams.shape
    flat = grams.reshape(n_atoms, p * p)
    g_train = (train.T.astype(np.float64) @ flat).reshape(-1, p, p)
    g_test = (test.T.astype(np.float64) @ flat).reshape(-1, p, p)
    return g_train, g_test, flat.sum(axis=0).reshape(p, p)


def symmetric_eigh(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix: numpy's below
    order 256 (less overhead per call: 0.8 ms against 1.1 ms at order 100), SciPy's
    divide-and-conquer dsyevd above (2-3x numpy's eigh at order 2,000 here)."""
    if M.shape[0] < 256:
        return np.linalg.eigh(M)  # type: ignore[return-value]
    from scipy.linalg import eigh

    return eigh(M, driver="evd", check_finite=False)  # type: ignore[no-any-return]


# -- moments of one Gram ----------------------------------------------------------


@dataclass
class Moments:
    """The normal equations of one augmented Gram [x - c, y - c_y, 1] (k targets),
    on the mean-loss scale: ``A`` (d, d), ``B`` (d, k), means and sum of weights."""

    S: float
    A: np.ndarray
    B: np.ndarray
    mean_x: np.ndarray
    mean_y: np.ndarray
    var_x: np.ndarray = field(repr=False)


def moments(gram: np.ndarray, shift: np.ndarray, d: int, fit_intercept: bool) -> Moments:
    """Centered (intercept) or raw (about zero) normal equations of ``gram``."""
    q = gram.shape[0] - 1
    S = float(gram[q, q])
    if not S > 0:
        raise ValueError("a training set's sample weights sum to zero: nothing to fit")
    m = gram[:q, q]
    centered = gram[:q, :q] - np.outer(m, m) / S
    mean = shift + m / S
    if fit_intercept:
        N = centered
    else:  # about zero: z + c, so G0 = G + c m^T + m c^T + S c c^T
        N = gram[:q, :q] + np.outer(shift, m) + np.outer(m, shift) + S * np.outer(shift, shift)
    return Moments(S, N[:d, :d] / S, N[:d, d:] / S, mean[:d], mean[d:], np.diag(centered)[:d] / S)


def standard_scale(mo: Moments) -> np.ndarray:
    """StandardScaler's scale from the weighted moments (1 for constant columns),
    as ``LinearRegression(standardize=True)`` takes it (``_fit_preprocessing``)."""
    scale = np.sqrt(np.maximum(mo.var_x, 0.0))
    scale[_is_constant(mo.var_x, mo.mean_x, mo.S) | (scale < 10 * _EPS)] = 1.0
    return scale


# -- the alpha path of one fold -------------------------------------------------------


@dataclass
class PathInfo:
    """What the path solves did: alphas solved directly instead of on the eigen path."""

    n_direct: int = 0
    n_min_norm: int = 0


def coef_path(
    mo: Moments, alphas: np.ndarray, scale: np.ndarray | None, info: PathInfo
) -> np.ndarray:
    """Coefficients (n_alphas, d, k) of ``(A + alpha diag(scale^2)) w = B``.

    In the penalty's coordinates v = scale * w the penalty is uniform, so one
    eigendecomposition of ``M = A / (scale scale^T)`` gives every alpha's
    ``v = V diag(1 / (lam + alpha)) V^T (B / scale)`` in O(d^2). An alpha whose
    ``M + alpha I`` is ill-conditioned (alpha = 0 on collinear data) takes the
    equilibrated solve instead (:func:`direct_solve`).
    """
    f = np.ones(mo.A.shape[0]) if scale is None else 1.0 / scale
    M = mo.A * np.outer(f, f)
    lam, V = symmetric_eigh(M)
    g = V.T @ (mo.B * f[:, None])
    lo, hi = max(float(lam[0]), 0.0), max(float(lam[-1]), 0.0)
    out = np.empty((alphas.size, *mo.B.shape))
    for i, a in enumerate(alphas):
        if hi + a <= EIGEN_PATH_MAX_CONDITION * (lo + a):
            out[i] = f[:, None] * (V @ (g / (lam + a)[:, None]))
        else:
            info.n_direct += 1
            pen = np.full(f.size, float(a)) / f**2
            out[i], singular = direct_solve(mo.A, mo.B, pen)
            info.n_min_norm += int(singular)
    return out


def direct_solve(A: np.ndarray, B: np.ndarray, pen: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(A + diag(pen)) w = B`` as ``_core.solve_stats`` solves it: equilibrated
    to a unit diagonal (columns with zero diagonal get 0); a singular system gets
    the minimum-norm solution (pseudo-inverse on the eigenvalues below
    ``10 d eps`` of the largest, null space projected out in w's coordinates)."""
    d = A.shape[0]
    a = A + np.diag(pen)
    diag = np.diag(a)
    active = np.flatnonzero((diag > 0) & np.isfinite(diag))
    w = np.zeros(B.shape)
    if active.size == 0:
        return w, d > 0
    D = 1.0 / np.sqrt(diag[active])
    As = a[np.ix_(active, active)] * np.outer(D, D)
    mu, U = symmetric_eigh(As)
    keep = mu > 10.0 * max(d, 1) * _EPS * max(float(mu[-1]), 0.0)
    Bs = B[active] * D[:, None]
    w[active] = D[:, None] * (U[:, keep] @ ((U[:, keep].T @ Bs) / mu[keep][:, None]))
    singular = bool(active.size < d or not keep.all())
    if not keep.all():
        null = np.zeros((d, int((~keep).sum())))
        null[active] = D[:, None] * U[:, ~keep]
        Q, _ = np.linalg.qr(null)
        w -= Q @ (Q.T @ w)
    return w, singular


def intercepts(mo: Moments, W: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """(n_alphas, k) intercepts of coefficients W (n_alphas, d, k)."""
    if not fit_intercept:
        return np.zeros((W.shape[0], W.shape[2]))
    return mo.mean_y[None, :] - np.einsum("d,adk->ak", mo.mean_x, W)


def held_out_scores(
    test: np.ndarray, shift: np.ndarray, W: np.ndarray, b: np.ndarray, j: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted MSE and R^2 (n_alphas, k) of (W, b) on the rows of the test Gram.

    The residual of a row is ``z^T v`` with z = [x - c, y - c_y, 1] and
    v = [w, -e_t, c^T w + b - c_y], so the weighted sum of squared residuals is
    ``v^T G v``: exact, no pass. R^2 follows ``sklearn.metrics.r2_score``: a
    constant held-out target scores 1 when predicted exactly, else 0.
    """
    n_alphas, d, k = W.shape
    q = test.shape[0] - 1
    S = float(test[q, q])
    if not S > 0:
        raise ValueError(f"fold {j}'s test rows have sample weights summing to zero")
    V = np.zeros((n_alphas, q + 1, k))
    V[:, :d] = W
    V[:, d:q] = -np.eye(k)
    V[:, q] = np.einsum("d,adk->ak", shift[:d], W) + b - shift[d:][None, :]
    sse = np.maximum(np.einsum("aik,ij,ajk->ak", V, test, V), 0.0)
    m_y = test[d:q, q]
    sst = np.maximum(np.diag(test)[d:q] - m_y**2 / S, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - sse / sst, np.where(sse == 0, 1.0, 0.0))
    return sse / S, r2


def fold_path(
    train: np.ndarray, test: np.ndarray, shift: np.ndarray, alphas: np.ndarray, d: int,
    fit_intercept: bool, standardize: bool, info: PathInfo, j: int,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Held-out (MSE, R^2), each (n_alphas, k), of fold j for every alpha.

    ``fixed`` marks columns that standardize leaves unscaled (a categorical's
    level indicators, as ``solve_exact_from_stats`` leaves them)."""
    W, b = train_path(train, shift, alphas, d, fit_intercept, standardize, info, fixed)
    return held_out_scores(test, shift, W, b, j)


def train_path(
    train: np.ndarray, shift: np.ndarray, alphas: np.ndarray, d: int, fit_intercept: bool,
    standardize: bool, info: PathInfo, fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The coefficients (n_alphas, d, k) and intercepts (n_alphas, k) of a training
    set's augmented Gram for every alpha, standardized by its own moments when
    asked (``fixed`` columns unscaled)."""
    mo = moments(train, shift, d, fit_intercept)
    scale = standard_scale(mo) if standardize else None
    if scale is not None and fixed is not None:
        scale[fixed] = 1.0
    W = coef_path(mo, alphas, scale, info)
    return W, intercepts(mo, W, fit_intercept)


# -- exact leave-one-out -------------------------------------------------------------


def loo_basis(gram: np.ndarray, shift: np.ndarray, d: int, fit_intercept: bool) -> LooBasis:
    """The eigenbasis of the full data's normal equations (``_loo.LooBasis``)."""
    mo = moments(gram, shift, d, fit_intercept)
    lam, V = symmetric_eigh(mo.A * mo.S)  # the sum-scale Gram
    k = gram.shape[0] - 1 - d
    return LooBasis(
        S=mo.S,
        mean_x=mo.mean_x if fit_intercept else np.zeros(d),
        mean_y=mo.mean_y if fit_intercept else np.zeros(k),
        lam=lam,
        V=V,
        g=V.T @ (mo.B * mo.S),
        tiny=lam <= 10.0 * max(d, 1) * _EPS * max(float(lam[-1]) if d else 0.0, 0.0),
        fit_intercept=fit_intercept,
    )


def loo_scores(sq: np.ndarray, gram: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out (MSE, R^2), each (n_alphas, k), from the summed squared
    held-out residuals of every row (``loo_block_sums``)."""
    S = float(gram[-1, -1])
    sst = np.maximum(np.diag(gram)[d:-1] - gram[d:-1, -1] ** 2 / S, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - sq / sst, np.where(sq == 0, 1.0, 0.0))
    return sq / S, r2


#: Leave-one-out with standardize=True solves each row's training set on its own
#: (an eigendecomposition of order d per row, ~0.2 ms of Python at small d): up to
#: this much work, counted as n (2e4 + (d + 2)^3) (~20 s at d = 20, 6 s at d = 100).
LOO_STANDARDIZED_MAX_WORK = 4e9


def _loo_standardized_work(n: int, d: int) -> float:
    return float(n) * (2e4 + (d + 2) ** 3)


def check_loo(est: Any, groups: Any, n: int, sw: np.ndarray | None, d: int) -> None:
    """What ``cv=None`` (exact leave-one-out) refuses, for arrays, tables and dask
    arrays alike (``d``: the width of the design)."""
    if groups is not None:
        raise ValueError("groups needs a cv splitter that uses them (cv=None is leave-one-out)")
    if est.standardize and _loo_standardized_work(n, d) > LOO_STANDARDIZED_MAX_WORK:
        raise NotImplementedError(
            f"standardize=True with cv=None solves each of the {n} training sets on its own "
            f"(an eigendecomposition of order {d} per row), past the work limit "
            f"_cv_path.LOO_STANDARDIZED_MAX_WORK; use cv=int or a splitter"
        )
    if n < 2 or (sw is not None and np.count_nonzero(sw) < 2):
        raise ValueError(f"leave-one-out needs at least 2 samples with weight (n_samples={n})")


def loo_path(
    X: Any, Y: np.ndarray, sw: np.ndarray | None, gram: np.ndarray, shift: np.ndarray,
    alphas: np.ndarray, fit_intercept: bool,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Leave-one-out (MSE, R^2), each (n_alphas, k), weighted by the sample weights:
    one eigendecomposition of the full Gram, then one pass over the rows of X in
    blocks (``_loo.loo_block_sums``). X: a 2-D array, or anything with ``shape``
    whose ``X[a:b]`` is the dense float64 block of those rows (a table's expanded
    design). Tiny eigenvalues at alpha = 0 are dropped (pseudo-inverse): the
    minimum-norm fit's shortcut."""
    d = X.shape[1]
    basis = loo_basis(gram, shift, d, fit_intercept)
    sq = loo_rows_sums(X, Y, sw, basis, alphas, LOO_BLOCK_ROWS)  # a Dask chunk's task too
    return loo_scores(sq, gram, d)


#: The d x d work arrays of a statistics-path LinearRegressionCV (the Gram, its
#: eigenvectors, the eigensolver's workspace) may take this many bytes in all.
CV_GRAM_MAX_BYTES = 4 << 30


def loo_standardized(
    X: Any, Y: np.ndarray, sw: np.ndarray | None, gram: np.ndarray, shift: np.ndarray,
    alphas: np.ndarray, fit_intercept: bool, fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Leave-one-out (MSE, R^2) as :func:`loo_path`, with each training set
    standardized by its own weighted moments (``LinearRegression(standardize=True)``
    on the other rows; ``fixed`` columns, a table's level indicators, unscaled).
    X: a 2-D array or anything whose ``X[a:b]`` is the dense block of those rows."""
    sq = loo_standardized_rows_sums(X, Y, sw, gram, shift, alphas, fit_intercept, fixed)
    return loo_scores(sq, gram, X.shape[1])


def loo_standardized_sums(
    Xb: np.ndarray, Yb: np.ndarray, sb: np.ndarray | None, gram: np.ndarray, shift: np.ndarray,
    alphas: np.ndarray, fit_intercept: bool, fixed: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """sum_i s_i e_i(alpha)^2 (n_alphas, k) over a block of rows, each row held out
    of a training set standardized by its own moments: row i's training Gram is the
    full ``gram`` less the row's own ``s_i z_i z_i^T``, solved as a fold's
    (:func:`coef_path`), so each row costs one eigendecomposition of order d.
    Also a Dask chunk's task (``_dask_tasks``)."""
    Xb = np.asarray(Xb, dtype=np.float64)
    Yb = np.asarray(Yb, dtype=np.float64).reshape(Xb.shape[0], -1)
    d = Xb.shape[1]
    sq = np.zeros((alphas.size, Yb.shape[1]))
    info = PathInfo()
    for i in range(Xb.shape[0]):
        s = 1.0 if sb is None else float(sb[i])
        if s == 0.0:  # its squared held-out residual counts with weight 0
            continue
        x, y = Xb[i], Yb[i]
        z = np.concatenate([x - shift[:d], y - shift[d:], [1.0]])
        train = gram - s * np.outer(z, z)
        W, b = train_path(train, shift, alphas, d, fit_intercept, True, info, fixed)
        e = y[None, :] - (np.einsum("d,adk->ak", x, W) + b)
        sq += s * e * e
    return sq


def check_width(width: int, what: str) -> None:
    """LinearRegressionCV solves from d x d Grams: a NotImplementedError where
    three of them would pass ``CV_GRAM_MAX_BYTES`` (``what`` names the width,
    e.g. "X has 30000 features"). The time grows as d^3 (one eigendecomposition
    per fold, or one for leave-one-out): 2,000 columns take about a second."""
    need = 3 * (width + 2) ** 2 * 8
    if need > CV_GRAM_MAX_BYTES:
        raise NotImplementedError(
            f"LinearRegressionCV solves from d x d Grams, here {need / 2**30:.1f} GiB of them "
            f"({what}), more than its limit of {CV_GRAM_MAX_BYTES / 2**30:.0f} GiB; for such "
            "wide data use cv=int on a numpy X (lbfgs along the grid), or loop over alphas with "
            "LinearRegression(solver='lbfgs', coef_init=...)"
        )
