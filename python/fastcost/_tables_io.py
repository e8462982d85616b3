"""Reading user tables from files: delimited text, Parquet, Feather/Arrow IPC, NumPy.

:func:`read_table` returns a pandas DataFrame with pandas' default dtypes (text
columns get pandas' default string dtype). Errors name the file and the problem.
"""

from __future__ import annotations

import bz2
import csv
import errno
import gzip
import lzma
import os
from typing import IO, Any

import numpy as np

__all__ = ["read_table", "table_format", "sniff_delimiter", "SUPPORTED_EXTENSIONS"]

_TEXT = (".csv", ".tsv", ".txt")
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_PARQUET = (".parquet", ".pq")
_ARROW = (".feather", ".arrow", ".ipc")
_NUMPY = (".npy", ".npz")
SUPPORTED_EXTENSIONS = (*_TEXT, *_PARQUET, *_ARROW, *_NUMPY)
SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_DATA_HINT = "pip install 'fastcost[data]'"


def table_format(path: str) -> str:
    """``"text"``, ``"parquet"``, ``"arrow"``, ``"npy"`` or ``"npz"`` from the file name.

    Raises
    ------
    ValueError
        For any other extension, listing the supported ones.
    """
    base, ext = os.path.splitext(path.lower())
    if ext in _COMPRESSED and os.path.splitext(base)[1] in _TEXT:
        return "text"
    if ext in _TEXT:
        return "text"
    if ext in _PARQUET:
        return "parquet"
    if ext in _ARROW:
        return "arrow"
    if ext in _NUMPY:
        return ext[1:]
    supported = ", ".join(SUPPORTED_EXTENSIONS)
    raise ValueError(
        f"unsupported file type {ext or '(no extension)'!r} for {path}; supported: {supported} "
        f"(text files may also end in {', '.join(_COMPRESSED)})"
    )


def _open_text(path: str) -> IO[str]:
    opener = _COMPRESSED.get(os.path.splitext(path.lower())[1])
    if opener is None:
        return open(path, encoding="utf-8-sig", errors="replace", newline="")
    return opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="")  # type: ignore[no-any-return, operator]


def sniff_delimiter(path: str, default: str = ",") -> str:
    """The delimiter of a text table, guessed by :class:`csv.Sniffer` from its first
    64 KB among ``, ; TAB |``; ``default`` when the guess fails (e.g. one column)."""
    with _open_text(path) as fh:
        sample = fh.read(SNIFF_BYTES)
    if len(sample) == SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    if not sample.strip():
        return default
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return default


def _pandas(what: str) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"reading {what} files needs pandas; install it with {_DATA_HINT}"
        ) from exc
    return pd


def _read_text(path: str, sep: str | None) -> Any:
    pd = _pandas("CSV")
    if sep is None:
        default = "\t" if ".tsv" in os.path.basename(path.lower()) else ","
        sep = sniff_delimiter(path, default)
    try:
        return pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: it has no header and no data rows") from None


def _read_arrow(path: str) -> Any:
    pd = _pandas("Feather/Arrow")
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"reading Arrow files needs pyarrow; install it with {_DATA_HINT}"
        ) from exc
    try:
        return pd.read_feather(path)
    except pa.ArrowInvalid:
        pass
    try:
        with ipc.open_stream(path) as reader:
            return reader.read_all().to_pandas()
    except pa.ArrowInvalid as exc:
        raise ValueError(
            f"{path} is neither a Feather/Arrow IPC file nor an IPC stream: {exc}"
        ) from None


def _read_parquet(path: str) -> Any:
    pd = _pandas("Parquet")
    try:
        return pd.read_parquet(path)
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"reading Parquet files needs pyarrow; install it with {_DATA_HINT}"
        ) from exc


def _numpy_frame(path: str, fmt: str) -> Any:
    """``.npy``: columns ``"0"``, ``"1"``, ...; ``.npz``: the columns of array ``X``
    named the same way, then every other 1-D array as a column named by its key."""
    pd = _pandas("NumPy table")
    if fmt == "npy":
        arrays = {"X": np.load(path, allow_pickle=False)}
    else:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        if "X" not in arrays:
            raise ValueError(f"{path} has no array 'X'; it has {sorted(arrays)}")
    X = arrays.pop("X")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{path}: the table must be 1-D or 2-D, got shape {X.shape}")
    columns = {str(j): X[:, j] for j in range(X.shape[1])}
    for key, arr in arrays.items():
        if arr.ndim != 1 or arr.shape[0] != X.shape[0]:
            raise ValueError(
                f"{path}: array {key!r} has shape {arr.shape}; other arrays than 'X' must be 1-D "
                f"with one value per row of 'X' ({X.shape[0]})"
            )
        columns[key] = arr
    return pd.DataFrame(columns)


def read_table(path: str | os.PathLike[str], *, sep: str | None = None) -> Any:
    """Read a table from a file into a pandas DataFrame.

    Parameters
    ----------
    path : str or path-like
        ``.csv``, ``.tsv``, ``.txt`` (delimited text with a header row, optionally
        compressed: ``.gz``, ``.bz2``, ``.xz``), ``.parquet``/``.pq``,
        ``.feather``/``.arrow``/``.ipc`` (Arrow IPC file or stream), ``.npy`` (a
        1-D or 2-D array; columns ``"0"``, ``"1"``, ...) or ``.npz`` (array ``X``
        as for ``.npy`` plus each other 1-D array, e.g. ``y``, as a column).
    sep : str, optional
        Delimiter of a text file. Default: guessed from the first 64 KB among
        ``,``, ``;``, TAB and ``|``; ``,`` (TAB for ``.tsv``) when that fails.

    Returns
    -------
    pandas.DataFrame
        With pandas' default dtypes; ``NA`` and empty fields are missing values.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unsupported extension (the message lists the supported ones), an empty
        file, or a file with a header but no data rows.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "data file does not exist", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "expected a data file, got a directory", path)
    fmt = table_format(path)
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path} is empty: it has no header and no data rows")
    if fmt == "text":
        frame = _read_text(path, sep)
    elif fmt == "parquet":
        frame = _read_parquet(path)
    elif fmt == "arrow":
        frame = _read_arrow(path)
    else:
        frame = _numpy_frame(path, fmt)
    if frame.shape[0] == 0:
        cols = [str(c) for c in frame.columns]
        raise ValueError(f"{path} has no data rows (only the columns {cols})")
    return frame
