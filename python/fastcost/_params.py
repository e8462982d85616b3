"""Estimator parameters, declared once.

Each parameter has one :class:`Param`: its default and its rule. The
estimators validate their parameters from these tables at fit time, the Dask
estimator adds its own three to the local table, and :func:`fastcost.load`
validates a model file's parameters with the same tables, so a file cannot
smuggle in a value that ``fit`` would have refused.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SOLVERS = ("auto", "newton", "qr", "lbfgs", "gd", "sgd")
QR_PRECISIONS = ("auto", "double", "extended")
DEVICES = ("cpu", "cuda")
#: ``compute_statistics`` values beyond False/True: statsmodels' ``cov_type`` names
#: (``"classical"`` is statsmodels' ``"nonrobust"``, the same as True).
COV_TYPES = ("classical", "HC0", "HC1", "HC2", "HC3", "cluster")

Check = Callable[[str, Any], None]


@dataclass(frozen=True)
class Param:
    """A parameter's default and the rule its values follow."""

    default: Any
    check: Check


def real(minimum: float, *, strict: bool = False, optional: bool = False) -> Check:
    """A finite real number >= ``minimum`` (> with ``strict``); None if ``optional``."""

    def check(name: str, value: Any) -> None:
        if value is None and optional:
            return
        if type(value) is float and minimum <= value < math.inf and (value > minimum or not strict):
            return  # the common case, without the numbers.Real ABC check
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
        if not math.isfinite(float(value)) or value < minimum or (strict and value <= minimum):
            op = ">" if strict else ">="
            raise ValueError(f"{name} must be finite and {op} {minimum}, got {value!r}")

    return check


#: The largest integer parameter: the compiled core counts in 32-bit ints.
INT_MAX = 2**31 - 1


def integer(minimum: int, *, optional: bool = False, also: tuple[int, ...] = ()) -> Check:
    """An integer from ``minimum`` to :data:`INT_MAX` (or one of ``also``); None
    if ``optional``."""

    def check(name: str, value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            none = "None or " if optional else ""
            raise TypeError(f"{name} must be {none}an integer, got {value!r}")
        if value < minimum and value not in also:
            extra = "".join(f"{v}, " for v in also)
            raise ValueError(f"{name} must be {extra}>= {minimum}, got {value!r}")
        if int(value) > INT_MAX:
            raise ValueError(f"{name} must be at most {INT_MAX:,}, got {value!r}")

    return check


def boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {value!r}")


def one_of(choices: tuple[str, ...]) -> Check:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")

    return check


def statistics(name: str, value: Any) -> None:
    """False, True (``"classical"``) or a covariance type of ``COV_TYPES``."""
    if isinstance(value, bool | np.bool_):
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a bool or one of {COV_TYPES}, got {value!r}")
    if value not in COV_TYPES:
        raise ValueError(f"{name} must be False, True or one of {COV_TYPES}, got {value!r}")


def penalty(name: str, value: Any) -> None:
    """A finite real >= 0, or one per target of a 2-D y (a 1-D array-like of them)."""
    if isinstance(value, list | tuple | np.ndarray):
        a = np.asarray(value)
        if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number or a 1-D array of them, got {value!r}")
        if not (np.isfinite(a).all() and (a >= 0).all()):
            raise ValueError(f"{name} must hold finite values >= 0, got {value!r}")
        return
    real(0.0)(name, value)


def random_state(name: str, value: Any) -> None:
    """None, an int or a numpy RandomState (scikit-learn's convention)."""
    if value is None or isinstance(value, np.random.RandomState):
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be None, an int or a numpy RandomState, got {value!r}")
    if not 0 <= int(value) < 2**32:
        raise ValueError(f"{name} must be between 0 and 2**32 - 1, got {value!r}")


def address(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be an address string, got {value!r}")


def anything(name: str, value: Any) -> None:
    """No rule (e.g. a live ``distributed.Client``)."""


def categorical_features(name: str, value: Any) -> None:
    """``"from_dtype"`` or a list of column names or positions."""
    if isinstance(value, str) and value == "from_dtype":
        return
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be 'from_dtype' or a list of columns, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | numbers.Integral):
            raise TypeError(f"{name} must list column names or positions, got {item!r}")


#: ``fastcost.LinearRegression``.
LINEAR_REGRESSION: dict[str, Param] = {
    "alpha": Param(0.0, penalty),
    "fit_intercept": Param(True, boolean),
    "solver": Param("auto", one_of(SOLVERS)),
    "tol": Param(1e-6, real(0.0)),
    "max_iter": Param(None, integer(1, optional=True)),
    "batch_size": Param(100, integer(1)),
    "learning_rate": Param(0.01, real(0.0, strict=True)),
    "n_threads": Param(None, integer(1, optional=True, also=(-1,))),
    "random_state": Param(None, random_state),
    "n_shards": Param(None, integer(1, optional=True)),
    "compute_statistics": Param(False, statistics),
    "standardize": Param(False, boolean),
    "prune": Param(False, boolean),
    "prune_tol": Param(None, real(0.0, optional=True)),
    "noise_augmentation": Param(0.0, real(0.0)),
    "qr_precision": Param("auto", one_of(QR_PRECISIONS)),
    "device": Param("cpu", one_of(DEVICES)),
    "categorical_features": Param("from_dtype", categorical_features),
    "positive": Param(False, boolean),
    "copy_X": Param(True, boolean),
}

#: ``fastcost.dask.LinearRegression``: the local parameters and where to run.
DASK_LINEAR_REGRESSION: dict[str, Param] = {
    **LINEAR_REGRESSION,
    "client": Param(None, anything),
    "scheduler": Param(None, address),
    "timeout": Param(10.0, real(0.0, strict=True)),
}


def validate(params: Mapping[str, Any], table: Mapping[str, Param]) -> None:
    """Check ``params`` against ``table``: no unknown names, every value by its rule.

    Raises TypeError for a value of the wrong type, ValueError for a bad value
    or an unknown name.
    """
    unknown = sorted(set(params) - set(table))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; known: {sorted(table)}")
    for name, value in params.items():
        table[name].check(name, value)
