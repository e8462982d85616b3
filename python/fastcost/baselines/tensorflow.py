"""TensorFlow baseline: the standard Keras recipe for linear regression.

``Dense(1)`` on ``Input(shape=(d,))``, ``SGD(learning_rate=0.01)``, loss ``"mse"``,
``batch_size=100``, ``epochs=10``, shuffled every epoch, in Keras' float32 (the
arrays are converted before anything is timed).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from typing import Any

import numpy as np

from fastcost.compare.result import RunResult, measure_repeated, scores

__all__ = ["TENSORFLOW_HINT", "configure_tensorflow", "glorot_uniform", "run_tensorflow"]

TENSORFLOW_HINT = "pip install 'fastcost[tensorflow]'"


def configure_tensorflow(threads: int | None = None) -> Any:
    """Import TensorFlow quietly and set its thread pools; return the module.

    ``TF_CPP_MIN_LOG_LEVEL=2`` and ``KERAS_BACKEND=tensorflow`` unless already set.

    Parameters
    ----------
    threads : int, optional
        Intra- and inter-op threads. TensorFlow takes them only before its runtime
        starts (the process's first op); later, another count warns (``RuntimeWarning``).

    Raises
    ------
    ImportError
        When TensorFlow is missing, with the extra to install.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError(
            f"the TensorFlow baseline needs TensorFlow; install it with {TENSORFLOW_HINT}"
        ) from exc
    if threads is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            warnings.warn(
                f"TensorFlow is already initialized in this process; threads={threads} "
                "is ignored (set it before the first TensorFlow op runs)",
                RuntimeWarning,
                stacklevel=2,
            )
    return tf


def glorot_uniform(n_features: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """Keras' default start of ``Dense(1)`` drawn with NumPy: every SGD row's start
    (:func:`fastcost.compare.runners.shared_start` rounds it to float32).

    Parameters
    ----------
    n_features, seed : int
        Inputs of the layer; seed of NumPy's generator (same law as Keras, other numbers).

    Returns
    -------
    coef, intercept : ndarray of shape (n_features,), float
        Glorot-uniform kernel, zero bias.
    """
    limit = math.sqrt(6.0 / (n_features + 1))
    return np.random.default_rng(seed).uniform(-limit, limit, size=n_features), 0.0


def run_tensorflow(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, *,
    epochs: int = 10, batch_size: int = 100, learning_rate: float = 0.01, shuffle: bool = True,
    seed: int = 0, threads: int | None = None, price_per_hour: float | None = None,
    repeat: int = 1, coef_init: np.ndarray | None = None, intercept_init: float | None = None,
) -> RunResult:  # fmt: skip
    """Fit the Keras linear-regression recipe and measure ``model.fit``.

    The compiled model's initial weights (Keras' own, or ``coef_init`` and
    ``intercept_init``) are saved, a one-epoch warm-up on the whole training set
    (which traces both batch shapes, the full and the last) runs unmeasured, and
    before each measured fit the weights are reset and the
    seeds set again, so that every measured fit is the same computation.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The split; converted to float32 before anything is timed.
    epochs, batch_size, learning_rate, shuffle, seed
        The recipe (plain SGD); ``seed`` sets Keras' initial weights and shuffles.
    coef_init, intercept_init : optional
        Start from these weights (in float32) instead of Keras' initializer.
    threads : int, optional
        See :func:`configure_tensorflow`.
    price_per_hour, repeat
        See :func:`~fastcost.compare.result.measure_repeated`.

    Returns
    -------
    RunResult
        Named ``"tensorflow"``; ``loss_history`` is Keras' per-epoch loss,
        ``initial_coef`` / ``initial_intercept`` the point it started from. A run
        that diverges gives non-finite scores, not an error.

    Raises
    ------
    ImportError
        When TensorFlow is missing, with the extra to install.
    """
    tf = configure_tensorflow(threads)
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"Keras uses the {keras.backend.backend()!r} backend; "
            "set KERAS_BACKEND=tensorflow for the TensorFlow baseline"
        )
    Xtr = np.ascontiguousarray(X_train, dtype=np.float32)
    ytr = np.ascontiguousarray(y_train, dtype=np.float32).reshape(-1, 1)
    d = Xtr.shape[1]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(d,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    if coef_init is not None:
        kernel0 = np.asarray(coef_init, dtype=np.float32).reshape(d, 1)
        model.set_weights([kernel0, np.full(1, intercept_init or 0.0, dtype=np.float32)])
    initial = [np.array(w, copy=True) for w in model.get_weights()]

    def reset() -> None:
        model.set_weights(initial)
        keras.utils.set_random_seed(seed)

    t0 = time.perf_counter()
    model.fit(Xtr, ytr, batch_size=batch_size, epochs=1, verbose=0)
    warmup = time.perf_counter() - t0

    def fit() -> Any:  # the final weights are d + 1 numbers: negligible inside the timing
        hist = model.fit(Xtr, ytr, batch_size=batch_size, epochs=epochs, shuffle=shuffle, verbose=0)
        return hist, model.get_weights()

    report, (history, (kernel, bias)), walls = measure_repeated(
        fit, repeat=repeat, price_per_hour=price_per_hour,
        before_each=reset,
    )  # fmt: skip
    # What Dense(1) computes, in float32; model.predict would trace a predict function.
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model: non-finite scores
        pred = np.ascontiguousarray(X_test, dtype=np.float32) @ kernel + bias
    mse, r2 = scores(y_test, pred)
    threading = tf.config.threading
    return RunResult(
        name="tensorflow", report=report, test_mse=mse, r2=r2, n_iter=epochs,
        loss_history=[float(v) for v in history.history.get("loss", [])],
        coef=np.asarray(kernel, dtype=np.float64).ravel(), intercept=float(np.ravel(bias)[0]),
        initial_coef=np.asarray(initial[0], dtype=np.float64).ravel(),
        initial_intercept=float(np.ravel(initial[1])[0]),
        params={
            "library": "tensorflow", "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
            "model": "Sequential([Input(shape=(d,)), Dense(1)])", "optimizer": "SGD",
            "loss": "mse", "epochs": epochs, "batch_size": batch_size,
            "learning_rate": learning_rate, "shuffle": shuffle, "dtype": "float32", "seed": seed,
            "threads": threads,
            "intra_op_threads": threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": threading.get_inter_op_parallelism_threads(),
        },
        wall_times_s=walls, warmup_s=warmup,
    )  # fmt: skip
