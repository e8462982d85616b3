"""Input checks shared by the estimators: clear errors, at most one copy of X."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import _core
from .exceptions import NonFiniteError

FLOAT_DTYPES = (np.float64, np.float32)

#: ``numpy.longdouble`` where it is wider than float64 (x86-64 Linux/macOS:
#: 80-bit x87; aarch64 Linux: IEEE quad), else None (MSVC, Apple silicon: it is
#: float64 there). Only the qr solver reads it (see ``LinearRegression``).
LONGDOUBLE: np.dtype | None = (
    np.dtype(np.longdouble) if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else None
)


def is_device_array(obj: Any) -> bool:
    """Whether obj is GPU memory (``__cuda_array_interface__``: CuPy, PyTorch CUDA
    tensors, Numba). An object whose interface exists but refuses to export (a
    PyTorch tensor that requires grad raises RuntimeError) counts as one, so that
    the CUDA backend can say why it cannot read it."""
    try:
        return hasattr(obj, "__cuda_array_interface__")
    except Exception:  # noqa: BLE001 - raised by the producer's own property
        return True


def is_longdouble(a: Any) -> bool:
    """Whether ``a`` is an array of a ``numpy.longdouble`` wider than float64."""
    return LONGDOUBLE is not None and getattr(a, "dtype", None) == LONGDOUBLE


def find_nonfinite(X: np.ndarray) -> tuple[int, int] | None:
    """First NaN/inf cell of X (row, column), or None; ``_core.find_nonfinite``
    for float32/float64, numpy for longdouble (which the compiled kernel does not read)."""
    if not is_longdouble(X):
        return _core.find_nonfinite(X)
    bad = np.argwhere(~np.isfinite(X))
    return None if len(bad) == 0 else (int(bad[0, 0]), int(bad[0, 1]))


def kernel_layout(X: np.ndarray) -> np.ndarray:
    """Return X if the kernels can read it in place, else one C-ordered copy.

    C- and Fortran-ordered arrays, and row/column blocks of them (unit stride in
    one dimension), are read without copying.
    """
    item = X.itemsize
    if X.flags.c_contiguous or X.flags.f_contiguous:
        return X
    s0, s1 = X.strides
    if (s1 == item and s0 % item == 0 and s0 >= X.shape[1] * item) or (
        s0 == item and s1 % item == 0 and s1 >= X.shape[0] * item
    ):
        return X
    return np.ascontiguousarray(X)


def check_weights(sample_weight: Any, n_samples: int, dtype: np.dtype) -> np.ndarray | None:
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight)
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must be real numbers, got dtype {sw.dtype}")
    sw = np.ascontiguousarray(sw, dtype=dtype)
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {sw.shape}")
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (sw < 0).any():
        raise ValueError("sample_weight contains negative values")
    if not sw.sum() > 0:
        raise ValueError("sample_weight sums to zero: nothing to fit")
    return sw


def check_coef_init(coef_init: Any, n_features: int) -> np.ndarray | None:
    """A starting point as ``n_features`` finite float64 values, or None."""
    if coef_init is None:
        return None
    coef = np.asarray(coef_init, dtype=np.float64).reshape(-1)
    if coef.shape != (n_features,) or not np.isfinite(coef).all():
        raise ValueError(f"coef_init must be {n_features} finite values")
    return coef


def _overflow_message(X: np.ndarray) -> str:
    """What overflowed, given that X holds no NaN/inf: X's own values when the
    largest could overflow the sums of squares (``n * max|x|² > finfo.max``), else
    y's. float32 data is advised float64; float64 data only rescaling."""
    dtype = np.dtype(X.dtype)
    finfo = np.finfo(dtype)
    n = max(int(X.shape[0]), 1)
    hi = float(X.max()) if X.size else 0.0
    lo = float(X.min()) if X.size else 0.0
    largest = max(hi, -lo)
    wider = " or fit in float64" if dtype.itemsize < 8 else ""
    if largest > np.sqrt(float(finfo.max) / n):
        i, j = np.unravel_index(int(X.argmax() if hi >= -lo else X.argmin()), X.shape)
        return (
            f"numerical overflow: X holds no NaN or infinity, but its values are too large "
            f"for {dtype}: |X[{i}, {j}]| = {largest:.3g}, and sums of squares of values "
            f"this large exceed {float(finfo.max):.3g}; rescale or standardize X{wider}"
        )
    return (
        f"numerical overflow: X holds no NaN or infinity and its values are moderate "
        f"(largest |value| {largest:.3g}), so the values of y are too large for the sums "
        f"of squares in {dtype}; rescale or standardize y{wider}"
    )


#: Column magnitudes whose squares leave float64's normal range (about
#: 1e-308 .. 1e308) in the Gram, the factor or the gradient's curvature.
TINY_COLUMN, HUGE_COLUMN = 1e-150, 1e150


def check_column_scales(X: np.ndarray, sample: bool = False) -> None:
    """Raise :class:`NonFiniteError` when a float64 column of X holds values too
    large (overflow) or only values too small (underflow: their squares flush to
    zero, so the column looks constant) for sums of squares.

    A pass over X, which the fit pipeline runs only where a fit's result looks
    like one of these, or (``sample``) where evenly spaced rows of X, at most
    about 2 MB of values, do; otherwise the sample alone is read."""
    if X.dtype != np.float64 or not X.size:
        return
    n, d = X.shape
    if sample:
        step = max(1, -(-n * d // (1 << 18)))
        if step > 1:
            big = np.abs(X[::step]).max(axis=0)
            off = (big > HUGE_COLUMN) | ((big > 0) & (big < TINY_COLUMN))
            if not off.any() or not np.isfinite(big).all():
                return
    big = np.zeros(d)
    rows = max(1, (1 << 18) // d)  # blocks of 2 MB: no temporary the size of X
    for start in range(0, n, rows):
        np.maximum(big, np.abs(X[start : start + rows]).max(axis=0), out=big)
    if not np.isfinite(big).all():
        return  # NaN or infinity: the fit names its first cell
    if float(big.max()) > HUGE_COLUMN:
        raise NonFiniteError(_overflow_message(X))
    tiny = np.flatnonzero((big > 0) & (big < TINY_COLUMN))
    if tiny.size:
        j = int(tiny[0])
        raise NonFiniteError(
            f"numerical underflow: column {j} of X holds values of at most {big[j]:.3g} in "
            f"magnitude ({tiny.size} column(s) below {TINY_COLUMN:g}), whose squares are "
            "below float64's range, so the column looks constant; rescale X (multiply it "
            "by a power of 10)"
        )


def raise_for_nonfinite(X: np.ndarray, original: BaseException | None = None) -> None:
    """Raise a NonFiniteError naming the first NaN/inf cell of X, or else saying
    which values overflow (X's or y's) and what to do about it."""
    bad = find_nonfinite(X)
    if bad is not None:
        i, j = bad
        raise NonFiniteError(
            f"X contains NaN or infinity (first at row {i}, column {j}); "
            "clean it first, e.g. with fastcost.preprocessing"
        ) from original
    raise NonFiniteError(_overflow_message(X)) from original
