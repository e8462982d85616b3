"""fastcost.fit_dataset and ``fastcost fit``: datasets of files read in batches,
against the in-memory fit of the same rows."""

from __future__ import annotations

import json
import os

import fastcost
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from fastcost import LinearRegression, fit_dataset
from fastcost._stream_source import StreamSource
from fastcost.cli import main
from fastcost.exceptions import NonFiniteError
from helpers import make_problem, reference_fit

DATA = os.path.join(os.path.dirname(__file__), "data")


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _table(X, y, s=None):
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    cols["y"] = y
    if s is not None:
        cols["w"] = s
    return pa.table(cols)


def _write(folder, X, y, s=None, parts=4, fmt="parquet", row_group=500):
    os.makedirs(folder, exist_ok=True)
    cuts = np.linspace(0, len(y), parts + 1).astype(int)
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        t = _table(X[a:b], y[a:b], None if s is None else s[a:b])
        path = os.path.join(
            folder, f"part-{i}.{ {'parquet': 'parquet', 'csv': 'csv', 'ipc': 'arrow'}[fmt] }"
        )
        if fmt == "parquet":
            pq.write_table(t, path, row_group_size=row_group)
        elif fmt == "csv":
            t.to_pandas().to_csv(path, index=False, float_format="%.17g")
        else:
            feather.write_feather(t, path)
    return folder


@pytest.fixture(scope="module")
def problem():
    return make_problem(6000, 6, seed=31, weights=True)


@pytest.mark.parametrize("solver", ["newton", "qr"])
@pytest.mark.parametrize("fmt", ["parquet", "csv", "ipc"])
def test_one_pass_equals_the_in_memory_fit(tmp_path, problem, solver, fmt):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X, y, s, fmt=fmt)
    model = fit_dataset(folder, target="y", sample_weight="w", solver=solver, batch_rows=700,
                        alpha=0.01)  # fmt: skip
    ref = LinearRegression(solver=solver, alpha=0.01).fit(X, y, sample_weight=s)
    assert _rel(model.coef_, ref.coef_) < 1e-12
    assert abs(model.intercept_ - ref.intercept_) < 1e-12 * max(1, abs(ref.intercept_))
    assert model.n_passes_ == 1 and model.statistics_.n_rows == len(y)
    assert list(model.feature_names_in_) == [f"x{j}" for j in range(6)]
    assert f"streaming 4 {fmt} file(s)" in model.fit_info_
    pred = model.predict(pd.DataFrame(X, columns=model.feature_names_in_))
    np.testing.assert_allclose(pred, ref.predict(X), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_iterative_solvers_reread_the_dataset_per_pass(tmp_path, problem, solver):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X, y, s)
    params = dict(solver=solver, tol=1e-9, max_iter=5000)
    model = fit_dataset(folder + "/*.parquet", target="y", sample_weight="w", **params)
    ref_w, ref_b = reference_fit(X, y, s)
    assert _rel(model.coef_, ref_w) < 1e-6
    assert model.n_passes_ >= 2 and model.converged_
    local = LinearRegression(**params).fit(X, y, sample_weight=s)
    assert _rel(model.coef_, local.coef_) < 1e-6


def test_standardize_and_auto(tmp_path, problem):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X, y)
    model = fit_dataset(folder, target="y", alpha=0.5, standardize=True, columns=["x0", "x2"])
    ref = LinearRegression(alpha=0.5, standardize=True).fit(X[:, [0, 2]], y)
    assert model.solver_ == "newton"
    assert _rel(model.coef_, ref.coef_) < 1e-11
    lb = fit_dataset(folder, target="y", solver="lbfgs", standardize=True, tol=1e-10)
    assert _rel(lb.coef_, LinearRegression(solver="newton").fit(X, y).coef_) < 1e-6


def test_a_real_table_from_csv():
    # Prestige (Fox & Weisberg, carData; see tests/data/README.md): the numeric columns.
    path = os.path.join(DATA, "Prestige.csv")
    cols = ["education", "women", "prestige"]
    model = fit_dataset(path, target="income", columns=cols, solver="qr")
    df = pd.read_csv(path)
    ref_w, ref_b = reference_fit(df[cols].to_numpy(), df["income"].to_numpy())
    assert _rel(model.coef_, ref_w) < 1e-10
    assert abs(model.intercept_ - ref_b) < 1e-8 * abs(ref_b)


def test_list_of_files_and_progress(tmp_path, problem, capsys):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X, y)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    model = fit_dataset(files[:2], target="y", progress=True, batch_rows=100)
    ref = LinearRegression().fit(X[:3000], y[:3000])
    assert _rel(model.coef_, ref.coef_) < 1e-12
    err = capsys.readouterr().err
    assert "3,000 rows of 3,000" in err and "rows/s" in err


def test_corrupt_file_is_named_and_nothing_is_fitted(tmp_path, problem):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X, y)
    with open(os.path.join(folder, "part-2.parquet"), "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00garbage" * 50)
    with pytest.raises(ValueError, match="part-2.parquet"):
        fit_dataset(folder, target="y", solver="newton")


def test_missing_value_is_named_by_file_row_and_column(tmp_path, problem):
    X, y, s = problem
    X = X.copy()
    X[4321, 3] = np.nan
    folder = _write(str(tmp_path / "d"), X, y)
    with pytest.raises(NonFiniteError, match=r"part-2.parquet: column 'x3' .* row 4321"):
        fit_dataset(folder, target="y", solver="newton")
    y2 = y.copy()
    y2[17] = np.nan
    folder2 = _write(str(tmp_path / "e"), problem[0], y2)
    for solver in ("newton", "qr", "lbfgs"):
        with pytest.raises(NonFiniteError, match=r"part-0.parquet: column 'y' .* row 17"):
            fit_dataset(folder2, target="y", solver=solver)


def test_clear_errors(tmp_path, problem):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X, y, parts=1)
    with pytest.raises(FileNotFoundError, match="no file matches"):
        fit_dataset(str(tmp_path / "nothing*.parquet"), target="y")
    with pytest.raises(FileNotFoundError, match="no such file"):
        fit_dataset(str(tmp_path / "nothing.parquet"), target="y")
    with pytest.raises(ValueError, match=r"no column\(s\) \['z'\]"):
        fit_dataset(folder, target="z")
    with pytest.raises(ValueError, match="solver"):
        fit_dataset(folder, target="y", solver="sgd")
    with pytest.raises(ValueError, match="alpha"):
        fit_dataset(folder, target="y", alpha=-1.0)
    dates = pa.table({"a": pa.array([0, 1], pa.date32()), "b": [1.0, 2.0], "y": [0.0, 1.0]})
    pq.write_table(dates, str(tmp_path / "t.parquet"))
    with pytest.raises(TypeError, match=r"a \(date32"):
        fit_dataset(str(tmp_path / "t.parquet"), target="y")
    empty = pa.table({"b": pa.array([], pa.float64()), "y": pa.array([], pa.float64())})
    pq.write_table(empty, str(tmp_path / "empty.parquet"))
    with pytest.raises(ValueError, match="no rows"):
        fit_dataset(str(tmp_path / "empty.parquet"), target="y")


def test_statistics_of_a_dataset_continue_with_partial_fit(tmp_path, problem):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X[:4000], y[:4000])
    model = fit_dataset(folder, target="y", solver="newton")
    model.partial_fit(pd.DataFrame(X[4000:], columns=model.feature_names_in_), y[4000:])
    assert _rel(model.coef_, LinearRegression().fit(X, y).coef_) < 1e-12


def test_cli_fit_writes_a_loadable_model_and_a_receipt(tmp_path, problem, capsys):
    X, y, s = problem
    folder = _write(str(tmp_path / "d"), X, y, s)
    model_path, receipt_path = str(tmp_path / "m.json"), str(tmp_path / "r.json")
    rc = main(["fit", "--data", folder + "/*.parquet", "--target", "y", "--weights", "w",
               "--solver", "qr", "--model", model_path, "--receipt", receipt_path])  # fmt: skip
    assert rc == 0
    loaded = fastcost.load(model_path)
    ref = LinearRegression(solver="qr").fit(X, y, sample_weight=s)
    assert _rel(loaded.coef_, ref.coef_) < 1e-12
    with open(receipt_path) as fh:
        receipt = json.load(fh)
    assert receipt["rows"] == len(y) and receipt["solver"] == "qr" and receipt["n_passes"] == 1
    assert receipt["report"]["wall_time_s"] > 0
    assert "rows/s" in capsys.readouterr().err


def test_cli_fit_failure_writes_nothing(tmp_path, problem, capsys):
    X, y, s = problem
    X = X.copy()
    X[10, 0] = np.nan
    folder = _write(str(tmp_path / "d"), X, y)
    model_path = str(tmp_path / "m.json")
    rc = main(["fit", "--data", folder, "--target", "y", "--model", model_path,
               "--receipt", str(tmp_path / "r.json"), "--quiet"])  # fmt: skip
    assert rc == 1
    assert "column 'x0'" in capsys.readouterr().err
    assert not os.path.exists(model_path) and not os.path.exists(str(tmp_path / "r.json"))


# -- categorical columns ------------------------------------------------------------


def _salaries(tmp_path):
    # Salaries (Fox & Weisberg, carData; see tests/data/README.md): text columns rank,
    # discipline and sex, split over three Parquet files.
    df = pd.read_csv(os.path.join(DATA, "Salaries.csv")).drop(columns=["Unnamed: 0"])
    folder = tmp_path / "salaries"
    folder.mkdir()
    for i, (a, b) in enumerate([(0, 130), (130, 260), (260, len(df))]):
        pq.write_table(pa.Table.from_pandas(df.iloc[a:b], preserve_index=False),
                       str(folder / f"p{i}.parquet"))  # fmt: skip
    return str(folder), df


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_text_columns_are_categorical_as_in_memory(tmp_path, alpha):
    folder, df = _salaries(tmp_path)
    model = fit_dataset(folder, target="salary", alpha=alpha, batch_rows=50)
    ref = LinearRegression(alpha=alpha).fit(df.drop(columns=["salary"]), df["salary"])
    assert list(model.feature_names_out_) == list(ref.feature_names_out_)
    assert _rel(model.coef_, ref.coef_) < 1e-11
    assert abs(model.intercept_ - ref.intercept_) < 1e-9 * abs(ref.intercept_)
    assert model.n_passes_ == 2 and "mixed design (2 dense + 3 categorical)" in model.fit_info_
    X = df.drop(columns=["salary"])
    np.testing.assert_allclose(model.predict(X), ref.predict(X), rtol=1e-11)


def test_cli_fit_of_text_columns_writes_a_loadable_model_and_a_receipt(tmp_path, capsys):
    # A dataset with text columns: the model file holds the encoder, so the loaded
    # model predicts a table (pandas or polars) as the fitted one does.
    folder, df = _salaries(tmp_path)
    model_path, receipt_path = str(tmp_path / "m.json"), str(tmp_path / "r.json")
    rc = main(["fit", "--data", folder, "--target", "salary", "--model", model_path,
               "--receipt", receipt_path])  # fmt: skip
    assert rc == 0
    X = df.drop(columns=["salary"])
    ref = LinearRegression().fit(X, df["salary"])
    loaded = fastcost.load(model_path)
    assert list(loaded.feature_names_out_) == list(ref.feature_names_out_)
    np.testing.assert_allclose(loaded.predict(X), ref.predict(X), rtol=1e-11)
    np.testing.assert_array_equal(loaded.predict(pl.from_pandas(X)), loaded.predict(X))
    with open(receipt_path) as fh:
        receipt = json.load(fh)
    assert receipt["rows"] == len(df)
    assert receipt["coef_names"] == list(ref.feature_names_out_)
    np.testing.assert_allclose(receipt["coef"], ref.coef_, rtol=1e-10, atol=1e-8)
    assert f"fastcost fit: {len(df)} rows, 5 features" in capsys.readouterr().err


def test_many_levels_missing_values_and_a_declared_integer_column(tmp_path):
    rng = np.random.default_rng(61)
    n = 6000
    g = rng.integers(0, 1500, n)  # > 1000 levels: newton's block-arrow elimination
    h = np.where(rng.random(n) < 0.1, None, rng.choice(["u", "v", "w"], n)).astype(object)
    x = rng.standard_normal(n)
    y = 0.3 * x + np.sin(g) + (h == "v") + 0.1 * rng.standard_normal(n)
    frame = pd.DataFrame({"x": x, "g": g, "h": pd.array(h, dtype="string"), "y": y})
    folder = tmp_path / "d"
    folder.mkdir()
    for i in range(3):
        part = frame.iloc[i * 2000 : (i + 1) * 2000]
        pq.write_table(
            pa.Table.from_pandas(part, preserve_index=False), str(folder / f"{i}.parquet")
        )
    with pytest.warns(UserWarning, match="column 'h': 583 missing value"):
        model = fit_dataset(str(folder), target="y", categorical_features=["g"])
    ref = LinearRegression(categorical_features=["g"])
    with pytest.warns(UserWarning, match="column 'h': 583 missing value"):
        ref.fit(frame.drop(columns=["y"]), frame["y"])
    assert "block-arrow" in ref.fit_info_ and "block-arrow" in model.fit_info_
    assert list(model.feature_names_out_) == list(ref.feature_names_out_)
    assert "h=<missing>" in list(model.feature_names_out_)
    assert _rel(model.coef_, ref.coef_) < 1e-10


def test_categorical_streaming_runs_newton(tmp_path):
    folder, _ = _salaries(tmp_path)
    with pytest.raises(NotImplementedError, match="solver='lbfgs' is not available"):
        fit_dataset(folder, target="salary", solver="lbfgs")


def test_row_index_column_of_a_csv_is_left_out_as_in_the_main_job():
    # Salaries.csv starts with R's unnamed row-number column; fit_dataset drops it, with
    # the main job's note, and fits what LinearRegression fits on the table.
    path = os.path.join(DATA, "Salaries.csv")
    with pytest.warns(UserWarning, match="counting the rows"):
        model = fit_dataset(path, target="salary")
    df = pd.read_csv(path)
    with pytest.warns(UserWarning, match="counting the rows"):
        ref = LinearRegression().fit(df.drop(columns="salary"), df["salary"])
    assert list(model.feature_names_out_) == list(ref.feature_names_out_)
    assert _rel(model.coef_, ref.coef_) < 1e-10


# -- CSV files read as pandas reads them ---------------------------------------------


def _slid_rows_with_target_and_numbers(tmp_path):
    # SLID (Fox & Weisberg, carData): language has NA cells (121 rows), as do wages and
    # education; the rows with wages and education, renumbered 1..n as R writes them.
    df = pd.read_csv(os.path.join(DATA, "SLID.csv"))
    df = df[df["wages"].notna() & df["education"].notna()].copy()
    df["Unnamed: 0"] = np.arange(1, len(df) + 1)
    path = str(tmp_path / "slid.csv")
    df.rename(columns={"Unnamed: 0": ""}).to_csv(path, index=False, na_rep="NA")
    return path


def _fit_both(path, target):
    """fit_dataset of a CSV file and the in-memory fit of pandas' reading of it."""
    with pytest.warns(UserWarning) as streamed:
        model = fit_dataset(path, target=target)
    df = pd.read_csv(path)
    with pytest.warns(UserWarning) as in_memory:
        ref = LinearRegression().fit(df.drop(columns=target), df[target])
    notes = sorted(str(w.message).replace("'Unnamed: 0'", "''") for w in in_memory)
    assert sorted(str(w.message) for w in streamed) == notes
    return model, ref, df


@pytest.mark.parametrize("name", ["Prestige", "SLID"])
def test_csv_na_text_cells_are_missing_as_in_pandas(tmp_path, name):
    # pyarrow's CSV reader keeps "NA" as the text "NA" by default: fit_dataset read it
    # as a level of its own (Prestige: "type=NA" the reference, bc -0.601, intercept
    # -8.92). pandas reads it as missing: the level "<missing>", bc the reference.
    if name == "Prestige":
        path, target, column = os.path.join(DATA, "Prestige.csv"), "prestige", "type"
    else:
        path, target, column = _slid_rows_with_target_and_numbers(tmp_path), "wages", "language"
    model, ref, df = _fit_both(path, target)
    names = list(model.feature_names_out_)
    assert names == list(ref.feature_names_out_)
    assert f"{column}=<missing>" in names and f"{column}=NA" not in names
    assert _rel(model.coef_, ref.coef_) < 1e-10
    assert abs(model.intercept_ - ref.intercept_) < 1e-10 * abs(ref.intercept_)
    # Both leave out the first column (R's row names / numbers): same features.
    assert list(model.feature_names_in_) == [c for c in ref.feature_names_in_ if c != "Unnamed: 0"]
    # An independent reference: lstsq on pandas' one-hot design of the text columns,
    # first level dropped, missing text a level of its own.
    X = df.drop(columns=["Unnamed: 0", target])
    text = [c for c in X.columns if X[c].dtype.kind not in "fiub"]
    blocks, ref_names = [X.drop(columns=text).to_numpy(float)], list(X.drop(columns=text))
    for c in text:
        dummies = pd.get_dummies(X[c], dummy_na=bool(X[c].isna().any()), dtype=float)
        blocks.append(dummies.to_numpy()[:, 1:])
        ref_names += [f"{c}={'<missing>' if pd.isna(v) else v}" for v in dummies.columns[1:]]
    w, b = reference_fit(np.column_stack(blocks), df[target].to_numpy())
    coef = dict(zip(names, model.coef_, strict=True))
    assert all(coef[n] == 0.0 for n in set(names) - set(ref_names))  # the first levels
    assert _rel([coef[n] for n in ref_names], w) < 1e-8
    assert abs(model.intercept_ - b) < 1e-8 * abs(b)
    if name == "Prestige":  # the figures of the review: bc is the reference, intercept -9.525
        assert names[4] == "type=bc" and model.coef_[4] == 0.0
        assert round(model.intercept_, 3) == -9.525


def test_csv_empty_and_na_text_cells_are_one_missing_level(tmp_path):
    # Empty cells, quoted empty cells and NA in a text column: missing to pandas and to
    # fit_dataset alike (one level "<missing>" of 6 rows), in CSV files read in batches.
    rng = np.random.default_rng(7)
    n = 60
    x = rng.standard_normal(n)
    g = rng.choice(["a", "b", "c"], n).astype(object)
    cells = ["", '""', "NA"]
    g[:6] = [cells[i % 3] for i in range(6)]
    y = x + (g == "b") + 0.1 * rng.standard_normal(n)
    lines = ["x,g,y"] + [f"{float(x[i])!r},{g[i]},{float(y[i])!r}" for i in range(n)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="column 'g': 6 missing value"):
        model = fit_dataset(str(path), target="y", batch_rows=16)
    df = pd.read_csv(path)
    assert df["g"].isna().sum() == 6
    with pytest.warns(UserWarning, match="column 'g': 6 missing value"):
        ref = LinearRegression().fit(df[["x", "g"]], df["y"])
    assert list(model.feature_names_out_) == ["x", "g=a", "g=b", "g=c", "g=<missing>"]
    assert list(model.feature_names_out_) == list(ref.feature_names_out_)
    assert _rel(model.coef_, ref.coef_) < 1e-12


def test_messages_name_what_is_wrong(tmp_path):
    salaries = os.path.join(DATA, "Salaries.csv")
    with pytest.raises(TypeError, match=r"^target column 'rank' must be numeric or boolean"):
        fit_dataset(salaries, target="rank")
    with pytest.raises(TypeError, match=r"^weights column 'sex' must be numeric or boolean"):
        fit_dataset(salaries, target="salary", sample_weight="sex")
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    with pytest.raises(ValueError, match=r"header.csv has no data rows \(only the columns"):
        fit_dataset(str(header), target="a")
    # A column with no value at all (no type in a CSV) reads as missing numbers.
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,y\n1,NA,1\n2,,2\n")
    counted = "of the dataset counting from 0"
    with pytest.raises(NonFiniteError, match=rf"column 'b' .* at row 0 {counted}"):
        fit_dataset(str(empty), target="y")
    # A missing number beside text columns: its row counted from 0, as pandas numbers it.
    slid = os.path.join(DATA, "SLID.csv")
    row = int(np.flatnonzero(pd.read_csv(slid)["education"].isna())[0])
    with pytest.warns(UserWarning, match="column 'language'"):
        with pytest.raises(NonFiniteError, match=rf"column 'education' .* at row {row} {counted}"):
            fit_dataset(slid, target="age", columns=["education", "sex", "language"])


def test_cli_fit_names_its_options_and_prints_warnings_on_one_line(tmp_path, capsys):
    out = ["--model", str(tmp_path / "m.json"), "--receipt", str(tmp_path / "r.json")]
    salaries = os.path.join(DATA, "Salaries.csv")
    assert main(["fit", "--data", salaries, "--target", "rank", "--quiet", *out]) == 1
    err = capsys.readouterr().err
    assert "fastcost fit: target column 'rank' must be numeric or boolean, got string" in err
    assert "fit_dataset" not in err
    dates = pa.table({"a": pa.array([0, 1], pa.date32()), "b": [1.0, 2.0], "y": [0.0, 1.0]})
    pq.write_table(dates, str(tmp_path / "t.parquet"))
    assert main(["fit", "--data", str(tmp_path / "t.parquet"), "--target", "y", *out]) == 1
    err = capsys.readouterr().err
    assert "a (date32[day])" in err and "--features" in err and "columns=" not in err
    assert not os.path.exists(tmp_path / "m.json")
    prestige = os.path.join(DATA, "Prestige.csv")
    assert main(["fit", "--data", prestige, "--target", "prestige", "--quiet", *out]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "fastcost fit: warning: UserWarning: column '' left out: an unnamed first column of "
        "distinct labels holds row names",
        "fastcost fit: warning: UserWarning: column 'type': 4 missing value(s) form their own "
        "level '<missing>'",
    ]
    with open(tmp_path / "r.json") as fh:
        receipt = json.load(fh)
    assert receipt["warnings"] == [line.split("warning: ", 1)[1] for line in lines]
    assert "type=<missing>" in receipt["coef_names"]


def test_cli_fit_categorical_option(tmp_path, capsys):
    """--categorical fits an integer column as levels, as categorical_features does in
    memory; the identifier note names the option."""
    out = ["--model", str(tmp_path / "m.json"), "--receipt", str(tmp_path / "r.json"), "--quiet"]
    salaries = os.path.join(DATA, "Salaries.csv")
    args = ["fit", "--data", salaries, "--target", "salary", "--solver", "newton"]
    assert main([*args, "--categorical", "yrs.service", *out]) == 0
    capsys.readouterr()
    model = fastcost.load(str(tmp_path / "m.json"))
    df = pd.read_csv(salaries)
    X = df.drop(columns=["salary", "Unnamed: 0"])
    ref = LinearRegression(solver="newton", categorical_features=["yrs.service"])
    ref.fit(X, df["salary"].to_numpy(dtype=np.float64))
    assert list(model.feature_names_out_) == list(ref.feature_names_out_)
    assert any(n.startswith("yrs.service=") for n in model.feature_names_out_)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-9, atol=1e-6)
    assert main([*args, "--categorical", "nope", *out]) == 1
    assert "--categorical COLS: ['nope'] are not feature columns" in capsys.readouterr().err
    msleep = os.path.join(DATA, "msleep.csv")
    rows = pd.read_csv(msleep).dropna(subset=["sleep_total"])
    keep = ["name", "vore", "bodywt", "sleep_total"]
    rows[keep].dropna().to_csv(tmp_path / "m.csv", index=False)
    argv = ["fit", "--data", str(tmp_path / "m.csv"), "--target", "sleep_total", *out]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "column 'name' has" in err and "name it in --categorical COLS" in err


def test_an_unnamed_integer_feature_is_kept_as_in_memory(tmp_path):
    """An unnamed first column that repeats values is a feature, not the index: the
    encoder fitted on a few recycled rows must not call it row numbers."""
    rng = np.random.default_rng(3)
    u = rng.integers(0, 50, 200)
    g = rng.choice(["a", "b", "c"], 200)
    y = 2.0 * u + pd.Series(g).map({"a": 0.0, "b": 1.0, "c": -1.0}).to_numpy()
    y = y + 0.1 * rng.standard_normal(200)
    frame = pd.DataFrame({"": u, "g": g, "y": y})
    frame.to_csv(tmp_path / "u.csv", index=False)
    model = fastcost.fit_dataset(
        str(tmp_path / "u.csv"), target="y", solver="newton", progress=False
    )
    local = LinearRegression(solver="newton").fit(
        pd.read_csv(tmp_path / "u.csv").drop(columns="y"), y
    )
    # pyarrow names the empty header "", pandas "Unnamed: 0"
    assert list(model.feature_names_out_[1:]) == list(local.feature_names_out_[1:])
    assert model.feature_names_out_[0] == "" and local.feature_names_out_[0] == "Unnamed: 0"
    np.testing.assert_allclose(model.coef_, local.coef_, rtol=1e-9, atol=1e-9)
    A = np.column_stack([np.ones(200), u, g == "b", g == "c"]).astype(np.float64)
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    assert model.coef_[0] == pytest.approx(ref[1], rel=1e-9)


def test_file_order_does_not_decide_the_types(tmp_path):
    """A header-only CSV, or one whose text column is all missing, first in the
    list: the types come from a file that has them, and the fit equals that of
    the pandas frame of all rows (numpy's lstsq)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal(60)
    g = rng.choice(["a", "b"], 60)
    y = 1.5 * x + (g == "b") + 0.1 * rng.standard_normal(60)
    (tmp_path / "0_header.csv").write_text("x,g,y\n")
    part = pd.DataFrame({"x": x[:10], "g": [None] * 10, "y": y[:10]})
    part.to_csv(tmp_path / "1_nulls.csv", index=False)
    pd.DataFrame({"x": x[10:], "g": g[10:], "y": y[10:]}).to_csv(
        tmp_path / "2_data.csv", index=False
    )
    files = sorted(str(p) for p in tmp_path.glob("*.csv"))
    with pytest.warns(UserWarning, match="10 missing value"):
        model = fastcost.fit_dataset(files, target="y", solver="newton", progress=False)
    levels = np.where(np.arange(60) < 10, "<missing>", g)
    A = np.column_stack([np.ones(60), x, levels == "b", levels == "<missing>"]).astype(np.float64)
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    assert list(model.feature_names_out_) == ["x", "g=a", "g=b", "g=<missing>"]
    np.testing.assert_allclose(model.coef_, [ref[1], 0.0, ref[2], ref[3]], rtol=1e-9, atol=1e-9)


def test_csv_columns_empty_in_their_first_block_are_typed_from_all_values(tmp_path):
    """pyarrow types a CSV column from its first block (about 1 MB); a column with
    no value there is typed from all its values, as pandas' read_csv types it:
    text further on makes it categorical, numbers numeric."""
    rng = np.random.default_rng(12)
    n = 60_000
    x = rng.standard_normal(n)
    g = np.full(n, None, dtype=object)
    g[-300:] = rng.choice(["a", "b"], 300)
    z = np.full(n, np.nan)
    z[-300:] = rng.standard_normal(300)
    y = 2.0 * x + 0.1 * rng.standard_normal(n)
    frame = pd.DataFrame({"x": x, "g": g, "z": z, "y": y})
    frame.to_csv(tmp_path / "late.csv", index=False)
    assert os.path.getsize(tmp_path / "late.csv") > 2_000_000
    src = StreamSource.open(str(tmp_path / "late.csv"), "y", None, None, None, None)
    types = {f.name: str(f.type) for f in src.schema}
    assert types["g"] == "string" and types["z"] == "double"
    read = pd.read_csv(tmp_path / "late.csv")
    assert read["g"].dtype.kind not in "biuf" and read["z"].dtype == np.float64
    with pytest.warns(UserWarning), pytest.raises(NonFiniteError, match="column 'z'"):
        fastcost.fit_dataset(str(tmp_path / "late.csv"), target="y", progress=False)  # as in memory
    with pytest.warns(UserWarning, match="59700 missing value"):
        model = fastcost.fit_dataset(
            str(tmp_path / "late.csv"), target="y", columns=["x", "g"], progress=False
        )
    assert list(model.feature_names_out_) == ["x", "g=a", "g=b", "g=<missing>"]


def test_pandas_index_stored_in_parquet_is_not_a_feature(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x1": rng.standard_normal(400), "x2": rng.standard_normal(400)})
    df["y"] = df.x1 - df.x2 + 0.1 * rng.standard_normal(400)
    df.index = rng.permutation(400)  # stored as __index_level_0__
    df.to_parquet(tmp_path / "a.parquet")
    df.rename_axis("rid").to_parquet(tmp_path / "b.parquet")  # a named index
    ref = np.linalg.lstsq(np.c_[df[["x1", "x2"]], np.ones(400)], df.y, rcond=None)[0]
    for name in ("a.parquet", "b.parquet"):
        model = fastcost.fit_dataset(tmp_path / name, target="y")
        assert list(model.feature_names_in_) == ["x1", "x2"]
        np.testing.assert_allclose(model.coef_, ref[:2], rtol=1e-10)
        back = pd.read_parquet(tmp_path / name).drop(columns="y")
        np.testing.assert_allclose(
            model.predict(back), df[["x1", "x2"]] @ ref[:2] + ref[2], rtol=1e-10
        )


def test_a_column_in_two_roles_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"x1": rng.standard_normal(50), "w": rng.random(50), "y": rng.standard_normal(50)}
    )
    df.to_parquet(tmp_path / "d.parquet", index=False)
    path = tmp_path / "d.parquet"
    with pytest.raises(ValueError, match=r"\['x1'\] more than once"):
        fastcost.fit_dataset(path, target="y", columns=["x1", "x1"])
    with pytest.raises(ValueError, match="'y' \\(the target\\)"):
        fastcost.fit_dataset(path, target="y", columns=["x1", "y"])
    with pytest.raises(ValueError, match="'w' \\(the weights\\)"):
        fastcost.fit_dataset(path, target="y", columns=["x1", "w"], sample_weight="w")
    with pytest.raises(ValueError, match="is the target"):
        fastcost.fit_dataset(path, target="y", columns=["x1"], sample_weight="y")


def test_csv_whole_numbers_then_decimals_read_as_pandas_does(tmp_path):
    # pyarrow types a CSV column from the first block of the first file: whole
    # numbers there, 2.5 later (or in the next file) are float64, as in pandas.
    rng = np.random.default_rng(0)
    n = 130_000
    x = rng.integers(0, 100, n).astype(float)
    x[120_000] = 2.5
    z = rng.standard_normal(n)
    y = 0.5 * x + z + 0.1 * rng.standard_normal(n)
    pd.DataFrame({"x": x, "z": z, "y": y}).to_csv(tmp_path / "a.csv", index=False)
    model = fit_dataset(tmp_path / "a.csv", target="y")
    ref = np.linalg.lstsq(np.c_[x, z, np.ones(n)], y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_, ref[:2], rtol=1e-10)
    (tmp_path / "two").mkdir()
    pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [1.0, 2, 3, 4, 6]}).to_csv(
        tmp_path / "two/a.csv", index=False
    )
    pd.DataFrame({"x": [1.5, 2.5, 7], "y": [1.0, 2, 9]}).to_csv(tmp_path / "two/b.csv", index=False)
    both = fit_dataset(tmp_path / "two", target="y")
    xs, ys = np.r_[1, 2, 3, 4, 5, 1.5, 2.5, 7], np.r_[1.0, 2, 3, 4, 6, 1, 2, 9]
    np.testing.assert_allclose(both.coef_, np.polyfit(xs, ys, 1)[:1], rtol=1e-12)
