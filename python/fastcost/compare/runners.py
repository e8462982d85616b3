"""The rows of ``fastcost compare``: the runner protocol and the one registry.

A :class:`Runner` fits one model on the comparison's split with the common
:class:`Settings` and returns a :class:`~fastcost.compare.result.RunResult`.
:data:`RUNNERS` maps every row name to its runner, in the order rows run;
adding a row is one entry there. The implementations live with their library:
TensorFlow and scikit-learn in :mod:`fastcost.baselines`, fastcost (local and
on Dask) in :mod:`fastcost.compare.solvers`.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from fastcost.baselines.sklearn import run_sklearn_lr, run_sklearn_sgd
from fastcost.baselines.tensorflow import TENSORFLOW_HINT, run_tensorflow
from fastcost.compare.solvers import run_dask, run_fastcost
from fastcost.linear_model import SOLVERS

if TYPE_CHECKING:
    from fastcost.compare.result import RunResult
    from fastcost.datasets import Dataset

__all__ = ["RUNNERS", "Runner", "Settings", "Start", "select"]

#: The SGDs' starting point: initial coefficients and intercept.
Start = tuple[np.ndarray, float]

#: Solvers that also run on the Dask cluster given with ``--scheduler``.
DASK_ROWS = ("newton", "lbfgs")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every runner is given besides the data: one recipe, one measurement.

    Attributes
    ----------
    threads : int or None
        Threads of every library (None: each library's default; ``fastcost
        compare`` passes the cores this process may use).
    seed : int
        Initial weights and shuffles.
    epochs, batch_size, learning_rate : int, int, float
        The SGD recipe (Keras' ``fit``; scikit-learn's SGD and fastcost's sgd
        follow it as far as they can).
    repeat : int
        Measured fits per row; the median-wall one is reported.
    price_per_hour : float or None
        Turns wall time into a cost.
    prune : bool
        fastcost's solvers drop redundant columns (``prune=True``).
    scheduler : str or None
        Address of the Dask scheduler of the Dask rows.
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


class Runner(abc.ABC):
    """One row of the comparison.

    Attributes
    ----------
    name : str
        The row's label, and its name in ``--solvers``.
    library : str
        What it runs, in words (e.g. ``"TensorFlow"``).
    aliases : tuple of str
        Other names ``--solvers`` accepts for it.
    baseline : bool
        A library fastcost is compared with. Baselines run first, in registry
        order; the other rows follow in the order they were asked for.
    in_default_run : bool
        Runs when ``--solvers`` is not given.
    cluster_twin_of : str or None
        The local row this one repeats on a Dask cluster. Such a row runs only
        with a scheduler, right after its twin, and is not named in ``--solvers``.
    gives_start : bool
        Its initial weights (``RunResult.initial_coef``) become the start of the
        rows after it.
    install_hint : str or None
        For a library that is optional: an ImportError then skips the row with
        this hint instead of failing it.
    note_warnings : tuple of Warning subclasses
        Warnings the run may emit about its environment; they become progress
        notes instead of warnings.
    """

    name: str
    library: str
    aliases: tuple[str, ...] = ()
    baseline: bool = False
    in_default_run: bool = True
    cluster_twin_of: str | None = None
    gives_start: bool = False
    install_hint: str | None = None
    note_warnings: tuple[type[Warning], ...] = ()

    @abc.abstractmethod
    def run(self, data: Dataset, settings: Settings, start: Start) -> RunResult:
        """Fit, measure and score the row's model.

        Parameters
        ----------
        data : Dataset
            The standardized train/test split.
        settings : Settings
            The recipe and the measurement.
        start : tuple of (ndarray, float)
            Where the SGDs start: TensorFlow's initial weights when it ran,
            else Keras' default drawn with NumPy.

        Returns
        -------
        RunResult
        """


class TensorFlowRunner(Runner):
    """The Keras recipe (:func:`fastcost.baselines.run_tensorflow`)."""

    name = "tensorflow"
    library = "TensorFlow"
    aliases = ("tf", "keras")
    baseline = True
    gives_start = True
    install_hint = TENSORFLOW_HINT
    note_warnings = (RuntimeWarning,)  # e.g. threads could not be set: tell, do not fail

    def run(self, data: Dataset, settings: Settings, start: Start) -> RunResult:
        return run_tensorflow(
            data.X_train, data.y_train, data.X_test, data.y_test,
            epochs=settings.epochs, batch_size=settings.batch_size,
            learning_rate=settings.learning_rate, seed=settings.seed, threads=settings.threads,
            price_per_hour=settings.price_per_hour, repeat=settings.repeat,
        )  # fmt: skip


class SklearnLinearRegressionRunner(Runner):
    """scikit-learn's exact least squares (:func:`fastcost.baselines.run_sklearn_lr`)."""

    name = "sklearn-lr"
    library = "scikit-learn"
    baseline = True

    def run(self, data: Dataset, settings: Settings, start: Start) -> RunResult:
        return run_sklearn_lr(
            data.X_train, data.y_train, data.X_test, data.y_test,
            threads=settings.threads, price_per_hour=settings.price_per_hour,
            repeat=settings.repeat,
        )  # fmt: skip


class SklearnSGDRunner(Runner):
    """scikit-learn's ``SGDRegressor`` from the start (:func:`fastcost.baselines.run_sklearn_sgd`)."""

    name = "sklearn-sgd"
    library = "scikit-learn"
    baseline = True

    def run(self, data: Dataset, settings: Settings, start: Start) -> RunResult:
        return run_sklearn_sgd(
            data.X_train, data.y_train, data.X_test, data.y_test,
            epochs=settings.epochs, learning_rate=settings.learning_rate, seed=settings.seed,
            coef_init=start[0], intercept_init=start[1], threads=settings.threads,
            price_per_hour=settings.price_per_hour, repeat=settings.repeat,
        )  # fmt: skip


class FastcostRunner(Runner):
    """:class:`fastcost.LinearRegression` with one solver (:func:`~fastcost.compare.solvers.run_fastcost`).

    Parameters
    ----------
    solver : str
        One of ``fastcost.linear_model.SOLVERS``; ``sgd`` starts from the start.
    """

    library = "fastcost"

    def __init__(self, solver: str) -> None:
        self.solver = solver
        self.name = f"fastcost-{solver}"
        self.aliases = (solver,)
        self.in_default_run = solver != "auto"  # auto picks one of the others

    def run(self, data: Dataset, settings: Settings, start: Start) -> RunResult:
        is_sgd = self.solver == "sgd"
        return run_fastcost(
            self.solver, data.X_train, data.y_train, data.X_test, data.y_test,
            epochs=settings.epochs, batch_size=settings.batch_size,
            learning_rate=settings.learning_rate, seed=settings.seed,
            coef_init=start[0] if is_sgd else None, intercept_init=start[1] if is_sgd else None,
            threads=settings.threads, price_per_hour=settings.price_per_hour,
            repeat=settings.repeat, **({"prune": True} if settings.prune else {}),
        )  # fmt: skip


class DaskRunner(Runner):
    """:class:`fastcost.dask.LinearRegression` on the scheduler's cluster
    (:func:`~fastcost.compare.solvers.run_dask`).

    Parameters
    ----------
    solver : str
        One of ``fastcost.dask.DASK_SOLVERS``.
    """

    library = "fastcost.dask"
    in_default_run = False

    def __init__(self, solver: str) -> None:
        self.solver = solver
        self.name = f"fastcost-dask-{solver}"
        self.cluster_twin_of = f"fastcost-{solver}"

    def run(self, data: Dataset, settings: Settings, start: Start) -> RunResult:
        return run_dask(
            self.solver, data.X_train, data.y_train, data.X_test, data.y_test,
            scheduler=settings.scheduler, price_per_hour=settings.price_per_hour,
            repeat=settings.repeat,
        )  # fmt: skip


#: Every row ``fastcost compare`` can run, by name, in the order rows run.
RUNNERS: dict[str, Runner] = {
    r.name: r
    for r in (
        TensorFlowRunner(),  # first: its initial weights are the start of the SGDs
        SklearnLinearRegressionRunner(),
        SklearnSGDRunner(),
        *(FastcostRunner(solver) for solver in SOLVERS),
        *(DaskRunner(solver) for solver in DASK_ROWS),
    )
}


def select(text: str | None, *, scheduler: bool = False) -> list[str]:
    """The rows to run, in run order, from ``--solvers``.

    Parameters
    ----------
    text : str or None
        Comma-separated row names or aliases, case-insensitive (fastcost's
        solvers with or without the ``fastcost-`` prefix); None: every row
        that runs by default.
    scheduler : bool, default=False
        A Dask scheduler is given: each row with a cluster twin is followed by it.

    Returns
    -------
    list of str
        Names in :data:`RUNNERS`, without duplicates.

    Raises
    ------
    ValueError
        For an unknown name, or a list without any name.
    """
    if text is None:
        chosen = [name for name, r in RUNNERS.items() if r.in_default_run]
    else:
        chosen = _parse(text)
        order = {name: i for i, (name, r) in enumerate(RUNNERS.items()) if r.baseline}
        chosen.sort(key=lambda name: order.get(name, len(RUNNERS)))
    if not scheduler:
        return chosen
    twins = {r.cluster_twin_of: name for name, r in RUNNERS.items() if r.cluster_twin_of}
    return [n for name in chosen for n in (name, twins.get(name)) if n is not None]


def _parse(text: str) -> list[str]:
    """Row names of a ``--solvers`` list, in its order, first occurrences only."""
    lookup = {
        key: name
        for name, r in RUNNERS.items()
        if r.cluster_twin_of is None
        for key in (name, *r.aliases)
    }
    chosen: list[str] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        name = lookup.get(raw.lower())
        if name is None:
            valid = ", ".join(
                n.removeprefix("fastcost-") for n, r in RUNNERS.items() if r.in_default_run
            )
            raise ValueError(f"unknown solver {raw!r}; choose from: {valid}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ValueError("--solvers is empty")
    return chosen
