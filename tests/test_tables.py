"""The table layer: reading files, column roles, the Design, targets, and the
real tables of tests/data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pytest
from fastcost._tables import (
    MISSING_LEVEL,
    Design,
    TableEncoder,
    UnseenLevelWarning,
    index_column,
    read_table,
    sniff_delimiter,
    split_target,
)
from fastcost._tables_columns import factorize_text
from fastcost.datasets import load_design, load_file
from fastcost.linear_model import LinearRegression

DATA = Path(__file__).resolve().parent / "data"
STRING_DTYPES = [
    pd.StringDtype("python", na_value=pd.NA),
    pd.StringDtype("pyarrow", na_value=pd.NA),
    pd.StringDtype("python", na_value=np.nan),
    pd.StringDtype("pyarrow", na_value=np.nan),
]


def _levels(design: Design, k: int) -> list[str]:
    return [str(v) for v in design.levels[k]]


# --- pandas dtypes ----------------------------------------------------------------


def test_numeric_and_nullable_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "f": [1.5, np.nan, 3.0],
            "i": np.array([1, 2, 3], dtype=np.int32),
            "I": pd.array([1, pd.NA, 3], dtype="Int64"),
            "F": pd.array([0.5, pd.NA, 2.5], dtype="Float64"),
            "b": [True, False, True],
            "B": pd.array([True, pd.NA, False], dtype="boolean"),
        }
    )
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_ == {
        "f": "numeric", "i": "numeric", "I": "numeric", "F": "numeric", "b": "bool", "B": "bool",
    }  # fmt: skip
    assert design.dense_names == ["f", "i", "I", "F", "b", "B"]
    expected = np.array(
        [[1.5, 1, 1, 0.5, 1, 1], [np.nan, 2, np.nan, np.nan, 0, np.nan], [3, 3, 3, 2.5, 1, 0]]
    )
    np.testing.assert_array_equal(design.dense, expected)
    assert design.dense.dtype == np.float64 and design.dense.flags.f_contiguous
    assert design.codes.shape == (0, 3) and design.codes.dtype == np.int32
    assert design.n_levels.shape == (0,) and design.n_levels.dtype == np.int64
    assert "column 'I': 1 missing value(s), NaN in the design" in design.notes


@pytest.mark.parametrize("dtype", STRING_DTYPES, ids=str)
def test_string_dtypes(dtype: pd.StringDtype) -> None:
    frame = pd.DataFrame({"s": pd.array(["b", None, "a", "b"], dtype=dtype)})
    design = TableEncoder().fit_transform(frame)
    assert design.categorical_names == ["s"]
    assert _levels(design, 0) == ["a", "b", MISSING_LEVEL]
    assert design.codes.tolist() == [[1, 2, 0, 1]]
    assert design.codes.flags.c_contiguous and design.codes.dtype == np.int32
    assert design.n_levels.tolist() == [3]
    assert design.dense.shape == (4, 0)
    assert "column 's': 1 missing value(s) form their own level '<missing>'" in design.notes


def test_object_columns() -> None:
    frame = pd.DataFrame(
        {
            "text": np.array(["x", None, "y"], dtype=object),
            "nums": np.array([1, None, 2.5], dtype=object),
            "flags": np.array([True, None, False], dtype=object),
            "mixed": np.array(["a", 1, None], dtype=object),
        }
    )
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_ == {"text": "categorical", "nums": "numeric", "flags": "bool",
                          "mixed": "categorical"}  # fmt: skip
    np.testing.assert_array_equal(design.dense, [[1, 1], [np.nan, np.nan], [2.5, 0]])
    assert _levels(design, 0) == ["x", "y", MISSING_LEVEL]
    assert _levels(design, 1) == ["1", "a", MISSING_LEVEL]
    assert design.codes.tolist() == [[0, 2, 1], [1, 0, 2]]


def test_category_keeps_its_order_and_leaves_out_unused_categories() -> None:
    cat = pd.Categorical(["lo", "hi", None, "lo"], categories=["lo", "mid", "hi"])
    design = TableEncoder().fit_transform(pd.DataFrame({"c": cat}))
    assert _levels(design, 0) == ["lo", "hi", MISSING_LEVEL]
    assert design.codes.tolist() == [[0, 1, 2, 0]]
    assert design.n_levels.tolist() == [3]
    assert design.feature_names_out(drop_first=True) == ["c=hi", "c=<missing>"]
    assert design.feature_names_out(drop_first=False)[0] == "c=lo"
    assert design.notes == [
        "column 'c': 1 category of its dtype without rows left out of its levels ('mid')",
        "column 'c': 1 missing value(s) form their own level '<missing>'",
    ]


def test_category_of_numbers_labels() -> None:
    cat = pd.Categorical([3, 1, 3], categories=[3, 1, 2])
    design = TableEncoder().fit_transform(pd.DataFrame({"c": cat}))
    assert _levels(design, 0) == ["3", "1"]
    assert design.codes.tolist() == [[0, 1, 0]]


@pytest.mark.parametrize("container", ["pandas", "polars-enum", "arrow-dictionary"])
def test_unused_first_category_is_not_the_reference(container: str) -> None:
    """Salaries.csv with ``rank`` declaring a level no row has, first: the fit,
    its reference level and its standard errors are those of the table without
    it (statsmodels-style OLS from numpy), and predict treats the level as
    unseen."""
    df = pd.read_csv(DATA / "Salaries.csv").drop(columns="Unnamed: 0")
    y = df.pop("salary").to_numpy(dtype=np.float64)
    levels = ["Emeritus", "AsstProf", "AssocProf", "Prof"]
    frame: object
    if container == "pandas":
        frame = df.assign(rank=pd.Categorical(df["rank"], categories=levels))
    elif container == "polars-enum":
        frame = pl.from_pandas(df).with_columns(pl.col("rank").cast(pl.Enum(levels)))
    else:
        table = pa.Table.from_pandas(df, preserve_index=False)
        dictionary = pa.DictionaryArray.from_arrays(
            pa.array([levels.index(v) for v in df["rank"]], pa.int32()), pa.array(levels)
        )
        frame = table.set_column(table.schema.get_field_index("rank"), "rank", dictionary)
    with pytest.warns(UserWarning, match=r"column 'rank': 1 category .* \('Emeritus'\)"):
        model = LinearRegression(compute_statistics=True).fit(frame, y)
    assert [n for n in model.feature_names_out_ if n.startswith("rank=")] == [
        "rank=AsstProf", "rank=AssocProf", "rank=Prof",
    ]  # fmt: skip
    A = pd.get_dummies(df.astype({"rank": pd.CategoricalDtype(levels[1:])}), drop_first=True,
                       prefix_sep="=", dtype=np.float64)  # fmt: skip
    A.insert(0, "const", 1.0)
    a = A.to_numpy(dtype=np.float64)
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    resid = y - a @ coef
    cov = resid @ resid / (y.size - a.shape[1]) * np.linalg.inv(a.T @ a)
    fitted = dict(zip(model.feature_names_out_, model.coef_, strict=True))
    errors = dict(zip(model.feature_names_out_, model.coef_stderr_, strict=True))
    for j, name in enumerate(A.columns[1:], start=1):
        assert fitted[name] == pytest.approx(coef[j], rel=1e-9)
        assert errors[name] == pytest.approx(np.sqrt(cov[j, j]), rel=1e-9)
    assert fitted["rank=AsstProf"] == 0.0 and model.intercept_ == pytest.approx(coef[0], rel=1e-9)
    if container == "pandas":
        row = df.iloc[:1].assign(rank=pd.Categorical(["AsstProf"], categories=levels))
        emeritus = row.assign(rank=pd.Categorical(["Emeritus"], categories=levels))
        with pytest.warns(UnseenLevelWarning, match="Emeritus"):
            assert model.predict(emeritus)[0] == model.predict(row)[0]


def test_datetime_left_out_with_note() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "x": [1.0, 2.0],
            "span": pd.to_timedelta([1, 2], unit="D"),
        }  # fmt: skip
    )
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_ == {"when": "datetime", "x": "numeric", "span": "datetime"}
    assert design.dense_names == ["x"] and design.categorical_names == []
    assert any(n.startswith("column 'when' left out: date/time") for n in design.notes)
    forced = TableEncoder(categorical=["when"]).fit_transform(frame)
    assert _levels(forced, 0) == ["2024-01-01", "2024-02-01"]


def test_constant_columns_kept() -> None:
    frame = pd.DataFrame({"k": [1.0, 1.0, 1.0], "g": ["a", "a", "a"]})
    design = TableEncoder().fit_transform(frame)
    assert design.dense_names == ["k"] and design.n_levels.tolist() == [1]


def test_complex_column_left_out() -> None:
    frame = pd.DataFrame({"z": np.array([1 + 1j, 2j]), "x": [1.0, 2.0]})
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_["z"] == "unsupported" and design.dense_names == ["x"]
    assert any("column 'z' left out" in n for n in design.notes)


# --- other libraries --------------------------------------------------------------


def _mixed_pandas() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 4.0],
            "n": pd.array([1, 2, pd.NA, 4], dtype="Int64"),
            "ok": pd.array([True, False, pd.NA, True], dtype="boolean"),
            "g": pd.array(["b", "a", None, "c"], dtype="str"),
        }
    )


def _assert_same(a: Design, b: Design) -> None:
    np.testing.assert_array_equal(a.dense, b.dense)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.n_levels, b.n_levels)
    assert a.dense_names == b.dense_names and a.categorical_names == b.categorical_names
    assert [list(v) for v in a.levels] == [list(v) for v in b.levels]
    assert a.notes == b.notes


def test_polars_and_arrow_give_the_pandas_design() -> None:
    frame = _mixed_pandas()
    expected = TableEncoder().fit_transform(frame)
    assert expected.dense_names == ["x", "n", "ok"] and _levels(expected, 0) == [
        "a", "b", "c", MISSING_LEVEL,
    ]  # fmt: skip
    polars_frame = pl.DataFrame(
        {
            "x": [1.0, None, 3.0, 4.0],
            "n": [1, 2, None, 4],
            "ok": [True, False, None, True],
            "g": ["b", "a", None, "c"],
        }  # fmt: skip
    )
    _assert_same(TableEncoder().fit_transform(polars_frame), expected)
    _assert_same(TableEncoder().fit_transform(pa.Table.from_pandas(frame)), expected)
    _assert_same(TableEncoder().fit_transform(pl.from_pandas(frame)), expected)


def test_arrow_dictionary_and_polars_enum_keep_their_order() -> None:
    cat = pd.Categorical(["lo", "hi", None], categories=["lo", "mid", "hi"])
    expected = TableEncoder().fit_transform(pd.DataFrame({"c": cat}))
    table = pa.Table.from_pandas(pd.DataFrame({"c": cat}))
    _assert_same(TableEncoder().fit_transform(table), expected)
    enum = pl.DataFrame({"c": pl.Series(["lo", "hi", None], dtype=pl.Enum(["lo", "mid", "hi"]))})
    _assert_same(TableEncoder().fit_transform(enum), expected)


def test_polars_datetime_left_out() -> None:
    frame = pl.DataFrame({"t": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 3),
                                                 eager=True), "x": [1, 2, 3]})  # fmt: skip
    enc = TableEncoder().fit(frame)
    assert enc.roles_ == {"t": "datetime", "x": "numeric"}


def test_polars_duration_left_out_or_categorical_when_named() -> None:
    import datetime

    hours = [datetime.timedelta(hours=h) for h in (0, 1, 1, 2)] + [None]
    frame = pl.DataFrame({"d": hours, "x": [1.0, 2.0, 3.0, 5.0, 4.0]})
    enc = TableEncoder().fit(frame)
    assert enc.roles_ == {"d": "datetime", "x": "numeric"}
    design = TableEncoder(categorical=["d"]).fit_transform(frame)
    assert _levels(design, 0) == ["0:00:00", "1:00:00", "2:00:00", MISSING_LEVEL]
    assert design.codes.tolist() == [[0, 1, 1, 2, 3]]


def test_numpy_inputs() -> None:
    numeric = np.array([[1, 2], [3, 4], [5, 6]])
    design = TableEncoder().fit_transform(numeric)
    assert design.dense_names == ["0", "1"]
    np.testing.assert_array_equal(design.dense, numeric)
    objects = np.array([[1.0, "a"], [None, "b"], [2.0, None]], dtype=object)
    design = TableEncoder().fit_transform(objects)
    assert design.dense_names == ["0"] and design.categorical_names == ["1"]
    np.testing.assert_array_equal(design.dense[:, 0], [1.0, np.nan, 2.0])
    assert design.codes.tolist() == [[0, 1, 2]]
    forced = TableEncoder(categorical=["0"]).fit_transform(numeric)
    assert forced.categorical_names == ["0"] and _levels(forced, 0) == ["1", "3", "5"]
    with pytest.raises(ValueError, match="2-D"):
        TableEncoder().fit(np.arange(3.0))
    with pytest.raises(TypeError, match="pandas, polars or pyarrow"):
        TableEncoder().fit([[1, 2]])


def test_duplicate_column_names() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValueError, match=r"duplicate column names: \['a'\]"):
        TableEncoder().fit(frame)


# --- index, identifiers, options --------------------------------------------------


@pytest.mark.parametrize("name", ["Unnamed: 0", "", None])
@pytest.mark.parametrize("first", [0, 1])
def test_unnamed_row_counter_is_dropped(name: str | None, first: int) -> None:
    frame = pd.DataFrame({name: np.arange(first, first + 5), "x": np.arange(5.0) ** 2})
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    label = "" if name is None else name
    assert enc.roles_ == {label: "index", "x": "numeric"}
    assert design.dense_names == ["x"]
    assert f"counting the rows ({first}..{first + 4}) is the row index" in design.notes[0]
    assert index_column(frame) == (label, design.notes[0])


@pytest.mark.parametrize(
    ("values", "note"),
    [([3, 1, 2, 5, 4], "(1 to 5)"), ([0, 1, 2, 3, 5], "(0 to 5)"), (["7", "2", "9"], "(2 to 9)")],
    ids=["shuffled", "gap", "text"],
)
def test_unnamed_row_numbers_of_a_subset_are_dropped(values: list[object], note: str) -> None:
    frame = pd.DataFrame({"Unnamed: 0": values, "x": np.arange(len(values), dtype=np.float64)})
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_ == {"Unnamed: 0": "index", "x": "numeric"}
    assert f"of distinct row numbers {note} is the row index" in design.notes[0]


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"id": np.arange(5), "x": np.ones(5)}),  # named
        pd.DataFrame({"Unnamed: 0": [3, 1, 2, 3, 4], "x": np.ones(5)}),  # a repeat
        pd.DataFrame({"Unnamed: 0": [0, 1, -2, 3, 5], "x": np.ones(5)}),  # negative
        pd.DataFrame({"Unnamed: 0": [0, 1, 2.5, 3, 5], "x": np.ones(5)}),  # not whole
        pd.DataFrame({"x": np.ones(5), "Unnamed: 1": np.arange(5)}),  # not first
    ],
    ids=["named", "repeat", "negative", "fractional", "not-first"],
)
def test_index_lookalikes_are_kept(frame: pd.DataFrame) -> None:
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert "index" not in enc.roles_.values()
    assert design.dense.shape == (5, 2)
    assert index_column(frame) is None


def test_unnamed_row_names_are_dropped() -> None:
    frame = pd.DataFrame({"Unnamed: 0": ["Mazda", "Fiat", "Ford"], "g": ["a", "b", "a"]})
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_["Unnamed: 0"] == "index" and design.categorical_names == ["g"]
    assert "holds row names" in design.notes[0]
    kept = TableEncoder(categorical=["Unnamed: 0"]).fit_transform(frame)
    assert kept.categorical_names == ["Unnamed: 0", "g"]


def test_high_cardinality_text_left_out() -> None:
    n = 60
    frame = pd.DataFrame(
        {
            "title": [f"title {i}" for i in range(n)],
            "few": [f"v{i % 40}" for i in range(n)],
            "x": np.arange(n, dtype=float),
        }  # fmt: skip
    )
    frame.loc[0, "title"] = None
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_["title"] == "identifier" and enc.roles_["few"] == "categorical"
    assert design.categorical_names == ["few"] and design.n_levels.tolist() == [40]
    assert (
        "column 'title' left out: 59 distinct values in 59 rows look like identifiers or free "
        "text (categorical_features=['title'] keeps it)"
    ) in design.notes
    forced = TableEncoder(categorical=["title"]).fit_transform(frame)
    assert forced.categorical_names == ["title", "few"] and forced.n_levels[0] == n


def test_fifty_distinct_values_stay_categorical() -> None:
    frame = pd.DataFrame({"g": [f"v{i}" for i in range(50)]})
    assert TableEncoder().fit_transform(frame).n_levels.tolist() == [50]


def test_features_drop_and_categorical_options() -> None:
    frame = pd.DataFrame({"a": [1, 2, 1], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "x"]})
    enc = TableEncoder(features=["a", "c"], categorical=["a"])
    design = enc.fit_transform(frame)
    assert enc.roles_ == {"a": "categorical", "b": "dropped", "c": "categorical"}
    assert design.categorical_names == ["a", "c"] and _levels(design, 0) == ["1", "2"]
    assert design.codes.tolist() == [[0, 1, 0], [0, 1, 0]]
    design = TableEncoder(drop=["c"]).fit_transform(frame)
    assert design.dense_names == ["a", "b"] and design.categorical_names == []
    with pytest.raises(ValueError, match=r"columns not in the table: \['zz'\]"):
        TableEncoder(drop=["zz"]).fit(frame)


# --- transform ----------------------------------------------------------------------


def test_unseen_levels_warn_and_get_code_zero() -> None:
    enc = TableEncoder().fit(pd.DataFrame({"g": ["b", "a", "b"], "x": [1.0, 2.0, 3.0]}))
    new = pd.DataFrame({"x": [4.0, 5.0, 6.0, 7.0], "g": ["b", "c", "d", "c"]})
    with pytest.warns(UnseenLevelWarning) as record:
        design = enc.transform(new)
    assert design.codes.tolist() == [[1, 0, 0, 0]]
    np.testing.assert_array_equal(design.dense[:, 0], [4.0, 5.0, 6.0, 7.0])
    message = str(record[0].message)
    assert message == (
        "column 'g': 2 value(s) not seen at fit ('c', 'd'), in 3 row(s), coded as the "
        "reference level 'a'"
    )
    assert message in design.notes


def test_unseen_levels_message_shows_five() -> None:
    enc = TableEncoder().fit(pd.DataFrame({"g": ["a"]}))
    with pytest.warns(UnseenLevelWarning, match=r"7 value\(s\).*'f' and 2 more"):
        enc.transform(pd.DataFrame({"g": list("bcdefgh")}))


def test_missing_at_transform_without_missing_at_fit() -> None:
    enc = TableEncoder().fit(pd.DataFrame({"g": ["a", "b"]}))
    with pytest.warns(UnseenLevelWarning, match="<missing>"):
        design = enc.transform(pd.DataFrame({"g": ["b", None]}))
    assert design.codes.tolist() == [[1, 0]]


def test_missing_level_seen_at_fit() -> None:
    enc = TableEncoder().fit(pd.DataFrame({"g": ["a", None]}))
    design = enc.transform(pl.DataFrame({"g": [None, "a", None]}))
    assert design.codes.tolist() == [[1, 0, 1]]


def test_transform_missing_columns_and_type_change() -> None:
    enc = TableEncoder().fit(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "c": [1, 2]}))
    with pytest.raises(ValueError, match=r"columns missing from the table: \['a', 'c'\]"):
        enc.transform(pd.DataFrame({"b": ["x"]}))
    with pytest.raises(
        ValueError, match=r"fitted on a table with columns \['a', 'c', 'b'\]: pass a table"
    ):
        enc.transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="column 'a' was numeric at fit but now holds text"):
        enc.transform(pd.DataFrame({"a": ["1"], "b": ["x"], "c": [1]}))
    with pytest.raises(ValueError, match="not fitted"):
        TableEncoder().transform(pd.DataFrame({"a": [1.0]}))


def test_transform_ignores_left_out_columns() -> None:
    frame = pd.DataFrame({"Unnamed: 0": [0, 1, 2], "x": [1.0, 2.0, 3.0], "g": ["a", "b", "a"]})
    enc = TableEncoder().fit(frame)
    design = enc.transform(pd.DataFrame({"g": ["b"], "x": [9.0]}))
    assert design.dense.tolist() == [[9.0]] and design.codes.tolist() == [[1]]


def test_design_to_dense_and_take() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "g": ["a", "c", "b"], "h": ["u", "u", "v"]})
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.feature_names_out() == ["x", "g=b", "g=c", "h=v"]
    np.testing.assert_array_equal(design.to_dense(), [[1, 0, 0, 0], [2, 0, 1, 0], [3, 1, 0, 1]])
    full = design.to_dense(drop_first=False)
    assert full.shape == (3, 6) and full.flags.f_contiguous
    np.testing.assert_array_equal(full[:, 1:].sum(axis=1), [2, 2, 2])
    part = design.take([2, 0])
    assert part.dense.tolist() == [[3.0], [1.0]] and part.codes.tolist() == [[1, 0], [1, 0]]
    assert part.dense.flags.f_contiguous and part.codes.flags.c_contiguous
    assert design.take(np.array([True, False, True])).n_rows == 2


def test_per_column_drop_first_and_aliases() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "g": ["a", "b"], "h": ["u", "v"]})
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    flags = np.array([False, True])
    assert enc.feature_names_out(flags) == ["x", "g=a", "g=b", "h=v"]
    assert design.feature_names_out(flags) == enc.feature_names_out(flags)
    np.testing.assert_array_equal(design.to_dense(flags), [[1, 1, 0, 0], [2, 0, 1, 1]])
    with pytest.raises(ValueError, match="one flag per categorical column"):
        design.to_dense([True])
    assert enc.notes == enc.notes_ and enc.input_names == ["x", "g", "h"]


def test_columns_by_position() -> None:
    frame = pd.DataFrame({"a": [1, 2, 1], "b": [0.5, 1.5, 2.5]})
    enc = TableEncoder(categorical=[0], drop=[-1])
    design = enc.fit_transform(frame)
    assert design.categorical_names == ["a"] and design.dense_names == []
    with pytest.raises(ValueError, match=r"columns not in the table: \['7'\]"):
        TableEncoder(categorical=[7]).fit(frame)


def test_text_factorization_without_pandas() -> None:
    values = np.array(["pear", "apple", "fig", "apple", "pear"], dtype=object)
    expected = (["apple", "fig", "pear"], [2, 0, 1, 0, 2])
    for use_pandas in (True, False):
        labels, codes = factorize_text(values, use_pandas=use_pandas)
        assert (labels, codes.tolist()) == expected


# --- target --------------------------------------------------------------------------


def test_split_target_by_name_and_position() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [3.0, 4.0], "b": ["u", "v"]})
    X, y = split_target(frame, "y")
    assert list(X.columns) == ["a", "b"] and y.tolist() == [3.0, 4.0] and y.dtype == np.float64
    X, y = split_target(frame, 0)
    assert list(X.columns) == ["y", "b"] and y.tolist() == [1.0, 2.0]
    X, y = split_target(frame, "-2")
    assert y.tolist() == [3.0, 4.0]
    with pytest.raises(
        ValueError, match=r"target column 'price' not found; the columns are \['a', 'y', 'b'\]"
    ):
        split_target(frame, "price")
    with pytest.raises(ValueError, match="target column 'b' must be numeric or boolean, got text"):
        split_target(frame, "b")
    with pytest.raises(ValueError, match="not found"):
        split_target(frame, 3)


def test_split_target_nullable_and_missing() -> None:
    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0], "y": pd.array([1, pd.NA, 3, pd.NA], dtype="Int64")}
    )
    notes: list[str] = []
    X, y = split_target(frame, "y", notes=notes)
    assert y.tolist() == [1.0, 3.0] and X["x"].tolist() == [1.0, 3.0]
    assert notes == ["target 'y': 2 of 4 rows have no value and were dropped"]
    frame["f"] = pd.array([0.5, 1.5, pd.NA, 2.5], dtype="Float64")
    X, y = split_target(frame, "f")
    assert y.tolist() == [0.5, 1.5, 2.5] and len(X) == 3
    with pytest.raises(ValueError, match="has no values"):
        split_target(pd.DataFrame({"x": [1.0], "y": [np.nan]}), "y")


def test_split_target_bool_and_other_libraries() -> None:
    X, y = split_target(pd.DataFrame({"x": [1.0, 2.0], "t": [True, False]}), "t")
    assert y.tolist() == [1.0, 0.0]
    X, y = split_target(pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, None, 2.0]}), "y")
    assert (
        isinstance(X, pl.DataFrame) and X["x"].to_list() == [1.0, 3.0] and y.tolist() == [1.0, 2.0]
    )
    X, y = split_target(pa.table({"y": [1, None, 2], "x": ["a", "b", "c"]}), "y")
    assert isinstance(X, pa.Table) and X.column("x").to_pylist() == ["a", "c"]
    X, y = split_target(np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]]), "1")
    assert X.tolist() == [[1.0], [5.0]] and y.tolist() == [2.0, 6.0]
    X, y = split_target(pd.DataFrame({"x": [1.0], "y": [2.0]}))
    assert y.tolist() == [2.0]


# --- reading files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sep", "ext"), [(";", ".csv"), ("\t", ".tsv"), (",", ".csv"), ("\t", ".txt"), ("|", ".txt")]
)
def test_sniffed_delimiters(tmp_path: Path, sep: str, ext: str) -> None:
    rows = [["name", "size", "price"], ["a b", "1", "2.5"], ["c", "3", ""], ["d", "5", "7.5"]]
    path = tmp_path / f"t{ext}"
    path.write_text("\n".join(sep.join(r) for r in rows) + "\n")
    assert sniff_delimiter(str(path)) == sep
    frame = read_table(path)
    assert list(frame.columns) == ["name", "size", "price"]
    assert frame["size"].tolist() == [1, 3, 5] and np.isnan(frame["price"][1])
    assert isinstance(frame["name"].dtype, pd.StringDtype)


def test_semicolon_with_commas_in_text_and_explicit_sep(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('city;pop\n"Paris, FR";2\n"Rome, IT";3\n')
    assert read_table(path)["city"].tolist() == ["Paris, FR", "Rome, IT"]
    assert read_table(path, sep=";")["pop"].tolist() == [2, 3]


def test_one_column_and_compressed_text(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("y\n1\n2\n")
    assert sniff_delimiter(str(path)) == "," and read_table(path)["y"].tolist() == [1, 2]
    gz = tmp_path / "t.tsv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("a\tb\n1\tx\n2\ty\n")
    assert read_table(gz)["b"].tolist() == ["x", "y"]


def test_read_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        read_table(missing)
    assert str(missing) in str(info.value)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv is empty: it has no header and no data rows"):
        read_table(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b,c\n")
    with pytest.raises(
        ValueError, match=r"header.csv has no data rows \(only the columns \['a', 'b', 'c'\]\)"
    ):
        read_table(header)
    odd = tmp_path / "t.xlsx"
    odd.write_text("x")
    with pytest.raises(
        ValueError, match=r"unsupported file type '.xlsx'.*\.csv, \.tsv, \.txt, \.parquet"
    ):
        read_table(odd)
    with pytest.raises(IsADirectoryError):
        read_table(tmp_path)


def test_binary_formats(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.5, None], "g": pd.array(["x", None], dtype="str"), "n": [1, 2]})
    frame.to_parquet(tmp_path / "t.parquet")
    feather.write_feather(pa.Table.from_pandas(frame), str(tmp_path / "t.feather"))
    table = pa.Table.from_pandas(frame)
    with ipc.new_stream(str(tmp_path / "s.arrow"), table.schema) as writer:
        writer.write_table(table)
    for name in ("t.parquet", "t.feather", "s.arrow"):
        got = read_table(tmp_path / name)
        assert got["g"].tolist()[0] == "x" and got["g"].isna().tolist() == [False, True]
        assert got["n"].tolist() == [1, 2]
        _assert_same(TableEncoder().fit_transform(got), TableEncoder().fit_transform(frame))
    empty = tmp_path / "e.parquet"
    frame.iloc[:0].to_parquet(empty)
    with pytest.raises(ValueError, match="has no data rows"):
        read_table(empty)
    bad = tmp_path / "bad.arrow"
    bad.write_bytes(b"not arrow at all")
    with pytest.raises(ValueError, match="neither a Feather/Arrow IPC file nor an IPC stream"):
        read_table(bad)


def test_numpy_files(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert list(read_table(tmp_path / "a.npy").columns) == ["0", "1"]
    np.savez(tmp_path / "a.npz", X=np.array([[1.0, 2.0], [3.0, 4.0]]), y=np.array([5.0, 6.0]))
    frame = read_table(tmp_path / "a.npz")
    assert list(frame.columns) == ["0", "1", "y"] and frame["y"].tolist() == [5.0, 6.0]
    np.savez(tmp_path / "b.npz", X=np.ones((2, 2)), w=np.ones(3))
    with pytest.raises(ValueError, match="array 'w' has shape"):
        read_table(tmp_path / "b.npz")


# --- the real tables of tests/data -------------------------------------------------


def test_salaries() -> None:
    data = load_design(DATA / "Salaries.csv", target="salary")
    assert data.design.n_rows == 397 and data.y[:3].tolist() == [139750.0, 173200.0, 79750.0]
    assert data.encoder.roles_ == {
        "Unnamed: 0": "dropped", "rank": "categorical", "discipline": "categorical",
        "yrs.since.phd": "numeric", "yrs.service": "numeric", "sex": "categorical",
    }  # fmt: skip
    assert data.design.notes[0] == (
        "column 'Unnamed: 0' left out: an unnamed first column counting the rows (1..397) "
        "is the row index"
    )
    assert data.description["features"] == [
        "yrs.since.phd", "yrs.service", "rank=AsstProf", "rank=Prof", "discipline=B", "sex=Male",
    ]  # fmt: skip
    assert data.design.dense[0].tolist() == [19.0, 18.0]
    # the encoder alone finds the same index column
    X, _ = split_target(read_table(DATA / "Salaries.csv"), "salary")
    assert TableEncoder().fit(X).roles_["Unnamed: 0"] == "index"


def test_msleep() -> None:
    data = load_design(DATA / "msleep.csv", target="sleep_total")
    roles = data.encoder.roles_
    assert roles["name"] == roles["genus"] == "identifier"
    assert [c for c, r in roles.items() if r == "categorical"] == ["vore", "order", "conservation"]
    assert data.design.dense_names == ["sleep_rem", "sleep_cycle", "awake", "brainwt", "bodywt"]
    assert data.design.n_levels.tolist() == [5, 19, 7]
    assert _levels(data.design, 0) == ["carni", "herbi", "insecti", "omni", MISSING_LEVEL]
    assert int((data.design.codes[0] == 4).sum()) == 7
    assert int(np.isnan(data.design.dense[:, 1]).sum()) == 51
    assert "column 'genus' left out: 77 distinct values in 83 rows look like identifiers or " \
        "free text (categorical_features=['genus'] keeps it)" in data.design.notes  # fmt: skip


def test_prestige_row_names() -> None:
    data = load_design(DATA / "Prestige.csv", target="prestige")
    assert data.design.n_rows == 102
    assert "holds row names" in data.design.notes[0]
    assert data.design.dense_names == ["education", "income", "women", "census"]
    assert _levels(data.design, 0) == ["bc", "prof", "wc", MISSING_LEVEL]
    assert int((data.design.codes[0] == 3).sum()) == 4


def test_slid_missing_target_and_index_before_dropping() -> None:
    data = load_design(DATA / "SLID.csv", target="wages")
    assert data.design.n_rows == 7425 - 3278 and not np.isnan(data.y).any()
    assert data.design.notes[:2] == [
        "column 'Unnamed: 0' left out: an unnamed first column counting the rows (1..7425) "
        "is the row index",
        "target 'wages': 3278 of 7425 rows have no value and were dropped",
    ]
    assert data.design.dense_names == ["education", "age"]
    assert data.description["categorical"] == {"sex": 2, "language": 4}


def test_load_file_tables(tmp_path: Path) -> None:
    data = load_file(DATA / "Salaries.csv", target="salary", seed=1)
    assert data.X_train.shape == (317, 6) and data.X_test.shape == (80, 6)
    assert data.description["target"] == "salary" and data.description["format"] == "csv"
    with pytest.raises(ValueError, match=r"missing values \(NaN\) in columns \{'education': 133\}"):
        load_file(DATA / "SLID.csv", target="wages")
    dropped = load_file(DATA / "SLID.csv", target="wages", clean="drop")
    assert dropped.n_features == 6
    assert dropped.X_train.shape[0] + dropped.X_test.shape[0] == 7425 - 3278 - 133
    np.save(tmp_path / "d.npy", np.column_stack([np.arange(20.0), np.ones(20), np.arange(20.0)]))
    old = load_file(tmp_path / "d.npy", target="0", standardize=False)
    assert old.n_features == 2 and old.description["target"] == "0"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_file(tmp_path / "none.npy")


# --- fast paths: results as the general ones -------------------------------------------


def test_string_dtype_factorized_once_sorted() -> None:
    values = ["pear", None, "apple", "fig", "apple", "", "pear"]
    for dtype in ("string[python]", "string[pyarrow]", "str"):
        frame = pd.DataFrame({"s": pd.Series(values, dtype=dtype)})
        enc = TableEncoder()
        design = enc.fit_transform(frame)
        assert _levels(design, 0) == ["", "apple", "fig", "pear", MISSING_LEVEL]
        assert design.codes.tolist() == [[3, 4, 1, 2, 1, 0, 3]]
        assert enc.transform(frame).codes.tolist() == design.codes.tolist()
        as_objects = TableEncoder().fit_transform(frame.astype(object))
        assert as_objects.codes.tolist() == design.codes.tolist()


def test_category_codes_and_counts_from_the_dtype() -> None:
    cats = [f"c{i}" for i in range(200)]
    codes = np.r_[np.arange(60), -1, 3]
    frame = pd.DataFrame({"g": pd.Categorical.from_codes(codes, cats)})
    enc = TableEncoder()
    design = enc.fit_transform(frame)
    assert enc.roles_ == {"g": "identifier"} and "60 distinct values in 61 rows" in design.notes[0]
    few = np.where(codes < 0, -1, codes % 50)
    frame = pd.DataFrame({"g": pd.Categorical.from_codes(few, cats)})
    design = TableEncoder().fit_transform(frame)
    # the 150 categories no row has are left out: 50 levels and the missing one
    assert design.n_levels.tolist() == [51] and design.codes[0, -2] == 50
    assert design.codes.dtype == np.int32 and design.codes[0, :3].tolist() == [0, 1, 2]


def test_transform_with_colliding_category_labels() -> None:
    cats = pd.Index(["1", 1, "a"], dtype=object)
    frame = pd.DataFrame({"g": pd.Categorical.from_codes([0, 1, 2, 1], cats)})
    enc = TableEncoder()
    fitted = enc.fit_transform(frame)
    assert fitted.codes.tolist() == [[0, 1, 2, 1]]
    assert enc.transform(frame).codes.tolist() == [[1, 1, 2, 1]]  # "1" is one label


def test_missing_counts_with_infinities() -> None:
    frame = pd.DataFrame({"a": [np.inf, -np.inf, 1.0], "b": [np.inf, -np.inf, np.nan]})
    design = TableEncoder().fit_transform(frame)
    assert design.notes == ["column 'b': 1 missing value(s), NaN in the design"]


def test_index_column_after_filter_and_shuffled_split() -> None:
    """The row numbers left after dropna, a filter or a shuffled split are still
    the index: the fit equals least squares on the design without them."""
    slid = pd.read_csv(DATA / "SLID.csv").dropna()
    salaries = pd.read_csv(DATA / "Salaries.csv")
    shuffled = salaries.sample(frac=0.8, random_state=0)
    for frame, target, rows in ((slid, "wages", "1 to 7425"), (shuffled, "salary", "1 to 397")):
        X, y = frame.drop(columns=target), frame[target].to_numpy(dtype=np.float64)
        with pytest.warns(
            UserWarning, match=rf"of distinct row numbers \({rows}\) is the row index"
        ):
            model = LinearRegression(solver="newton").fit(X, y)
        assert "Unnamed: 0" not in model.feature_names_out_
        ref = pd.get_dummies(
            X.drop(columns="Unnamed: 0"), drop_first=True, prefix_sep="=", dtype=np.float64
        )
        A = np.column_stack([np.ones(len(y)), ref.to_numpy(dtype=np.float64)])
        coef = np.linalg.lstsq(A, y, rcond=None)[0]
        fitted = dict(zip(model.feature_names_out_, model.coef_, strict=True))
        expected = dict.fromkeys(fitted, 0.0) | dict(zip(ref.columns, coef[1:], strict=True))
        assert list(expected) == list(fitted)  # the reference levels: 0
        np.testing.assert_allclose(
            list(fitted.values()), list(expected.values()), rtol=1e-9, atol=1e-9
        )
        assert model.intercept_ == pytest.approx(coef[0], rel=1e-9)
    # an unnamed column with a repeated or negative value is a feature
    X = pd.DataFrame({"Unnamed: 0": [3.0, 5.0, 5.0, 9.0, 11.0], "x": [1.0, 0.0, 2.0, 5.0, 4.0]})
    model = LinearRegression().fit(X, [1.0, 2.0, 2.5, 4.0, 5.0])
    assert list(model.feature_names_in_) == ["Unnamed: 0", "x"] and model.coef_.shape == (2,)


def test_arrow_dictionary_with_unsigned_indices(tmp_path) -> None:
    # polars writes an Enum or Categorical to Parquet as a dictionary with
    # unsigned indices; read back through pyarrow, it is the same design.
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    city = rng.choice(["a", "b", "c"], 300)
    x = rng.standard_normal(300)
    y = 2.0 * x + 1.5 * (city == "b") - 0.5 * (city == "c") + 0.1 * rng.standard_normal(300)
    frame = pl.DataFrame({"city": pl.Series(city).cast(pl.Enum(["a", "b", "c"])), "x": x})
    frame.write_parquet(tmp_path / "p.parquet")
    table = pq.read_table(tmp_path / "p.parquet")
    assert str(table.schema.field("city").type.index_type).startswith("uint")
    got = LinearRegression().fit(table, y)
    want = LinearRegression().fit(frame, y)
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-12)
    D = np.c_[x, city == "b", city == "c", np.ones(300)]
    ref = np.linalg.lstsq(D, y, rcond=None)[0]
    np.testing.assert_allclose(got.predict(table), D @ ref, rtol=1e-10)


def test_numbers_with_a_stray_cell_are_an_error_not_identifiers() -> None:
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal(2000).round(4)
    y = 2.0 * x1 + 0.1 * rng.standard_normal(2000)
    frame = pd.DataFrame({"x1": x1.astype(object), "x2": rng.standard_normal(2000)})
    frame.loc[17, "x1"] = "oops"  # as read from a CSV with one bad cell
    with pytest.raises(ValueError, match=r"'x1' holds numbers but 1 cell.*'oops' in row 17"):
        LinearRegression().fit(frame, y)
    # codes of few values, or a column of mostly text, stay categorical
    codes = pd.DataFrame({"grade": rng.choice(["1", "2", "3", "n/a"], 2000), "x2": frame.x2})
    LinearRegression().fit(codes, y)


def test_iso_dates_read_as_text_are_left_out_as_dates() -> None:
    rng = np.random.default_rng(1)
    day = (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 84, 500), unit="D")).astype(
        str
    )
    x = rng.standard_normal(500)
    y = 3.0 * x + 0.1 * rng.standard_normal(500)
    frame = pd.DataFrame({"day": np.asarray(day, dtype=object), "x": x})
    with pytest.warns(UserWarning, match="'day' left out: its text values are dates"):
        model = LinearRegression().fit(frame, y)
    ref = np.linalg.lstsq(np.c_[x, np.ones(500)], y, rcond=None)[0]
    np.testing.assert_allclose(model.predict(frame), np.c_[x, np.ones(500)] @ ref, rtol=1e-10)


def test_a_categorical_column_outside_the_features_is_an_error() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"city": rng.choice(list("abc"), 50), "x1": rng.standard_normal(50)})
    with pytest.raises(
        ValueError, match=r"categorical columns \['city'\] are not among the features"
    ):
        TableEncoder(categorical=["city"], features=["x1"]).fit(frame)
    with pytest.raises(ValueError, match="not among the features"):
        TableEncoder(categorical=["city"], drop=["city"]).fit(frame)
