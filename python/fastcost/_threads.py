"""How many threads a fit may use."""

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
