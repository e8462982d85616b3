"""A fitted :class:`~fastcost._tables.TableEncoder` as plain JSON values and
back (the model files of :mod:`fastcost.persistence` hold a table model's
encoder this way), every value checked on the way in."""

from __future__ import annotations

from typing import Any

from ._tables import TableEncoder, _levels_of

#: Every role a column can take (see :class:`TableEncoder`'s ``roles_``).
_ROLES = frozenset(
    {"numeric", "bool", "categorical", "index", "identifier", "datetime", "unsupported", "dropped"}
)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _column_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
    )


def _label_list(value: Any) -> bool:
    """Distinct strings, then at most one ``None`` (the missing level), last."""
    if not isinstance(value, list) or not value:
        return False
    body = value[:-1] if value[-1] is None else value
    return _str_list(body) and len(set(body)) == len(body)


def encoder_state(enc: TableEncoder) -> dict[str, Any]:
    """The fitted encoder as plain JSON values; :func:`encoder_from_state` rebuilds it.

    Holds the table's columns, each one's role, the labels of each
    categorical column in level order (``None``: its missing values), and
    the notes of the fit.
    """
    if not hasattr(enc, "roles_"):
        raise ValueError("this TableEncoder is not fitted yet; call fit first")
    params = {  # the column lists; ``index`` only steers a fit, whose roles are kept
        k: None if v is None else [c if isinstance(c, str) else int(c) for c in v]
        for k, v in ((k, getattr(enc, k)) for k in ("categorical", "features", "drop"))
    }
    return {
        **params,
        "feature_names_in": [str(c) for c in enc.feature_names_in_],
        "roles": [enc.roles_[c] for c in enc.feature_names_in_],
        "labels": [list(enc._levels[c].labels or []) for c in enc.categorical_names_],
        "notes": list(enc.notes_),
        "missing_notes": list(getattr(enc, "missing_notes_", [])),
    }


def encoder_from_state(state: Any) -> TableEncoder:
    """The fitted encoder of :func:`encoder_state`'s values, every entry checked.

    Raises
    ------
    ValueError
        An entry is missing, of the wrong type, or inconsistent with the others.
    """
    if not isinstance(state, dict):
        raise ValueError("the encoder must be a mapping")
    expected = {"categorical", "features", "drop", "feature_names_in", "roles", "labels",
                "notes", "missing_notes"}  # fmt: skip
    if set(state) != expected:
        raise ValueError(f"the encoder must hold exactly {sorted(expected)}")
    params = {k: state[k] for k in ("categorical", "features", "drop")}
    for key, value in params.items():
        if value is not None and not _column_list(value):
            raise ValueError(
                f"the encoder's {key} must be null or a list of column names or positions"
            )
    names, roles, labels = state["feature_names_in"], state["roles"], state["labels"]
    if not _str_list(names) or not names or len(set(names)) != len(names):
        raise ValueError("the encoder's feature_names_in must be distinct strings")
    if not _str_list(roles) or len(roles) != len(names) or not set(roles) <= _ROLES:
        raise ValueError(f"the encoder's roles must give one of {sorted(_ROLES)} per column")
    for key in ("notes", "missing_notes"):
        if not _str_list(state[key]):
            raise ValueError(f"the encoder's {key} must be a list of strings")
    categorical = [c for c, r in zip(names, roles, strict=True) if r == "categorical"]
    if not isinstance(labels, list) or len(labels) != len(categorical):
        raise ValueError("the encoder's labels must hold one list per categorical column")
    enc = TableEncoder(**params)
    enc._levels = {}
    for name, col_labels in zip(categorical, labels, strict=True):
        if not _label_list(col_labels):
            raise ValueError(
                f"the encoder's labels of {name!r} must be distinct strings, then at most "
                "one null (the missing values' level)"
            )
        enc._levels[name] = _levels_of(list(col_labels))
    enc.feature_names_in_ = list(names)
    enc.roles_ = dict(zip(names, roles, strict=True))
    enc.dense_names_ = [c for c, r in zip(names, roles, strict=True) if r in ("numeric", "bool")]
    enc.categorical_names_ = categorical
    enc.levels_ = [enc._levels[c].levels for c in categorical]
    enc.notes_ = list(state["notes"])
    enc.missing_notes_ = list(state["missing_notes"])
    return enc
