"""Non-negative least squares from the one-pass augmented Gram (``positive=True``).

The newton solver's single pass over the data produces the weighted Gram ``G`` of the
rows ``z_i = [x_i - c, y_i - c_y, 1]``.  Everything Lawson and Hanson's active-set
method needs is expressible through the normal-equation matrix ``A`` and vector ``b``
built from ``G`` (the gradient of ``w' A w / 2 - b' w`` is ``A w - b``, and each
passive-set subproblem is ``A[P, P] z = b[P]``), so the constrained fit never
touches the data again.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import LinAlgError, cholesky, solve_triangular

from .exceptions import NonFiniteError

__all__ = ["nnls_from_gram"]

_EPS = float(np.finfo(np.float64).eps)
# A column whose Schur pivot against the passive columns is below this fraction of its
# diagonal (the squared sine of its angle to their span) is treated as linearly
# dependent on them: forming A squares the condition number, so beyond this point the
# passive solve would be rounding noise.
_DEPENDENT_RTOL = 1e4 * _EPS
# A centred (or raw) second moment this small next to the moments it was computed from
# is cancellation noise: the column is constant (or zero) and gets coefficient 0.
_CONSTANT_RTOL = 1e3 * _EPS
# Largest |G - G'| accepted, relative to max |G|, before the input is called asymmetric.
_SYMMETRY_RTOL = 1e-10

FloatArray = NDArray[np.float64]


class _PassiveCholesky:
    """Lower Cholesky factor of ``A[P, P]`` for an ordered passive set ``P``.

    Adding a column appends one row (O(p^2)); removing columns keeps the rows in front
    of the first removed one and refactors only the trailing Schur complement.
    """

    def __init__(self, a: FloatArray) -> None:
        self.a = a
        self.idx: list[int] = []
        self.low: FloatArray = np.zeros((0, 0))

    def add(self, j: int) -> bool:
        """Append column ``j``; return False (and leave P alone) if it is dependent."""
        p = len(self.idx)
        row = (
            solve_triangular(self.low, self.a[self.idx, j], lower=True, check_finite=False)
            if p
            else np.zeros(0)
        )
        pivot = float(self.a[j, j] - row @ row)
        if pivot <= _DEPENDENT_RTOL * self.a[j, j]:
            return False
        low = np.zeros((p + 1, p + 1))
        low[:p, :p] = self.low
        low[p, :p] = row
        low[p, p] = math.sqrt(pivot)
        self.low = low
        self.idx.append(j)
        return True

    def remove(self, drop: set[int]) -> list[int]:
        """Remove the columns in ``drop``.

        Returns the further columns that had to leave because, with rounding, they
        became dependent on the ones kept (their coefficients must be zeroed).
        """
        first = min(pos for pos, j in enumerate(self.idx) if j in drop)
        keep_pos = [pos for pos in range(first, len(self.idx)) if self.idx[pos] not in drop]
        tail = [self.idx[pos] for pos in keep_pos]
        l31 = self.low[keep_pos, :first]
        head_low = self.low[:first, :first]
        self.idx = self.idx[:first]
        self.low = head_low
        if not tail:
            return []
        # The Cholesky factor of the kept trailing block is that of its Schur
        # complement against the unchanged leading block.
        schur = self.a[np.ix_(tail, tail)] - l31 @ l31.T
        try:
            l33 = cholesky(schur, lower=True, check_finite=False)
        except LinAlgError:
            l33 = None
        if l33 is not None and np.all(np.diag(l33) ** 2 > _DEPENDENT_RTOL * self.a[tail, tail]):
            q = first + len(tail)
            low = np.zeros((q, q))
            low[:first, :first] = head_low
            low[first:, :first] = l31
            low[first:, first:] = l33
            self.low = low
            self.idx.extend(tail)
            return []
        # Rare: rounding made the kept block singular.  Re-add one at a time, which
        # drops exactly the columns that no longer add a direction.
        return [j for j in tail if not self.add(j)]

    def solve(self, b: FloatArray) -> FloatArray:
        """Solve ``A[P, P] z = b[P]``."""
        half = solve_triangular(self.low, b[self.idx], lower=True, check_finite=False)
        return solve_triangular(self.low, half, lower=True, trans="T", check_finite=False)


def _step_to_boundary(w_p: FloatArray, z: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Move from ``w_p`` towards ``z`` until the first coefficient reaches zero.

    Returns the new passive coefficients and the mask of those that left P.
    """
    neg = z <= 0
    denom = w_p[neg] - z[neg]
    ratio = np.divide(w_p[neg], denom, out=np.zeros_like(denom), where=denom > 0)
    hit = int(np.argmin(ratio))
    new = w_p + ratio[hit] * (z - w_p)
    out = new <= 0
    # The blocking coefficient is exactly zero in exact arithmetic; force it so that
    # rounding cannot leave it as a tiny positive value and stall the loop.
    out[np.flatnonzero(neg)[hit]] = True
    return np.where(out, 0.0, new), out


def _inner_loop(
    chol: _PassiveCholesky, b: FloatArray, w: FloatArray, iterations: int, max_iter: int
) -> tuple[int, str]:
    """Lawson-Hanson inner loop after the last column of ``chol`` was added.

    Returns the iteration count and ``"accepted"``, ``"rejected"`` (the new column's
    passive solution was not positive: in exact arithmetic impossible, so its positive
    gradient was rounding noise; it is removed and ``w`` is unchanged) or
    ``"exhausted"`` (max_iter reached, ``w`` feasible but not optimal).
    """
    first = True
    while True:
        iterations += 1
        z = chol.solve(b)
        if first and z[-1] <= 0:
            chol.remove({chol.idx[-1]})
            return iterations, "rejected"
        first = False
        idx = np.asarray(chol.idx)
        if np.all(z > 0):
            w[idx] = z
            return iterations, "accepted"
        w_p, out = _step_to_boundary(w[idx], z)
        w[idx] = w_p
        dropped = set(idx[out].tolist())
        dropped.update(chol.remove(dropped))
        w[list(dropped)] = 0.0
        if iterations >= max_iter:
            return iterations, "exhausted"


class _Target(NamedTuple):
    """One target's problem ``min w' a w / 2 - b' w``, ``w >= 0``, with error scales."""

    a: FloatArray
    a_mag: FloatArray  # |terms| A was computed from: bounds its rounding error
    b: FloatArray
    b_mag: FloatArray
    free: NDArray[np.bool_]  # non-constant columns
    scale: FloatArray  # sqrt(A_jj var(y)), the largest |gradient| of column j


def _pick(prob: _Target, g: FloatArray, w: FloatArray, skip: NDArray[np.bool_], tol: float) -> int:
    """Column with the largest scaled gradient above ``tol``, or -1 if there is none.

    Candidates whose gradient is within its rounding bound are marked in ``skip``:
    there the sign of the gradient says nothing.  The bound costs O(d) per column, so
    it is evaluated only for the columns that would be chosen.
    """
    score = np.full(g.shape[0], -np.inf)
    with np.errstate(over="ignore", divide="ignore"):
        np.divide(g, prob.scale, out=score, where=~skip & (g > 0))
    rounding = 10.0 * (np.count_nonzero(w) + 1) * _EPS
    while True:
        j = int(np.argmax(score))
        if not score[j] > tol:
            return -1
        # |error of g_j| <= ~p eps (|b_j| + sum_i |A_ji| w_i), w >= 0.
        if g[j] > rounding * (prob.b_mag[j] + prob.a_mag[j] @ w):
            return j
        skip[j] = True
        score[j] = -np.inf


def _solve_target(prob: _Target, tol: float, max_iter: int) -> tuple[FloatArray, int, int, bool]:
    """Lawson-Hanson active-set solve; returns ``(w, iterations, passive size, converged)``."""
    a, b = prob.a, prob.b
    w = np.zeros(b.shape[0])
    chol = _PassiveCholesky(a)
    # Columns not to try again until the passive set changes (dependent on it, or with
    # a positive gradient that proved to be rounding noise); constant ones never.
    blocked = ~prob.free
    iterations = 0
    while True:
        idx = chol.idx
        # A is symmetric and w is zero outside P: gathering the passive rows is the
        # cheap way to form A w, the one O(d p) step of an iteration.
        g = b - w[idx] @ a[idx] if idx else b.copy()
        skip = blocked.copy()
        skip[idx] = True
        j = _pick(prob, g, w, skip, tol)
        if j < 0:
            return w, iterations, len(idx), True
        if iterations >= max_iter:
            return w, iterations, len(idx), False
        blocked |= skip  # noise-level gradients stay out until P changes
        blocked[idx] = False
        if not chol.add(j):
            blocked[j] = True
            continue
        iterations, status = _inner_loop(chol, b, w, iterations, max_iter)
        if status == "exhausted":
            return w, iterations, len(chol.idx), False
        if status == "accepted":
            blocked = ~prob.free
        else:
            blocked[j] = True


def _validate(
    gram: ArrayLike, shift: ArrayLike, alpha: float, n_targets: int
) -> tuple[FloatArray, FloatArray, float, int, int]:
    """Check the statistics; return ``(G, shift, alpha, d, k)``."""
    k = operator.index(n_targets)
    if k < 1:
        raise ValueError(f"n_targets must be >= 1, got {k}")
    G = np.asarray(gram, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"gram must be a square 2-D array, got shape {G.shape}")
    d = G.shape[0] - k - 1
    if d < 1:
        raise ValueError(
            f"gram of shape {G.shape} with n_targets={k} leaves no features "
            "(expected (d + n_targets + 1) x (d + n_targets + 1), d >= 1)"
        )
    c = np.asarray(shift, dtype=np.float64)
    if c.shape != (d + k,):
        raise ValueError(f"shift must have shape ({d + k},), got {c.shape}")
    alpha = float(alpha)
    if not (np.all(np.isfinite(G)) and np.all(np.isfinite(c)) and math.isfinite(alpha)):
        raise NonFiniteError("gram, shift and alpha must be finite (found NaN or inf)")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    if not G[-1, -1] > 0:
        raise ValueError(f"gram[-1, -1] (the sum of sample weights) must be > 0, got {G[-1, -1]}")
    if np.any(np.diag(G) < 0):
        raise ValueError("gram has a negative diagonal entry: not a weighted Gram matrix")
    if np.max(np.abs(G - G.T)) > _SYMMETRY_RTOL * np.max(np.abs(G)):
        raise ValueError("gram is not symmetric")
    return 0.5 * (G + G.T), c, alpha, d, k


class _Normal(NamedTuple):
    """The scaled normal equations of all targets, with magnitudes for error bounds."""

    a: FloatArray  # (d, d), alpha included
    a_mag: FloatArray  # (d, d): sums of |terms| behind each entry of a
    rhs: FloatArray  # (d, k)
    rhs_mag: FloatArray  # (d, k)
    yy: FloatArray  # (k,) target second moments (centred with an intercept)
    free: NDArray[np.bool_]  # (d,) non-constant columns
    constant: NDArray[np.bool_]  # (k,) constant (or zero) targets
    means: FloatArray  # (d + k,) weighted means of [x, y]


def _normal_equations(
    G: FloatArray, shift: FloatArray, alpha: float, d: int, fit_intercept: bool
) -> _Normal:
    """Recover the (centred or raw) moments of ``[x, y]`` from the shifted Gram."""
    n = G[-1, -1]
    m = G[:-1, -1] / n  # weighted mean of [x, y] - shift
    # In place where possible: at d in the thousands each of these is d^2 doubles.
    moments = G[:-1, :-1] / n
    mag = np.abs(moments)
    if fit_intercept:
        moments -= np.outer(m, m)
        mag += np.outer(np.abs(m), np.abs(m))
    else:
        # Raw moments of [x, y] = ([x, y] - shift) + shift: no centring without b.
        cross = np.outer(m, shift)
        moments += cross
        moments += cross.T
        moments += np.outer(shift, shift)
        np.abs(cross, out=cross)
        mag += cross
        mag += cross.T
        mag += np.outer(np.abs(shift), np.abs(shift))
    diag = np.diag(moments).copy()
    # A second moment lost in cancellation is that of a constant (or zero) column.
    negligible = diag <= _CONSTANT_RTOL * np.diag(mag)
    ridge = np.diag_indices(d)
    moments[ridge] += alpha
    mag[ridge] += alpha
    return _Normal(
        a=moments[:d, :d],
        a_mag=mag[:d, :d],
        rhs=moments[:d, d:],
        rhs_mag=mag[:d, d:],
        yy=np.where(negligible[d:], 0.0, diag[d:]),
        free=~negligible[:d],
        constant=negligible[d:],
        means=shift + m,
    )


def nnls_from_gram(
    gram: ArrayLike,
    shift: ArrayLike,
    alpha: float,
    fit_intercept: bool,
    n_targets: int = 1,
    tol: float | None = None,
    max_iter: int | None = None,
) -> tuple[FloatArray, FloatArray, dict[str, Any]]:
    """Non-negative (ridge) least squares from the augmented weighted Gram.

    Minimises, per target, ``sum_i s_i (x_i' w + b - y_i)^2 / sum(s) + alpha ||w||^2``
    subject to ``w >= 0`` (the intercept ``b`` is free, or 0 without an intercept) by
    Lawson and Hanson's active-set method on the d x d normal equations.

    Parameters
    ----------
    gram : array_like, shape (d + k + 1, d + k + 1)
        ``sum_i s_i z_i z_i'`` with ``z_i = [x_i - c, y_i - c_y, 1]``.
    shift : array_like, shape (d + k,)
        ``[c, c_y]``.
    alpha : float
        L2 penalty (>= 0), on the scale of the mean loss above.
    fit_intercept : bool
        Fit a free intercept (centre with the weighted means) or force it to 0.
    n_targets : int, default 1
        Number ``k`` of target columns in the Gram.
    tol : float, optional
        Stop when every column outside the passive set has a scaled gradient
        ``(b - A w)_j / sqrt(A_jj * var(y))`` at most ``tol``.  Default
        ``10 * d * eps``; rounding noise in the gradient is never taken as progress.
    max_iter : int, optional
        Passive-set solves allowed per target; default ``3 * d``.

    Returns
    -------
    coef : ndarray, shape (k, d)
    intercept : ndarray, shape (k,)
    info : dict
        ``iterations`` and ``passive_size`` (int arrays, one entry per target),
        ``converged`` (bool, all targets) and ``converged_targets`` (bool array).
        A target that hits ``max_iter`` returns its feasible iterate and is flagged
        here rather than raising.

    Raises
    ------
    ValueError
        Wrong shapes, negative alpha, tol or max_iter, non-positive weight sum, an
        asymmetric Gram or (as ``NonFiniteError``) NaN/inf statistics.
    """
    G, c, alpha, d, k = _validate(gram, shift, alpha, n_targets)
    tol = 10.0 * d * _EPS if tol is None else float(tol)
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be finite and >= 0, got {tol}")
    max_iter = 3 * d if max_iter is None else operator.index(max_iter)
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")

    ne = _normal_equations(G, c, alpha, d, bool(fit_intercept))
    coef = np.zeros((k, d))
    iterations = np.zeros(k, dtype=np.int64)
    passive = np.zeros(k, dtype=np.int64)
    converged = np.ones(k, dtype=bool)
    for t in np.flatnonzero(~ne.constant):  # a constant target's slopes are all 0
        prob = _Target(
            a=ne.a,
            a_mag=ne.a_mag,
            b=np.ascontiguousarray(ne.rhs[:, t]),
            b_mag=np.ascontiguousarray(ne.rhs_mag[:, t]),
            free=ne.free,
            scale=np.sqrt(np.diag(ne.a) * ne.yy[t]),
        )
        coef[t], iterations[t], passive[t], converged[t] = _solve_target(prob, tol, max_iter)
    intercept = ne.means[d:] - coef @ ne.means[:d] if fit_intercept else np.zeros(k)
    info = {
        "iterations": iterations,
        "passive_size": passive,
        "converged": bool(converged.all()),
        "converged_targets": converged,
    }
    return coef, intercept, info
