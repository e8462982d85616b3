# Types of the compiled module fastcost._core (cpp/src/). Kept in step with the
# bindings by tests/test_stub.py (every public name here and in the module).
# Dict results: see each function's docstring for the keys.
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

class Cancelled(KeyboardInterrupt): ...

# bindings.hpp: what the solvers take and return
class FitOptions:
    alpha: float
    fit_intercept: bool
    tol: float
    max_iter: int
    n_threads: int
    n_shards: int
    standardize: bool
    noise_var: float
    positive: bool
    minimum_norm: bool
    guard_projection: bool
    coef_init: npt.NDArray[np.float64] | None
    def __init__(
        self,
        *,
        alpha: float = ...,
        fit_intercept: bool = ...,
        tol: float = ...,
        max_iter: int = ...,
        history: int = ...,
        batch_size: int = ...,
        learning_rate: float = ...,
        seed: int = ...,
        n_threads: int | None = ...,
        n_shards: int = ...,
        coef_init: npt.ArrayLike | None = ...,
        intercept_init: float = ...,
        standardize: bool = ...,
        init_standardized: bool = ...,
        noise_var: float = ...,
        frozen: npt.ArrayLike | None = ...,
        positive: bool = ...,
        minimum_norm: bool = ...,
        guard_projection: bool = ...,
    ) -> None: ...

class FitResult:
    coef: npt.NDArray[np.float64]
    intercept: float
    n_iter: int
    loss_history: npt.NDArray[np.float64]
    n_passes: int
    converged: bool
    singular: bool
    rank: int
    condition_estimate: float
    grad_norm: float
    message: str
    notes: str
    precision: str
    precision_reason: str
    digits_estimate: float
    extended_skipped: bool

EXTENDED_IS_WIDER: bool
EXTENDED_MIN_DIGITS: float
EXTENDED_MAX_FLOPS: float
QR_WIDE_MIN_COLS: int

# module.cpp: build information and kernel selection
def build_info() -> dict[str, Any]: ...
def max_threads() -> int: ...
def set_isa(name: str) -> None: ...
def get_isa() -> str: ...
def lapack_info() -> dict[str, Any]: ...
def set_lapack(enabled: bool) -> None: ...
def set_wide_gram_min(width: int) -> int: ...
def set_gram_regions(region: int, min_width: int) -> tuple[int, int]: ...
def set_float_syrk(enabled: bool) -> bool: ...
def default_shard_count(
    rows: int, cols: int, partial_doubles: int, min_rows: int = 2048
) -> int: ...

# bind_kernels.cpp: shard kernels
# gram_stats / tsqr_stats: y is None, 1-D or 2-D (n, k) in X's dtype; the dict's matrix is then
# (d + k + 1) square, its shift d + k long, and n_targets is k (1 for a 1-D y or None).
def gram_stats(
    X: np.ndarray | list[np.ndarray] | tuple[np.ndarray, ...],
    y: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    shift: npt.ArrayLike | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def grouped_gram_stats(
    X: np.ndarray,
    y: np.ndarray | None,
    sample_weight: np.ndarray | None,
    groups: np.ndarray,
    n_groups: int,
    shift: npt.ArrayLike | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def loss_grad(
    X: np.ndarray,
    y: np.ndarray | None,
    w: npt.ArrayLike,
    b: float = 0.0,
    sample_weight: np.ndarray | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> tuple[float, float, float, npt.NDArray[np.float64]]: ...
def probe_sums(
    X: np.ndarray,
    y: np.ndarray | None,
    probes: Sequence[tuple[npt.ArrayLike | None, float, bool]],
    sample_weight: np.ndarray | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def find_nonfinite(X: np.ndarray) -> tuple[int, int] | None: ...

TREE_BLOCK_ROWS: int

def probe_nodes(
    X: np.ndarray,
    y: np.ndarray | None,
    probes: Sequence[tuple[npt.ArrayLike | None, float, bool]],
    sample_weight: np.ndarray | None = None,
    first_block: int = 0,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, np.ndarray]: ...
def totals_nodes(
    y: np.ndarray, sample_weight: np.ndarray | None = None, first_block: int = 0
) -> dict[str, np.ndarray]: ...
def merge_block_nodes(
    parts: Sequence[dict[str, np.ndarray] | None], kind: str = "sum"
) -> dict[str, np.ndarray]: ...
def moments_nodes(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    shift: npt.ArrayLike,
    first_block: int = 0,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, np.ndarray]: ...
def moments_from_nodes(nodes: dict[str, np.ndarray], shift: npt.ArrayLike) -> dict[str, Any]: ...
def block_nodes_total(nodes: dict[str, np.ndarray]) -> npt.NDArray[np.float64]: ...
def probe_sums_from_nodes(
    nodes: dict[str, np.ndarray],
    probes: Sequence[tuple[npt.ArrayLike | None, float, bool]],
    d: int,
) -> dict[str, Any]: ...
def weighted_row_mean(
    rows: npt.ArrayLike, sample_weight: np.ndarray | None = None
) -> npt.NDArray[np.float64]: ...
def reshift_stats(
    gram: npt.ArrayLike, shift: npt.ArrayLike, new_shift: npt.ArrayLike
) -> npt.NDArray[np.float64]: ...

# bind_solvers.cpp: whole fits
def fit(
    X: np.ndarray,
    y: np.ndarray | None,
    sample_weight: np.ndarray | None,
    solver: str,
    options: FitOptions,
) -> FitResult: ...
def solve_stats(
    gram: npt.ArrayLike,
    shift: npt.ArrayLike,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    minimum_norm: bool = True,
) -> FitResult: ...
def fit_targets(
    X: np.ndarray,
    ys: Sequence[np.ndarray],
    sample_weight: np.ndarray | None,
    solver: str,
    options: Sequence[FitOptions],
) -> tuple[list[FitResult], int]: ...
def minimize(data: Any, solver: str, options: FitOptions) -> FitResult: ...
def sample_preconditioner(
    gram: npt.ArrayLike,
    shift: npt.ArrayLike,
    rows: int,
    fit_intercept: bool,
    sigma: npt.ArrayLike,
    lam: npt.ArrayLike,
    frozen: npt.ArrayLike | None = None,
) -> dict[str, Any]: ...
def apply_preconditioner(chol: npt.ArrayLike, q: npt.ArrayLike) -> npt.NDArray[np.float64]: ...

# bind_qr.cpp: tall-skinny QR
def tsqr_stats(
    X: np.ndarray,
    y: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    shift: npt.ArrayLike | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
    *,
    precision: str = "double",
) -> dict[str, Any]: ...
def tsqr_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]: ...
def solve_r(
    r: npt.ArrayLike,
    shift: npt.ArrayLike,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    r_lo: npt.ArrayLike | None = None,
) -> FitResult: ...
def fit_qr(
    X: np.ndarray,
    y: np.ndarray | None,
    sample_weight: np.ndarray | None,
    options: FitOptions,
    precision: str = "auto",
) -> tuple[FitResult, dict[str, Any]]: ...
def set_qr_wide_min_cols(cols: int) -> int: ...

# bind_preprocess.cpp: column passes
def column_moments(
    X: np.ndarray,
    sample_weight: np.ndarray | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def affine_columns(
    X: np.ndarray,
    out: np.ndarray,
    offset: npt.ArrayLike | None = None,
    scale: npt.ArrayLike | None = None,
    inverse: bool = False,
    n_shards: int = 0,
    n_threads: int = 0,
) -> int: ...
def scan_nonfinite(
    X: np.ndarray,
    y: np.ndarray | None = None,
    row_mask: bool = False,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def fill_nonfinite(
    X: np.ndarray, values: npt.ArrayLike, n_shards: int = 0, n_threads: int = 0
) -> int: ...

# bind_categorical.cpp: mixed designs (dense X + int32 categorical codes, never expanded)
def mixed_gram_stats(
    X: np.ndarray,
    codes: np.ndarray,
    n_levels: npt.ArrayLike,
    drop_first: npt.ArrayLike,
    y: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    shift: npt.ArrayLike | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def mixed_arrow_stats(
    X: np.ndarray,
    codes: np.ndarray,
    n_levels: npt.ArrayLike,
    drop_first: npt.ArrayLike,
    arrow: int,
    y: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    shift: npt.ArrayLike | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def mixed_probe_sums(
    X: np.ndarray,
    codes: np.ndarray,
    n_levels: npt.ArrayLike,
    drop_first: npt.ArrayLike,
    y: np.ndarray | None,
    probes: Sequence[tuple[npt.ArrayLike | None, float, bool]],
    sample_weight: np.ndarray | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def mixed_column_moments(
    X: np.ndarray,
    codes: np.ndarray,
    n_levels: npt.ArrayLike,
    drop_first: npt.ArrayLike,
    sample_weight: np.ndarray | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def mixed_takes_row_sample(
    n_dense: int, n_levels: npt.ArrayLike, drop_first: npt.ArrayLike, fit_intercept: bool
) -> bool: ...
def fit_mixed(
    X: np.ndarray,
    codes: np.ndarray,
    n_levels: npt.ArrayLike,
    drop_first: npt.ArrayLike,
    y: np.ndarray | None,
    sample_weight: np.ndarray | None,
    solver: str,
    options: FitOptions,
) -> FitResult: ...

# bind_sparse.cpp: CSR matrices (data, indices, indptr, shape), never densified
def sparse_gram_stats(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    shape: tuple[int, int],
    y: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    shift: npt.ArrayLike | None = None,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def sparse_probe_sums(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    shape: tuple[int, int],
    y: np.ndarray | None,
    probes: Sequence[tuple[npt.ArrayLike | None, float, bool]],
    sample_weight: np.ndarray | None = None,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def fit_sparse(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    shape: tuple[int, int],
    y: np.ndarray | None,
    sample_weight: np.ndarray | None,
    solver: str,
    options: FitOptions,
) -> FitResult: ...

# bind_sandwich.cpp: robust covariance sums in one pass
def sandwich_sums(
    X: np.ndarray,
    y: np.ndarray,
    w: npt.ArrayLike,
    b: float,
    K: npt.ArrayLike,
    sample_weight: np.ndarray | None = None,
    shift: npt.ArrayLike | None = None,
    fit_intercept: bool = True,
    kind: str = "HC0",
    codes: npt.NDArray[np.int32] | None = None,
    n_groups: int = 0,
    n_shards: int = 0,
    n_threads: int = 0,
) -> dict[str, Any]: ...
