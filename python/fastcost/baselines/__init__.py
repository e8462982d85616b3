"""The libraries ``fastcost compare`` measures fastcost against: TensorFlow's Keras
recipe (:mod:`~fastcost.baselines.tensorflow`, imported when it runs) and
scikit-learn's exact least squares and ``SGDRegressor`` (:mod:`~fastcost.baselines.sklearn`)."""

from __future__ import annotations

from fastcost.baselines.sklearn import run_sklearn_lr, run_sklearn_sgd
from fastcost.baselines.tensorflow import glorot_uniform, run_tensorflow

__all__ = ["glorot_uniform", "run_sklearn_lr", "run_sklearn_sgd", "run_tensorflow"]
