"""qr on wide data: LinearRegression(solver="qr").fit against scipy.linalg.qr(X, mode="r") and newton.

Issue 19, point 3: the whole qr fit (validation, the pass, the solve and its digits estimate) within
1.5x of SciPy's QR of X alone (LAPACK's dgeqrf, which computes less: R of X, no solve) at
20,000 x 2,000, and within 2.5x of the newton fit at each shape. Each shape gets its own X
(float64, C order, y = X w + noise); its three methods are timed in turn, ``--repeat`` rounds after
one warm-up round, all in this one process, and the table shows the medians and their ratios.

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


def _methods(X: np.ndarray, y: np.ndarray, n_threads: int) -> dict[str, Callable[[], Any]]:
    from fastcost import LinearRegression

    kw = {"n_threads": n_threads} if n_threads > 0 else {}
    return {
        "qr": lambda: LinearRegression(solver="qr", **kw).fit(X, y),
        "scipy qr(mode='r')": lambda: scipy.linalg.qr(X, mode="r"),
        "newton": lambda: LinearRegression(solver="newton", **kw).fit(X, y),
    }


def _time_shape(n: int, d: int, repeat: int, n_threads: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    methods = _methods(X, y, n_threads)
    for f in methods.values():  # warm-up: page in, spin up the threads, load SciPy's LAPACK
        f()
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeat):
        for name, f in methods.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    fit = _qr_choice(X, y, n_threads)
    return {"n": n, "d": d, "times_s": times, **fit}


def _qr_choice(X: np.ndarray, y: np.ndarray, n_threads: int) -> dict[str, Any]:
    """How the qr fit ran (its precision and digits estimate), for the JSON."""
    from fastcost import LinearRegression

    kw = {"n_threads": n_threads} if n_threads > 0 else {}
    m = LinearRegression(solver="qr", **kw).fit(X, y)
    return {"qr_precision": m.qr_precision_, "n_passes": int(m.n_passes_)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default=SHAPES, help="comma-separated n x d")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--n-threads", type=int, default=0, help="0: the estimator's default")
    p.add_argument("--json", default="benchmarks/results/bench_qr_wide.json")
    args = p.parse_args(argv)

    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    rows = []
    print(f"float64, C order; median of {args.repeat} (same process)\n")
    head = f"{'shape':>12} {'qr (s)':>8} {'scipy qr r (s)':>15} {'newton (s)':>11} {'qr/scipy':>9} {'qr/newton':>10}"
    print(head)
    for n, d in shapes:
        r = _time_shape(n, d, args.repeat, args.n_threads)
        med = {k: statistics.median(v) for k, v in r["times_s"].items()}
        qr, sp, nt = med["qr"], med["scipy qr(mode='r')"], med["newton"]
        print(
            f"{f'{n}x{d}':>12} {qr:>8.3f} {sp:>15.3f} {nt:>11.3f} {qr / sp:>8.2f}x {qr / nt:>9.2f}x",
            flush=True,
        )
        rows.append(dict(r, median_s=med, qr_vs_scipy=qr / sp, qr_vs_newton=qr / nt))
    print("\ntargets: qr/scipy <= 1.5x at 20000x2000; qr/newton <= 2.5x at every shape")
    write_results(args.json, {"repeat": args.repeat, "n_threads": args.n_threads, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
