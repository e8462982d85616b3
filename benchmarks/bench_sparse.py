"""scipy.sparse X: fastcost's sparse kernels against scikit-learn, same data, same run.

Data: a seeded ``--n`` x ``--d`` CSR matrix of ``--density`` (about
n d density nonzeros, values standard normal; by default 10 a row, 0.1 % at
d = 10,000), y = X w + noise.

Methods, each in its own subprocess on the same data (an ``.npz`` file written
once), so that the extra peak memory of a fit is its own: the peak RSS during
the fit (reset before it through ``/proc/self/clear_refs``) minus the RSS when
it starts, i.e. everything the fit allocates (C++ buffers included) beyond X
and y, over the first full fit. A small fit on the first rows runs first
(imports, lazy set-up); the time is the median of ``--repeats`` full fits (3 by
default: on a shared machine one fit can lose a scheduler tick or several).

- ``fastcost newton``: one pass for the (d + 2)^2 Gram, then ``solve_stats``;
- ``fastcost lbfgs``: the compiled lbfgs over the sparse data pass;
- ``sklearn LinearRegression``: its sparse path (scipy's lsqr), no penalty;
- ``sklearn Ridge(solver="sparse_cg")``.

The penalty: fastcost minimizes mean((Xw + b - y)^2) + alpha |w|^2 and Ridge
minimizes sum((Xw + b - y)^2) + alpha' |w|^2, so alpha' = n alpha. fastcost and
Ridge fit with ``--alpha`` (mapped); LinearRegression has none. Accuracy: the
largest coefficient difference to Ridge's, relative to max |coef|.

    python benchmarks/bench_sparse.py                       # 1,000,000 x 10,000, 0.1 %
    python benchmarks/bench_sparse.py --n 200000 --d 1000   # smaller widths
    python benchmarks/bench_sparse.py --skip "fastcost newton"

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
import numpy as np, scipy.sparse as sp
path, name, alpha, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
repeats = int(sys.argv[5])
X = sp.load_npz(path + ".X.npz").tocsr()
y = np.load(path + ".y.npy")
n = X.shape[0]

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

if name.startswith("fastcost"):
    from fastcost import LinearRegression
    solver = name.split()[1]
    def fit(A, b):
        m = LinearRegression(solver=solver, alpha=alpha, n_threads=threads or None).fit(A, b)
        return m.coef_, {"n_passes": int(m.n_passes_), "n_iter": int(m.n_iter_)}
elif name == "sklearn LinearRegression":
    from sklearn.linear_model import LinearRegression
    def fit(A, b):
        return LinearRegression().fit(A, b).coef_, {}
elif name == "sklearn Ridge(sparse_cg)":
    from sklearn.linear_model import Ridge
    def fit(A, b):
        m = Ridge(alpha=alpha * A.shape[0], solver="sparse_cg").fit(A, b)
        return m.coef_, {"n_iter": None if m.n_iter_ is None else int(np.max(m.n_iter_))}
else:
    raise SystemExit("unknown method " + name)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fit(X[:2000], y[:2000])  # imports and lazy set-up
reset_peak()
base = status_kb("VmRSS")
times = []
for r in range(repeats):
    t0 = time.perf_counter()
    coef, info = fit(X, y)
    times.append(time.perf_counter() - t0)
    if r == 0:
        extra = (status_kb("VmHWM") - base) / 1024
seconds = float(np.median(times))
np.save(path + "." + name.replace(" ", "_").replace("(", "").replace(")", "") + ".npy", coef)
print(json.dumps(dict(info, time_s=seconds, times_s=times, extra_peak_mb=extra)))
"""

METHODS = [
    "fastcost newton",
    "fastcost lbfgs",
    "sklearn LinearRegression",
    "sklearn Ridge(sparse_cg)",
]


def make_data(n: int, d: int, density: float, seed: int):  # type: ignore[no-untyped-def]
    """A canonical CSR matrix with about n d density nonzeros, and y."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    nnz = int(round(n * d * density))
    rows = np.sort(rng.integers(0, n, nnz))
    cols = rng.integers(0, d, nnz)
    vals = rng.standard_normal(nnz)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    w = rng.standard_normal(d)
    y = X @ w + 0.5 + 0.1 * rng.standard_normal(n)
    return X, y


def run(path: str, name: str, alpha: float, threads: int, repeats: int, timeout: float) -> dict:
    """One method in a fresh interpreter; its JSON line, or the failure."""
    cmd = [sys.executable, "-c", CHILD, path, name, repr(alpha), str(threads), str(repeats)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=10_000)
    p.add_argument(
        "--density", type=float, default=None, help="default: 10 / d (0.1 %% at d = 10,000)"
    )
    p.add_argument("--alpha", type=float, default=1e-4, help="fastcost's alpha (Ridge: n alpha)")
    p.add_argument("--threads", type=int, default=0, help="fastcost's n_threads (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", action="append", default=[], help="a method to leave out")
    p.add_argument("--repeats", type=int, default=3, help="timed fits per method (median)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per method")
    p.add_argument("--out", default="benchmarks/results/bench_sparse.json")
    args = p.parse_args()
    if args.density is None:
        args.density = 10.0 / args.d

    import scipy.sparse as sp

    X, y = make_data(args.n, args.d, args.density, args.seed)
    gram_mb = (args.d + 2) ** 2 * 8 / 2**20
    x_mb = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    print(
        f"X: {args.n} x {args.d} CSR, {X.nnz} nonzeros ({x_mb:.0f} MB); "
        f"the (d + 2)^2 Gram: {gram_mb:.0f} MB; alpha {args.alpha:g} (Ridge: {args.alpha * args.n:g})"
    )
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data")
        sp.save_npz(path + ".X.npz", X, compressed=False)
        np.save(path + ".y.npy", y)
        del X
        for name in METHODS:
            if name in args.skip:
                continue
            results[name] = run(path, name, args.alpha, args.threads, args.repeats, args.timeout)
            coef_path = (
                path + "." + name.replace(" ", "_").replace("(", "").replace(")", "") + ".npy"
            )
            if os.path.exists(coef_path):
                results[name]["coef"] = np.load(coef_path)
            print(
                f"  {name}: {results[name].get('time_s', results[name].get('error'))}", flush=True
            )
    ridge = results.get("sklearn Ridge(sparse_cg)", {}).get("coef")
    for r in results.values():
        coef = r.pop("coef", None)
        if coef is not None and ridge is not None:
            r["coef_diff_vs_ridge"] = float(np.abs(coef - ridge).max() / np.abs(ridge).max())
    print_table(results, gram_mb)
    write_results(
        args.out,
        {
            "n": args.n,
            "d": args.d,
            "density": args.density,
            "alpha": args.alpha,
            "ridge_alpha": args.alpha * args.n,
            "threads": args.threads,
            "repeats": args.repeats,
            "gram_mb": gram_mb,
            "x_mb": x_mb,
            "results": results,
        },
    )


def print_table(results: dict[str, dict], gram_mb: float) -> None:
    sk = [k for k in results if k.startswith("sklearn") and "time_s" in results[k]]
    head = f"{'method':<28}{'median s':>10}{'extra MB':>10}{'/Gram':>7}{'vs Ridge':>10}"
    head += "".join(f"{'x ' + k.split()[1][:12]:>16}" for k in sk)
    print("\n" + head + "\n" + "-" * len(head))
    for name, r in results.items():
        if "time_s" not in r:
            print(f"{name:<28}{r.get('error', '?')}")
            continue
        line = f"{name:<28}{r['time_s']:>10.3f}{r['extra_peak_mb']:>10.0f}"
        line += f"{r['extra_peak_mb'] / gram_mb:>7.2f}"
        diff = r.get("coef_diff_vs_ridge")
        line += f"{diff:>10.1e}" if diff is not None else f"{'':>10}"
        for k in sk:
            line += f"{results[k]['time_s'] / r['time_s']:>16.1f}"
        print(line)
    print(
        "(median s: of the timed fits; x <method>: that method's median / this one's;\n"
        " extra MB: peak RSS of the first timed fit minus RSS before it)"
    )


if __name__ == "__main__":
    main()
