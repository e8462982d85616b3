"""Distributed training on Dask: the same estimator, one shard per chunk of rows.

Every chunk of rows of a dask array (or partition of a dask DataFrame) is one
shard that the compiled kernels process on the worker that holds it; only
small per-chunk summaries travel, and they are added in a fixed tree, so the
result does not depend on which worker ran what.

- ``newton``: one pass. Each task returns the augmented weighted Gram of its
  chunk (``_core.gram_stats``) about one shift common to all chunks (the first
  row), so partial Grams add exactly; the client solves the small system
  (``_core.solve_stats``).
- ``qr``: one pass. Each task returns the R factor of its chunk
  (``_core.tsqr_stats``); factors merge pairwise in a fixed order
  (``_core.tsqr_merge``) and the client solves (``_core.solve_r``).
- ``lbfgs`` / ``gd``: X, y and the weights are persisted on the workers once,
  and the compiled loops of a local fit run on the client
  (``_core.minimize``) with a data pass that calls back here: every read of X
  they ask for is one map-reduce of ``_core.probe_sums`` (lbfgs: one per
  iteration; gd: one per evaluation), and what they need before the first
  iteration (totals, column moments, the centering rows, lbfgs' row sample)
  is one more round trip. The iterates are those of the local fit.

``standardize``, ``noise_augmentation`` and ``prune`` are folded in by the fit
pipeline exactly as on one machine (``_pipeline._solve``): newton and qr still
make one pass, the column means and scales, the redundant columns and the
per-column penalty all coming from the merged statistics; lbfgs and gd
standardize with one more read of X, of per-chunk column moments
(``_core.column_moments``, merged in a fixed order, in the start-up round
trip), and prune with one Gram map-reduce before they start.

X's chunks may be scipy.sparse matrices or arrays (``da.from_array(X_csr,
asarray=False)``, or blocks with a sparse ``meta``; a local scipy.sparse X is
split into row chunks like a numpy one): the tasks read them with the sparse
kernels of the local fit (``fastcost._sparse``), never densified. newton adds
the chunks' sparse Grams about the shift [0, y_0] (the local sparse fit's);
lbfgs and gd read them with ``_core.sparse_probe_sums`` and, like the local
sparse pass, take no row sample; qr, and standardize with lbfgs or gd, are
not available, as locally.

``compute_statistics="HC0"`` .. ``"HC3"`` and ``"cluster"`` take one more
map-reduce after the fit (``_core.sandwich_sums`` on each chunk about the
fitted model, ``fastcost._robust``): the HC meats and the clusters' score rows
add across chunks, the cluster codes being global (coded on the client), so a
cluster may span chunks. They read dense numeric chunks only.

A lost worker costs nothing but time: Dask recomputes the lost chunks from
their lineage, and since every summary is a deterministic function of its
chunk and the reduction order is fixed, the fit ends exactly as undisturbed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _core
from ._categorical import finish_table_fit, predict_coded
from ._dask_categorical import DaskMixedBackend, is_dask_table
from ._dask_data import (
    DASK_HINT,
    _check_weights_summary,
    _ClusterPass,
    _float_dtype,
    _import_dask,
    _is_dask_collection,
    _prepare,
    _prepare_local,
    _to_dask_array,
    connect,
)
from ._dask_tasks import (
    _add,
    _merge_statistics,
    _predict_task,
    _sandwich_task,
    _statistics_task,
)
from ._params import DASK_LINEAR_REGRESSION
from ._pipeline import choose_solver, finish_report, run_fit
from ._result import SolveResult, solve_gram
from ._robust import cluster_codes, cov_type_of
from ._sparse import SPARSE_QR_ADVICE, check_iterative_options
from ._sparse import auto_solver as sparse_auto_solver
from ._statistics import gram_to_factor
from ._threads import resolve_n_threads
from .exceptions import NonFiniteError
from .linear_model import _TABLE_ATTRIBUTES, unchanged_on_failure
from .linear_model import LinearRegression as _LocalLinearRegression
from .resources import ResourceReport, fit_clock

__all__ = ["DASK_HINT", "LinearRegression"]

#: Solvers that run on a cluster. sgd is inherently sequential over
#: mini-batches (each step needs the previous one), so it has no map-reduce form.
DASK_SOLVERS = ("auto", "newton", "qr", "lbfgs", "gd")

#: Those the distributed fit implements; the others must keep their default.
DASK_PARAMETERS = frozenset(
    {"alpha", "fit_intercept", "solver", "tol", "max_iter", "batch_size", "learning_rate",
     "n_threads", "random_state", "n_shards", "compute_statistics", "standardize",
     "prune", "prune_tol", "noise_augmentation", "categorical_features", "positive", "copy_X", "client", "scheduler",
     "timeout"}
)  # fmt: skip


# ----------------------------------------------------------------- connection


def check_scheduler(address: str, timeout: float = 5.0) -> dict[str, Any]:
    """Check, within ``timeout`` seconds, that a Dask scheduler answers at ``address``.

    One connection and one ``identity`` request, closed afterwards, every step
    bounded by what is left of ``timeout``. A :class:`distributed.Client` is no
    such check: it waits without end on a service that accepts the connection
    but never answers, and one given a malformed address is left half-built,
    its ``__del__`` then blocking the interpreter's exit for 20 s.

    Parameters
    ----------
    address : str
        The scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    timeout : float, default=5.0
        Seconds for the whole check.

    Returns
    -------
    dict
        The scheduler's identity (``type``, ``address``, ``workers``, ...).

    Raises
    ------
    ValueError
        The address is malformed (e.g. no port).
    ConnectionError
        Nothing answers in time, or what answers is not a Dask scheduler.
    ImportError
        distributed is not installed, with the extra to install.
    """
    import asyncio
    import threading
    import time

    _import_dask()
    from distributed.comm import connect as open_comm
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except ValueError as exc:
        raise ValueError(
            f"invalid Dask scheduler address {address!r} ({exc}); expected e.g. tcp://host:8786"
        ) from None
    deadline = time.monotonic() + timeout

    async def ask() -> Any:
        def left() -> float:
            return max(0.01, deadline - time.monotonic())

        comm = await asyncio.wait_for(open_comm(address, timeout=left()), left())
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), left())
            return await asyncio.wait_for(comm.read(), left())
        finally:
            comm.abort()

    outcome: dict[str, Any] = {}

    def run() -> None:  # its own event loop, also when the caller runs one
        try:
            outcome["identity"] = asyncio.run(ask())
        except BaseException as exc:  # reported below, in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="fastcost-check-scheduler", daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    identity, error = outcome.get("identity"), outcome.get("error")
    if identity is None:
        timed_out = isinstance(error, (TimeoutError, asyncio.TimeoutError, type(None)))
        timed_out = timed_out or "Timed out" in str(error)
        why = "nothing answered" if timed_out else f"{type(error).__name__}: {error}"
        raise ConnectionError(
            f"cannot reach a Dask scheduler at {address!r} within {timeout:g} s ({why})"
        ) from error
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        kind = identity.get("type") if isinstance(identity, dict) else type(identity).__name__
        raise ConnectionError(f"{address!r} answered, but is not a Dask scheduler ({kind})")
    return identity


# -------------------------------------------------------------------- backend


class _TaskSeconds:
    """Seconds the workers spent computing the tasks of a block, from the
    scheduler's task stream (one scheduler call at each end, no worker round trip)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seconds: float | None = None

    def __enter__(self) -> _TaskSeconds:
        from distributed import get_task_stream

        self._stream = get_task_stream(client=self.client)
        self._stream.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.__exit__(*exc)
        try:
            self.seconds = float(
                sum(
                    ss["stop"] - ss["start"]
                    for task in self._stream.data
                    for ss in task.get("startstops", ())
                    if ss.get("action") == "compute"
                )
            )
        except (TypeError, KeyError, AttributeError):  # a scheduler that reports none
            self.seconds = None


class _DaskBackend:
    """The fit pipeline's backend (``_pipeline.Backend``) on a Dask cluster:
    newton and qr in one map-reduce of chunk statistics, lbfgs and gd through
    the compiled loops with :class:`_ClusterPass`."""

    solvers: tuple[str, ...] = ("newton", "qr", "lbfgs", "gd")

    def __init__(self, est: LinearRegression, client: Any, X: Any, y: Any,
                 sample_weight: Any) -> None:  # fmt: skip
        self.est, self.client = est, client
        if _is_dask_collection(X) or _is_dask_collection(y):
            data, names = _prepare(X, y, sample_weight)
        else:
            n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
            data, names = _prepare_local(est, X, y, sample_weight, max(1, n_workers))
        self.data, self.names = data, names
        self.n_samples, self.n_features, self.dtype = data.n, data.d, data.dtype
        self.n_shards = int(est.n_shards or 0)
        self.threads = est.n_threads if est.n_threads not in (None, -1) else None
        self.round_trips = 0
        self.witness: np.ndarray | None = (
            None  # X stays on the workers: duplicates count as collinear
        )
        self.worker_compute_s: float | None = None
        self.sparse = data.sparse
        if self.sparse:  # as the local sparse fit: qr's factor would densify the chunks
            self.solvers = ("newton", "lbfgs", "gd")
            self.qr_advice = SPARSE_QR_ADVICE

    def auto_solver(self) -> tuple[str, str]:
        if self.sparse:
            return sparse_auto_solver(self.n_samples, self.n_features)
        return choose_solver(self.n_samples, self.n_features), ""

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> SolveResult:
        if solver not in ("newton", "qr"):
            return self._iterative(solver, options)
        stats, shift, factor = self._pass(solver, options)
        alpha, fit_intercept = float(options["alpha"]), bool(options["fit_intercept"])
        if solver == "newton":
            return solve_gram(stats, shift, alpha, fit_intercept, want_factor, factor["n_nonzero"])
        result = SolveResult.from_core(_core.solve_r(stats, shift, alpha, fit_intercept))
        result.n_passes = 1
        result.factor = factor
        return result

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        stats, shift, _ = self._pass(solver, options)
        return stats, shift

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        if self.sparse:  # from one Gram pass, as the local sparse fit
            stats, _, factor = self._pass("newton", options)
            factor["r"] = gram_to_factor(stats)
            return factor
        return self._pass("qr", options)[2]

    def robust_sums(self, **model: Any) -> dict[str, Any]:
        """The robust meat's pass (``fastcost._robust``): one map-reduce of
        ``_core.sandwich_sums`` over the chunks, added in the fixed tree. The HC
        meats add; so do the cluster score rows, the codes being global (coded on
        the client: ``cluster_codes``), each chunk getting its rows' codes."""
        data, codes = self.data, model.pop("codes", None)
        if codes is None:
            pieces = [None] * len(data.xb)
        else:
            pieces = [codes[a:b] for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True)]
        args = (model, self.n_shards, self.threads)
        nodes = data.top(_sandwich_task, _add, *args, per_chunk=pieces)
        parts = self.client.compute(nodes, sync=True)
        self.round_trips += 1
        return parts[0] if len(parts) == 1 else _add(*parts)  # type: ignore[no-any-return]

    def where(self) -> str:
        return f" on {len(self.data.xb)}{' sparse' if self.sparse else ''} Dask chunks"

    def attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_features_in_": self.n_features, "n_chunks_": len(self.data.xb)}
        if self.names is not None:
            out["feature_names_in_"] = np.asarray(self.names, dtype=object)
        elif hasattr(self.est, "feature_names_in_"):
            del self.est.feature_names_in_
        out["round_trips_"] = self.round_trips
        return out

    def report(self, clock: fit_clock, n_passes: int, flops: float | None) -> ResourceReport:
        report = clock.report(
            threads=resolve_n_threads(None),
            n_passes=n_passes,
            bytes_per_pass=self.n_samples * (self.n_features + 1) * self.dtype.itemsize,
            flops=flops,
        )
        report.worker_compute_s = self.worker_compute_s
        return report

    def _pass(self, solver: str, options: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
        """One map-reduce of the chunks' statistics, merged in a fixed tree: the
        augmented Gram (newton) or the R factor (qr), its shift and the factor
        ``regression_statistics`` reads (newton's ``r`` is filled by the solve)."""
        client, data = self.client, self.data
        args = (self.n_shards, self.threads)
        kind = "gram" if solver == "newton" else "qr"
        task, combine = _statistics_task, _merge_statistics
        if solver == "qr" and not options["fit_intercept"]:
            shift = np.zeros(data.d + 1)  # as the local qr: no centering to protect
            total = data.map_reduce(client, task, combine, shift, kind, *args)
        else:  # the first row is a task of the pass's graph: one round trip
            total, shift = data.map_reduce_shifted(client, task, combine, kind, *args)
        self.round_trips += 1
        n_pos = _check_weights_summary(total["checks"])
        merged = total["stats"]
        stats = merged.matrix
        if solver == "newton":
            factor = {"r": None, "shift": shift, "n_nonzero": n_pos}
        else:
            factor = merged.core_dict()
            shift = merged.shift
        if not np.isfinite(stats).all():
            data.raise_for_nonfinite(client)
        return stats, shift, factor

    def _iterative(self, solver: str, options: dict[str, Any]) -> SolveResult:
        """lbfgs / gd: the compiled loops of a local fit (``_core.minimize``) with
        their data pass on the cluster (:class:`_ClusterPass`)."""
        client, data = self.client, self.data
        if self.sparse:
            check_iterative_options(solver, options)
        data.persist(client)  # every pass reads the chunks again: keep them on the workers
        # Sparse data decline lbfgs' row sample, as the local SparsePass (sparse.hpp) does.
        cluster_pass = _ClusterPass(
            data, client, self.n_shards, self.threads, takes_row_sample=not self.sparse
        )
        try:
            out = _core.minimize(cluster_pass, solver, _core.FitOptions(**options))
        except NonFiniteError as exc:
            data.raise_for_nonfinite(client, exc)
        self.round_trips += cluster_pass.round_trips
        return SolveResult.from_core(out)


# ------------------------------------------------------------------ estimator


class LinearRegression(_LocalLinearRegression):
    """Least-squares linear regression trained on a Dask cluster.

    The same model, parameters and fitted attributes as
    :class:`fastcost.LinearRegression`; X may be a dask array (of numpy or
    scipy.sparse chunks) or dask DataFrame (numpy/pandas/scipy.sparse data are
    split into chunks of rows). Each chunk of rows is one
    shard processed by the compiled kernels on its worker; chunks that split the
    columns are rechunked to one column block first.

    Parameters
    ----------
    alpha, fit_intercept, tol, max_iter, n_shards, compute_statistics
        As in :class:`fastcost.LinearRegression`; ``n_shards`` is per chunk. The
        robust types (``"HC0"``-``"HC3"``, ``"cluster"`` with fit's ``groups``)
        take one more map-reduce, on dense numeric chunks.
    standardize, prune, prune_tol, noise_augmentation
        As in :class:`fastcost.LinearRegression`, with the same results.
        newton and qr take the scales and the redundant columns from their one
        pass; lbfgs and gd make one moments pass for ``standardize``
        (``n_passes_`` = evaluations + 1) and one Gram pass for ``prune``.
        Without X on the client, exact duplicate columns are not confirmed
        cell by cell: ``prune_report_`` lists them as collinear (they are
        dropped all the same).
    other parameters of :class:`fastcost.LinearRegression`
        Accepted (``get_params`` lists them all); anything but their default
        (``qr_precision``, ``device``) raises NotImplementedError until the
        distributed fit supports it.
    solver : {"auto", "newton", "qr", "lbfgs", "gd"}, default="auto"
        ``newton`` and ``qr`` make one pass; ``lbfgs`` and ``gd`` one map-reduce
        per loss+gradient evaluation on data persisted on the workers. ``sgd``
        (sequential by nature) raises NotImplementedError.
    batch_size, learning_rate, random_state
        Accepted for parameter compatibility; used by ``sgd`` only.
    n_threads : int or None, default=None
        Threads per task; None shares each worker's cores among its task slots.
    client : distributed.Client or None, default=None
        Cluster to run on. With neither ``client`` nor ``scheduler``, the current
        default client is used if there is one, else a LocalCluster (one
        single-threaded worker process per core, loopback) is started for the
        fit and closed after it.
    scheduler : str or None, default=None
        Address of a scheduler to connect to, e.g. ``"tcp://10.0.0.5:8786"``.
    timeout : float, default=10.0
        Seconds to wait for ``scheduler``; past it, a ConnectionError names it.

    Attributes
    ----------
    coef_, intercept_, n_iter_, loss_history_, n_passes_, solver_, fit_info_,
    condition_number_, converged_, rank_, n_features_in_, feature_names_in_,
    preprocessing_, prune_report_
        As in :class:`fastcost.LinearRegression`.
    n_chunks_ : int
        Chunks of rows (shards) the data was processed in.

    Examples
    --------
    >>> import dask.array as da
    >>> from distributed import Client, LocalCluster
    >>> from fastcost.dask import LinearRegression
    >>> X = da.random.default_rng(0).standard_normal((10_000, 3), chunks=(2_500, 3))
    >>> y = X @ da.from_array([1.0, -2.0, 0.5]) + 3.0
    >>> with LocalCluster(n_workers=2, processes=False) as cluster, Client(cluster) as c:
    ...     model = LinearRegression(solver="newton").fit(X, y)
    >>> np.round(model.coef_, 6), round(float(model.intercept_), 6)
    (array([ 1. , -2. ,  0.5]), 3.0)
    """

    _parameters = DASK_LINEAR_REGRESSION

    # scikit-learn reads the parameters from this signature; tests/test_dask.py
    # checks it against the declarations in _params (names and defaults).
    def __init__(
        self,
        *,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        solver: str = "auto",
        tol: float = 1e-6,
        max_iter: int | None = None,
        batch_size: int = 100,
        learning_rate: float = 0.01,
        n_threads: int | None = None,
        random_state: Any = None,
        n_shards: int | None = None,
        compute_statistics: bool = False,
        standardize: bool = False,
        prune: bool = False,
        prune_tol: float | None = None,
        noise_augmentation: float = 0.0,
        qr_precision: str = "auto",
        device: str = "cpu",
        categorical_features: Any = "from_dtype",
        positive: bool = False,
        copy_X: bool = True,
        client: Any = None,
        scheduler: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(
            alpha=alpha, fit_intercept=fit_intercept, solver=solver, tol=tol,
            max_iter=max_iter, batch_size=batch_size, learning_rate=learning_rate,
            n_threads=n_threads, random_state=random_state, n_shards=n_shards,
            compute_statistics=compute_statistics, standardize=standardize, prune=prune,
            prune_tol=prune_tol, noise_augmentation=noise_augmentation,
            qr_precision=qr_precision, device=device, categorical_features=categorical_features,
            positive=positive, copy_X=copy_X,
        )  # fmt: skip
        self.client = client
        self.scheduler = scheduler
        self.timeout = timeout

    def _check_params(self) -> None:
        for name, p in self._parameters.items():
            value = getattr(self, name)
            if name not in DASK_PARAMETERS and not (value is p.default or value == p.default):
                raise NotImplementedError(
                    f"{name}={value!r} is not available on Dask yet (only its default, "
                    f"{p.default!r}); the distributed fit supports {sorted(DASK_PARAMETERS)}"
                )
        super()._check_params()
        if self.solver == "sgd":
            raise NotImplementedError(
                "solver='sgd' is not available on Dask: each mini-batch step needs the "
                "previous one, so it has no map-reduce form; use newton, qr, lbfgs or gd"
            )
        if self.client is not None and self.scheduler is not None:
            raise ValueError("pass either client or scheduler, not both")

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        coef_init: Any = None,
        intercept_init: float | None = None,
        groups: Any = None,
    ) -> LinearRegression:
        """Fit the model on the cluster.

        Parameters
        ----------
        X : dask array or dask DataFrame of shape (n_samples, n_features)
            numpy arrays, pandas frames and scipy.sparse matrices are accepted too
            (split into chunks of rows); chunks may be scipy.sparse.
        y : dask array or dask Series of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        coef_init, intercept_init : optional
            Starting point for lbfgs and gd.
        groups : array-like or dask array/Series of shape (n_samples,), optional
            Cluster labels for ``compute_statistics="cluster"`` (required there,
            an error otherwise), as in :class:`fastcost.LinearRegression`. A
            numpy/pandas array is coded on the client; a dask array or Series
            (any chunks) is gathered to the client first (n labels, one more
            round trip). Each chunk's task gets its rows' codes, so a cluster may
            span chunks.

        Returns
        -------
        self

        The robust types (``"HC0"``-``"HC3"``, ``"cluster"``) take one more
        map-reduce over the chunks (``_core.sandwich_sums``), counted by
        ``n_passes_`` and ``round_trips_``; they need dense numeric chunks (not
        scipy.sparse chunks nor categorical/text columns).
        """
        self._check_params()
        _import_dask()
        # As the local estimator: a fit that fails (or a lost cluster) leaves the
        # fitted attributes as they were.
        with (
            unchanged_on_failure(self),
            connect(self.client, self.scheduler, float(self.timeout)) as client,
        ):
            for name in _TABLE_ATTRIBUTES:
                self.__dict__.pop(name, None)
            with fit_clock() as clock, _TaskSeconds(client) as tasks:
                backend: Any
                if is_dask_table(X, self):  # text/category columns: coded, not one-hot
                    backend = DaskMixedBackend(self, client, X, y, sample_weight)
                else:
                    backend = _DaskBackend(self, client, X, y, sample_weight)
                backend.cluster = self._cluster_codes(backend, groups)
                run_fit(self, backend, coef_init, intercept_init)
                if hasattr(self, "encoder_"):
                    finish_table_fit(self, backend)
            backend.worker_compute_s = tasks.seconds
            # With the passes after the fit's own (an iterative fit's factor, the robust meat).
            self.round_trips_ = backend.round_trips
            finish_report(self, backend, clock)
        return self

    def _cluster_codes(self, backend: Any, groups: Any) -> tuple[np.ndarray, int] | None:
        """fit's ``groups`` as global codes (``_robust.cluster_codes``, on the
        client), after refusing a robust type the chunks cannot give. Dask groups
        are gathered first (one round trip)."""
        cov_type = cov_type_of(self.compute_statistics)
        if cov_type not in (None, "classical"):
            what = "scipy.sparse chunks" if getattr(backend, "sparse", False) else None
            if isinstance(backend, DaskMixedBackend):
                what = "categorical or text columns"
            if what is not None:
                raise NotImplementedError(
                    f"compute_statistics={cov_type!r} on Dask reads dense numeric chunks only "
                    f"(a dask array or a numeric DataFrame), not {what}; "
                    "use compute_statistics=True"
                )
        if groups is not None and cov_type == "cluster" and _is_dask_collection(groups):
            groups = backend.client.compute(groups, sync=True)
            backend.round_trips += 1
        return cluster_codes(self, groups, backend.n_samples)

    # -- prediction -------------------------------------------------------------

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """Predict ``X @ coef_ + intercept_``: lazily (a dask array) for dask input;
        ``return_std`` (see the local estimator) for numpy X only."""
        check_is_fitted(self)
        if not _is_dask_collection(X):
            return super().predict(X, return_std=return_std)
        if return_std:
            raise NotImplementedError(
                "predict(return_std=True) takes a numpy X, not a Dask collection"
            )
        if hasattr(self, "encoder_"):  # each partition coded on its worker
            return X.map_partitions(
                _predict_table_part, self.encoder_, self.coef_, float(self.intercept_),
                meta=("prediction", "f8"),
            )  # fmt: skip
        Xd, _ = _to_dask_array(X, "X")
        if Xd.ndim != 2 or int(Xd.shape[1]) != self.n_features_in_:
            raise ValueError(
                f"X has {Xd.shape[1] if Xd.ndim == 2 else '?'} features, but "
                f"{type(self).__name__} is expecting {self.n_features_in_} features as input"
            )
        Xd = Xd.astype(_float_dtype(Xd.dtype, "X"))
        if Xd.numblocks[1] > 1:
            Xd = Xd.rechunk({1: -1})
        return Xd.map_blocks(
            _predict_task, self.coef_, float(self.intercept_), drop_axis=1, dtype=Xd.dtype,
            meta=np.empty((0,), dtype=Xd.dtype),  # also for sparse chunks: dense predictions
        )  # fmt: skip

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False  # a 2-D y is fitted locally only, for now
        tags.input_tags.sparse = True  # scipy.sparse X, or dask arrays of sparse chunks
        return tags

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of the prediction (computed on the cluster for dask input)."""
        if not _is_dask_collection(X):
            return float(super().score(X, y, sample_weight=sample_weight))
        pred = self.predict(X)
        if not hasattr(pred, "chunks"):  # a table model predicts a dask Series
            pred = pred.to_dask_array(lengths=True)
        yd, _ = _to_dask_array(y, "y", pred.chunks[0])
        yd = yd.astype(np.float64).rechunk({0: pred.chunks[0]})
        s = 1.0
        if sample_weight is not None:
            s, _ = _to_dask_array(sample_weight, "sample_weight", pred.chunks[0])
            s = s.astype(np.float64).rechunk({0: pred.chunks[0]})
        pred = pred.astype(np.float64)
        sum_w = (s * yd**0).sum()
        mean_y = (s * yd).sum() / sum_w
        ss_res = (s * (yd - pred) ** 2).sum()
        ss_tot = (s * (yd - mean_y) ** 2).sum()
        with connect(self.client, self.scheduler, float(self.timeout)) as client:
            res, tot = client.compute([ss_res, ss_tot], sync=True)
        return 1.0 - float(res) / float(tot) if tot > 0 else (1.0 if res == 0 else 0.0)


def _predict_table_part(part: Any, encoder: Any, coef: np.ndarray, intercept: float) -> Any:
    """Predictions of one partition of a dask DataFrame, as a pandas Series."""
    import pandas as pd

    pred = predict_coded(encoder, coef, intercept, part)
    return pd.Series(pred, index=part.index, name="prediction")
