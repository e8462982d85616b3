"""Warnings and errors raised by fastcost."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning

__all__ = ["ConvergenceWarning", "DivergenceError", "IllConditionedWarning", "RankDeficientWarning"]


class RankDeficientWarning(UserWarning):
    """The design is rank deficient; the minimum-norm solution was returned."""


class IllConditionedWarning(UserWarning):
    """The normal equations are too ill-conditioned to keep the requested digits."""


class DivergenceError(ValueError, FloatingPointError):
    """An iterative solver diverged (e.g. sgd with too large a learning_rate)."""
