"""NIST StRD linear least-squares data (tests/data) and the LRE score.

Shared by tests/test_nist.py and benchmarks/bench_accuracy.py (which puts
tests/ on sys.path); it depends on numpy only, not on fastcost.
"""

from __future__ import annotations

import json
import pathlib
from fractions import Fraction

import numpy as np

PATH = pathlib.Path(__file__).parent / "data" / "nist_strd_lls.json"
TEXT = PATH.read_text()
DATA = json.loads(TEXT)["datasets"]
SETS = {s["name"]: s for s in DATA}
#: The same file with every number kept as its decimal string.
DECIMALS = {s["name"]: s for s in json.loads(TEXT, parse_float=str, parse_int=str)["datasets"]}
LONGDOUBLE_IS_WIDER = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps
#: Degree of the polynomial sets, whose design is x^1..x^degree.
POLYNOMIAL = {
    "Pontius": 2,
    "Filip": 10,
    "Wampler1": 5,
    "Wampler2": 5,
    "Wampler3": 5,
    "Wampler4": 5,
    "Wampler5": 5,
}


def lre(est, cert):
    """Log relative error -log10(|est - cert| / |cert|) per entry, capped at 15;
    the absolute error where the certified value is 0."""
    est = np.atleast_1d(np.asarray(est, dtype=np.float64))
    cert = np.atleast_1d(np.asarray(cert, dtype=np.float64))
    err = np.abs(est - cert) / np.where(cert == 0, 1.0, np.abs(cert))
    with np.errstate(divide="ignore"):
        return np.minimum(15.0, -np.log10(err))


def design(s):
    """The design as certified: powers of x for the polynomial sets."""
    X = np.asarray(s["X"], dtype=np.float64)
    if s["name"] in POLYNOMIAL:
        x = X[:, 0]
        built = np.column_stack([x**k for k in range(1, POLYNOMIAL[s["name"]] + 1)])
        np.testing.assert_array_equal(built, X)  # the stored columns are these powers
        X = built
    return X, np.asarray(s["y"], dtype=np.float64)


def to_longdouble(text):
    """The decimal string rounded to the nearest longdouble: numpy's parser where
    it is correctly rounded (checked against exact rationals), else hi + lo of
    the exact value (two float64 roundings; the sum rounds once more)."""
    exact = Fraction(text)
    v = np.longdouble(text)
    if (
        abs(Fraction(*v.as_integer_ratio()) - exact)
        <= Fraction(*np.spacing(abs(v)).as_integer_ratio()) / 2
    ):
        return v
    hi = float(exact)
    return np.longdouble(hi) + np.longdouble(float(exact - Fraction(hi)))


def design_longdouble(name):
    """The design in longdouble from the certified decimal strings; powers of x
    taken in longdouble (what a user would do), not rounded to float64 first."""
    s = DECIMALS[name]
    X = np.array([[to_longdouble(v) for v in row] for row in s["X"]], dtype=np.longdouble)
    if name in POLYNOMIAL:
        x = X[:, 0]
        X = np.column_stack([x**k for k in range(1, POLYNOMIAL[name] + 1)])
    y = np.array([to_longdouble(v) for v in s["y"]], dtype=np.longdouble)
    return X, y


def certified_params(s):
    """The certified parameters: [intercept, coef] or coef without an intercept."""
    return np.r_[s["intercept"], s["coef"]] if s["fit_intercept"] else np.asarray(s["coef"])
