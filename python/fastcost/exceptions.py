"""Warnings and errors raised by fastcost."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "ConvergenceWarning",
    "DivergenceError",
    "IllConditionedWarning",
    "NonFiniteError",
    "RankDeficientWarning",
]


class RankDeficientWarning(UserWarning):
    """The design is rank deficient; the minimum-norm solution was returned."""


class IllConditionedWarning(UserWarning):
    """The normal equations are too ill-conditioned to keep the requested digits."""


class DivergenceError(ValueError, FloatingPointError):
    """An iterative solver diverged (e.g. sgd with too large a learning_rate)."""


class NonFiniteError(ValueError):
    """NaN or infinity in the data, or sums that overflow its dtype.

    The compiled solvers raise it; the estimators re-raise it naming the first
    bad cell (or the overflow) when they can.
    """
