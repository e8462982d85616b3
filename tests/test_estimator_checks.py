"""scikit-learn's estimator checks."""

from __future__ import annotations

import pytest
from fastcost import LinearRegression
from sklearn.utils.estimator_checks import parametrize_with_checks


# Some checks fit tiny random data with fewer samples (or non-zero weights) than
# features: newton then correctly returns the minimum-norm solution and warns.
@pytest.mark.filterwarnings("ignore::fastcost.exceptions.RankDeficientWarning")
@parametrize_with_checks(
    [
        LinearRegression(),
        LinearRegression(solver="lbfgs"),
        LinearRegression(alpha=1.0),
        LinearRegression(solver="qr"),  # no sparse input: its tags say so
        LinearRegression(solver="gd", tol=1e-10, max_iter=5000),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
