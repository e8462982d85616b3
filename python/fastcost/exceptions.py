"""Warnings and errors raised by fastcost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "ConvergenceWarning",
    "DivergenceError",
    "IllConditionedWarning",
    "NonFiniteError",
    "RankDeficientWarning",
    "SolverNotAvailableError",
]


class RankDeficientWarning(UserWarning):
    """The design is rank deficient; the minimum-norm solution was returned."""


class IllConditionedWarning(UserWarning):
    """The normal equations are too ill-conditioned to keep the requested digits."""


class DivergenceError(ValueError, FloatingPointError):
    """An iterative solver diverged (e.g. sgd with too large a learning_rate)."""


class SolverNotAvailableError(NotImplementedError, TypeError):
    """The solver cannot run on this kind of input (e.g. qr on scipy.sparse X, whose
    factor would densify it). A TypeError too, as scikit-learn expects of an
    estimator refusing an input type."""


class NonFiniteError(ValueError):
    """NaN or infinity in the data, or sums that overflow its dtype.

    The compiled solvers raise it; the estimators re-raise it naming the first
    bad cell (or the overflow) when they can.
    """


def __getattr__(name: str) -> Any:
    # scikit-learn's ConvergenceWarning, imported on first use: the compiled
    # module and the Dask worker tasks raise NonFiniteError without loading
    # scikit-learn.
    if name == "ConvergenceWarning":
        from sklearn.exceptions import ConvergenceWarning

        return ConvergenceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
