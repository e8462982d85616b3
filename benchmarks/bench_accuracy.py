"""Accuracy benchmark: the qr solver's time against newton's, and NIST StRD LREs.

Part 1 times fastcost ``qr`` and ``newton`` on the same n x d float64 problem in
the same process and run (best of ``--repeat`` fits after one warm-up fit), and
``qr`` forced to its extended-precision pass (``qr_precision="extended"``, one
fit, no warm-up; ``--no-extended`` skips it). The data are well
conditioned, so plain ``qr`` (``qr_precision="auto"``) must stay in double.
Part 2 scores every NIST StRD linear regression set for fastcost qr, newton and
auto, numpy's lstsq and scikit-learn's LinearRegression: the log relative error
LRE = -log10(|est - cert| / |cert|) (capped at 15; absolute error where the
certified value is 0), minimum over the coefficients (intercept included), plus
qr's and auto's LREs of the certified standard errors, residual SD and R^2 and
the working precision qr chose. The "qr ld" columns fit qr on the data in
``numpy.longdouble``, built from NIST's decimal strings (powers of x taken in
longdouble): the certified values are for the exact data, and float64 rounding
of Filip's x^1..x^10 alone caps any float64-fed solver at 7.6 digits there.

    python benchmarks/bench_accuracy.py                     # 2,000,000 x 100
    python benchmarks/bench_accuracy.py --n 200000 --d 50 --json out.json
    python benchmarks/bench_accuracy.py --skip-timing       # NIST table only

Prints both tables and writes JSON. It never asserts.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time
import warnings

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the NIST loader the certification tests use
from nist_data import (  # noqa: E402
    DATA,
    DECIMALS,
    LONGDOUBLE_IS_WIDER,
    certified_params,
    design,
    design_longdouble,
)
from nist_data import lre as lre_each  # noqa: E402


def lre(est, cert) -> float:
    """Minimum LRE over the entries."""
    return float(lre_each(est, cert).min())


def time_solvers(n: int, d: int, repeat: int, n_threads: int | None, extended: bool) -> dict:
    from fastcost import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-2, 2, d)
    y = X @ rng.standard_normal(d) + 0.7 + 0.1 * rng.standard_normal(n)
    out = {}
    runs = [("newton", "newton", "auto", repeat), ("qr", "qr", "auto", repeat)]
    if extended:
        runs.append(("qr extended", "qr", "extended", 1))
    for key, solver, precision, reps in runs:
        model = LinearRegression(solver=solver, n_threads=n_threads, qr_precision=precision)
        if precision != "extended":  # the slow extended fit gains nothing from a warm-up
            model.fit(X, y)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            model.fit(X, y)
            times.append(time.perf_counter() - t0)
        out[key] = {
            "best_s": min(times),
            "times_s": times,
            "coef": model.coef_.copy(),
            "precision": getattr(model, "qr_precision_", None),
            "n_passes": model.n_passes_,
        }
    diff = float(np.max(np.abs(out["qr"]["coef"] - out["newton"]["coef"])))
    res = {
        "n": n,
        "d": d,
        "newton_s": out["newton"]["best_s"],
        "qr_s": out["qr"]["best_s"],
        "ratio_qr_over_newton": out["qr"]["best_s"] / out["newton"]["best_s"],
        "qr_precision": out["qr"]["precision"],
        "qr_n_passes": out["qr"]["n_passes"],
        "times_s": {k: v["times_s"] for k, v in out.items()},
        "max_coef_difference": diff,
    }
    if extended:
        e = out["qr extended"]
        res["qr_extended_s"] = e["best_s"]
        res["ratio_qr_extended_over_newton"] = e["best_s"] / out["newton"]["best_s"]
        res["max_coef_difference_extended_vs_double"] = float(
            np.max(np.abs(e["coef"] - out["qr"]["coef"]))
        )
    return res


def nist_table() -> list[dict]:
    from fastcost import LinearRegression
    from sklearn.linear_model import LinearRegression as SkLinearRegression

    rows = []
    # Every set's design and y in longdouble from the file's decimal strings.
    wide = {name: design_longdouble(name) for name in DECIMALS} if LONGDOUBLE_IS_WIDER else {}
    for s in DATA:
        X, y = design(s)  # the design as certified: powers of x
        fi = s["fit_intercept"]
        cert = certified_params(s)
        row: dict = {"name": s["name"], "difficulty": s["difficulty"]}
        runs = [("qr", "qr", X, y), ("newton", "newton", X, y), ("auto", "auto", X, y)]
        if wide:
            runs.append(("qr ld", "qr", *wide[s["name"]]))
        for key, solver, Xs, ys in runs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # newton's IllConditionedWarning is expected
                m = LinearRegression(solver=solver, fit_intercept=fi, compute_statistics=True).fit(
                    Xs, ys
                )
            row[key] = lre(np.r_[m.intercept_, m.coef_] if fi else m.coef_, cert)
            if key == "auto":
                row["auto_used"] = m.solver_
            if m.solver_ == "qr":
                row[f"{key}_precision"] = m.qr_precision_
            stats = []  # certified standard errors, residual SD and R^2, where NIST gives them
            if "coef_sd" in s:
                sd = np.r_[m.intercept_stderr_, m.coef_stderr_] if fi else m.coef_stderr_
                row[f"{key}_sd"] = lre(
                    sd, np.r_[s["intercept_sd"], s["coef_sd"]] if fi else s["coef_sd"]
                )
                stats.append(row[f"{key}_sd"])
            if "residual_sd" in s:
                stats.append(lre(m.residual_std_, s["residual_sd"]))
            if "r2" in s:
                stats.append(lre(m.r2_, s["r2"]))
            if stats:
                row[f"{key}_stats"] = min(stats)
        A = np.column_stack([np.ones(len(y)), X]) if fi else X
        row["numpy lstsq"] = lre(np.linalg.lstsq(A, y, rcond=None)[0], cert)
        sk = SkLinearRegression(fit_intercept=fi).fit(X, y)
        row["sklearn"] = lre(np.r_[sk.intercept_, sk.coef_] if fi else sk.coef_, cert)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-threads", type=int, default=None)
    parser.add_argument(
        "--no-extended", action="store_true", help="skip timing the extended-precision qr pass"
    )
    parser.add_argument(
        "--skip-timing",
        action="store_true",
        help="only the NIST table; the JSON keeps the timing of the file it replaces, marked as such",
    )
    parser.add_argument(
        "--json", default=str(ROOT / "benchmarks" / "results" / "bench_accuracy.json")
    )
    args = parser.parse_args()

    from fastcost import _core

    path = pathlib.Path(args.json)
    if args.skip_timing:
        previous = json.loads(path.read_text()) if path.exists() else {}
        timing = previous.get("timing")
        if timing is not None:
            timing = {**timing, "not_rerun": "kept from the previous run (--skip-timing)"}
    else:
        timing = time_solvers(args.n, args.d, args.repeat, args.n_threads, not args.no_extended)
        print(f"qr vs newton, {args.n:,} x {args.d} float64, best of {args.repeat}")
        print(f"  newton {timing['newton_s']:8.3f} s")
        print(
            f"  qr     {timing['qr_s']:8.3f} s   ({timing['ratio_qr_over_newton']:.2f}x newton; "
            f"precision {timing['qr_precision']}, {timing['qr_n_passes']} pass)"
        )
        if "qr_extended_s" in timing:
            print(
                f"  qr, qr_precision='extended' {timing['qr_extended_s']:8.3f} s   "
                f"({timing['ratio_qr_extended_over_newton']:.1f}x newton, one fit)"
            )
        print(f"  max |coef_qr - coef_newton| = {timing['max_coef_difference']:.2e}")

    rows = nist_table()
    cols = [c for c in ("qr", "newton", "auto", "qr ld", "numpy lstsq", "sklearn") if c in rows[0]]
    print("\nNIST StRD linear regression: minimum LRE over the coefficients (15 = all digits)")
    print("  (stats: min LRE of the certified standard errors, residual SD and R^2;")
    print("   qr ld: qr on the data in numpy.longdouble, from NIST's decimal strings)")
    print(
        f"  {'set':10s} {'difficulty':10s} "
        + " ".join(f"{c:>11s}" for c in cols)
        + "  auto used  qr precision  qr stats  auto stats  qr ld stats"
    )

    def stat(r: dict, key: str) -> str:
        return f"{r[key]:8.1f}" if key in r else "       -"

    for r in rows:
        print(
            f"  {r['name']:10s} {r['difficulty']:10s} "
            + " ".join(f"{r[c]:11.1f}" for c in cols)
            + f"  {r['auto_used']:9s}  {r.get('qr_precision', '-'):12s}"
            + f"  {stat(r, 'qr_stats')}  {stat(r, 'auto_stats'):>10s}"
            + f"  {stat(r, 'qr ld_stats'):>11s}"
        )

    out = {
        "benchmark": "accuracy",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "build": _core.build_info(),
        },
        "timing": timing,
        "nist_lre": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=float))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
