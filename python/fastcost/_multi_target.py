"""Several targets at once: y of shape (n, k), as scikit-learn's linear models take it.

What reads X how often, per backend and solver:

- newton and qr (and ``solver="auto"``) on dense arrays in host memory: ONE pass
  for all k targets. The statistics pass forms the Gram of
  ``[x - c, y_1 - c_1, ..., y_k - c_k, 1]`` (or qr's factor of it), X^T Y inside
  it, and each target is then solved from its own (d + 2)-square block
  (:meth:`SufficientStatistics.target`) through the fit pipeline like any
  single-target fit, so every option (alpha per target, positive, standardize,
  prune, compute_statistics) applies per target.
- lbfgs and gd on dense arrays in host memory: ONE read of X per iteration round
  for all k targets. The compiled loops run in lockstep (``_core.fit_targets``,
  cpp/include/fastcost/lockstep.hpp), one per target, and each round of their
  requests is served by one sharded walk over X that forms every target's sums
  exactly as its own fit would, so each target's result equals a single-target
  fit bit for bit, with alpha per target, weights, fit_intercept, standardize,
  noise_augmentation and positive. ``n_passes_`` is the reads of X made: the
  most rounds any target needed (a target that converges early stops asking),
  plus the column-moments read of standardize once; over 32 targets run in
  groups of 32 whose rounds add up. Each target's ``n_iter_`` is its own.
- A dataframe (pandas, polars, Arrow) of numeric columns only is typed once by
  the table encoder and then read as the dense array it is, as above; its
  column names become ``feature_names_in_``.
- Everything else fits the targets one after another, k fits' passes: lbfgs and
  gd with ``prune`` or ``compute_statistics``, sgd, and every fit on a sparse
  matrix, a dataframe with categorical or text columns, the CUDA device
  (``device="cuda"``) or a Dask cluster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import validate_data

from ._sufficient import SufficientStatistics, batch_statistics, check_batch
from ._threads import resolve_n_threads
from ._validation import FLOAT_DTYPES, check_weights, is_device_array, kernel_layout
from .resources import fit_clock

#: Fitted attributes that become one entry (or row) per target.
PER_TARGET = (
    "coef_", "intercept_", "n_iter_", "converged_", "rank_", "condition_number_",
    "coef_stderr_", "intercept_stderr_", "residual_std_", "r2_", "dof_resid_",
    "cov_params_", "prediction_cov_", "prediction_shift_",
)  # fmt: skip


#: What the multi-target fit sets itself (the per-target fits' own are not copied).
_KEEP = (*PER_TARGET, "statistics_", "n_batches_")


def is_multi_target(y: Any) -> bool:
    """Whether y is 2-D (an (n, 1) y too: scikit-learn keeps its shape)."""
    return getattr(y, "ndim", None) == 2 or (
        not hasattr(y, "ndim") and isinstance(y, list | tuple) and np.ndim(y) == 2
    )


def target_alphas(alpha: Any, k: int) -> np.ndarray:
    """``alpha`` for each of k targets: a number, or k non-negative finite values."""
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim == 0:
        return np.full(k, float(a))
    if a.shape != (k,) or not np.isfinite(a).all() or (a < 0).any():
        raise ValueError(f"alpha must be a number or {k} finite values >= 0 (one per target)")
    return a


def fit_multi_target(est: Any, X: Any, Y: Any, sample_weight: Any,
                     coef_init: Any, intercept_init: Any) -> None:  # fmt: skip
    """Fit every column of Y; set ``coef_`` (k, d), ``intercept_`` (k,) and the rest."""
    if coef_init is not None or intercept_init is not None:
        raise NotImplementedError("coef_init is not available with a 2-D y")
    k = int(np.shape(Y)[1])
    if k < 1:
        raise ValueError("y has 0 columns")
    alphas = target_alphas(est.alpha, k)
    frame = numeric_frame(est, X) if est.device == "cpu" else None
    if frame is not None:
        X = frame[0]
    dense_cpu = est.device == "cpu" and type(X) is not str and _is_dense_array(X)
    one_pass = dense_cpu and est.solver in ("auto", "newton", "qr")
    lockstep = (
        dense_cpu and est.solver in ("lbfgs", "gd") and not est.prune and not est.compute_statistics
    )
    n_passes = None
    with fit_clock() as clock:
        if one_pass:
            fits = _fit_one_pass(est, X, Y, sample_weight, alphas, k)
            names = getattr(est, "feature_names_in_", None)
            n_passes = 1
        elif lockstep:
            fits, n_passes = _fit_lockstep(est, X, Y, sample_weight, alphas, k)
            names = getattr(est, "feature_names_in_", None)
        else:
            Ya = np.asarray(Y)
            fits = [
                clone(est).set_params(alpha=float(alphas[t])).fit(X, Ya[:, t], sample_weight)
                for t in range(k)
            ]
            names = getattr(fits[0], "feature_names_in_", None)
    if frame is not None:
        names = frame[1]
    _gather(est, fits, names, n_passes, k, clock)


def numeric_frame(est: Any, X: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A dataframe whose columns are all numeric (the encoder finds no
    categorical or text column and keeps every column in order) as the float
    array its single-target fit reads and its column names (None unless they
    are all strings, as scikit-learn sets them); None otherwise."""
    from ._categorical import is_table

    if not is_table(X) or not isinstance(est.categorical_features, str):
        return None
    from ._tables import TableEncoder

    encoder = TableEncoder(categorical=None)
    design = encoder.fit_transform(X)
    if len(design.n_levels) or list(design.dense_names) != list(encoder.input_names):
        return None
    if encoder.notes:
        return None  # the per-target fits warn about what the encoder noticed
    labels = list(getattr(X, "column_names", None) or getattr(X, "columns", []))
    named = all(isinstance(n, str) for n in labels)
    return design.dense, np.asarray(encoder.input_names, dtype=object) if named else None


def _fit_one_pass(est: Any, X: Any, Y: Any, sample_weight: Any, alphas: np.ndarray,
                  k: int) -> list[Any]:  # fmt: skip
    """newton or qr: one statistics pass for every target, each solved from its block."""
    X, Yv = _validate(est, X, Y)
    kind = "qr" if est.solver == "qr" else "gram"
    Yv = np.asarray(Yv, dtype=np.float64).reshape(len(Yv), k)
    sw = check_weights(sample_weight, X.shape[0], np.dtype(np.float64))
    Xb, Yb, swb = check_batch(X, Yv, sw)
    # float32 X is read as it is (float32 lanes in the Gram), except for the
    # statistics, which read residuals off the sums (_pipeline._gram_too_coarse).
    stats = batch_statistics(
        kind, Xb, Yb, swb, None, int(est.n_shards or 0),
        resolve_n_threads(est.n_threads), widen=bool(est.compute_statistics),
    )  # fmt: skip
    stats.dtype = str(X.dtype)
    est.statistics_ = stats
    return [_fit_target_from_stats(est, stats, t, alphas[t], k, "") for t in range(k)]


def _fit_lockstep(est: Any, X: Any, Y: Any, sample_weight: Any, alphas: np.ndarray,
                  k: int) -> tuple[list[Any], int]:  # fmt: skip
    """lbfgs or gd: every target's loop in lockstep (one read of X per round for
    all), then each target's attributes set by the fit pipeline from its result."""
    from ._cpu_backend import LockstepTarget, run_lockstep
    from ._pipeline import finish_report, loop_options, run_fit

    X, Yv = _validate(est, X, Y)
    Yv = np.asfortranarray(np.asarray(Yv).reshape(len(Yv), k))  # each target's y: a view, no copy
    fits = [clone(est).set_params(alpha=float(alphas[t])) for t in range(k)]
    targets = []
    for t, sub in enumerate(fits):
        try:  # the single-target checks of y, each column alone
            targets.append(LockstepTarget(sub, X, Yv[:, t], sample_weight, k))
        except ValueError as exc:
            raise ValueError(f"y's column {t}: {exc}") from exc
    options = [loop_options(sub, X.shape[1]) for sub in fits]
    n_passes = run_lockstep(targets, str(est.solver), options)
    for sub, target in zip(fits, targets, strict=True):
        with fit_clock() as clock:
            run_fit(sub, target)
        finish_report(sub, target, clock)
    return fits, n_passes


def _validate(est: Any, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    """X (in the kernels' layout) and the 2-D y, checked once for every target."""
    X, Yv = validate_data(
        est, X, Y, reset=True, dtype=list(FLOAT_DTYPES), order=None,
        ensure_all_finite=False, y_numeric=True, multi_output=True,
    )  # fmt: skip
    return kernel_layout(X), Yv


def _is_dense_array(X: Any) -> bool:
    import scipy.sparse as sp

    if sp.issparse(X) or is_device_array(X):
        return False
    from ._categorical import is_table

    return not is_table(X)


def solve_targets(est: Any, stats: SufficientStatistics, clock: fit_clock, where: str,
                  passes: int = 1) -> None:  # fmt: skip
    """Every target of multi-target statistics solved and set on ``est``
    (``passes``: the reads of data that made them, for ``n_passes_``)."""
    k = stats.n_targets
    alphas = target_alphas(est.alpha, k)
    names = getattr(est, "feature_names_in_", None)
    fits = [_fit_target_from_stats(est, stats, t, alphas[t], k, where) for t in range(k)]
    _gather(est, fits, names, passes, k, clock)


def _fit_target_from_stats(est: Any, stats: SufficientStatistics, t: int, alpha: float,
                           k: int, where: str) -> Any:  # fmt: skip
    from ._incremental import fit_from_statistics

    sub = clone(est).set_params(alpha=float(alpha))
    fit_from_statistics(sub, stats.target(t), passes=1,
                        where=f" for {k} targets from one pass{where}")  # fmt: skip
    return sub


def _gather(est: Any, fits: list[Any], names: Any, n_passes: int | None, k: int,
            clock: fit_clock) -> None:  # fmt: skip
    """The per-target fits as one multi-output model; ``n_passes``: the reads of X
    of a fit that served every target at once (None: the fits' passes add up)."""
    first = fits[0]
    for attr, value in first.__dict__.items():
        if attr.endswith("_") and not attr.startswith("_") and attr not in _KEEP:
            setattr(est, attr, value)
    for attr in PER_TARGET:
        if hasattr(first, attr):
            values = [getattr(f, attr) for f in fits]
            setattr(est, attr, np.stack([np.asarray(v) for v in values]))
    est.n_passes_ = int(sum(f.n_passes_ for f in fits)) if n_passes is None else n_passes
    est.n_targets_ = k
    if names is not None:
        est.feature_names_in_ = names
    elif "feature_names_in_" in est.__dict__ and names is None:
        del est.feature_names_in_
    first_report = first.fit_report_
    bytes_read, passes = first_report.bytes_read or 0.0, first_report.passes or 0.0
    report = clock.report(
        threads=first_report.max_threads, n_passes=est.n_passes_,
        bytes_per_pass=bytes_read / passes if passes else 0.0, flops=None,
    )  # fmt: skip
    est.fit_report_ = report
