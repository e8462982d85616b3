"""``LinearRegressionCV`` on Dask: the folds' grouped pass as one map-reduce.

A dask X (array or numeric DataFrame) stays on the cluster. The client draws
the folds (the splitter needs the row count, and y or groups only for the
splitters that read them), labels every row with its atom
(``_cv_path.fold_atoms``), and sends each chunk of X the labels of its rows.
One map-reduce of ``_core.grouped_gram_stats`` over the chunks, about the
common shift (the first row, a task of the same graph), summed in a fixed
tree, gives every atom's augmented Gram: the local statistics up to the order
of the sums. Everything after that (the fold Grams, the alpha path, the choice
of ``alpha_``, the refit) is ``LinearRegressionCV``'s own code, unchanged.
``cv=None`` (exact leave-one-out) takes the total Gram the same way (one
label for every row), then a second map-reduce adds each chunk's held-out
residuals (``_loo.loo_block_sums``) for every alpha.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._cv_path import LOO_BLOCK_ROWS, check_width
from ._dask_data import _check_weights_summary, _Data, _import_dask, _prepare, connect
from ._dask_tasks import _add, _grouped_gram_task, _loo_standardized_task, _loo_task
from ._loo import LooBasis

#: scikit-learn splitters whose splits depend on the row count (and groups)
#: only: they get a placeholder X of n rows and no y, and nothing is computed.
ROWS_ONLY_SPLITTERS = frozenset(
    {
        "KFold",
        "RepeatedKFold",
        "GroupKFold",
        "TimeSeriesSplit",
        "ShuffleSplit",
        "GroupShuffleSplit",
        "LeaveOneGroupOut",
        "LeavePGroupsOut",
        "LeaveOneOut",
        "LeavePOut",
        "PredefinedSplit",
        "_CVIterableWrapper",  # cv given as a list of (train, test)
    }
)


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a dask collection (array, DataFrame, Series)."""
    return hasattr(obj, "__dask_graph__") and obj.__dask_graph__() is not None


def client_splits(
    splitter: Any, n: int, X: Any, y_values: Callable[[], np.ndarray], groups: Any
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``splitter.split`` of a dask X of ``n`` rows, on the client. A row-count
    splitter (``ROWS_ONLY_SPLITTERS``) sees a placeholder X of n rows and 0 columns
    and y=None: nothing is computed. Any other splitter (StratifiedKFold, one of
    your own) sees X as given and y computed to numpy (``y_values()``: n numbers
    per target) on the current scheduler. Dask groups are computed."""
    if groups is not None and is_dask(groups):
        groups = groups.compute()
    if type(splitter).__module__.startswith("sklearn.") and (
        type(splitter).__name__ in ROWS_ONLY_SPLITTERS
    ):
        return list(splitter.split(np.empty((n, 0)), None, groups))
    return list(splitter.split(X, y_values(), groups))


class ClusterRows:
    """X, y and the weights of a ``LinearRegressionCV`` fit as chunks of rows on
    a Dask cluster; ``shape``, ``dtype`` and ``itemsize`` are X's, as the fit's
    report reads them from a numpy X."""

    def __init__(self, data: _Data, n_threads: int | None) -> None:
        self.data = data
        self.shape = (data.n, data.d)
        self.dtype = data.dtype
        self.itemsize = data.dtype.itemsize
        # None: each task uses its worker's cores (``_dask_tasks._task_threads``).
        self.threads = n_threads if n_threads not in (None, -1) else None

    def split(self, splitter: Any, groups: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """``splitter.split`` on the client (:func:`client_splits`), X the dask array."""
        return client_splits(
            splitter, self.shape[0], self.data.X, lambda: np.asarray(self.data.y.compute()), groups
        )

    def grouped_stats(self, atom: np.ndarray, n_atoms: int,
                      n_shards: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Every atom's augmented Gram (n_atoms, p, p) about the shift, and the shift:
        one map-reduce of ``_core.grouped_gram_stats``, each chunk with its rows'
        labels (int32), on the current default client or an embedded LocalCluster
        (``fastcost.dask.connect()``)."""
        wide = n_atoms > np.iinfo(np.int32).max
        labels = np.asarray(atom, dtype=np.int64 if wide else np.int32)
        offsets = self.data.offsets
        pieces = [labels[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]
        with connect() as client:
            total, shift = self.data.map_reduce_shifted(
                client, _grouped_gram_task, _add, n_atoms, n_shards, self.threads,
                per_chunk=pieces,
            )  # fmt: skip
            _check_weights_summary(total["checks"])
            grams = np.asarray(total["gram"])
            if not np.isfinite(grams).all():
                self.data.raise_for_nonfinite(client)
        return grams, np.asarray(shift, dtype=np.float64)

    def loo_standardized_sums(
        self, gram: np.ndarray, shift: np.ndarray, alphas: np.ndarray, fit_intercept: bool
    ) -> np.ndarray:
        """As :meth:`loo_sums` with each training set standardized by its own moments
        (``_cv_path.loo_standardized_sums`` on every chunk's rows, one map-reduce)."""
        with connect() as client:
            return np.asarray(
                self.data.map_reduce(
                    client, _loo_standardized_task, _add, gram, shift, alphas, fit_intercept
                )  # fmt: skip
            )

    def loo_sums(self, basis: LooBasis, alphas: np.ndarray) -> np.ndarray:
        """The weighted squared leave-one-out residuals summed over all rows,
        (n_alphas, k): one map-reduce of ``_dask_tasks._loo_task`` over the chunks
        (the second pass of ``cv=None``), each chunk in blocks of rows."""
        with connect() as client:
            return np.asarray(
                self.data.map_reduce(client, _loo_task, _add, basis, alphas, LOO_BLOCK_ROWS)
            )


def prepare(est: Any, X: Any, y: Any, sample_weight: Any) -> tuple[ClusterRows, Any, bool, Any]:
    """``LinearRegressionCV._data`` for a dask X: (the rows on the cluster, y as a
    dask (n, k) array, whether y is 1-D, the dask weights or None). Sets
    ``n_features_in_`` and ``feature_names_in_`` as ``validate_data(reset=True)``."""
    _import_dask()
    data, names = _prepare(X, y, sample_weight, multi_output=True)
    check_width(data.d, f"X has {data.d} features")
    est.n_features_in_ = data.d
    if names is not None:
        est.feature_names_in_ = np.asarray(names, dtype=object)
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    one_d = getattr(y, "ndim", np.ndim(y)) == 1
    return ClusterRows(data, est.n_threads), data.y, one_d, data.sw
