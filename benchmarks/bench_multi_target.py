"""Multi-target Gram pass: _core.gram_stats with k = 1 against k = 10 targets, same X, same run.

The k targets ride in the augmented row [x - c, y_1 - c_y1, ..., y_k - c_yk, 1] of the one pass,
so the width grows from d + 2 to d + k + 1 (102 -> 111 at d = 100); this measures what that costs.
Each case is timed ``--repeat`` times after one warm-up call, interleaved (k = 1, k = 10 C,
k = 10 F, k = 1, ...) so that drift in the machine's load hits every case alike; the table shows
the median and the ratio to k = 1.

    python benchmarks/bench_multi_target.py                 # 2,000,000 x 100 float64, k = 1, 10
    python benchmarks/bench_multi_target.py --n 200000 --ks 1,2,10

It never asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _results import write_results


def _cases(ks: list[int], Y: np.ndarray) -> dict[str, np.ndarray]:
    cases = {}
    for k in ks:
        if k == 1:
            cases["k=1 (1-D y)"] = np.ascontiguousarray(Y[:, 0])
        else:
            cases[f"k={k} (C-ordered Y)"] = np.ascontiguousarray(Y[:, :k])
            cases[f"k={k} (F-ordered Y)"] = np.asfortranarray(Y[:, :k])
    return cases


def _whole_fits(X: np.ndarray, cases: dict[str, np.ndarray], repeat: int) -> list[dict]:
    """``LinearRegression(solver="newton").fit`` with each y: the whole fit (validation,
    the one pass, k solves, attributes), interleaved, median of ``repeat``."""
    from fastcost import LinearRegression

    times: dict[str, list[float]] = {name: [] for name in cases}
    for y in cases.values():
        LinearRegression(solver="newton").fit(X, y)
    for _ in range(repeat):
        for name, y in cases.items():
            t = time.perf_counter()
            LinearRegression(solver="newton").fit(X, y)
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["k=1 (1-D y)"])
    print(f"\nwhole newton fit (LinearRegression(solver='newton').fit), median of {repeat}\n")
    out = []
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<22} {med:>11.3f} {med / base:>6.2f}x   target <= 1.2x")
        out.append({"case": name, "median_s": med, "times_s": ts, "ratio_vs_k1": med / base})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2_000_000)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--ks", default="1,10", help="comma-separated target counts (1 is the baseline)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--n-threads", type=int, default=0)
    p.add_argument("--json", default="benchmarks/results/bench_multi_target.json")
    args = p.parse_args(argv)

    from fastcost import _core

    ks = sorted({int(k) for k in args.ks.split(",")} | {1})
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d))
    Y = X[:, : max(ks)] + rng.standard_normal((args.n, max(ks)))
    cases = _cases(ks, Y)
    del Y

    times: dict[str, list[float]] = {name: [] for name in cases}
    for y in cases.values():  # warm-up: page in, spin up the threads
        _core.gram_stats(X, y, None, None, 0, args.n_threads)
    for _ in range(args.repeat):
        for name, y in cases.items():
            t = time.perf_counter()
            _core.gram_stats(X, y, None, None, 0, args.n_threads)
            times[name].append(time.perf_counter() - t)

    base = statistics.median(times["k=1 (1-D y)"])
    rows = []
    print(f"gram_stats, {args.n:,} x {args.d} float64, median of {args.repeat} (same run)\n")
    print(f"{'case':<22} {'width':>5} {'median (s)':>11} {'vs k=1':>7}   runs (s)")
    for name, ts in times.items():
        k = cases[name].shape[1] if cases[name].ndim == 2 else 1
        med = statistics.median(ts)
        runs = ", ".join(f"{t:.3f}" for t in ts)
        print(f"{name:<22} {args.d + k + 1:>5} {med:>11.3f} {med / base:>6.2f}x   {runs}")
        rows.append(
            {
                "case": name,
                "k": k,
                "width": args.d + k + 1,
                "median_s": med,
                "times_s": ts,
                "ratio_vs_k1": med / base,
            }
        )
    fits = _whole_fits(X, cases, args.repeat)
    write_results(
        args.json, {"n": args.n, "d": args.d, "repeat": args.repeat, "rows": rows, "fits": fits}
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
