"""``fastcost compare`` end to end, in-process and as ``python -m fastcost``."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import fastcost  # noqa: E402
from fastcost.cli import main  # noqa: E402
from fastcost.compare.run import Progress as _Progress  # noqa: E402
from fastcost.compare.runners import fastcost_solvers  # noqa: E402
from helpers import table_rows as _table_rows  # noqa: E402

SMALL = ["--n-samples", "2000", "--n-features", "5"]
RUN_KEYS = {
    "name",
    "wall_time_s",
    "cpu_time_s",
    "peak_memory_delta_bytes",
    "energy_j",
    "energy_source",
    "test_mse",
    "r2",
    "loss_history",
    "coef",
    "intercept",
    "params",
    "wall_times_s",
    "report",
    "speedup_vs_tensorflow",
}


def _finite_numbers(obj) -> list[float]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _finite_numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _finite_numbers(v)]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        assert math.isfinite(obj)
        return [obj]
    return []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastcost {fastcost.__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "compare" in capsys.readouterr().err


def test_unknown_solver_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Defect 5: one line with the valid names, not the top-level usage.
    assert main(["compare", "--solvers", "tensorflow,bogus"]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "usage:" not in err and len(err.strip().splitlines()) == 1
    for name in ("tensorflow", "sklearn-lr", "sklearn-sgd", *fastcost_solvers()):
        assert name in err


def test_compare_end_to_end(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib  # noqa: F401  (installed by the test extra)
    import tensorflow  # noqa: F401  (installed by the test extra)

    js, png = tmp_path / "out.json", tmp_path / "out.png"
    code = main(
        ["compare", *SMALL, "--json", str(js), "--plot", str(png), "--price-per-hour", "2.5"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    expected = ["tensorflow", "sklearn-lr", "sklearn-sgd"]
    expected += [f"fastcost-{s}" for s in fastcost_solvers()]

    rows = _table_rows(out)
    assert list(rows) == expected
    assert rows["tensorflow"].split()[3] == "1.0x"
    if "(est.)" in out:
        assert "estimated as CPU seconds" in out
    for name in expected:
        assert f"{name}: running" in err  # progress goes to stderr

    doc = json.loads(js.read_text())
    assert {"fastcost_version", "settings", "data", "machine", "runs", "skipped", "failed"} <= set(
        doc
    )
    assert doc["fastcost_version"] == fastcost.__version__
    assert doc["failed"] == [] and doc["skipped"] == []
    assert doc["data"]["n_train"] == 1600 and doc["data"]["n_features"] == 5
    assert doc["machine"]["logical_cores"] >= 1
    assert doc["machine"]["fastcost_config"] is None or isinstance(
        doc["machine"]["fastcost_config"], dict
    )
    assert doc["settings"]["sgd_initial_weights"].startswith("glorot_uniform(numpy, seed=0)")
    # 10 epochs of 16 batches: the SGD recipes may still be falling (not converged).
    recipes = {"tensorflow", "fastcost-sgd"}
    statuses = {r["name"]: r["status"] for r in doc["rows"]}
    assert list(statuses) == expected
    for name, status in statuses.items():
        assert status == "ok" or (name in recipes and status == "not converged"), name
    runs = {r["name"]: r for r in doc["runs"]}
    assert list(runs) == expected
    for name, run in runs.items():
        assert RUN_KEYS <= set(run), name
        assert run["status"] == statuses[name], name
        assert f"  {run['status']}" in rows[name], rows[name]
        for key in ("wall_time_s", "cpu_time_s", "energy_j", "test_mse", "r2"):
            assert isinstance(run[key], float) and math.isfinite(run[key]), (name, key)
        assert run["wall_time_s"] > 0 and run["peak_memory_delta_bytes"] >= 0
        assert run["report"]["cost"] > 0
        assert run["report"]["energy_estimated"] == ("estimated" in run["energy_source"])
        assert run["speedup_vs_tensorflow"] > 0
        assert run["r2"] > 0.99, name
    _finite_numbers(doc)
    assert len(runs["tensorflow"]["loss_history"]) == 10
    if "fastcost-sgd" in runs:
        # Every SGD starts from the same point, whichever ran first.
        assert runs["fastcost-sgd"]["initial_coef"] == runs["tensorflow"]["initial_coef"]
        assert runs["sklearn-sgd"]["initial_coef"] == runs["tensorflow"]["initial_coef"]
        assert len(runs["fastcost-sgd"]["loss_history"]) == 10

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_missing_tensorflow_gives_hint_and_rest_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow -> ImportError
    js = tmp_path / "out.json"
    code = main(["compare", *SMALL, "--solvers", "tensorflow,sklearn-lr", "--json", str(js)])
    out, err = capsys.readouterr()
    assert code == 0
    hint = [line for line in err.splitlines() if "fastcost[tensorflow]" in line]
    assert len(hint) == 1 and "tensorflow" in hint[0]
    assert list(_table_rows(out)) == ["sklearn-lr"]
    doc = json.loads(js.read_text())
    assert [s["name"] for s in doc["skipped"]] == ["tensorflow"]
    assert doc["runs"][0]["speedup_vs_tensorflow"] is None


def test_repeat_and_threads(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    js = tmp_path / "out.json"
    args = ["compare", *SMALL, "--solvers", "sklearn-lr", "--repeat", "3", "--threads", "1"]
    assert main([*args, "--json", str(js), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "median of 3" in out
    doc = json.loads(js.read_text())
    run = doc["runs"][0]
    assert len(run["wall_times_s"]) == 3
    assert run["wall_time_s"] == sorted(run["wall_times_s"])[1]
    assert doc["settings"]["threads"] == 1 and run["params"]["threads"] == 1


def _write_table(tmp_path, fmt: str):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.standard_normal(300)
    if fmt == "npy":
        path = tmp_path / "d.npy"
        np.save(path, np.column_stack([y, X]))  # target first: needs --target 0
        return path, ["--target", "0"]
    if fmt == "npz":
        path = tmp_path / "d.npz"
        np.savez(path, X=X, y=y)
        return path, []
    import pandas as pd

    frame = pd.DataFrame({"price": y, "a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    if fmt == "csv":
        path = tmp_path / "d.csv"
        frame.to_csv(path, index=False)
    else:
        import pyarrow  # noqa: F401  (installed by the test extra)

        path = tmp_path / "d.parquet"
        frame.to_parquet(path)
    return path, ["--target", "price"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npy", "npz"])
def test_data_files(tmp_path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    path, extra = _write_table(tmp_path, fmt)
    js = tmp_path / "out.json"
    args = ["compare", "--data", str(path), *extra, "--solvers", "sklearn-lr", "--json", str(js)]
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads(js.read_text())
    assert doc["data"]["n_features"] == 3 and doc["data"]["n_samples"] == 300
    assert doc["runs"][0]["r2"] > 0.999


def test_bad_data_file(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "d.bin"
    bad.write_text("1,2\n")
    assert main(["compare", "--data", str(bad), "--solvers", "sklearn-lr"]) == 1
    assert "unsupported file type" in capsys.readouterr().err


def test_no_feature_left_fails_once_before_any_row(capsys: pytest.CaptureFixture[str]) -> None:
    # --drop of every column but the target: one error up front, not "0 feature(s)" per row.
    salaries = os.path.join(os.path.dirname(__file__), "data", "Salaries.csv")
    drop = "rank,discipline,yrs.since.phd,yrs.service,sex"
    args = ["compare", "--data", salaries, "--target", "salary", "--drop", drop]
    assert main([*args, "--solvers", "newton,lbfgs"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "fastcost compare: cannot load data: no feature column to fit: every column but the "
        "target 'salary' is left out: Unnamed: 0 (row index), rank (--drop), discipline "
        "(--drop), yrs.since.phd (--drop), yrs.service (--drop), sex (--drop); keep at least "
        "one (--features, --drop)"
    ]
    assert captured.out == ""
    assert main([*args[:-2], "--features", "Unnamed: 0", "--solvers", "newton"]) == 1
    assert "Unnamed: 0 (row index), rank (not in --features)" in capsys.readouterr().err


def test_python_dash_m(tmp_path) -> None:
    js = tmp_path / "out.json"
    solvers = "sklearn-lr,newton" if "newton" in fastcost_solvers() else "sklearn-lr"
    proc = subprocess.run(
        [sys.executable, "-m", "fastcost", "compare", *SMALL, "--solvers", solvers]
        + ["--json", str(js)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = _table_rows(proc.stdout)
    assert "sklearn-lr" in rows
    names = [r["name"] for r in json.loads(js.read_text())["runs"]]
    assert names == list(rows)
    version = subprocess.run(
        [sys.executable, "-m", "fastcost", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"fastcost {fastcost.__version__}"


def test_progress_heartbeat_for_long_runs() -> None:
    stream = io.StringIO()
    with _Progress(stream, quiet=False, every_s=0.05).step("[1/1] slow: running"):
        time.sleep(0.3)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/1] slow: running ..."
    assert any("still running" in line for line in lines[1:])
    quiet = io.StringIO()
    with _Progress(quiet, quiet=True, every_s=0.05).step("x"):
        time.sleep(0.1)
    assert quiet.getvalue() == ""
