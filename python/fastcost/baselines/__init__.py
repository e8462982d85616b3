"""Runners that fit one model on a train/test split and report what it cost.

Every runner (TensorFlow's Keras recipe, scikit-learn, fastcost's solvers)
follows the same protocol so ``fastcost compare`` can treat them alike:

1. build the model and do a small *warm-up* fit on a few rows, outside the
   measurement (imports, graph tracing, thread-pool start-up are not counted);
2. measure ``repeat`` fits on the full training set with
   :class:`fastcost.resources.measure` and keep the run with the median wall
   time;
3. score on the test set (outside the measurement) and return a
   :class:`RunResult`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fastcost.resources import ResourceReport, add_throughput, measure, solver_flops

__all__ = [
    "RunResult",
    "BASELINES",
    "DEFAULT_FASTCOST_SOLVERS",
    "fastcost_solvers",
    "glorot_uniform",
    "measure_repeated",
    "run_fastcost",
    "run_tensorflow",
    "run_sklearn_lr",
    "run_sklearn_sgd",
]

#: Names of the non-fastcost runners, in the order ``fastcost compare`` runs them.
BASELINES = ("tensorflow", "sklearn-lr", "sklearn-sgd")

#: Used when ``fastcost.linear_model`` cannot be imported.
DEFAULT_FASTCOST_SOLVERS = ("newton", "lbfgs", "gd", "sgd")


@dataclasses.dataclass
class RunResult:
    """Outcome of one runner: its cost, its accuracy and how it got there.

    Attributes
    ----------
    name : str
        Row label, e.g. ``"tensorflow"``, ``"sklearn-sgd"``, ``"fastcost-lbfgs"``.
    report : ResourceReport
        Resources of the measured fit (median-wall run when ``repeat > 1``).
    test_mse, r2 : float
        Mean squared error and R² on the test set.
    loss_history : list of float
        Training loss per epoch (Keras-style mean of batch losses) or per
        iteration, as the model reports it; empty when it reports none.
    n_iter : int or None
        Epochs or iterations the fit ran.
    coef, intercept : ndarray, float
        The fitted model.
    initial_coef, initial_intercept : ndarray or None, float or None
        The point the fit started from, when it has one (TensorFlow, the SGDs).
    params : dict
        Settings of the run (library, solver, hyper-parameters, threads, ...).
    wall_times_s : list of float
        Wall time of every measured repeat.
    warmup_s : float
        Wall time of the warm-up (not part of ``report``).

    Examples
    --------
    >>> from fastcost.baselines import run_sklearn_lr
    >>> from fastcost.datasets import make_default
    >>> d = make_default(n_samples=500, n_features=3)
    >>> res = run_sklearn_lr(d.X_train, d.y_train, d.X_test, d.y_test)
    >>> res.name, res.test_mse < 0.1
    ('sklearn-lr', True)
    """

    name: str
    report: ResourceReport
    test_mse: float
    r2: float
    loss_history: list[float]
    n_iter: int | None
    coef: np.ndarray
    intercept: float
    initial_coef: np.ndarray | None = None
    initial_intercept: float | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    wall_times_s: list[float] = dataclasses.field(default_factory=list)
    warmup_s: float = 0.0

    @property
    def wall_time_s(self) -> float:
        """Wall time of the reported fit."""
        return self.report.wall_time_s

    @property
    def cpu_time_s(self) -> float:
        """CPU seconds of the reported fit."""
        return self.report.cpu_time_s

    @property
    def peak_memory_delta_bytes(self) -> int:
        """Peak RSS growth during the reported fit."""
        return self.report.peak_memory_delta_bytes

    @property
    def energy_j(self) -> float:
        """Energy of the reported fit in joules."""
        return self.report.energy_j

    @property
    def energy_source(self) -> str:
        """``"rapl"``, ``"nvml"`` or ``"estimated"`` (see :mod:`fastcost.resources`)."""
        return self.report.energy_source

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists, floats, None for non-finite numbers) for JSON."""
        return {
            "name": self.name,
            "wall_time_s": self.wall_time_s,
            "cpu_time_s": self.cpu_time_s,
            "peak_memory_delta_bytes": self.peak_memory_delta_bytes,
            "energy_j": self.energy_j,
            "energy_source": self.energy_source,
            "test_mse": _finite_or_none(self.test_mse),
            "r2": _finite_or_none(self.r2),
            "n_iter": self.n_iter,
            "loss_history": [_finite_or_none(v) for v in self.loss_history],
            "coef": [_finite_or_none(v) for v in np.asarray(self.coef, dtype=float).ravel()],
            "intercept": _finite_or_none(self.intercept),
            "initial_coef": None
            if self.initial_coef is None
            else [float(v) for v in np.asarray(self.initial_coef, dtype=float).ravel()],
            "initial_intercept": None
            if self.initial_intercept is None
            else float(self.initial_intercept),
            "params": self.params,
            "wall_times_s": list(self.wall_times_s),
            "warmup_s": self.warmup_s,
            "report": {
                k: (_finite_or_none(v) if isinstance(v, float) else v)
                for k, v in self.report.to_dict().items()
            },
        }


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """Test MSE and R² in float64."""
    from sklearn.metrics import mean_squared_error, r2_score

    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    return float(mean_squared_error(y_true, y_pred)), float(r2_score(y_true, y_pred))


def measure_repeated(
    fit: Callable[[], Any],
    *,
    repeat: int = 1,
    price_per_hour: float | None = None,
    before_each: Callable[[], Any] | None = None,
) -> tuple[ResourceReport, Any, list[float]]:
    """Measure ``fit()`` ``repeat`` times; keep the run with the median wall time.

    Parameters
    ----------
    fit : callable
        Does one full fit and returns whatever the caller needs afterwards.
    repeat : int, default=1
        Number of measured runs. With an even count the lower median is kept,
        so the report always belongs to a run that happened.
    price_per_hour : float, optional
        Passed to :class:`~fastcost.resources.measure`.
    before_each : callable, optional
        Called before every run, outside the measurement (e.g. to reset weights).

    Returns
    -------
    report : ResourceReport
    output : object
        What ``fit()`` returned in that run.
    wall_times : list of float
        Wall time of every run, in order.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    runs: list[tuple[ResourceReport, Any]] = []
    for _ in range(repeat):
        if before_each is not None:
            before_each()
        with measure(price_per_hour=price_per_hour) as m:
            out = fit()
        assert m.report is not None
        runs.append((m.report, out))
    walls = [r.wall_time_s for r, _ in runs]
    order = sorted(range(repeat), key=walls.__getitem__)
    report, out = runs[order[(repeat - 1) // 2]]
    return report, out, walls


def glorot_uniform(n_features: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """Keras' default start for ``Dense(1)``: Glorot-uniform kernel, zero bias.

    Used when TensorFlow is not run, so fastcost's ``sgd`` still starts from a
    point drawn the way Keras draws it (not the same numbers as Keras).
    """
    limit = math.sqrt(6.0 / (n_features + 1))
    rng = np.random.default_rng(seed)
    return rng.uniform(-limit, limit, size=n_features), 0.0


def _warmup_rows(n: int, batch_size: int) -> int:
    """Rows for a warm-up that meets both a full batch and the last, partial one."""
    if n <= batch_size:
        return n
    return min(n, batch_size + (n % batch_size or batch_size))


def _warm_up_and_measure(
    fit: Callable[[np.ndarray, np.ndarray], Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    n_warm: int,
    *,
    repeat: int,
    price_per_hour: float | None,
) -> tuple[ResourceReport, Any, list[float], float]:
    """Steps 1 and 2 of the protocol for a runner whose ``fit(X, y)`` builds a
    fresh model: a timed, unmeasured warm-up on the first ``n_warm`` rows, then
    :func:`measure_repeated` on the whole training set.

    Returns the report, the reported run's model, every wall time and the
    warm-up's wall time.
    """
    t0 = time.perf_counter()
    fit(X_train[:n_warm], y_train[:n_warm])
    warmup = time.perf_counter() - t0
    report, est, walls = measure_repeated(
        lambda: fit(X_train, y_train), repeat=repeat, price_per_hour=price_per_hour
    )
    return report, est, walls, warmup


# ----------------------------------------------------------------------- fastcost


def fastcost_solvers() -> tuple[str, ...]:
    """fastcost's solvers, read from ``fastcost.linear_model.SOLVERS`` at call time.

    ``"auto"`` is left out (it picks one of the others). Falls back to
    :data:`DEFAULT_FASTCOST_SOLVERS` when the module cannot be imported.
    """
    try:
        from fastcost.linear_model import SOLVERS
    except ImportError:
        return DEFAULT_FASTCOST_SOLVERS
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
        (``alpha``, ``tol``, ``max_iter``, ...).

    Returns
    -------
    RunResult
        Named ``"fastcost-<solver>"``; ``report`` has ``passes``,
        ``bytes_read``, ``flops`` and the rates filled in.
    """
    from fastcost.linear_model import LinearRegression

    kwargs: dict[str, Any] = {"alpha": 0.0, "random_state": seed, "n_threads": threads}
    fit_kwargs: dict[str, Any] = {}
    if solver == "sgd":
        kwargs.update(max_iter=epochs, batch_size=batch_size, learning_rate=learning_rate)
        if coef_init is not None:
            fit_kwargs["coef_init"] = np.asarray(coef_init, dtype=X_train.dtype).ravel()
            fit_kwargs["intercept_init"] = float(intercept_init or 0.0)
    kwargs.update(params)

    report, est, walls, warmup = _warm_up_and_measure(
        lambda X, y: LinearRegression(solver=solver, **kwargs).fit(X, y, **fit_kwargs),
        X_train,
        y_train,
        _warmup_rows(X_train.shape[0], batch_size),
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
        initial_coef=None if "coef_init" not in fit_kwargs else fit_kwargs["coef_init"],
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


from fastcost.baselines.sklearn import run_sklearn_lr, run_sklearn_sgd  # noqa: E402
from fastcost.baselines.tensorflow import run_tensorflow  # noqa: E402
