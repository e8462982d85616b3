"""fastcost: cheap, measured training of least-squares models.

Compiled solvers (newton, lbfgs, gd, sgd) behind a scikit-learn estimator,
with resource reports and a comparison against the TensorFlow recipe.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._config import config_info, set_isa, show_config
    from ._streaming import fit_dataset
    from ._sufficient import SufficientStatistics
    from .linear_model import SOLVERS, LinearRegression
    from .linear_model_cv import LinearRegressionCV
    from .persistence import load

__all__ = [
    "SOLVERS",
    "LinearRegression",
    "LinearRegressionCV",
    "SufficientStatistics",
    "__version__",
    "config_info",
    "fit_dataset",
    "load",
    "set_isa",
    "show_config",
]

# Loaded on first use (PEP 562): importing a submodule, e.g. the Dask workers'
# fastcost._dask_tasks, then costs only that submodule and what it imports, not
# scikit-learn.
_LAZY = {
    "SOLVERS": "linear_model",
    "LinearRegression": "linear_model",
    "LinearRegressionCV": "linear_model_cv",
    "SufficientStatistics": "_sufficient",
    "config_info": "_config",
    "fit_dataset": "_streaming",
    "load": "persistence",
    "set_isa": "_config",
    "show_config": "_config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup finds it without calling here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
