"""Helpers shared by the preprocessing steps (and by the fit that folds them in)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._tables_columns import table_view
from .._validation import FLOAT_DTYPES, kernel_layout
from ._frames import is_table, numeric_block


def _nonfinite_error(X: np.ndarray, what: str = "X") -> ValueError:
    bad = _core.find_nonfinite(X)
    if bad is None:  # every cell is finite: their squares or sums overflow
        return ValueError(
            f"{what} holds no NaN or infinity, but values too large for its column statistics "
            f"(their squares overflow {X.dtype}); rescale {what}'s columns"
        )
    return ValueError(
        f"{what} contains NaN or infinity (first at row {bad[0]}, column {bad[1]}); clean it "
        "first with fastcost.preprocessing.clean or Cleaner"
    )


def _is_constant(var: np.ndarray, mean: np.ndarray, n: float) -> np.ndarray:
    """scikit-learn's rule: a variance within the two-pass algorithm's error bound."""
    eps = np.finfo(np.float64).eps
    return var <= n * eps * var + (n * mean * eps) ** 2


def _as_float_matrix(X: Any, hint: str = "drop them") -> tuple[np.ndarray, bool]:
    """X as an array the kernels read in place; True when that took a copy.

    A table (pandas, polars, pyarrow) must hold numbers only: its numeric and
    boolean columns become one float64 matrix, with NaN where a value is missing
    (``pd.NA``, null); other columns raise a ValueError naming them, ending with
    ``hint``.
    """
    if is_table(X):
        return _table_as_float_matrix(X, hint)
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {arr.shape}")
    if arr.dtype not in FLOAT_DTYPES:
        return kernel_layout(arr.astype(np.float64)), True
    out = kernel_layout(arr)
    return out, out is not X


def _table_as_float_matrix(X: Any, hint: str) -> tuple[np.ndarray, bool]:
    dtypes = set(getattr(X, "dtypes", ())) if type(X).__module__.startswith("pandas") else ()
    if len(dtypes) == 1 and dtypes.pop() in FLOAT_DTYPES:  # one numpy float block: read in place
        out = kernel_layout(np.asarray(X))
        # The frame's own memory (read-only under copy-on-write): not a copy, so
        # copy=True, or a read-only view, copies before writing.
        return out, out is not X and not np.shares_memory(out, np.asarray(X))
    view = table_view(X)
    block, _, other = numeric_block(view)
    if other:
        found = {view.names[j]: view.column(j).dtype for j in other}
        raise ValueError(f"X has columns that are not numbers: {found}; {hint}")
    return block, True


def _centered(
    gram: np.ndarray, shift: np.ndarray, fit_intercept: bool
) -> tuple[np.ndarray, float, np.ndarray]:
    """The x-block of the weighted Gram about the means (intercept) or about 0,
    the sum of weights and the column means, from gram_stats' augmented Gram."""
    d = gram.shape[0] - 2
    S = float(gram[d + 1, d + 1])
    m = gram[:d, d + 1]
    c = np.asarray(shift[:d], dtype=np.float64)
    mean = c + m / S
    if fit_intercept:
        A = gram[:d, :d] - np.outer(m, m) / S
    else:
        A = gram[:d, :d] + np.outer(c, m) + np.outer(m, c) + S * np.outer(c, c)
    return A, S, mean
