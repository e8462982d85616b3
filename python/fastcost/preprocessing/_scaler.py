"""StandardScaler: scikit-learn's scaler with one sharded compiled pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import _core
from .._threads import resolve_n_threads
from .._validation import FLOAT_DTYPES, kernel_layout
from ._common import _is_constant, _nonfinite_error


@dataclass(frozen=True)
class ScalerReport:
    """What :meth:`StandardScaler.fit` / ``partial_fit`` did.

    Attributes
    ----------
    n_samples_seen : float
        Rows (or the sum of sample weights) summarized so far.
    n_passes : int
        Passes over X made by the last call (always 1).
    n_shards : int
        Row shards of that pass.
    constant_columns : tuple of int
        Columns whose variance is indistinguishable from 0 (scale 1).
    bytes_copied : int
        Bytes of X copied by validation (0 for float C/Fortran arrays).
    """

    n_samples_seen: float
    n_passes: int
    n_shards: int
    constant_columns: tuple[int, ...]
    bytes_copied: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_samples_seen": float(self.n_samples_seen),
            "n_passes": self.n_passes,
            "n_shards": self.n_shards,
            "constant_columns": list(self.constant_columns),
            "bytes_copied": self.bytes_copied,
        }


def _output_like(X: np.ndarray) -> np.ndarray:
    """An empty array the kernels see with X's layout (C for row-major views)."""
    row_major = X.flags.c_contiguous or (not X.flags.f_contiguous and X.strides[1] == X.itemsize)
    return np.empty(X.shape, dtype=X.dtype, order="C" if row_major else "F")


class StandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardize features, ``z = (x - mean) / scale``, with compiled passes.

    A drop-in for :class:`sklearn.preprocessing.StandardScaler` on dense float
    arrays: the same attributes and the same numbers (statistics agree to a few
    ulps, the transform bit for bit), computed in one sharded pass that reads X
    in place. Each shard forms corrected two-pass moments block by block about
    a row of the data (exact for columns with a large mean and small spread,
    e.g. ``1e9 + N(0, 1e-3)``) and the shards are merged in a fixed order
    (Chan, Golub & LeVeque), so results do not depend on the thread count.
    ``transform`` runs in C++ too; ``copy=False`` overwrites X in place. NaN
    and inf are rejected (see :func:`clean`); sparse input is not supported.

    Parameters
    ----------
    copy : bool, default=True
        False: ``transform``/``inverse_transform`` overwrite X when it is a
        writable float array the kernels can read in place.
    with_mean : bool, default=True
    with_std : bool, default=True
    n_threads : int or None, default=None
        Threads of the passes (None: all cores the process may use).

    Attributes
    ----------
    mean_, var_, scale_ : ndarray of shape (n_features,) or None
        As scikit-learn's (float64); ``scale_`` is 1 for constant columns.
    n_samples_seen_ : int or float
        Rows seen, or the sum of sample weights.
    report_ : ScalerReport
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X has string column names

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost.preprocessing import StandardScaler
    >>> X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    >>> scaler = StandardScaler().fit(X)
    >>> scaler.mean_, scaler.scale_
    (array([ 3., 10.]), array([1.63299316, 1.        ]))
    >>> scaler.transform(X)[:, 0]
    array([-1.22474487,  0.        ,  1.22474487])
    """

    def __init__(
        self, *, copy: bool = True, with_mean: bool = True, with_std: bool = True,
        n_threads: int | None = None,
    ) -> None:  # fmt: skip
        self.copy = copy
        self.with_mean = with_mean
        self.with_std = with_std
        self.n_threads = n_threads

    def _reset(self) -> None:
        for attr in ("mean_", "var_", "scale_", "n_samples_seen_", "report_", "_mean", "_m2"):
            self.__dict__.pop(attr, None)

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Compute mean and standard deviation in one pass over X."""
        self._reset()
        return self.partial_fit(X, y, sample_weight)

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Add a batch of rows to the running statistics (Chan et al. merge)."""
        first = not hasattr(self, "n_samples_seen_")
        X_in = X
        X = validate_data(
            self, X, reset=first, dtype=list(FLOAT_DTYPES), order=None, ensure_all_finite=False
        )
        X = kernel_layout(X)
        copied = 0 if X is X_in else X.nbytes
        sw = None
        if sample_weight is not None:
            sw = np.ascontiguousarray(_check_sample_weight(sample_weight, X, dtype=X.dtype))
        st = _core.column_moments(X, sw, 0, resolve_n_threads(self.n_threads))
        if not st["finite"]:
            raise _nonfinite_error(X)
        n_new = float(st["sum_weights"]) if sw is not None else X.shape[0]
        mean_b = np.asarray(st["mean"], dtype=np.float64)
        m2_b = np.asarray(st["m2"], dtype=np.float64)
        if first or getattr(self, "n_samples_seen_", 0) == 0:
            n_tot, mean, m2 = n_new, mean_b, m2_b
        else:
            n_old: Any = getattr(self, "n_samples_seen_")  # noqa: B009 - set by an earlier call
            mean_old: np.ndarray = getattr(self, "_mean")  # noqa: B009
            m2_old: np.ndarray = getattr(self, "_m2")  # noqa: B009
            n_tot = n_old + n_new
            delta = mean_b - mean_old
            mean = mean_old + delta * (n_new / n_tot) if n_tot > 0 else mean_old
            m2 = m2_old + m2_b + delta**2 * (n_old * n_new / n_tot if n_tot > 0 else 0.0)
        self.n_samples_seen_ = np.int64(n_tot) if sw is None and isinstance(n_tot, int) else n_tot
        # Keep the running moments even when with_mean/with_std hide them.
        self._mean, self._m2 = mean, m2
        var = m2 / n_tot if n_tot > 0 else np.zeros_like(m2)
        if not (self.with_mean or self.with_std):
            self.mean_ = self.var_ = self.scale_ = None
        else:
            self.mean_ = mean
            self.var_ = var if self.with_std else None
            if self.with_std:
                constant = _is_constant(var, mean, n_tot)
                scale = np.sqrt(var)
                scale[constant | (scale < 10 * np.finfo(np.float64).eps)] = 1.0
                self.scale_ = scale
            else:
                self.scale_ = None
        const = _is_constant(var, mean, n_tot) if n_tot > 0 else np.ones(var.shape, bool)
        self.report_ = ScalerReport(
            n_samples_seen=float(n_tot),
            n_passes=1,
            n_shards=int(st["n_shards"]),
            constant_columns=tuple(int(j) for j in np.flatnonzero(const)),
            bytes_copied=copied,
        )
        return self

    def _apply(self, X: Any, copy: bool | None, inverse: bool) -> np.ndarray:
        check_is_fitted(self)
        copy = self.copy if copy is None else copy
        X_in = X
        X = validate_data(
            self, X, reset=False, dtype=list(FLOAT_DTYPES), order=None, ensure_all_finite=False
        )
        X = kernel_layout(X)
        if not copy and X is X_in and not X.flags.writeable:
            copy = True
        out = _output_like(X) if copy else X
        offset = self.mean_ if self.with_mean else None
        scale = self.scale_ if self.with_std else None
        n_bad = _core.affine_columns(
            X, out, offset, scale, inverse, 0, resolve_n_threads(self.n_threads)
        )
        if n_bad:
            raise _nonfinite_error(out)
        return out

    def transform(self, X: Any, copy: bool | None = None) -> np.ndarray:
        """Standardize X (in place when ``copy=False`` and X allows it)."""
        return self._apply(X, copy, inverse=False)

    def inverse_transform(self, X: Any, copy: bool | None = None) -> np.ndarray:
        """Map standardized data back: ``x * scale + mean``."""
        return self._apply(X, copy, inverse=True)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
