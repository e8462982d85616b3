"""``LinearRegression.partial_fit`` and ``fit_from_statistics``: fits of data
seen in batches.

newton and qr accumulate :class:`~fastcost._sufficient.SufficientStatistics`
(every batch about the first batch's shift, so the sums are those of one pass
over all rows) and solve from them after every batch: the coefficients equal
one fit on the concatenated rows, to rounding. sgd runs one epoch of its recipe
over each batch, from the coefficients so far.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from ._pipeline import finish_report, run_fit
from ._sufficient import StatisticsBackend, SufficientStatistics, batch_statistics, check_batch
from ._threads import resolve_n_threads
from ._validation import FLOAT_DTYPES
from .resources import fit_clock

#: Solvers ``partial_fit`` runs: the exact ones accumulate statistics.
PARTIAL_SOLVERS = {"auto": "gram", "newton": "gram", "qr": "qr"}


def partial_fit(est: Any, X: Any, y: Any, sample_weight: Any) -> None:
    """One batch of ``est.partial_fit`` (the caller undoes everything on failure)."""
    if est.device != "cpu":
        raise NotImplementedError("partial_fit runs on device='cpu'")
    if est.solver == "sgd":
        _partial_sgd(est, X, y, sample_weight)
        return
    if est.solver not in PARTIAL_SOLVERS:
        raise ValueError(
            f"partial_fit runs solver='newton', 'qr' or 'auto' (statistics accumulate "
            f"exactly) or 'sgd' (one epoch per batch), not {est.solver!r}: "
            f"{est.solver} reads every row at each iteration (use fit, or "
            "fastcost.fit_dataset to stream a dataset from files)"
        )
    kind = PARTIAL_SOLVERS[est.solver]
    stats: SufficientStatistics | None = est.__dict__.get("statistics_")
    if stats is None and "coef_" in est.__dict__:
        # scikit-learn's convention lets partial_fit follow fit; fit keeps no
        # statistics (a d x d Gram), so say that this batch starts over.
        warnings.warn(
            "partial_fit starts over from this batch: the model was fitted by fit (or read "
            "by fastcost.load), which keeps no statistics to add batches to, so the rows it "
            "was fitted on are not part of the new fit. Call partial_fit for every batch, "
            "the first one included, to accumulate them all",
            UserWarning,
            stacklevel=3,
        )
    if stats is not None and stats.kind != kind:
        raise ValueError(
            f"the batches so far accumulated {stats.kind!r} statistics (solver="
            f"{est.solver_!r}); the solver cannot change between batches of partial_fit "
            "(call fit to start over)"
        )
    with fit_clock() as clock:
        est._check_params()
        X, y = _validate_batch(est, X, y, first=stats is None)
        k = 1 if np.ndim(y) == 1 else int(np.shape(y)[1])
        if stats is not None and stats.n_targets != k:
            raise ValueError(
                f"y has {k} target(s) (shape {np.shape(y)}); the earlier batches had "
                f"{stats.n_targets}: every batch of partial_fit has the same targets "
                "(call fit to start over)"
            )
        X, y, sw = check_batch(X, y, sample_weight)
        threads = resolve_n_threads(est.n_threads)
        shift = None if stats is None else stats.shift
        batch = batch_statistics(kind, X, y, sw, shift, int(est.n_shards or 0), threads)
        stats = batch if stats is None else stats.merge(batch)
        n_batches = int(est.__dict__.get("n_batches_", 0)) + 1
        est.statistics_, est.n_batches_ = stats, n_batches
        where = (
            f" from the statistics of {stats.n_rows} rows in {n_batches} batch(es) (partial_fit)"
        )
        # One pass: this batch's; earlier rows are not read again.
        backend = _solve_one(est, stats, np.ndim(y) == 2, where, 1,
                             batch_rows=X.shape[0], batch_bytes=X.nbytes + y.nbytes)  # fmt: skip
    _finish(est, stats, backend, clock, f" in {n_batches} batch(es) (partial_fit)", 1)


def fit_from_statistics(
    est: Any, stats: SufficientStatistics, passes: int = 0, where: str | None = None
) -> None:
    """``est.fit_from_statistics``: solve from statistics, no data read (``passes``:
    those a caller made to build them, for ``n_passes_``)."""
    with fit_clock() as clock:
        est._check_params()
        if not isinstance(stats, SufficientStatistics):
            raise TypeError(f"expected SufficientStatistics, got {type(stats).__name__}")
        solver = {"gram": "newton", "qr": "qr"}[stats.kind]
        if est.solver not in ("auto", solver):
            raise ValueError(
                f"{stats.kind!r} statistics are solved by solver={solver!r} (or 'auto'), "
                f"not {est.solver!r}"
            )
        if where is None:
            where = f" from the statistics of {stats.n_rows} rows"
        for name in ("feature_names_in_", "encoder_", "feature_names_out_"):
            est.__dict__.pop(name, None)
        backend = _solve_one(est, stats, stats.n_targets != 1, where, passes)
    _finish(est, stats, backend, clock, where, passes)
    est.statistics_ = stats


def _solve_one(est: Any, stats: SufficientStatistics, several: bool, where: str, passes: int,
               **report: int) -> StatisticsBackend | None:  # fmt: skip
    """Within the fit's clock: one target solved by the fit pipeline from ``stats``
    (its backend returned), or None for several, which :func:`_finish` solves."""
    if several:
        return None
    backend = StatisticsBackend(stats, resolve_n_threads(est.n_threads), where, **report)
    run_fit(est, backend)
    est.n_passes_ = passes
    return backend


def _finish(est: Any, stats: SufficientStatistics, backend: StatisticsBackend | None,
            clock: fit_clock, where: str, passes: int) -> None:  # fmt: skip
    """After the clock: the report of :func:`_solve_one`'s fit, or each target of
    several solved from its block of ``stats``."""
    if backend is not None:
        finish_report(est, backend, clock)
        return
    from ._multi_target import solve_targets

    solve_targets(est, stats, clock, where, passes)


def _validate_batch(est: Any, X: Any, y: Any, *, first: bool) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's checks of a batch: the first sets ``n_features_in_`` (and
    the feature names of a dataframe), the others must match them."""
    if hasattr(X, "dtypes") and not first and not hasattr(est, "n_features_in_"):
        first = True
    try:
        return validate_data(  # type: ignore[no-any-return]
            est, X, y, reset=first, dtype=list(FLOAT_DTYPES), order=None,
            ensure_all_finite=False, y_numeric=True, multi_output=np.ndim(y) == 2,
        )  # fmt: skip
    except ValueError as exc:
        if "could not convert" in str(exc):
            raise TypeError(
                "partial_fit reads numeric columns only; a table with text or "
                "categorical columns is fitted with fit or fastcost.fit_dataset"
            ) from exc
        raise


def _partial_sgd(est: Any, X: Any, y: Any, sample_weight: Any) -> None:
    """One epoch of the sgd recipe over the batch, from the coefficients so far."""
    from ._cpu_backend import CpuBackend

    if est.standardize or est.prune:
        raise ValueError(
            "sgd's partial_fit does not take standardize or prune: each batch would be "
            "scaled by its own moments; standardize the data before the batches instead"
        )
    fitted = hasattr(est, "coef_") and est.coef_.ndim == 1
    if fitted:
        _validate_batch(est, X, y, first=False)  # the batch matches the fitted columns
    rng = est.__dict__.get("_partial_rng")
    if rng is None:
        rng = check_random_state(est.random_state)
        if isinstance(est.random_state, (int, np.integer)):
            rng = np.random.RandomState(int(est.random_state) + 1)  # not the Glorot draw's
    with fit_clock() as clock:
        est._check_params()
        backend = CpuBackend(est, X, y, sample_weight)
        coef_init = est.coef_ if fitted else None
        intercept_init = float(est.intercept_) if fitted else None
        seed = int(rng.randint(0, np.iinfo(np.int32).max))
        run_fit(est, backend, coef_init, intercept_init, {"max_iter": 1, "seed": seed})
        est._partial_rng = rng
        est.n_batches_ = int(est.__dict__.get("n_batches_", 0)) + 1
    finish_report(est, backend, clock)
