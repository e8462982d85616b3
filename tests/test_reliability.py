"""Reliability: bad input, interrupts, concurrency, persistence, determinism."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fastcost
import numpy as np
import pytest
from fastcost import LinearRegression, _core
from fastcost.exceptions import DivergenceError, RankDeficientWarning
from fastcost.persistence import ModelFileError
from helpers import make_problem, reference_fit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DATA = Path(__file__).resolve().parent / "data"

SOLVERS = ["newton", "qr", "lbfgs", "gd", "sgd"]

# ---------------------------------------------------------------- bad input


def _xy(n=30, d=3, seed=0):
    X, y, _ = make_problem(n, d, seed=seed)
    return X, y


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    ("mutate", "exc", "match"),
    [
        (
            lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y),
            ValueError,
            "row 2, column 1",
        ),
        (
            lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), y),
            ValueError,
            "row 2, column 1",
        ),
        (lambda X, y: (X, np.r_[y[:-1], np.nan]), ValueError, "Input y contains NaN"),
        (lambda X, y: (X[:0], y[:0]), ValueError, "0 sample"),
        (lambda X, y: (X, y[:-2]), ValueError, "inconsistent numbers of samples"),
        (lambda X, y: (X[:, 0], y), ValueError, "Expected 2D array"),
        (lambda X, y: (X[:, :, None], y), ValueError, "dim 3"),
        (lambda X, y: (X.astype(complex), y), ValueError, "Complex data not supported"),
        (
            lambda X, y: (np.array([["a"] * 3] * 30, dtype=object), y),
            ValueError,
            "could not convert",
        ),
        (lambda X, y: (X[:, :0], y), ValueError, "0 feature"),
    ],
)
def test_bad_input_raises_a_clear_error(solver, mutate, exc, match):
    X, y = _xy()
    Xb, yb = mutate(X, y)
    with pytest.raises(exc, match=match):
        LinearRegression(solver=solver).fit(Xb, yb)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.r_[np.ones(29), np.nan], "sample_weight contains NaN"),
        (np.r_[np.ones(29), -1.0], "negative"),
        (np.zeros(30), "sums to zero"),
        (np.ones(29), r"shape \(30,\)"),
    ],
)
def test_bad_weights(solver, weights, match):
    X, y = _xy()
    with pytest.raises(ValueError, match=match):
        LinearRegression(solver=solver).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.uint8])
def test_integer_and_bool_inputs_are_converted_to_float64(dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2 if dtype == np.bool_ else 50, size=(60, 3)).astype(dtype)
    y = X.astype(float) @ [1.0, -2.0, 0.5] + 3.0
    m = LinearRegression().fit(X, y)
    assert m.coef_.dtype == np.float64
    w, b = reference_fit(X.astype(float), y)
    np.testing.assert_allclose(m.coef_, w, atol=1e-9)
    np.testing.assert_allclose(m.intercept_, b, atol=1e-9)


def test_one_sample_and_wide_data_give_minimum_norm():
    X, y = _xy(1, 3)
    with pytest.warns(RankDeficientWarning):
        m = LinearRegression().fit(X, y)
    np.testing.assert_array_equal(m.coef_, 0.0)  # centered design is zero: min-norm w = 0
    assert m.intercept_ == pytest.approx(y[0])
    X, y = _xy(5, 12)
    w, b = reference_fit(X, y)
    for solver in ["newton", "qr"]:
        with pytest.warns(RankDeficientWarning):
            m = LinearRegression(solver=solver).fit(X, y)
        np.testing.assert_allclose(m.coef_, w, atol=1e-8)
        np.testing.assert_allclose(m.predict(X), y, atol=1e-8)


def test_read_only_and_non_contiguous_inputs():
    X, y = _xy(200, 4)
    w, b = reference_fit(X, y)
    Xr, yr = X.copy(), y.copy()
    Xr.flags.writeable = False
    yr.flags.writeable = False
    for solver in SOLVERS[:4]:
        m = LinearRegression(solver=solver, tol=1e-10).fit(Xr, yr)
        np.testing.assert_allclose(m.coef_, w, rtol=1e-6)
    big = np.zeros((400, 9))
    big[::2, ::2] = np.c_[X, np.ones(200)]
    view = big[::2, :8:2]  # strided in both dimensions: copied once, still right
    np.testing.assert_allclose(LinearRegression().fit(view, y).coef_, w, rtol=1e-9)


def test_float32_overflow_is_an_error_or_a_correct_result():
    """Values whose squares overflow float32. newton's sums of squares overflow
    where they are summed in float32 (the register-tile Gram of wider data: a
    clear error) and not in the narrow kernel, which sums in float64 and so
    finds the right model; the gradient solvers never square X and may still
    find it too. Every model found is checked against float64."""
    X = np.full((50, 2), 3e30, dtype=np.float32)
    X[:, 1] = np.linspace(1e30, 3e30, 50, dtype=np.float32)
    y = np.linspace(0.0, 1.0, 50).astype(np.float32)
    pred_ref = np.linspace(0.0, 1.0, 50)  # y is exactly linear in column 1
    with pytest.warns(RankDeficientWarning):  # column 0 is constant
        m = LinearRegression(solver="newton").fit(X, y)
    np.testing.assert_allclose(m.predict(X), pred_ref, atol=1e-3)
    wide = np.tile(X, (1, 8))  # 16 columns: the float32 register tiles
    with pytest.raises(ValueError, match="overflow"):
        LinearRegression(solver="newton").fit(wide, y)
    for solver in ["lbfgs", "gd", "sgd"]:
        try:
            m = LinearRegression(solver=solver, max_iter=200).fit(X, y)
        except ValueError as exc:
            assert "overflow" in str(exc) or "diverged" in str(exc)
            continue
        assert np.isfinite(m.coef_).all()
        if solver != "sgd":
            np.testing.assert_allclose(m.predict(X), pred_ref, atol=1e-3)
    m = LinearRegression().fit(
        np.arange(10, dtype=np.float32)[:, None], 2 * np.arange(10, dtype=np.float32)
    )
    with pytest.raises(ValueError, match="predictions overflow"):
        m.predict(np.full((2, 1), 3e38, dtype=np.float32))


def test_sgd_divergence_is_a_value_error():
    X, y = _xy(500, 3)
    with pytest.raises(DivergenceError, match="learning_rate"):
        LinearRegression(solver="sgd", learning_rate=10.0, max_iter=100, random_state=0).fit(
            X * 1e3, y
        )


_dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128])
_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.floats(min_value=-1e6, max_value=1e6, width=32),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(0, 12),
    d=st.integers(0, 4),
    dtype=_dtypes,
    solver=st.sampled_from(SOLVERS),
    order=st.sampled_from(["C", "F"]),
)
def test_fuzz_fit_and_predict(data, n, d, dtype, solver, order):
    """Random shapes, dtypes and values: a finite model or a clear error, never a crash."""
    with np.errstate(all="ignore"):  # casting inf/NaN to ints is part of the fuzzing
        X = np.asarray(
            data.draw(hnp.arrays(np.float64, (n, d), elements=_values)).astype(dtype), order=order
        )
    y = data.draw(hnp.arrays(np.float64, (n,), elements=_values))
    with np.errstate(all="ignore"):
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = LinearRegression(solver=solver, max_iter=50).fit(X, y)
        except (ValueError, TypeError):
            return
    assert np.isfinite(m.coef_).all() and np.isfinite(m.intercept_)
    try:
        pred = m.predict(X)
    except ValueError:
        return
    assert np.isfinite(pred).all()


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n=st.integers(0, 9),
    d=st.integers(0, 4),
    dtype=st.sampled_from([np.float64, np.float32, np.int32]),
    ydtype=st.sampled_from([np.float64, np.float32]),
    shards=st.integers(-2, 5),
    threads=st.integers(-1, 3),
)
def test_fuzz_core_entry_points(data, n, d, dtype, ydtype, shards, threads):
    """The C++ entry points validate their arguments themselves."""
    with np.errstate(all="ignore"):
        X = data.draw(hnp.arrays(np.float64, (n, d), elements=_values)).astype(dtype)
        y = data.draw(hnp.arrays(np.float64, (n,), elements=_values)).astype(ydtype)
    w = np.zeros(d)
    calls = [
        lambda: _core.gram_stats(X, y, None, None, shards, threads),
        lambda: _core.loss_grad(X, y, w, 0.0, None, shards, threads),
        lambda: _core.fit(X, y, None, "newton", _core.FitOptions(n_shards=max(shards, 0))),
        lambda: _core.fit(X, y, None, "lbfgs", _core.FitOptions(max_iter=5)),
        lambda: _core.find_nonfinite(X),
    ]
    for call in calls:
        try:
            with np.errstate(all="ignore"):
                call()
        except (ValueError, TypeError, OverflowError):
            pass


# ---------------------------------------------------------------- interrupts

_INTERRUPT_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from fastcost import LinearRegression
    solver = sys.argv[1]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400_000, 40))
    y = X @ rng.standard_normal(40) + rng.standard_normal(400_000)
    params = {"lbfgs": {}, "gd": dict(max_iter=200), "sgd": dict(max_iter=20), "newton": {}, "qr": {}}[solver]
    victim = LinearRegression(solver=solver, random_state=0, **params).fit(X[:100], y[:100])
    before = (victim.coef_.tobytes(), victim.intercept_)
    full = LinearRegression(solver=solver, random_state=0, **params).fit(X, y)
    after = (full.coef_.tobytes(), full.intercept_)

    def rss():
        with open("/proc/self/status") as fh:
            return int([l for l in fh if l.startswith("VmRSS")][0].split()[1]) * 1024

    rss_after = []
    for attempt in range(3):
        print("ready", flush=True)
        try:
            while True:  # keep the process inside fits until the signal lands
                victim.fit(X, y)
        except KeyboardInterrupt:
            caught = time.time()
        # Interrupted fits leave the estimator as the last completed fit left it.
        assert (victim.coef_.tobytes(), victim.intercept_) in (before, after)
        rss_after.append(rss())
        print("caught %.6f" % caught, flush=True)
        sys.stdin.readline()
    print("rss", *rss_after, flush=True)
    """
)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "newton", "qr", "gd"])
def test_ctrl_c_interrupts_a_fit_promptly(solver):
    with subprocess.Popen(
        [sys.executable, "-c", _INTERRUPT_CHILD, solver],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            delays = []
            for _ in range(3):
                line = proc.stdout.readline().strip()
                assert line == "ready", line + proc.stderr.read()
                time.sleep(1.0)  # well inside the fits
                sent = time.time()
                proc.send_signal(signal.SIGINT)
                line = proc.stdout.readline().split()
                assert line and line[0] == "caught", proc.stderr.read()
                delays.append(float(line[1]) - sent)
                proc.stdin.write("\n")
                proc.stdin.flush()
            rss = [int(v) for v in proc.stdout.readline().split()[1:]]
            assert proc.wait(timeout=60) == 0, proc.stderr.read()
        finally:
            proc.kill()
    assert max(delays) < 0.5, delays
    # Nothing leaks per interrupted fit: memory after the 3rd interrupt is not above the 2nd's.
    assert rss[2] <= rss[1] + 8 * 2**20, rss


# ---------------------------------------------------------------- concurrency


@pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)  # short runs on purpose
def test_fits_from_several_threads_match_serial_fits():
    problems = [make_problem(20_000, 8, seed=s, weights=True) for s in range(6)]
    jobs = [(SOLVERS[i % len(SOLVERS)], p) for i, p in enumerate(problems)]

    def run(job):
        solver, (X, y, s) = job
        m = LinearRegression(solver=solver, n_threads=2, n_shards=8, random_state=1, max_iter=30)
        return m.fit(X, y, s)

    serial = [run(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(run, jobs * 2))
    for i, m in enumerate(parallel):
        ref = serial[i % len(jobs)]
        assert m.coef_.tobytes() == ref.coef_.tobytes()
        assert m.intercept_ == ref.intercept_


def test_one_estimator_fitted_from_two_threads_stays_consistent():
    a = make_problem(50_000, 6, seed=1)
    b = make_problem(50_000, 6, seed=2)
    refs = [LinearRegression(n_shards=4).fit(X, y) for X, y, _ in (a, b)]
    shared = LinearRegression(n_shards=4)
    barrier = threading.Barrier(2)

    def work(p):
        barrier.wait()
        for _ in range(10):
            shared.fit(p[0], p[1])

    threads = [threading.Thread(target=work, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert any(shared.coef_.tobytes() == r.coef_.tobytes() for r in refs)
    assert any(shared.intercept_ == r.intercept_ for r in refs)


# ---------------------------------------------------------------- persistence


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["newton", "sgd"])
def test_pickle_and_save_load_round_trip(tmp_path, dtype, solver):
    X, y, _ = make_problem(300, 4, seed=3, dtype=dtype)
    m = LinearRegression(solver=solver, random_state=0).fit(X, y)
    p = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(p.predict(X), m.predict(X))
    path = tmp_path / "model.json"
    m.save(path)
    loaded = fastcost.load(path)
    assert type(loaded) is LinearRegression
    assert loaded.get_params() == m.get_params()
    assert loaded.coef_.dtype == m.coef_.dtype
    np.testing.assert_array_equal(loaded.coef_, m.coef_)
    assert loaded.intercept_ == m.intercept_
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
    np.testing.assert_array_equal(loaded.loss_history_, m.loss_history_)


def test_save_load_keeps_feature_names(tmp_path):
    import pandas as pd

    X, y, _ = make_problem(100, 2, seed=1)
    m = LinearRegression().fit(pd.DataFrame(X, columns=["a", "b"]), y)
    m.save(tmp_path / "m.json")
    assert list(fastcost.load(tmp_path / "m.json").feature_names_in_) == ["a", "b"]


def test_load_rejects_tampered_truncated_and_foreign_files(tmp_path):
    X, y, _ = make_problem(100, 3, seed=1)
    path = tmp_path / "m.json"
    LinearRegression().fit(X, y).save(path)
    text = path.read_text()

    doc = json.loads(text)
    doc["attributes"]["coef_"]["values"][0] += 1.0
    (tmp_path / "tampered.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="checksum"):
        fastcost.load(tmp_path / "tampered.json")

    (tmp_path / "truncated.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        fastcost.load(tmp_path / "truncated.json")

    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ModelFileError, match="not a fastcost model"):
        fastcost.load(tmp_path / "other.json")

    doc = json.loads(text)
    doc["format_version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="format version 99"):
        fastcost.load(tmp_path / "future.json")

    with pytest.raises(Exception, match="not fitted"):
        LinearRegression().save(tmp_path / "unfitted.json")


def _resealed(doc):
    """A model document with its checksum recomputed, as an attacker would."""
    from fastcost.persistence import _digest

    doc = dict(doc)
    doc.pop("sha256", None)
    return dict(doc, sha256=_digest(doc))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["params"].update(solver="__import__('os')"), "solver must be one of"),
        (lambda d: d["params"].update(alpha=-1.0), "alpha must be finite"),
        (lambda d: d["params"].update(extra=1), "unknown parameter"),
        (lambda d: d["attributes"]["coef_"].update(dtype="object"), "coef_ must be a float array"),
        (lambda d: d["attributes"].update(n_features_in_=7), r"coef_ has shape \(3,\)"),
        (lambda d: d["attributes"].update(n_features_in_=0), "n_features_in_ must be at least 1"),
        (lambda d: d["attributes"].update(solver_="auto"), "solver_ must be a solver that ran"),
        (lambda d: d["attributes"].update(intercept_="1.0"), "intercept_ must be a real number"),
        (lambda d: d["attributes"].pop("coef_"), "lacks coef_"),
        (lambda d: d["attributes"].update(__class__=1), "unexpected attribute"),
    ],
)
def test_load_validates_a_resealed_file_with_the_declarations(tmp_path, change, match):
    X, y, _ = make_problem(100, 3, seed=1)
    path = tmp_path / "m.json"
    LinearRegression().fit(X, y).save(path)
    doc = json.loads(path.read_text())
    change(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_resealed(doc)))
    with pytest.raises(ModelFileError, match=match):
        fastcost.load(bad)
    # The untouched file still loads and predicts like the original.
    assert fastcost.load(path).predict(X[:2]).shape == (2,)


@pytest.mark.parametrize("solver", ["newton", "qr", "lbfgs", "gd", "auto"])
@pytest.mark.parametrize("scale", [1e155, 1e-170])
def test_columns_past_float64s_range_for_squares_are_an_error(solver, scale):
    # Squares of 1e155 overflow and of 1e-170 flush to zero: without the check
    # qr returned zeros (rank 0) at 1e155 and every solver zeros at 1e-170.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + 1.0
    match = "overflow" if scale > 1 else r"underflow: column 0 of X holds values of at most"
    with pytest.raises(ValueError, match=match):
        LinearRegression(solver=solver).fit(X * scale, y)
    # Inside the range the answer is the scaled one (gd, unpreconditioned, on
    # standardized columns: the intercept is 1e140 times their scale).
    m = LinearRegression(solver=solver, standardize=solver == "gd").fit(X * 1e-140, y)
    np.testing.assert_allclose(m.coef_ * 1e-140, [1, 2, 3], rtol=1e-5)  # gd: tol 1e-6


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("scales", [[1e-8, 1, 1, 1], [1, 1e6, 1e-6, 1], [1e4] * 4])
def test_iterative_solvers_do_not_call_a_column_in_small_units_converged(solver, scales):
    # The stopping rule measured max |g|: a column in small units has a small
    # gradient, so gd stopped (converged_=True) with predictions 77 % of their
    # spread off. Measured in each column's units, it either gets there or says not.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 4)) * np.array(scales)
    y = X / np.array(scales) @ [0.1, 0.2, 0.3, 0.4] + rng.standard_normal(5000) + 100
    ref = LinearRegression(solver="qr").fit(X, y).predict(X)  # columns 1e12 apart: qr
    m = LinearRegression(solver=solver).fit(X, y)
    err = np.abs(m.predict(X) - ref).max() / ref.std()
    assert m.converged_ == (err < 1e-4), (m.converged_, err, m.n_iter_)
    if solver == "lbfgs":
        assert m.converged_ and err < 1e-5


def _salaries_with_gaps():
    import pandas as pd

    frame = pd.read_csv(DATA / "Salaries.csv")  # an index column, text, numbers
    frame.loc[::7, "sex"] = None  # a level of its own
    frame["rank"] = frame["rank"].astype("category")
    return frame.drop(columns="salary"), frame["salary"].to_numpy()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"solver": "lbfgs", "tol": 1e-10},
        {"compute_statistics": True},
        {"alpha": 2.0, "categorical_features": ["yrs.service"]},
        {"fit_intercept": False},
    ],
    ids=["newton", "lbfgs", "statistics", "forced-categorical", "no-intercept"],
)
def test_save_load_a_model_fitted_on_a_table(tmp_path, params):
    """A table model's file holds its encoder: the loaded model reads a table
    (pandas or polars, columns in any order, an unseen level) as the fit did."""
    import polars as pl

    X, y = _salaries_with_gaps()
    with warnings.catch_warnings():  # the notes on the index column and the gaps
        warnings.simplefilter("ignore", UserWarning)
        m = LinearRegression(**params).fit(X.copy(), y)
    m.save(tmp_path / "m.json")
    loaded = fastcost.load(tmp_path / "m.json")
    assert loaded.get_params() == m.get_params()
    np.testing.assert_array_equal(loaded.coef_, m.coef_)
    assert list(loaded.feature_names_out_) == list(m.feature_names_out_)
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
    np.testing.assert_array_equal(loaded.predict(pl.from_pandas(X)), m.predict(X))
    shuffled = X[X.columns[::-1]].copy()
    shuffled.loc[0, "discipline"] = "C"  # not seen at fit: the reference level, warned
    with pytest.warns(UserWarning, match="not seen at fit"):
        got = loaded.predict(shuffled)
    with pytest.warns(UserWarning, match="not seen at fit"):
        np.testing.assert_array_equal(got, m.predict(shuffled))
    # The prediction is the design's: the loaded coefficients times the dummies.
    one_hot = pd_dummies(X, loaded)
    np.testing.assert_allclose(got[1:], one_hot[1:] @ loaded.coef_ + loaded.intercept_, rtol=1e-12)


def pd_dummies(X, model):
    """The full one-hot design of the Salaries columns in ``feature_names_out_``'s order."""
    cols = []
    for name in model.feature_names_out_:
        column, _, level = name.partition("=")
        if level:
            values = X[column].astype(object).where(X[column].notna(), "<missing>")
            cols.append((values.astype(str) == level).to_numpy(float))
        else:
            cols.append(X[column].to_numpy(float))
    return np.column_stack(cols)


def test_load_validates_a_table_models_encoder(tmp_path):
    X, y = _salaries_with_gaps()
    path = tmp_path / "m.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        LinearRegression().fit(X, y).save(path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == 2 and "encoder" in doc
    changes = [
        (lambda d: d["encoder"].update(roles=["numeric"] * 6, labels=[]), "coef_ has shape"),
        (lambda d: d["encoder"].update(roles=["numeric"] * 6), "one list per categorical"),
        (lambda d: d["encoder"]["labels"][0].append("Prof"), "distinct strings"),
        (lambda d: d["encoder"]["roles"].__setitem__(1, "exec"), "roles must give one of"),
        (lambda d: d["encoder"].update(extra=1), "must hold exactly"),
        (lambda d: d["encoder"]["feature_names_in"].pop(), "roles must give one of"),
        (lambda d: d.pop("encoder"), r"coef_ has shape \(10,\), expected \(6,\)"),
        (lambda d: d["attributes"].pop("feature_names_out_"), "lacks feature_names_out_"),
    ]
    for change, match in changes:
        bad = json.loads(path.read_text())
        change(bad)
        (tmp_path / "bad.json").write_text(json.dumps(_resealed(bad)))
        with pytest.raises(ModelFileError, match=match):
            fastcost.load(tmp_path / "bad.json")


# ---------------------------------------------------------------- determinism


@pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)  # short runs on purpose
@pytest.mark.parametrize("solver", SOLVERS)
def test_bitwise_deterministic_across_runs_and_threads(solver):
    X, y, s = make_problem(30_000, 7, seed=9, weights=True)
    X = (X - X.mean(0)) / X.std(0)
    fits = [
        LinearRegression(solver=solver, n_threads=t, n_shards=6, random_state=5, max_iter=15).fit(
            X, y, s
        )
        for t in (1, 2, 2, 1)
    ]
    for m in fits[1:]:
        assert m.coef_.tobytes() == fits[0].coef_.tobytes()
        assert m.intercept_ == fits[0].intercept_


# ---------------------------------------------------------------- out of core

_MEMMAP_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from fastcost import LinearRegression
    path, n, d, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    X = np.memmap(path, dtype=np.float64, mode="r", shape=(n, d + 1))
    out = {}
    for solver in ("newton", "lbfgs"):
        m = LinearRegression(solver=solver, tol=1e-9).fit(X[:, :d], X[:, d])
        out[solver] = [m.coef_.tolist(), float(m.intercept_)]
    try:  # the limit is real: holding the file in memory is refused
        np.ones(n * (d + 1))
        out["limit_enforced"] = False
    except MemoryError:
        out["limit_enforced"] = True
    with open("/proc/self/status") as fh:
        status = dict(l.split(":", 1) for l in fh)
    out["hwm_bytes"] = int(status["VmHWM"].split()[0]) * 1024
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_memmap_larger_than_the_memory_limit(tmp_path):
    """A 2.4 GB file fitted by a process whose data limit (RLIMIT_DATA, which
    covers heap and anonymous memory, the memory a copy of X would need) is 1 GB."""
    n, d = 6_000_000, 49
    path = tmp_path / "data.f64"
    rng = np.random.default_rng(0)
    w = rng.standard_normal(d)
    X = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, d + 1))
    xtx = np.zeros((d + 1, d + 1))
    xty = np.zeros(d + 1)
    step = 500_000
    for i in range(0, n, step):
        block = rng.standard_normal((step, d))
        yb = block @ w + 0.3 + 0.1 * rng.standard_normal(step)
        X[i : i + step, :d] = block
        X[i : i + step, d] = yb
        A = np.c_[block, np.ones(step)]
        xtx += A.T @ A
        xty += A.T @ yb
    X.flush()
    del X
    ref = np.linalg.solve(xtx, xty)
    limit = 1 << 30
    assert os.path.getsize(path) > 2 * limit
    out = subprocess.run(
        [sys.executable, "-c", _MEMMAP_CHILD, str(path), str(n), str(d), str(limit)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["limit_enforced"]
    for solver in ("newton", "lbfgs"):
        coef, intercept = res[solver]
        np.testing.assert_allclose(coef, ref[:d], rtol=0, atol=1e-6)
        assert intercept == pytest.approx(ref[d], abs=1e-6)


def test_coefficients_beyond_float32_range_are_an_error_not_inf():
    """Found by test_fuzz_fit_and_predict: a float32 X of a denormal and a zero
    gives an exact slope of about -7e44, which float32 cannot hold."""
    X = np.array([[1.40129846e-45], [0.0]], dtype=np.float32)
    y = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="beyond float32's range"):
        LinearRegression(solver="qr").fit(X, y)


def test_save_load_what_fit_accepts(tmp_path):
    """A table whose only left-out column is the index (no categorical), alpha per
    target and numpy scalars (a grid from np.arange): saved and loaded, predictions
    bit for bit; a nested file is a ModelFileError; another class is named."""
    import pandas as pd

    df = pd.read_csv(DATA / "Prestige.csv")
    X, y = df.drop(columns=["prestige", "type"]), df["prestige"].to_numpy()
    with pytest.warns(UserWarning, match="row names"):
        model = LinearRegression().fit(X, y)
    model.save(tmp_path / "t.json")
    loaded = fastcost.load(tmp_path / "t.json")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    rng = np.random.default_rng(0)
    Xa = rng.standard_normal((40, 3))
    Y = np.column_stack([Xa @ [1.0, 2.0, 3.0], Xa @ [3.0, 2.0, 1.0]])
    params = dict(alpha=np.array([0.5, 2.0]), max_iter=np.int64(50), fit_intercept=np.False_)
    model = LinearRegression(**params).fit(Xa, Y)
    model.save(tmp_path / "a.json")
    loaded = fastcost.load(tmp_path / "a.json")
    np.testing.assert_array_equal(loaded.predict(Xa), model.predict(Xa))
    assert loaded.get_params()["alpha"] == [0.5, 2.0] and loaded.get_params()["max_iter"] == 50
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="not a fastcost model"):
        fastcost.load(tmp_path / "deep.json")
    with pytest.raises(
        TypeError, match=r"cannot save a .*LinearRegressionCV: fastcost.save writes"
    ):
        fastcost.persistence.save(
            fastcost.LinearRegressionCV().fit(Xa, Y[:, 0]), tmp_path / "c.json"
        )


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd"])
def test_intercept_init_and_huge_integers_are_checked(solver):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    y = X @ [1.0, 2.0, 3.0] + 4.0
    for bad in (np.nan, np.inf, "a", np.array([1.0]), True):
        with pytest.raises(ValueError, match="intercept_init must be None or a finite real"):
            LinearRegression(solver=solver).fit(X, y, intercept_init=bad)
    model = LinearRegression(solver=solver, tol=1e-10, max_iter=10_000)
    model.fit(X, y, coef_init=np.zeros(3), intercept_init=np.float32(4.0))
    assert model.intercept_ == pytest.approx(4.0, rel=1e-6)
    for name in ("max_iter", "n_threads", "n_shards", "batch_size"):
        with pytest.raises(ValueError, match=rf"{name} must be at most 2,147,483,647"):
            LinearRegression(solver=solver, **{name: 2**31}).fit(X, y)


def test_gd_started_at_the_solution_converges():
    """gd from coef_init at the least-squares solution: the gradient there is
    rounding noise, so the tolerance is relative to the gradient at zero; it
    stops at once, converged, on the solution of numpy's lstsq."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 5))
    y = X @ [1.0, 2.0, 3.0, 4.0, 5.0] + 3.0 + 0.1 * rng.standard_normal(500)
    ref = np.linalg.lstsq(np.column_stack([np.ones(500), X]), y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(solver="gd").fit(X, y, coef_init=ref[1:], intercept_init=ref[0])
    assert model.converged_ and model.n_iter_ <= 2
    np.testing.assert_allclose(model.coef_, ref[1:], rtol=1e-9)
