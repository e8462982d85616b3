"""What a row of ``fastcost compare`` gives, and how every row measures its fit:
an unmeasured warm-up, ``repeat`` measured fits (the median-wall one is kept), then
the test scores."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fastcost.resources import ResourceReport, add_throughput, measure, solver_flops

__all__ = [
    "Comparison", "RunResult", "jsonable", "measure_estimator", "measure_repeated", "scores",
    "warmup_rows",
]  # fmt: skip


@dataclasses.dataclass
class RunResult:
    """Outcome of one row: its cost, its accuracy and how it got there.

    Attributes
    ----------
    name : str
        Row label, e.g. ``"tensorflow"`` or ``"fastcost-lbfgs"``.
    report : ResourceReport
        Resources of the reported (median-wall) fit.
    test_mse, r2, n_iter, loss_history, coef, intercept
        Test scores, epochs or iterations, training loss (empty when the model
        reports none) and the fitted model.
    initial_coef, initial_intercept : ndarray or None, float or None
        Where the fit started, when it has a start (TensorFlow, the SGDs).
    params : dict
        Settings of the run (library, solver, hyper-parameters, threads, ...).
    wall_times_s, warmup_s : list of float, float
        Wall time of every measured fit, and of the unmeasured warm-up.
    """

    name: str
    report: ResourceReport
    test_mse: float
    r2: float
    n_iter: int | None
    loss_history: list[float]
    coef: np.ndarray
    intercept: float
    initial_coef: np.ndarray | None = None
    initial_intercept: float | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    wall_times_s: list[float] = dataclasses.field(default_factory=list)
    warmup_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (:func:`jsonable`): the name, the report's headline
        figures, the fields after ``report`` in order, then the whole report."""
        r = self.report
        head = ("wall_time_s", "cpu_time_s", "peak_memory_delta_bytes", "energy_j", "energy_source")
        doc = {"name": self.name, **{k: getattr(r, k) for k in head}}
        doc.update((f.name, getattr(self, f.name)) for f in dataclasses.fields(self)[2:])
        return jsonable({**doc, "report": r.to_dict()})


@dataclasses.dataclass
class Comparison:
    """The rows asked for (``names``), the results of those that ran, in run order,
    the skipped (``{"name", "reason"}``) and the failed (``{"name", "error",
    "traceback"}``) ones, and where the SGDs started (``start_source``)."""

    names: list[str]
    results: list[RunResult] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)
    failed: list[dict[str, str]] = dataclasses.field(default_factory=list)
    start_source: str = "glorot_uniform(numpy)"

    @property
    def tensorflow_wall_s(self) -> float | None:
        """Wall time of the TensorFlow row (the speed-ups' reference); None if it did not run."""
        return next((r.report.wall_time_s for r in self.results if r.name == "tensorflow"), None)


def jsonable(value: Any) -> Any:
    """``value`` in plain JSON types: NumPy values become Python ones, non-finite
    floats None, unknown objects their ``str``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value if value is None or isinstance(value, str) else str(value)


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """Test MSE and R² of raveled targets and predictions, in float64."""
    from sklearn.metrics import mean_squared_error, r2_score

    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    return float(mean_squared_error(y_true, y_pred)), float(r2_score(y_true, y_pred))


def measure_repeated(
    fit: Callable[[], Any], *, repeat: int = 1, price_per_hour: float | None = None,
    before_each: Callable[[], Any] | None = None,
) -> tuple[ResourceReport, Any, list[float]]:  # fmt: skip
    """Measure ``fit()`` ``repeat`` times and keep the run with the median wall time.

    Parameters
    ----------
    fit : callable
        One full fit; returns what the caller needs afterwards.
    repeat, price_per_hour : int, float or None
        Measured runs (with an even count the lower median, a run that happened, is
        kept); passed to :class:`~fastcost.resources.measure`.
    before_each : callable, optional
        Called before every run, outside the measurement (e.g. to reset weights).

    Returns
    -------
    report, output, wall_times : ResourceReport, object, list of float
        The kept run's report and what ``fit()`` returned in it; every run's wall time.
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
    report, out = runs[sorted(range(repeat), key=walls.__getitem__)[(repeat - 1) // 2]]
    return report, out, walls


def warmup_rows(n: int, batch_size: int) -> int:
    """Rows of a warm-up that meets both a full mini-batch and the last, partial one (at most ``n``)."""
    if n <= batch_size:
        return n
    return min(n, batch_size + (n % batch_size or batch_size))


def measure_estimator(
    name: str, fit: Callable[[Any, Any], Any], X_train: Any, y_train: Any, X_test: np.ndarray,
    y_test: np.ndarray, *, n_warm: int, repeat: int, price_per_hour: float | None,
    params: dict[str, Any] | Callable[[Any], dict[str, Any]], count_work_of: str | None = None,
    **fields: Any,
) -> RunResult:  # fmt: skip
    """The measurement of a row whose ``fit(X, y)`` builds, fits and returns an estimator.

    Parameters
    ----------
    name, fit : str, callable
        The row's label; ``fit(X, y)`` returns a fresh estimator, fitted (``predict``,
        ``coef_``, ``intercept_``, maybe ``n_iter_`` and ``loss_history_``).
    X_train, y_train, X_test, y_test : array-like
        The split; the unmeasured warm-up fits the first ``n_warm`` training rows.
    repeat, price_per_hour
        See :func:`measure_repeated`.
    params : dict or callable
        The run's settings, or a function of the reported estimator that gives them.
    count_work_of : str, optional
        fastcost's solver: add the passes (``n_passes_``), bytes, flops and rates to the report.
    **fields
        ``initial_coef`` and ``initial_intercept`` of the :class:`RunResult` returned.
    """
    t0 = time.perf_counter()
    fit(X_train[:n_warm], y_train[:n_warm])
    warmup = time.perf_counter() - t0
    report, est, walls = measure_repeated(
        lambda: fit(X_train, y_train), repeat=repeat, price_per_hour=price_per_hour
    )
    mse, r2 = scores(y_test, est.predict(X_test))
    n_iter = getattr(est, "n_iter_", None)
    n_iter = None if n_iter is None else int(np.max(n_iter))
    n_passes = float(getattr(est, "n_passes_", math.nan)) if count_work_of else math.nan
    if count_work_of and math.isfinite(n_passes):
        n, d = X_train.shape
        flops = solver_flops(count_work_of, n, d, n_passes, n_iter)
        add_throughput(report, n_passes, X_train.nbytes + y_train.nbytes, flops)
    history = getattr(est, "loss_history_", None)
    return RunResult(
        name=name,
        report=report,
        test_mse=mse,
        r2=r2,
        n_iter=n_iter,
        loss_history=[] if history is None else [float(v) for v in np.ravel(history)],
        coef=np.asarray(est.coef_, dtype=np.float64).ravel(),
        intercept=float(np.ravel(est.intercept_)[0]),
        params=params(est) if callable(params) else params,
        wall_times_s=walls,
        warmup_s=warmup,
        **fields,
    )
