"""scikit-learn's own LinearRegression tests, run against fastcost's estimator.

The test module shipped with the installed scikit-learn
(``sklearn/linear_model/tests/test_base.py``) is run as it is, with its one
import of the estimator swapped for fastcost's: sparse X, multi-output y,
positive=True, sample weights, the intercept, copy_X and the rest must behave
as scikit-learn's estimator does.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sklearn

IMPORT = "from sklearn.linear_model import LinearRegression\n"

#: The tests left out, where fastcost deliberately differs:
#: - test_inplace_data_preprocessing asserts that with copy_X=False scikit-learn's
#:   fit overwrote X in place (centered it). fastcost never writes into the
#:   caller's data whatever copy_X says (test_copy_x_never_writes_into_the_data).
#: - test_raises_value_error_if_positive_and_sparse asserts that positive=True
#:   refuses sparse X, which fastcost fits (test_positive_on_sparse_x_equals_dense).
DESELECTED = "test_inplace_data_preprocessing or test_raises_value_error_if_positive_and_sparse"


def test_scikit_learn_test_base_passes_with_fastcost_estimator(tmp_path):
    source = os.path.join(
        os.path.dirname(sklearn.__file__), "linear_model", "tests", "test_base.py"
    )
    if not os.path.exists(source):
        pytest.fail(f"scikit-learn {sklearn.__version__} ships no {source}")
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
    assert text.count(IMPORT) == 1, "the estimator's import line changed in scikit-learn"
    target = tmp_path / "test_sklearn_base.py"
    target.write_text(text.replace(IMPORT, "from fastcost import LinearRegression\n"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(target), "-q", "-p", "sklearn.conftest",
         "-p", "no:cacheprovider", "-rfE", "-k", f"not ({DESELECTED})"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout.splitlines()[-1]


@pytest.mark.parametrize("copy_X", [True, False])
def test_copy_x_never_writes_into_the_data(copy_X):
    import numpy as np
    import scipy.sparse as sp
    from fastcost import LinearRegression

    rng = np.random.default_rng(0)
    X, Y, s = rng.standard_normal((30, 4)), rng.standard_normal((30, 2)), rng.uniform(1, 2, 30)
    for data in (X.copy(), sp.csr_matrix(X)):
        before = data.copy()
        y, sw = Y.copy(), s.copy()
        LinearRegression(copy_X=copy_X).fit(data, y, sample_weight=sw)
        diff = (data - before) if not sp.issparse(data) else (data - before).toarray()
        assert not np.any(diff)
        np.testing.assert_array_equal(y, Y)
        np.testing.assert_array_equal(sw, s)


def test_positive_on_sparse_x_equals_dense():
    import numpy as np
    import scipy.sparse as sp
    from fastcost import LinearRegression

    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 6)) * (rng.random((200, 6)) < 0.4)
    y = X @ np.array([1.0, -2.0, 0.5, -1.0, 2.0, 0.3]) + 0.1 * rng.standard_normal(200)
    dense = LinearRegression(positive=True).fit(X, y)
    sparse = LinearRegression(positive=True).fit(sp.csr_matrix(X), y)
    assert (sparse.coef_ >= 0).all() and np.count_nonzero(sparse.coef_ == 0) >= 2
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-12)
