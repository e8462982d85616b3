"""The typed result of a solve, as the fit pipeline and its backends pass it on."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class SolveResult:
    """What a backend's solve returns: the compiled solvers' result, typed."""

    coef: np.ndarray
    intercept: float
    n_iter: int
    loss_history: np.ndarray
    n_passes: int
    converged: bool
    singular: bool
    rank: int
    condition_estimate: float
    grad_norm: float = 0.0
    message: str = ""
    notes: str = ""
    #: qr: the precision it ran in and why (None for the other solvers).
    precision: str | None = None
    precision_reason: str | None = None
    #: qr_precision='auto' wanted the long double pass but it was past its flop budget.
    extended_skipped: bool = False
    #: The factor ``regression_statistics`` reads (newton's Gram factor, qr's R),
    #: when the solve produced one.
    factor: dict[str, Any] | None = None

    @classmethod
    def from_core(cls, out: Any, factor: dict[str, Any] | None = None) -> SolveResult:
        """From the ``_core.FitResult`` of ``fit``, ``fit_qr``, ``solve_stats``,
        ``solve_r``, ``minimize`` or ``_cuda.fit``."""
        # The bound type's fields are already float64 arrays and Python scalars.
        return cls(
            out.coef,
            out.intercept,
            out.n_iter,
            out.loss_history,
            out.n_passes,
            out.converged,
            out.singular,
            out.rank,
            out.condition_estimate,
            out.grad_norm,
            out.message,
            out.notes,
            out.precision or None,
            out.precision_reason or None,
            out.extended_skipped,
            factor=factor,
        )


def solve_gram(
    gram: np.ndarray, shift: np.ndarray, alpha: float, fit_intercept: bool,
    want_factor: bool = False, n_nonzero: int = 0,
) -> SolveResult:  # fmt: skip
    """newton's solve from its one-pass augmented Gram (``_core.solve_stats``) as
    every backend runs it: one pass, and with ``want_factor`` the Gram's
    Cholesky factor that ``regression_statistics`` reads (``gram_to_factor``)."""
    from . import _core

    factor = None
    if want_factor:
        from ._statistics import gram_to_factor  # scipy.linalg: imported when used

        factor = {"r": gram_to_factor(gram), "shift": shift, "n_nonzero": n_nonzero}
    result = SolveResult.from_core(_core.solve_stats(gram, shift, alpha, fit_intercept), factor)
    result.n_passes = 1
    return result
