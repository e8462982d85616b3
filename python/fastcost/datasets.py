"""Data for comparisons: the built-in regression problem and user files.

Every dataset ends up as a :class:`Dataset`: an 80/20 train/test split with
``X`` standardized by a :class:`~sklearn.preprocessing.StandardScaler` fitted on
the training rows only. The target ``y`` is left as it is, so test MSE is in
the target's own units (for the built-in problem the noise floor is
``noise ** 2``).

User tables (delimited text, Parquet, Arrow) are read and typed column by
column by :mod:`fastcost._tables`: :func:`load_design` returns the
:class:`~fastcost._tables.Design` (dense columns and categorical codes) and the
target; :func:`load_file` expands each categorical column into 0/1 columns for
its levels but the first, and splits and standardizes like any other dataset.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._tables import (
    Design,
    TableEncoder,
    index_column,
    read_table,
    split_target,
    table_format,
    target_name,
)

__all__ = [
    "Dataset",
    "TableData",
    "make_default",
    "load_file",
    "load_design",
    "split_and_scale",
    "DEFAULT_N_SAMPLES",
]

DEFAULT_N_SAMPLES = 10_000
DEFAULT_N_FEATURES = 20
DEFAULT_NOISE = 0.1
DEFAULT_TEST_SIZE = 0.2


@dataclasses.dataclass
class Frames:
    """A table's split as fastcost's estimators take it: pandas frames of the
    (cleaned, standardized) numeric columns and the categorical columns, whose
    categories are the levels in code order (so the estimators code them alike)."""

    train: Any
    test: Any
    categorical: list[str]


@dataclasses.dataclass
class Dataset:
    """A standardized train/test split and where it came from.

    Attributes
    ----------
    X_train, X_test : ndarray of shape (n, n_features)
        C-contiguous, standardized with statistics of ``X_train``.
    y_train, y_test : ndarray of shape (n,)
        Targets, not scaled.
    description : dict
        Source, shapes, dtype, seed and preprocessing, for reports.

    Examples
    --------
    >>> from fastcost.datasets import make_default
    >>> data = make_default(n_samples=1000, n_features=5)
    >>> data.X_train.shape, data.X_test.shape
    ((800, 5), (200, 5))
    >>> data.description["source"]
    'sklearn.datasets.make_regression'
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    description: dict[str, Any]
    #: Tables with categorical columns: the split with the codes, for fastcost's
    #: own rows (``X_*`` then hold each categorical one-hot, for the baselines).
    frames: Frames | None = None

    @property
    def n_features(self) -> int:
        """Number of columns of ``X``."""
        return int(self.X_train.shape[1])


def split_and_scale(
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    test_size: float = DEFAULT_TEST_SIZE,
    dtype: npt.DTypeLike = np.float64,
    description: dict[str, Any] | None = None,
    clean: str = "raise",
    standardize: bool = True,
) -> Dataset:
    """Split ``X, y`` into train and test and standardize ``X`` on the train part.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    seed : int, default=0
        ``random_state`` of :func:`~sklearn.model_selection.train_test_split`.
    test_size : float, default=0.2
    dtype : dtype, default=float64
        dtype of the returned arrays.
    description : dict, optional
        Extra entries for ``Dataset.description``.
    clean : {"raise", "drop", "impute"}, default="raise"
        What to do with NaN/inf (:func:`fastcost.preprocessing.clean`, before the split).
    standardize : bool, default=True
        Standardize X with :class:`fastcost.preprocessing.StandardScaler` fitted on
        the training rows. The steps' reports go to ``description["preprocessing_reports"]``.

    Returns
    -------
    Dataset
    """
    from sklearn.model_selection import train_test_split

    from .preprocessing import StandardScaler
    from .preprocessing import clean as clean_data

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    reports: dict[str, Any] = {}
    if clean != "raise" or not (np.isfinite(X).all() and np.isfinite(y).all()):
        X, y_kept, clean_report = clean_data(X, y, policy=clean)
        assert y_kept is not None  # clean returns y's rows when given y
        y = y_kept
        reports["clean"] = clean_report.as_dict()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed
    )
    scaler = StandardScaler(with_mean=standardize, with_std=standardize).fit(X_train)
    if standardize:
        reports["standardize"] = scaler.report_.as_dict()
    dt = np.dtype(dtype)
    desc = dict(description or {})
    desc.update(
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        n_train=int(X_train.shape[0]),
        n_test=int(X_test.shape[0]),
        test_size=test_size,
        split_seed=seed,
        dtype=dt.name,
        preprocessing=(
            "X standardized with fastcost's StandardScaler fitted on the training rows; y unscaled"
            if standardize
            else "X not standardized; y unscaled"
        ),
        preprocessing_reports=reports,
    )
    return Dataset(
        X_train=np.ascontiguousarray(scaler.transform(X_train), dtype=dt),
        X_test=np.ascontiguousarray(scaler.transform(X_test), dtype=dt),
        y_train=np.ascontiguousarray(y_train, dtype=dt),
        y_test=np.ascontiguousarray(y_test, dtype=dt),
        description=desc,
    )


def make_default(
    n_samples: int = DEFAULT_N_SAMPLES,
    n_features: int = DEFAULT_N_FEATURES,
    *,
    noise: float = DEFAULT_NOISE,
    seed: int = 0,
    dtype: npt.DTypeLike = np.float64,
    standardize: bool = True,
) -> Dataset:
    """The built-in problem: ``make_regression`` split 80/20 and standardized.

    Parameters
    ----------
    n_samples : int, default=10000
    n_features : int, default=20
    noise : float, default=0.1
        Standard deviation of the Gaussian noise on ``y``; the best possible
        test MSE is about ``noise ** 2``.
    seed : int, default=0
        Seeds both the generator and the split.
    dtype : dtype, default=float64

    Returns
    -------
    Dataset
    """
    from sklearn.datasets import make_regression

    if n_samples < 10:
        raise ValueError(f"n_samples must be at least 10, got {n_samples}")
    if n_features < 1:
        raise ValueError(f"n_features must be at least 1, got {n_features}")
    X, y = make_regression(
        n_samples=n_samples, n_features=n_features, noise=noise, random_state=seed
    )
    return split_and_scale(
        X,
        y,
        seed=seed,
        dtype=dtype,
        standardize=standardize,
        description={
            "source": "sklearn.datasets.make_regression",
            "noise": noise,
            "generator_seed": seed,
        },
    )


def _xy_from_array(arr: np.ndarray, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f".npy data must be 2-D with at least 2 columns, got shape {arr.shape}")
    col = arr.shape[1] - 1
    if target is not None:
        try:
            col = int(target)
        except ValueError:
            raise ValueError(f"--target for .npy data is a column index, got {target!r}") from None
        if not -arr.shape[1] <= col < arr.shape[1]:
            raise ValueError(f"target column {col} out of range for {arr.shape[1]} columns")
        col %= arr.shape[1]
    return np.delete(arr, col, axis=1), arr[:, col], str(col)


def _npz_xy(path: str, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    with np.load(path, allow_pickle=False) as archive:
        name = target or "y"
        missing = [k for k in ("X", name) if k not in archive.files]
        if missing:
            raise ValueError(f"{path} lacks arrays {missing}; it has {archive.files}")
        X, y = archive["X"], archive[name]
    if X.ndim == 1:
        X = X[:, None]
    return X, y, name


def _array_xy(path: str, fmt: str, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    if fmt == "npy":
        return _xy_from_array(np.load(path, allow_pickle=False), target)
    return _npz_xy(path, target)


@dataclasses.dataclass
class TableData:
    """A user file as a :class:`~fastcost._tables.Design` and a target, not split.

    Attributes
    ----------
    design : Design
        Dense numeric columns (NaN where missing) and categorical codes.
    y : ndarray of shape (n,)
        The target, float64; rows without a target value are already dropped.
    target : str
        The target column's name (``.npy``: its index; ``.npz``: the array's name).
    encoder : TableEncoder
        Fitted on the file's feature columns; ``encoder.transform`` encodes new
        tables the same way.
    description : dict
        Source, format, target, rows, ``features`` (the names of
        ``design.to_dense(drop_first=True)``'s columns), ``categorical`` (levels
        per categorical column), ``roles`` and ``notes``; JSON-serializable.
    """

    design: Design
    y: np.ndarray
    target: str
    encoder: TableEncoder
    description: dict[str, Any]


def _check_exists(path: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "data file does not exist", path)


def load_design(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    sep: str | None = None,
    categorical: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
) -> TableData:
    """Read a user file into a :class:`~fastcost._tables.Design` and a target.

    Parameters
    ----------
    path : str or path-like
        Delimited text (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``/``.bz2``/
        ``.xz``; delimiter guessed), ``.parquet``/``.pq``, ``.feather``/``.arrow``/
        ``.ipc``, ``.npy`` (a 2-D array) or ``.npz`` (arrays ``X`` and ``y``).
    target : str, optional
        A column name for tables (or its integer position when no column has
        that name; default: the last column), a column index for ``.npy``
        (default: the last column), the target array's name for ``.npz``
        (default: ``"y"``). It must be numeric or boolean; rows without a value
        are dropped (with a note).
    sep : str, optional
        Delimiter of a text file (default: guessed).
    categorical, features, drop : list of str, optional
        As for :class:`~fastcost._tables.TableEncoder`.

    Returns
    -------
    TableData

    Notes
    -----
    An unnamed first column that counts the rows or holds row names (as R and
    pandas write them) is recognized on the whole file and left out. Text,
    Parquet and Arrow files need pandas (and pyarrow for Parquet and Arrow):
    ``pip install 'fastcost[data]'``.
    """
    path = os.fspath(path)
    _check_exists(path)
    fmt = table_format(path)
    notes: list[str] = []
    drop_cols = list(drop or [])
    frame: Any
    if fmt in ("npy", "npz"):
        X, y, name = _array_xy(path, fmt, target)
        frame, y = np.asarray(X), np.asarray(y, dtype=np.float64).reshape(-1)
        if frame.ndim == 2 and frame.shape[0] != y.shape[0]:
            raise ValueError(f"X has {frame.shape[0]} rows but y has {y.shape[0]}")
        keep = ~np.isnan(y)
        if not keep.all():
            notes.append(f"target {name!r}: {int((~keep).sum())} of {y.shape[0]} rows have no "
                         "value and were dropped")  # fmt: skip
            frame, y = frame[keep], y[keep]
    else:
        table = read_table(path, sep=sep)
        name = target_name(table, target)
        found = index_column(table)
        if found is not None and found[0] != name and found[0] not in (categorical or ()):
            drop_cols.append(found[0])
            notes.append(found[1])
        frame, y = split_target(table, target, notes=notes)
    for option, listed in (("categorical", categorical), ("features", features)):
        if name in (listed or ()):
            raise ValueError(
                f"the target column {name!r} cannot be in --{option}: it is what the "
                "features predict"
            )
    encoder = TableEncoder(categorical=categorical, features=features, drop=drop_cols or None)
    design = encoder.fit_transform(frame)
    design.notes[:0] = notes
    description = {
        "source": os.path.abspath(path),
        "format": os.path.splitext(path)[1].lower().lstrip("."),
        "target": name,
        "n_rows": design.n_rows,
        "features": design.feature_names_out(drop_first=True),
        "categorical": {
            c: int(k) for c, k in zip(design.categorical_names, design.n_levels, strict=True)
        },
        "roles": dict(encoder.roles_),
        "notes": list(design.notes),
    }
    return TableData(design, y, name, encoder, description)


def _raise_on_missing(design: Design) -> None:
    bad = np.isnan(design.dense).sum(axis=0)
    if bad.any():
        cols = {design.dense_names[j]: int(bad[j]) for j in np.flatnonzero(bad)}
        raise ValueError(
            f"missing values (NaN) in columns {cols}; "
            "use clean='drop' or clean='impute' (fastcost compare --clean drop|impute)"
        )


def load_file(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    seed: int = 0,
    dtype: npt.DTypeLike = np.float64,
    clean: str = "raise",
    standardize: bool = True,
    sep: str | None = None,
    categorical: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
) -> Dataset:
    """Load a user file, split it 80/20 and standardize ``X``.

    Parameters
    ----------
    path : str or path-like
        A table (``.csv``, ``.tsv``, ``.txt``, compressed or not, ``.parquet``/
        ``.pq``, ``.feather``/``.arrow``/``.ipc``), ``.npy`` (a 2-D array) or
        ``.npz`` (arrays ``X`` and ``y``); see :func:`load_design`.
    target : str, optional
        The target: a column name for tables (default: the last column), a column
        index for ``.npy`` (default: the last column), the name of the target
        array for ``.npz`` (default: ``"y"``).
    seed : int, default=0
        Seed of the train/test split.
    dtype : dtype, default=float64
    clean : {"raise", "drop", "impute"}, default="raise"
        Missing numeric values (NaN) and inf; ``raise`` names the columns.
    standardize : bool, default=True
    sep, categorical, features, drop
        For tables, as for :func:`load_design`.

    Returns
    -------
    Dataset
        For tables, ``X`` holds the numeric and boolean columns, then one 0/1
        column per level of each categorical column except its first (reference)
        level, as :meth:`~fastcost._tables.Design.to_dense` builds them; column
        names, levels and the encoder's notes are in ``description``
        (``features``, ``categorical``, ``roles``, ``notes``).

    Notes
    -----
    Tables need pandas (and pyarrow for Parquet and Arrow):
    ``pip install 'fastcost[data]'``.
    """
    path = os.fspath(path)
    _check_exists(path)
    fmt = table_format(path)
    if fmt in ("npy", "npz"):
        X, y, name = _array_xy(path, fmt, target)
        description: dict[str, Any] = {"target": name}
    else:
        data = load_design(
            path, target=target, sep=sep, categorical=categorical, features=features, drop=drop
        )
        if clean == "raise":
            _raise_on_missing(data.design)
        description = dict(data.description)
        description.update(
            source=os.path.abspath(path), format=os.path.splitext(path)[1].lower().lstrip(".")
        )
        return split_table(data.design, data.y, seed=seed, dtype=dtype, description=description,
                           clean=clean, standardize=standardize)  # fmt: skip
    description.update(
        source=os.path.abspath(path), format=os.path.splitext(path)[1].lower().lstrip(".")
    )
    return split_and_scale(
        X,
        y,
        seed=seed,
        dtype=dtype,
        description=description,
        clean=clean,
        standardize=standardize,
    )


def _clean_split(
    dense: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray], clean: str,
    names: list[str],
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], dict[str, Any]]:  # fmt: skip
    """The train/test dense blocks and targets after ``clean``, fitted on the
    training rows only: ``drop`` removes the rows holding NaN or inf in each
    part, ``impute`` fills cells with the training rows' column means."""
    from .preprocessing import Cleaner

    report: dict[str, Any] = {"policy": clean}
    keep = [np.isfinite(t) for t in y]
    if clean == "drop":
        keep = [k & np.isfinite(d).all(axis=1) for k, d in zip(keep, dense, strict=True)]
    if not all(k.all() for k in keep):
        report["rows_dropped"] = {"train": int((~keep[0]).sum()), "test": int((~keep[1]).sum())}
        dense = (dense[0][keep[0]], dense[1][keep[1]])
        y = (y[0][keep[0]], y[1][keep[1]])
    if clean == "impute" and dense[0].shape[1]:
        cleaner = Cleaner(policy="impute").fit(dense[0])
        empty = [names[j] for j in np.flatnonzero(np.isnan(cleaner.statistics_))]
        if empty:
            raise ValueError(f"columns {empty} have no value in the training rows to impute from")
        cols = {names[j]: int(np.count_nonzero(~np.isfinite(dense[0][:, j])))
                for j in range(len(names)) if not np.isfinite(dense[0][:, j]).all()}  # fmt: skip
        report["imputed_from_training_rows"] = cols
        dense = (cleaner.transform(dense[0]), cleaner.transform(dense[1]))
    return dense, y, report


def split_table(
    design: Design, y: np.ndarray, *, seed: int = 0, test_size: float = DEFAULT_TEST_SIZE,
    dtype: npt.DTypeLike = np.float64, description: dict[str, Any] | None = None,
    clean: str = "raise", standardize: bool = True,
) -> Dataset:  # fmt: skip
    """Split a table's design 80/20 (the rows :func:`split_and_scale` would pick),
    clean and standardize its numeric columns with statistics of the training rows
    only, and keep the categorical columns as codes (``Dataset.frames``) and, for
    the baselines, as 0/1 columns for every level but the first (``X_*``)."""
    from sklearn.model_selection import train_test_split

    from .preprocessing import StandardScaler

    if clean == "drop":
        kept = int((np.isfinite(design.dense).all(axis=1) & np.isfinite(y)).sum())
        if kept < 2:
            rows_left = "1 row remains" if kept == 1 else f"{kept} rows remain"
            raise ValueError(
                f"too few rows: {rows_left} after --clean drop removed the rows holding NaN or "
                "infinity; the 80/20 train/test split needs at least 2"
            )
    rows = train_test_split(np.arange(design.n_rows), test_size=test_size, random_state=seed)
    parts = [design.take(r) for r in rows]
    (d_train, d_test), (y_train, y_test), clean_report = _clean_split(
        (parts[0].dense, parts[1].dense), (y[rows[0]], y[rows[1]]), clean, design.dense_names
    )
    for k, part in enumerate(parts):  # the rows the cleaning kept, in every column
        keep = np.isfinite(part.dense).all(axis=1) if clean == "drop" else None
        finite_y = np.isfinite(y[rows[k]])
        mask = finite_y if keep is None else keep & finite_y
        parts[k] = part.take(np.flatnonzero(mask))
    for name, n in (("training", len(y_train)), ("test", len(y_test))):
        if n < 1:
            raise ValueError(f"too few rows: no {name} rows remain after --clean {clean}")
    reports: dict[str, Any] = {"clean": clean_report}
    if d_train.shape[1]:
        scaler = StandardScaler(with_mean=standardize, with_std=standardize).fit(d_train)
        d_train, d_test = scaler.transform(d_train), scaler.transform(d_test)
        if standardize:
            reports["standardize"] = scaler.report_.as_dict()
    dt = np.dtype(dtype)
    frames = []
    X = []
    baseline_levels = _training_levels(parts[0])
    for part, dense in zip(parts, (d_train, d_test), strict=True):
        part.dense = np.asfortranarray(dense, dtype=np.float64)
        X.append(np.ascontiguousarray(_one_hot(part, baseline_levels), dtype=dt))
        frames.append(_frame(part))
    desc = dict(description or {})
    desc.update(
        n_samples=int(len(y_train) + len(y_test)), n_features=int(X[0].shape[1]),
        n_train=int(len(y_train)), n_test=int(len(y_test)), test_size=test_size,
        split_seed=seed, dtype=dt.name, preprocessing_reports=reports,
        preprocessing=(
            "numeric columns cleaned and standardized with statistics of the training rows; "
            "categorical columns coded (one-hot, first level dropped, for the baselines); "
            "y unscaled"
        ),
    )  # fmt: skip
    return Dataset(
        X_train=X[0], X_test=X[1],
        y_train=np.ascontiguousarray(y_train, dtype=dt),
        y_test=np.ascontiguousarray(y_test, dtype=dt),
        description=desc,
        frames=Frames(frames[0], frames[1], list(design.categorical_names))
        if len(design.n_levels) else None,
    )  # fmt: skip


def _training_levels(train: Design) -> list[np.ndarray]:
    """Per categorical, the levels the training rows hold but the first of them:
    the baselines' 0/1 columns, in the layout of fastcost's fit of the frames
    (levels without training rows left out, the first level present the
    reference), so that every SGD row can start from the same weights."""
    out = []
    for codes, n in zip(train.codes, train.n_levels, strict=True):
        counts = np.bincount(codes[codes >= 0], minlength=int(n))
        out.append(np.flatnonzero(counts)[1:])
    return out


def _one_hot(part: Design, kept: list[np.ndarray]) -> np.ndarray:
    """The dense columns, then a 0/1 column per kept level (a test row of a level
    the training rows lack has none set: the reference, as fastcost predicts it)."""
    cols = [part.dense]
    cols += [(codes[:, None] == levels[None, :]).astype(np.float64)
             for codes, levels in zip(part.codes, kept, strict=True)]  # fmt: skip
    return np.hstack(cols)


def _frame(design: Design) -> Any:
    """A pandas frame of a design: numeric columns, then categoricals whose
    categories are the levels in code order."""
    import pandas as pd

    cols: dict[str, Any] = {n: design.dense[:, j] for j, n in enumerate(design.dense_names)}
    for k, name in enumerate(design.categorical_names):
        cols[name] = pd.Categorical.from_codes(design.codes[k], categories=design.levels[k])
    return pd.DataFrame(cols)
