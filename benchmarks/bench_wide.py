"""Wide data (issue 19): a width sweep at fixed n * d, the d x d solve step, and auto's pick.

Sections (``--only`` picks some; all by default):

``sweep``  d = 10, 30, 100, 300, 1,000, 2,000, 4,000, 10,000 at n * d = 20,000,000
           doubles (n = max(20,000,000 // d, 1.25 d): 12,500 rows at d = 10,000, where
           n = d would make the centered design singular, turning newton to its
           eigendecomposition and auto to qr), random normal X and y = X w + noise.
           At each width, in one run and interleaved: fastcost's Gram
           (``_core.gram_stats``) against numpy ``X.T @ X`` (BLAS syrk); the newton fit
           against numpy syrk + SciPy ``cho_factor`` / ``cho_solve`` on the centered
           normal equations and against sklearnex ``LinearRegression`` (Intel's
           scikit-learn extension, if installed); the qr fit against SciPy
           ``qr(mode='r')`` (R alone, no solve); the lbfgs (to auto's tolerance, 1e-10)
           and auto fits. Median of
           ``--repeat`` runs (one at d >= 10,000).
``solve``  the d x d step alone at d = 4,000: ``_core.solve_stats(gram, shift)`` (LAPACK
           dpotrf, dpocon, dpotrs with equilibration) against SciPy ``cho_factor`` +
           ``cho_solve`` of the centered normal equations taken from the same Gram.
``auto``   issue 19 point 4's target: ``solver="auto"`` against newton and lbfgs at the
           relative gradient auto's lbfgs runs to (``AUTO_LBFGS_TOL``, 1e-10: auto
           answers to newton's digits), lbfgs at its own default 1e-6 beside, on 100,000 x 500, 50,000 x 1,000, 20,000 x 2,000, 5,000 x 4,000 (random
           normal) and an ill-conditioned 20,000 x 2,000 (X = U diag(s) V^T, s
           log-spaced over 8 decades: condition 1e8), with qr beside: the whole auto
           fit, interleaved with the others (medians of ``--repeat``; lbfgs once on the
           ill-conditioned shape, where it takes about 10 s). There newton's Gram is
           singular: auto's guarded lbfgs stops, a sample of X shows it and auto fits
           with qr.

    python benchmarks/bench_wide.py                  # everything (about 15 minutes on 2 cores)
    python benchmarks/bench_wide.py --quick          # small widths and shapes: a smoke run
    python benchmarks/bench_wide.py --max-d 4000     # leave out d = 10,000
    python benchmarks/bench_wide.py --only solve,auto

Prints the tables, writes ``benchmarks/results/bench_wide.json`` (every timing, the load
average, ``fastcost.config_info()``) and, with matplotlib, ``bench_wide.png`` (seconds
against d, log-log). It never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from _results import loglog_curves, write_results

#: Seconds of quiet before each timed call: OpenBLAS' and OpenMP's worker threads
#: spin-wait after a call and would otherwise take the cores from the next method.
PAUSE_S = 0.25
ND = 20_000_000
WIDTHS = [10, 30, 100, 300, 1_000, 2_000, 4_000, 10_000]
AUTO_SHAPES = [(100_000, 500, None), (50_000, 1_000, None), (20_000, 2_000, None),
               (5_000, 4_000, None), (20_000, 2_000, 1e8)]  # fmt: skip
#: The shapes of issue 19's table (newton, qr and the references at each).
TABLE_SHAPES = [(100_000, 500), (50_000, 1_000), (20_000, 2_000), (5_000, 4_000)]


def _sklearnex() -> Any:
    """sklearnex's LinearRegression class, or None when it is not installed."""
    try:
        from sklearnex.linear_model import LinearRegression
    except ImportError:
        return None
    return LinearRegression


def problem(n: int, d: int, cond: float | None = None, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Random normal X (or, with ``cond``, X = U diag(s) V^T with s log-spaced from 1
    to 1 / cond, scaled by sqrt(n)) and y = X w + 0.5 + noise."""
    rng = np.random.default_rng(seed)
    if cond is None:
        X = rng.standard_normal((n, d))
    else:
        U = np.linalg.qr(rng.standard_normal((n, d)))[0]
        V = np.linalg.qr(rng.standard_normal((d, d)))[0]
        X = (U * (np.logspace(0, -np.log10(cond), d) * np.sqrt(n))) @ V.T
        del U, V
    y = X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)
    return X, y


def _fit(solver: str, **params: Any) -> Callable[[np.ndarray, np.ndarray], Any]:
    from fastcost import LinearRegression

    return lambda X, y: LinearRegression(solver=solver, **params).fit(X, y)


def _syrk_cholesky(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """numpy's syrk (``X.T @ X``) and SciPy's Cholesky on the centered normal equations."""
    from scipy.linalg import cho_factor, cho_solve

    n = len(y)
    mu, ym = X.mean(axis=0), y.mean()
    G = X.T @ X
    G -= n * np.outer(mu, mu)
    b = X.T @ y - n * mu * ym
    return cho_solve(cho_factor(G, check_finite=False), b, check_finite=False)


def sweep_methods() -> dict[str, Callable[[np.ndarray, np.ndarray], Any] | None]:
    """The methods of the sweep, by name (None: not installed)."""
    from fastcost import _core
    from fastcost._pipeline import AUTO_LBFGS_TOL
    from scipy.linalg import qr

    sklearnex = _sklearnex()
    return {
        "fastcost gram_stats": lambda X, y: _core.gram_stats(X, y),
        "numpy X.T @ X": lambda X, y: X.T @ X,
        "fastcost newton": _fit("newton"),
        "numpy syrk + scipy cho": _syrk_cholesky,
        "sklearnex LinearRegression": None if sklearnex is None else (
            lambda X, y: sklearnex().fit(X, y)
        ),
        "fastcost qr": _fit("qr"),
        "scipy qr(mode='r')": lambda X, y: qr(X, mode="r", check_finite=False),
        "fastcost lbfgs": _fit("lbfgs", tol=AUTO_LBFGS_TOL),  # auto's accuracy
        "fastcost auto": _fit("auto"),
    }  # fmt: skip


def timed_rounds(
    methods: dict[str, Callable[[], Any]], repeats: int, label: str
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Run every method once per round (``repeats`` rounds, interleaved); the median
    and every time per method, or the error it raised."""
    times: dict[str, list[float]] = {k: [] for k in methods}
    errors: dict[str, str] = {}
    info: dict[str, str] = {}
    for _ in range(repeats):
        for name, f in methods.items():
            if name in errors:
                continue
            time.sleep(PAUSE_S)
            t = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = f()
            except Exception as exc:  # a failure is a result: recorded, not fatal
                errors[name] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            times[name].append(time.perf_counter() - t)
            if hasattr(out, "fit_info_"):
                info[name] = f"{out.solver_}, {out.n_passes_} passes: {out.fit_info_}"
        print(f"  {label}: round done", file=sys.stderr)
    out_: dict[str, dict[str, Any]] = {}
    for name in methods:
        if name in errors:
            out_[name] = {"error": errors[name]}
        else:
            out_[name] = {"median_s": float(np.median(times[name])), "times_s": times[name]}
            if name in info:
                out_[name]["fit"] = info[name]
    return out_


# ---------------------------------------------------------------------------- sweep


def sweep_point(n: int, d: int, repeat: int) -> dict[str, Any]:
    """Every method of the sweep on one random n x d problem."""
    methods = sweep_methods()
    X, y = problem(n, d)
    bound = {k: (lambda f=f: f(X, y)) for k, f in methods.items() if f is not None}
    res = timed_rounds(bound, 1 if d >= 10_000 else repeat, f"sweep d={d}")
    for k, f in methods.items():
        if f is None:
            res[k] = {"error": "not installed (pip install scikit-learn-intelex)"}
    return {"n": n, "d": d, "results": res}


def bench_sweep(widths: list[int], nd: int, repeat: int) -> list[dict[str, Any]]:
    return [sweep_point(max(nd // d, d + d // 4), d, repeat) for d in widths]


def _med(res: dict[str, Any], name: str) -> float | None:
    return res.get(name, {}).get("median_s")


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}"


SWEEP_RATIOS = [
    ("Gram/numpy", "fastcost gram_stats", "numpy X.T @ X"),
    ("newton/(syrk+chol)", "fastcost newton", "numpy syrk + scipy cho"),
    ("newton/sklearnex", "fastcost newton", "sklearnex LinearRegression"),
    ("qr/scipy-qr", "fastcost qr", "scipy qr(mode='r')"),
    ("qr/newton", "fastcost qr", "fastcost newton"),
]


def print_sweep(rows: list[dict[str, Any]]) -> None:
    names = list(rows[0]["results"])
    print("\nWidth sweep: seconds (median)")
    print(f"{'d':>6s} {'n':>9s} " + " ".join(f"{k[-22:]:>22s}" for k in names))
    for r in rows:
        cells = []
        for k in names:
            v = r["results"][k]
            cells.append("n/a" if "error" in v else f"{v['median_s']:.4f}")
        print(f"{r['d']:>6,} {r['n']:>9,} " + " ".join(f"{c:>22s}" for c in cells))
    print("\nWidth sweep: ratios (fastcost / reference; < 1 is faster)")
    heads = [h for h, _, _ in SWEEP_RATIOS] + ["auto/best", "auto picked"]
    print(f"{'d':>6s} " + " ".join(f"{h:>18s}" for h in heads))
    for r in rows:
        res = r["results"]
        cells = [_ratio(_med(res, a), _med(res, b)) for _, a, b in SWEEP_RATIOS]
        fits = [_med(res, k) for k in ("fastcost newton", "fastcost lbfgs")]
        best = min((t for t in fits if t is not None), default=None)
        cells.append(_ratio(_med(res, "fastcost auto"), best))
        cells.append(res.get("fastcost auto", {}).get("fit", "-").split(",")[0])
        print(f"{r['d']:>6,} " + " ".join(f"{c:>18s}" for c in cells))
    missing = rows[0]["results"].get("sklearnex LinearRegression", {}).get("error")
    if missing:
        print(f"sklearnex: {missing}")


# ---------------------------------------------------------------------------- gram

GRAM_WIDTHS = [1, 2, 3, 10, 30, 100, 300, 1_000, 2_000, 4_000, 10_000]


def gram_point(n: int, d: int, dtype: type, threads: int, repeat: int) -> dict[str, Any]:
    """The one-pass statistics kernel against numpy's X.T @ X on one thread count:
    on X alone (the same input as numpy's) and with y (what a fit's pass reads)."""
    from fastcost import _core
    from threadpoolctl import threadpool_limits

    X, y = problem(n, d)
    X, y = X.astype(dtype), y.astype(dtype)

    # The BLAS limit holds for the whole round (entering it takes milliseconds);
    # it also bounds the dsyrk that the widest Grams of fastcost call.
    with threadpool_limits(threads):
        res = timed_rounds(
            {
                "numpy X.T @ X": lambda: X.T @ X,
                "gram_stats(X)": lambda: _core.gram_stats(X, None, None, None, 0, threads),
                "gram_stats(X, y)": lambda: _core.gram_stats(X, y, None, None, 0, threads),
            },
            1 if d >= 10_000 else repeat,
            f"gram d={d} {np.dtype(dtype).name} {threads}t",
        )
    return {"n": n, "d": d, "dtype": np.dtype(dtype).name, "threads": threads, "results": res}


def bench_gram(widths: list[int], nd: int, repeat: int) -> list[dict[str, Any]]:
    return [
        gram_point(max(nd // d, d + d // 4), d, dtype, threads, repeat)
        for d in widths for dtype in (np.float64, np.float32) for threads in (1, 2)
    ]  # fmt: skip


def print_gram(rows: list[dict[str, Any]]) -> None:
    print("\nGram kernel against numpy X.T @ X (median seconds; ratio < 1 is faster)")
    print(f"{'d':>6s} {'n':>10s} {'dtype':>8s} {'thr':>3s} {'numpy':>9s} {'X':>9s} {'ratio':>6s}"
          f" {'X, y':>9s} {'ratio':>6s}")  # fmt: skip
    for r in rows:
        res = r["results"]
        a, b, c = (_med(res, k) for k in ("numpy X.T @ X", "gram_stats(X)", "gram_stats(X, y)"))
        cells = [f"{v:.4f}" if v is not None else "n/a" for v in (a, b, c)]
        print(f"{r['d']:>6,} {r['n']:>10,} {r['dtype']:>8s} {r['threads']:>3d} {cells[0]:>9s} "
              f"{cells[1]:>9s} {_ratio(b, a):>6s} {cells[2]:>9s} {_ratio(c, a):>6s}")  # fmt: skip


# ---------------------------------------------------------------------------- solve


def bench_solve(d: int, repeat: int) -> dict[str, Any]:
    from fastcost import _core
    from scipy.linalg import cho_factor, cho_solve

    X, y = problem(d + d // 4, d, seed=1)
    st = _core.gram_stats(X, y)
    gram, shift = np.array(st["gram"]), np.asarray(st["shift"])
    del X, y

    def scipy_solve() -> np.ndarray:
        # z = [x - c, y - c_y, 1]: center with the sums row, then Cholesky
        s, m = gram[:d, d + 1], gram[d + 1, d + 1]
        A = gram[:d, :d] - np.outer(s, s) / m
        b = gram[:d, d] - s * gram[d, d + 1] / m
        return cho_solve(cho_factor(A, check_finite=False), b, check_finite=False)

    res = timed_rounds(
        {
            "fastcost _core.solve_stats": lambda: _core.solve_stats(gram, shift),
            "scipy cho_factor + cho_solve": scipy_solve,
        },
        repeat,
        f"solve d={d}",
    )
    ours = _core.solve_stats(gram, shift).coef
    ref = scipy_solve()
    return {"d": d, "results": res, "coef_rel_diff": float(np.linalg.norm(ours - ref) /
                                                           np.linalg.norm(ref))}  # fmt: skip


def print_solve(s: dict[str, Any]) -> None:
    r = s["results"]
    a, b = _med(r, "fastcost _core.solve_stats"), _med(r, "scipy cho_factor + cho_solve")
    print(f"\nd x d solve at d = {s['d']:,}: fastcost solve_stats {a:.3f} s, scipy "
          f"cho_factor + cho_solve {b:.3f} s: ratio {_ratio(a, b)} "
          f"(coefficients differ by {s['coef_rel_diff']:.1e})")  # fmt: skip


# ---------------------------------------------------------------------------- auto


def auto_point(n: int, d: int, cond: float | None, repeat: int) -> dict[str, Any]:
    """newton, qr, lbfgs (at auto's tolerance, and at its own default beside) and
    the whole auto fit on one problem, interleaved; on an ill-conditioned one
    lbfgs (about 10 s there) runs once."""
    from fastcost._pipeline import AUTO_LBFGS_TOL

    newton, qr, auto = _fit("newton"), _fit("qr"), _fit("auto")
    lbfgs, lbfgs_own = _fit("lbfgs", tol=AUTO_LBFGS_TOL), _fit("lbfgs")
    X, y = problem(n, d, cond)
    methods: dict[str, Callable[[], Any]] = {
        "newton": lambda: newton(X, y),
        "qr": lambda: qr(X, y),
        "auto": lambda: auto(X, y),
    }
    label = f"auto {n}x{d}" + ("" if cond is None else f" cond {cond:.0e}")
    if cond is None:
        methods["lbfgs"] = lambda: lbfgs(X, y)
        methods["lbfgs tol 1e-6"] = lambda: lbfgs_own(X, y)
    res = timed_rounds(methods, repeat, label)
    if cond is not None:
        res.update(timed_rounds({"lbfgs": lambda: lbfgs(X, y)}, 1, label + " lbfgs"))
    return {"n": n, "d": d, "cond": cond, "results": res}


def bench_auto(shapes: list[tuple[int, int, float | None]], repeat: int) -> list:
    return [auto_point(n, d, cond, repeat) for n, d, cond in shapes]


def print_auto(rows: list[dict[str, Any]]) -> None:
    print(
        "\nsolver='auto' against newton and lbfgs at auto's tolerance (1e-10), qr and lbfgs at"
        " its own 1e-6 beside (median seconds)"
    )
    print(
        f"{'shape':>22s} {'newton':>8s} {'lbfgs':>8s} {'qr':>8s} {'auto':>8s} {'auto/best':>9s}"
        f" {'lbfgs 1e-6':>10s}  auto picked"
    )
    for r in rows:
        res = r["results"]
        t_n, t_l, t_q, t_a = (_med(res, k) for k in ("newton", "lbfgs", "qr", "auto"))
        t_own = _med(res, "lbfgs tol 1e-6")
        best = min((t for t in (t_n, t_l) if t is not None), default=None)
        shape = f"{r['n']:,} x {r['d']:,}" + ("" if r["cond"] is None else f" c{r['cond']:.0e}")
        picked = res.get("auto", {}).get("fit", "-")
        cells = "".join(f" {'-' if t is None else f'{t:.3f}':>8s}" for t in (t_n, t_l, t_q, t_a))
        own = "-" if t_own is None else f"{t_own:.3f}"
        print(f"{shape:>22s}{cells} {_ratio(t_a, best):>9s} {own:>10s}  {picked[:240]}")


# ---------------------------------------------------------------------------- main

STYLE = {
    "fastcost gram_stats": dict(color="#1b7837", marker="o", ls=":"),
    "numpy X.T @ X": dict(color="#2166ac", marker="o", ls=":"),
    "fastcost newton": dict(color="#1b7837", marker="s", lw=2.2),
    "numpy syrk + scipy cho": dict(color="#2166ac", marker="s", lw=1.6),
    "sklearnex LinearRegression": dict(color="#762a83", marker="D", lw=1.6),
    "fastcost qr": dict(color="#d95f02", marker="^", lw=2.2),
    "scipy qr(mode='r')": dict(color="#b2182b", marker="^", lw=1.6),
    "fastcost lbfgs": dict(color="#5aae61", marker="v", lw=2.2, ls="--"),
    "fastcost auto": dict(color="black", marker="x", lw=1.2, ls="-."),
}


def plot(rows: list[dict[str, Any]], res: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6), constrained_layout=True)
    curves = {
        name: [(r["d"], r["results"][name]["median_s"]) for r in rows
               if "median_s" in r["results"][name]]
        for name in rows[0]["results"]
    }  # fmt: skip
    loglog_curves(ax, curves, STYLE, "features d  (n = max(n*d / d, 1.25 d))", "seconds (median)")
    ax.legend(fontsize=8)
    ax.set_title(
        f"Width sweep at n*d = {res['nd']:,}, float64, {res['threads']} threads, kernels "
        f"{res['isa']}; load {res['load_average_before'][0]:.1f}",
        fontsize=10,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small widths and shapes (smoke run)")
    p.add_argument("--max-d", type=int, default=10_000, help="widest d of the sweep")
    p.add_argument("--repeat", type=int, default=3, help="runs per point (median)")
    p.add_argument(
        "--only",
        default="sweep,gram,table,solve,auto",
        help="sections: sweep (n d fixed), gram (the kernel: float64/32, 1/2 threads), "
        "table (issue 19's shapes), solve, auto",
    )
    p.add_argument("--json", default="benchmarks/results/bench_wide.json")
    p.add_argument("--png", default="benchmarks/results/bench_wide.png")
    args = p.parse_args(argv)
    # SciPy's BLAS loaded now: fastcost resolves it on its first wide Gram, and a
    # library loaded inside a threadpool_limits block would stay unlimited.
    import fastcost
    import scipy.linalg.cython_blas  # noqa: F401
    from fastcost import LinearRegression, _auto_cost
    from fastcost._threads import resolve_n_threads

    only = set(args.only.split(","))
    nd, widths, solve_d, shapes = ND, [d for d in WIDTHS if d <= args.max_d], 4_000, AUTO_SHAPES
    if args.quick:
        nd, widths, solve_d = 2_000_000, [d for d in WIDTHS if d <= min(300, args.max_d)], 1_000
        shapes = [(n // 5, d // 5, c) for n, d, c in AUTO_SHAPES]
    # auto measures the machine once per process: do it before anything is timed
    _auto_cost.machine_rates(resolve_n_threads(None))
    X, y = problem(20_000, 100)
    LinearRegression(solver="qr").fit(X, y)  # first calls of SciPy's LAPACK
    cfg = fastcost.config_info()
    t0 = time.perf_counter()
    res: dict[str, Any] = {
        "nd": nd, "threads": cfg["threads"], "isa": cfg["isa"],
        "load_average_before": os.getloadavg(),
        "auto_rates": {str(k): vars(v) for k, v in _auto_cost._RATES.items()},
    }  # fmt: skip
    if "sweep" in only:
        res["sweep"] = bench_sweep(widths, nd, args.repeat)
    if "gram" in only:
        gwidths = [d for d in GRAM_WIDTHS if d <= (300 if args.quick else args.max_d)]
        res["gram"] = bench_gram(gwidths, nd // 2, args.repeat)
    if "table" in only:
        table = TABLE_SHAPES if not args.quick else [(n // 5, d // 5) for n, d in TABLE_SHAPES]
        res["table"] = [sweep_point(n, d, args.repeat) for n, d in table]
    if "solve" in only:
        res["solve"] = bench_solve(solve_d, args.repeat)
    if "auto" in only:
        res["auto"] = bench_auto(shapes, args.repeat)
    res["load_average_after"] = os.getloadavg()
    res["total_s"] = time.perf_counter() - t0
    write_results(args.json, res)
    if "sweep" in res:
        print_sweep(res["sweep"])
        try:
            plot(res["sweep"], res, args.png)
            print(f"\nwrote {args.png}")
        except ImportError:
            print("matplotlib is not installed: no chart", file=sys.stderr)
    if "gram" in res:
        print_gram(res["gram"])
    if "table" in res:
        print("\nIssue 19's shapes")
        print_sweep(res["table"])
    if "solve" in res:
        print_solve(res["solve"])
    if "auto" in res:
        print_auto(res["auto"])
    la, lb = res["load_average_before"][0], res["load_average_after"][0]
    print(f"\ntook {res['total_s']:.0f} s; load average {la:.2f} -> {lb:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
