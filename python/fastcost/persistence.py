"""Saving and loading fitted estimators in a safe, versioned, non-pickle format.

The file is UTF-8 JSON::

    {"format": "fastcost-model", "format_version": 1, "fastcost_version": "...",
     "class": "LinearRegression", "params": {...}, "attributes": {...},
     "sha256": "<hex digest of the canonical JSON of everything above>"}

A model fitted on a table whose columns needed encoding (text or categorical
columns, columns left out) also holds ``"encoder"``: the table's columns, each
one's role and each categorical column's levels, so that ``predict`` reads a
table as the fit did; such files are format version 2.

Loading executes no code: only classes listed in ``_CLASSES`` can be rebuilt,
parameters and attributes are plain numbers, strings and lists, arrays carry
their dtype and shape, and the checksum rejects files changed after saving.
Floats are written with Python's shortest round-trip repr, so float64 and
float32 values come back bit for bit. A model of k targets (a 2-D y) has
``n_targets_``; each per-target attribute then holds k entries stacked on a
first axis, each checked by the single-target rule.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ._multi_target import PER_TARGET
from ._params import COV_TYPES, SOLVERS, validate
from ._version import __version__

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

FORMAT = "fastcost-model"
FORMAT_VERSION = 2  # 2: a table model's encoder; files without one are still written as 1

# Fitted attributes that are saved, by name; anything else is derived or transient.
_ARRAY_ATTRIBUTES = (
    "coef_", "loss_history_", "feature_names_in_", "coef_stderr_",
    "cov_params_", "prediction_cov_", "prediction_shift_", "feature_names_out_",
    "reference_levels_dropped_",
)  # fmt: skip
_SCALAR_ATTRIBUTES = (
    "intercept_",
    "n_iter_",
    "n_passes_",
    "solver_",
    "converged_",
    "rank_",
    "condition_number_",
    "n_features_in_",
    "intercept_stderr_",
    "residual_std_",
    "r2_",
    "dof_resid_",
    "cov_type_",
    "n_groups_",
    "n_targets_",
)


class ModelFileError(ValueError):
    """A model file is truncated, tampered with, or not a fastcost model."""


def _float_array(shape_of: Callable[[Any], tuple[int, ...] | None]) -> Callable[[Any, Any], None]:
    def check(value: Any, est: Any) -> None:
        if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            raise ModelFileError(
                f"must be a float array, got {getattr(value, 'dtype', type(value))}"
            )
        shape = shape_of(est)
        if (shape is not None and value.shape != shape) or value.ndim != 1:
            raise ModelFileError(f"has shape {value.shape}, expected {shape or '1-D'}")

    return check


def _string_array(size: Callable[[Any], int], what: str) -> Callable[[Any, Any], None]:
    def check(value: Any, est: Any) -> None:
        if not (isinstance(value, np.ndarray) and value.shape == (size(est),)):
            raise ModelFileError(f"must hold one name per {what} ({size(est)})")
        if not all(isinstance(v, str) for v in value.tolist()):
            raise ModelFileError("must hold strings")

    return check


def _levels_dropped(value: Any, est: Any) -> None:
    k = len(est.encoder_.categorical_names_) if hasattr(est, "encoder_") else -1
    if not (isinstance(value, np.ndarray) and value.dtype == np.bool_ and value.shape == (k,)):
        raise ModelFileError(f"must be one bool per categorical column ({max(k, 0)})")


def _number(value: Any, est: Any) -> None:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ModelFileError(f"must be a real number, got {value!r}")


def _count(value: Any, est: Any) -> None:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or value < 0:
        raise ModelFileError(f"must be a non-negative integer, got {value!r}")


def _features(value: Any, est: Any) -> None:
    _count(value, est)
    if value < 1:
        raise ModelFileError(f"must be at least 1, got {value!r}")


def _flag(value: Any, est: Any) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ModelFileError(f"must be a bool, got {value!r}")


def _parameter_square(value: Any, est: Any) -> None:
    """A covariance of ``[intercept_, *coef_]`` (of ``coef_`` without an intercept)."""
    p = _width(est) + bool(est.fit_intercept)
    if not (isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.shape == (p, p)):
        raise ModelFileError(f"must be a {p} x {p} float array")


def _cov_type(value: Any, est: Any) -> None:
    if value not in COV_TYPES:
        raise ModelFileError(f"must be one of {COV_TYPES}, got {value!r}")


def _fitted_solver(value: Any, est: Any) -> None:
    if value not in SOLVERS or value == "auto":
        raise ModelFileError(f"must be a solver that ran, got {value!r}")


def _width(est: Any) -> int:
    """Entries of ``coef_`` (one target): a feature each, or for a table model
    with an encoder, a numeric column or a level each (``feature_names_out_``)."""
    enc = getattr(est, "encoder_", None)
    if enc is None:
        return int(est.n_features_in_)
    return len(enc.feature_names_out(np.zeros(len(enc.categorical_names_), dtype=bool)))


def _d(est: Any) -> tuple[int, ...]:
    return (_width(est),)


def _per_target(rule: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """``rule`` for one target's value; a model of k targets holds k of them."""

    def check(value: Any, est: Any) -> None:
        k = getattr(est, "n_targets_", None)
        if k is None:
            return rule(value, est)
        if not (isinstance(value, np.ndarray) and value.shape[:1] == (k,)):
            raise ModelFileError(f"must hold one entry per target ({k})")
        for entry in value:
            rule(entry, est)
        return None

    return check


#: What a model file may hold of a fitted estimator, and the rule of each
#: attribute for one target (given the estimator, with n_features_in_ and
#: n_targets_ checked first); the per-target ones take k entries with k targets.
_TARGET_RULES: dict[str, Callable[[Any, Any], None]] = {
    "n_features_in_": _features,
    "n_targets_": _features,
    "coef_": _float_array(_d),
    "loss_history_": _float_array(lambda est: None),
    "feature_names_in_": _string_array(lambda est: est.n_features_in_, "feature"),
    "coef_stderr_": _float_array(_d),
    "intercept_": _number,
    "n_iter_": _count,
    "n_passes_": _count,
    "solver_": _fitted_solver,
    "converged_": _flag,
    "rank_": _count,
    "condition_number_": _number,
    "intercept_stderr_": _number,
    "residual_std_": _number,
    "r2_": _number,
    "dof_resid_": _number,
    "cov_type_": _cov_type,
    "n_groups_": _count,
    "cov_params_": _parameter_square,
    "prediction_cov_": _parameter_square,
    "prediction_shift_": _float_array(_d),
    "feature_names_out_": _string_array(_width, "coefficient"),
    "reference_levels_dropped_": _levels_dropped,
}
_ATTRIBUTE_RULES = {
    name: _per_target(rule) if name in PER_TARGET else rule for name, rule in _TARGET_RULES.items()
}


def _classes() -> dict[str, type[BaseEstimator]]:
    from .linear_model import LinearRegression

    return {"LinearRegression": LinearRegression}


def _encode_array(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a)
    if a.dtype.kind in "fiub":
        values = a.astype(np.float64).tolist() if a.dtype.kind == "f" else a.tolist()
    elif a.dtype.kind in "OU":
        values = [str(v) for v in a.tolist()]
    else:
        raise TypeError(f"cannot save an array of dtype {a.dtype}")
    return {
        "__array__": True,
        "dtype": a.dtype.str if a.dtype.kind != "O" else "object",
        "shape": list(a.shape),
        "values": values,
    }


def _decode_array(obj: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(object) if obj["dtype"] == "object" else np.dtype(obj["dtype"])
    if dtype.kind not in "fiubOU":
        raise ModelFileError(f"unsupported array dtype {obj['dtype']!r} in model file")
    shape = tuple(int(s) for s in obj["shape"])
    a = np.array(obj["values"], dtype=np.float64 if dtype.kind == "f" else dtype)
    if a.size != int(np.prod(shape)):
        raise ModelFileError("array size does not match its shape in model file")
    return a.astype(dtype).reshape(shape)


def _encode_param(key: str, value: Any) -> Any:
    """A parameter as JSON: a number, string, None, a list of column names or
    positions (``categorical_features``) or of numbers (``alpha`` per target).
    numpy scalars and 1-D arrays (a grid from ``np.arange``) are saved as the
    Python values they hold; the load validates them as ``fit`` does."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple) and all(
        isinstance(v, str) or (isinstance(v, numbers.Integral) and not isinstance(v, bool))
        for v in value
    ):
        return [v if isinstance(v, str) else int(v) for v in value]
    if isinstance(value, list | tuple) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value
    ):
        return [float(v) for v in value]
    raise TypeError(
        f"parameter {key}={value!r} cannot be saved: a saved parameter is a number, a "
        "string, None, or a list of numbers or column names (a random_state generator "
        "cannot be: pass an int)"
    )


def _encode_scalar(v: Any) -> Any:
    if isinstance(v, np.generic):
        return {"__scalar__": True, "dtype": v.dtype.str, "value": v.item()}
    if isinstance(v, bool | int | float | str) or v is None:
        return v
    raise TypeError(f"cannot save attribute value {v!r}")


def _decode_scalar(v: Any) -> Any:
    if isinstance(v, dict) and v.get("__scalar__"):
        return np.dtype(v["dtype"]).type(v["value"])
    return v


def _digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def save(estimator: Any, path: str | os.PathLike[str]) -> None:
    """Write a fitted fastcost estimator to ``path`` (JSON, see module docstring)."""
    from sklearn.utils.validation import check_is_fitted

    name = type(estimator).__name__
    if _classes().get(name) is not type(estimator):
        qualified = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
        raise TypeError(
            f"cannot save a {qualified}: fastcost.save writes "
            f"{', '.join('fastcost.' + c for c in sorted(_classes()))} models (pickle the others)"
        )
    check_is_fitted(estimator)
    params = {key: _encode_param(key, v) for key, v in estimator.get_params(deep=False).items()}
    attributes: dict[str, Any] = {}
    for attr in _ARRAY_ATTRIBUTES:
        if hasattr(estimator, attr):
            attributes[attr] = _encode_array(getattr(estimator, attr))
    for attr in _SCALAR_ATTRIBUTES:
        if hasattr(estimator, attr):
            value = getattr(estimator, attr)  # one per target with several targets
            encode = _encode_array if isinstance(value, np.ndarray) else _encode_scalar
            attributes[attr] = encode(value)
    encoder = getattr(estimator, "encoder_", None)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION if encoder is not None else 1,
        "fastcost_version": __version__,
        "class": name,
        "params": params,
        "attributes": attributes,
    }
    if encoder is not None:
        from ._tables_state import encoder_state

        payload["encoder"] = encoder_state(encoder)
    document = dict(payload, sha256=_digest(payload))
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=1)
    os.replace(tmp, path)  # never leave a half-written model behind


def load(path: str | os.PathLike[str]) -> Any:
    """Read an estimator written by :func:`save`.

    Raises
    ------
    ModelFileError
        The file is truncated, was modified after saving, is from a newer format
        version, or is not a fastcost model.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(
            f"{os.fspath(path)} is truncated or not a fastcost model file: {exc}"
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{os.fspath(path)} is not a fastcost model file")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{os.fspath(path)} has format version {version!r}; this fastcost reads up to {FORMAT_VERSION}"
        )
    digest = document.pop("sha256", None)
    if digest != _digest(document):
        raise ModelFileError(
            f"{os.fspath(path)} failed its checksum: the file was modified or damaged"
        )
    class_name = document.get("class")
    cls = _classes().get(class_name) if isinstance(class_name, str) else None
    if cls is None:
        raise ModelFileError(f"unknown estimator class {document.get('class')!r} in model file")
    try:
        return _rebuild(cls, document)
    except (TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{os.fspath(path)} holds an invalid model: {exc}") from exc


def _rebuild(cls: Any, document: dict[str, Any]) -> Any:
    """The estimator of a checksummed document, every parameter and attribute
    checked: the parameters by the estimator's own declarations (``_params``),
    the attributes by ``_ATTRIBUTE_RULES``."""
    params = document["params"]
    if not isinstance(params, dict):
        raise ModelFileError("params must be a mapping")
    validate(params, cls._parameters)
    estimator = cls(**params)
    if "encoder" in document:
        from ._tables_state import encoder_from_state

        estimator.encoder_ = encoder_from_state(document["encoder"])
    attributes = document["attributes"]
    unexpected = sorted(set(attributes) - set(_ATTRIBUTE_RULES))
    if unexpected:
        raise ModelFileError(f"unexpected attribute(s) {unexpected} in model file")
    for attr in ("n_features_in_", "coef_", "intercept_", "solver_"):
        if attr not in attributes:
            raise ModelFileError(f"the model file lacks {attr}")
    for attr in _ATTRIBUTE_RULES:  # n_features_in_ first: the shapes depend on it
        if attr not in attributes:
            continue
        value = attributes[attr]
        if isinstance(value, dict) and value.get("__array__"):
            value = _decode_array(value)
        else:
            value = _decode_scalar(value)
        try:
            _ATTRIBUTE_RULES[attr](value, estimator)
        except ModelFileError as exc:
            raise ModelFileError(f"{attr} {exc}") from None
        setattr(estimator, attr, value)
    enc = getattr(estimator, "encoder_", None)
    if enc is not None:
        if len(enc.feature_names_in_) != estimator.n_features_in_:
            raise ModelFileError(
                f"the encoder holds {len(enc.feature_names_in_)} columns, "
                f"n_features_in_ {estimator.n_features_in_}"
            )
        for attr in ("feature_names_out_", "reference_levels_dropped_"):
            if attr not in attributes:
                raise ModelFileError(f"the model file of a table model lacks {attr}")
    elif "feature_names_out_" in attributes or "reference_levels_dropped_" in attributes:
        raise ModelFileError("feature_names_out_ and reference_levels_dropped_ need an encoder")
    return estimator
