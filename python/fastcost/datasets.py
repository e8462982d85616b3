"""Data for comparisons: the built-in regression problem and user files.

Every dataset ends up as a :class:`Dataset`: an 80/20 train/test split with
``X`` standardized by a :class:`~sklearn.preprocessing.StandardScaler` fitted on
the training rows only. The target ``y`` is left as it is, so test MSE is in
the target's own units (for the built-in problem the noise floor is
``noise ** 2``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Dataset", "make_default", "load_file", "split_and_scale", "DEFAULT_N_SAMPLES"]

DEFAULT_N_SAMPLES = 10_000
DEFAULT_N_FEATURES = 20
DEFAULT_NOISE = 0.1
DEFAULT_TEST_SIZE = 0.2

_DATA_HINT = "pip install 'fastcost[data]'"


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


def _read_table(path: str, fmt: str) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"reading {fmt} files needs pandas; install it with {_DATA_HINT}"
        ) from exc
    if fmt == "parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(
                f"reading Parquet files needs pyarrow; install it with {_DATA_HINT}"
            ) from exc
    return pd.read_csv(path)


def _xy_from_frame(frame: Any, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    columns = [str(c) for c in frame.columns]
    if len(columns) < 2:
        raise ValueError("the table needs at least one feature column and a target column")
    name = columns[-1] if target is None else target
    if name not in columns:
        raise ValueError(f"target column {name!r} not found; columns are {columns}")
    frame = frame.rename(columns=str)
    features = frame.drop(columns=[name])
    non_numeric = [c for c in features.columns if not np.issubdtype(features[c].dtype, np.number)]
    if non_numeric or not np.issubdtype(frame[name].dtype, np.number):
        bad = non_numeric + ([] if np.issubdtype(frame[name].dtype, np.number) else [name])
        raise ValueError(f"columns must be numeric; not numeric: {bad}")
    return features.to_numpy(dtype=np.float64), frame[name].to_numpy(dtype=np.float64), name


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


def load_file(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    seed: int = 0,
    dtype: npt.DTypeLike = np.float64,
    clean: str = "raise",
    standardize: bool = True,
) -> Dataset:
    """Load a user file, split it 80/20 and standardize ``X``.

    Parameters
    ----------
    path : str or path-like
        ``.csv`` (with a header row), ``.parquet``/``.pq``, ``.npy`` (a 2-D
        array) or ``.npz`` (arrays ``X`` and ``y``).
    target : str, optional
        The target: a column name for CSV/Parquet (default: the last column),
        a column index for ``.npy`` (default: the last column), the name of the
        target array for ``.npz`` (default: ``"y"``). All other columns are
        features and must be numeric.
    seed : int, default=0
        Seed of the train/test split.
    dtype : dtype, default=float64

    Returns
    -------
    Dataset

    Notes
    -----
    CSV and Parquet need pandas (and pyarrow for Parquet):
    ``pip install 'fastcost[data]'``.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if ext == ".csv":
        X, y, name = _xy_from_frame(_read_table(path, "csv"), target)
    elif ext in (".parquet", ".pq"):
        X, y, name = _xy_from_frame(_read_table(path, "parquet"), target)
    elif ext == ".npy":
        X, y, name = _xy_from_array(np.load(path, allow_pickle=False), target)
    elif ext == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            name = target or "y"
            missing = [k for k in ("X", name) if k not in archive.files]
            if missing:
                raise ValueError(f"{path} lacks arrays {missing}; it has {archive.files}")
            X, y = archive["X"], archive[name]
        if X.ndim == 1:
            X = X[:, None]
    else:
        raise ValueError(f"unsupported file type {ext!r}; use .csv, .parquet, .npy or .npz")
    return split_and_scale(
        X,
        y,
        seed=seed,
        dtype=dtype,
        description={"source": os.path.abspath(path), "format": ext.lstrip("."), "target": name},
        clean=clean,
        standardize=standardize,
    )
