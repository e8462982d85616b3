"""``fastcost compare``'s report says what happened: every row runs on inputs of its
own, has a status, keeps its warnings as notes; numbers are bounded; errors are
one line, found before any fit where they can be; the measurement stays out of
the timed region."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import socket
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fastcost.cli import main  # noqa: E402
from fastcost.compare import report  # noqa: E402
from fastcost.compare import runners as runners_mod  # noqa: E402
from fastcost.compare.meter import FitMeter  # noqa: E402
from fastcost.compare.result import Comparison, RunResult, scores  # noqa: E402
from fastcost.compare.run import Progress, run_comparison  # noqa: E402
from fastcost.compare.runners import RUNNERS, Runner, Settings, run_fastcost, shared_start  # noqa: E402
from fastcost.datasets import make_default  # noqa: E402
from fastcost.exceptions import NonFiniteError  # noqa: E402
from fastcost.linear_model import LinearRegression  # noqa: E402
from fastcost.resources import ResourceReport  # noqa: E402
from helpers import table_rows as _table_rows  # noqa: E402

TINY = ["--n-samples", "300", "--n-features", "3"]
#: Rows whose inputs a library might write into: the start-sharing SGDs first.
SHARERS = ("tensorflow", "sklearn-sgd", "fastcost-sgd")


def _quiet() -> Progress:
    return Progress(io.StringIO(), quiet=True)


@pytest.fixture(scope="module")
def tiny():
    return make_default(n_samples=300, n_features=3, seed=0)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(threads=1, seed=0, epochs=3, batch_size=50)


def _outcome(res: RunResult) -> tuple:
    return (res.coef, res.intercept, res.test_mse, res.initial_coef, res.initial_intercept)


def _assert_same(a: RunResult, b: RunResult) -> None:
    for x, y in zip(_outcome(a), _outcome(b), strict=True):
        if x is None or y is None:
            assert x is y, a.name
        else:
            np.testing.assert_array_equal(x, y, err_msg=a.name)


# ------------------------------------------------------------- defect 1: shared state


def test_each_row_gives_its_alone_result_in_every_subset(tiny, settings) -> None:
    """Defect 1: a row's coefficients, test MSE and recorded start are the same
    whichever of the start-sharing rows (and two others) run with it."""
    import tensorflow  # noqa: F401  (the test extra installs it)

    names = [*SHARERS, "sklearn-lr", "fastcost-newton"]
    alone = {n: run_comparison([n], tiny, settings, _quiet()).results[0] for n in names}
    w0, b0 = shared_start(tiny.n_features, settings.seed)
    for n in SHARERS:  # the start each used, recorded before its fit
        np.testing.assert_array_equal(alone[n].initial_coef, w0, err_msg=n)
        assert alone[n].initial_intercept == b0
    subsets = [
        list(c) for k in (2, 3) for c in itertools.combinations(SHARERS, k)
    ] + [names]  # fmt: skip
    for subset in subsets:
        comparison = run_comparison(subset, tiny, settings, _quiet())
        assert [r.name for r in comparison.results] == subset
        for res in comparison.results:
            _assert_same(res, alone[res.name])


def _vandal(X_train, y_train, X_test, y_test, *, coef_init=None, intercept_init=None):
    """A row whose library writes into everything it is given."""
    res = run_fastcost("newton", X_train, y_train, X_test, y_test)
    for a in (X_train, y_train, X_test, y_test, coef_init):
        a[...] = 1e6
    return res


def test_a_row_writing_into_its_inputs_changes_no_other_row(
    tiny, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 1: each row gets copies of X, y and the start, made before its fit."""
    monkeypatch.setitem(RUNNERS, "vandal", Runner("vandal", "test", _vandal, takes_start=True))
    others = ["sklearn-sgd", "fastcost-sgd", "sklearn-lr"]
    alone = {n: run_comparison([n], tiny, settings, _quiet()).results[0] for n in others}
    X_before = tiny.X_train.copy()
    after = run_comparison(["vandal", *others], tiny, settings, _quiet()).results
    np.testing.assert_array_equal(tiny.X_train, X_before)
    for res in after[1:]:
        _assert_same(res, alone[res.name])


def test_sklearn_sgd_trains_a_copy_of_the_start(tiny) -> None:
    """Defect 1 at its source: SGDRegressor.fit trains coef_init in place."""
    from fastcost.baselines import run_sklearn_sgd

    w0, b0 = shared_start(tiny.n_features, 0)
    given = w0.copy()
    split = (tiny.X_train, tiny.y_train, tiny.X_test, tiny.y_test)
    once = run_sklearn_sgd(*split, coef_init=given, intercept_init=b0, epochs=3)
    twice = run_sklearn_sgd(*split, coef_init=given, intercept_init=b0, epochs=3, repeat=2)
    np.testing.assert_array_equal(given, w0)  # the caller's array is untouched
    np.testing.assert_array_equal(once.initial_coef, w0)  # the start, not the trained weights
    assert not np.array_equal(once.coef, w0)
    np.testing.assert_array_equal(once.coef, twice.coef)  # every measured fit starts at w0


# ------------------------------------------------------------- defect 2: messages


def test_overflow_is_not_reported_as_nan() -> None:
    """Defect 2: a finite 1e308 is an overflow of X; a large y is y's; float64 data
    is never advised float64; a NaN cell is named."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    big_x = X.copy()
    big_x[3, 1] = 1e308
    with pytest.raises(NonFiniteError) as exc:
        LinearRegression(solver="newton").fit(big_x, y)
    text = str(exc.value)
    assert "NaN" not in text.replace("no NaN", "") and "X[3, 1]" in text and "overflow" in text
    assert "float64" not in text.split(";")[-1]  # no advice to use what it uses
    big_y = y.copy()
    big_y[5] = 1e300
    with pytest.raises(NonFiniteError) as exc:
        LinearRegression(solver="newton").fit(X, big_y)
    text = str(exc.value)
    assert "values of y" in text and "standardize y" in text and "rescale X" not in text
    # float32 squares that overflow: the register-tile Gram (16 columns) sums in
    # float32 and says to fit in float64; narrow data sums in float64 and fits.
    wide32 = np.tile(X * 1e30, (1, 4)).astype(np.float32)
    with pytest.raises(NonFiniteError, match="fit in float64"):
        LinearRegression(solver="newton").fit(wide32, y.astype(np.float32))
    nan_x = X.copy()
    nan_x[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"row 7, column 2"):
        LinearRegression(solver="newton").fit(nan_x, y)


def test_cli_says_overflow_for_a_huge_finite_cell(tmp_path, capsys) -> None:
    """Defect 2 through the data path: the column statistics overflow, X has no NaN."""
    X = np.random.default_rng(1).standard_normal((40, 2))
    y = X.sum(axis=1)
    X[::2, 0] = 1e308  # in the training rows whatever the split
    path = tmp_path / "big.npz"
    np.savez(path, X=X, y=y)
    assert main(["compare", "--data", str(path), "--solvers", "newton"]) == 1
    err = capsys.readouterr().err
    assert "overflow" in err and "no NaN" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------- defect 3 and statuses


def test_scores_of_a_diverged_model_are_nan_not_an_error() -> None:
    y = np.arange(5.0)
    mse, r2 = scores(y, np.full(5, np.nan))
    assert math.isnan(mse) and math.isnan(r2)
    assert scores(y, np.array([0, 1, 2, 3, np.inf])) == (math.inf, -math.inf)


def test_diverged_tensorflow_is_a_status(tmp_path, capsys) -> None:
    """Defect 3: a TensorFlow run whose loss overflows is 'diverged', not an exception."""
    import tensorflow  # noqa: F401  (the test extra installs it)

    js = tmp_path / "out.json"
    args = ["compare", *TINY, "--solvers", "tensorflow,newton", "--learning-rate", "1e4"]
    assert main([*args, "--json", str(js)]) == 0
    out, err = capsys.readouterr()
    assert "Input contains NaN" not in out + err
    assert " diverged: training loss is " in _table_rows(out)["tensorflow"]
    run = json.loads(js.read_text())["runs"][0]
    assert run["status"] == "diverged" and run["test_mse"] is None
    assert json.loads(js.read_text())["failed"] == []


def _raising(*args, **kwargs):
    raise RuntimeError("boom\nsecond line")


def _warning(X_train, y_train, X_test, y_test):
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn("lbfgs stopped at max_iter", ConvergenceWarning, stacklevel=1)
    return run_fastcost("lbfgs", X_train, y_train, X_test, y_test)


def test_a_failing_row_does_not_abort_the_others_and_warnings_are_notes(
    tmp_path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(RUNNERS, "raiser", Runner("raiser", "test", _raising))
    monkeypatch.setitem(RUNNERS, "warner", Runner("warner", "test", _warning))
    js = tmp_path / "out.json"
    assert main(["compare", *TINY, "--solvers", "raiser,warner,newton", "--json", str(js)]) == 1
    out, err = capsys.readouterr()
    rows = _table_rows(out)
    assert list(rows) == ["raiser", "warner", "fastcost-newton"]
    assert rows["raiser"].endswith("failed: RuntimeError: boom second line")
    assert "not converged: lbfgs stopped at max_iter" in rows["warner"]
    assert rows["fastcost-newton"].endswith("  ok")
    notes = out[out.index("notes:") :]
    assert "warner: ConvergenceWarning: lbfgs stopped at max_iter" in notes
    assert ".py:" not in err  # no raw warning with its file and line
    doc = json.loads(js.read_text())
    assert [(r["name"], r["status"]) for r in doc["rows"]] == [
        ("raiser", "failed"), ("warner", "not converged"), ("fastcost-newton", "ok"),
    ]  # fmt: skip
    assert doc["failed"][0]["reason"] == "RuntimeError: boom second line"
    assert "Traceback" in doc["failed"][0]["traceback"]
    assert doc["runs"][0]["notes"] == ["ConvergenceWarning: lbfgs stopped at max_iter"]


# ------------------------------------------------------------- formatting and chart


def _result(name: str, mse: float, r2: float, status: str = "ok") -> RunResult:
    rep = ResourceReport(
        wall_time_s=1e-4, cpu_user_s=1e-4, cpu_system_s=0.0, cpu_utilization=1.0,
        rss_start_bytes=0, peak_rss_bytes=0, peak_memory_delta_bytes=0, max_threads=1,
        energy_j=1e-3, energy_source="estimated",
    )  # fmt: skip
    return RunResult(
        name, rep, mse, r2, 3, [3.0, 2.0, 1.0], np.zeros(2), 0.0, status=status,
        params={"library": "test"},
    )  # fmt: skip


def test_numbers_are_bounded() -> None:
    assert report.format_number(1e300) == "1e+300"
    assert report.format_r2(-1e40) == "-1e+40"
    assert report.format_r2(0.99999876543) == "0.9999988"
    assert [report.format_number(v) for v in (math.nan, math.inf, -math.inf)] == [
        "nan", "inf", "-inf",
    ]  # fmt: skip
    assert report.format_r2(math.nan) == "nan"
    comparison = Comparison(names=["a", "b", "c"])
    comparison.results = [
        _result("a", 1.2345678912345e300, -1.2345678e40),
        _result("b", 1.23456789e-30, 0.123456789123),
        _result("c", math.nan, math.nan, status="diverged"),
    ]
    lines = report.table(comparison, price=False).splitlines()
    for line in lines[2:]:
        for cell in line.split()[1:-1]:
            assert len(cell) <= 11, line
    assert lines[-1].split()[-3:] == ["nan", "nan", "diverged"]


def test_chart_shows_test_error_beside_time_memory_and_energy(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    saved = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: saved.append(self))
    comparison = Comparison(names=["a", "b"])
    comparison.results = [_result("a", 0.01, 0.99), _result("b", math.nan, math.nan, "diverged")]
    report.plot(str(tmp_path / "c.png"), comparison, "title")
    titles = [ax.get_title() for ax in saved[0].axes]
    assert [t.split()[0] for t in titles] == ["Time", "Memory", "Energy", "Test"]
    ticks = [t.get_text() for t in saved[0].axes[0].get_yticklabels()]
    assert "b [diverged]" in ticks


# ------------------------------------------------------------- --seeds


def test_seeds_show_the_spread_of_the_sgd_rows(tmp_path, capsys) -> None:
    js = tmp_path / "out.json"
    args = ["compare", *TINY, "--solvers", "sklearn-sgd,sgd,newton", "--seeds", "3"]
    assert main([*args, "--json", str(js), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "MSE over 3 seeds" in out.splitlines()[0]
    assert " ± " in _table_rows(out)["fastcost-sgd"]
    runs = {r["name"]: r for r in json.loads(js.read_text())["runs"]}
    for name in ("sklearn-sgd", "fastcost-sgd"):
        spread = runs[name]["seed_spread"]
        assert spread["k"] == 3 and spread["seeds"] == [0, 1, 2]
        assert spread["test_mse"][0] == runs[name]["test_mse"]
        assert spread["min"] <= spread["mean"] <= spread["max"] and spread["std"] >= 0
    assert runs["fastcost-newton"]["seed_spread"] is None
    assert main(["compare", *TINY, "--solvers", "sgd", "--quiet"]) == 0
    assert "seeds" not in capsys.readouterr().out  # K = 1: today's table


# ------------------------------------------------------------- defect 4: --scheduler


def test_malformed_scheduler_fails_at_once_without_traceback_at_exit() -> None:
    import distributed  # noqa: F401  (the test extra installs it)

    proc = subprocess.run(
        [sys.executable, "-m", "fastcost", "compare", *TINY, "--solvers", "newton",
         "--scheduler", "nonsense"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "fastcost compare: --scheduler: invalid Dask scheduler address 'nonsense' (missing "
        "port number in address 'nonsense'); expected e.g. tcp://host:8786"
    ]
    assert proc.stdout == ""  # failed before any fit


def test_scheduler_that_never_answers_fails_within_the_timeout(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service that accepts the connection and says nothing (a plain
    distributed.Client waits for it forever), and a closed port."""
    import distributed  # noqa: F401  (the test extra installs it)

    monkeypatch.setattr(runners_mod, "SCHEDULER_TIMEOUT_S", 0.5)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    acceptor = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    acceptor.start()
    try:
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        assert main(["compare", *TINY, "--solvers", "newton", "--scheduler", address]) == 1
        out, err = capsys.readouterr()
        assert out == "" and f"cannot reach a Dask scheduler at '{address}'" in err
    finally:
        for conn, _ in accepted:
            conn.close()
        server.close()
    assert main(["compare", *TINY, "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ------------------------------------------------------------- defect 5: messages


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_missing_data_file_is_one_line(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["compare", "--data", str(missing)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "no such file" in line and str(missing) in line


def test_too_few_rows_says_how_many_and_after_what(tmp_path, capsys) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    all_nan = tmp_path / "nan.csv"
    pd.DataFrame({"a": rng.standard_normal(20), "b": np.nan, "y": rng.standard_normal(20)}).to_csv(
        all_nan, index=False
    )
    assert main(["compare", "--data", str(all_nan), "--clean", "drop"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "too few rows: 0 rows remain after --clean drop" in line
    assert "train_size" not in line
    one = tmp_path / "one.csv"
    pd.DataFrame({"a": [1.0], "y": [2.0]}).to_csv(one, index=False)
    assert main(["compare", "--data", str(one)]) == 1
    assert "too few rows: the data has 1 row" in _one_line(capsys.readouterr().err)


def test_unwritable_outputs_fail_before_any_fit(tmp_path, capsys) -> None:
    for option, path in (
        ("--json", tmp_path / "missing-dir" / "out.json"),
        ("--plot", tmp_path),  # a directory
        ("--plot", tmp_path / "chart.nosuchformat"),
    ):
        assert main(["compare", *TINY, "--solvers", "newton", option, str(path)]) == 1
        out, err = capsys.readouterr()
        assert out == "" and "running" not in err  # nothing ran
        assert str(path) in _one_line(err)


def test_target_without_data_is_an_error(capsys) -> None:
    assert main(["compare", "--target", "price"]) == 2
    assert "--target needs --data" in _one_line(capsys.readouterr().err)
    assert main(["compare", "--target", "price", "--features", "a,b"]) == 2
    assert "--target, --features need --data" in _one_line(capsys.readouterr().err)


# ------------------------------------------------------------- the measurement


def test_nothing_runs_beside_the_timed_fit() -> None:
    """compare's meter starts no sampling thread: the fit has the machine to itself."""
    before = {t.ident for t in threading.enumerate()}
    seen = []
    with FitMeter() as m:
        seen.extend(t.ident for t in threading.enumerate())
    assert set(seen) <= before
    assert m.report is not None and m.report.wall_time_s > 0
    assert m.report.peak_source in ("hwm", "start/end")
    with FitMeter() as m:
        block = np.ones(4_000_000)  # 32 MB touched inside the block
        block += 1
    if m.report.peak_source == "hwm":
        assert m.report.peak_memory_delta_bytes >= 30_000_000
