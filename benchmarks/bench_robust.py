"""Robust covariance (issue 18): the extra pass of compute_statistics="HC0".."HC3"/"cluster".

For each width, in one run and interleaved (every case once per round, best of ``--repeat``
rounds, so that drift in the machine's load hits every case alike):

- the plain Gram pass, ``_core.gram_stats(X, y)`` (what a newton fit reads X with);
- each robust kind's extra pass alone, ``_core.sandwich_sums`` with a model and bread of
  the data (HC1 is HC0's pass, scaled);
- the whole fit, ``LinearRegression(solver=..., compute_statistics=...)``, for False, True
  (the classical covariance, no extra pass) and every robust type.

The table gives seconds and the ratio to the Gram pass. Data: heteroskedastic noise,
``--groups`` clusters.

    python benchmarks/bench_robust.py                      # 1,000,000 x 20 and x 100, float64
    python benchmarks/bench_robust.py --n 200000 --d 20 --repeat 3

It never asserts a time.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from _results import interleaved_times, write_results

PASS_KINDS = ["HC0", "HC2", "HC3", "cluster"]
FIT_TYPES: list[Any] = [False, True, "HC0", "HC1", "HC2", "HC3", "cluster"]


def make_data(n: int, d: int, groups: int, dtype: str, seed: int = 0) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 3.0
    y = X @ rng.standard_normal(d) + 1.0 + rng.standard_normal(n) * (1.0 + np.abs(X[:, 0] - 3.0))
    g = rng.integers(0, groups, size=n)
    return X.astype(dtype), y.astype(dtype), g


def pass_model(X: np.ndarray, y: np.ndarray, g: np.ndarray) -> dict[str, Any]:
    """The arguments sandwich_sums gets from a fit: theta, K (upper, K K^T = H^-1), shift."""
    shift = np.asarray(X[0], dtype=np.float64)
    Z = np.column_stack([np.ones(len(X)), np.asarray(X, dtype=np.float64) - shift])
    H = Z.T @ Z
    theta = np.linalg.solve(H, Z.T @ np.asarray(y, dtype=np.float64))
    K = np.linalg.inv(np.linalg.cholesky(H).T)
    codes = np.unique(g, return_inverse=True)[1].astype(np.int32)
    return dict(w=theta[1:], b=float(theta[0]), K=np.triu(K), shift=shift, codes=codes,
                n_groups=int(codes.max()) + 1)  # fmt: skip


def cases(
    X: np.ndarray, y: np.ndarray, g: np.ndarray, args: argparse.Namespace
) -> dict[str, Callable]:
    from fastcost import LinearRegression, _core

    threads = args.n_threads
    model = pass_model(X, y, g)
    out: dict[str, Callable] = {
        "gram_stats pass": lambda: _core.gram_stats(X, y, None, None, 0, threads)
    }
    for kind in PASS_KINDS:
        kw = dict(w=model["w"], b=model["b"], K=model["K"], shift=model["shift"], kind=kind,
                  n_threads=threads)  # fmt: skip
        if kind == "cluster":
            kw.update(codes=model["codes"], n_groups=model["n_groups"])
        out[f"{kind} pass"] = lambda kw=kw: _core.sandwich_sums(X, y, **kw)
    for cov in FIT_TYPES:
        groups = g if cov == "cluster" else None
        est = dict(solver=args.solver, compute_statistics=cov, n_threads=threads)
        out[f"fit compute_statistics={cov!r}"] = _fit(LinearRegression(**est), X, y, groups)
    return out


def _fit(est: Any, X: np.ndarray, y: np.ndarray, groups: Any) -> Callable:
    return lambda: est.fit(X, y, groups=groups)


def time_cases(fns: dict[str, Callable], repeat: int) -> dict[str, list[float]]:
    return interleaved_times(fns, repeat, warmup=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", default="20,100", help="comma-separated feature counts")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--groups", type=int, default=500)
    p.add_argument("--solver", default="newton")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--n-threads", type=int, default=2)
    p.add_argument("--json", default="benchmarks/results/bench_robust.json")
    args = p.parse_args(argv)

    import fastcost

    rows = []
    for d in (int(v) for v in args.d.split(",")):
        X, y, g = make_data(args.n, d, args.groups, args.dtype)
        times = time_cases(cases(X, y, g, args), args.repeat)
        base = min(times["gram_stats pass"])
        print(f"\n{args.n:,} x {d} {args.dtype}, {args.n_threads} threads, best of {args.repeat} "
              f"(interleaved), solver={args.solver!r}, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print(f"{'case':<36} {'best (s)':>9} {'vs gram':>8}")
        for name, ts in times.items():
            print(f"{name:<36} {min(ts):>9.4f} {min(ts) / base:>7.2f}x")
            rows.append({"n": args.n, "d": d, "case": name, "best_s": min(ts), "times_s": ts,
                         "ratio_vs_gram": min(ts) / base})  # fmt: skip
        del X, y, g
    write_results(
        args.json,
        {"n": args.n, "dtype": args.dtype, "groups": args.groups, "solver": args.solver,
         "repeat": args.repeat, "n_threads": args.n_threads, "version": fastcost.__version__,
         "load_average": os.getloadavg(), "rows": rows},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
