"""NIST StRD linear least-squares certification of the exact solvers.

LRE (log relative error) = -log10(|est - cert| / |cert|), capped at 15; the
absolute error when the certified value is 0. Certified values: tests/data.

Targets (issue 4): qr and auto keep >= 9 digits of every coefficient and >= 8
of the certified standard errors, residual SD and R^2. qr's double pass keeps
too few on the ill-conditioned sets (Wampler5: 7.3), so it repeats the pass in
long double where its own estimate says so (Filip, Wampler1, 3, 4, 5).

Filip is the one exception, and it is the data's, not a solver's: its design
is x^1..x^10 rounded to float64, and the exact least-squares solution of those
rounded numbers (rational arithmetic below) agrees with NIST's certified
values to only 7.6 digits (coefficients and standard errors alike): the
rounding of x^k is a relative perturbation of 1e-16 on a problem that
amplifies it by ~1e8.6. A more exact solver converges to 7.6, not to 15;
double qr's 8.7 there is a lucky cancellation. So every set is also scored
against the exact solution of the float64 data it was given, where Filip
must meet the issue's targets too.

A user who needs the certified digits themselves keeps them by handing
fastcost the data in extended precision: every set is also built in
``numpy.longdouble`` from NIST's decimal strings (powers of x taken in
longdouble), and qr and auto fitted on it meet the issue's targets against
the certified values on all eleven sets, Filip included.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from fastcost import LinearRegression, _core
from fastcost.exceptions import IllConditionedWarning, RankDeficientWarning
from nist_data import (
    DECIMALS,
    LONGDOUBLE_IS_WIDER,
    POLYNOMIAL,
    SETS,
    certified_params,
    design,
    design_longdouble,
    lre,
)

#: Minimum LRE against the certified values for qr and auto: the issue's 9 and 8,
#: except Filip, whose float64 design carries only 7.6 digits of them (see above).
QR_COEF_LRE = {name: 9.0 for name in SETS} | {"Filip": 7.5}
QR_STAT_LRE = {name: 8.0 for name in SETS} | {"Filip": 7.5}
#: Sets where newton's normal equations keep >= 9 digits (measured: 11.8-15).
NEWTON_OK = ["Norris", "Pontius", "NoInt1", "NoInt2", "Longley"]


def fitted_params(m, s):
    return np.r_[m.intercept_, m.coef_] if s["fit_intercept"] else m.coef_


def exact_fit(X, y, fit_intercept):
    """Exact least squares of the float64 numbers given (rational arithmetic):
    parameters, their standard errors, residual SD and R^2, rounded at the end."""
    n = len(y)
    A = [[Fraction(1)] * fit_intercept + [Fraction(float(v)) for v in row] for row in X]
    b = [Fraction(float(v)) for v in y]
    k = len(A[0])
    G = [[sum(A[t][i] * A[t][j] for t in range(n)) for j in range(k)] for i in range(k)]
    aug = [
        G[i] + [sum(A[t][i] * b[t] for t in range(n))] + [Fraction(int(i == j)) for j in range(k)]
        for i in range(k)
    ]
    for c in range(k):  # Gauss-Jordan on [G | A^T b | I]: G is SPD, no pivoting needed
        piv = aug[c][c]
        aug[c] = [v / piv for v in aug[c]]
        for r in range(k):
            if r != c and aug[r][c] != 0:
                f = aug[r][c]
                aug[r] = [vr - f * vc for vr, vc in zip(aug[r], aug[c], strict=True)]
    theta = [aug[i][k] for i in range(k)]
    resid = [b[t] - sum(A[t][i] * theta[i] for i in range(k)) for t in range(n)]
    rss = sum(e * e for e in resid)
    dof = n - k
    ybar = sum(b) / n if fit_intercept else Fraction(0)
    tss = sum((v - ybar) ** 2 for v in b)
    se = [math.sqrt(rss / dof * aug[i][k + 1 + i]) for i in range(k)]
    return (
        np.array([float(v) for v in theta]),
        np.array(se),
        math.sqrt(rss / dof),
        float(1 - rss / tss),
    )


EXACT = {}


def exact_of(name):
    if name not in EXACT:
        s = SETS[name]
        EXACT[name] = exact_fit(*design(s), s["fit_intercept"])
    return EXACT[name]


def test_all_eleven_sets_present():
    assert len(SETS) == 11


def test_filip_float64_design_caps_the_certified_digits():
    """Why Filip's bound against the certified values is 7.5: the exact solution
    of its float64 design is itself only ~7.6 digits from them."""
    s = SETS["Filip"]
    theta, se, _, _ = exact_of("Filip")
    assert 7.5 <= lre(theta, certified_params(s)).min() < 8.0
    assert 7.5 <= lre(se, np.r_[s["intercept_sd"], s["coef_sd"]]).min() < 8.0
    for name in set(SETS) - {"Filip"}:  # the other sets' data carry >= 13 digits
        assert lre(exact_of(name)[0], certified_params(SETS[name])).min() >= 13.0


@pytest.mark.parametrize("solver", ["qr", "auto"])
@pytest.mark.parametrize("name", sorted(SETS))
def test_qr_and_auto_against_exact_solution_of_the_data(name, solver):
    """The issue's targets, scored against the exact solution of the float64 data
    given: >= 9 digits of every parameter, >= 8 of standard errors, residual SD, R^2."""
    s = SETS[name]
    X, y = design(s)
    theta, se, rsd, r2 = exact_of(name)
    m = LinearRegression(
        solver=solver, fit_intercept=s["fit_intercept"], compute_statistics=True
    ).fit(X, y)
    assert lre(fitted_params(m, s), theta).min() >= 9.0
    # Statistics where NIST certifies them (exact fits have only rounding-noise SEs).
    if "coef_sd" in s:
        sd = np.r_[m.intercept_stderr_, m.coef_stderr_] if s["fit_intercept"] else m.coef_stderr_
        assert lre(sd, se).min() >= 8.0
    if "residual_sd" in s:
        assert lre(m.residual_std_, rsd)[0] >= 8.0
    if "r2" in s:
        assert lre(m.r2_, r2)[0] >= 8.0


def assert_certified(m, s, coef_lre, stat_lre):
    """m's parameters and, where NIST certifies them, its standard errors,
    residual SD and R^2 reach the given LREs against the certified values."""
    assert lre(fitted_params(m, s), certified_params(s)).min() >= coef_lre
    if "coef_sd" in s:
        sd = np.r_[m.intercept_stderr_, m.coef_stderr_] if s["fit_intercept"] else m.coef_stderr_
        cert_sd = np.r_[s["intercept_sd"], s["coef_sd"]] if s["fit_intercept"] else s["coef_sd"]
        assert lre(sd, cert_sd).min() >= stat_lre
    if "residual_sd" in s:
        assert lre(m.residual_std_, s["residual_sd"])[0] >= stat_lre
    if "r2" in s:
        assert lre(m.r2_, s["r2"])[0] >= stat_lre
    assert m.dof_resid_ == len(s["y"]) - len(s["coef"]) - int(s["fit_intercept"])


@pytest.mark.parametrize("solver", ["qr", "auto"])
@pytest.mark.parametrize("name", sorted(SETS))
def test_qr_and_auto_certified(name, solver):
    s = SETS[name]
    X, y = design(s)
    m = LinearRegression(
        solver=solver, fit_intercept=s["fit_intercept"], compute_statistics=True
    ).fit(X, y)
    assert_certified(m, s, QR_COEF_LRE[name], QR_STAT_LRE[name])


@pytest.mark.skipif(not LONGDOUBLE_IS_WIDER, reason="numpy.longdouble is float64 here")
def test_longdouble_decimals_are_correctly_rounded():
    """The longdouble data are NIST's decimals, each rounded once: the strings
    have <= 15 significant digits (so the float64 file kept NIST's digits), and
    numpy's parser itself is correctly rounded (to_longdouble's fast path)."""
    for name, s in DECIMALS.items():
        raw = [row[:1] if name in POLYNOMIAL else row for row in s["X"]]  # x, not its powers
        for text in [v for row in raw for v in row] + s["y"]:
            digits = text.lower().split("e")[0].lstrip("-").replace(".", "").strip("0")
            assert len(digits) <= 15, text
            v, exact = np.longdouble(text), Fraction(text)
            half_ulp = Fraction(*np.spacing(abs(v)).as_integer_ratio()) / 2
            assert abs(Fraction(*v.as_integer_ratio()) - exact) <= half_ulp, text


@pytest.mark.skipif(not LONGDOUBLE_IS_WIDER, reason="numpy.longdouble is float64 here")
@pytest.mark.parametrize("solver", ["qr", "auto"])
@pytest.mark.parametrize("name", sorted(SETS))
def test_qr_and_auto_certified_with_longdouble_input(name, solver):
    """The issue's targets against the certified values on all eleven sets, Filip
    included, when the data come in longdouble: qr reads them in place in one
    extended pass (auto goes straight to it)."""
    s = SETS[name]
    X, y = design_longdouble(name)
    m = LinearRegression(
        solver=solver, fit_intercept=s["fit_intercept"], compute_statistics=True
    ).fit(X, y)
    assert m.solver_ == "qr" and m.qr_precision_ == "extended" and m.n_passes_ == 1
    assert_certified(m, s, 9.0, 8.0)


@pytest.mark.parametrize("name", NEWTON_OK)
def test_newton_on_lower_difficulty_sets(name):
    s = SETS[name]
    X, y = design(s)
    m = LinearRegression(solver="newton", fit_intercept=s["fit_intercept"]).fit(X, y)
    assert lre(fitted_params(m, s), certified_params(s)).min() >= 9.0
    assert m.condition_number_ <= 1e6


@pytest.mark.parametrize("name", ["Filip", "Wampler1", "Wampler5"])
def test_newton_warns_when_ill_conditioned(name):
    s = SETS[name]
    X, y = design(s)
    # Filip's normal equations (condition ~1e20 once squared) may come out
    # numerically singular or merely ill-conditioned, depending on rounding in
    # the Gram: either way the warning names qr.
    with pytest.warns((IllConditionedWarning, RankDeficientWarning), match="solver='qr'"):
        m = LinearRegression(solver="newton").fit(X, y)
    assert m.condition_number_ > 1e6 or m.rank_ < X.shape[1]


@pytest.mark.parametrize("name", sorted(SETS))
def test_auto_switches_only_when_needed(name):
    s = SETS[name]
    X, y = design(s)
    m = LinearRegression(fit_intercept=s["fit_intercept"]).fit(X, y)
    if name in NEWTON_OK:
        assert m.solver_ == "newton" and m.n_passes_ == 1
    else:  # newton's pass, qr's double pass, and an extended one where qr's estimate asks
        assert m.solver_ == "qr" and m.n_passes_ == 2 + (m.qr_precision_ == "extended")
        assert "redone with qr" in m.fit_info_


#: Sets where qr's double pass estimates fewer than EXTENDED_MIN_DIGITS (measured
#: estimates 5.0-9.3; the others 10.1-15.9).
NEEDS_EXTENDED = {"Filip", "Wampler1", "Wampler3", "Wampler4", "Wampler5"}


@pytest.mark.skipif(not _core.EXTENDED_IS_WIDER, reason="long double is double here")
@pytest.mark.parametrize("name", sorted(SETS))
def test_qr_goes_extended_exactly_where_needed(name):
    s = SETS[name]
    X, y = design(s)
    m = LinearRegression(solver="qr", fit_intercept=s["fit_intercept"]).fit(X, y)
    assert m.qr_precision_ == ("extended" if name in NEEDS_EXTENDED else "double")
    assert m.n_passes_ == 1 + (name in NEEDS_EXTENDED)
