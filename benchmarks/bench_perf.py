"""Performance targets of issue 5: every figure a ratio against a baseline measured in the same run.

Sections (``--only`` picks some; all by default):

``large``   2,000,000 x 100: newton's Gram pass against numpy ``X.T @ X`` (float64 and
            float32), one fused ``_core.loss_grad`` pass against numpy ``X @ v``, a plain
            streaming read of X (BLAS ddot of X with itself; for 2 threads two Python threads
            each read half)
            as the bandwidth ceiling; 1 and 2 threads. Cases run interleaved in one
            process (round-robin, ``--repeat`` rounds, best of), so machine noise hits
            them alike.
``memory``  extra peak RSS of a newton fit on 2,000,000 x 100 (float64, float32), each in its
            own subprocess: the peak RSS during the fit (VmHWM, reset just before it through
            /proc/self/clear_refs) minus the RSS before it.
``lbfgs``   fastcost ``lbfgs`` (default tol) against scipy L-BFGS-B with a numpy
            loss/gradient and glum's lbfgs (if installed), same stopping rule
            (max|grad| <= 1e-6 max|grad at 0|), on 1,000,000 x 100, for two kinds of data:
            isotropic N(0, 1) columns and "raw" columns (correlated, scaled, offset; see
            ``lbfgs_data``); accuracy reported as the relative coefficient error against the
            exact (newton) solution, and the passes / evaluations each made.
``small``   the seed scenario (``fastcost.datasets.make_default()``: 8,000 x 20 training rows):
            ``LinearRegression(solver="newton").fit`` against scikit-learn's
            ``LinearRegression().fit`` (median of many in-process calls, interleaved), and
            ``solver="sgd"`` (Keras recipe: batch 100, 10 epochs, float32, Keras' initial
            weights) against TensorFlow's ``model.fit`` (``fastcost.baselines.tensorflow``).

    python benchmarks/bench_perf.py                  # everything (about 4 minutes)
    python benchmarks/bench_perf.py --only small,lbfgs

Prints one table of targets with the measured ratios and writes JSON
(``benchmarks/results/bench_perf.json``) with every timing, the load average and
``fastcost.config_info()``. It never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _results import write_results

N_LARGE, D_LARGE = 2_000_000, 100

#: Seconds of quiet before each timed call: OpenBLAS' and OpenMP's worker threads
#: spin-wait after a call, and would otherwise steal the cores from whichever
#: method runs next in the interleaved order.
PAUSE_S = 0.25


def _best(ts: list[float]) -> float:
    return float(min(ts))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------------- large


def bench_large(repeat: int) -> dict:
    from fastcost import _core
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_LARGE, D_LARGE))
    y = rng.standard_normal(N_LARGE)
    X32 = rng.standard_normal((N_LARGE, D_LARGE), dtype=np.float32)
    y32 = rng.standard_normal(N_LARGE, dtype=np.float32)
    v = rng.standard_normal(D_LARGE)
    v32 = v.astype(np.float32)
    pool = ThreadPoolExecutor(2)

    # The bandwidth ceiling: a plain streaming read of X, as BLAS ddot of X with
    # itself (one stream, one multiply-add per element); 2 threads each read half.
    flat = X.reshape(-1)
    half = len(flat) // 2

    def stream(threads: int) -> float:
        if threads == 1:
            return float(flat @ flat)
        return sum(pool.map(lambda B: float(B @ B), (flat[:half], flat[half:])))

    out: dict = {}
    for threads in (1, 2):
        cases = {
            "numpy X.T @ X (f64)": lambda: X.T @ X,
            "fastcost gram_stats (f64)": lambda t=threads: _core.gram_stats(X, y, n_threads=t),
            "numpy X.T @ X (f32)": lambda: X32.T @ X32,
            "fastcost gram_stats (f32)": lambda t=threads: _core.gram_stats(X32, y32, n_threads=t),
            "numpy X @ v (f64)": lambda: X @ v,
            "fastcost loss_grad (f64)": lambda t=threads: _core.loss_grad(X, y, v, n_threads=t),
            "numpy X @ v (f32)": lambda: X32 @ v32,
            "fastcost loss_grad (f32)": lambda t=threads: _core.loss_grad(X32, y32, v, n_threads=t),
            "stream read X (f64)": lambda t=threads: stream(t),
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        cpu: dict[str, list[float]] = {k: [] for k in cases}
        with threadpool_limits(threads):
            for f in cases.values():  # warm-up
                f()
            for _ in range(repeat):
                for k, f in cases.items():
                    time.sleep(PAUSE_S)
                    c = _cpu_s()
                    t = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t)
                    cpu[k].append(_cpu_s() - c)
        out[str(threads)] = {
            k: {
                "best_s": _best(t),
                "times_s": t,
                # CPU seconds per wall second of the best run: about the threads'
                # share of the cores (under 2 when other processes took one).
                "cpu_per_wall": cpu[k][int(np.argmin(t))] / _best(t),
            }
            for k, t in times.items()
        }
        print(f"  large, {threads} thread(s): done", file=sys.stderr)
    pool.shutdown()
    return out


# ---------------------------------------------------------------------------- memory

MEM_CHILD = r"""
import json, resource, sys, time
import numpy as np
dtype = np.dtype(sys.argv[1]); n = int(sys.argv[2]); d = int(sys.argv[3])
from fastcost import LinearRegression
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d), dtype=dtype)
y = rng.standard_normal(n, dtype=dtype)
LinearRegression(solver="newton").fit(X[:5000], y[:5000])  # first-call costs, not the fit's

def status_kb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])

# Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current RSS, so
# the peak after the fit minus the RSS before it is what the fit added, whatever
# imports or data generation peaked at before.
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before, peak = status_kb("VmRSS"), lambda: status_kb("VmHWM")
    how = "VmHWM after clear_refs"
except OSError:
    before, peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    how = "ru_maxrss"
t = time.perf_counter(); LinearRegression(solver="newton").fit(X, y); first = time.perf_counter() - t
extra = (peak() - before) * 1024
print(json.dumps({"extra_peak_bytes": extra, "x_bytes": X.nbytes, "fit_s": first, "method": how}))
"""


def bench_memory() -> dict:
    out = {}
    for dtype in ("float64", "float32"):
        r = subprocess.run(
            [sys.executable, "-c", MEM_CHILD, dtype, str(N_LARGE), str(D_LARGE)],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            print(f"memory {dtype}: failed\n{r.stderr[-2000:]}", file=sys.stderr)
            continue
        out[dtype] = json.loads(r.stdout.strip().splitlines()[-1])
    print("  memory: done", file=sys.stderr)
    return out


# ---------------------------------------------------------------------------- lbfgs


def lbfgs_data(kind: str, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``isotropic``: independent N(0, 1) columns (the Gram is nearly a multiple
    of the identity: the easiest case for every first-order method). ``raw``:
    columns as users hand them over: AR(1)-correlated (rho = 0.5), scales from
    0.5 to 2 and offsets up to +-5, not standardized."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    if kind == "raw":
        rho = 0.5
        for j in range(1, d):  # in place: x_j = rho x_{j-1} + sqrt(1 - rho^2) z_j
            X[:, j] *= np.sqrt(1 - rho**2)
            X[:, j] += rho * X[:, j - 1]
        X *= np.geomspace(0.5, 2, d)
        X += rng.uniform(-5, 5, d)
    w_true = rng.standard_normal(d)
    y = X @ w_true + 0.5 + rng.standard_normal(n)
    return X, y


def bench_lbfgs(repeat: int, kind: str = "isotropic", n: int = 1_000_000, d: int = 100) -> dict:
    from fastcost import LinearRegression
    from scipy.optimize import minimize

    X, y = lbfgs_data(kind, n, d)
    exact = LinearRegression(solver="newton").fit(X, y)
    w_ref = np.r_[exact.coef_, exact.intercept_]
    rtol = 1e-6

    def coef_err(w: np.ndarray) -> float:
        return float(np.abs(w - w_ref).max() / np.abs(w_ref).max())

    # Objective and gradient as fastcost's: mean((Xw + b - y)^2); start at w = 0, b = 0.
    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        r = X @ theta[:d] + theta[d] - y
        return float(r @ r) / n, np.r_[2.0 / n * (X.T @ r), 2.0 / n * r.sum()]

    def fastcost_fit() -> np.ndarray:
        m = LinearRegression(solver="lbfgs", max_iter=10000).fit(X, y)
        counts["fastcost lbfgs"] = int(m.n_passes_)
        return np.r_[m.coef_, m.intercept_]

    g0 = np.abs(fun(np.zeros(d + 1))[1]).max()

    counts: dict[str, int] = {}

    def scipy_fit() -> np.ndarray:
        res = minimize(
            fun,
            np.zeros(d + 1),
            jac=True,
            method="L-BFGS-B",
            options={"gtol": rtol * g0, "ftol": 0.0, "maxiter": 10000, "maxfun": 20000},
        )
        counts["scipy L-BFGS-B (numpy grad)"] = int(res.nfev)
        return res.x

    methods = {"fastcost lbfgs": fastcost_fit, "scipy L-BFGS-B (numpy grad)": scipy_fit}
    try:
        from glum import GeneralizedLinearRegressor

        # glum minimizes mean(r^2) / 2 (half our objective, half our gradient).
        def glum_fit() -> np.ndarray:
            m = GeneralizedLinearRegressor(
                family="normal",
                alpha=0.0,
                solver="lbfgs",
                gradient_tol=rtol * g0 / 2,
                max_iter=10000,
            ).fit(X, y)
            return np.r_[m.coef_, m.intercept_]

        methods["glum lbfgs"] = glum_fit
    except ImportError:
        print("  lbfgs: glum not installed (pip install glum); skipped", file=sys.stderr)

    times: dict[str, list[float]] = {k: [] for k in methods}
    errs: dict[str, float] = {}
    for k, f in methods.items():  # warm-up (scipy has nothing to warm up: skip its long raw run)
        if k != "scipy L-BFGS-B (numpy grad)" or kind == "isotropic":
            f()
    # Best of `repeat` rounds; 2 on the raw data, where scipy takes ~50 s a fit.
    for _ in range(repeat if kind == "isotropic" else min(repeat, 2)):
        for k, f in methods.items():
            time.sleep(PAUSE_S)
            t = time.perf_counter()
            w = f()
            times[k].append(time.perf_counter() - t)
            errs[k] = coef_err(w)
    print(f"  lbfgs ({kind}): done", file=sys.stderr)
    return {
        "n": n,
        "d": d,
        "data": kind,
        "data_doc": " ".join(lbfgs_data.__doc__.split()),
        "results": {
            k: {
                "best_s": _best(times[k]),
                "times_s": times[k],
                "coef_rel_err": errs[k],
                "passes_or_evaluations": counts.get(k),
            }
            for k in methods
        },
    }


# ---------------------------------------------------------------------------- small

TF_CHILD = r"""
import json
import numpy as np
from fastcost.baselines.tensorflow import run_tensorflow
from fastcost.datasets import make_default
data = make_default()
res = run_tensorflow(data.X_train, data.y_train, data.X_test, data.y_test, repeat=3)
print(json.dumps({"fit_s": float(np.median(res.wall_times_s)), "test_mse": float(res.test_mse),
                  "initial_coef": list(map(float, res.initial_coef)), "initial_intercept": float(res.initial_intercept)}))
"""


def bench_small(calls: int) -> dict:
    from fastcost import LinearRegression, _core
    from fastcost.datasets import make_default
    from sklearn.linear_model import LinearRegression as SkLinearRegression

    data = make_default()
    X, y = data.X_train, data.y_train

    def med(f, k: int) -> list[float]:
        # Untimed calls first: after a pause the first calls pay for cold caches
        # and the clock ramping up again (the pause's cost, not the method's).
        for _ in range(5):
            f()
        ts = []
        for _ in range(k):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return ts

    cases = {
        "fastcost newton fit": lambda: LinearRegression(solver="newton").fit(X, y),
        "sklearn LinearRegression fit": lambda: SkLinearRegression().fit(X, y),
        "fastcost _core.fit newton (no Python layer)": lambda: _core.fit(
            X, y, None, "newton", _core.FitOptions()
        ),
        "fastcost _core.gram_stats": lambda: _core.gram_stats(X, y),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for f in cases.values():
        med(f, 20)
    for _ in range(10):  # interleaved batches
        for k, f in cases.items():
            time.sleep(PAUSE_S)
            times[k] += med(f, max(1, calls // 10))
    out = {
        "shape": list(X.shape),
        "results": {
            k: {"median_s": float(np.median(t)), "n_calls": len(t)} for k, t in times.items()
        },
    }

    # The same pair on one thread each (threadpoolctl limits OpenBLAS and OpenMP):
    # scikit-learn's lstsq is threaded and its time swings with the machine's load.
    from threadpoolctl import threadpool_limits

    pair = {k: cases[k] for k in ("fastcost newton fit", "sklearn LinearRegression fit")}
    one: dict[str, list[float]] = {k: [] for k in pair}
    with threadpool_limits(1):
        for _ in range(10):
            for k, f in pair.items():
                time.sleep(PAUSE_S)
                one[k] += med(f, max(1, calls // 10))
    out["one_thread"] = {
        k: {"median_s": float(np.median(t)), "n_calls": len(t)} for k, t in one.items()
    }

    # The Keras recipe in float32, both from Keras' Glorot-uniform start. TensorFlow
    # runs in a subprocess: its thread pools keep spinning after model.fit and
    # would slow whatever runs next in this process. Three rounds of a TensorFlow
    # child (the median of its 3 fits) then 4 paused batches of fastcost's fits,
    # so that both sides see the machine at the same moments.
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    tf_fits: list[float] = []
    ts: list[float] = []
    tf_res: dict = {}
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", TF_CHILD], capture_output=True, text=True)
        if r.returncode != 0:
            print(
                f"  small: TensorFlow run failed; sgd comparison skipped\n{r.stderr[-1500:]}",
                file=sys.stderr,
            )
            tf_fits = []
            break
        tf_res = json.loads(r.stdout.strip().splitlines()[-1])
        tf_fits.append(tf_res["fit_s"])
        init = {
            "coef_init": np.array(tf_res["initial_coef"]),
            "intercept_init": tf_res["initial_intercept"],
        }

        def sgd(init: dict = init) -> LinearRegression:
            return LinearRegression(solver="sgd", random_state=0).fit(X32, y32, **init)

        for _ in range(4):
            time.sleep(PAUSE_S)
            ts += med(sgd, 20)
    if tf_fits:
        m = sgd()
        Xte = data.X_test.astype(np.float32)
        sgd_mse = float(np.mean((Xte @ m.coef_ + m.intercept_ - data.y_test) ** 2))
        out["sgd"] = {
            "tensorflow_fit_s": float(np.median(tf_fits)),
            "tensorflow_fit_s_each": tf_fits,
            "tensorflow_test_mse": tf_res["test_mse"],
            "fastcost_sgd_median_s": float(np.median(ts)),
            "fastcost_sgd_test_mse": sgd_mse,
        }
    print("  small: done", file=sys.stderr)
    return out


# ---------------------------------------------------------------------------- report


def _row(target: str, measured: str, goal: str, met: bool | None) -> tuple[str, str, str, str]:
    return (target, measured, goal, "-" if met is None else ("met" if met else "NOT met"))


def report(res: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    L = res.get("large")
    if L:
        for t in ("1", "2"):
            b = {k: v["best_s"] for k, v in L[t].items()}
            pairs = (
                ("gram_stats", "X.T @ X", "gram pass", "X.T@X"),
                ("loss_grad", "X @ v", "loss_grad", "X@v"),
            )
            for kernel, base, label, short in pairs:
                for dt in ("f64", "f32"):
                    fc, np_s = b[f"fastcost {kernel} ({dt})"], b[f"numpy {base} ({dt})"]
                    rows.append(
                        _row(
                            f"{label} / numpy {short}, {dt}, {t} thr",
                            f"{fc / np_s:.2f}x ({fc:.3f} s vs {np_s:.3f} s)",
                            "<= 1.15x",
                            fc / np_s <= 1.15,
                        )
                    )
        b1 = {k: v["best_s"] for k, v in L["1"].items()}
        b2 = {k: v["best_s"] for k, v in L["2"].items()}
        for dt in ("f64", "f32"):
            s = b1[f"fastcost gram_stats ({dt})"] / b2[f"fastcost gram_stats ({dt})"]
            share = L["2"][f"fastcost gram_stats ({dt})"]["cpu_per_wall"]
            rows.append(
                _row(
                    f"gram speed-up 2 thr vs 1, {dt}",
                    f"{s:.2f}x (CPU/wall with 2 thr: {share:.2f})",
                    ">= 1.7x",
                    s >= 1.7,
                )
            )
        xb = N_LARGE * D_LARGE * 8
        for t, b in (("1", b1), ("2", b2)):
            ceil = xb / b["stream read X (f64)"] / 1e9
            lg = xb / b["fastcost loss_grad (f64)"] / 1e9
            xv = xb / b["numpy X @ v (f64)"] / 1e9
            rows.append(
                _row(
                    f"bandwidth {t} thr: loss_grad / stream read",
                    f"{lg:.1f} / {ceil:.1f} GB/s = {lg / ceil:.0%} (numpy X@v {xv:.1f} GB/s)",
                    "report",
                    None,
                )
            )
    M = res.get("memory")
    if M:
        for dt, m in M.items():
            pct = 100 * m["extra_peak_bytes"] / m["x_bytes"]
            rows.append(
                _row(
                    f"newton extra peak memory, {dt}",
                    f"{m['extra_peak_bytes'] / 1e6:.1f} MB = {pct:.2f}% of X",
                    "< 1% of X",
                    pct < 1,
                )
            )
    for B in res.get("lbfgs", []):
        r = B["results"]
        fc = r["fastcost lbfgs"]["best_s"]
        for name, goal in (("scipy L-BFGS-B (numpy grad)", 5.0), ("glum lbfgs", 3.0)):
            if name in r:
                s = r[name]["best_s"] / fc
                counts = ""
                if r[name].get("passes_or_evaluations"):
                    counts = f"; {r['fastcost lbfgs']['passes_or_evaluations']} passes vs {r[name]['passes_or_evaluations']} evaluations"
                rows.append(
                    _row(
                        f"lbfgs speed-up vs {name}, {B['data']} data",
                        f"{s:.1f}x ({fc:.2f} s vs {r[name]['best_s']:.2f} s; coef err {r['fastcost lbfgs']['coef_rel_err']:.1e} vs {r[name]['coef_rel_err']:.1e}{counts})",
                        f">= {goal:.0f}x",
                        s >= goal,
                    )
                )
    S = res.get("small")
    if S:
        r = S["results"]
        fc, sk = r["fastcost newton fit"]["median_s"], r["sklearn LinearRegression fit"]["median_s"]
        rows.append(
            _row(
                "small newton fit speed-up vs sklearn",
                f"{sk / fc:.1f}x ({fc * 1e3:.3f} ms vs {sk * 1e3:.3f} ms; _core.fit {r['fastcost _core.fit newton (no Python layer)']['median_s'] * 1e3:.3f} ms)",
                ">= 15x",
                sk / fc >= 15,
            )
        )
        o = S.get("one_thread")
        if o:
            fc1, sk1 = (
                o["fastcost newton fit"]["median_s"],
                o["sklearn LinearRegression fit"]["median_s"],
            )
            rows.append(
                _row(
                    "small newton fit speed-up vs sklearn, both 1 thread",
                    f"{sk1 / fc1:.1f}x ({fc1 * 1e3:.3f} ms vs {sk1 * 1e3:.3f} ms)",
                    ">= 15x",
                    sk1 / fc1 >= 15,
                )
            )
        if "sgd" in S:
            g = S["sgd"]
            s = g["tensorflow_fit_s"] / g["fastcost_sgd_median_s"]
            rows.append(
                _row(
                    "sgd Keras recipe speed-up vs TensorFlow",
                    f"{s:.0f}x ({g['fastcost_sgd_median_s'] * 1e3:.2f} ms vs {g['tensorflow_fit_s']:.2f} s; test MSE {g['fastcost_sgd_test_mse']:.4g} vs {g['tensorflow_test_mse']:.4g})",
                    ">= 500x",
                    s >= 500,
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="large,memory,lbfgs,small")
    p.add_argument("--repeat", type=int, default=5, help="rounds of the large and lbfgs sections")
    p.add_argument("--calls", type=int, default=400, help="calls per method in the small section")
    p.add_argument("--json", default="benchmarks/results/bench_perf.json")
    args = p.parse_args(argv)
    import fastcost

    only = {s.strip() for s in args.only.split(",") if s.strip()}
    load_before = os.getloadavg()
    res: dict = {}
    if "large" in only:
        res["large"] = bench_large(args.repeat)
    if "memory" in only:
        res["memory"] = bench_memory()
    if "lbfgs" in only:
        res["lbfgs"] = [bench_lbfgs(max(1, args.repeat), kind) for kind in ("isotropic", "raw")]
    if "small" in only:
        res["small"] = bench_small(args.calls)
    load_after = os.getloadavg()
    rows = report(res)
    w = [
        max(len(r[i]) for r in rows + [("target", "measured", "goal", "status")]) for i in range(4)
    ]
    print(
        f"\nfastcost {fastcost.__version__}, kernels {fastcost.config_info()['isa']}; "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)"
    )
    for r in [("target", "measured", "goal", "status")] + rows:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    write_results(
        args.json,
        {
            "load_average_before": load_before,
            "load_average_after": load_after,
            "results": res,
            "table": rows,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
