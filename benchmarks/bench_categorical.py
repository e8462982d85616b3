"""Categorical features: fastcost's coded design against one-hot pipelines, same data, same run.

Two problems (``--n`` rows, 20 numeric columns):

- ``small``: three categoricals of 5, 20 and 50 levels;
- ``wide``: one categorical of ``--levels`` levels (100,000 by default).

Methods, each in its own subprocess on the same data (a Parquet file written
once), so that the extra peak memory of a fit is its own: the peak RSS during
a fit (reset before it through ``/proc/self/clear_refs``) minus the RSS when it
starts. Times are the best of ``--repeat`` fits after one warm-up fit.

- ``fastcost numeric only``: newton on the 20 numeric columns (the yardstick);
- ``fastcost newton (codes)``: newton on the numeric block plus integer codes
  (``fastcost._categorical.MixedBackend`` through ``LinearRegression``), data
  already in arrays: the cost of the solve;
- ``fastcost newton (DataFrame)``: the same from the pandas DataFrame, column
  typing and coding included;
- ``sklearn OneHotEncoder + LinearRegression`` (sparse one-hot, as scikit-learn
  builds it by default) and ``glum`` (``GeneralizedLinearRegressor``, normal
  family, no penalty, its native categorical handling), ``small`` only for
  scikit-learn (its sparse lsqr path does not give the exact solution on 10^5
  levels in reasonable time).

Accuracy: fastcost's coefficients against an independent float64 reference:
``small``: numpy ``lstsq`` on the explicit one-hot matrix; ``wide``: the
within-group (fixed-effects) transform with numpy's ``bincount`` and ``lstsq``
on the demeaned numeric block, then the level effects by group means.

    python benchmarks/bench_categorical.py                 # 1,000,000 rows
    python benchmarks/bench_categorical.py --n 200000 --levels 20000

Prints the table and ratios and writes JSON. It never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from _results import write_results

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
path, name, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
df = pd.read_parquet(path)
y = df.pop("y").to_numpy()
cats = [c for c in df.columns if c.startswith("c")]
nums = [c for c in df.columns if c.startswith("x")]
dense = np.asfortranarray(df[nums].to_numpy(dtype=np.float64))
codes = np.ascontiguousarray(np.stack([df[c].cat.codes.to_numpy().astype(np.int32) for c in cats]))
n_levels = np.array([len(df[c].cat.categories) for c in cats], dtype=np.int64)

def status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def reset_peak():
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass

if name == "fastcost numeric only":
    from fastcost import LinearRegression
    def fit():
        return LinearRegression(solver="newton").fit(dense, y).coef_
elif name == "fastcost numeric only (DataFrame)":
    from fastcost import LinearRegression
    numeric = df[nums]
    def fit():
        return LinearRegression(solver="newton").fit(numeric, y).coef_
elif name == "fastcost newton (codes)":
    from fastcost import LinearRegression
    from fastcost._categorical import MixedBackend
    from fastcost._pipeline import run_fit
    def fit():
        est = LinearRegression(solver="newton")
        run_fit(est, MixedBackend(est, dense, codes, n_levels, y, None))
        return est.coef_
elif name == "fastcost newton (DataFrame)":
    from fastcost import LinearRegression
    def fit():
        return LinearRegression(solver="newton").fit(df, y).coef_
elif name == "sklearn OneHotEncoder + LinearRegression":
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    def fit():
        ct = ColumnTransformer([("cat", OneHotEncoder(drop="first"), cats)], remainder="passthrough")
        return make_pipeline(ct, LinearRegression()).fit(df, y)
elif name == "glum":
    from glum import GeneralizedLinearRegressor
    def fit():
        return GeneralizedLinearRegressor(family="normal", alpha=0, drop_first=True).fit(df, y)
else:
    raise SystemExit("unknown method " + name)

out = fit()  # warm-up
times = []
extra = 0.0
for i in range(repeat):
    reset_peak()
    base = status_kb("VmRSS")
    t0 = time.perf_counter()
    out = fit()
    times.append(time.perf_counter() - t0)
    extra = max(extra, (status_kb("VmHWM") - base) / 1024)
result = {"time_s": min(times), "extra_peak_mb": extra}
if name.startswith("fastcost newton (codes)"):
    np.save(sys.argv[4], np.asarray(out))
print(json.dumps(result))
"""


def make_data(n: int, problem: str, levels: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 20))
    sizes = [5, 20, 50] if problem == "small" else [levels]
    frame = {f"x{j}": X[:, j] for j in range(20)}
    y = X @ rng.standard_normal(20) + 0.5 * rng.standard_normal(n)
    codes = []
    for k, L in enumerate(sizes):
        c = rng.integers(0, L, n)
        if problem == "wide":
            c[:L] = np.arange(L)  # every level present
        effects = rng.standard_normal(L)
        y += effects[c]
        codes.append(c)
        labels = np.array([f"L{i:07d}" for i in range(L)])
        frame[f"c{k}"] = pd.Categorical.from_codes(c, categories=labels)
    df = pd.DataFrame(frame)
    df["y"] = y
    return df, X, np.array(codes), np.array(sizes), y


def reference(problem: str, X, codes, sizes, y):  # type: ignore[no-untyped-def]
    """Coefficients (numeric, then the non-reference levels) in float64, by numpy."""
    n = len(y)
    if problem == "small":
        cols = [X]
        for c, L in zip(codes, sizes, strict=True):
            onehot = np.zeros((n, L - 1))
            rows = np.nonzero(c > 0)[0]
            onehot[rows, c[rows] - 1] = 1.0
            cols.append(onehot)
        A = np.hstack([np.ones((n, 1)), *cols])
        sol = np.linalg.lstsq(A, y, rcond=None)[0]
        return sol[1:], sol[0]
    c, L = codes[0], sizes[0]
    counts = np.bincount(c, minlength=L).astype(float)
    means = np.stack([np.bincount(c, X[:, j], L) / counts for j in range(X.shape[1])], axis=1)
    ymean = np.bincount(c, y, L) / counts
    w = np.linalg.lstsq(X - means[c], y - ymean[c], rcond=None)[0]
    effect = ymean - means @ w  # the level's mean of y - X w: intercept + level effect
    b = effect[0]
    return np.r_[w, effect[1:] - b], b


def run(path: str, name: str, repeat: int, coef_out: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH")])))
    res = subprocess.run(
        [sys.executable, "-c", CHILD, path, name, str(repeat), coef_out],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--levels", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", default="benchmarks/results/bench_categorical.json")
    args = ap.parse_args()
    out: dict = {"n": args.n, "levels": args.levels, "problems": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for problem in ("small", "wide"):
            df, X, codes, sizes, y = make_data(args.n, problem, args.levels)
            path = os.path.join(tmp, f"{problem}.parquet")
            df.to_parquet(path)
            methods = ["fastcost numeric only", "fastcost newton (codes)",
                       "fastcost numeric only (DataFrame)", "fastcost newton (DataFrame)",
                       "glum"]  # fmt: skip
            if problem == "wide":  # glum forms the dense Gram of every level (75 GB at 10^5)
                methods.remove("glum")
            if problem == "small":
                methods.append("sklearn OneHotEncoder + LinearRegression")
            coef_path = os.path.join(tmp, "coef.npy")
            rows = {m: run(path, m, args.repeat, coef_path) for m in methods}
            ref_coef, _ = reference(problem, X, codes, sizes, y)
            coef = np.load(coef_path)
            # run_fit on the backend leaves coef_ in the solve's layout: the reference
            # levels have no column, as in the reference.
            err = float(np.max(np.abs(coef - ref_coef)) / np.max(np.abs(ref_coef)))
            base = rows["fastcost numeric only"].get("time_s")
            print(f"\n{problem}: {args.n} rows x 20 numeric + categoricals of {list(sizes)} levels")
            for m, r in rows.items():
                if "error" in r:
                    print(f"  {m:42s} failed: {r['error']}")
                    continue
                ratio = r["time_s"] / base if base else float("nan")
                print(f"  {m:42s} {r['time_s'] * 1e3:9.1f} ms  {ratio:6.2f}x numeric-only"
                      f"  extra peak {r['extra_peak_mb']:7.1f} MB")  # fmt: skip
            print(f"  max |coef - reference| / max|reference| = {err:.2e}")
            out["problems"][problem] = {"levels": [int(s) for s in sizes], "methods": rows,
                                        "coef_rel_error": err}  # fmt: skip
    write_results(args.json, out)


if __name__ == "__main__":
    main()
