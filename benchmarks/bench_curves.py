"""Cost curves: how each solver's fit time grows with n and with d, log-log.

Two sweeps on Gaussian data (y = X w + 0.5 + noise, float64, C order):

* time vs n at d = 20: n = 10^4 ... 10^7;
* time vs d at n = 100,000: d = 10 ... 1000.

Methods at every point, measured on the same X one after the other: fastcost
``newton`` and ``lbfgs``, numpy normal equations (``X.T @ X``, ``X.T @ y``,
centering, ``solve``) and scikit-learn ``LinearRegression`` (skipped at the
larger sizes of a sweep once one of its fits took more than ``--sklearn-limit``
seconds). Each point is the best of up to 5 fits, fewer when a fit is slow
(repeats stop once 1 s has been spent on the point).

    python benchmarks/bench_curves.py            # about 3-5 minutes on 2 cores
    python benchmarks/bench_curves.py --quick    # smaller sweeps, for a smoke run

Writes ``benchmarks/results/bench_curves.json`` and ``bench_curves.png``
(matplotlib). It never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from _results import loglog_curves, write_results

PAUSE_S = 0.1  # lets BLAS/OpenMP worker threads stop spinning between methods


def _methods():
    from fastcost import LinearRegression
    from sklearn.linear_model import LinearRegression as SkLinearRegression

    def numpy_ne(X, y):
        mu = X.mean(axis=0)
        G = X.T @ X - len(y) * np.outer(mu, mu)
        b = X.T @ y - len(y) * mu * y.mean()
        return np.linalg.solve(G, b)

    return {
        "fastcost newton": lambda X, y: LinearRegression(solver="newton").fit(X, y),
        "fastcost lbfgs": lambda X, y: LinearRegression(solver="lbfgs").fit(X, y),
        "numpy normal equations": numpy_ne,
        "scikit-learn LinearRegression": lambda X, y: SkLinearRegression().fit(X, y),
    }


def _time(f, X, y, budget_s: float = 1.0, max_reps: int = 5) -> float:
    ts: list[float] = []
    spent = 0.0
    time.sleep(PAUSE_S)  # once per method: back-to-back repeats then measure the warm fit
    while len(ts) < max_reps and (not ts or spent < budget_s):
        t = time.perf_counter()
        f(X, y)
        ts.append(time.perf_counter() - t)
        spent += ts[-1]
    return min(ts)


def _data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 + rng.standard_normal(n)
    return X, y


def sweep(points: list[tuple[int, int]], sklearn_limit: float, label: str) -> dict[str, list]:
    methods = _methods()
    out: dict[str, list] = {name: [] for name in methods}
    sklearn_off = False
    for n, d in points:
        X, y = _data(n, d)
        for name, f in methods.items():
            if name.startswith("scikit") and sklearn_off:
                out[name].append(None)
                continue
            f(X[: min(n, 2000)], y[: min(n, 2000)])  # warm-up (imports, first-call costs)
            t = _time(f, X, y)
            out[name].append(t)
            if name.startswith("scikit") and t > sklearn_limit:
                sklearn_off = True
        print(
            f"  {label} n={n:>10,} d={d:>5}: "
            + "  ".join(
                f"{k.split()[-1] if k.startswith('fastcost') else k.split()[0]}="
                f"{'-' if v[-1] is None else f'{v[-1]:.4f}'}"
                for k, v in out.items()
            ),
            file=sys.stderr,
        )
        del X, y
    return out


STYLE = {
    "fastcost newton": dict(color="#1b7837", marker="o", lw=2.2),
    "fastcost lbfgs": dict(color="#5aae61", marker="s", lw=2.2, ls="--"),
    "numpy normal equations": dict(color="#2166ac", marker="^", lw=1.6),
    "scikit-learn LinearRegression": dict(color="#b2182b", marker="D", lw=1.6),
}


def plot(res: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    for ax, key, xlab, title in (
        (axes[0], "vs_n", "rows n", f"time vs n  (d = {res['d_fixed']})"),
        (axes[1], "vs_d", "features d", f"time vs d  (n = {res['n_fixed']:,})"),
    ):
        sw = res[key]
        curves = {
            name: [(x, t) for x, t in zip(sw["x"], ts, strict=True) if t is not None]
            for name, ts in sw["times"].items()
        }
        loglog_curves(ax, curves, STYLE, xlab, "fit time (s)")
        ax.set_title(title)
    axes[0].legend(loc="upper left", fontsize=9)
    fig.suptitle(
        f"Cost curves, float64, {res['threads']} threads, kernels {res['isa']}; "
        f"load average {res['load_average_before'][0]:.1f} (1 min)",
        fontsize=11,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sweeps (smoke run)")
    p.add_argument("--sklearn-limit", type=float, default=30.0)
    p.add_argument("--json", default="benchmarks/results/bench_curves.json")
    p.add_argument("--png", default="benchmarks/results/bench_curves.png")
    args = p.parse_args(argv)
    import fastcost

    d_fixed, n_fixed = 20, 100_000
    ns = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
    ds = [10, 30, 100, 300, 1000]
    if args.quick:
        ns, ds, n_fixed = ns[:4], ds[:3], 20_000
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    res = {
        "d_fixed": d_fixed,
        "n_fixed": n_fixed,
        "threads": fastcost.config_info()["threads"],
        "isa": fastcost.config_info()["isa"],
        "load_average_before": load_before,
        "vs_n": {"x": ns, "times": sweep([(n, d_fixed) for n in ns], args.sklearn_limit, "vs n")},
        "vs_d": {"x": ds, "times": sweep([(n_fixed, d) for d in ds], args.sklearn_limit, "vs d")},
    }
    res["load_average_after"] = os.getloadavg()
    res["total_s"] = time.perf_counter() - t0
    write_results(args.json, res)
    try:
        plot(res, args.png)
        print(f"wrote {args.png}")
    except ImportError:
        print(
            "matplotlib is not installed (pip install 'fastcost[plot]'): no chart", file=sys.stderr
        )
    for key, lab in (("vs_n", "n"), ("vs_d", "d")):
        sw = res[key]
        print(f"\ntime (s) vs {lab}")
        names = list(sw["times"])
        print(f"{lab:>10s} " + " ".join(f"{k:>30s}" for k in names))
        for i, x in enumerate(sw["x"]):
            cells = [sw["times"][k][i] for k in names]
            print(
                f"{x:>10,} "
                + " ".join(f"{'skipped' if c is None else f'{c:.4f}':>30s}" for c in cells)
            )
    print(
        f"\nsweep took {res['total_s']:.0f} s; load average {load_before[0]:.2f} -> {res['load_average_after'][0]:.2f}"
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
