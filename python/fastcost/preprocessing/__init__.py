"""Preprocessing that costs no copies: clean, standardize, prune, augment.

Every step reads X in place through the compiled kernels and says what it did
in a report object:

* :class:`StandardScaler` -- scikit-learn's scaler with statistics from one
  sharded pass (per-block corrected two-pass moments merged in a fixed order,
  Chan et al.) and the transform done in C++ (in place with ``copy=False``).
* :func:`clean` and :class:`Cleaner` -- NaN/inf in X and y: raise (naming the
  first bad cell), drop rows, or impute column means; one scan in C++.
* :func:`find_redundant_columns` -- constant, duplicate and exactly collinear
  columns from the one-pass Gram, and what dropping them saves.
* ``LinearRegression(standardize=True, prune=True, noise_augmentation=s)``
  folds all three into the fit without copying X (``fastcost._fit_preprocessing``).
"""

from __future__ import annotations

from ._clean import POLICIES as POLICIES
from ._clean import Cleaner, CleanReport, clean
from ._prune import DEFAULT_PRUNE_TOL as DEFAULT_PRUNE_TOL
from ._prune import PruneReport, find_redundant_columns
from ._prune import redundant_from_gram as redundant_from_gram
from ._scaler import ScalerReport, StandardScaler

__all__ = [
    "CleanReport",
    "Cleaner",
    "PruneReport",
    "ScalerReport",
    "StandardScaler",
    "clean",
    "find_redundant_columns",
]
