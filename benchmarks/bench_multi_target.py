"""Multi-target Gram pass: _core.gram_stats with k = 1 against k = 10 targets, same X, same run.

The k targets ride in the augmented row [x - c, y_1 - c_y1, ..., y_k - c_yk, 1] of the one pass,
so the width grows from d + 2 to d + k + 1 (102 -> 111 at d = 100); this measures what that costs.
Each case is timed ``--repeat`` times after one warm-up call, interleaved (k = 1, k = 10 C,
k = 10 F, k = 1, ...) so that drift in the machine's load hits every case alike; the table shows
the median and the ratio to k = 1.

    python benchmarks/bench_multi_target.py                 # 2,000,000 x 100 float64, k = 1, 10
    python benchmarks/bench_multi_target.py --n 200000 --ks 1,2,10

lbfgs (``--lbfgs-k``, default 10): ``LinearRegression(solver="lbfgs").fit`` with the k targets
in lockstep (one read of X per iteration round for all of them) against one single-target fit
(k = 1) and against the k single fits one after another (what a 2-D y cost before), interleaved
the same way; the table shows times, ratios and the reads of X (``n_passes_``).

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


def _lbfgs_fits(X: np.ndarray, Y: np.ndarray, repeat: int, n_threads: int) -> list[dict]:
    """lbfgs on k targets in lockstep, on one target, and on k targets one after another."""
    from fastcost import LinearRegression

    k = Y.shape[1]
    y0 = np.ascontiguousarray(Y[:, 0])
    cols = [np.ascontiguousarray(Y[:, t]) for t in range(k)]

    def model() -> LinearRegression:
        return LinearRegression(solver="lbfgs", n_threads=n_threads or None)

    def lockstep() -> tuple[int, str]:
        m = model().fit(X, Y)
        return m.n_passes_, ",".join(str(i) for i in m.n_iter_)

    def single() -> tuple[int, str]:
        m = model().fit(X, y0)
        return m.n_passes_, str(m.n_iter_)

    def sequential() -> tuple[int, str]:
        fits = [model().fit(X, y) for y in cols]
        return sum(m.n_passes_ for m in fits), ",".join(str(m.n_iter_) for m in fits)

    cases = {
        "k=1 (one lbfgs fit)": single,
        f"k={k} lockstep": lockstep,
        f"k={k} one after another": sequential,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    info: dict[str, tuple[int, str]] = {}
    single()  # warm-up
    for _ in range(repeat):
        for name, run in cases.items():
            t = time.perf_counter()
            info[name] = run()
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["k=1 (one lbfgs fit)"])
    print(f"\nlbfgs (LinearRegression(solver='lbfgs').fit), median of {repeat}\n")
    print(f"{'case':<26} {'median (s)':>11} {'vs k=1':>7} {'passes':>7}   n_iter")
    out = []
    for name, ts in times.items():
        med = statistics.median(ts)
        passes, iters = info[name]
        print(f"{name:<26} {med:>11.3f} {med / base:>6.2f}x {passes:>7}   {iters}")
        out.append(
            {
                "case": name,
                "median_s": med,
                "times_s": ts,
                "ratio_vs_k1": med / base,
                "n_passes": passes,
                "n_iter": iters,
            }
        )
    lock = statistics.median(times[f"k={k} lockstep"])
    seq = statistics.median(times[f"k={k} one after another"])
    print(f"\nlockstep vs one after another: {seq / lock:.2f}x faster")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2_000_000)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--ks", default="1,10", help="comma-separated target counts (1 is the baseline)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--n-threads", type=int, default=0)
    p.add_argument("--lbfgs-k", type=int, default=10, help="targets of the lbfgs case (0: skip it)")
    p.add_argument("--skip-newton", action="store_true", help="only the lbfgs case")
    p.add_argument("--json", default="benchmarks/results/bench_multi_target.json")
    args = p.parse_args(argv)

    from fastcost import _core

    ks = sorted({int(k) for k in args.ks.split(",")} | {1})
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d))
    k_all = max(*ks, args.lbfgs_k)
    Y = X[:, :k_all] @ rng.standard_normal((k_all, k_all)) + rng.standard_normal((args.n, k_all))
    lbfgs = (
        _lbfgs_fits(X, Y[:, : args.lbfgs_k], args.repeat, args.n_threads) if args.lbfgs_k else []
    )
    if args.skip_newton:
        write_results(args.json, {"n": args.n, "d": args.d, "repeat": args.repeat, "lbfgs": lbfgs})
        return 0
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
        args.json,
        {
            "n": args.n,
            "d": args.d,
            "repeat": args.repeat,
            "rows": rows,
            "fits": fits,
            "lbfgs": lbfgs,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
