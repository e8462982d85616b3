"""``fastcost compare`` on real public tables (tests/data, see its README): text,
categorical, boolean and nullable columns, missing values and index columns,
end to end, with fastcost fitting the categorical codes and the baselines the
one-hot columns of the same design."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from fastcost import LinearRegression
from fastcost.cli import main
from fastcost.datasets import load_file

DATA = os.path.join(os.path.dirname(__file__), "data")

# (file, options): Salaries has an R row counter, text columns and an integer
# target; Prestige has R row names and a categorical with missing values; SLID
# has rows without a target and missing numbers (dropped on the training rows).
TABLES = [
    ("Salaries.csv", ["--target", "salary"]),
    ("Prestige.csv", ["--target", "prestige"]),
    ("SLID.csv", ["--target", "wages", "--clean", "drop"]),
    ("msleep.csv", ["--target", "sleep_total", "--clean", "impute"]),
]

SOLVERS = "sklearn-lr,sklearn-sgd,newton,qr,lbfgs,gd,sgd"


@pytest.mark.parametrize(("name", "options"), TABLES)
def test_compare_on_a_real_table(tmp_path, capsys, name: str, options: list[str]) -> None:
    js = tmp_path / "out.json"
    argv = ["compare", "--data", os.path.join(DATA, name), *options, "--solvers", SOLVERS,
            "--quiet", "--json", str(js)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    doc = json.loads(js.read_text())
    runs = {r["name"]: r for r in doc["runs"]}
    assert doc["failed"] == []
    # The exact solvers on the codes fit the model scikit-learn fits on the one-hot columns.
    ref = runs["sklearn-lr"]["test_mse"]
    for solver in ("newton", "qr"):
        assert runs[f"fastcost-{solver}"]["test_mse"] == pytest.approx(ref, rel=1e-9)
        assert runs[f"fastcost-{solver}"]["status"] == "ok"
    # lbfgs stops at a relative gradient of 1e-6: the same fit to about 6 digits of R2.
    assert runs["fastcost-lbfgs"]["r2"] == pytest.approx(runs["sklearn-lr"]["r2"], abs=1e-5)
    assert doc["data"]["categorical"], "each table has categorical columns"
    # Each file's R row counter or row names are recognised and left out.
    assert any("Unnamed: 0" in n and "left out" in n for n in doc["data"]["notes"])


def test_same_sgd_on_codes_and_on_one_hot_columns() -> None:
    """fastcost-sgd fits the codes; on the one-hot columns of the same split, from
    the same start, it takes the same steps (the math does not change)."""
    data = load_file(os.path.join(DATA, "Salaries.csv"), target="salary")
    assert data.frames is not None
    d = data.X_train.shape[1]
    start = np.random.default_rng(0).uniform(-0.3, 0.3, d)
    kw = dict(solver="sgd", random_state=3, max_iter=3)
    codes = LinearRegression(**kw, categorical_features=data.frames.categorical).fit(
        data.frames.train, data.y_train, coef_init=start, intercept_init=0.0
    )
    onehot = LinearRegression(**kw).fit(
        data.X_train, data.y_train, coef_init=start, intercept_init=0.0
    )
    np.testing.assert_allclose(
        codes.predict(data.frames.test), onehot.predict(data.X_test), rtol=1e-10
    )


def test_table_options_features_drop_categorical_and_sep(tmp_path, capsys) -> None:
    src = pd.read_csv(os.path.join(DATA, "Salaries.csv"))
    path = tmp_path / "salaries.txt"
    src.to_csv(path, sep=";", index=False)
    js = tmp_path / "out.json"
    argv = ["compare", "--data", str(path), "--target", "salary", "--sep", ";",
            "--drop", "sex", "--categorical", "yrs.since.phd", "--solvers", "newton",
            "--quiet", "--json", str(js)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    doc = json.loads(js.read_text())
    assert "sex" not in doc["data"]["roles"] or doc["data"]["roles"]["sex"] == "dropped"
    assert "yrs.since.phd" in doc["data"]["categorical"]
    js2 = tmp_path / "out2.json"
    argv = ["compare", "--data", str(path), "--target", "salary", "--features",
            "rank,discipline", "--solvers", "newton", "--quiet", "--json", str(js2)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    doc = json.loads(js2.read_text())
    assert set(doc["data"]["categorical"]) == {"rank", "discipline"}
    assert doc["data"]["n_features"] == 2 + 1  # rank: 3 levels, discipline: 2, first dropped


def test_nullable_and_arrow_dtypes_from_parquet(tmp_path, capsys) -> None:
    """Defect: nullable Int64/Float64/boolean/category columns and an Int64 target
    from Parquet stopped with a TypeError."""
    src = pd.read_csv(os.path.join(DATA, "Salaries.csv")).drop(columns="Unnamed: 0")
    frame = pd.DataFrame({
        "rank": src["rank"].astype("category"),
        "discipline": src["discipline"].astype("string"),
        "phd": src["yrs.since.phd"].astype("Int64"),
        "service": src["yrs.service"].astype("Float64"),
        "male": (src["sex"] == "Male").astype("boolean"),
        "salary": src["salary"].astype("Int64"),
    })  # fmt: skip
    path = tmp_path / "salaries.parquet"
    frame.to_parquet(path)
    js = tmp_path / "out.json"
    argv = ["compare", "--data", str(path), "--solvers", "sklearn-lr,newton", "--quiet",
            "--json", str(js)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    runs = {r["name"]: r for r in json.loads(js.read_text())["runs"]}
    assert runs["fastcost-newton"]["test_mse"] == pytest.approx(
        runs["sklearn-lr"]["test_mse"], rel=1e-9
    )


def test_tensorflow_and_fastcost_sgd_fit_the_same_model_on_a_table(tmp_path, capsys) -> None:
    """TensorFlow gets the one-hot columns, fastcost-sgd the codes; same start,
    same recipe: the same result (to TensorFlow's float32)."""
    import tensorflow  # noqa: F401  (the test extra installs it)

    js = tmp_path / "out.json"
    argv = ["compare", "--data", os.path.join(DATA, "Prestige.csv"), "--target", "prestige",
            "--solvers", "tensorflow,sgd", "--quiet", "--json", str(js)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    runs = {r["name"]: r for r in json.loads(js.read_text())["runs"]}
    tf, fc = runs["tensorflow"], runs["fastcost-sgd"]
    assert fc["initial_coef"] == tf["initial_coef"]
    assert fc["test_mse"] == pytest.approx(tf["test_mse"], rel=1e-3)
    np.testing.assert_allclose(
        fc["coef"][: len(tf["coef"])][:4], tf["coef"][:4], rtol=1e-3, atol=1e-3
    )


def test_a_recipe_still_descending_steadily_is_not_converged(tmp_path) -> None:
    """Prestige.csv has 81 training rows: one step of the recipe an epoch, its
    loss falling about 5 % an epoch at a steady pace, far from the least-squares
    fit. That is "not converged", not "ok"; a recipe that levelled off is ok."""
    from types import SimpleNamespace

    from fastcost.compare.status import classify

    out = tmp_path / "prestige.json"
    data = os.path.join(DATA, "Prestige.csv")
    main(["compare", "--data", data, "--target", "prestige", "--solvers", "sgd,newton",
          "--json", str(out)])  # fmt: skip
    runs = {r["name"]: r for r in json.loads(out.read_text())["runs"]}
    sgd, exact = runs["fastcost-sgd"], runs["fastcost-newton"]
    history = sgd["loss_history"]
    assert sgd["test_mse"] > 5 * exact["test_mse"] and history[-1] < history[-2]
    assert sgd["status"] == "not converged" and "of its mean fall per epoch" in sgd["reason"]
    assert exact["status"] == "ok"

    def status(history: list[float]) -> str:
        res = SimpleNamespace(coef=np.zeros(2), intercept=0.0, loss_history=history,
                              test_mse=1.0, r2=0.5, params={"batch_size": 100})  # fmt: skip
        return classify(res)[0]

    assert status([100.0, 95.0, 90.2, 85.7]) == "not converged"  # 5 % an epoch, steadily
    assert status([100.0, 10.0, 5.0, 4.8]) == "ok"  # 4 % last, but 13 % of the mean fall
    assert status([100.0, 10.0, 5.0, 4.99]) == "ok"  # levelled off
    assert status([100.0, 50.0, 40.0, 30.0]) == "not converged"  # 25 %: still falling
    noisy = [1.0, 0.985, 0.99, 0.995, 0.98, 0.99, 0.985, 0.99, 0.995, 0.975]
    assert status(noisy) == "ok"  # a plateau's last dip of 2 % is no descent
    assert status([1.0, 1.05, 1.0]) == "ok"  # back to where it started
    assert (
        status([1.0, 0.9, 0.88, 0.87, 0.86, 0.85]) == "ok"
    )  # 1 % a step, a third of the mean fall


def test_the_target_cannot_be_a_feature_option(capsys) -> None:
    data = os.path.join(DATA, "msleep.csv")
    for option in ("--categorical", "--features"):
        code = main(["compare", "--data", data, "--target", "sleep_total", option, "sleep_total"])
        assert code != 0
        err = capsys.readouterr().err
        assert f"the target column 'sleep_total' cannot be in {option}" in err


def test_json_names_every_fastcost_coefficient(tmp_path) -> None:
    """A table's fastcost rows keep every level (the reference's 0) while
    data.features lists the one-hot design without references: each run names
    its own coefficients."""
    out = tmp_path / "msleep.json"
    data = os.path.join(DATA, "msleep.csv")
    main(["compare", "--data", data, "--target", "sleep_total", "--clean", "impute",
          "--solvers", "newton,qr", "--json", str(out)])  # fmt: skip
    doc = json.loads(out.read_text())
    features = doc["data"]["features"]
    for run in doc["runs"]:
        if not run["name"].startswith("fastcost"):
            continue
        names, coef = run["coef_names"], run["coef"]
        assert len(names) == len(coef) > len(features) and set(features) <= set(names)
        by_name = dict(zip(names, coef, strict=True))
        references = [n for n in names if "=" in n and n not in features]
        assert references and all(by_name[n] == 0.0 for n in references)


def test_notes_name_the_command_line_option() -> None:
    from fastcost.compare.report import _cli_words

    note = "column 'name' left out: 83 distinct values (categorical_features=['name'] keeps it)"
    assert (
        _cli_words(note)
        == "column 'name' left out: 83 distinct values (--categorical name keeps it)"
    )
    assert _cli_words("no option here") == "no option here"


def test_sgd_rows_start_alike_when_a_level_has_no_training_rows(tmp_path) -> None:
    # msleep's genus: 15 of its levels hold only test rows. The baselines'
    # 0/1 columns leave them out as fastcost's fit does, so every SGD row starts
    # from the same weights and fastcost's recipe is TensorFlow's.
    out = tmp_path / "g.json"
    argv = ["compare", "--data", os.path.join(DATA, "msleep.csv"), "--target", "sleep_total",
            "--clean", "impute", "--categorical", "genus", "--solvers", "sgd,sklearn-lr,newton",
            "--quiet", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    runs = {r["name"]: r for r in doc["runs"]}
    assert doc["failed"] == []
    assert runs["fastcost-newton"]["test_mse"] == pytest.approx(
        runs["sklearn-lr"]["test_mse"], rel=1e-9
    )
    assert len(runs["fastcost-sgd"]["coef_names"]) >= doc["data"]["n_features"]
