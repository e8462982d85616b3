"""Categorical features on Dask: a dask DataFrame with text or category columns.

The levels of each categorical are learnt in one round trip (the distinct
values of every categorical column, with the partitions' lengths), the column
typing is the local estimator's (:class:`fastcost._tables.TableEncoder`, fitted
on a frame of those levels), and each partition is coded on its worker and read
by the same compiled kernels as a local fit: newton from the sum of the
partitions' mixed statistics (the block-arrow elimination included), qr from
the merged factors of their expanded rows, lbfgs and gd by the compiled loops
of the local fit (``_core.minimize``) over :class:`fastcost._dask_data._ClusterPass`
on each partition's codes, encoded once and kept on its worker
(:class:`fastcost._dask_tasks.MixedChunk`). The solve and everything after it
is :class:`fastcost._categorical.MixedBackend`'s: one policy for both.

The worker tasks unpickle the fitted encoder, which imports scikit-learn once
per worker process (plain numeric Dask fits avoid that import).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _core
from ._categorical import MixedBackend, MixedDesign, drop_first_levels, target_values
from ._dask_data import TREE_FAN_IN, _ClusterPass, _Data, _is_dask_collection
from ._dask_tasks import MixedChunk, _add, _task_threads
from ._result import SolveResult
from ._validation import check_weights
from .exceptions import NonFiniteError
from .resources import ResourceReport, fit_clock


def is_dask_table(X: Any, est: Any) -> bool:
    """Whether the Dask fit of ``X`` needs the categorical path (a column that is
    not numeric, or ``est.categorical_features`` listing columns)."""
    meta = getattr(X, "_meta", None)
    if meta is None or not hasattr(meta, "dtypes"):
        return False
    if not isinstance(getattr(est, "categorical_features", "auto"), str):
        return True
    return any(dtype.kind not in "biuf" for dtype in meta.dtypes)


def _level_frame(meta: Any, distinct: dict[str, Any]) -> Any:
    """A small pandas frame with the dtypes of ``meta`` in which every
    categorical column takes each of its distinct values (the encoder's fit)."""
    import pandas as pd

    m = max([1, *(len(v) for v in distinct.values())])
    columns = {}
    for name in meta.columns:
        if name in distinct:
            values = distinct[name]
            idx = np.resize(np.arange(max(len(values), 1)), m)
            col = values.iloc[idx].reset_index(drop=True) if len(values) else meta[name].iloc[:0]
        else:
            col = pd.Series(np.zeros(m)).astype(meta[name].dtype, errors="ignore")
        columns[name] = col
    return pd.DataFrame(columns)


def _distinct(values: Any) -> Any:
    """The distinct values of a pandas Series (missing kept once)."""
    return values.drop_duplicates()


def learn_encoder(client: Any, X: Any, listed: list[Any]) -> tuple[Any, Any, np.ndarray]:
    """The levels of a dask DataFrame's categorical columns (its text and category
    columns, and those ``listed``) in one round trip: the distinct values of each,
    with the partitions' lengths, no shuffle. Returns the ``TableEncoder`` fitted
    on a frame of those levels, that frame's ``Design`` (the layout: the dense
    columns and the levels of every categorical) and the lengths (int64)."""
    from ._tables import TableEncoder
    from ._tables_roles import _identifier_like, identifier_note

    meta = X._meta
    text = [c for c, t in zip(meta.columns, meta.dtypes, strict=True) if t.kind not in "biuf"]
    cats = [c for c in meta.columns if c in set(text) | set(listed)]
    uniques = [X[c].map_partitions(_distinct, meta=meta[c]) for c in cats]
    present = [X[c].count() for c in cats]
    first = _index_candidate(X, listed)
    sums = _index_sums(X, first)
    out = client.compute([*uniques, *present, X.map_partitions(len), *sums], sync=True)
    k = len(cats)
    distinct = [_distinct(p) for p in out[:k]]
    counts = dict(zip(cats, out[k : 2 * k], strict=True))
    lengths, index_sums = out[2 * k], out[2 * k + 1 :]
    # The encoder sees one row per level: the data-dependent rules are applied
    # here, with the whole data's counts, as the local fit applies them.
    notes, dropped = [], []
    for c, values in zip(cats, distinct, strict=True):
        n_levels = int(values.notna().sum())
        if c not in listed and _identifier_like(n_levels, int(counts[c])):
            notes.append(identifier_note(str(c), n_levels, int(counts[c])))
            dropped.append(c)
    index = _index_note(first, int(np.sum(lengths)), index_sums)
    if index is not None:
        notes.insert(0, index)
        dropped.append(first)
    frame = _level_frame(meta, dict(zip(cats, distinct, strict=True)))
    forced = [c for c in cats if c not in dropped]
    encoder = TableEncoder(categorical=forced or None, drop=dropped or None, index=False)
    encoder.fit(frame)
    # The level frame's own notes, less those counting its rows (missing values).
    notes += [n for n in encoder.notes_ if n not in encoder.missing_notes_]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=4)
    return encoder, encoder.transform(frame), np.asarray(lengths, dtype=np.int64)


def _index_candidate(X: Any, listed: list[Any]) -> Any:
    """The name of X's first column if it is unnamed and numeric (it may hold
    the row numbers), else None."""
    from ._tables_roles import UNNAMED

    meta = X._meta
    if not len(meta.columns):
        return None
    name = meta.columns[0]
    numeric = meta.dtypes.iloc[0].kind in "iuf"
    return name if name in UNNAMED and numeric and name not in listed else None


def _index_sums(X: Any, name: Any) -> list[Any]:
    """[count, min, max, sum, sum of squares, all whole] of column ``name`` as
    dask reductions (None: none)."""
    if name is None:
        return []
    col = X[name].astype("float64")
    whole = (col == col.round()).all()
    return [col.count(), col.min(), col.max(), col.sum(), (col * col).sum(), whole]


def _index_note(name: Any, n: int, sums: list[Any]) -> str | None:
    from ._tables_roles import row_numbers_note

    if name is None or not sums:
        return None
    count, low, high, total, squares, whole = sums
    return row_numbers_note(str(name), n, int(count), float(low), float(high),
                            (float(total), float(squares)), bool(whole))  # fmt: skip


def encode_partition(X: Any, encoder: Any) -> Any:
    """A partition's ``Design`` (on its worker) through the encoder of the whole data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the levels are the whole data's: none is unseen
        return encoder.transform(X)


def aligned(v: Any, n_rows: int, lengths: np.ndarray, name: str = "y") -> list[Any]:
    """``v`` (a dask collection, or in memory) as one delayed piece per partition
    of ``lengths`` rows. A dask array is rechunked to them; a dask Series is taken
    to be partitioned as X."""
    if _is_dask_collection(v):
        if hasattr(v, "rechunk") and v.ndim == 1:
            v = v.rechunk((tuple(int(k) for k in lengths),))
        return list(v.to_delayed())
    arr = np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v)
    if arr.shape[:1] != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},), got {arr.shape}")
    return list(np.split(arr, np.cumsum(lengths)[:-1]))


def _partition_task(kind, X, y, sw, encoder, drop, arrow, shift, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """The statistics of one partition: ``"gram"``, ``"arrow"`` or ``"qr"``."""
    design = encode_partition(X, encoder)
    yv = target_values(y, design.dense.shape[0])
    swv = None if sw is None else np.ascontiguousarray(np.asarray(sw, dtype=np.float64))
    threads = _task_threads(n_threads)
    if kind == "qr":
        layout = MixedDesign(
            design.dense.shape[1], design.n_levels, drop, design.dense, design.codes
        )
        return {"factor": layout.factor(yv, swv, shift, n_shards, threads)}
    args = (design.dense, design.codes, design.n_levels, drop)
    if kind == "gram":
        st = _core.mixed_gram_stats(*args, yv, swv, shift, n_shards, threads)
        return {"gram": np.asarray(st["gram"])}
    st = _core.mixed_arrow_stats(*args, arrow, yv, swv, shift, n_shards, threads)
    return {"gram": np.asarray(st["gram"]), "cross": np.asarray(st["cross"])}


def _encode_task(X, encoder, drop):  # type: ignore[no-untyped-def]
    """One partition coded for the iterative solvers' passes (kept on its worker)."""
    design = encode_partition(X, encoder)
    return MixedChunk(design.dense, design.codes, design.n_levels, drop)


def _target_task(y, n_rows):  # type: ignore[no-untyped-def]
    return target_values(y, n_rows)


def _weights_task(sw):  # type: ignore[no-untyped-def]
    return np.ascontiguousarray(np.asarray(sw, dtype=np.float64))


def first_rows(lengths: Any) -> int:
    """The first partition that has rows: the one the statistics' shift is read from."""
    nonempty = np.flatnonzero(np.asarray(lengths))
    if not len(nonempty):
        raise ValueError("the dataframe has no rows")
    return int(nonempty[0])


def _first_row_task(X, y, encoder):  # type: ignore[no-untyped-def]
    """The shift every partition's statistics are taken about: the first row."""
    design = encoder.transform(X.iloc[:1])
    return design.dense[0], float(target_values(y.iloc[:1] if hasattr(y, "iloc") else y[:1], 1)[0])


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    if "factor" in parts[0]:
        factor = parts[0]["factor"]
        for p in parts[1:]:
            factor = _core.tsqr_merge(factor, p["factor"])
        return {"factor": dict(factor)}
    return _add(*parts)  # type: ignore[no-any-return]


class DaskMixedBackend(MixedBackend):
    """:class:`MixedBackend` whose passes are map-reduces over a dask DataFrame's
    partitions (newton, qr, lbfgs and gd; not sgd)."""

    solvers: tuple[str, ...] = ("newton", "qr", "lbfgs", "gd")

    def __init__(self, est: Any, client: Any, X: Any, y: Any, sample_weight: Any) -> None:
        import dask

        meta = X._meta
        listed = [] if isinstance(est.categorical_features, str) else list(est.categorical_features)
        encoder, layout, lengths = learn_encoder(client, X, listed)
        self.round_trips = 1
        est.encoder_ = encoder
        self.encoder = encoder
        drop = drop_first_levels(len(layout.n_levels), bool(est.fit_intercept), float(est.alpha))
        self.design = MixedDesign(layout.dense.shape[1], layout.n_levels, drop)
        self.client = client
        self.n_samples = int(np.sum(lengths))
        self.lengths = lengths
        self._data: _Data | None = None
        self._init_layout(est)
        self.xb = list(X.to_delayed())
        self.yb = aligned(y, self.n_samples, lengths)
        self.sb = (
            [None] * len(self.xb) if sample_weight is None
            else aligned(sample_weight, self.n_samples, lengths, "sample_weight")
        )  # fmt: skip
        if sample_weight is not None and not _is_dask_collection(sample_weight):
            check_weights(sample_weight, self.n_samples, np.dtype(np.float64))
        self._delayed = dask.delayed
        self._shift: np.ndarray | None = None
        est.n_features_in_ = len(encoder.input_names)
        if all(isinstance(c, str) for c in meta.columns):
            est.feature_names_in_ = np.asarray(encoder.input_names, dtype=object)

    # -- passes ------------------------------------------------------------------

    def _shift_vector(self) -> np.ndarray:
        if self._shift is None:
            k = first_rows(self.lengths)  # an empty first partition has no row to shift by
            task = self._delayed(_first_row_task, pure=True)(self.xb[k], self.yb[k], self.encoder)
            x0, y0 = self.client.compute(task, sync=True)
            self.round_trips += 1
            cats = np.zeros(self.design.n_columns - self.design.p)
            self._shift = np.r_[x0, cats, y0]
        return self._shift

    def _map_reduce(self, kind: str, shift: np.ndarray | None) -> dict[str, Any]:
        call = self._delayed(_partition_task, pure=True)
        join = self._delayed(_merge, pure=True)
        nodes = [
            call(
                kind,
                x,
                y,
                s,
                self.encoder,
                self.arrow_drop_first() if kind == "arrow" else self.design.drop_first,
                self.arrow,
                shift,
                self.n_shards,
                None,
            )  # fmt: skip
            for x, y, s in zip(self.xb, self.yb, self.sb, strict=True)
        ]
        while len(nodes) > TREE_FAN_IN:
            nodes = [join(*nodes[i : i + TREE_FAN_IN]) for i in range(0, len(nodes), TREE_FAN_IN)]
        parts = self.client.compute(nodes, sync=True)
        self.round_trips += 1
        return _merge(*parts)

    def _pass(self, kind: str) -> dict[str, Any]:
        shift = self._shift_vector()
        if kind == "arrow":
            lo, hi = self.design.offsets[self.arrow], self.design.offsets[self.arrow + 1]
            shift = np.r_[shift[:lo], shift[hi:]]
        total = self._map_reduce(kind, shift)
        total["shift"] = shift
        if not all(
            np.isfinite(np.asarray(total[k])).all() for k in ("gram", "cross") if k in total
        ):
            self._raise_nonfinite(None)
        return total

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        self._check_qr_width()
        shift = None if options["fit_intercept"] else np.zeros(self.n_features + 1)
        if shift is None:
            shift = self._shift_vector()
        factor = self._map_reduce("qr", shift)["factor"]
        factor["n_nonzero"] = self._nonzero()
        return factor  # type: ignore[no-any-return]

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> Any:
        if solver not in self.solvers:
            raise NotImplementedError(
                f"solver={solver!r} is not available on Dask for categorical columns "
                f"yet: use one of {self.solvers}"
            )
        if solver in ("lbfgs", "gd"):
            return self._iterative(solver, options)
        return super().solve(solver, options, want_factor)

    def _cluster_data(self) -> _Data:
        """The partitions coded once (``MixedChunk``), with y and the weights as
        float64, persisted on the workers for every pass of the iterative solvers."""
        if self._data is None:
            code, target = (
                self._delayed(_encode_task, pure=True),
                self._delayed(_target_task, pure=True),
            )
            xb = self.client.persist(
                [code(x, self.encoder, self.design.drop_first) for x in self.xb]
            )
            yb = self.client.persist(
                [target(y, int(n)) for y, n in zip(self.yb, self.lengths, strict=True)]
            )
            sb = self.sb
            if sb[0] is not None:
                sb = self.client.persist([self._delayed(_weights_task, pure=True)(s) for s in sb])
            self._data = _Data.from_blocks(xb, yb, sb, self.lengths, self.n_features)
        return self._data

    def _iterative(self, solver: str, options: dict[str, Any]) -> SolveResult:
        """lbfgs / gd: the local fit's compiled loop (``_core.minimize``) over the
        cluster pass of the coded partitions; the level columns and lbfgs' row
        sample are treated as the local pass treats them (MixedPass)."""
        d = self.design
        data = self._cluster_data()
        opts = {k: v for k, v in options.items() if k != "precision"}
        opts.update(n_threads=self.n_threads, n_shards=self.n_shards)
        sample = _core.mixed_takes_row_sample(d.p, d.n_levels, d.drop_first, self.fit_intercept)
        cluster_pass = _ClusterPass(data, self.client, self.n_shards, None,
                                    indicators_from=d.p, takes_row_sample=bool(sample))  # fmt: skip
        try:
            out = _core.minimize(cluster_pass, solver, _core.FitOptions(**opts))
        except NonFiniteError as exc:
            self.round_trips += cluster_pass.round_trips
            data.raise_for_nonfinite(self.client, exc)
        self.round_trips += cluster_pass.round_trips
        return SolveResult.from_core(out)

    def auto_solver(self) -> tuple[str, str]:
        solver, why = super().auto_solver()
        return ("newton", why) if solver not in self.solvers else (solver, why)

    def where(self) -> str:
        return f"{super().where()} on {len(self.xb)} Dask partitions"

    def attributes(self) -> dict[str, Any]:
        return {"n_chunks_": len(self.xb), "round_trips_": self.round_trips}

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        report = super().report(clock, n_passes, flops)
        report.worker_compute_s = getattr(self, "worker_compute_s", None)
        return report

    def _nonzero(self) -> int:
        return self.n_samples  # weights stay on the workers: rows with weight 0 count

    def _check_finite(self) -> None:
        """The partitions' kernels refuse non-finite values themselves."""

    def _raise_nonfinite(self, original: BaseException | None) -> None:
        if original is not None:
            raise original
        raise NonFiniteError(
            "X or y holds NaN, infinity or values too large for the sums of squares "
            "(a Dask partition's statistics are not finite); clean or rescale the data"
        )
