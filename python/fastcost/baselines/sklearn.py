"""scikit-learn baselines: the exact ``LinearRegression`` and ``SGDRegressor``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from fastcost.compare.result import RunResult, scores, warm_up_and_measure

__all__ = ["run_sklearn_lr", "run_sklearn_sgd"]

#: Rows of the unmeasured warm-up fit.
_WARMUP_ROWS = 200


def _limit_threads(threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS/OpenMP pools for the block; scikit-learn has no other thread knob here."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def _measured_run(
    fit: Callable[[np.ndarray, np.ndarray], Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    threads: int | None,
    repeat: int,
    price_per_hour: float | None,
) -> tuple[Any, dict[str, Any]]:
    """The measurement steps for a scikit-learn estimator, BLAS threads limited throughout.

    Returns the fitted estimator of the reported run and the :class:`RunResult`
    fields measured (report, test scores, wall times).
    """
    with _limit_threads(threads):
        report, est, walls, warmup = warm_up_and_measure(
            fit, X_train, y_train, _WARMUP_ROWS, repeat=repeat, price_per_hour=price_per_hour
        )
        mse, r2 = scores(y_test, est.predict(X_test))
    measured = {
        "report": report,
        "test_mse": mse,
        "r2": r2,
        "wall_times_s": walls,
        "warmup_s": warmup,
    }
    return est, measured


def run_sklearn_lr(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    threads: int | None = None,
    price_per_hour: float | None = None,
    repeat: int = 1,
) -> RunResult:
    """Fit :class:`sklearn.linear_model.LinearRegression` (least squares via LAPACK).

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
    threads : int, optional
        BLAS threads, set with ``threadpoolctl`` around warm-up and fit.
    price_per_hour : float, optional
    repeat : int, default=1
        Measured fits; the median-wall one is reported.

    Returns
    -------
    RunResult
        Named ``"sklearn-lr"``.
    """
    from sklearn.linear_model import LinearRegression

    est, measured = _measured_run(
        lambda X, y: LinearRegression().fit(X, y),
        X_train,
        y_train,
        X_test,
        y_test,
        threads=threads,
        repeat=repeat,
        price_per_hour=price_per_hour,
    )
    return RunResult(
        name="sklearn-lr",
        **measured,
        loss_history=[],
        n_iter=None,
        coef=np.asarray(est.coef_, dtype=np.float64).ravel(),
        intercept=float(est.intercept_),
        params={
            "library": "scikit-learn",
            "estimator": "LinearRegression",
            "dtype": X_train.dtype.name,
            "threads": threads,
        },
    )


def run_sklearn_sgd(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    epochs: int = 10,
    learning_rate: float = 0.01,
    seed: int = 0,
    coef_init: np.ndarray | None = None,
    intercept_init: float | None = None,
    threads: int | None = None,
    price_per_hour: float | None = None,
    repeat: int = 1,
) -> RunResult:
    """Fit :class:`sklearn.linear_model.SGDRegressor` as close to the Keras recipe as it goes.

    Settings: squared-error loss, no penalty, constant learning rate
    ``eta0=learning_rate``, ``max_iter=epochs`` with ``tol=None`` (so exactly
    ``epochs`` epochs), reshuffling every epoch.

    The match is loose, and the runner says so: ``SGDRegressor`` updates the
    weights after *every sample* (batch size 1, i.e. ``n`` steps per epoch
    instead of ``n / batch_size``), and its loss is ``(y - p)² / 2``, so a step
    of ``eta0`` on it is a step of ``eta0 / 2`` on Keras' MSE. It runs in
    float64 whatever the input dtype and is single-threaded.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
    epochs : int, default=10
    learning_rate : float, default=0.01
    seed : int, default=0
        ``random_state`` (the shuffle).
    coef_init, intercept_init : optional
        Starting point, e.g. TensorFlow's initial weights.
    threads : int, optional
        BLAS threads (only the prediction uses BLAS).
    price_per_hour : float, optional
    repeat : int, default=1

    Returns
    -------
    RunResult
        Named ``"sklearn-sgd"``; ``loss_history`` is empty (SGDRegressor only
        prints its per-epoch loss).
    """
    from sklearn.linear_model import SGDRegressor

    def make() -> SGDRegressor:
        return SGDRegressor(
            loss="squared_error",
            penalty=None,
            learning_rate="constant",
            eta0=learning_rate,
            max_iter=epochs,
            tol=None,
            shuffle=True,
            random_state=seed,
        )

    fit_kwargs: dict[str, Any] = {}
    if coef_init is not None:
        fit_kwargs["coef_init"] = np.asarray(coef_init, dtype=np.float64).ravel()
        fit_kwargs["intercept_init"] = np.array([float(intercept_init or 0.0)])

    est, measured = _measured_run(
        lambda X, y: make().fit(X, y, **fit_kwargs),
        X_train,
        y_train,
        X_test,
        y_test,
        threads=threads,
        repeat=repeat,
        price_per_hour=price_per_hour,
    )
    return RunResult(
        name="sklearn-sgd",
        **measured,
        loss_history=[],
        n_iter=int(est.n_iter_),
        coef=np.asarray(est.coef_, dtype=np.float64).ravel(),
        intercept=float(np.ravel(est.intercept_)[0]),
        initial_coef=fit_kwargs.get("coef_init"),
        initial_intercept=None
        if "intercept_init" not in fit_kwargs
        else float(fit_kwargs["intercept_init"][0]),
        params={
            "library": "scikit-learn",
            "estimator": "SGDRegressor",
            "epochs": epochs,
            "learning_rate": learning_rate,
            "batch_size": 1,
            "dtype": "float64",
            "threads": threads,
            "seed": seed,
        },
    )
