"""What ``fastcost compare``'s measurement adds to a fastcost row's wall time.

For every fastcost solver compare runs by default, on the default problem
(``fastcost.datasets.make_default()``: 8,000 x 20 training rows, float64), in one
process and interleaved round by round (so machine noise hits all alike):

``compare``   the wall time compare reports for the row: the row's runner
              (``fastcost.compare.runners.RUNNERS["fastcost-<solver>"].run``, with
              its warm-up and one measured fit, as ``fastcost compare`` runs it);
``direct``    the same fit (same estimator, parameters, data and start) timed
              with ``time.perf_counter`` around ``LinearRegression(...).fit`` alone,
              after a warm-up;
``old``       the same fit as compare measured it before: inside
              ``fastcost.resources.measure`` (an RSS sampling thread beside the fit)
              after a warm-up on the first 200 rows only.

Before each of the three, the machine is left idle for ``PAUSE_S`` (the BLAS and
OpenMP pools of the previous call spin-wait, and would slow whichever call comes
next), and ``direct`` calls the fit once unmeasured first, as the row's runner
warms up. Each figure is the best (and the median) of ``--repeat``
rounds. The ratio
compare / direct is the overhead compare's own measurement puts in the timed
region; the target is at most 1.3.

    python benchmarks/bench_compare_overhead.py               # about 1 minute
    python benchmarks/bench_compare_overhead.py --repeat 50 --threads 1

Prints a table and writes ``benchmarks/results/bench_compare_overhead.json``. It
never asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from _results import write_results
from fastcost._threads import available_cores
from fastcost.compare.runners import RUNNERS, Settings, fastcost_solvers, shared_start
from fastcost.datasets import make_default
from fastcost.linear_model import LinearRegression
from fastcost.resources import measure

HERE = os.path.dirname(os.path.abspath(__file__))

#: Idle seconds before each timed call (see the module docstring).
PAUSE_S = 0.1


def direct_fit(solver: str, settings: Settings, data: Any) -> Callable[..., Any]:
    """The fit ``run_fastcost`` measures, as a plain call (same parameters and start);
    called without arguments it fits the training set, else the ``X, y`` given."""
    kwargs: dict[str, Any] = {
        "alpha": 0.0, "random_state": settings.seed, "n_threads": settings.threads,
    }  # fmt: skip
    fit_kwargs: dict[str, Any] = {}
    if solver == "sgd":
        kwargs.update(
            max_iter=settings.epochs, batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
        )  # fmt: skip
        w0, b0 = shared_start(data.n_features, settings.seed)
        fit_kwargs = {"coef_init": w0.astype(data.X_train.dtype), "intercept_init": b0}
    X, y = data.X_train.copy(), data.y_train.copy()
    return lambda Xf=X, yf=y: LinearRegression(solver=solver, **kwargs).fit(Xf, yf, **fit_kwargs)


def timed(fit: Callable[[], Any]) -> float:
    """Wall seconds of one call of ``fit``, after a pause and a warm-up call."""
    time.sleep(PAUSE_S)
    fit()
    t0 = time.perf_counter()
    fit()
    return time.perf_counter() - t0


def old_compare(fit: Callable[..., Any], data: Any) -> float:
    """Wall seconds of one call of ``fit`` as compare measured it before: after a
    pause and a warm-up on the first 200 rows, inside ``fastcost.resources.measure``."""
    time.sleep(PAUSE_S)
    fit(data.X_train[:200].copy(), data.y_train[:200].copy())
    with measure() as m:
        fit()
    assert m.report is not None
    return m.report.wall_time_s


def main() -> None:
    """Run the rounds, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="rounds (default 30)")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    args = parser.parse_args()

    data = make_default(seed=0)
    settings = Settings(threads=args.threads or available_cores(), seed=0)
    start = shared_start(data.n_features, settings.seed)
    solvers = list(fastcost_solvers())
    fits = {s: direct_fit(s, settings, data) for s in solvers}
    for fit in fits.values():  # warm-up of the direct calls
        for _ in range(3):
            fit()
    times: dict[str, dict[str, list[float]]] = {
        s: {"compare": [], "direct": [], "old": []} for s in solvers
    }
    for _ in range(args.repeat):
        for s in solvers:
            time.sleep(PAUSE_S)
            res = RUNNERS[f"fastcost-{s}"].run(data, settings, start)
            times[s]["compare"].append(res.report.wall_time_s)
            times[s]["direct"].append(timed(fits[s]))
            times[s]["old"].append(old_compare(fits[s], data))

    n, d = data.X_train.shape
    print(
        f"fastcost compare's measurement overhead: {n} x {d} float64, "
        f"{settings.threads} threads, best (median) of {args.repeat} rounds\n"
    )
    header = f"{'solver':8}  {'direct':>18}  {'compare':>18}  {'ratio':>12}  {'old compare':>18}"
    print(header)
    print("-" * len(header))
    summary = {}
    for s in solvers:
        t = times[s]
        best = {k: min(v) for k, v in t.items()}
        med = {k: statistics.median(v) for k, v in t.items()}
        ratio, ratio_med = best["compare"] / best["direct"], med["compare"] / med["direct"]
        old, old_med = best["old"] / best["direct"], med["old"] / med["direct"]

        def us(k: str, best: dict[str, float] = best, med: dict[str, float] = med) -> str:
            return f"{best[k] * 1e6:7.0f} ({med[k] * 1e6:6.0f}) us"

        print(
            f"{s:8}  {us('direct')}  {us('compare')}  {ratio:5.2f} ({ratio_med:4.2f})  "
            f"{us('old')} = {old:.2f}x ({old_med:.2f}x)"
        )
        summary[s] = {
            "best_s": best, "median_s": med, "ratio_best": ratio, "ratio_median": ratio_med,
            "old_compare_ratio_best": old, "old_compare_ratio_median": old_med,
        }  # fmt: skip
    print("\nratio: compare / direct (best, and median in parentheses); target <= 1.3")
    write_results(
        os.path.join(HERE, "results", "bench_compare_overhead.json"),
        {
            "shape": [n, d], "threads": settings.threads, "repeat": args.repeat,
            "load_average": os.getloadavg(), "summary": summary, "times_s": times,
        },
    )  # fmt: skip


if __name__ == "__main__":
    main()
