"""Categorical columns in ``fastcost.fit_dataset``: levels from a first scan,
then newton's one pass over the coded design, batch by batch.

The first scan reads only the categorical columns (text, dictionary, and those
named in ``categorical_features``) and collects their distinct values; the
:class:`~fastcost._tables.TableEncoder` of the main job is then fitted on those
levels, so every batch is coded exactly as a fit of the whole table in memory
would code it. The newton pass sums, batch by batch about one shift, the same
compiled mixed statistics as :class:`~fastcost._categorical.MixedBackend`
(which this backend is, with its data read from files), the block-arrow
elimination of a categorical with many levels included.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _core
from ._categorical import MixedBackend, MixedDesign, drop_first_levels
from ._streaming import missing_cell, nonfinite_error
from ._tables import TableEncoder
from ._tables_roles import _identifier_like
from ._threads import resolve_n_threads
from .exceptions import NonFiniteError


def is_categorical_type(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t))


def scan_levels(src: Any, progress: Any) -> TableEncoder:
    """The encoder of the dataset's columns, its levels from one scan of the
    categorical columns (the numeric ones are not read)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cats = list(src.categorical)
    seen: dict[str, list[Any]] = {c: [] for c in cats}
    present = dict.fromkeys(cats, 0)
    missing = dict.fromkeys(cats, 0)
    first = None
    for _, _, batch in src.batches(columns=[*src.features, src.target] if first is None else cats):
        if first is None:
            first = batch
        for c in cats:
            col = batch.column(c)
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            seen[c].append(pc.unique(col))  # the native type: integers sort as numbers
            present[c] += len(col) - col.null_count
            missing[c] += col.null_count
        progress.add(batch.num_rows)
    progress.close()
    if first is None:
        raise ValueError(f"the dataset ({len(src.files)} file(s)) has no rows")
    distinct = {c: pc.unique(pa.chunked_array(seen[c])).drop_null() for c in cats}
    for c in cats:
        if c not in src.declared and _identifier_like(len(distinct[c]), present[c]):
            warnings.warn(
                f"column {c!r} has {len(distinct[c]):,} distinct values in {present[c]:,} rows: "
                "an identifier or free text, left out (name it in "
                f"{src.arguments['categorical_features']} to keep it as a categorical)",
                UserWarning,
                stacklevel=3,
            )
            src.features.remove(c)
            src.categorical.remove(c)
    encoder = _fit_encoder(src, first, distinct, {c: missing[c] > 0 for c in src.categorical})
    for c, levels in zip(encoder.categorical_names_, encoder.levels_, strict=True):
        if missing[c]:  # the encoder saw one null per column: the note with the real count
            warnings.warn(
                f"column {c!r}: {missing[c]} missing value(s) form their own level {levels[-1]!r}",
                UserWarning,
                stacklevel=3,
            )
    return encoder


def _fit_encoder(src: Any, first: Any, distinct: dict[str, Any], nulls: dict[str, bool]
                 ) -> TableEncoder:  # fmt: skip
    """A TableEncoder fitted on a table of every level (a missing one as a null)
    beside the numeric columns of the first batch, recycled to its length."""
    import pyarrow as pa

    length = max([1, *(len(distinct[c]) + int(nulls[c]) for c in src.categorical)])
    columns = {}
    for name in src.features:
        if name in src.categorical:
            values = distinct[name]
            values = pa.concat_arrays([values, pa.nulls(int(nulls[name]), values.type)])
            columns[name] = values.take(pa.array(np.arange(length) % max(len(values), 1)))
        else:
            columns[name] = first.column(name).take(pa.array(np.arange(length) % first.num_rows))
    # The index column was decided on the whole file (_stream_source._without_index):
    # a few recycled rows of an integer feature would look like row numbers.
    encoder = TableEncoder(categorical=list(src.categorical), index=False)
    encoder.fit(pa.table(columns))
    return encoder


class StreamMixedBackend(MixedBackend):
    """:class:`MixedBackend` over a dataset of files: newton from one pass of the
    mixed statistics summed over the batches (the levels come from a first scan)."""

    def __init__(self, est: Any, src: Any, progress: bool, bar: Any) -> None:
        self.src, self.progress = src, progress
        self.encoder = scan_levels(src, bar("levels scan"))
        self._bar = bar
        n_levels = np.array([len(lv) for lv in self.encoder.levels_], dtype=np.int64)
        drop = drop_first_levels(len(n_levels), bool(est.fit_intercept), float(est.alpha))
        self.design = MixedDesign(len(self.encoder.dense_names_), n_levels, drop)
        self.n_samples = src.n_rows or 0
        self.y = np.zeros(0)
        self.sw = None
        self.n_nonzero = 0
        self._init_layout(est)
        self.solvers = ("newton",)
        self.n_threads = resolve_n_threads(est.n_threads)
        self.reads = 1
        self._stats: dict[str, dict[str, Any]] = {}

    def where(self) -> str:
        k = len(self.design.n_levels)
        return (
            f" streaming {len(self.src.files)} {self.src.fmt} file(s) on a mixed design "
            f"({self.design.p} dense + {k} categorical)"
        )

    def _nonzero(self) -> int:
        return self.n_nonzero

    def _pass(self, kind: str) -> dict[str, Any]:
        if kind in self._stats:
            return self._stats[kind]
        d = self.design
        drop = d.drop_first if kind == "gram" else self.arrow_drop_first()
        total: dict[str, Any] | None = None
        rows = nonzero = 0
        bar = self._bar(f"newton pass ({kind})")
        for path, offset, batch in self.src.batches():
            design = self.encoder.transform(batch)
            y, sw = self.src.target_weights(batch)
            if not (np.isfinite(y).all() and (sw is None or np.isfinite(sw).all())):
                raise nonfinite_error(path, offset, self.src, None, y, sw, ValueError())
            bad = _core.find_nonfinite(design.dense) if design.dense.shape[1] else None
            if bad is not None:
                raise missing_cell(path, self.encoder.dense_names_[bad[1]], offset + bad[0])
            shift = None if total is None else total["shift"]
            args = (design.dense, design.codes, d.n_levels)
            if kind == "gram":
                st = _core.mixed_gram_stats(*args, drop, y, sw, shift, 0, self.n_threads)
            else:
                st = _core.mixed_arrow_stats(*args, drop, self.arrow, y, sw, shift, 0,
                                             self.n_threads)  # fmt: skip
            total = dict(st) if total is None else _add_sums(total, st)
            rows += batch.num_rows
            nonzero += batch.num_rows if sw is None else int(np.count_nonzero(sw))
            bar.add(batch.num_rows)
        bar.close()
        if total is None:
            raise ValueError(f"the dataset ({len(self.src.files)} file(s)) has no rows")
        if not np.isfinite(np.asarray(total["gram"])).all():
            raise NonFiniteError(
                "numerical overflow: the values are too large for the sums of squares; rescale them"
            )
        self.n_samples, self.n_nonzero = rows, nonzero
        self.reads += 1
        self._stats = {kind: total}
        return total


def _add_sums(total: dict[str, Any], part: Any) -> dict[str, Any]:
    """Two batches' mixed statistics about the same shift: their sums add."""
    out = dict(total)
    for key, value in dict(part).items():
        if key == "shift" or not isinstance(value, np.ndarray):
            continue
        out[key] = np.asarray(total[key]) + value
    return out
