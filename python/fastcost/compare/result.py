"""What a runner returns, and the measurement steps every runner follows.

Every runner of ``fastcost compare`` (TensorFlow's Keras recipe, scikit-learn,
fastcost's solvers, fastcost on Dask) measures a fit the same way:

1. build the model and do a small *warm-up* fit on a few rows, outside the
   measurement (imports, graph tracing, thread-pool start-up are not counted);
2. measure ``repeat`` fits on the full training set with
   :class:`fastcost.resources.measure` and keep the run with the median wall
   time (:func:`measure_repeated`);
3. score on the test set (outside the measurement, :func:`scores`) and return
   a :class:`RunResult`.

:func:`warm_up_and_measure` does steps 1 and 2 for a runner whose ``fit(X, y)``
builds a fresh model.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fastcost.resources import ResourceReport, measure

__all__ = [
    "Comparison",
    "RunResult",
    "measure_repeated",
    "scores",
    "warm_up_and_measure",
    "warmup_rows",
]


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


@dataclasses.dataclass
class Comparison:
    """What one comparison gave: a result per row that ran, and the rows that did not.

    Attributes
    ----------
    names : list of str
        The rows asked for, in run order.
    results : list of RunResult
        Of the rows that ran, in run order.
    skipped : list of dict
        ``{"name", "reason"}`` of rows whose optional library is missing.
    failed : list of dict
        ``{"name", "error", "traceback"}`` of rows that raised.
    start_source : str
        Where the SGDs started: the row that gave its initial weights
        (``"tensorflow"``), else ``"glorot_uniform(numpy)"``.
    """

    names: list[str]
    results: list[RunResult] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)
    failed: list[dict[str, str]] = dataclasses.field(default_factory=list)
    start_source: str = "glorot_uniform(numpy)"

    @property
    def tensorflow_wall_s(self) -> float | None:
        """Wall time of the TensorFlow row, the reference of the speed-ups; None if it did not run."""
        return next((r.wall_time_s for r in self.results if r.name == "tensorflow"), None)


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """Test MSE and R², computed in float64.

    Parameters
    ----------
    y_true, y_pred : ndarray
        Targets and predictions; raveled.

    Returns
    -------
    mse, r2 : float
    """
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


def warmup_rows(n: int, batch_size: int) -> int:
    """Rows for a warm-up that meets both a full batch and the last, partial one.

    Parameters
    ----------
    n : int
        Training rows.
    batch_size : int
        Rows per mini-batch of the fit.

    Returns
    -------
    int
        At most ``n``.
    """
    if n <= batch_size:
        return n
    return min(n, batch_size + (n % batch_size or batch_size))


def warm_up_and_measure(
    fit: Callable[[np.ndarray, np.ndarray], Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    n_warm: int,
    *,
    repeat: int,
    price_per_hour: float | None,
) -> tuple[ResourceReport, Any, list[float], float]:
    """Steps 1 and 2 of the measurement for a ``fit(X, y)`` that builds a fresh model.

    A timed, unmeasured warm-up on the first ``n_warm`` rows, then
    :func:`measure_repeated` on the whole training set.

    Parameters
    ----------
    fit : callable
        ``fit(X, y)`` builds, fits and returns a model.
    X_train, y_train : ndarray
        The training rows.
    n_warm : int
        Rows of the warm-up fit.
    repeat : int
        Measured fits.
    price_per_hour : float or None
        Passed to :func:`measure_repeated`.

    Returns
    -------
    report : ResourceReport
        Of the median-wall run.
    model : object
        What ``fit`` returned in that run.
    wall_times : list of float
        Wall time of every measured run.
    warmup_s : float
        Wall time of the warm-up.
    """
    t0 = time.perf_counter()
    fit(X_train[:n_warm], y_train[:n_warm])
    warmup = time.perf_counter() - t0
    report, est, walls = measure_repeated(
        lambda: fit(X_train, y_train), repeat=repeat, price_per_hour=price_per_hour
    )
    return report, est, walls, warmup
