"""How many threads a fit may use, and which kernels the BLAS it calls runs."""

from __future__ import annotations

import numbers
import os

from . import _core


def available_cores() -> int:
    """Cores this process may run on (CPU affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_n_threads(n_threads: int | None) -> int:
    """Threads for a fit.

    ``None`` uses every core the process may use, capped by OpenMP's current
    limit, which follows ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits``.
    A positive integer is used as given; ``-1`` means the same as ``None``.
    """
    if n_threads is None or n_threads == -1:
        return max(1, min(available_cores(), _core.max_threads()))
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be None or a positive int, got {n_threads!r}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be None, -1 or >= 1, got {n_threads}")
    return int(n_threads)


# OpenBLAS cores (threadpoolctl's "architecture") whose level-3 kernels use AVX-512.
_AVX512_OPENBLAS_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})


def blas_uses_avx512(libraries: list[dict] | None = None) -> bool:
    """Whether SciPy's BLAS (the one the core's wide Gram calls) runs AVX-512
    kernels: OpenBLAS with one of the cores above, or MKL on a CPU with AVX-512.
    ``libraries``: threadpoolctl's ``threadpool_info()`` (read here when None);
    the entry loaded from SciPy's own folder wins, else any BLAS found."""
    if libraries is None:
        import scipy.linalg  # noqa: F401  (loads the library this asks about)
        from threadpoolctl import threadpool_info

        libraries = threadpool_info()
    blas = [lib for lib in libraries if lib.get("user_api") == "blas"]
    mine = [lib for lib in blas if "scipy" in os.path.basename(os.path.dirname(lib["filepath"]))]
    for lib in mine or blas:
        api = lib.get("internal_api")
        if api == "openblas":
            return str(lib.get("architecture", "")).lower() in _AVX512_OPENBLAS_CORES
        if api == "mkl":
            return _core.build_info()["isa_best"] == "avx512f"  # MKL picks by the CPU
    return False
