"""The libraries ``fastcost compare`` measures fastcost against.

* :func:`run_tensorflow` (:mod:`fastcost.baselines.tensorflow`): the standard
  Keras recipe for linear regression; TensorFlow is imported when it runs.
* :func:`run_sklearn_lr` and :func:`run_sklearn_sgd`
  (:mod:`fastcost.baselines.sklearn`): scikit-learn's exact least squares and
  its ``SGDRegressor``.

Each fits one model on a train/test split with the measurement steps of
:mod:`fastcost.compare.result` and returns a
:class:`~fastcost.compare.result.RunResult`; :mod:`fastcost.compare.runners`
puts them in the comparison's registry.
"""

from __future__ import annotations

from fastcost.baselines.sklearn import run_sklearn_lr, run_sklearn_sgd
from fastcost.baselines.tensorflow import glorot_uniform, run_tensorflow

__all__ = ["glorot_uniform", "run_sklearn_lr", "run_sklearn_sgd", "run_tensorflow"]
