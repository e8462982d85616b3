"""What a row of ``fastcost compare`` gives, and how every row measures its fit:
an unmeasured warm-up (one fit on the whole training set: the measured fits then
find the library as a repeated fit would, thread pools awake, buffers sized and
the data in cache), ``repeat`` measured fits (the median-wall one is kept), then
the test scores. Each measured fit is timed by :class:`~fastcost.compare.meter.FitMeter`,
which keeps the measurement itself out of the timed region."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fastcost.compare.meter import FitMeter
from fastcost.compare.status import FAILED, NOT_CONVERGED, OK
from fastcost.resources import ResourceReport, add_throughput, solver_flops

__all__ = [
    "Comparison", "FailedRun", "RunResult", "jsonable", "measure_estimator",
    "measure_repeated", "scores", "seed_spread",
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
    status, reason : str, str
        ``"ok"``, ``"not converged"``, ``"diverged"`` or ``"failed"``
        (:mod:`fastcost.compare.status`) and why; ``reason`` is empty when ok.
    notes : list of str
        The warnings the row raised, one line each.
    seed_runs : list of dict
        With ``--seeds K > 1``, one ``{"seed", "test_mse", "r2", "status"}`` per
        seed, this run's seed first; empty otherwise (see :func:`seed_spread`).
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
    status: str = OK
    reason: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    seed_runs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: The names of ``coef``'s entries where the model names them (a fastcost model
    #: of a table: every level, the reference's 0); None: ``data.features``'.
    coef_names: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (:func:`jsonable`): the name, status and reason, the
        report's headline figures, the fields after ``report`` in order, the
        spread over seeds (None without ``--seeds``), then the whole report."""
        r = self.report
        head = ("wall_time_s", "cpu_time_s", "peak_memory_delta_bytes", "energy_j", "energy_source")
        doc: dict[str, Any] = {"name": self.name, "status": self.status, "reason": self.reason}
        doc.update((k, getattr(r, k)) for k in head)
        doc.update((f.name, getattr(self, f.name)) for f in dataclasses.fields(self)[2:])
        doc["seed_spread"] = seed_spread(self.seed_runs)
        return jsonable({**doc, "report": r.to_dict()})


@dataclasses.dataclass
class FailedRun:
    """A row that raised, so has no measurement: its status (``"failed"``, or
    ``"diverged"`` for a divergence error), the reason in one line, the
    exception's ``repr`` and traceback, and the warnings raised before it."""

    name: str
    status: str
    reason: str
    error: str
    traceback: str
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON types."""
        return jsonable(dataclasses.asdict(self))


@dataclasses.dataclass
class Comparison:
    """The rows asked for (``names``), in run order: the results of those that
    ran, the skipped (``{"name", "reason"}``) and the failed (:class:`FailedRun`)
    ones, and where the SGDs started (``start_source``)."""

    names: list[str]
    results: list[RunResult] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)
    failed: list[FailedRun] = dataclasses.field(default_factory=list)
    start_source: str = "glorot_uniform(numpy)"

    @property
    def tensorflow_wall_s(self) -> float | None:
        """Wall time of the TensorFlow row (the speed-ups' reference); None if it
        did not run, or diverged or failed (such a run's time is no reference)."""
        usable = (OK, NOT_CONVERGED)
        tf = (r for r in self.results if r.name == "tensorflow" and r.status in usable)
        return next((r.report.wall_time_s for r in tf), None)

    @property
    def rows(self) -> list[RunResult | FailedRun]:
        """Results and failures together, in run order (the order of ``names``)."""
        by_name: dict[str, RunResult | FailedRun] = {r.name: r for r in self.results}
        by_name.update((f.name, f) for f in self.failed)
        return [by_name[n] for n in self.names if n in by_name]

    @property
    def any_failed(self) -> bool:
        """Whether some row's status is ``"failed"`` (the command then exits with 1)."""
        return any(row.status == FAILED for row in self.rows)


def seed_spread(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Test MSE over the seeds of ``runs`` (:attr:`RunResult.seed_runs`): the
    seeds, every value, and mean, std (population), min and max of the finite
    ones (None when there are none); None without runs."""
    if not runs:
        return None
    mses = [float(r["test_mse"]) for r in runs]
    finite = [m for m in mses if math.isfinite(m)]
    stats: dict[str, Any] = dict.fromkeys(("mean", "std", "min", "max"))
    if finite:
        arr = np.asarray(finite)
        stats.update(
            mean=float(arr.mean()), std=float(arr.std()), min=float(arr.min()),
            max=float(arr.max()),
        )  # fmt: skip
    return {
        "k": len(runs), "seeds": [r["seed"] for r in runs], "test_mse": mses,
        "r2": [r["r2"] for r in runs], "status": [r["status"] for r in runs],
        "n_finite": len(finite), **stats,
    }  # fmt: skip


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
    """Test MSE and R² of raveled targets and predictions, in float64.

    Non-finite predictions (a diverged model) give a non-finite MSE and R²
    (NaN, or inf and -inf) instead of an error; the row's status says why.
    """
    from sklearn.metrics import mean_squared_error, r2_score

    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if np.isfinite(y_pred).all():
        with np.errstate(over="ignore", invalid="ignore"):
            return float(mean_squared_error(y_true, y_pred)), float(r2_score(y_true, y_pred))
    if np.isnan(y_pred).any():
        return math.nan, math.nan
    return math.inf, -math.inf


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
        kept); the price goes to :class:`~fastcost.compare.meter.FitMeter`.
    before_each : callable, optional
        Called before every run, outside the measurement (e.g. to reset weights).

    Returns
    -------
    report, output, wall_times : ResourceReport, object, list of float
        The kept run's report and what ``fit()`` returned in it; every run's wall time.

    Notes
    -----
    Each run is timed by :class:`~fastcost.compare.meter.FitMeter`: only ``fit()``
    is inside the timed region, with no sampling thread beside it.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    runs: list[tuple[ResourceReport, Any]] = []
    for _ in range(repeat):
        if before_each is not None:
            before_each()
        with FitMeter(price_per_hour) as m:
            out = fit()
        assert m.report is not None
        runs.append((m.report, out))
    walls = [r.wall_time_s for r, _ in runs]
    report, out = runs[sorted(range(repeat), key=walls.__getitem__)[(repeat - 1) // 2]]
    return report, out, walls


def measure_estimator(
    name: str, fit: Callable[[Any, Any], Any], X_train: Any, y_train: Any, X_test: np.ndarray,
    y_test: np.ndarray, *, repeat: int, price_per_hour: float | None, n_warm: int | None = None,
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
        The split; the unmeasured warm-up fits the first ``n_warm`` training rows
        (None: all of them, the default: a warm-up on fewer rows leaves the thread
        pools asleep and the buffers small, which made a short measured fit up to
        1.45x slower than the same fit repeated).
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
    if n_warm is None:
        fit(X_train, y_train)
    else:
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
        x_bytes = getattr(X_train, "nbytes", None)
        if x_bytes is None:  # a frame (categorical columns): what the fit reads per pass
            x_bytes = int(X_train.memory_usage(index=False).sum())
        add_throughput(report, n_passes, x_bytes + y_train.nbytes, flops)
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
        coef_names=_coef_names(est),
        params=params(est) if callable(params) else params,
        wall_times_s=walls,
        warmup_s=warmup,
        **fields,
    )


def _coef_names(est: Any) -> list[str] | None:
    """The names of a fitted model's coefficients (``feature_names_out_``, else
    ``feature_names_in_``), or None when it has neither."""
    names = getattr(est, "feature_names_out_", None)
    if names is None:
        names = getattr(est, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]
