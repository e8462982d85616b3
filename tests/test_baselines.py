"""Runners of fastcost compare: TensorFlow's recipe, scikit-learn, fastcost's solvers.

Tolerances for the SGD loss curves come from measurements, not guesses. On the
classic problem (make_regression 10000 x 20, noise 0.1, 80/20 split, X
standardized), data seeds 0-1 x Keras seeds 0-1 x 10 shuffle seeds, runs that
start from Keras' initial weights but shuffle differently gave per-epoch losses
within these |log ratios| of Keras' loss history:

    independent NumPy recipe (below)   max 0.0094, worst-epoch mean 0.0041
    fastcost LinearRegression(sgd)     max 0.0107, worst-epoch mean 0.0052

(the worst epochs are 5-6, where the loss falls fastest; float32 and float64
agree to 1e-4). The two spreads are the same: it is the shuffle, nothing else.
Test MSE of all of them is within 1% of Keras' and at the noise floor
(0.0097-0.0101 = noise²). We allow |log ratio| < 0.03 per epoch, about three
times the largest spread seen, while recipe slips fail it by far: a missing
factor 2 in the MSE gradient gives 6.5, a sum instead of a mean over the batch
diverges, and the loss measured after instead of during each epoch gives 2.0.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fastcost.baselines import glorot_uniform, run_sklearn_lr, run_sklearn_sgd  # noqa: E402
from fastcost.compare.result import RunResult, measure_repeated  # noqa: E402
from fastcost.compare.runners import fastcost_solvers, run_fastcost  # noqa: E402
from fastcost.datasets import make_default  # noqa: E402

LOG_LOSS_TOL = 0.03  # see the module docstring
NOISE_FLOOR = 0.1**2


@pytest.fixture(scope="module")
def small():
    return make_default(n_samples=2000, n_features=5, seed=0)


@pytest.fixture(scope="module")
def classic():
    return make_default(seed=0)


@pytest.fixture(scope="module")
def tf_classic(classic) -> RunResult:
    import tensorflow  # noqa: F401  (installed by the test extra)
    from fastcost.baselines.tensorflow import run_tensorflow

    return run_tensorflow(classic.X_train, classic.y_train, classic.X_test, classic.y_test, seed=0)


def keras_recipe_numpy(X, y, w0, b0, *, epochs=10, batch_size=100, lr=0.01, seed=0):
    """The Keras recipe in NumPy: per-batch gradient of mean((Xw+b-y)^2), reshuffled
    every epoch; the epoch loss is the size-weighted mean of the batch losses,
    each taken before its update."""
    w = np.array(w0, dtype=X.dtype)
    b = X.dtype.type(b0)
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        total = 0.0
        for start in range(0, len(y), batch_size):
            rows = order[start : start + batch_size]
            r = X[rows] @ w + b - y[rows]
            total += float(r @ r)
            g = 2 * r / len(rows)
            w -= lr * (X[rows].T @ g)
            b -= lr * g.sum()
        history.append(total / len(y))
    return np.array(history), w, b


def _check_result(res: RunResult, name: str) -> None:
    assert res.name == name
    r = res.report
    for value in (r.wall_time_s, r.cpu_time_s, r.energy_j, res.test_mse, res.r2):
        assert math.isfinite(value)
    assert r.wall_time_s > 0
    assert r.peak_memory_delta_bytes >= 0
    assert r.energy_source
    assert len(res.wall_times_s) >= 1
    d = res.to_dict()
    assert d["name"] == name and d["report"]["energy_source"] == r.energy_source


# ------------------------------------------------------------------ helpers


def test_measure_repeated_keeps_the_median_run() -> None:
    sleeps = iter([0.03, 0.001, 0.015])
    calls = []

    def fit() -> float:
        s = next(sleeps)
        time.sleep(s)
        return s

    report, out, walls = measure_repeated(fit, repeat=3, before_each=lambda: calls.append(1))
    assert len(walls) == 3 and len(calls) == 3
    assert out == 0.015
    assert report.wall_time_s == sorted(walls)[1]
    with pytest.raises(ValueError, match="repeat"):
        measure_repeated(fit, repeat=0)


def test_glorot_uniform_matches_keras_bounds() -> None:
    w, b = glorot_uniform(20, seed=3)
    assert w.shape == (20,) and b == 0.0
    assert np.all(np.abs(w) <= math.sqrt(6 / 21))
    np.testing.assert_array_equal(w, glorot_uniform(20, seed=3)[0])


def test_fastcost_solvers_skip_auto() -> None:
    solvers = fastcost_solvers()
    assert "auto" not in solvers
    assert {"newton", "lbfgs", "gd", "sgd"} <= set(solvers)


# ------------------------------------------------------------------ scikit-learn


def test_sklearn_lr_reaches_noise_floor(small) -> None:
    res = run_sklearn_lr(small.X_train, small.y_train, small.X_test, small.y_test, threads=1)
    _check_result(res, "sklearn-lr")
    assert res.test_mse < 2 * NOISE_FLOOR
    assert res.params["threads"] == 1


def test_sklearn_sgd_starts_from_given_weights(small) -> None:
    w0, b0 = glorot_uniform(small.n_features, seed=0)
    res = run_sklearn_sgd(
        small.X_train,
        small.y_train,
        small.X_test,
        small.y_test,
        coef_init=w0,
        intercept_init=b0,
        epochs=5,
        repeat=2,
    )
    _check_result(res, "sklearn-sgd")
    np.testing.assert_array_equal(res.initial_coef, w0)
    assert res.n_iter == 5
    assert len(res.wall_times_s) == 2
    # Per-sample updates: 1600 steps an epoch, so 5 epochs are plenty here.
    assert res.r2 > 0.999


# ------------------------------------------------------------------ TensorFlow


def test_tensorflow_recipe_reaches_noise_floor(tf_classic: RunResult, classic) -> None:
    res = tf_classic
    _check_result(res, "tensorflow")
    # Measured 0.0100 (noise floor 0.01): 800 steps of lr 0.01 on standardized X
    # shrink the initial error by ~(1 - 0.02)^800; 2x the floor leaves room for
    # float32 and other seeds while any real failure to converge is far above.
    assert res.test_mse < 2 * NOISE_FLOOR
    assert res.r2 > 0.9999
    assert len(res.loss_history) == 10
    assert res.loss_history[-1] < 1e-3 * res.loss_history[0]
    assert res.initial_coef.shape == (classic.n_features,)
    assert res.initial_intercept == 0.0
    assert np.all(np.abs(res.initial_coef) <= math.sqrt(6 / (classic.n_features + 1)))
    assert res.params["batch_size"] == 100 and res.params["epochs"] == 10
    assert res.params["learning_rate"] == 0.01 and res.params["dtype"] == "float32"
    assert res.warmup_s > 0


def test_numpy_recipe_tracks_tensorflow(tf_classic: RunResult, classic) -> None:
    # The tolerance's calibration, kept as a test: same start, other shuffles.
    hist, w, b = keras_recipe_numpy(
        classic.X_train,
        classic.y_train,
        tf_classic.initial_coef,
        tf_classic.initial_intercept,
        seed=123,
    )
    log_ratio = np.abs(np.log(hist / np.asarray(tf_classic.loss_history)))
    assert log_ratio.max() < LOG_LOSS_TOL, log_ratio
    mse = float(np.mean((classic.X_test @ w + b - classic.y_test) ** 2))
    assert mse == pytest.approx(tf_classic.test_mse, rel=0.05)


def test_tensorflow_threads_after_init_warn() -> None:
    import tensorflow  # noqa: F401  (installed by the test extra)
    from fastcost.baselines.tensorflow import configure_tensorflow

    tf = configure_tensorflow(None)
    tf.constant(1.0) + 1.0  # the runtime is initialized from here on
    current = tf.config.threading.get_intra_op_parallelism_threads()
    configure_tensorflow(current or None)  # unchanged: silent
    with pytest.warns(RuntimeWarning, match="already initialized"):
        configure_tensorflow(current + 1)


# ------------------------------------------------------------------ fastcost


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fastcost_sgd_tracks_tensorflow(tf_classic: RunResult, classic, dtype) -> None:
    import fastcost.linear_model  # noqa: F401
    from fastcost.linear_model import LinearRegression

    X = classic.X_train.astype(dtype)
    y = classic.y_train.astype(dtype)
    est = LinearRegression(
        solver="sgd",
        alpha=0.0,
        max_iter=10,
        batch_size=100,
        learning_rate=0.01,
        random_state=1,
    ).fit(
        X,
        y,
        coef_init=tf_classic.initial_coef.astype(dtype),
        intercept_init=tf_classic.initial_intercept,
    )
    hist = np.asarray(est.loss_history_, dtype=np.float64)
    assert hist.shape == (10,)
    log_ratio = np.abs(np.log(hist / np.asarray(tf_classic.loss_history)))
    assert log_ratio.max() < LOG_LOSS_TOL, log_ratio
    mse = float(np.mean((est.predict(classic.X_test.astype(dtype)) - classic.y_test) ** 2))
    assert mse == pytest.approx(tf_classic.test_mse, rel=0.05)


def test_run_fastcost_sgd_uses_initial_weights(tf_classic: RunResult, classic) -> None:
    import fastcost.linear_model  # noqa: F401

    res = run_fastcost(
        "sgd",
        classic.X_train,
        classic.y_train,
        classic.X_test,
        classic.y_test,
        coef_init=tf_classic.initial_coef,
        intercept_init=tf_classic.initial_intercept,
        threads=1,
    )
    _check_result(res, "fastcost-sgd")
    np.testing.assert_array_equal(res.initial_coef, tf_classic.initial_coef)
    assert len(res.loss_history) == 10
    log_ratio = np.abs(np.log(np.asarray(res.loss_history) / tf_classic.loss_history))
    assert log_ratio.max() < LOG_LOSS_TOL, log_ratio
    assert res.params["threads"] == 1 and res.params["batch_size"] == 100


@pytest.mark.parametrize("solver", fastcost_solvers())
def test_run_fastcost_every_solver(small, solver: str) -> None:
    import fastcost.linear_model  # noqa: F401

    res = run_fastcost(
        solver, small.X_train, small.y_train, small.X_test, small.y_test, threads=2, repeat=2
    )
    _check_result(res, f"fastcost-{solver}")
    assert res.r2 > 0.99
    assert len(res.wall_times_s) == 2
    r = res.report
    assert r.passes is not None and r.passes > 0
    assert r.bytes_read == pytest.approx(r.passes * (small.X_train.nbytes + small.y_train.nbytes))
    assert r.gb_per_s is not None and r.gb_per_s > 0
    if solver in {"newton", "lbfgs", "gd", "sgd"}:  # those with a flop model
        assert r.gflop_per_s is not None and r.gflop_per_s > 0
