"""The data side of fastcost.dask: connecting to a cluster, the chunks of X, y
and the weights, and the data pass through which the compiled lbfgs and gd
loops read them (one round trip per request)."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

from . import _core
from ._dask_tasks import (
    BLOCK_ROWS,
    _add,
    _block,
    _first_row_task,
    _join_rows,
    _merge_moments,
    _merge_runs,
    _moments_nodes_task,
    _moments_task,
    _nonfinite_task,
    _probe_nodes_task,
    _probe_task,
    _rows_center_task,
    _rows_gram_task,
    _rows_pieces_task,
    _rows_task,
    _sample_grams_task,
    _totals_nodes_task,
    _totals_task,
)
from ._sparse import as_csr, is_sparse
from ._threads import available_cores
from ._validation import FLOAT_DTYPES, check_weights
from .exceptions import NonFiniteError

DASK_HINT = "pip install 'fastcost[dask]'"

#: Partial results merged per reduction task. A fixed fan-in makes the tree,
#: and hence the rounding of the sums, a function of the chunk count only (the
#: iterative solvers' sums of dense chunks are the rows' block tree's: their
#: bits depend on neither, see ``_Data.tree_plan``).
TREE_FAN_IN = 8

#: Bytes of straddling blocks' rows the client may hold (``_Data.sums_in_tree``):
#: this much, or 2 % of X, but never more than STRADDLING_MAX_BYTES (their sums
#: take the client ~7 ms per 40 MB a pass).
STRADDLING_BYTES = 16 << 20
STRADDLING_MAX_BYTES = 256 << 20


def _import_dask() -> tuple[Any, Any, Any]:
    try:
        import dask
        import dask.array as da
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"fastcost.dask needs dask and distributed; install them with {DASK_HINT}"
        ) from exc
    return dask, da, distributed


# ----------------------------------------------------------------------- cluster


@contextmanager
def connect(
    client: Any = None, scheduler: str | None = None, timeout: float = 10.0
) -> Iterator[Any]:
    """The Dask client a fit runs on, closed afterwards if fastcost opened it.

    ``client`` is used as given; ``scheduler`` ("tcp://host:port") is connected
    to; with neither, the current default client (if any) is used, else a
    :class:`distributed.LocalCluster` is started for the fit: worker processes,
    one per core with one thread each, on the loopback interface.
    """
    _, _, distributed = _import_dask()
    if client is not None:
        if scheduler is not None:
            raise ValueError("pass either client or scheduler, not both")
        yield client
        return
    if scheduler is not None:
        try:
            own = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s: {exc}"
            ) from exc
        try:
            yield own
        finally:
            own.close()
        return
    try:
        current = distributed.default_client()
    except ValueError:  # no client registered in this process
        current = None
    if current is not None and current.status == "running":
        yield current
        return
    with (
        distributed.LocalCluster(
            n_workers=available_cores(),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: a fixed one may be taken
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as own,
    ):
        yield own


# ------------------------------------------------------------------ worker tasks
# In fastcost._dask_tasks: a worker unpickling a task imports that module, which
# imports numpy and the compiled module only, not this module's scikit-learn chain.


# ---------------------------------------------------------------------- passes


class _Data:
    """X, y and the weights as aligned lists of per-chunk dask objects. ``sparse``:
    X's chunks are scipy.sparse (its meta says so)."""

    def __init__(self, X: Any, y: Any, sw: Any) -> None:
        self.X, self.y, self.sw = X, y, sw
        self.n, self.d = (int(s) for s in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.sparse = is_sparse(getattr(X, "_meta", None))
        self.offsets = np.r_[0, np.cumsum(X.chunks[0])].astype(np.int64)
        self._plan: tuple[list[tuple[int, int, int] | None], list[int]] | None = None
        self._blocks()

    @classmethod
    def from_blocks(cls, xb: list[Any], yb: list[Any], sb: list[Any], lengths: Any,
                    d: int) -> _Data:  # fmt: skip
        """Chunks given as aligned lists of (persisted) delayed pieces of ``lengths``
        rows: a mixed design's ``MixedChunk`` per partition, with ``d`` expanded
        columns (float64). ``persist`` does not apply to them."""
        self = cls.__new__(cls)
        self.X = self.y = self.sw = None
        self.n, self.d, self.dtype = int(np.sum(lengths)), int(d), np.dtype(np.float64)
        self.sparse = False
        self.offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        self.xb, self.yb, self.sb = list(xb), list(yb), list(sb)
        self._plan = None
        return self

    def _blocks(self) -> None:
        self.xb = list(self.X.to_delayed().ravel())
        self.yb = list(self.y.to_delayed().ravel())
        self.sb = [None] * len(self.xb) if self.sw is None else list(self.sw.to_delayed().ravel())

    def persist(self, client: Any) -> None:
        """Keep the chunks in the workers' memory for the passes to come."""
        parts = [self.X, self.y] + ([] if self.sw is None else [self.sw])
        parts = client.persist(parts)
        self.X, self.y = parts[0], parts[1]
        self.sw = parts[2] if self.sw is not None else None
        self._blocks()
        self._plan = None

    def top(self, task: Callable, combine: Callable, *args: Any,
            per_chunk: list[Any] | None = None) -> list[Any]:  # fmt: skip
        """The fixed tree of delayed ``combine`` over ``task(chunk, *args)`` for all
        chunks, up to its root's (at most TREE_FAN_IN) children. ``per_chunk``: one
        more argument for each chunk, passed before ``args`` (e.g. its rows' labels)."""
        import dask

        call = dask.delayed(task, pure=True)
        join = dask.delayed(combine, pure=True)
        extra = [()] * len(self.xb) if per_chunk is None else [(a,) for a in per_chunk]
        nodes = [
            call(x, y, s, *e, *args)
            for x, y, s, e in zip(self.xb, self.yb, self.sb, extra, strict=True)
        ]
        while len(nodes) > TREE_FAN_IN:
            nodes = [join(*nodes[i : i + TREE_FAN_IN]) for i in range(0, len(nodes), TREE_FAN_IN)]
        return nodes

    def tree(self, task: Callable, combine: Callable, *args: Any,
             per_chunk: list[Any] | None = None) -> Any:  # fmt: skip
        """The delayed ``combine`` over ``task(chunk, *args)`` for all chunks, as a fixed tree."""
        import dask

        nodes = self.top(task, combine, *args, per_chunk=per_chunk)
        return nodes[0] if len(nodes) == 1 else dask.delayed(combine, pure=True)(*nodes)

    def map_reduce(self, client: Any, task: Callable, combine: Callable, *args: Any,
                   per_chunk: list[Any] | None = None) -> Any:  # fmt: skip
        """``tree(...)`` computed, its root merged here: one round trip, and the same
        sums as on a worker without one more task and transfer there."""
        parts = client.compute(self.top(task, combine, *args, per_chunk=per_chunk), sync=True)
        return parts[0] if len(parts) == 1 else combine(*parts)

    def tree_plan(self) -> tuple[list[tuple[int, int, int] | None], list[int]]:
        """The blocks of the rows' sum tree (``BLOCK_ROWS`` rows, block_tree.hpp):
        per chunk, those inside it as (first block, local begin, local stop) or
        None; and the blocks that straddle chunks, which the client sums."""
        if self._plan is None:
            n, nb = self.n, BLOCK_ROWS
            inner: list[tuple[int, int, int] | None] = []
            for k in range(len(self.offsets) - 1):
                a, b = int(self.offsets[k]), int(self.offsets[k + 1])
                first = -(-a // nb)
                end = b // nb if b < n else -(-n // nb)
                inner.append((first, first * nb - a, min(end * nb, n) - a) if end > first else None)
            cuts = {int(o) // nb for o in self.offsets[1:-1] if 0 < o < n and o % nb}
            self._plan = (inner, sorted(cuts))
        return self._plan

    def sums_in_tree(self) -> bool:
        """Whether the iterative solvers' sums go through the rows' block tree:
        dense chunks whose straddling blocks' rows, held by the client (and
        summed there on every pass), stay within STRADDLING_BYTES or 2 % of X
        (chunks of a few thousand rows or more) and never above
        STRADDLING_MAX_BYTES. Otherwise (sparse chunks, tables, many small
        chunks) each chunk's sums are added: equal to rounding, not bit for bit."""
        if self.sparse or self.X is None:
            return False
        row_bytes = self.d * self.dtype.itemsize
        straddling = len(self.tree_plan()[1]) * BLOCK_ROWS * row_bytes
        budget = min(max(STRADDLING_BYTES, 0.02 * self.n * row_bytes), STRADDLING_MAX_BYTES)
        return straddling <= budget

    def shift_task(self) -> Any:
        """The delayed [x_0, y_0] (``_first_row_task``) of the first row of the
        first chunk that has rows: the shift common to all chunks."""
        import dask

        k = int(np.argmax(np.diff(self.offsets) > 0))
        return dask.delayed(_first_row_task, pure=True)(self.xb[k], self.yb[k])

    def map_reduce_shifted(self, client: Any, task: Callable, combine: Callable, *args: Any,
                           per_chunk: list[Any] | None = None) -> tuple[Any, np.ndarray]:  # fmt: skip
        """``map_reduce`` of ``task(chunk, shift, *args)`` (``task(chunk, piece, shift,
        *args)`` with ``per_chunk``, as ``top``) about the first row, which is a task
        of the same graph (not a compute of its own): one round trip.
        Returns (the reduction, the shift)."""
        shift = self.shift_task()
        try:
            nodes = self.top(task, combine, shift, *args, per_chunk=per_chunk)
            *parts, shift = client.compute([*nodes, shift], sync=True)
            total = parts[0] if len(parts) == 1 else combine(*parts)
        except NonFiniteError as exc:  # tsqr_stats refuses a non-finite shift
            self.raise_for_nonfinite(client, exc)
        if not np.isfinite(shift).all():
            self.raise_for_nonfinite(client)
        return total, shift

    def pieces(self, begin: int, end: int) -> list[tuple[int, int, int]]:
        """(chunk, local begin, local end) of the rows [begin, end), in order."""
        k = int(np.searchsorted(self.offsets, begin, side="right")) - 1
        out = []
        while begin < end:
            stop = min(end, int(self.offsets[k + 1]))
            if stop > begin:
                out.append((k, begin - int(self.offsets[k]), stop - int(self.offsets[k])))
            begin, k = max(begin, stop), k + 1
        return out

    def raise_for_nonfinite(self, client: Any, original: BaseException | None = None) -> None:
        """ValueError naming the first NaN/inf cell (a scan, only on the error path)."""
        import dask

        tasks = [
            dask.delayed(_nonfinite_task, pure=True)(x, y, s)
            for x, y, s in zip(self.xb, self.yb, self.sb, strict=True)
        ]
        for k, bad in enumerate(client.compute(tasks, sync=True)):
            if bad is not None:
                what, i, j = bad
                row = int(self.offsets[k]) + i
                where = f"row {row}, column {j}" if what == "X" else f"row {row}"
                raise NonFiniteError(
                    f"{what} contains NaN or infinity (first at {where}); "
                    "clean it first, e.g. with fastcost.preprocessing"
                ) from original
        raise NonFiniteError(
            f"numerical overflow: the values of X ({self.dtype}) are too large for the sums "
            "of squares; rescale X or use float64"
        ) from original


def _check_weights_summary(checks: np.ndarray) -> int:
    n_bad, n_neg, n_pos = (int(v) for v in checks)
    if n_bad:
        raise ValueError("sample_weight contains NaN or infinity")
    if n_neg:
        raise ValueError("sample_weight contains negative values")
    if n_pos == 0:
        raise ValueError("sample_weight sums to zero: nothing to fit")
    return n_pos


# ------------------------------------------------------------ iterative solvers


class _ClusterPass:
    """The data pass of the compiled lbfgs and gd loops on a cluster.

    ``_core.minimize`` runs the same loops as a local fit and calls back here
    (``PyPass`` in bind_solvers.cpp): ``start`` answers everything the solver
    needs before it iterates in one round trip, ``probes`` is one map-reduce of
    ``_core.probe_sums`` over the chunks (one read of X; ``_core.mixed_probe_sums``
    for a mixed design's chunks). A mixed design passes ``indicators_from`` (its
    first level column: standardize and noise_var leave the level columns alone)
    and ``takes_row_sample`` (the local pass's rule), as MixedPass does; sparse
    chunks decline the row sample as SparsePass does (the tasks dispatch on the
    chunk's type: ``_core.sparse_probe_sums``, centering rows summed sparse).
    """

    def __init__(self, data: _Data, client: Any, n_shards: int, threads: int | None,
                 indicators_from: int = -1, takes_row_sample: bool = True) -> None:  # fmt: skip
        self.data, self.client = data, client
        self.n_shards, self.threads = n_shards, threads
        self.indicators_from, self.takes_row_sample = indicators_from, takes_row_sample
        self.n_rows, self.n_features, self.dtype = data.n, data.d, data.dtype
        self.round_trips = 0
        self.straddling: list[tuple[Any, Any, Any]] = []  # rows of the blocks across chunks
        self.in_tree = data.sums_in_tree()

    def start(self, moments: bool, center_rows: list[int] | None,
              sample: list[tuple[int, int]]) -> dict[str, Any]:  # fmt: skip
        import dask

        # Tasks per chunk on data.xb / yb / sb: slicing the dask array on the client
        # for every sample block or centering row would build and optimize one
        # graph per slice (62 blocks: ~0.35 s at 400,000 x 50, more than the round trip).
        # One flat list computed: a dict would be packed into one more task on a worker.
        data = self.data
        rows = dask.delayed(_rows_task, pure=True)
        totals_jobs = self._totals_jobs(moments)
        jobs: list[Any] = list(totals_jobs)
        straddling, straddle_at = self._straddling_jobs()
        jobs += straddling
        if center_rows is not None:  # the rows from each chunk holding some, then their mean
            idx = np.asarray(center_rows, dtype=np.int64)
            chunk = np.searchsorted(data.offsets, idx, side="right") - 1
            parts = [
                rows(data.xb[k], data.yb[k], data.sb[k], idx[chunk == k] - data.offsets[k])
                for k in np.unique(chunk)
            ]
            jobs.append(dask.delayed(_rows_center_task, pure=True)(*parts))
        where: list[tuple[int, int]] = []  # sample block -> (chunk or -1, index in its result)
        inside: dict[int, list[tuple[int, int]]] = {}
        edges: list[Any] = []
        if sample:
            shift = data.shift_task()
            for i0, i1 in sample:
                pieces = data.pieces(i0, i1)
                if len(pieces) == 1:  # inside one chunk: that chunk's task computes its Gram
                    k, a, b = pieces[0]
                    where.append((k, len(inside.setdefault(k, []))))
                    inside[k].append((a, b))
                else:  # across chunks: its rows gathered from them, then its Gram
                    where.append((-1, len(edges)))
                    parts = [rows(data.xb[k], data.yb[k], data.sb[k], slice(a, b))
                             for k, a, b in pieces]  # fmt: skip
                    edges.append(dask.delayed(_rows_gram_task, pure=True)(shift, *parts))
            task = dask.delayed(_sample_grams_task, pure=True)
            jobs.append(shift)
            jobs += [task(data.xb[k], data.yb[k], data.sb[k], b, shift) for k, b in inside.items()]
            jobs += edges
        got = iter(self.client.compute(jobs, sync=True))
        self.round_trips += 1
        totals = next(got)
        shift_row = next(got) if len(totals_jobs) > 1 else None
        _check_weights_summary(totals["checks"])
        pieces = [next(got) for _ in straddling]
        self.straddling = [
            _block(*_join_rows([pieces[t][i] for t, i in block])) for block in straddle_at
        ]
        out = self._totals(totals, shift_row)
        out["center"] = None if center_rows is None else next(got)
        if sample:
            shift_row = next(got)
            by_chunk = {k: next(got) for k in inside}
            edge_grams = list(got)
            grams = [edge_grams[j] if k < 0 else by_chunk[k][j] for k, j in where]
            out["sample"] = (grams, shift_row)
        return out

    def _straddling_jobs(self) -> tuple[list[Any], list[list[tuple[int, int]]]]:
        """The rows of the blocks that straddle chunks: one delayed task per chunk
        holding some (its pieces, ``_rows_pieces_task``), and per block where
        its pieces are (task, index in its result)."""
        import dask

        if not self.in_tree:
            return [], []
        data, task = self.data, dask.delayed(_rows_pieces_task, pure=True)
        n, nb = data.n, BLOCK_ROWS
        by_chunk: dict[int, list[slice]] = {}
        where: list[list[tuple[int, int]]] = []
        for j in data.tree_plan()[1]:
            where.append([])
            for k, a, b in data.pieces(j * nb, min((j + 1) * nb, n)):
                where[-1].append((k, len(by_chunk.setdefault(k, []))))
                by_chunk[k].append(slice(a, b))
        order = {k: i for i, k in enumerate(by_chunk)}
        jobs = [task(data.xb[k], data.yb[k], data.sb[k], cuts) for k, cuts in by_chunk.items()]
        return jobs, [[(order[k], i) for k, i in block] for block in where]

    def _all_runs(self, runs: list[Any], sums: Callable[[Any, Any, Any, int], Any],
                  kind: str = "sum") -> Any:  # fmt: skip
        """The chunks' runs with the straddling blocks (``sums(X, y, sw, block)``
        of their rows) between them: the block sums of all rows."""
        blocks = self.data.tree_plan()[1]
        extra = [sums(*rows, j) for j, rows in zip(blocks, self.straddling, strict=True)]
        every = sorted(runs + extra, key=lambda r: int(r["starts"][0]))
        return _core.merge_block_nodes(every, kind)

    def _totals_jobs(self, moments: bool) -> list[Any]:
        """The start's totals (and column moments) job; with the moments of dense
        chunks, the delayed first row they are taken about after it."""
        data, args = self.data, (self.n_shards, self.threads)
        inner = data.tree_plan()[0]
        if not self.in_tree:  # sparse or mixed chunks, or too many straddling rows
            return [
                data.tree(
                    _moments_task if moments else _totals_task,
                    _merge_moments if moments else _add,
                    *args,
                )
            ]
        if not moments:
            return [data.tree(_totals_nodes_task, _merge_runs, *args, per_chunk=inner)]
        shift = data.shift_task()
        return [data.tree(_moments_nodes_task, _merge_runs, shift, *args, per_chunk=inner), shift]

    def _totals(self, totals: dict[str, Any], shift_row: np.ndarray | None) -> dict[str, Any]:
        """The start's sums and moments from the chunks' and the straddling blocks'."""
        out: dict[str, Any] = {"indicators_from": self.indicators_from, "moments": None}
        if "sums" in totals:  # _add's or _merge_moments'
            sums, out["moments"] = totals["sums"], totals.get("moments")
        else:
            sums = _core.block_nodes_total(
                self._all_runs(totals["runs"], lambda X, y, sw, j: _core.totals_nodes(y, sw, j))
            )
        if shift_row is not None:
            c = shift_row[: self.data.d]
            nodes = self._all_runs(
                totals["moment_runs"],
                lambda X, y, sw, j: _core.moments_nodes(X, sw, c, j, 1, 1),
                kind="moments",
            )
            m = _core.moments_from_nodes(nodes, c)
            out["moments"] = (m["sum_weights"], m["mean"], m["m2"], m["finite"])
        out["sum_w"], out["sum_wy"] = float(sums[0]), float(sums[1])
        return out

    def probes(self, probes: list[tuple[np.ndarray | None, float, bool]]) -> dict[str, Any]:
        self.round_trips += 1
        data = self.data
        if not self.in_tree:  # the chunks' sums added
            return data.map_reduce(  # type: ignore[no-any-return]
                self.client, _probe_task, _add, probes, self.n_shards, self.threads
            )
        got = data.map_reduce(self.client, _probe_nodes_task, _merge_runs, probes,
                              self.n_shards, self.threads, per_chunk=data.tree_plan()[0])  # fmt: skip

        def sums(X: Any, y: Any, sw: Any, block: int) -> Any:
            return _core.probe_nodes(X, y, probes, sw, block, 1, 1)

        nodes = self._all_runs(got["runs"], sums)
        return _core.probe_sums_from_nodes(nodes, probes, data.d)  # type: ignore[no-any-return]


# --------------------------------------------------------------------- inputs


def _is_dask_collection(obj: Any) -> bool:
    return hasattr(obj, "__dask_graph__") and obj.__dask_graph__() is not None


def _to_dask_array(obj: Any, name: str, row_chunks: Any = None) -> tuple[Any, list[str] | None]:
    """A dask array (and column names, for data frames) from dask/pandas/numpy data."""
    _, da, _ = _import_dask()
    names = None
    columns = getattr(obj, "columns", None)
    if columns is not None:
        names = [str(c) for c in columns] if all(isinstance(c, str) for c in columns) else None
    if _is_dask_collection(obj):
        if not isinstance(obj, da.Array):  # dask DataFrame / Series: partitions -> row chunks
            obj = obj.to_dask_array(lengths=True)
        elif any(math.isnan(c) for c in obj.chunks[0]):
            obj = obj.compute_chunk_sizes()
        return obj, names
    arr = np.asarray(obj.to_numpy() if hasattr(obj, "to_numpy") else obj)
    if row_chunks is not None:
        return da.from_array(arr, chunks=(row_chunks,) + ((-1,) if arr.ndim == 2 else ())), names
    return da.from_array(arr, chunks=("auto",) + ((-1,) if arr.ndim == 2 else ())), names


def _float_dtype(dtype: np.dtype, name: str) -> np.dtype:
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    if dtype.kind == "c":  # scikit-learn's wording
        raise ValueError(f"Complex data not supported: {name} has dtype {dtype}")
    raise ValueError(f"{name} must hold real numbers, got dtype {dtype}")


def _prepare_local(
    est: Any, X: Any, y: Any, sample_weight: Any, n_chunks: int
) -> tuple[_Data, list[str] | None]:
    """numpy/pandas/list/scipy.sparse input: scikit-learn's checks (and messages),
    then chunks of rows (of a canonical CSR copy for sparse X: ``_sparse.as_csr``)."""
    _, da, _ = _import_dask()
    X, y = validate_data(
        est, X, y, reset=True, accept_sparse=("csr", "csc"), dtype=list(FLOAT_DTYPES),
        order=None, ensure_all_finite=False, y_numeric=True,
    )  # fmt: skip
    n = X.shape[0]
    y = np.ascontiguousarray(y, dtype=X.dtype)
    sw = check_weights(sample_weight, n, X.dtype)
    sparse = is_sparse(X)
    if sparse:
        X = as_csr(X)  # its row slices are slices of its arrays
    nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes if sparse else X.nbytes
    # At least one chunk per worker, and none above ~128 MiB.
    n_chunks = max(n_chunks, -(-nbytes // 2**27))
    rows = max(1, -(-n // n_chunks))
    data = _Data(
        da.from_array(X, chunks=(rows, -1), asarray=not sparse),
        da.from_array(y, chunks=(rows,)),
        None if sw is None else da.from_array(sw, chunks=(rows,)),
    )
    names = getattr(est, "feature_names_in_", None)
    return data, None if names is None else list(names)


def _prepare(X: Any, y: Any, sample_weight: Any,
             multi_output: bool = False) -> tuple[_Data, list[str] | None]:  # fmt: skip
    """Dask input: aligned dask arrays of one column block, in a float dtype.
    ``multi_output``: y may be 2-D (n, k); it is then always (n, k)."""
    Xd, names = _to_dask_array(X, "X")
    if Xd.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {Xd.ndim} dimension(s)")
    n, d = (int(s) for s in Xd.shape)
    if n < 1 or d < 1:
        raise ValueError(f"X has shape {Xd.shape}: need at least one sample and one feature")
    Xd = Xd.astype(_float_dtype(Xd.dtype, "X"))
    if Xd.numblocks[1] > 1:  # the kernels need whole rows: one column block
        Xd = Xd.rechunk({1: -1})
    rows = Xd.chunks[0]
    yd, _ = _to_dask_array(y, "y", rows)
    if multi_output:
        yd = _targets(yd, n, rows)
    elif yd.ndim == 2 and yd.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it was raveled",
            DataConversionWarning,
            stacklevel=3,
        )
        yd = yd[:, 0]
    if yd.ndim == 2 and not multi_output:
        raise ValueError(
            f"fastcost.dask.LinearRegression fits one target (y of shape ({n},)), got y of "
            f"shape {yd.shape}: fit one model per column of y (fastcost.LinearRegressionCV on "
            "dask arrays takes several targets)"
        )
    if (yd.ndim != 1 and not multi_output) or int(yd.shape[0]) != n:
        raise ValueError(f"y must have shape ({n},), got {yd.shape}")
    _float_dtype(yd.dtype, "y")
    yd = yd.astype(Xd.dtype).rechunk({0: rows} | ({1: -1} if yd.ndim == 2 else {}))
    sw = None
    if sample_weight is not None:
        if isinstance(sample_weight, numbers.Number):
            sample_weight = np.full(n, sample_weight, dtype=np.float64)
        sw, _ = _to_dask_array(sample_weight, "sample_weight", rows)
        if sw.ndim != 1 or int(sw.shape[0]) != n:
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
        _float_dtype(sw.dtype, "sample_weight")
        sw = sw.astype(Xd.dtype).rechunk({0: rows})
    return _Data(Xd, yd, sw), names


def _targets(yd: Any, n: int, rows: Any) -> Any:
    """A multi-output y as (n, k): a 1-D y as one column."""
    if yd.ndim == 1:
        return yd[:, None]
    if yd.ndim != 2 or int(yd.shape[0]) != n:
        raise ValueError(f"y must have shape ({n},) or ({n}, n_targets), got {yd.shape}")
    return yd
