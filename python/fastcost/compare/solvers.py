"""fastcost's own rows: :class:`fastcost.LinearRegression` with each solver, on
this machine (:func:`run_fastcost`) or on a Dask cluster (:func:`run_dask`).

Both follow the measurement steps of :mod:`fastcost.compare.result`.
``fastcost.dask`` (and with it dask and distributed) is imported only when
:func:`run_dask` runs.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from fastcost.compare.result import (
    RunResult,
    measure_repeated,
    scores,
    warm_up_and_measure,
    warmup_rows,
)
from fastcost.linear_model import SOLVERS, LinearRegression
from fastcost.resources import add_throughput, solver_flops

__all__ = ["fastcost_solvers", "run_dask", "run_fastcost"]


def fastcost_solvers() -> tuple[str, ...]:
    """fastcost's solvers, as :data:`fastcost.linear_model.SOLVERS` lists them.

    Returns
    -------
    tuple of str
        Without ``"auto"``, which picks one of the others.
    """
    return tuple(s for s in SOLVERS if s != "auto")


def run_fastcost(
    solver: str,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 100,
    learning_rate: float = 0.01,
    seed: int = 0,
    threads: int | None = None,
    price_per_hour: float | None = None,
    repeat: int = 1,
    coef_init: np.ndarray | None = None,
    intercept_init: float | None = None,
    **params: Any,
) -> RunResult:
    """Fit :class:`fastcost.LinearRegression` with ``solver`` and measure it.

    Parameters
    ----------
    solver : str
        One of ``fastcost.linear_model.SOLVERS``.
    X_train, y_train, X_test, y_test : ndarray
        The split; ``X`` is used in its own dtype (float32 or float64).
    epochs, batch_size, learning_rate : optional
        The SGD recipe; used by ``solver="sgd"`` only (``epochs`` is its
        ``max_iter``).
    seed : int, default=0
        ``random_state`` (the SGD shuffle).
    threads : int, optional
        ``n_threads`` of the estimator; None uses all cores.
    price_per_hour : float, optional
        Turns wall time into ``report.cost``.
    repeat : int, default=1
        Measured fits; the median-wall one is reported.
    coef_init, intercept_init : optional
        Starting point for ``sgd`` (e.g. TensorFlow's initial weights).
    **params
        More :class:`~fastcost.linear_model.LinearRegression` parameters
        (``alpha``, ``tol``, ``max_iter``, ``prune``, ...).

    Returns
    -------
    RunResult
        Named ``"fastcost-<solver>"``; ``report`` has ``passes``,
        ``bytes_read``, ``flops`` and the rates filled in.
    """
    kwargs: dict[str, Any] = {"alpha": 0.0, "random_state": seed, "n_threads": threads}
    fit_kwargs: dict[str, Any] = {}
    if solver == "sgd":
        kwargs.update(max_iter=epochs, batch_size=batch_size, learning_rate=learning_rate)
        if coef_init is not None:
            fit_kwargs["coef_init"] = np.asarray(coef_init, dtype=X_train.dtype).ravel()
            fit_kwargs["intercept_init"] = float(intercept_init or 0.0)
    kwargs.update(params)

    report, est, walls, warmup = warm_up_and_measure(
        lambda X, y: LinearRegression(solver=solver, **kwargs).fit(X, y, **fit_kwargs),
        X_train,
        y_train,
        warmup_rows(X_train.shape[0], batch_size),
        repeat=repeat,
        price_per_hour=price_per_hour,
    )
    n, d = X_train.shape
    n_passes = float(getattr(est, "n_passes_", float("nan")))
    n_iter = getattr(est, "n_iter_", None)
    n_iter = None if n_iter is None else int(np.max(n_iter))
    if math.isfinite(n_passes):
        add_throughput(
            report,
            n_passes,
            X_train.nbytes + y_train.nbytes,
            solver_flops(solver, n, d, n_passes, n_iter),
        )
    mse, r2 = scores(y_test, est.predict(X_test))
    history = getattr(est, "loss_history_", None)
    return RunResult(
        name=f"fastcost-{solver}",
        report=report,
        test_mse=mse,
        r2=r2,
        loss_history=[] if history is None else [float(v) for v in np.ravel(history)],
        n_iter=n_iter,
        coef=np.asarray(est.coef_, dtype=np.float64).ravel(),
        intercept=float(np.ravel(est.intercept_)[0]),
        initial_coef=fit_kwargs.get("coef_init"),
        initial_intercept=fit_kwargs.get("intercept_init"),
        params={
            "library": "fastcost",
            "solver": solver,
            "dtype": X_train.dtype.name,
            "threads": threads,
            "seed": seed,
            **{k: v for k, v in kwargs.items() if k != "random_state"},
        },
        wall_times_s=walls,
        warmup_s=warmup,
    )


def run_dask(
    solver: str,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    scheduler: str | None = None,
    client: Any = None,
    timeout: float = 10.0,
    n_chunks: int | None = None,
    price_per_hour: float | None = None,
    repeat: int = 1,
    **params: Any,
) -> RunResult:
    """Fit :class:`fastcost.dask.LinearRegression` on a cluster and measure it.

    The training data are sent to the cluster and persisted once, outside the
    measurement, as a fit on data that already live on the workers would find
    them. Resources are those of this (client) process: the workers' CPU time
    and memory are not in the report.

    Parameters
    ----------
    solver : str
        One of ``fastcost.dask.DASK_SOLVERS``.
    X_train, y_train, X_test, y_test : ndarray
        The split, in memory here; ``X_test`` is scored here.
    scheduler : str, optional
        Address of the Dask scheduler, e.g. ``"tcp://host:8786"``.
    client : distributed.Client, optional
        A client to use instead of ``scheduler``.
    timeout : float, default=10.0
        Seconds to wait for the scheduler.
    n_chunks : int, optional
        Row chunks of the training data; default one per worker.
    price_per_hour : float, optional
        Turns wall time into ``report.cost``.
    repeat : int, default=1
        Measured fits; the median-wall one is reported.
    **params
        More :class:`~fastcost.dask.LinearRegression` parameters.

    Returns
    -------
    RunResult
        Named ``"fastcost-dask-<solver>"``.

    Raises
    ------
    ImportError
        When dask or distributed is missing, with the extra to install.
    """
    from fastcost.dask import LinearRegression as DaskLinearRegression
    from fastcost.dask import connect

    with connect(client, scheduler, timeout) as c:  # imports dask, or says what to install
        import dask.array as da

        n_workers = max(1, len(c.scheduler_info(n_workers=-1)["workers"]))
        chunks = n_chunks or n_workers
        rows = max(1, -(-X_train.shape[0] // chunks))
        X = c.persist(da.from_array(X_train, chunks=(rows, -1)))
        y = c.persist(da.from_array(y_train, chunks=(rows,)))
        kwargs: dict[str, Any] = {"alpha": 0.0, "n_threads": None, **params}

        def make() -> DaskLinearRegression:
            return DaskLinearRegression(solver=solver, client=c, **kwargs)

        t0 = time.perf_counter()
        make().fit(X[: min(rows, 200)], y[: min(rows, 200)])
        warmup = time.perf_counter() - t0
        report, est, walls = measure_repeated(
            lambda: make().fit(X, y), repeat=repeat, price_per_hour=price_per_hour
        )
    mse, r2 = scores(y_test, est.predict(X_test))
    return RunResult(
        name=f"fastcost-dask-{solver}",
        report=report,
        test_mse=mse,
        r2=r2,
        loss_history=[float(v) for v in est.loss_history_],
        n_iter=int(est.n_iter_),
        coef=np.asarray(est.coef_, dtype=np.float64),
        intercept=float(est.intercept_),
        params={
            "library": "fastcost.dask",
            "solver": solver,
            "dtype": X_train.dtype.name,
            "scheduler": scheduler or ("client" if client is not None else "local"),
            "workers": n_workers,
            "chunks": int(est.n_chunks_),
            **kwargs,
        },
        wall_times_s=walls,
        warmup_s=warmup,
    )
