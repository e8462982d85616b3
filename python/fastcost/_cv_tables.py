"""``LinearRegressionCV`` on dataframes with categorical columns.

The table is encoded once, on all its rows (``fastcost._tables.TableEncoder``,
as ``LinearRegression`` reads it): every fold sees the same level set. That is
what ``RidgeCV`` on a matrix one-hot encoded beforehand does, and not what a
``Pipeline(OneHotEncoder(), Ridge())`` refitted per fold does (its training
rows' levels only). A fold's fit is ``LinearRegression(alpha=a)`` on the
fold's training rows of a table whose categoricals declare every level of the
whole table (a pandas ``Categorical`` with all categories): levels absent from
the training rows keep a column, with coefficient 0 when penalized.

The numerics are ``_cv_path``'s, on the expanded columns [dense, every level of
every categorical]: the rows are sorted by their atom (``fold_atoms``) once,
and ``_core.mixed_gram_stats`` gives each atom's augmented Gram over
[dense, level indicators, y, 1] about one common shift, the expansion never
formed; ``fold_grams``, ``fold_path`` and the refit follow unchanged. Which
level columns a fit has depends on alpha (``_categorical.drop_first_levels``):
alpha == 0 with an intercept drops each categorical's reference level, which
is the same as solving on the Gram's sub-block without those rows and columns;
alpha > 0 keeps every level. A grid holding both solves each part on its
block. ``standardize`` scales the dense columns only, never the levels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import check_cv

from . import _core
from ._categorical import (
    MixedDesign,
    drop_first_levels,
    raise_nonfinite_cell,
    set_input_names,
    target_values,
)
from ._cv_path import (
    PathInfo,
    check_loo,
    check_width,
    fold_grams,
    fold_path,
    loo_path,
    loo_standardized,
    splitter_atoms,
)
from ._params import validate
from ._tables import Design, TableEncoder
from ._validation import check_weights
from .exceptions import NonFiniteError
from .resources import fit_clock

__all__ = ["fit_table"]


def fit_table(est: Any, X: Any, y: Any, sample_weight: Any, groups: Any) -> bool:
    """Fit ``LinearRegressionCV`` ``est`` on the table X; False (nothing set)
    when X has only numeric columns, all kept: the array path reads those."""
    from .linear_model import unchanged_on_failure

    with unchanged_on_failure(est):
        with fit_clock() as clock:
            validate({n: getattr(est, n) for n in est._parameters}, est._parameters)
            encoder = TableEncoder()
            design = encoder.fit_transform(X)
            if not len(design.n_levels) and design.dense_names == encoder.input_names:
                return False
            for note in encoder.notes:
                warnings.warn(note, UserWarning, stacklevel=3)
            _check_supported(est, design)
            if np.ndim(y) == 2 and np.shape(y)[1] > 1:
                raise ValueError(
                    f"LinearRegressionCV on a table whose columns fastcost types (categorical "
                    f"columns, or columns left out: {_left_out(encoder)}) takes one target (y of "
                    f"shape ({design.n_rows},)), got y of shape {np.shape(y)}: fit one per "
                    "target, or pass the numeric columns as an array (categorical ones "
                    "encoded first, e.g. pandas.get_dummies(X, dtype=float)), whose fit "
                    "takes several"
                )
            yv = target_values(y, design.n_rows)
            sw = check_weights(sample_weight, design.n_rows, np.dtype(np.float64))
            fit_encoded(est, encoder, design, LocalRows(design, yv, sw, est), X, groups)
        set_report(est, clock, design, design.n_rows)
    return True


def _left_out(encoder: TableEncoder) -> str:
    """The columns the encoder left out, with their roles, or "none"."""
    kept = ("numeric", "bool", "categorical")
    out = [f"{c!r} ({r})" for c, r in encoder.roles_.items() if r not in kept]
    return ", ".join(out) if out else "none"


def fit_encoded(
    est: Any, encoder: TableEncoder, layout: Design, rows: Any, X: Any, groups: Any
) -> None:
    """Score, select and refit ``est`` on the encoded rows: ``rows`` is
    :class:`LocalRows` or a cluster's (``_dask_cv_tables.ClusterTable``), with
    ``n_rows``, ``split``, ``atom_stats`` and ``loo``; ``layout`` a ``Design``
    whose dense width and levels are the table's (its rows are not read)."""
    width = _check_supported(est, layout)
    alphas = np.asarray(est.alphas, dtype=np.float64)
    columns = (
        f"{width} expanded columns: {layout.dense.shape[1]} dense + "
        f"{int(layout.n_levels.sum())} levels"
    )
    if est.cv is None:
        scores, total, shift = _leave_one_out(est, layout, rows, alphas, groups)
        est.n_splits_, est.n_passes_ = rows.n_rows, 2
        est.fit_info_ = (
            f"exact leave-one-out over {rows.n_rows} rows x {alphas.size} alphas "
            f"({columns}): " + (
                "each training set standardized by its own moments, its Gram the full "
                "one less the row's, one eigendecomposition per row and level set"
                if est.standardize
                else "one eigendecomposition of the full Gram per level set, one more "
                "pass for the leverages"
            )
        )  # fmt: skip
    else:
        scores, total, shift = _folds(est, X, layout, rows, alphas, groups, columns)
    est._select(alphas, scores[:, :, None], True)
    _refit(est, layout, total, shift)
    est.encoder_ = encoder
    est.feature_names_out_ = np.asarray(
        encoder.feature_names_out(np.zeros(len(layout.n_levels), dtype=bool)), object
    )
    set_input_names(est, encoder, X)


def set_report(est: Any, clock: Any, layout: Design, n_rows: int) -> None:
    """``fit_report_`` of a fit on ``n_rows`` rows of the table ``layout`` describes."""
    width = layout.dense.shape[1] + int(layout.n_levels.sum())
    row_bytes = 8 * (layout.dense.shape[1] + 2) + 4 * len(layout.n_levels)
    est.fit_report_ = clock.report(
        threads=_threads(est), n_passes=est.n_passes_, bytes_per_pass=n_rows * row_bytes,
        flops=float(est.n_passes_) * n_rows * (width + 2) ** 2,
    )  # fmt: skip


def _folds(
    est: Any, X: Any, layout: Design, rows: Any, alphas: np.ndarray, groups: Any, columns: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold scores (n_folds, n_alphas), the total Gram and the shift: one pass."""
    splitter = check_cv(est.cv, None, classifier=False)
    atom, train, test, n_splits = splitter_atoms(
        splitter, rows.n_rows, lambda: rows.split(splitter, X, groups)
    )
    grams, shift = rows.atom_stats(atom, train.shape[0])
    g_train, g_test, total = fold_grams(grams, train, test)
    scores, info = _fold_scores(est, layout, alphas, g_train, g_test, shift)
    est.n_splits_, est.n_passes_ = n_splits, 1
    est.fit_info_ = (
        f"{n_splits} folds x {alphas.size} alphas from one pass over the table "
        f"({train.shape[0]} row groups, {columns}); "
        "one eigendecomposition per fold and level set" + _direct_note(info)
    )
    return scores, total, shift


class LocalRows:
    """The rows of an encoded table in memory, as :func:`fit_encoded` reads them."""

    def __init__(self, design: Design, y: np.ndarray, sw: np.ndarray | None, est: Any) -> None:
        self.design, self.y, self.sw, self.est = design, y, sw, est
        self.n_rows = design.n_rows

    def split(self, splitter: Any, X: Any, groups: Any) -> list[Any]:
        return list(splitter.split(X, self.y, groups))

    def atom_stats(self, atom: np.ndarray, n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
        return atom_stats(self.design, self.y, self.sw, atom, n_atoms, self.est)

    def loo(self, sets: list[LevelSet], alphas: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Leave-one-out (MSE, R^2), each (len(idx), 1), for each level set."""
        out = []
        fit_intercept, Y = bool(self.est.fit_intercept), self.y[:, None]
        for s in sets:
            rows = _ExpandedRows(self.design, s.cols)
            if self.est.standardize:  # each training set by its own moments, levels unscaled
                out.append(loo_standardized(rows, Y, self.sw, s.gram, s.shift, alphas[s.idx],
                                            fit_intercept, s.fixed))  # fmt: skip
            else:
                out.append(loo_path(rows, Y, self.sw, s.gram, s.shift, alphas[s.idx],
                                    fit_intercept))  # fmt: skip
        return out


class _ExpandedRows:
    """The rows of a table's expanded design [dense, every level][:, cols], read
    as dense float64 blocks (``X[a:b]``) by ``_cv_path.loo_path``: a block at a
    time, never the whole expansion."""

    def __init__(self, design: Design, cols: np.ndarray) -> None:
        self.design, self.cols = design, cols
        self.shape = (design.n_rows, cols.size)

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.design.n_rows)
        block = self.design.take(np.arange(start, stop)).to_dense(drop_first=False)
        return np.ascontiguousarray(block[:, self.cols])


@dataclass
class LevelSet:
    """The alphas ``idx`` that share a level set: its columns ``cols`` among
    [dense, every level], which are level indicators (``fixed``), and the full
    data's augmented Gram and shift on them."""

    idx: np.ndarray
    cols: np.ndarray
    fixed: np.ndarray
    gram: np.ndarray
    shift: np.ndarray


def _leave_one_out(
    est: Any, layout: Design, rows: Any, alphas: np.ndarray, groups: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact leave-one-out scores (1, n_alphas), the total Gram and the shift: the
    Gram in one pass, then the leverages of the expanded rows in a second, for
    each level set (alpha == 0 drops the reference levels with an intercept)."""
    width = layout.dense.shape[1] + int(layout.n_levels.sum())
    check_loo(rows.est, groups, rows.n_rows, rows.sw, width)
    grams, shift = rows.atom_stats(np.zeros(rows.n_rows, np.int64), 1)
    total = grams[0]
    sets = []
    for part in (alphas == 0, alphas > 0):
        idx = np.flatnonzero(part)
        if idx.size:
            _, cols = level_set(layout, bool(est.fit_intercept), float(alphas[idx[0]]))
            sets.append(LevelSet(idx, cols, _fixed(layout, cols), *_block(total, shift, cols)))
    scores = np.empty((1, alphas.size))
    for s, (mse, r2) in zip(sets, rows.loo(sets, alphas), strict=True):
        scores[0, s.idx] = (r2 if est.scoring == "r2" else -mse)[:, 0]
    return scores, total, shift


def _check_supported(est: Any, design: Design) -> int:
    """The expanded width (dense + every level), or an error for what is not done."""
    width = design.dense.shape[1] + int(design.n_levels.sum())
    check_width(width, f"this table expands to {width}: dense columns plus one per level")
    return width


def _threads(est: Any) -> int:
    from ._threads import resolve_n_threads

    return resolve_n_threads(est.n_threads)


# -- statistics -------------------------------------------------------------------


def atom_stats(
    design: Design, y: np.ndarray, sw: np.ndarray | None, atom: np.ndarray, n_atoms: int,
    est: Any,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Every atom's augmented Gram (n_atoms, D + 2, D + 2) over [dense, every
    level, y, 1], about one common shift, from one read of the rows sorted by atom."""
    try:
        grams, shift = mixed_atom_grams(
            design, y, sw, atom, n_atoms, None, int(est.n_shards or 0), _threads(est)
        )
    except NonFiniteError as exc:
        _raise_nonfinite(design, exc)
    if not np.isfinite(grams).all():
        _raise_nonfinite(design, None)
    return grams, shift


def mixed_atom_grams(
    design: Design, y: np.ndarray, sw: np.ndarray | None, atom: np.ndarray, n_atoms: int,
    shift: np.ndarray | None, n_shards: int, n_threads: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Each atom's augmented Gram over [dense, every level, y, 1] about ``shift``
    (None: the first row of the lowest atom, for every atom), zeros for the atoms
    without rows, and the shift: ``_core.mixed_gram_stats`` on the rows sorted by
    atom. Also a Dask partition's task (``_dask_cv_tables``)."""
    order = np.argsort(atom, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(atom, minlength=n_atoms))]
    dense = design.dense[order]  # the one copy of the dense block, rows by atom
    ys = y[order]
    sws = None if sw is None else sw[order]
    keep = np.zeros(len(design.n_levels), dtype=bool)
    D = design.dense.shape[1] + int(design.n_levels.sum())
    grams = np.zeros((n_atoms, D + 2, D + 2))
    for a in np.flatnonzero(bounds[1:] > bounds[:-1]):
        rows = slice(int(bounds[a]), int(bounds[a + 1]))
        codes = np.ascontiguousarray(design.codes[:, order[rows]])
        st = _core.mixed_gram_stats(
            dense[rows], codes, design.n_levels, keep, ys[rows],
            None if sws is None else sws[rows], shift, n_shards, n_threads,
        )  # fmt: skip
        shift = np.asarray(st["shift"])  # the first atom's, for every other one
        grams[a] = st["gram"]
    assert shift is not None
    return grams, shift


def _raise_nonfinite(design: Design, original: BaseException | None) -> None:
    raise_nonfinite_cell(design.dense, design.dense_names, original)
    raise NonFiniteError(
        "numerical overflow: the values of X or y are too large for the sums of squares"
    ) from original


# -- level sets ----------------------------------------------------------------------


def level_set(design: Design, fit_intercept: bool, alpha: float) -> tuple[MixedDesign, np.ndarray]:
    """The level columns of a fit at ``alpha`` and their positions among [dense,
    every level] (a dropped reference level is left out)."""
    p, n_levels = design.dense.shape[1], design.n_levels
    drop = drop_first_levels(len(n_levels), fit_intercept, alpha)
    firsts = p + np.r_[0, np.cumsum(n_levels)[:-1]].astype(np.int64)
    cols = np.delete(np.arange(p + int(n_levels.sum())), firsts[drop])
    return MixedDesign(p, n_levels, drop), cols


def _block(gram: np.ndarray, shift: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The augmented Gram and shift of the columns ``cols`` (y and the ones kept)."""
    D = shift.size - 1
    idx = np.r_[cols, D, D + 1]
    return gram[np.ix_(idx, idx)], np.r_[shift[cols], shift[D]]


def _fixed(design: Design, cols: np.ndarray) -> np.ndarray:
    """Which of ``cols`` are level indicators (never standardized)."""
    return cols >= design.dense.shape[1]


def _fold_scores(
    est: Any, design: Design, alphas: np.ndarray, g_train: np.ndarray, g_test: np.ndarray,
    shift: np.ndarray,
) -> tuple[np.ndarray, PathInfo]:  # fmt: skip
    """(n_folds, n_alphas) scores: alpha == 0 and alpha > 0 each on their level set."""
    info = PathInfo()
    scores = np.empty((g_train.shape[0], alphas.size))
    for part in (alphas == 0, alphas > 0):
        idx = np.flatnonzero(part)
        if not idx.size:
            continue
        _, cols = level_set(design, bool(est.fit_intercept), float(alphas[idx[0]]))
        fixed = _fixed(design, cols)
        for j in range(g_train.shape[0]):
            train, sh = _block(g_train[j], shift, cols)
            test, _ = _block(g_test[j], shift, cols)
            mse, r2 = fold_path(
                train, test, sh, alphas[idx], cols.size, bool(est.fit_intercept),
                bool(est.standardize), info, j, fixed=fixed,
            )  # fmt: skip
            scores[j, idx] = (r2 if est.scoring == "r2" else -mse)[:, 0]
    return scores, info


def _refit(est: Any, design: Design, total: np.ndarray, shift: np.ndarray) -> None:
    """``coef_`` (an entry per level, 0 for a dropped reference) at ``alpha_``."""
    layout, cols = level_set(design, bool(est.fit_intercept), float(est.alpha_))
    gram, sh = _block(total, shift, cols)
    est._refit(gram, sh, np.dtype(np.float64), True, d=cols.size, fixed=_fixed(design, cols))
    coef = np.asarray(est.coef_, dtype=np.float64)
    est.coef_ = np.concatenate([coef[: layout.p], *layout.level_coefficients(coef)])
    est.reference_levels_dropped_ = layout.drop_first.copy()


def _direct_note(info: PathInfo) -> str:
    from .linear_model_cv import _direct_note as note

    return note(info)
