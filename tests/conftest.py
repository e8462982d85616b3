"""Test-session setup."""

import os

# scikit-learn's estimator checks include an array-API input check (numpy
# namespace) that runs only when SciPy's array-API mode is on; it has to be set
# before SciPy is imported, which is why it lives here and not in a fixture.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
