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
    #: The factor ``regression_statistics`` reads (newton's Gram factor, qr's R),
    #: when the solve produced one.
    factor: dict[str, Any] | None = None

    @classmethod
    def from_core(cls, out: Any, factor: dict[str, Any] | None = None) -> SolveResult:
        """From the ``_core.FitResult`` of ``fit``, ``fit_qr``, ``solve_stats``,
        ``solve_r``, ``minimize`` or ``_cuda.fit``."""
        return cls(
            coef=np.asarray(out.coef, dtype=np.float64),
            intercept=float(out.intercept),
            n_iter=int(out.n_iter),
            loss_history=np.asarray(out.loss_history, dtype=np.float64),
            n_passes=int(out.n_passes),
            converged=bool(out.converged),
            singular=bool(out.singular),
            rank=int(out.rank),
            condition_estimate=float(out.condition_estimate),
            grad_norm=float(out.grad_norm),
            message=str(out.message),
            notes=str(out.notes),
            precision=out.precision or None,
            precision_reason=out.precision_reason or None,
            factor=factor,
        )
