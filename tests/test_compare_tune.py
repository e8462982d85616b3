"""``fastcost compare --tune``: fastcost's one-pass CV against GridSearchCV and RidgeCV."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastcost.cli import main
from fastcost.compare.tune import TUNE_ALPHAS, TUNE_FOLDS

# 2,000 rows: 1,600 train, so every fold trains on 1,280 rows and the grid maps exactly.
DATA = ["--n-samples", "2000", "--n-features", "5", "--noise", "20"]


def test_tune_rows_agree_on_the_penalty_and_the_cv_error(tmp_path, capsys):
    js, png = tmp_path / "c.json", tmp_path / "c.png"
    rc = main(["compare", *DATA, "--solvers", "newton", "--tune", "--json", str(js),
               "--plot", str(png), "--quiet"])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "Tuning alpha: 5-fold CV over 20 penalties" in out
    doc = json.loads(js.read_text())
    rows = {r["name"]: r for r in doc["tuning"]}
    assert set(rows) == {"fastcost LinearRegressionCV", "sklearn GridSearchCV(Ridge)",
                         "sklearn RidgeCV(cv=5)"}  # fmt: skip
    ours, grid, ridge = (rows[k] for k in ("fastcost LinearRegressionCV",
                                           "sklearn GridSearchCV(Ridge)",
                                           "sklearn RidgeCV(cv=5)"))  # fmt: skip
    # The same folds and the same grid: the same choice and the same CV error.
    assert ours["alpha"] == pytest.approx(grid["alpha"], rel=1e-9)
    assert ours["alpha"] == pytest.approx(ridge["alpha"], rel=1e-9)
    assert np.min(np.abs(np.asarray(TUNE_ALPHAS) / ours["alpha"] - 1.0)) < 1e-12
    assert ours["cv_mse"] == pytest.approx(grid["cv_mse"], rel=1e-10)
    assert ours["cv_mse"] == pytest.approx(ridge["cv_mse"], rel=1e-10)
    # The refits differ by design: scikit-learn's alpha penalizes the sum of squares, so
    # on all 1,600 training rows its chosen alpha is fastcost's alpha_ * 1280 / 1600.
    assert grid["test_mse"] == pytest.approx(ridge["test_mse"], rel=1e-10)
    assert ours["test_mse"] == pytest.approx(grid["test_mse"], rel=1e-3)
    assert all(r["fits"] == TUNE_FOLDS * len(TUNE_ALPHAS) + 1 for r in rows.values())
    assert all(not r["estimated"] and r["wall_time_s"] > 0 for r in rows.values())
    assert png.stat().st_size > 0


def test_tensorflow_tuning_cost_is_estimated_and_labelled(tmp_path, capsys):
    js = tmp_path / "c.json"
    rc = main(["compare", *DATA, "--solvers", "tensorflow,newton", "--tune", "--json", str(js),
               "--quiet"])  # fmt: skip
    assert rc == 0
    doc = json.loads(js.read_text())
    tf = next(r for r in doc["tuning"] if r["name"].startswith("tensorflow"))
    measured = next(r for r in doc["runs"] if r["name"] == "tensorflow")
    fits = TUNE_FOLDS * len(TUNE_ALPHAS) + 1
    assert tf["estimated"] and tf["fits"] == fits
    assert tf["wall_time_s"] == pytest.approx(measured["wall_time_s"] * fits, rel=1e-12)
    assert "estimated" in tf["note"] and tf["alpha"] is None
    assert "tensorflow (estimated)" in capsys.readouterr().out
    assert np.isfinite(tf["wall_time_s"])
