"""qr on wide data: LinearRegression(solver="qr").fit against scipy.linalg.qr(X, mode="r") and newton.

Issue 19, point 3: the whole qr fit (validation, the pass, the solve and its digits estimate) within
1.5x of SciPy's QR of X alone (LAPACK's dgeqrf, which computes less: R of X, no solve) at
20,000 x 2,000, and within 2.5x of the newton fit at each shape. Each shape gets its own X
(float64, C order, y = X w + noise); its methods are timed in turn, ``--repeat`` rounds after one
warm-up round, all in this one process, and the table shows the medians and their ratios.

"qr" is the default fit (qr_precision="auto"): a double pass, and a second pass in long double
when the double solve's digits estimate is below EXTENDED_MIN_DIGITS. Where the estimate asks for
it (5,000 x 4,000: 9.3 < 9.5) that second pass takes minutes, so it is timed once, and
``--skip-extended`` leaves it out; "qr double" (qr_precision="double") is the first pass and its
solve alone, at every shape.

    python benchmarks/bench_qr_wide.py                         # the four shapes of the issue
    python benchmarks/bench_qr_wide.py --shapes 20000x2000 --repeat 5

It never asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
from _results import write_results

SHAPES = "100000x500,50000x1000,20000x2000,5000x4000"


def _timed(f: Callable[[], Any]) -> float:
    # OpenBLAS's threads spin for a while after a call (scipy's qr, newton's LAPACK
    # solve) and would slow whichever method runs next: let them go to sleep first.
    time.sleep(0.5)
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def _time_shape(n: int, d: int, repeat: int, n_threads: int, skip_extended: bool) -> dict[str, Any]:
    from fastcost import LinearRegression, _core

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    kw = {"n_threads": n_threads} if n_threads > 0 else {}
    methods: dict[str, Callable[[], Any]] = {
        "qr double": lambda: LinearRegression(solver="qr", qr_precision="double", **kw).fit(X, y),
        "scipy qr(mode='r')": lambda: scipy.linalg.qr(X, mode="r"),
        "newton": lambda: LinearRegression(solver="newton", **kw).fit(X, y),
    }
    for f in methods.values():  # warm-up: page in, spin up the threads, load SciPy's LAPACK
        f()
    opts = _core.FitOptions(n_threads=n_threads)
    digits = _core.fit_qr(X, y, None, opts, "double")[0].digits_estimate
    extended = digits < _core.EXTENDED_MIN_DIGITS
    auto = lambda: LinearRegression(solver="qr", **kw).fit(X, y)  # noqa: E731
    times: dict[str, list[float]] = {"qr": [], **{name: [] for name in methods}}
    if extended and not skip_extended:
        times["qr"].append(_timed(auto))  # minutes: once
    for _ in range(repeat):
        if not extended:
            times["qr"].append(_timed(auto))
        for name, f in methods.items():
            times[name].append(_timed(f))
    precision = "extended" if extended else "double"
    return {"n": n, "d": d, "digits_estimate": digits, "qr_precision": precision, "times_s": times}


def _fmt(v: float | None, width: int, ratio: bool = False) -> str:
    if v is None:
        return f"{'-':>{width}}"
    return f"{v:>{width - 1}.2f}x" if ratio else f"{v:>{width}.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default=SHAPES, help="comma-separated n x d")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--n-threads", type=int, default=0, help="0: the estimator's default")
    p.add_argument("--skip-extended", action="store_true", help="leave out auto's long double pass")
    p.add_argument("--json", default="benchmarks/results/bench_qr_wide.json")
    args = p.parse_args(argv)

    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    rows = []
    print(
        f"float64, C order; median of {args.repeat} (same process; auto's long double pass: 1 run)\n"
    )
    print(
        f"{'shape':>11} {'qr (s)':>8} {'qr prec.':>9} {'qr double':>10} {'scipy qr r':>11}"
        f" {'newton':>8} {'qr/scipy':>9} {'qr/newton':>10} {'double/newton':>14}"
    )
    for n, d in shapes:
        r = _time_shape(n, d, args.repeat, args.n_threads, args.skip_extended)
        med = {k: statistics.median(v) if v else None for k, v in r["times_s"].items()}
        qr, dbl, sp, nt = med["qr"], med["qr double"], med["scipy qr(mode='r')"], med["newton"]
        assert dbl is not None and sp is not None and nt is not None
        print(
            f"{f'{n}x{d}':>11} {_fmt(qr, 8)} {r['qr_precision']:>9} {_fmt(dbl, 10)} {_fmt(sp, 11)}"
            f" {_fmt(nt, 8)} {_fmt(qr and qr / sp, 9, True)} {_fmt(qr and qr / nt, 10, True)}"
            f" {_fmt(dbl / nt, 14, True)}",
            flush=True,
        )
        rows.append(dict(r, median_s=med))
    print(
        "\ntargets: qr/scipy <= 1.5x at 20000x2000; qr/newton <= 2.5x at every shape"
        "\n(qr prec.: the precision auto chose; extended adds a long double pass)"
    )
    write_results(args.json, {"repeat": args.repeat, "n_threads": args.n_threads, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
