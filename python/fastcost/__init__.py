"""fastcost: cheap, measured training of least-squares models.

Compiled solvers (newton, lbfgs, gd, sgd) behind a scikit-learn estimator,
with resource reports and a comparison against the TensorFlow recipe.
"""

from __future__ import annotations

from ._config import config_info, set_isa, show_config
from ._version import __version__
from .linear_model import SOLVERS, LinearRegression
from .persistence import load

__all__ = [
    "SOLVERS",
    "LinearRegression",
    "__version__",
    "config_info",
    "load",
    "set_isa",
    "show_config",
]
