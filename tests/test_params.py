"""Parameters are declared once (fastcost._params): the estimators' signatures
agree with the declarations, and every rule refuses what it should."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from fastcost import LinearRegression, _params
from fastcost import dask as fdask


@pytest.mark.parametrize(
    ("cls", "table"),
    [
        (LinearRegression, _params.LINEAR_REGRESSION),
        (fdask.LinearRegression, _params.DASK_LINEAR_REGRESSION),
    ],  # fmt: skip
)
def test_signatures_follow_the_declarations(cls, table):
    sig = inspect.signature(cls.__init__).parameters
    declared = {name: p.default for name, p in table.items()}
    assert {n: p.default for n, p in sig.items() if n != "self"} == declared
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in sig.items() if n != "self")
    assert cls().get_params() == declared
    _params.validate(declared, table)  # the defaults follow their own rules


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("alpha", -0.1, ValueError), ("alpha", float("inf"), ValueError),
        ("alpha", "1", TypeError), ("alpha", True, TypeError),
        ("tol", float("nan"), ValueError), ("learning_rate", 0.0, ValueError),
        ("max_iter", 0, ValueError), ("max_iter", 2.5, TypeError),
        ("batch_size", 0, ValueError), ("n_threads", 0, ValueError), ("n_threads", -5, ValueError),
        ("n_shards", 0, ValueError), ("fit_intercept", 1, TypeError), ("prune", "yes", TypeError),
        ("solver", "adam", ValueError), ("qr_precision", "quad", ValueError),
        ("device", "gpu", ValueError), ("random_state", "seed", TypeError),
        ("random_state", -1, ValueError), ("prune_tol", -1e-3, ValueError),
        ("noise_augmentation", -1.0, ValueError),
    ],
)  # fmt: skip
def test_each_rule_refuses_bad_values(name, value, error):
    with pytest.raises(error, match=name):
        _params.validate({name: value}, _params.LINEAR_REGRESSION)
    X, y = np.ones((5, 1)) * np.arange(5.0)[:, None], np.arange(5.0)
    with pytest.raises(error, match=name):
        LinearRegression(**{name: value}).fit(X, y)


def test_valid_values_pass():
    good = {"alpha": 1, "max_iter": np.int64(3), "n_threads": -1, "fit_intercept": np.bool_(True),
            "random_state": np.random.RandomState(0), "prune_tol": None, "n_shards": 4}  # fmt: skip
    _params.validate(good, _params.LINEAR_REGRESSION)
    with pytest.raises(ValueError, match="unknown parameter"):
        _params.validate({"alhpa": 1.0}, _params.LINEAR_REGRESSION)
    with pytest.raises(TypeError, match="scheduler"):
        _params.validate({"scheduler": 8786}, _params.DASK_LINEAR_REGRESSION)
