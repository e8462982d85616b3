"""The status of a row of ``fastcost compare``: ``ok``, ``not converged``,
``diverged`` or ``failed``, each with its reason, and the notes of the warnings
the row raised.

- ``failed``: the row raised (anything but a divergence), or its model gives
  non-finite test predictions from finite weights (values that overflow).
- ``diverged``: the weights or the training loss are not finite, the training
  loss grew from the first epoch to the last, a run with a learning rate (its
  ``params`` name one) predicts the test rows far worse than their mean (R² below
  :data:`DIVERGED_R2`), or the solver raised a divergence error (fastcost's
  :class:`~fastcost.exceptions.DivergenceError`, a ``FloatingPointError``).
- ``not converged``: a ``ConvergenceWarning`` was raised during the row, or an
  SGD recipe (a fixed number of epochs, no stopping rule: its ``params`` name a
  ``batch_size``) still lowered its training loss in the last epoch by more than
  :data:`STILL_FALLING` (10 %), or fell by more than :data:`STEADY_MIN` (1 %) in
  each of the last :data:`STEADY_EPOCHS` (3) epochs, the last fall at least
  :data:`STEADY_FALL` (half) of its mean fall per epoch (a steady descent).
- ``ok``: none of these.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

__all__ = [
    "DIVERGED", "FAILED", "NOT_CONVERGED", "OK", "STATUSES", "classify", "failure_status",
    "one_line", "record_warnings", "status_text",
]  # fmt: skip

OK, NOT_CONVERGED, DIVERGED, FAILED = "ok", "not converged", "diverged", "failed"
#: Every status a row can have, from best to worst.
STATUSES = (OK, NOT_CONVERGED, DIVERGED, FAILED)

#: Relative fall of the training loss in the last epoch that says an SGD recipe
#: has not converged (its result still moves with more epochs).
STILL_FALLING = 0.1

#: A smaller last fall (at least :data:`STEADY_MIN` of the loss) that is still
#: at least this share of the run's mean fall per epoch also says so: the loss
#: goes down at a steady pace, as when a few steps an epoch (a small table, a
#: large batch) have not yet reached the minimum, rather than levelling off.
STEADY_FALL = 0.5
STEADY_MIN = 0.01
STEADY_EPOCHS = 3

#: Test R² below which a run with a learning rate has diverged: its test MSE is
#: more than 11 times the variance of y_test (a model that learned nothing and
#: predicts about the mean has R² near 0).
DIVERGED_R2 = -10.0

#: Warnings that say nothing about the row (library internals); left out of the notes.
_IGNORED = (DeprecationWarning, PendingDeprecationWarning, ImportWarning)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line (whitespace runs collapsed), cut at ``limit`` characters."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 3)].rstrip() + "..."
    return flat


@contextmanager
def record_warnings() -> Iterator[list[str]]:
    """Collect the warnings raised inside the block as notes, instead of showing them.

    Yields a list that holds, once the block ends, one line per distinct
    warning: ``"<Category>: <message>"``, with ``" (x N)"`` when it was raised
    N > 1 times. Deprecation and import warnings are dropped.
    """
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in _IGNORED:
            warnings.filterwarnings("ignore", category=category)
        try:
            yield notes
        finally:
            counts: dict[str, int] = {}
            for w in caught:
                key = f"{w.category.__name__}: {one_line(str(w.message))}"
                counts[key] = counts.get(key, 0) + 1
            notes.extend(k if n == 1 else f"{k} (x{n})" for k, n in counts.items())


def failure_status(exc: BaseException) -> tuple[str, str]:
    """Status and reason of a row that raised ``exc``: a FloatingPointError (fastcost's
    DivergenceError among them) or scikit-learn SGD's "Floating-point under-/overflow
    occurred at epoch" is a divergence, anything else a failure."""
    reason = one_line(f"{type(exc).__name__}: {exc}")
    diverged = isinstance(exc, FloatingPointError) or "overflow occurred at epoch" in str(exc)
    return (DIVERGED if diverged else FAILED), reason


class Fitted(Protocol):
    """What :func:`classify` reads of a :class:`~fastcost.compare.result.RunResult`."""

    coef: np.ndarray
    intercept: float
    loss_history: list[float]
    test_mse: float
    r2: float
    params: dict[str, Any]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _loss_status(history: Sequence[float]) -> tuple[str, str] | None:
    """Divergence read from the per-epoch training loss, or None."""
    for epoch, value in enumerate(history, 1):
        if not math.isfinite(value):
            return DIVERGED, f"training loss is {value} from epoch {epoch} on"
    if len(history) >= 2 and history[-1] > history[0]:
        return DIVERGED, (
            f"training loss grew from {_fmt(history[0])} (epoch 1) to {_fmt(history[-1])} "
            f"(epoch {len(history)}); lower the learning rate"
        )
    return None


def _steady(history: Sequence[float]) -> bool:
    """Each of the last :data:`STEADY_EPOCHS` epochs lowered the loss by more than
    :data:`STEADY_MIN` of its value before, and the run lowered it overall (a
    descent, not a noisy plateau's last dip)."""
    if len(history) <= STEADY_EPOCHS or not history[-1] < history[0]:
        return False
    tail = history[-STEADY_EPOCHS - 1 :]
    return all(b - a > STEADY_MIN * b for b, a in zip(tail[:-1], tail[1:], strict=True))


def _still_falling(history: Sequence[float]) -> tuple[str, str] | None:
    """``not converged`` when the last epoch lowered the loss by more than
    :data:`STILL_FALLING` of its value before, or the loss fell steadily
    (:func:`_steady`) and the last fall is at least :data:`STEADY_FALL` of the
    mean fall per epoch, and in
    both cases by more than a millionth of the first epoch's loss (a loss that
    shrinks towards zero on exact data is done once it is that small), else None."""
    if len(history) < 2:
        return None
    before, last = history[-2], history[-1]
    drop = before - last
    if drop <= 1e-6 * history[0]:
        return None
    mean_drop = (history[0] - last) / (len(history) - 1)
    if drop > STILL_FALLING * before:
        pace = ""
    elif _steady(history) and drop >= STEADY_FALL * mean_drop:
        pace = f", {drop / mean_drop:.0%} of its mean fall per epoch"
    else:
        return None
    return NOT_CONVERGED, (
        f"training loss still fell {drop / before:.0%} in the last epoch "
        f"({_fmt(before)} to {_fmt(last)}{pace}); more epochs would change the result"
    )


def classify(res: Fitted, notes: Sequence[str] = ()) -> tuple[str, str]:
    """Status and reason of a row that ran, from its result and its warnings' ``notes``."""
    weights_finite = bool(np.isfinite(res.coef).all()) and math.isfinite(res.intercept)
    from_loss = _loss_status(res.loss_history)
    if not weights_finite:
        why = from_loss[1] if from_loss else "the fitted weights are not finite"
        return DIVERGED, why
    if from_loss is not None:
        return from_loss
    stepped = res.params.get("learning_rate") is not None
    if stepped and math.isfinite(res.test_mse) and res.r2 < DIVERGED_R2:
        return DIVERGED, (
            f"test R2 is {_fmt(res.r2)} (test MSE {_fmt(res.test_mse)}): far worse than "
            "predicting the mean; lower the learning rate"
        )
    if not math.isfinite(res.test_mse):
        return FAILED, (
            f"test MSE is {res.test_mse}: the weights are finite but the test predictions "
            "overflow; rescale or standardize X and y"
        )
    converge = [n for n in notes if n.startswith("ConvergenceWarning")]
    if converge:
        return NOT_CONVERGED, converge[0].removeprefix("ConvergenceWarning: ")
    recipe = res.params.get("batch_size") is not None  # fixed epochs, no stopping rule
    return (_still_falling(res.loss_history) if recipe else None) or (OK, "")


def status_text(status: str, reason: str, limit: int | None = None) -> str:
    """``status`` or ``"status: reason"``, on one line, cut at ``limit`` characters."""
    return one_line(f"{status}: {reason}" if reason else status, limit)
