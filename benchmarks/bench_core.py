"""Core benchmark: fastcost newton/lbfgs against numpy and scikit-learn, same data, same run.

Every method runs in its own subprocess on the same X (n x d float64, saved once
to a .npy file), so the extra peak memory of a fit is measured cleanly: the
process's peak RSS after the fit minus its peak RSS once X and y are loaded.
Times are the best of ``--repeat`` fits after one warm-up fit (warm-up excluded).

    python benchmarks/bench_core.py                       # 2,000,000 x 100
    python benchmarks/bench_core.py --n 200000 --d 50 --json out.json

Prints a table of times, ratios against numpy's normal equations and extra peak
memory (absolute and as a fraction of X), and writes JSON. It never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _results import write_results

METHODS = {
    "fastcost newton": "from fastcost import LinearRegression as M; m = lambda: M(solver='newton')",
    "fastcost lbfgs": "from fastcost import LinearRegression as M; m = lambda: M(solver='lbfgs')",
    "numpy normal equations": None,
    "numpy X.T @ X only": None,
    "sklearn LinearRegression": "from sklearn.linear_model import LinearRegression as M; m = lambda: M()",
    "sklearn Ridge(alpha=1e-8)": "from sklearn.linear_model import Ridge as M; m = lambda: M(alpha=1e-8)",
}

CHILD = r"""
import json, resource, sys, time
import numpy as np
X = np.load(sys.argv[1]); y = np.load(sys.argv[2]); name = sys.argv[3]; repeat = int(sys.argv[4]); setup = sys.argv[5]

def kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

if name == "numpy normal equations":
    def fit():
        mu = X.mean(axis=0); ym = y.mean()
        G = X.T @ X - len(y) * np.outer(mu, mu)
        b = X.T @ y - len(y) * mu * ym
        return np.linalg.solve(G, b)
elif name == "numpy X.T @ X only":
    def fit():
        return X.T @ X
else:
    ns = {}
    exec(setup, ns)
    make = ns["m"]
    def fit():
        return make().fit(X, y)

before = kb()
times = []
fit()  # warm-up (also the fit whose extra memory is measured)
peak = kb()
for _ in range(repeat):
    t = time.perf_counter(); fit(); times.append(time.perf_counter() - t)
print(json.dumps({"time_s": min(times), "times_s": times, "extra_peak_bytes": (peak - before) * 1024}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2_000_000)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip", default="", help="comma-separated method names to skip")
    p.add_argument("--json", default="benchmarks/results/bench_core.json")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d))
    y = X @ rng.standard_normal(args.d) + 0.5 + rng.standard_normal(args.n)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        xf, yf = os.path.join(tmp, "X.npy"), os.path.join(tmp, "y.npy")
        np.save(xf, X)
        np.save(yf, y)
        del X
        for name, setup in METHODS.items():
            if name in skip:
                continue
            repeat = 1 if name.startswith("sklearn") else args.repeat
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CHILD, xf, yf, name, str(repeat), setup or ""],
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                print(f"{name}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"  {name}: {results[name]['time_s']:.3f} s ({time.perf_counter() - t0:.0f} s total)",
                file=sys.stderr,
            )

    x_bytes = args.n * args.d * 8
    base = results.get("numpy normal equations", {}).get("time_s")
    print(
        f"\nfit on {args.n:,} x {args.d} float64 (X = {x_bytes / 1e9:.2f} GB), best of {args.repeat}"
    )
    print(
        f"{'method':28s} {'time (s)':>9s} {'vs numpy NE':>12s} {'extra peak':>12s} {'% of X':>8s}"
    )
    for name, r in results.items():
        ratio = f"{r['time_s'] / base:.2f}x" if base else "-"
        extra = r["extra_peak_bytes"]
        print(
            f"{name:28s} {r['time_s']:9.3f} {ratio:>12s} {extra / 1e6:10.1f} MB {100 * extra / x_bytes:7.2f}%"
        )
    write_results(args.json, {"n": args.n, "d": args.d, "x_bytes": x_bytes, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
