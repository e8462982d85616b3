"""scikit-learn baselines: the exact ``LinearRegression`` and ``SGDRegressor``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fastcost.compare.result import RunResult, measure_estimator

__all__ = ["run_sklearn_lr", "run_sklearn_sgd"]


def _measure(
    name: str, fit: Callable[[Any, Any], Any], split: tuple[np.ndarray, ...],
    threads: int | None, repeat: int, price_per_hour: float | None, **fields: Any,
) -> RunResult:  # fmt: skip
    """:func:`~fastcost.compare.result.measure_estimator` (a warm-up fit on the whole
    training set, then the measured fits), the BLAS/OpenMP pools limited to
    ``threads`` (None: as they are) throughout."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return measure_estimator(
            name, fit, *split, repeat=repeat, price_per_hour=price_per_hour, **fields
        )


def run_sklearn_lr(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, *,
    threads: int | None = None, price_per_hour: float | None = None, repeat: int = 1,
) -> RunResult:  # fmt: skip
    """Fit :class:`sklearn.linear_model.LinearRegression` (least squares via LAPACK).

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The split.
    threads : int, optional
        BLAS threads, set with ``threadpoolctl`` around warm-up, fits and scoring.
    price_per_hour, repeat
        See :func:`~fastcost.compare.result.measure_repeated`.

    Returns
    -------
    RunResult
        Named ``"sklearn-lr"``.
    """
    from sklearn.linear_model import LinearRegression

    return _measure(
        "sklearn-lr", lambda X, y: LinearRegression().fit(X, y),
        (X_train, y_train, X_test, y_test), threads, repeat, price_per_hour,
        params={
            "library": "scikit-learn", "estimator": "LinearRegression",
            "dtype": X_train.dtype.name, "threads": threads,
        },
    )  # fmt: skip


def run_sklearn_sgd(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, *,
    epochs: int = 10, learning_rate: float = 0.01, seed: int = 0,
    coef_init: np.ndarray | None = None, intercept_init: float | None = None,
    threads: int | None = None, price_per_hour: float | None = None, repeat: int = 1,
) -> RunResult:  # fmt: skip
    """Fit :class:`sklearn.linear_model.SGDRegressor` as close to the Keras recipe as it goes.

    Squared error, no penalty, constant step ``eta0=learning_rate``, exactly
    ``epochs`` epochs (``tol=None``), reshuffled every epoch. The match is loose:
    it updates after every sample (batch size 1), its loss ``(y - p)² / 2``
    halves the step on Keras' MSE, and it runs single-threaded in float64.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The split.
    epochs, learning_rate, seed : int, float, int
        The recipe; ``random_state`` (the shuffle).
    coef_init, intercept_init : optional
        Starting point, e.g. :func:`fastcost.compare.runners.shared_start`. Never
        written to: every fit (warm-up and measured) trains a copy of its own.
    threads, price_per_hour, repeat
        As in :func:`run_sklearn_lr` (only the prediction uses BLAS).

    Returns
    -------
    RunResult
        Named ``"sklearn-sgd"``; ``loss_history`` is empty (SGDRegressor only prints
        it); ``initial_coef`` / ``initial_intercept`` are the start, as given.
    """
    from sklearn.linear_model import SGDRegressor

    # SGDRegressor.fit trains coef_init in place: keep the start in an array of
    # our own (recorded in the result) and hand each fit a fresh copy of it.
    w0 = None if coef_init is None else np.array(coef_init, dtype=np.float64).ravel()
    b0 = None if w0 is None else float(intercept_init or 0.0)

    def fit(X: np.ndarray, y: np.ndarray) -> SGDRegressor:
        # A copy of d + 1 numbers: negligible inside the timing.
        start = {} if w0 is None else {"coef_init": w0.copy(), "intercept_init": np.array([b0])}
        return SGDRegressor(
            loss="squared_error", penalty=None, learning_rate="constant", eta0=learning_rate,
            max_iter=epochs, tol=None, shuffle=True, random_state=seed,
        ).fit(X, y, **start)  # fmt: skip

    return _measure(
        "sklearn-sgd", fit, (X_train, y_train, X_test, y_test), threads, repeat, price_per_hour,
        initial_coef=w0, initial_intercept=b0,
        params={
            "library": "scikit-learn", "estimator": "SGDRegressor", "epochs": epochs,
            "learning_rate": learning_rate, "batch_size": 1, "dtype": "float64",
            "threads": threads, "seed": seed,
        },
    )  # fmt: skip
