"""The rows of ``fastcost compare``: the runner protocol, fastcost's own rows
(:func:`run_fastcost`, :func:`run_dask`), the SGDs' common start
(:func:`shared_start`) and the one registry, :data:`RUNNERS`.

Adding a row is one entry there; the baselines live in :mod:`fastcost.baselines`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fastcost.baselines.sklearn import run_sklearn_lr, run_sklearn_sgd
from fastcost.baselines.tensorflow import TENSORFLOW_HINT, glorot_uniform, run_tensorflow
from fastcost.compare.result import RunResult, measure_estimator
from fastcost.linear_model import SOLVERS, LinearRegression

if TYPE_CHECKING:
    from fastcost.datasets import Dataset

__all__ = [
    "RUNNERS", "Runner", "Settings", "fastcost_solvers", "run_dask", "run_fastcost", "select",
    "shared_start", "valid_solver_names",
]  # fmt: skip

#: The SGDs' starting point: initial coefficients and intercept.
Start = tuple[np.ndarray, float]

#: Seconds ``--scheduler`` has to answer: checked before any fit, and by the Dask rows.
SCHEDULER_TIMEOUT_S = 5.0


def shared_start(n_features: int, seed: int) -> Start:
    """Where every SGD row (TensorFlow's included) starts: Keras' default law for
    ``Dense(1)`` (:func:`~fastcost.baselines.tensorflow.glorot_uniform`, drawn with
    NumPy from ``seed``), rounded to float32 so that every library holds exactly
    these numbers. It depends on nothing but its arguments, so a row starts at the
    same point whichever other rows run."""
    coef, intercept = glorot_uniform(n_features, seed)
    return coef.astype(np.float32).astype(np.float64), float(np.float32(intercept))


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every row is given besides the data: one recipe, one measurement.

    Attributes
    ----------
    threads, seed : int or None, int
        Threads of every library; seed of the initial weights and shuffles.
    epochs, batch_size, learning_rate : int, int, float
        The SGD recipe (Keras' ``fit``).
    repeat, price_per_hour : int, float or None
        Measured fits per row (the median-wall one is reported); the price of an hour.
    prune, scheduler : bool, str or None
        fastcost's solvers drop redundant columns; the Dask rows' scheduler address.
    seeds : int
        The seeded rows (their result moves with the shuffle and the start) run
        with seeds ``seed, seed + 1, ..., seed + seeds - 1``; 1: only ``seed``.
    """

    threads: int | None = None
    seed: int = 0
    epochs: int = 10
    batch_size: int = 100
    learning_rate: float = 0.01
    repeat: int = 1
    price_per_hour: float | None = None
    prune: bool = False
    scheduler: str | None = None
    seeds: int = 1


@dataclasses.dataclass(frozen=True)
class Runner:
    """One row of the comparison.

    Attributes
    ----------
    name, library : str
        The row's label (its name in ``--solvers``) and what it runs, in words.
    fit : callable
        ``fit(X_train, y_train, X_test, y_test, **kwargs) -> RunResult``.
    aliases, in_default_run : tuple of str, bool
        Other names ``--solvers`` accepts; runs when ``--solvers`` is not given.
    baseline : bool
        Baselines run first, in registry order; the other rows in the order asked for.
    cluster_twin_of : str or None
        The local row this one repeats on a Dask cluster: it runs only with a
        scheduler, right after its twin, and is not named in ``--solvers``.
    takes_start : bool
        It starts from the :func:`shared_start` given to :meth:`run`.
    seeded : bool
        Its result moves with ``seed`` (shuffles, start): ``--seeds`` repeats it.
    install_hint : str or None
        An ImportError skips the row with this hint.
    """

    name: str
    library: str
    fit: Callable[..., RunResult]
    aliases: tuple[str, ...] = ()
    baseline: bool = False
    in_default_run: bool = True
    cluster_twin_of: str | None = None
    takes_start: bool = False
    seeded: bool = False
    install_hint: str | None = None

    def run(self, data: Dataset, settings: Settings, start: Start) -> RunResult:
        """Fit, measure and score the row's model: ``fit`` gets the split, the
        :class:`Settings` its signature names, and ``start`` as ``coef_init`` and
        ``intercept_init`` when :attr:`takes_start`.

        ``fit`` gets copies of the split and of the start, made here, before
        anything is measured: a library that writes into its inputs (scikit-learn's
        SGDRegressor trains ``coef_init`` in place) cannot change what another
        row, or this row's next seed, is given.
        """
        accepted = inspect.signature(self.fit).parameters
        kwargs = {k: v for k, v in dataclasses.asdict(settings).items() if k in accepted}
        if self.takes_start:
            kwargs.update(coef_init=np.array(start[0], copy=True), intercept_init=float(start[1]))
        split: tuple[Any, ...] = (data.X_train, data.y_train, data.X_test, data.y_test)
        if data.frames is not None and self.library.startswith("fastcost"):
            # Categorical columns: fastcost fits their codes (the baselines their one-hot
            # columns, as their users would build them): the same model.
            split = (data.frames.train, data.y_train, data.frames.test, data.y_test)
            if "categorical" in accepted:
                kwargs["categorical"] = list(data.frames.categorical)
        return self.fit(*(_copy(a) for a in split), **kwargs)


def _copy(a: Any) -> Any:
    """A copy of its own of an array or a frame (a library may write into its input)."""
    return a.copy(deep=True) if hasattr(a, "columns") else np.array(a, copy=True)


def fastcost_solvers() -> tuple[str, ...]:
    """fastcost's solvers that run by default: :data:`fastcost.linear_model.SOLVERS`
    without ``"auto"``, which picks one of the others."""
    return tuple(s for s in SOLVERS if s != "auto")


def run_fastcost(
    solver: str, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
    *, epochs: int = 10, batch_size: int = 100, learning_rate: float = 0.01, seed: int = 0,
    threads: int | None = None, price_per_hour: float | None = None, repeat: int = 1,
    prune: bool = False, coef_init: np.ndarray | None = None, intercept_init: float | None = None,
    categorical: list[str] | None = None,
) -> RunResult:  # fmt: skip
    """Fit :class:`fastcost.LinearRegression` with ``solver`` and measure it.

    Parameters
    ----------
    solver : str
        One of :data:`fastcost.linear_model.SOLVERS`.
    X_train, y_train, X_test, y_test : ndarray
        The split; ``X`` is used in its own dtype.
    epochs, batch_size, learning_rate : int, int, float
        The SGD recipe, used by ``"sgd"`` only (``epochs`` is its ``max_iter``).
    seed, threads, prune
        ``random_state``, ``n_threads`` (None: all cores) and ``prune`` of the estimator.
    price_per_hour, repeat
        See :func:`~fastcost.compare.result.measure_repeated`.
    coef_init, intercept_init : optional
        Starting point of ``"sgd"`` (e.g. TensorFlow's initial weights).
    categorical : list of str, optional
        ``X_train`` and ``X_test`` are frames with these categorical columns
        (``categorical_features``): fitted as codes, never one-hot.

    Returns
    -------
    RunResult
        Named ``"fastcost-<solver>"``; the report has the passes, bytes, flops and rates.
    """
    kwargs: dict[str, Any] = {"alpha": 0.0, "random_state": seed, "n_threads": threads}
    if categorical:
        kwargs["categorical_features"] = list(categorical)
    dtype = np.dtype(np.float64) if categorical else X_train.dtype
    fit_kwargs: dict[str, Any] = {}
    recorded: dict[str, Any] = {}
    if solver == "sgd":
        kwargs.update(max_iter=epochs, batch_size=batch_size, learning_rate=learning_rate)
        if coef_init is not None:
            # The recorded start is a copy of its own, taken before any fit.
            w0 = np.array(coef_init, dtype=dtype).ravel()
            recorded = {
                "initial_coef": w0.copy(),
                "initial_intercept": float(intercept_init or 0.0),
            }
            fit_kwargs = {"coef_init": w0, "intercept_init": recorded["initial_intercept"]}
    if prune:
        kwargs["prune"] = True
    return measure_estimator(
        f"fastcost-{solver}",
        lambda X, y: LinearRegression(solver=solver, **kwargs).fit(X, y, **fit_kwargs),
        X_train, y_train, X_test, y_test,
        repeat=repeat,
        price_per_hour=price_per_hour, count_work_of=solver, **recorded,
        params={
            "library": "fastcost", "solver": solver, "dtype": dtype.name,
            "threads": threads, "seed": seed,
            **{k: v for k, v in kwargs.items() if k != "random_state"},
        },
    )  # fmt: skip


def run_dask(
    solver: str, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
    *, scheduler: str | None = None, price_per_hour: float | None = None, repeat: int = 1,
    categorical: list[str] | None = None,
) -> RunResult:  # fmt: skip
    """Fit :class:`fastcost.dask.LinearRegression` on a cluster and measure it.

    The training rows are persisted on the cluster, one chunk per worker, outside
    the measurement; the report covers this (client) process, not the workers.

    Parameters
    ----------
    solver : str
        One of ``fastcost.dask.DASK_SOLVERS``.
    X_train, y_train, X_test, y_test : ndarray
        The split, in memory here; the test rows are scored here.
    scheduler : str, optional
        The scheduler's address (:func:`fastcost.dask.connect`; None: a local cluster).
        It is checked first (:func:`fastcost.dask.check_scheduler`): a bad address,
        or one where no scheduler answers within ``SCHEDULER_TIMEOUT_S``, fails the
        row at once, with nothing left open.
    price_per_hour, repeat
        See :func:`~fastcost.compare.result.measure_repeated`.

    Returns
    -------
    RunResult
        Named ``"fastcost-dask-<solver>"``; an ImportError names the extra to install.
    """
    from fastcost.dask import LinearRegression as DaskLinearRegression
    from fastcost.dask import check_scheduler, connect

    if scheduler is not None:
        check_scheduler(scheduler, SCHEDULER_TIMEOUT_S)
    # connect imports dask, or says what to install.
    with connect(None, scheduler, SCHEDULER_TIMEOUT_S) as client:
        import dask.array as da

        n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        rows = max(1, -(-X_train.shape[0] // n_workers))
        kwargs: dict[str, Any] = {"alpha": 0.0, "n_threads": None}
        if categorical:  # a frame with categorical columns: a dask DataFrame of its rows
            import dask.dataframe as dd
            import pandas as pd

            X = client.persist(dd.from_pandas(X_train, chunksize=rows))
            y = client.persist(dd.from_pandas(pd.Series(y_train), chunksize=rows))
            kwargs["categorical_features"] = list(categorical)
        else:
            X = client.persist(da.from_array(X_train, chunks=(rows, -1)))
            y = client.persist(da.from_array(y_train, chunks=(rows,)))
        return measure_estimator(
            f"fastcost-dask-{solver}",
            lambda X, y: DaskLinearRegression(solver=solver, client=client, **kwargs).fit(X, y),
            X, y, X_test, y_test, n_warm=min(rows, 200), repeat=repeat,
            price_per_hour=price_per_hour,
            params=lambda est: {
                "library": "fastcost.dask", "solver": solver, "dtype": "float64",
                "scheduler": scheduler or "local", "workers": n_workers,
                "chunks": int(est.n_chunks_), **kwargs,
            },
        )  # fmt: skip


#: Every row ``fastcost compare`` can run, by name, in the order rows run.
RUNNERS: dict[str, Runner] = {
    r.name: r
    for r in (
        Runner(
            "tensorflow", "TensorFlow", run_tensorflow, aliases=("tf", "keras"), baseline=True,
            takes_start=True, seeded=True, install_hint=TENSORFLOW_HINT,
        ),
        Runner("sklearn-lr", "scikit-learn", run_sklearn_lr, baseline=True),
        Runner(
            "sklearn-sgd", "scikit-learn", run_sklearn_sgd, baseline=True, takes_start=True,
            seeded=True,
        ),
        *(
            Runner(
                f"fastcost-{s}", "fastcost", functools.partial(run_fastcost, s), aliases=(s,),
                in_default_run=s in fastcost_solvers(), takes_start=s == "sgd", seeded=s == "sgd",
            )
            for s in SOLVERS
        ),
        *(
            Runner(
                f"fastcost-dask-{s}", "fastcost.dask", functools.partial(run_dask, s),
                in_default_run=False, cluster_twin_of=f"fastcost-{s}",
            )
            for s in ("newton", "lbfgs")  # the solvers that also run with --scheduler
        ),
    )
}  # fmt: skip


def valid_solver_names() -> str:
    """The names ``--solvers`` accepts, aliases in parentheses, for error messages."""
    parts = []
    for name, r in RUNNERS.items():
        if r.cluster_twin_of:
            continue
        aliases = [a for a in r.aliases if a != name.removeprefix("fastcost-")]
        short = name.removeprefix("fastcost-")
        parts.append(f"{short} ({', '.join(aliases)})" if aliases else short)
    return ", ".join(parts)


def select(text: str | None, *, scheduler: bool = False) -> list[str]:
    """The rows to run, in run order, from ``--solvers``.

    Parameters
    ----------
    text : str or None
        Comma-separated names or aliases, case-insensitive (fastcost's solvers
        with or without ``fastcost-``); None: the rows that run by default.
    scheduler : bool, default=False
        A Dask scheduler is given: each row with a cluster twin is followed by it.

    Returns
    -------
    list of str
        Names in :data:`RUNNERS`, without duplicates; a ValueError for an unknown
        name or an empty list.
    """
    default = [name for name, r in RUNNERS.items() if r.in_default_run]
    chosen = default if text is None else []
    if text is not None:
        lookup = {
            k: n for n, r in RUNNERS.items() if not r.cluster_twin_of for k in (n, *r.aliases)
        }
        for raw in filter(None, (part.strip() for part in text.split(","))):
            name = lookup.get(raw.lower())
            if name is None:
                raise ValueError(
                    f"unknown solver {raw!r} in --solvers; valid names: {valid_solver_names()} "
                    "(fastcost's may carry a 'fastcost-' prefix)"
                )
            if name not in chosen:
                chosen.append(name)
        if not chosen:
            raise ValueError("--solvers is empty")
        order = {name: i for i, (name, r) in enumerate(RUNNERS.items()) if r.baseline}
        chosen.sort(key=lambda name: order.get(name, len(RUNNERS)))
    twins = {r.cluster_twin_of: n for n, r in RUNNERS.items() if scheduler and r.cluster_twin_of}
    return [n for name in chosen for n in (name, twins.get(name)) if n is not None]
