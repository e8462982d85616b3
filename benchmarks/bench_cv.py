"""Cross-validating the penalty: LinearRegressionCV's one pass against refitting.

Times, in one process and run, on n x d float64 data (default 1,000,000 x 100):

* fastcost ``LinearRegressionCV(alphas=logspace, cv=KFold(5))``: every fold and
  alpha from one grouped pass over X;
* one ``LinearRegression(solver="newton").fit`` on all rows (these two interleaved,
  best of ``--repeat``, each after a pause of ``_results.PAUSE_S``);
* scikit-learn ``GridSearchCV(Ridge(), {"alpha": mapped}, cv=KFold(5))`` and
  ``RidgeCV(alphas=mapped, cv=KFold(5))`` (each once), with the alphas mapped to
  scikit-learn's scale: ``sklearn_alpha = rows_in_train_fold * alpha`` (every
  fold trains on the same number of rows here, so the mapping is exact). By
  default they run ``--sk-alphas`` of the alphas (spread over the grid) and
  their time is scaled to all alphas: such figures are labelled
  "extrapolated" in the table and the JSON (``--sk-alphas 0`` runs them all).

Then checks LinearRegressionCV's fold scores and ``alpha_`` against a
brute-force loop of ``LinearRegression(alpha=a, solver="newton")`` fits per fold
(``--check`` off by default above 2e6 rows; the loop is folds x alphas fits).

    python benchmarks/bench_cv.py
    python benchmarks/bench_cv.py --n 200000 --sk-alphas 0

Prints a table and writes ``benchmarks/results/bench_cv.json``. Never asserts.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _results import interleaved_times, write_results  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "bench_cv.json"


def best_of_interleaved(fns: dict, repeat: int) -> dict:
    """Best time of each function, one call of each per round, after a pause."""
    return {k: min(v) for k, v in interleaved_times(fns, repeat).items()}


def brute_force(X, y, splits, alphas) -> np.ndarray:
    """(folds, alphas) neg MSE of LinearRegression(alpha) fitted per fold."""
    from fastcost import LinearRegression

    out = np.empty((len(splits), alphas.size))
    for j, (tr, te) in enumerate(splits):
        Xtr, ytr, Xte, yte = X[tr], y[tr], X[te], y[te]
        for i, a in enumerate(alphas):
            m = LinearRegression(alpha=float(a), solver="newton").fit(Xtr, ytr)
            r = m.predict(Xte) - yte
            out[j, i] = -float(r @ r) / r.size
    return out


def time_sklearn(X, y, alphas, splits, train_rows, sk_alphas: int) -> dict:
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.model_selection import GridSearchCV

    if sk_alphas and sk_alphas < alphas.size:
        pick = np.unique(np.linspace(0, alphas.size - 1, sk_alphas).round().astype(int))
    else:
        pick = np.arange(alphas.size)
    mapped = train_rows * alphas[pick]
    scale = alphas.size / pick.size
    out = {"alphas_run": int(pick.size), "extrapolated": bool(pick.size < alphas.size)}
    t0 = time.perf_counter()
    GridSearchCV(Ridge(), {"alpha": mapped}, cv=splits,
                 scoring="neg_mean_squared_error").fit(X, y)  # fmt: skip
    out["gridsearch_run_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    RidgeCV(alphas=mapped, cv=splits).fit(X, y)
    out["ridgecv_run_s"] = time.perf_counter() - t0
    out["gridsearch_s"] = out["gridsearch_run_s"] * scale
    out["ridgecv_s"] = out["ridgecv_run_s"] * scale
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--alphas", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sk-alphas", type=int, default=5,
                    help="alphas scikit-learn runs (0: all); its times are scaled to all")  # fmt: skip
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--json", default=str(RESULTS))
    args = ap.parse_args(argv)

    from fastcost import LinearRegression, LinearRegressionCV
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(0)
    n, d = args.n, args.d
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-2, 2, d)
    y = X @ rng.standard_normal(d) + 0.7 + 3.0 * rng.standard_normal(n)
    alphas = np.logspace(-6, 2, args.alphas)
    cv = KFold(args.folds)
    splits = list(cv.split(X))
    train_rows = n - n // args.folds

    est = LinearRegressionCV(alphas=alphas, cv=cv)
    best = best_of_interleaved(
        {"cv": lambda: est.fit(X, y),
         "newton": lambda: LinearRegression(solver="newton").fit(X, y)}, args.repeat
    )  # fmt: skip
    t_cv, t_newton = best["cv"], best["newton"]
    sk = time_sklearn(X, y, alphas, splits, train_rows, args.sk_alphas)

    check: dict = {}
    if not args.no_check:
        t0 = time.perf_counter()
        ref = brute_force(X, y, splits, alphas)
        ours = np.stack([est.cv_results_[f"split{j}_test_score"] for j in range(len(splits))])
        rel = float(np.max(np.abs(ours - ref) / np.abs(ref)))
        best = float(alphas[int(np.argmax(ref.mean(0)))])
        check = {
            "max_rel_diff_fold_scores": rel,
            "alpha_brute_force": best,
            "alpha_match": best == est.alpha_,
            "brute_force_s": time.perf_counter() - t0,
        }

    ex = " (extrapolated)" if sk["extrapolated"] else ""
    rows = [
        ("fastcost LinearRegressionCV", t_cv, ""),
        ("fastcost LinearRegression newton (1 fit)", t_newton, ""),
        (f"sklearn GridSearchCV(Ridge){ex}", sk["gridsearch_s"], ""),
        (f"sklearn RidgeCV(cv=5){ex}", sk["ridgecv_s"], ""),
    ]
    print(f"\n{n:,} x {d} float64, {args.folds} folds x {args.alphas} alphas")
    print(f"{'':46s} {'seconds':>10s} {'vs CV':>10s}")
    for name, t, _ in rows:
        print(f"{name:46s} {t:10.3f} {t / t_cv:9.2f}x")
    if sk["extrapolated"]:
        print(f"  scikit-learn ran {sk['alphas_run']} of {args.alphas} alphas "
              f"({sk['gridsearch_run_s']:.1f} s, {sk['ridgecv_run_s']:.1f} s), scaled by "
              f"{args.alphas / sk['alphas_run']:.0f}")  # fmt: skip
    print(f"CV / one newton fit: {t_cv / t_newton:.2f}x; alpha_ = {est.alpha_:.3g}")
    print(est.fit_info_)
    if check:
        print(f"brute force: max rel. diff of fold scores {check['max_rel_diff_fold_scores']:.2e}, "
              f"alpha_ equal: {check['alpha_match']}")  # fmt: skip
    write_results(args.json, {
        "n": n, "d": d, "folds": args.folds, "alphas": args.alphas,
        "fastcost_cv_s": t_cv, "fastcost_newton_s": t_newton,
        "cv_over_newton": t_cv / t_newton, **sk,
        "gridsearch_over_cv": sk["gridsearch_s"] / t_cv,
        "ridgecv_over_cv": sk["ridgecv_s"] / t_cv,
        "alpha_": est.alpha_, "fit_info": est.fit_info_, "check": check,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
