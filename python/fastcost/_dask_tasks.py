"""The functions ``fastcost.dask`` runs on the workers, and their merges.

A worker that unpickles a task imports the module that defines it. These live
apart from ``fastcost.dask`` so that a fresh worker imports numpy and the
compiled module only: not ``fastcost.dask``'s chain (scikit-learn, the
estimator, the fit pipeline), which costs about a second per worker process.
Keep it that way: import nothing here that imports scikit-learn
(``python -c "import sys, fastcost._dask_tasks; print('sklearn' in sys.modules)"``
prints False; ``tests/test_imports.py`` checks it).

A chunk of X may be a scipy.sparse matrix or array: the tasks read it as
canonical CSR (``_sparse.as_csr``) with the sparse kernels
(``_core.sparse_gram_stats`` through ``batch_statistics``,
``_core.sparse_probe_sums``), never densified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core
from ._sparse import as_csr, csr_args, find_nonfinite, is_sparse
from ._sufficient import as_float64_rows, batch_statistics, merge_all
from ._threads import resolve_n_threads
from ._validation import kernel_layout


def _task_threads(n_threads: int | None) -> int:
    """Threads of one task: as asked, or the worker's cores shared among its task slots."""
    if n_threads is not None:
        return int(n_threads)
    slots = 1
    try:
        from distributed import get_worker

        slots = max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        pass
    return max(1, resolve_n_threads(None) // slots)


class MixedChunk:
    """One partition of a mixed design (fastcost._categorical) as the tasks of an
    iterative fit read it: the dense block (n, p) float64, the codes (K, n) int32,
    and the layout (levels, and which lose their first level's column). The
    expanded design has ``width`` columns; it is never formed."""

    def __init__(self, dense: np.ndarray, codes: np.ndarray, n_levels: np.ndarray,
                 drop: np.ndarray) -> None:  # fmt: skip
        self.dense = np.asfortranarray(dense, dtype=np.float64)
        self.codes = np.ascontiguousarray(codes, dtype=np.int32)
        self.n_levels = np.asarray(n_levels, dtype=np.int64)
        self.drop = np.asarray(drop, dtype=bool)
        self.width = self.dense.shape[1] + int(np.sum(self.n_levels - self.drop))

    @property
    def shape(self) -> tuple[int, int]:
        return self.dense.shape[0], self.width

    def __getitem__(self, index: Any) -> MixedChunk:
        """The rows ``index`` (a slice or integer array)."""
        return MixedChunk(self.dense[index], self.codes[:, index], self.n_levels, self.drop)

    def args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The leading arguments of the ``_core.mixed_*`` kernels."""
        return self.dense, self.codes, self.n_levels, self.drop

    @staticmethod
    def join(parts: list[MixedChunk]) -> MixedChunk:
        """Consecutive blocks of rows as one."""
        first = parts[0]
        return MixedChunk(np.concatenate([p.dense for p in parts]),
                          np.concatenate([p.codes for p in parts], axis=1),
                          first.n_levels, first.drop)  # fmt: skip

    def center(self, sw: np.ndarray | None) -> np.ndarray:
        """The weighted mean of these (expanded) rows, as MixedPass's center
        (categorical_pass.hpp) takes it: the plain mean when the weights sum to 0."""
        s = np.ones(self.dense.shape[0]) if sw is None else np.asarray(sw, dtype=np.float64)
        ws = s.sum()
        out = [_center_task(self.dense, sw)]
        for codes, levels, drop in zip(self.codes, self.n_levels, self.drop, strict=True):
            counts = np.bincount(codes, weights=s if ws > 0 else None, minlength=int(levels))
            out.append(counts[int(drop) :] / (ws if ws > 0 else len(s)))
        return np.concatenate(out)


def _block(X: Any, y: np.ndarray | None, sw: np.ndarray | None) -> tuple[Any, Any, Any]:
    if isinstance(X, MixedChunk):
        y = None if y is None else np.ascontiguousarray(y, dtype=np.float64)
        sw = None if sw is None else np.ascontiguousarray(sw, dtype=np.float64)
        return X, y, sw
    X = as_csr(X) if is_sparse(X) else kernel_layout(np.asarray(X))
    y = None if y is None else np.ascontiguousarray(y, dtype=X.dtype)
    sw = None if sw is None else np.ascontiguousarray(sw, dtype=X.dtype)
    return X, y, sw


def _weight_checks(sw: np.ndarray | None, n: int) -> np.ndarray:
    """[non-finite weights, negative weights, rows with a positive weight]."""
    if sw is None:
        return np.array([0.0, 0.0, float(n)])
    return np.array(
        [
            float(np.count_nonzero(~np.isfinite(sw))),
            float(np.count_nonzero(sw < 0)),
            float(np.count_nonzero(sw > 0)),
        ]
    )


def _statistics_task(X, y, sw, shift, kind, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """The chunk's ``SufficientStatistics`` (``"gram"`` or ``"qr"``) about the
    common shift, with its weight checks; the client merges them."""
    X, y, sw = _block(X, y, sw)
    stats = batch_statistics(
        kind, X, y, sw, shift, n_shards, _task_threads(n_threads), widen=False, check=False
    )
    return {"stats": stats, "checks": _weight_checks(sw, X.shape[0])}


def _merge_statistics(*parts: dict[str, Any]) -> dict[str, Any]:
    """The chunks' statistics merged left to right (``SufficientStatistics.merge``)."""
    return {
        "stats": merge_all(*(p["stats"] for p in parts)),
        "checks": _add(*(p["checks"] for p in parts)),
    }


def _totals_task(X, y, sw, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """[sum s, sum s y] and the weight checks; reads y and the weights, not X."""
    _, y, sw = _block(X[:0], y, sw)
    yy = np.asarray(y, dtype=np.float64)
    s_w = float(len(yy)) if sw is None else float(np.sum(sw, dtype=np.float64))
    s_y = float(yy.sum()) if sw is None else float(np.dot(np.asarray(sw, dtype=np.float64), yy))
    return {"sums": np.r_[s_w, s_y], "checks": _weight_checks(sw, len(yy))}


def _moments_task(X, y, sw, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """The chunk's weighted column moments (``_core.column_moments``), with the
    totals and weight checks of ``_totals_task``."""
    X, y, sw = _block(X, y, sw)
    threads = _task_threads(n_threads)
    if is_sparse(X):  # the client refuses it first (_sparse.check_iterative_options)
        raise NotImplementedError("column moments (standardize) would densify sparse X")
    if isinstance(X, MixedChunk):
        m = _core.mixed_column_moments(*X.args(), sw, n_shards, threads)
    else:
        m = _core.column_moments(X, sw, n_shards, threads)
    out = _totals_task(X[:0], y, sw, n_shards, n_threads)
    out["moments"] = (float(m["sum_weights"]), np.asarray(m["mean"], dtype=np.float64),
                      np.asarray(m["m2"], dtype=np.float64), bool(m["finite"]))  # fmt: skip
    return out


def _probe_task(X, y, sw, probes, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """The chunk's ``_core.probe_sums`` for the (w or None, b, with_y) probes."""
    X, y, sw = _block(X, y, sw)
    threads = _task_threads(n_threads)
    if isinstance(X, MixedChunk):
        out = _core.mixed_probe_sums(*X.args(), y, probes, sw, n_shards, threads)
    elif is_sparse(X):
        out = _core.sparse_probe_sums(*csr_args(X), y, probes, sw, n_shards, threads)
    else:
        out = _core.probe_sums(X, y, probes, sw, n_shards, threads)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


# ------------------------------------------------- sums in the rows' block tree

#: Rows of a block of the pairwise tree the iterative solvers' sums are added
#: in (block_tree.hpp). A chunk's task sums the blocks that lie inside it; the
#: client sums the few that straddle two chunks from their rows (gathered once),
#: so the sums are the local fit's bits with no data moved between workers.
BLOCK_ROWS = int(_core.TREE_BLOCK_ROWS)


def _probe_nodes_task(X, y, sw, inner, probes, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """``_probe_task``'s sums of a dense chunk as the block sums of its whole
    blocks (``inner``: first block, local begin and stop rows; None: none), in
    a list of runs (``_merge_runs``)."""
    if inner is None:
        return {"runs": []}
    first, a, b = inner
    X, y, sw = _block(*_rows_task(X, y, sw, slice(a, b)))
    return {
        "runs": [_core.probe_nodes(X, y, probes, sw, first, n_shards, _task_threads(n_threads))]
    }


def _totals_nodes_task(X, y, sw, inner, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """``_totals_task``'s [sum s, sum s y] as the block sums of the chunk's whole
    blocks (as ``_probe_nodes_task``), with the weight checks of all its rows."""
    _, y, sw = _block(X[:0], y, sw)
    runs = []
    if inner is not None:
        first, a, b = inner
        runs.append(_core.totals_nodes(y[a:b], None if sw is None else sw[a:b], first))
    return {"runs": runs, "checks": _weight_checks(sw, len(y))}


def _moments_nodes_task(X, y, sw, inner, shift, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """``_moments_task`` of a dense chunk as block sums: ``_totals_nodes_task``'s,
    and the column moments of its whole blocks about ``shift`` (the data's first
    row, as the local pass takes them) in ``moment_runs``."""
    out = _totals_nodes_task(X, y, sw, inner, n_shards, n_threads)
    out["moment_runs"] = []
    if inner is not None:
        first, a, b = inner
        X, _, sw = _block(*_rows_task(X, y, sw, slice(a, b)))
        c = shift[: X.shape[1]]
        out["moment_runs"].append(
            _core.moments_nodes(X, sw, c, first, n_shards, _task_threads(n_threads))
        )
    return out


def _run_end(run: Any) -> int:
    """The block after a run's last node."""
    return int(run["starts"][-1]) + (1 << int(run["levels"][-1]))


def _join_runs(runs: list[Any], kind: str = "sum") -> list[Any]:
    """Runs of block sums in block order, each joined to the one before it when
    they are adjacent (``_core.merge_block_nodes``)."""
    out: list[Any] = []
    for run in runs:
        if out and _run_end(out[-1]) == int(run["starts"][0]):
            out[-1] = _core.merge_block_nodes([out[-1], run], kind)
        else:
            out.append(run)
    return out


def _merge_runs(*parts: dict[str, Any]) -> dict[str, Any]:
    """``_probe_nodes_task`` / ``_totals_nodes_task`` results of consecutive chunks
    as one (the runs between which a straddling block is missing stay apart)."""
    out = {"runs": _join_runs([r for p in parts for r in p["runs"]])}
    if "moment_runs" in parts[0]:
        out["moment_runs"] = _join_runs([r for p in parts for r in p["moment_runs"]], "moments")
    if "checks" in parts[0]:
        out["checks"] = _add(*(p["checks"] for p in parts))
    return out


def _nonfinite_task(X, y, sw):  # type: ignore[no-untyped-def]
    """First (what, row, column) of the chunk that is NaN/inf, or None."""
    X, y, sw = _block(X, y, sw)
    if isinstance(X, MixedChunk):  # the codes are checked by the encoder; its dense block
        X = X.dense
    if is_sparse(X):
        bad = find_nonfinite(X)
    else:
        bad = _core.find_nonfinite(X) if X.shape[1] else None
    if bad is not None:
        return ("X", int(bad[0]), int(bad[1]))
    for name, v in (("y", y), ("sample_weight", sw)):
        if v is not None and not np.isfinite(v).all():
            rows = ~np.isfinite(v).reshape(v.shape[0], -1).all(axis=1)  # a 2-D y's rows
            return (name, int(np.flatnonzero(rows)[0]), -1)
    return None


def _grouped_gram_task(X, y, sw, groups, shift, n_groups, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """The augmented Gram of every group (``_core.grouped_gram_stats``; zeros for
    the groups with no row here) about the common shift, the rows per group, and
    the weight checks: ``LinearRegressionCV``'s one pass, on one chunk."""
    X, y, sw = _block(X, y, sw)
    X, y, sw = as_float64_rows(X, y, sw)  # the held-out residuals' digits
    st = _core.grouped_gram_stats(
        X, y, sw, groups, n_groups, shift, n_shards, _task_threads(n_threads)
    )
    return {
        "gram": np.asarray(st["gram"]),
        "counts": np.asarray(st["counts"], dtype=np.float64),
        "checks": _weight_checks(sw, X.shape[0]),
    }


def _sandwich_task(X, y, sw, codes, model, n_shards, n_threads):  # type: ignore[no-untyped-def]
    """The chunk's robust-covariance sums (``_core.sandwich_sums`` of the fitted
    ``model``): the HC meat (p x p), or for ``kind="cluster"`` the score row of
    every group (zeros for the groups with no row here; ``codes`` are this chunk's
    rows' global codes) and the rows of positive weight per group, which tell the
    client the clusters holding an observation. All of it adds across chunks."""
    X, y, sw = _block(X, y, sw)
    if isinstance(X, MixedChunk) or is_sparse(X):  # the client refuses them first
        raise NotImplementedError("the robust meat reads dense numeric chunks only")
    out = _core.sandwich_sums(
        X, y, sample_weight=sw, codes=codes, n_shards=n_shards,
        n_threads=_task_threads(n_threads), **model,
    )  # fmt: skip
    sums = {"meat": np.asarray(out["meat"]), "scores": np.asarray(out["scores"])}
    if codes is not None:
        observed = codes if sw is None else codes[sw > 0]
        sums["observed"] = np.bincount(observed, minlength=int(model["n_groups"])).astype(float)
    return sums


def _loo_task(X, y, sw, basis, alphas, block_rows):  # type: ignore[no-untyped-def]
    """The weighted squared leave-one-out residuals of one chunk's rows for every
    alpha (``_loo.loo_block_sums``, a block of rows at a time)."""
    X, y, sw = _block(X, y, sw)
    return loo_rows_sums(X, y.reshape(X.shape[0], -1), sw, basis, alphas, block_rows)


def loo_rows_sums(X: Any, Y: np.ndarray, sw: np.ndarray | None, basis: Any, alphas: np.ndarray,
                  block_rows: int) -> np.ndarray:  # fmt: skip
    """sum_i s_i e_i(alpha)^2 (n_alphas, k) over the rows of X, ``block_rows`` at a
    time (``_loo.loo_block_sums``). X: an array, or anything with ``shape`` whose
    ``X[a:b]`` is the dense block of those rows (a table's expanded rows)."""
    from ._loo import loo_block_sums

    total = np.zeros((alphas.size, Y.shape[1]))
    for r0 in range(0, X.shape[0], block_rows):
        rows = slice(r0, r0 + block_rows)
        total += loo_block_sums(basis, X[rows], Y[rows], None if sw is None else sw[rows], alphas)
    return total


def _loo_standardized_task(X, y, sw, gram, shift, alphas, fit_intercept):  # type: ignore[no-untyped-def]
    """A chunk's weighted squared leave-one-out residuals with each training set
    standardized by its own moments (``loo_standardized_rows_sums``)."""
    X, y, sw = _block(X, y, sw)
    return loo_standardized_rows_sums(X, y.reshape(X.shape[0], -1), sw, gram, shift, alphas,
                                      fit_intercept)  # fmt: skip


def loo_standardized_rows_sums(
    X: Any, Y: np.ndarray, sw: np.ndarray | None, gram: np.ndarray, shift: np.ndarray,
    alphas: np.ndarray, fit_intercept: bool, fixed: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """As :func:`loo_rows_sums` with each training set standardized by its own
    moments (``_cv_path.loo_standardized_sums``: one eigendecomposition per row;
    imported here, with scikit-learn, only when a task runs it), ``fixed``
    columns unscaled. X: an array, a sparse matrix, or anything whose ``X[a:b]``
    is the dense block of those rows."""
    from ._cv_path import loo_standardized_sums

    total = np.zeros((alphas.size, Y.shape[1]))
    step = 1024  # a sparse chunk is read as dense blocks of this many rows
    for r0 in range(0, X.shape[0], step):
        rows = slice(r0, r0 + step)
        Xb = X[rows].toarray() if is_sparse(X) else X[rows]
        total += loo_standardized_sums(Xb, Y[rows], None if sw is None else sw[rows], gram, shift,
                                       alphas, fit_intercept, fixed)  # fmt: skip
    return total


def _predict_task(X, coef, intercept):  # type: ignore[no-untyped-def]
    X = as_csr(X) if is_sparse(X) else np.asarray(X)
    pred = np.asarray(X @ coef.astype(X.dtype, copy=False)).reshape(X.shape[0])
    return pred + X.dtype.type(intercept)


def _add(*parts: Any) -> Any:
    """Sum of partial results (arrays, or dicts of arrays), left to right."""
    if isinstance(parts[0], dict):
        return {k: _add(*(p[k] for p in parts)) for k in parts[0]}
    total = np.array(parts[0], dtype=np.float64, copy=True)
    for p in parts[1:]:
        total += p
    return total


def _merge_moments(*parts: dict[str, Any]) -> dict[str, Any]:
    """Moments merged left to right as the compiled kernel merges its shards
    (Chan, Golub & LeVeque; parts without weight carry nothing)."""
    w, mean, m2, finite = parts[0]["moments"]
    mean, m2 = mean.copy(), m2.copy()
    for p in parts[1:]:
        wb, mb, m2b, fb_ok = p["moments"]
        finite = finite and fb_ok
        if not wb > 0.0:
            continue
        if not w > 0.0:
            w, mean, m2 = wb, mb.copy(), m2b.copy()
            continue
        tot = w + wb
        fb, cross = wb / tot, w * wb / tot
        delta = mb - mean
        mean += delta * fb
        m2 += m2b + delta * delta * cross
        w = tot
    return {
        "moments": (w, mean, m2, finite),
        "sums": _add(*(p["sums"] for p in parts)),
        "checks": _add(*(p["checks"] for p in parts)),
    }


# ------------------------------------------------------------ iterative solvers


def _center_task(rows: Any, sw: np.ndarray | None) -> np.ndarray:
    """Weighted mean of the centering rows (``weighted_row_mean`` in data_pass.hpp);
    sparse rows (up to 4096 of them) are summed as they are, not densified."""
    if is_sparse(rows):
        s = np.ones(rows.shape[0]) if sw is None else np.asarray(sw, dtype=np.float64)
        rows, ws = rows.astype(np.float64), s.sum()
        if ws > 0:
            return np.asarray(rows.T @ s).reshape(-1) / ws
        return np.asarray(rows.T @ np.ones_like(s)).reshape(-1) / len(s)
    weights = None if sw is None else np.ascontiguousarray(sw, dtype=np.float64)
    return _core.weighted_row_mean(np.asarray(rows, dtype=np.float64), weights)


def _first_row_task(X, y):  # type: ignore[no-untyped-def]
    """[x_0, y_0] in float64 from the first chunk: the shift common to all chunks
    (a mixed chunk's: its dense block's, 0 for the level columns). A sparse
    chunk's is 0 for X, as the local sparse fit's: centering would fill its rows
    in, so the sparse Gram kernel forms the Gram about 0 (see
    ``_sufficient.sparse_statistics``), and the sums match the local fit's."""
    y0 = np.asarray(y[0], dtype=np.float64).reshape(-1)  # k targets of a 2-D y
    if is_sparse(X):
        return np.r_[np.zeros(X.shape[1]), y0]
    if isinstance(X, MixedChunk):
        return np.r_[X.dense[0], np.zeros(X.width - X.dense.shape[1]), y0]
    return np.r_[np.asarray(X[0], dtype=np.float64), y0]


def _rows_task(X, y, sw, index):  # type: ignore[no-untyped-def]
    """The rows ``index`` (a slice or integer array, local to the chunk) of X, y and the weights."""
    X = as_csr(X) if is_sparse(X) else X if isinstance(X, MixedChunk) else np.asarray(X)
    return (X[index], np.asarray(y)[index],
            None if sw is None else np.asarray(sw)[index])  # fmt: skip


def _rows_pieces_task(X, y, sw, cuts):  # type: ignore[no-untyped-def]
    """``_rows_task`` of each slice in ``cuts``, in one task."""
    return [_rows_task(X, y, sw, c) for c in cuts]


def _join_rows(parts: Sequence[Any]) -> tuple[Any, Any, Any]:
    """``_rows_task`` results of consecutive chunks as one block of rows."""
    X: Any
    if isinstance(parts[0][0], MixedChunk):
        X = MixedChunk.join([p[0] for p in parts])
    elif is_sparse(parts[0][0]):
        import scipy.sparse as sp  # loaded already: the chunks are scipy.sparse

        X = sp.vstack([p[0] for p in parts], format="csr")
    else:
        X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    sw = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    return X, y, sw


def _sample_grams_task(X, y, sw, blocks, shift):  # type: ignore[no-untyped-def]
    """The Grams of the sample blocks [(begin, end)] inside this chunk (rows local
    to it) about ``shift``, each in one shard on one thread (``block_stats`` in data_pass.hpp sums them)."""
    X = X if isinstance(X, MixedChunk) else np.asarray(X)
    y = np.asarray(y)
    return [_gram(*_block(X[a:b], y[a:b], None if sw is None else np.asarray(sw)[a:b]), shift)
            for a, b in blocks]  # fmt: skip


def _gram(X: Any, y: np.ndarray, sw: np.ndarray | None, shift: np.ndarray) -> np.ndarray:
    """The augmented Gram of one block of rows about ``shift``, in one shard on one
    thread (of the expanded rows, for a mixed chunk)."""
    if isinstance(X, MixedChunk):
        return np.asarray(_core.mixed_gram_stats(*X.args(), y, sw, shift, 1, 1)["gram"])
    return np.asarray(_core.gram_stats(X, y, sw, shift, 1, 1)["gram"])


def _rows_gram_task(shift, *parts):  # type: ignore[no-untyped-def]
    """The Gram of one sample block whose rows span chunks (``_rows_task`` parts, in order)."""
    return _gram(*_block(*_join_rows(parts)), shift)


def _rows_center_task(*parts):  # type: ignore[no-untyped-def]
    """``_center_task`` of the centering rows gathered from the chunks (``_rows_task`` parts)."""
    X, _, sw = _join_rows(parts)
    return X.center(sw) if isinstance(X, MixedChunk) else _center_task(X, sw)
