"""TensorFlow baseline: the standard Keras recipe for linear regression.

The recipe is what a tutorial fits: ``Dense(1)`` on ``Input(shape=(d,))``,
optimizer ``SGD(learning_rate=0.01)``, loss ``"mse"``, ``batch_size=100``,
``epochs=10``, shuffled every epoch. Keras computes in float32 (its default
``floatx``); the runner hands it float32 arrays so the conversion is not timed.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from typing import Any

import numpy as np

from fastcost.compare.result import RunResult, measure_repeated, scores, warmup_rows

__all__ = ["run_tensorflow", "configure_tensorflow", "glorot_uniform", "TENSORFLOW_HINT"]

TENSORFLOW_HINT = "pip install 'fastcost[tensorflow]'"


def configure_tensorflow(threads: int | None = None) -> Any:
    """Import TensorFlow quietly and set its thread pools; return the module.

    Parameters
    ----------
    threads : int, optional
        Sets both ``intra_op`` (threads inside one op, e.g. a matmul) and
        ``inter_op`` (ops run side by side) parallelism. TensorFlow only
        accepts this *before its runtime initializes*, i.e. before the first
        op runs in the process. Asking for a different count afterwards
        leaves the pools as they are and emits a ``RuntimeWarning``; the
        counts actually in force are reported in ``RunResult.params``.

    Raises
    ------
    ImportError
        When TensorFlow is missing, with the extra to install.

    Notes
    -----
    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (hide C++ info and warning logs) and
    ``KERAS_BACKEND=tensorflow`` unless the environment already sets them.
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
    """Keras' default start for ``Dense(1)``: Glorot-uniform kernel, zero bias.

    Used when TensorFlow is not run, so fastcost's ``sgd`` still starts from a
    point drawn the way Keras draws it (not the same numbers as Keras).

    Parameters
    ----------
    n_features : int
        Inputs of the layer.
    seed : int, default=0
        Seed of NumPy's generator.

    Returns
    -------
    coef : ndarray of shape (n_features,)
    intercept : float
        Always 0.0.
    """
    limit = math.sqrt(6.0 / (n_features + 1))
    rng = np.random.default_rng(seed)
    return rng.uniform(-limit, limit, size=n_features), 0.0


def _keras() -> Any:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"Keras uses the {keras.backend.backend()!r} backend; "
            "set KERAS_BACKEND=tensorflow for the TensorFlow baseline"
        )
    return keras


def run_tensorflow(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 100,
    learning_rate: float = 0.01,
    shuffle: bool = True,
    seed: int = 0,
    threads: int | None = None,
    price_per_hour: float | None = None,
    repeat: int = 1,
) -> RunResult:
    """Fit the Keras linear-regression recipe and measure ``model.fit``.

    The model is built and compiled and its initial weights are saved; then a
    warm-up ``fit`` on a few rows (one full batch and one batch of the size
    of the last, partial batch, so both shapes are traced) runs unmeasured.
    The weights are reset to the saved ones before each measured ``fit``;
    plain SGD has no optimizer state to reset.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The split; converted to float32 before anything is timed.
    epochs : int, default=10
    batch_size : int, default=100
    learning_rate : float, default=0.01
        Of ``keras.optimizers.SGD`` (no momentum).
    shuffle : bool, default=True
        Reshuffle the training rows every epoch.
    seed : int, default=0
        ``keras.utils.set_random_seed``: initial weights and shuffles.
    threads : int, optional
        TensorFlow's intra- and inter-op threads; see
        :func:`configure_tensorflow` (must be set before TensorFlow
        initializes).
    price_per_hour : float, optional
    repeat : int, default=1
        Measured fits; the median-wall one is reported.

    Returns
    -------
    RunResult
        Named ``"tensorflow"``; ``loss_history`` is Keras' per-epoch loss and
        ``initial_coef`` / ``initial_intercept`` the Glorot-uniform kernel and
        zero bias it started from, to start another solver from the same
        point.

    Examples
    --------
    >>> from fastcost.datasets import make_default
    >>> from fastcost.baselines.tensorflow import run_tensorflow
    >>> d = make_default(n_samples=1000, n_features=5)
    >>> res = run_tensorflow(d.X_train, d.y_train, d.X_test, d.y_test, epochs=2)  # doctest: +SKIP
    >>> len(res.loss_history)  # doctest: +SKIP
    2
    """
    tf = configure_tensorflow(threads)
    keras = _keras()

    Xtr = np.ascontiguousarray(X_train, dtype=np.float32)
    ytr = np.ascontiguousarray(y_train, dtype=np.float32).reshape(-1, 1)
    Xte = np.ascontiguousarray(X_test, dtype=np.float32)
    n, d = Xtr.shape

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(d,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    initial = [w.copy() for w in model.get_weights()]

    def reset() -> None:
        model.set_weights(initial)

    t0 = time.perf_counter()
    n_warm = warmup_rows(n, batch_size)
    model.fit(Xtr[:n_warm], ytr[:n_warm], batch_size=batch_size, epochs=1, verbose=0)
    warmup = time.perf_counter() - t0

    def fit() -> Any:
        history = model.fit(
            Xtr, ytr, batch_size=batch_size, epochs=epochs, shuffle=shuffle, verbose=0
        )
        return history, model.get_weights()  # d + 1 numbers: negligible inside the timing

    report, (history, final), walls = measure_repeated(
        fit, repeat=repeat, price_per_hour=price_per_hour, before_each=reset
    )
    kernel, bias = final
    # What Dense(1) computes, in its float32; model.predict would build and trace
    # a predict function per model for no gain here.
    mse, r2 = scores(y_test, Xte @ kernel + bias)
    return RunResult(
        name="tensorflow",
        report=report,
        test_mse=mse,
        r2=r2,
        loss_history=[float(v) for v in history.history.get("loss", [])],
        n_iter=epochs,
        coef=np.asarray(kernel, dtype=np.float64).ravel(),
        intercept=float(np.ravel(bias)[0]),
        initial_coef=np.asarray(initial[0], dtype=np.float64).ravel(),
        initial_intercept=float(np.ravel(initial[1])[0]),
        params={
            "library": "tensorflow",
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
            "model": "Sequential([Input(shape=(d,)), Dense(1)])",
            "optimizer": "SGD",
            "loss": "mse",
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "shuffle": shuffle,
            "dtype": "float32",
            "seed": seed,
            "threads": threads,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        wall_times_s=walls,
        warmup_s=warmup,
    )
