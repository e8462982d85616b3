"""fastcost.dask against dask-ml / dask-glm on the same LocalCluster and dask array.

    python benchmarks/bench_dask.py                    # 2,000,000 x 100 float64, 2 workers
    python benchmarks/bench_dask.py --n 200000 --d 20  # quick

Both libraries fit the same ordinary least-squares model (no penalty, with
intercept) on one persisted dask array. Each fit is preceded by an unmeasured
warm-up on a small slice (imports and first-call costs on the workers). Prints
two tables and writes JSON:

1. on 2 workers: time per fit, iterations, time per iteration, dask-ml's time
   over fastcost's, accuracy against the exact solution, and the workers'
   memory growth (sum of the workers' RSS, sampled every 0.2 s in one more fit);
2. fastcost on 1 and 2 workers (the scaling table).

Never asserts a time. The reference rows need ``pip install dask-ml dask-glm``
(a throwaway ``venv --system-site-packages`` keeps them out of the main
environment); without them those rows are skipped.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import threading
import time
import warnings
from typing import Any

import numpy as np

MEASURE_MEMORY = True


def _rss(dask_worker: Any = None) -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class _MemorySampler:
    """Peak growth of the summed worker RSS while a fit runs."""

    def __init__(self, client: Any, every_s: float = 0.2) -> None:
        self.client, self.every_s = client, every_s
        self.stop = threading.Event()

    def __enter__(self) -> _MemorySampler:
        self.base = sum(self.client.run(_rss).values())
        self.peak = self.base
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                self.peak = max(self.peak, sum(self.client.run(_rss).values()))
            except Exception:  # a sample lost to a busy worker is just skipped
                pass

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, sum(self.client.run(_rss).values()))

    @property
    def growth(self) -> int:
        return self.peak - self.base


def _make_data(client: Any, n: int, d: int, rows: int, seed: int) -> tuple[Any, Any, np.ndarray]:
    import dask.array as da

    rng = da.random.default_rng(seed)
    w = np.random.default_rng(seed).standard_normal(d)
    X = rng.standard_normal((n, d), chunks=(rows, d))
    y = X @ w + 0.5 + 0.1 * rng.standard_normal(n, chunks=(rows,))
    X, y = client.persist([X, y])
    from distributed import wait

    wait([X, y])  # generated on the workers, outside every measurement
    return X, y, w


def _time_fit(client: Any, fit: Any, repeat: int) -> tuple[float, Any, int]:
    """Median wall time of ``repeat`` fits, then one more fit for the memory.

    The sampler's polling would be part of the timed runs otherwise.
    """
    walls, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fit()
        walls.append(time.perf_counter() - t0)
    growth = -1
    if MEASURE_MEMORY:
        with _MemorySampler(client) as mem:
            fit()
        growth = mem.growth
    return float(np.median(walls)), out, growth


def _fastcost(client: Any, X: Any, y: Any, solver: str, repeat: int) -> dict[str, Any]:
    from fastcost.dask import LinearRegression

    LinearRegression(solver=solver, client=client).fit(X[:20_000], y[:20_000])  # warm-up
    wall, est, growth = _time_fit(
        client, lambda: LinearRegression(solver=solver, client=client).fit(X, y), repeat
    )
    iters = int(est.n_iter_)
    return {
        "name": f"fastcost.dask {solver}",
        "wall_s": wall,
        "iterations": iters,
        "passes": int(est.n_passes_),
        "s_per_iteration": wall / max(iters, 1),
        "coef": np.asarray(est.coef_, dtype=np.float64),
        "intercept": float(est.intercept_),
        "worker_mem_growth_bytes": growth,
    }


def _dask_ml(
    client: Any, X: Any, y: Any, solver: str, repeat: int, max_iter: int
) -> dict[str, Any]:
    import dask_glm.algorithms as algorithms
    import dask_glm.families as families
    from dask_ml.linear_model import LinearRegression as DaskMLLinearRegression

    # Count iterations without touching dask-glm's maths: lbfgs reports them
    # in scipy's info dict, newton evaluates the Hessian once per iteration.
    counts = {"nit": 0, "evals": 0}
    orig_lbfgs, orig_hessian = algorithms.fmin_l_bfgs_b, families.Normal.hessian

    def lbfgs_counted(*args: Any, **kwargs: Any) -> Any:
        beta, loss, info = orig_lbfgs(*args, **kwargs)
        counts["nit"], counts["evals"] = int(info["nit"]), int(info["funcalls"])
        return beta, loss, info

    def hessian_counted(*args: Any, **kwargs: Any) -> Any:
        counts["nit"] += 1
        counts["evals"] += 1
        return orig_hessian(*args, **kwargs)

    # dask-glm passes scipy's deprecated iprint; not this benchmark's concern.
    warnings.filterwarnings("ignore", message=".*iprint.*", category=DeprecationWarning)
    algorithms.fmin_l_bfgs_b = lbfgs_counted
    families.Normal.hessian = staticmethod(hessian_counted)
    try:

        def make() -> Any:
            return DaskMLLinearRegression(solver=solver, penalty=None, max_iter=max_iter)

        make().fit(X[:20_000], y[:20_000])  # warm-up
        counts.update(nit=0, evals=0)
        est = make().fit(X, y)  # the measured fits repeat these counts
        nit, evals = counts["nit"], counts["evals"]
        wall, est, growth = _time_fit(client, lambda: make().fit(X, y), repeat)
        counts.update(nit=nit, evals=evals)
    finally:
        algorithms.fmin_l_bfgs_b = orig_lbfgs
        families.Normal.hessian = orig_hessian
    iters = max(counts["nit"], 1)
    return {
        "name": f"dask-ml {solver}",
        "wall_s": wall,
        "iterations": counts["nit"],
        "passes": counts["evals"],
        "s_per_iteration": wall / iters,
        "coef": np.asarray(est.coef_, dtype=np.float64),
        "intercept": float(est.intercept_),
        "worker_mem_growth_bytes": growth,
    }


def _cluster(n_workers: int) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    # The default client: dask-ml computes on whatever scheduler is current.
    return cluster, Client(cluster)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--chunk-rows", type=int, default=125_000, help="rows per chunk (shard)")
    parser.add_argument("--repeat", type=int, default=3, help="measured fastcost fits (median)")
    parser.add_argument("--repeat-reference", type=int, default=1, help="measured dask-ml fits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dask-ml-max-iter", type=int, default=100, help="dask-ml's default")
    parser.add_argument("--skip-dask-ml", action="store_true")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--json", default="benchmarks/results/bench_dask.json")
    args = parser.parse_args()

    global MEASURE_MEMORY
    MEASURE_MEMORY = not args.no_memory
    n, d = args.n, args.d
    # Other processes on the machine show up in every figure: say how busy it was.
    load_before = os.getloadavg()
    print(f"{n} x {d} float64 ({n * d * 8 / 1e9:.2f} GB), chunks of {args.chunk_rows} rows, "
          f"LocalCluster of single-threaded worker processes on {platform.node()}")  # fmt: skip

    rows: list[dict[str, Any]] = []
    scaling: list[dict[str, Any]] = []
    for n_workers in (2, 1):
        cluster, client = _cluster(n_workers)
        try:
            X, y, _ = _make_data(client, n, d, args.chunk_rows, args.seed)
            # Both libraries' imports on every worker, outside the measurements (a
            # warm-up on one slice reaches one worker only).
            for module in ("fastcost.dask", "dask_glm.algorithms", "dask_ml.linear_model"):
                try:
                    client.run(importlib.import_module, module)
                except ImportError:
                    pass
            for solver in ("newton", "lbfgs"):
                r = _fastcost(client, X, y, solver, args.repeat)
                r["workers"] = n_workers
                scaling.append(r)
                if n_workers == 2:
                    rows.append(r)
            if n_workers == 2 and not args.skip_dask_ml:
                for solver in ("newton", "lbfgs"):
                    try:
                        r = _dask_ml(
                            client, X, y, solver, args.repeat_reference, args.dask_ml_max_iter
                        )
                    except ImportError as exc:
                        print(f"dask-ml {solver}: not run ({exc}); pip install dask-ml dask-glm")
                        continue
                    r["workers"] = n_workers
                    rows.append(r)
            del X, y
        finally:
            client.close()
            cluster.close()

    exact = next(r for r in rows if r["name"] == "fastcost.dask newton")
    scale = max(float(np.max(np.abs(exact["coef"]))), 1.0)
    for r in rows:
        r["coef_max_rel_err_vs_newton"] = float(np.max(np.abs(r["coef"] - exact["coef"])) / scale)
    by_solver = {
        r["name"].split()[-1]: r["wall_s"] for r in rows if r["name"].startswith("fastcost")
    }

    print("\nOn 2 workers (same persisted dask array)")
    head = f"{'method':<22}{'time/fit':>10}{'iters':>7}{'passes':>8}{'time/iter':>11}"
    head += f"{'vs fastcost':>13}{'worker mem':>12}{'coef err':>11}"
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = r["wall_s"] / by_solver[r["name"].split()[-1]]
        r["ratio_vs_fastcost"] = ratio
        print(f"{r['name']:<22}{r['wall_s']:>9.2f}s{r['iterations']:>7}{r['passes']:>8}"
              f"{r['s_per_iteration'] * 1e3:>9.1f}ms{ratio:>12.1f}x"
              f"{r['worker_mem_growth_bytes'] / 1e9:>10.2f}GB{r['coef_max_rel_err_vs_newton']:>11.1e}")  # fmt: skip

    print("\nfastcost.dask scaling")
    print(f"{'solver':<8}{'workers':>8}{'time/fit':>10}{'speed-up':>10}")
    for solver in ("newton", "lbfgs"):
        one = next(r["wall_s"] for r in scaling if r["workers"] == 1 and solver in r["name"])
        for r in sorted((r for r in scaling if solver in r["name"]), key=lambda r: r["workers"]):
            r["speedup_vs_1_worker"] = one / r["wall_s"]
            print(f"{solver:<8}{r['workers']:>8}{r['wall_s']:>9.2f}s{one / r['wall_s']:>9.2f}x")

    load_after = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): before {load_before}, after {load_after}")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        strip = [{k: v for k, v in r.items() if k != "coef"} for r in rows]
        doc = {
            "n": n,
            "d": d,
            "chunk_rows": args.chunk_rows,
            "repeat": args.repeat,
            "repeat_reference": args.repeat_reference,
            "machine": {"node": platform.node(), "cores": os.cpu_count()},
            "load_average_before_after": [load_before, load_after],
            "two_workers": strip,
            "scaling": [{k: v for k, v in r.items() if k != "coef"} for r in scaling],
        }
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
