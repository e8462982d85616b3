"""Test-session setup, and the fixtures several test modules share."""

import os

import pytest

# scikit-learn's estimator checks include an array-API input check (numpy
# namespace) that runs only when SciPy's array-API mode is on; it has to be set
# before SciPy is imported, which is why it lives here and not in a fixture.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


@pytest.fixture(scope="module")
def client():
    """A Dask cluster of worker processes, as in production: tasks and results
    really cross process boundaries (pickling, the worker's own import of
    fastcost). One per test module."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c
