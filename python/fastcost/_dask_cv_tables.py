"""``LinearRegressionCV`` on a dask DataFrame with text or category columns.

The levels are learnt as the Dask ``LinearRegression`` learns them
(``_dask_categorical.learn_encoder``: one round trip, the encoder fitted on a
frame of the levels) and every partition is encoded on its worker with that
encoder, so each fold sees every level of the whole data, as in the local
table fit. Everything on the client is ``_cv_tables``' own code
(``fit_encoded``: the splitter, the fold Grams, the level sets, the scores,
the refit); only the reads of the rows run on the cluster
(:class:`ClusterTable`):

- folds: one map-reduce in which every partition gives its rows' per-atom mixed
  Grams (``_cv_tables.mixed_atom_grams``) about the common shift (the first
  row, a task of the same graph), summed in a fixed tree;
- ``cv=None``: the total Gram the same way (one atom), then one more
  map-reduce in which every partition expands its rows to dense, a block at a
  time (``_cv_tables._ExpandedRows``), and sums their held-out residuals for
  each level set (``_dask_tasks.loo_rows_sums``, or
  ``loo_standardized_rows_sums`` with the level columns unscaled).

The tasks unpickle the encoder, which imports scikit-learn once per worker
process (as the Dask ``LinearRegression`` on such frames does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._categorical import predict_coded, target_values
from ._cv_path import LOO_BLOCK_ROWS, loo_basis, loo_scores
from ._cv_tables import LevelSet, _ExpandedRows, fit_encoded, mixed_atom_grams, set_report
from ._dask_categorical import _first_row_task, aligned, encode_partition, first_rows, learn_encoder
from ._dask_cv import client_splits, is_dask
from ._dask_data import _check_weights_summary, _Data, _import_dask, connect
from ._dask_tasks import (
    _add,
    _task_threads,
    _weight_checks,
    loo_rows_sums,
    loo_standardized_rows_sums,
)
from ._params import validate
from ._tables import Design, TableEncoder
from ._validation import check_weights
from .exceptions import NonFiniteError
from .resources import fit_clock

__all__ = ["ClusterTable", "fit_dask_table", "predict_dask_table"]


def fit_dask_table(est: Any, X: Any, y: Any, sample_weight: Any, groups: Any) -> None:
    """Fit ``LinearRegressionCV`` ``est`` on the dask DataFrame X (text or category
    columns), on the current default Dask client or an embedded LocalCluster
    (``fastcost.dask.connect()``)."""
    from .linear_model import unchanged_on_failure

    _import_dask()
    with unchanged_on_failure(est):
        validate({n: getattr(est, n) for n in est._parameters}, est._parameters)
        with fit_clock() as clock, connect() as client:
            encoder, layout, lengths = learn_encoder(client, X, [])  # warns its notes
            rows = ClusterTable(est, client, X, y, sample_weight, encoder, layout, lengths)
            fit_encoded(est, encoder, layout, rows, X, groups)
        set_report(est, clock, layout, rows.n_rows)


def predict_dask_table(est: Any, X: Any) -> np.ndarray:
    """Predictions for the dask DataFrame X, each partition's on its worker,
    gathered to numpy (as ``predict`` computes a numeric dask X)."""
    coef, intercept = np.asarray(est.coef_), float(est.intercept_)
    parts = X.map_partitions(_predict_partition, est.encoder_, coef, intercept, meta=(None, "f8"))
    return np.asarray(parts.compute(), dtype=np.float64)


def _predict_partition(X, encoder, coef, intercept):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.Series(predict_coded(encoder, coef, intercept, X), index=X.index)


class ClusterTable:
    """The rows of a dask DataFrame, its y and weights, as ``_cv_tables.fit_encoded``
    reads them (``n_rows``, ``est``, ``sw``, ``split``, ``atom_stats``, ``loo``):
    one partition per chunk, encoded on its worker."""

    def __init__(self, est: Any, client: Any, X: Any, y: Any, sample_weight: Any,
                 encoder: TableEncoder, layout: Design, lengths: np.ndarray) -> None:  # fmt: skip
        self.est, self.client, self.encoder = est, client, encoder
        self.n_rows = n = int(lengths.sum())
        if n == 0:
            raise ValueError("cannot fit on a table without rows")
        self.n_level_columns = int(layout.n_levels.sum())
        width = layout.dense.shape[1] + self.n_level_columns
        self.y_dask = y if is_dask(y) else None
        self.y = None if is_dask(y) else target_values(y, n)
        self.sw = None
        if sample_weight is not None and not is_dask(sample_weight):
            self.sw = check_weights(sample_weight, n, np.dtype(np.float64))
            sample_weight = self.sw
        yb = aligned(y if self.y is None else self.y, n, lengths)
        xb = list(X.to_delayed())
        sb = (
            [None] * len(xb) if sample_weight is None
            else aligned(sample_weight, n, lengths, "sample_weight")
        )  # fmt: skip
        self.data = _Data.from_blocks(xb, yb, sb, lengths, width)
        self.first = first_rows(lengths)  # the shift's partition
        # None: each task uses its worker's cores (``_dask_tasks._task_threads``).
        self.threads = est.n_threads if est.n_threads not in (None, -1) else None

    def split(self, splitter: Any, X: Any, groups: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        return client_splits(splitter, self.n_rows, X, self._y_values, groups)

    def _y_values(self) -> np.ndarray:
        if self.y is None:
            self.y = target_values(self.client.compute(self.y_dask, sync=True), self.n_rows)
        return self.y

    def atom_stats(self, atom: np.ndarray, n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
        """Every atom's augmented Gram (n_atoms, D + 2, D + 2) over [dense, every
        level, y, 1] about the first row, and that shift: one map-reduce."""
        import dask

        labels, offsets = np.asarray(atom, dtype=np.int64), self.data.offsets
        pieces = [labels[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]
        data, k = self.data, self.first
        shift = dask.delayed(_shift_task, pure=True)(
            data.xb[k], data.yb[k], self.encoder, self.n_level_columns
        )
        nodes = data.top(_atoms_task, _add, self.encoder, n_atoms, shift,
                         int(self.est.n_shards or 0), self.threads, per_chunk=pieces)  # fmt: skip
        try:
            *parts, shift_row = self.client.compute([*nodes, shift], sync=True)
        except NonFiniteError as exc:
            _raise_nonfinite(exc)
        total = _add(*parts)
        self.n_positive = _check_weights_summary(total["checks"])
        grams = np.asarray(total["gram"])
        if not (np.isfinite(grams).all() and np.isfinite(shift_row).all()):
            _raise_nonfinite(None)
        return grams, np.asarray(shift_row, dtype=np.float64)

    def loo(self, sets: list[LevelSet], alphas: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Leave-one-out (MSE, R^2), each (len(idx), 1), for each level set: one
        map-reduce of every partition's held-out residuals for all of them."""
        if self.n_positive < 2:
            raise ValueError(
                f"leave-one-out needs at least 2 samples with weight (n_samples={self.n_rows})"
            )
        fit_intercept, standardize = bool(self.est.fit_intercept), bool(self.est.standardize)
        work = [
            (s.idx, s.cols, (s.gram, s.shift, s.fixed) if standardize
             else loo_basis(s.gram, s.shift, s.cols.size, fit_intercept))
            for s in sets
        ]  # fmt: skip
        args = (self.encoder, work, alphas, fit_intercept, standardize)
        sq = np.asarray(self.data.map_reduce(self.client, _loo_task, _add, *args))
        return [loo_scores(sq[s.idx], s.gram, s.cols.size) for s in sets]


def _raise_nonfinite(original: BaseException | None) -> None:
    raise NonFiniteError(
        "X or y holds NaN, infinity or values too large for the sums of squares "
        "(a Dask partition's statistics are not finite); clean or rescale the data"
    ) from original


# -- worker tasks ------------------------------------------------------------------


def _weights(sw: Any) -> np.ndarray | None:
    return None if sw is None else np.ascontiguousarray(np.asarray(sw, dtype=np.float64))


def _shift_task(X, y, encoder, n_level_columns):  # type: ignore[no-untyped-def]
    """[dense x_0, 0 for every level column, y_0]: the shift of every partition."""
    x0, y0 = _first_row_task(X, y, encoder)
    return np.r_[x0, np.zeros(n_level_columns), y0]


def _atoms_task(X, y, sw, atom, encoder, n_atoms, shift, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """A partition's per-atom augmented Grams about ``shift`` (zeros for the atoms
    with no row here; ``atom``: its rows' labels) and its weight checks."""
    design = encode_partition(X, encoder)
    sw = _weights(sw)
    grams, _ = mixed_atom_grams(design, target_values(y, design.n_rows), sw, atom, n_atoms,
                                shift, n_shards, _task_threads(n_threads))  # fmt: skip
    return {"gram": grams, "checks": _weight_checks(sw, design.n_rows)}


def _loo_task(X, y, sw, encoder, work, alphas, fit_intercept, standardize):  # type: ignore[no-untyped-def]
    """A partition's weighted squared leave-one-out residuals (n_alphas, 1): for
    each level set (the alphas ``idx``, the columns ``cols``), its expanded rows a
    block at a time, from the full data's basis (or Gram, for standardize)."""
    design = encode_partition(X, encoder)
    Y = target_values(y, design.n_rows)[:, None]
    sw = _weights(sw)
    sq = np.zeros((alphas.size, 1))
    for idx, cols, what in work:
        rows = _ExpandedRows(design, cols)
        if standardize:
            gram, shift, fixed = what
            sq[idx] = loo_standardized_rows_sums(rows, Y, sw, gram, shift, alphas[idx],
                                                 fit_intercept, fixed)  # fmt: skip
        else:
            sq[idx] = loo_rows_sums(rows, Y, sw, what, alphas[idx], LOO_BLOCK_ROWS)
    return sq
