"""solver="auto" on arrays in host memory: the cost model of fastcost._auto_cost.

Decisions are checked with explicit machine rates (independent of the machine
running the tests); fits that consult the model check what it says and that it
measures the machine once. No wall-clock assertions.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from fastcost import LinearRegression, _core
from fastcost import _auto_cost as ac
from fastcost._pipeline import AUTO_LBFGS_TOL
from fastcost.exceptions import RankDeficientWarning
from fastcost.linear_model import choose_solver
from helpers import make_problem, reference_fit

DATA = Path(__file__).parent / "data"

#: A machine with a 20 G multiply-add/s Gram, a 20 Gflop/s Cholesky and
#: 12 GB/s passes (2 cores of this project's test machine do about 1-2x that).
BANDWIDTH = 12e9
RATES = ac.MachineRates(gram=20e9, factor=20e9, memory=BANDWIDTH, cache=4 * BANDWIDTH)


@pytest.fixture
def fixed_machine(monkeypatch):
    """The cost model with RATES instead of measured ones."""
    monkeypatch.setattr(ac, "machine_rates", lambda n_threads=0: RATES)


def test_lbfgs_passes_follow_the_calibration():
    # n_passes_ measured at tol=1e-6: 7 at kappa 1.33 (100,000 x 500), 13 at 3.7
    # (20,000 x 2,000), 60 at 100, 91 at 319 (5,000 x 4,000): within 30 %.
    for kappa, measured in [(1.33, 7), (3.7, 13), (100.0, 60), (319.0, 91)]:
        predicted = ac.lbfgs_passes(kappa, 1e-6)
        assert 0.75 * measured <= predicted <= 1.3 * measured, (kappa, predicted)
    assert ac.lbfgs_passes(1.0, 1e-6) == ac.MIN_LBFGS_PASSES
    assert ac.lbfgs_passes(math.inf, 1e-6) == math.inf
    # a looser tolerance or a warm start needs fewer passes
    assert ac.lbfgs_passes(100.0, 1e-3) < ac.lbfgs_passes(100.0, 1e-6)
    assert ac.lbfgs_passes(100.0, 1e-6, warm=True) < ac.lbfgs_passes(100.0, 1e-6)


def test_isotropic_kappa_is_marchenko_pastur():
    assert ac.isotropic_kappa(20_000, 2_000) == pytest.approx(3.70, rel=1e-2)
    assert ac.isotropic_kappa(5_000, 4_000) == pytest.approx(319.2, rel=1e-2)
    assert ac.isotropic_kappa(100, 100) == math.inf
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 400))
    ev = np.linalg.eigvalsh(np.cov(X.T))
    assert ev[-1] / ev[0] == pytest.approx(ac.isotropic_kappa(4000, 400), rel=0.15)


def test_model_picks_lbfgs_on_wide_isotropic_data():
    plan = ac.predict(20_000, 2_000, 8, 1e-6, RATES, BANDWIDTH)
    assert plan.solver == "lbfgs" and plan.kappa_source == "assumed"
    assert plan.kappa == pytest.approx(ac.isotropic_kappa(20_000, 2_000))
    gram = 20_000 * 2002**2 / 2 / 20e9
    factor = 2001**3 / 3 / 20e9
    dd = ac.NEWTON_DD_PASSES * 8 * 2002**2 / BANDWIDTH
    assert plan.newton_s == pytest.approx(gram + factor + dd)
    one_pass = 20_000 * 2002 * 8 / BANDWIDTH
    assert plan.lbfgs_s == pytest.approx(plan.passes * one_pass)
    assert 10 < plan.passes < 15 and plan.lbfgs_s < plan.newton_s / 5
    # the guard: at least 1.5 times the prediction, plus a tenth of newton's time
    affordable = plan.newton_s / one_pass
    assert plan.guard == int(max(1.5 * plan.passes, plan.passes + 0.1 * affordable) + 2)
    assert plan.describe().startswith(": predicted ")
    assert "against newton" in plan.describe() and "passes" in plan.describe()


def test_model_picks_newton_when_lbfgs_needs_many_passes():
    wide = ac.predict(20_000, 2_000, 8, 1e-6, RATES, BANDWIDTH, kappa=1e6)
    assert wide.solver == "newton" and wide.kappa_source == "sample"
    assert wide.passes > 3000
    assert re.match(r": predicted \S+ s against lbfgs \S+ s \(~\d+ passes", wide.describe())
    # tall and narrow: the Gram's compute is a few passes' worth, lbfgs needs more
    tall = ac.predict(10_000_000, 80, 8, 1e-6, RATES, BANDWIDTH)
    assert tall.solver == "newton" and tall.kappa_source == "preconditioned"
    # nearly square: isotropic data already have kappa ~ 1.6e4 at n = 1.02 d
    square = ac.predict(4_080, 4_000, 8, 1e-6, RATES, BANDWIDTH)
    assert square.solver == "newton" and square.kappa > 1e4


def test_obvious_cases_measure_nothing(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the machine was measured for an obvious case")

    monkeypatch.setattr(ac, "machine_rates", fail)
    assert ac.obvious_newton(500, 2_000)  # n <= d
    assert ac.obvious_newton(10_000_000, 20)  # tall and narrow
    assert ac.obvious_newton(20_000, 200)  # 4e8 multiply-adds: tens of milliseconds
    assert not ac.obvious_newton(20_000, 2_000)
    rng = np.random.default_rng(1)
    for n, d in [(50_000, 30), (10_000, 300)]:
        X = rng.standard_normal((n, d))
        y = X[:, 0] + 0.1 * rng.standard_normal(n)
        m = LinearRegression().fit(X, y)
        assert m.solver_ == "newton" and m.fit_info_ == "newton (solver='auto')"
    X = rng.standard_normal((300, 800))
    with pytest.warns(RankDeficientWarning):  # newton's singular Gram: redone with qr
        m = LinearRegression().fit(X, X[:, 0])
    assert m.solver_ == "qr" and "newton's normal equations are singular" in m.fit_info_


def test_auto_newton_stops_at_a_singular_gram_when_qr_redoes_it(monkeypatch):
    """auto's newton asks the compiled solve for no minimum-norm solution (qr redoes
    a singular fit); an explicit newton still gets it."""
    seen = []
    fit = _core.fit

    def spy(X, y, sw, solver, opts):
        seen.append((solver, opts.minimum_norm))
        return fit(X, y, sw, solver, opts)

    monkeypatch.setattr(_core, "fit", spy)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 800))
    with pytest.warns(RankDeficientWarning):
        m = LinearRegression().fit(X, X[:, 0])
    assert m.solver_ == "qr" and seen == [("newton", False)]
    ref = np.linalg.lstsq(X - X.mean(0), X[:, 0] - X[:, 0].mean(), rcond=None)[0]
    np.testing.assert_allclose(m.coef_, ref, rtol=1e-7, atol=1e-9)
    seen.clear()
    with pytest.warns(RankDeficientWarning):
        LinearRegression(solver="newton").fit(X, X[:, 0])
    assert seen == [("newton", True)]


def test_auto_fit_states_the_prediction_and_calibrates_once():
    ac.reset_calibration()
    before = ac.calibrations
    X, y, _ = make_problem(20_000, 320, seed=3)
    first = LinearRegression().fit(X, y)
    second = LinearRegression().fit(X[::-1].copy(), y[::-1].copy())
    assert ac.calibrations == before + 1  # measured once, then cached
    pattern = (
        r"^(newton|lbfgs) \(solver='auto'\): predicted .*[0-9.e+-]+ s .*~\d+ passes to tol 1e-10, "
        r"condition ~[0-9.e+-]+ "
    )
    for m in (first, second):
        assert re.match(pattern, m.fit_info_), m.fit_info_
        assert m.fit_info_.startswith(m.solver_)
    w, b = reference_fit(X, y)  # newton's digits, whichever solver auto took
    np.testing.assert_allclose(first.coef_, w, rtol=1e-8, atol=1e-9)
    assert first.intercept_ == pytest.approx(b, rel=1e-8, abs=1e-9)


def test_measured_rates_are_positive_and_finite():
    rates = ac.measure_rates()
    assert 1e8 < rates.gram < 1e13 and 1e6 < rates.factor < 1e13
    assert 1e8 < rates.memory < 1e13 and 1e8 < rates.cache < 1e13
    assert ac.pass_bandwidth(rates, 1 << 20) == rates.cache
    assert ac.pass_bandwidth(rates, 1 << 30) == rates.memory


def test_wide_fit_takes_lbfgs_with_these_rates(fixed_machine):
    rng = np.random.default_rng(4)
    n, d = 8_000, 800
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    m = LinearRegression().fit(X, y)
    assert m.solver_ == "lbfgs" and m.converged_
    assert m.fit_info_.startswith("lbfgs (solver='auto'): predicted ")
    assert "against newton" in m.fit_info_ and "assumed for isotropic columns" in m.fit_info_
    plan = ac.predict(n, d, 8, AUTO_LBFGS_TOL, RATES, BANDWIDTH)
    assert m.n_passes_ <= plan.guard + 1
    w, b = reference_fit(X, y)  # lbfgs run to auto's tolerance, not lbfgs' own 1e-6
    np.testing.assert_allclose(m.coef_, w, rtol=1e-8, atol=1e-9)
    assert m.intercept_ == pytest.approx(b, rel=1e-8, abs=1e-9)


def test_guard_turns_an_ill_conditioned_lbfgs_pick_to_newton(fixed_machine):
    rng = np.random.default_rng(5)
    n, d = 8_000, 800
    X = rng.standard_normal((n, d)) * np.logspace(0, 3, d)  # kappa ~ 1e6, assumed 3.7
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    plan = ac.predict(n, d, 8, AUTO_LBFGS_TOL, RATES, BANDWIDTH)
    assert plan.solver == "lbfgs"
    m = LinearRegression().fit(X, y)
    assert m.solver_ == "newton"
    # the guard's projection stops lbfgs well before its budget; the columns'
    # scales are no trouble to newton's equilibrated normal equations, which a
    # sample of X shows
    passes = int(re.search(r"had not converged after (\d+) passes", m.fit_info_).group(1))
    assert passes < plan.guard + 1
    floor = float(re.search(r"of condition ~([0-9.e+]+) or more, so newton", m.fit_info_).group(1))
    assert floor < 1e6
    assert m.n_passes_ == passes + 1  # lbfgs' passes, then newton's
    newton = LinearRegression(solver="newton").fit(X, y)
    np.testing.assert_array_equal(m.coef_, newton.coef_)


def _singular_values_problem(n, d, cond, seed):
    """X = U diag(s) V^T, s log-spaced from 1 to 1 / cond (columns of equal scale)."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = (U * (np.logspace(0, -np.log10(cond), d) * np.sqrt(n))) @ V.T
    return X, X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)


def test_guard_sends_a_singular_design_straight_to_qr(fixed_machine):
    n, d = 8_000, 800
    X, y = _singular_values_problem(n, d, 1e8, 8)  # normal equations ~1e16
    plan = ac.predict(n, d, 8, AUTO_LBFGS_TOL, RATES, BANDWIDTH)
    assert plan.solver == "lbfgs"
    m = LinearRegression(qr_precision="double").fit(X, y)
    assert m.solver_ == "qr"
    shown = re.search(
        r"sample of 503 rows and 400 columns shows the normal equations "
        r"(singular|of condition ~([0-9.e+]+) or more), so qr",
        m.fit_info_,
    )
    assert shown and (shown.group(2) is None or float(shown.group(2)) > 1e6)
    passes = int(re.search(r"had not converged after (\d+) passes", m.fit_info_).group(1))
    assert passes < plan.guard + 1
    assert m.n_passes_ == passes + 1  # lbfgs' passes, then qr's: no newton pass
    qr = LinearRegression(solver="qr", qr_precision="double").fit(X, y)
    np.testing.assert_array_equal(m.coef_, qr.coef_)
    # the same with sample weights, a third of them zero: the sample takes rows of weight
    sw = np.where(np.arange(n) % 3 == 0, 0.0, 1.0 + (np.arange(n) % 5))
    mw = LinearRegression(qr_precision="double").fit(X, y, sample_weight=sw)
    assert mw.solver_ == "qr" and "so qr" in mw.fit_info_


def test_condition_floor_bounds_newtons_estimate_from_below():
    # every other column (a principal submatrix) and 1.25 rows per column
    for cond, seed in [(None, 0), (1e2, 1), (1e3, 2), (1e5, 3), (1e8, 4)]:
        if cond is None:
            X, y, _ = make_problem(4_000, 400, seed=seed)
        else:
            X, y = _singular_values_problem(4_000, 400, cond, seed)
        floor, rows, columns = ac.condition_floor(X, y, None, alpha=0.0, fit_intercept=True)
        assert (rows, columns) == (253, 200)
        st = _core.gram_stats(X, y)
        full = _core.solve_stats(st["gram"], st["shift"], 0.0, True, minimum_norm=False)
        full_cond = math.inf if full.singular else full.condition_estimate
        assert floor <= full_cond, (cond, floor, full_cond)
        if cond == 1e8:  # normal equations of condition ~1e16: past newton's limit
            assert floor > 1e6
        if cond is None:
            assert floor < 100
    # rare indicators (a category in 0.2 % of the rows) are constant on most
    # samples: left out, they do not make the sample singular where X is not
    rng = np.random.default_rng(11)
    X, y, _ = make_problem(4_000, 400, seed=5)
    X[:, 0:100:2] = rng.random((4_000, 50)) < 0.002  # columns the sample keeps
    floor, rows, columns = ac.condition_floor(X, y, None, alpha=0.0, fit_intercept=True)
    assert rows == 253 and 150 <= columns < 200
    st = _core.gram_stats(X, y)
    full = _core.solve_stats(st["gram"], st["shift"], 0.0, True, minimum_norm=False)
    assert not full.singular and floor <= full.condition_estimate and floor < 1e6
    # rows of zero weight are left out of the sample; too few weighted rows: no sample
    X, y, _ = make_problem(4_000, 400, seed=6)
    sw = np.zeros(4_000)
    sw[3_500:] = 1.0  # fewer than 4 weighted rows per sampled row
    floor, rows, _ = ac.condition_floor(X, y, sw, alpha=0.0, fit_intercept=True)
    assert (rows, math.isnan(floor)) == (0, True)
    sw[:2_000] = 2.0
    floor, rows, _ = ac.condition_floor(X, y, sw, alpha=0.0, fit_intercept=True)
    assert rows == 253 and floor < 100
    # a sample that would take more than a quarter of the rows is not taken
    X, y, _ = make_problem(750, 400)
    assert ac.condition_floor(X, y, None, alpha=0.0, fit_intercept=True)[1:] == (0, 0)


def test_guard_projection_stops_only_a_slow_lbfgs():
    X, y, _ = make_problem(4_000, 200, seed=9)
    plain = _core.fit(X, y, None, "lbfgs", _core.FitOptions(max_iter=40))
    guarded = _core.fit(X, y, None, "lbfgs", _core.FitOptions(max_iter=40, guard_projection=True))
    assert plain.converged and guarded.converged  # converging at its rate: the same iterates
    np.testing.assert_array_equal(plain.coef, guarded.coef)
    assert guarded.n_iter == plain.n_iter
    # with twice the iterations it needs, its rate never projects past them
    roomy = _core.fit(
        X, y, None, "lbfgs", _core.FitOptions(max_iter=2 * plain.n_iter, guard_projection=True)
    )
    assert roomy.converged and roomy.n_iter == plain.n_iter
    X, y = _singular_values_problem(4_000, 200, 1e6, 10)
    plain = _core.fit(X, y, None, "lbfgs", _core.FitOptions(max_iter=40))
    guarded = _core.fit(X, y, None, "lbfgs", _core.FitOptions(max_iter=40, guard_projection=True))
    assert not plain.converged and plain.n_iter == 40
    assert not guarded.converged and 5 <= guarded.n_iter < 40
    assert "projects past max_iter" in guarded.message


def test_row_sample_measures_the_condition():
    rng = np.random.default_rng(6)
    n, d = 40_000, 50
    rows = 1024
    X = rng.standard_normal((n, d))
    y = X[:, 0] + rng.standard_normal(n)
    kw = {"alpha": 0.0, "fit_intercept": True, "standardize": False}
    iso = ac.sample_kappa(X, y, None, rows, **kw)
    assert iso == pytest.approx(ac.isotropic_kappa(n, d), rel=0.2)
    scaled = X * np.logspace(0, 2, d)  # kappa ~ 1e4
    ill = ac.sample_kappa(scaled, y, None, rows, **kw)
    assert 2e3 < ill < 3e4
    # standardize divides the column scales out again
    assert ac.sample_kappa(scaled, y, None, rows, **dict(kw, standardize=True)) < 3.0
    # a singular sample: a duplicated column
    twin = np.c_[X, X[:, :1]]
    assert ac.sample_kappa(twin, y, None, rows, **kw) > 1e8


def test_choose_measures_kappa_on_a_row_sample_when_affordable(fixed_machine, monkeypatch):
    # a problem small enough for a test, made non-obvious, with the sample's budget raised
    monkeypatch.setattr(ac, "obvious_newton", lambda n, d: False)
    monkeypatch.setattr(ac, "SAMPLE_BUDGET", 1.0)
    rng = np.random.default_rng(7)
    n, d = 20_000, 100
    X = rng.standard_normal((n, d))
    y = X[:, 0] + rng.standard_normal(n)
    kw = {"tol": 1e-6, "alpha": 0.0, "fit_intercept": True, "standardize": False, "warm": True}
    iso = ac.choose(X, y, None, **kw)
    assert iso is not None and iso.kappa_source == "sample" and iso.solver == "lbfgs"
    assert iso.kappa == pytest.approx(ac.isotropic_kappa(n, d), rel=0.2)
    ill = ac.choose(X * np.logspace(0, 3, d), y, None, **kw)  # kappa ~ 1e6
    assert ill is not None and ill.kappa_source == "sample" and ill.kappa > 1e5
    assert ill.solver == "newton" and "measured on a row sample" in ill.describe()
    # without the raised budget the sample costs more than 5 % of a ~2 ms lbfgs fit
    monkeypatch.setattr(ac, "SAMPLE_BUDGET", 0.05)
    plain = ac.choose(X * np.logspace(0, 3, d), y, None, **kw)
    assert plain is not None and plain.kappa_source == "assumed" and plain.solver == "lbfgs"


def test_sample_blocks_match_lbfgs():
    assert ac.sample_rows(1_000_000, 100) == (20_000 // 256) * 256
    assert ac.sample_rows(20_000, 2_000) == 0
    blocks = ac.sample_blocks(10_000, 1_024)
    assert blocks == [(0, 256), (2500, 2756), (5000, 5256), (7500, 7756)]


def test_fixed_rule_of_the_other_backends_is_unchanged():
    assert choose_solver(10_000, 5_000) == "lbfgs"
    assert choose_solver(100, 5_000) == "newton"
    assert choose_solver(1_000_000, 1_000) == "newton"


def test_auto_answers_to_the_digits_on_a_near_collinear_real_table(fixed_machine):
    """Salaries.csv (tests/data) one-hot, each column at 89 random scales, rows
    repeated 20 times with 1e-3 noise: 7,940 x 801 and nearly collinear. lbfgs at
    its own default tol (1e-6) stops far from the least squares; auto, whatever
    it picks, must not."""
    import pandas as pd

    df = pd.read_csv(DATA / "Salaries.csv").drop(columns="Unnamed: 0")
    y0 = df.pop("salary").to_numpy(float)
    X0 = pd.get_dummies(df, dtype=float).to_numpy(float)
    rng = np.random.default_rng(0)
    X = np.concatenate([X0 * s for s in rng.uniform(0.1, 10, size=89)], axis=1)
    X = np.repeat(X, 20, axis=0) + 1e-3 * rng.standard_normal((20 * len(X0), X.shape[1]))
    y = np.repeat(y0, 20)
    w, b = reference_fit(X, y)
    best = np.mean((X @ w + b - y) ** 2)

    def excess(m):
        return np.mean((m.predict(X) - y) ** 2) / best - 1.0

    assert ac.predict(*X.shape, 8, AUTO_LBFGS_TOL, RATES, BANDWIDTH).solver == "lbfgs"
    loose = LinearRegression(solver="lbfgs").fit(X, y)
    assert loose.converged_ and excess(loose) > 1e-3  # the trap: converged by its own rule
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qr may say how many digits it kept
        m = LinearRegression().fit(X, y)
    assert abs(excess(m)) < 1e-9, (m.fit_info_, excess(m))
    np.testing.assert_allclose(m.predict(X), X @ w + b, rtol=0, atol=1e-6 * np.abs(y).max())


def test_auto_rule_guard_on_a_real_table_with_text_categories_and_gaps():
    """A table (text and category columns, gaps, an index column) over 1,000
    features: auto takes the fixed rule's lbfgs, whose guard hands a problem it
    cannot finish to newton, then qr; the answer is the least squares, and the
    caller's DataFrame is left as it was."""
    import pandas as pd

    df = pd.read_csv(DATA / "Salaries.csv", index_col=0)
    df = df.loc[df.index.repeat(6)].reset_index(drop=True)
    rng = np.random.default_rng(1)
    scales = rng.uniform(0.1, 10, 1000)
    cols = {f"phd_{i}": df["yrs.since.phd"] * s for i, s in enumerate(scales[:500])}
    cols |= {f"svc_{i}": df["yrs.service"] * s for i, s in enumerate(scales[500:])}
    df = pd.concat([df, pd.DataFrame(cols) + 1e-3 * rng.standard_normal((len(df), 1000))], axis=1)
    df.loc[::17, "sex"] = None  # gaps in a text column: a level of their own
    df["rank"] = df["rank"].astype("category")
    y = df.pop("salary")
    before = df.copy(deep=True)

    def fit(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the gaps' level; qr's digits
            return LinearRegression(**kw).fit(df.copy(deep=True), y)

    def mse(m):
        return float(np.mean((m.predict(df) - y) ** 2))

    qr, auto, loose = fit(solver="qr"), fit(), fit(solver="lbfgs")
    assert loose.converged_ and mse(loose) > 1.01 * mse(qr)  # converged by its own rule
    assert auto.solver_ == "qr" and "had not converged after" in auto.fit_info_
    assert auto.n_passes_ <= 100 + 2  # the guard's iterations, newton's pass, qr's
    assert mse(auto) == pytest.approx(mse(qr), rel=1e-9)
    np.testing.assert_allclose(auto.predict(df), qr.predict(df), rtol=0, atol=1e-6 * y.abs().max())
    pd.testing.assert_frame_equal(df, before)


def test_auto_on_float32_takes_newton_not_lbfgs():
    # lbfgs on float32 stops at a relative gradient of 1,000 eps: on these
    # correlated columns of mixed units that left 75x the least-squares loss.
    rng = np.random.default_rng(15)
    n, d = 40000, 300
    Z = rng.standard_normal((n, d))
    X = (0.1 * Z + 0.995 * Z[:, :1]) * rng.uniform(0.01, 100, d)
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    model = LinearRegression().fit(X32, y32)
    assert "X is float32" in model.fit_info_ and model.solver_ in ("newton", "qr")
    X64, y64 = X32.astype(np.float64), y32.astype(np.float64)
    D = np.c_[X64, np.ones(n)]
    best = np.mean((y64 - D @ np.linalg.lstsq(D, y64, rcond=None)[0]) ** 2)
    got = np.mean((y64 - model.predict(X32).astype(np.float64)) ** 2)
    assert got <= 1.001 * best
