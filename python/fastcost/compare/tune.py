"""``fastcost compare --tune``: what choosing the penalty by cross-validation costs.

The same training rows, the same folds (``KFold(5, shuffle=True)`` from
``--seed``) and the same grid of penalties for every row:

- ``fastcost LinearRegressionCV``: every fold and every penalty from one pass
  over X (:class:`fastcost.LinearRegressionCV`), refit included;
- ``sklearn GridSearchCV(Ridge)``: a Ridge fit per fold and penalty, plus the refit;
- ``sklearn RidgeCV(cv=5)``: a fit per fold over its penalty path, plus the refit;
- ``tensorflow (estimated)``: the Keras recipe trained once per fold and
  penalty plus once to refit, estimated as that many times the main table's
  measured TensorFlow fit (a per-fit cost, not measured here), labelled so.

The grid is in :class:`fastcost.LinearRegression`'s parameterization (the mean
squared error plus ``alpha ||w||^2``); scikit-learn's Ridge penalizes the sum of
squares, so its grid is ``alpha`` times the rows a fold trains on: the folds'
fits and CV errors are the same problems, and the chosen ``alpha_`` the same.
The refits on all training rows differ by design: scikit-learn's refit keeps
its sum-of-squares penalty, fastcost's alpha_ times n_fold / n_train.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from fastcost.compare.result import RunResult, jsonable, measure_repeated, scores
from fastcost.compare.status import OK

#: Folds and penalties of the tuning rows.
TUNE_FOLDS = 5
TUNE_ALPHAS = tuple(float(a) for a in np.logspace(-6, 2, 20))


@dataclasses.dataclass
class TuneRow:
    """One tuning row: its cost, the penalty it chose and how well that does."""

    name: str
    wall_time_s: float
    cpu_time_s: float | None
    peak_memory_delta_bytes: int | None
    energy_j: float | None
    fits: int
    alpha: float | None
    cv_mse: float | None
    test_mse: float | None
    estimated: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))  # type: ignore[no-any-return]


def _measured(name: str, fit: Any, fits: int, repeat: int, X_test: Any, y_test: Any,
              alpha_of: Any, cv_mse_of: Any) -> TuneRow:  # fmt: skip
    report, est, _ = measure_repeated(fit, repeat=repeat)
    mse, _ = scores(y_test, est.predict(X_test))
    return TuneRow(
        name, report.wall_time_s, report.cpu_user_s + report.cpu_system_s,
        report.peak_memory_delta_bytes, report.energy_j, fits, alpha_of(est), cv_mse_of(est), mse,
    )  # fmt: skip


def run_tuning(data: Any, seed: int, threads: int, repeat: int,
               tensorflow: RunResult | None) -> list[TuneRow]:  # fmt: skip
    """The tuning rows on ``data``'s training rows, scored on its test rows."""
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.model_selection import GridSearchCV, KFold
    from threadpoolctl import threadpool_limits

    from fastcost import LinearRegressionCV

    X_test, y_test = data.X_test, data.y_test

    def own() -> tuple[Any, Any]:  # each row its own copy: no row sees another's writes
        return data.X_train.copy(), data.y_train.copy()

    X, y = own()
    folds = KFold(TUNE_FOLDS, shuffle=True, random_state=seed)
    alphas = np.asarray(TUNE_ALPHAS)
    n_fold = len(y) - len(y) // TUNE_FOLDS  # rows a fold trains on (the larger folds' count)
    mapped = alphas * n_fold
    fits = TUNE_FOLDS * len(alphas) + 1
    rows = [
        _measured(
            "fastcost LinearRegressionCV",
            lambda: LinearRegressionCV(alphas=alphas, cv=folds, n_threads=threads).fit(X, y),
            fits, repeat, X_test, y_test,
            lambda est: float(est.alpha_), lambda est: -float(est.best_score_),
        )
    ]  # fmt: skip
    with threadpool_limits(limits=threads):
        X, y = own()
        grid = GridSearchCV(Ridge(), {"alpha": mapped}, cv=folds, scoring="neg_mean_squared_error")
        rows.append(_measured(
            "sklearn GridSearchCV(Ridge)", lambda: grid.fit(X, y), fits, repeat, X_test, y_test,
            lambda est: float(est.best_params_["alpha"]) / n_fold,
            lambda est: -float(est.best_score_),
        ))  # fmt: skip
        X, y = own()
        ridge = RidgeCV(alphas=mapped, cv=folds, scoring="neg_mean_squared_error")
        rows.append(_measured(
            "sklearn RidgeCV(cv=5)", lambda: ridge.fit(X, y), fits, repeat, X_test, y_test,
            lambda est: float(est.alpha_) / n_fold, lambda est: -float(est.best_score_),
        ))  # fmt: skip
    if tensorflow is not None and tensorflow.status == OK:
        r = tensorflow.report
        rows.append(TuneRow(
            "tensorflow (estimated)", r.wall_time_s * fits,
            (r.cpu_user_s + r.cpu_system_s) * fits, r.peak_memory_delta_bytes,
            r.energy_j * fits if math.isfinite(r.energy_j) else None, fits, None, None, None,
            estimated=True,
            note=f"estimated as {fits} x the measured TensorFlow fit ({r.wall_time_s:.3g} s), "
            f"one per fold and penalty plus the refit; not run",
        ))  # fmt: skip
    return rows


def table(rows: list[TuneRow]) -> str:
    """The tuning table, the speed of each row against fastcost's."""
    from fastcost.compare.report import format_number, format_time

    base = rows[0].wall_time_s if rows else math.nan
    head = (f"\nTuning alpha: {TUNE_FOLDS}-fold CV over {len(TUNE_ALPHAS)} penalties "
            f"({TUNE_ALPHAS[0]:.0e} .. {TUNE_ALPHAS[-1]:.0e}, LinearRegression's alpha), "
            "then a refit on all training rows")  # fmt: skip
    lines = [head, f"{'row':30s} {'wall':>10s} {'x fastcost':>10s} {'fits':>5s} "
             f"{'alpha_':>9s} {'CV MSE':>10s} {'test MSE':>10s}"]  # fmt: skip
    for r in rows:
        ratio = r.wall_time_s / base if base > 0 else math.nan
        lines.append(
            f"{r.name:30s} {format_time(r.wall_time_s):>10s} {ratio:>9.1f}x {r.fits:>5d} "
            f"{'-' if r.alpha is None else format(r.alpha, '.3g'):>9s} "
            f"{'-' if r.cv_mse is None else format_number(r.cv_mse):>10s} "
            f"{'-' if r.test_mse is None else format_number(r.test_mse):>10s}"
        )
    lines += [f"  {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join(lines)


def draw(ax: Any, rows: list[TuneRow]) -> None:
    """The chart's tuning panel: wall time per row, estimated rows hatched."""
    from fastcost.compare.report import format_time

    y = np.arange(len(rows))[::-1]
    colors = ["tab:blue" if r.name.startswith("fastcost") else "tab:gray" for r in rows]
    bars = ax.barh(y, [r.wall_time_s for r in rows], color=colors)
    for bar, r in zip(bars, rows, strict=True):
        if r.estimated:
            bar.set_hatch("//")
            bar.set_alpha(0.6)
        label = format_time(r.wall_time_s) + (" (estimated)" if r.estimated else "")
        ax.annotate(label, (r.wall_time_s, bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    ax.set_yticks(y, [r.name for r in rows])
    ax.set_xscale("log")
    walls = [r.wall_time_s for r in rows if r.wall_time_s > 0]
    if walls:
        ax.set_xlim(min(walls) / 2, max(walls) * 30)
    ax.set_title(f"Tuning alpha ({TUNE_FOLDS} folds x {len(TUNE_ALPHAS)} penalties + refit)")
    ax.set_xlabel("wall time (s, log scale; hatched: estimated)")
    ax.grid(axis="x", alpha=0.3)
