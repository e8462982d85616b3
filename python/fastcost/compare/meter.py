"""How ``fastcost compare`` measures one fit: wall and CPU time, peak memory and
energy, with nothing of the measurement inside the timed region.

:class:`fastcost.resources.measure` samples the resident memory from a
background thread every few milliseconds. Starting that thread and letting it
run beside the fit costs about 30-50 microseconds, which is a third of a
fastcost newton fit on the default problem (about 120 us). :class:`FitMeter`
times the same figures without a thread:

wall, CPU
    ``time.perf_counter`` and ``getrusage`` read immediately around the block;
    everything else is read before the first and after the last of them.
peak memory
    Linux's high-water mark of resident memory (``VmHWM``), reset just before
    the block through ``/proc/self/clear_refs`` and read after it: the exact
    peak, not a sample. Where the kernel does not allow the reset, the peak is
    the larger of the readings at start and end (``peak_source`` says which).
threads
    The process's thread count before and after the block (the libraries'
    thread pools outlive their fits).
energy
    RAPL package counters when readable, else CPU seconds times
    :data:`fastcost.resources.WATTS_PER_BUSY_CORE` (``energy_source`` says which).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psutil

from fastcost.resources import (
    WATTS_PER_BUSY_CORE,
    ResourceReport,
    _active,
    _active_lock,
    _cpu_times,
    _RaplCounter,
    _read_hwm,
    _reset_hwm,
    _rss_bytes,
)

__all__ = ["FitMeter"]

_RAPL: _RaplCounter | None = None
_PROCESS: psutil.Process | None = None


def _rapl() -> _RaplCounter:
    """The RAPL counters, found once per process (a directory scan)."""
    global _RAPL
    if _RAPL is None:
        _RAPL = _RaplCounter()
    return _RAPL


def _num_threads() -> int:
    """Threads of this process now (one cached ``psutil.Process``)."""
    global _PROCESS
    if _PROCESS is None:
        _PROCESS = psutil.Process()
    try:
        return int(_PROCESS.num_threads())
    except psutil.Error:  # pragma: no cover - the process is ourselves
        return 0


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark; first hand the peak so far to any
    enclosing :class:`fastcost.resources.measure`, whose peak the reset would hide."""
    with _active_lock:
        hwm = _read_hwm()
        if hwm is not None:
            for outer in _active:
                outer._bump_peak(hwm)
        return _reset_hwm() and _read_hwm() is not None


class FitMeter(contextlib.AbstractContextManager["FitMeter"]):
    """Measure one block (a fit) with nothing running beside it.

    Parameters
    ----------
    price_per_hour : float, optional
        Price of the machine per hour; sets ``report.cost``.

    Attributes
    ----------
    report : ResourceReport or None
        Set when the block exits; ``peak_source`` is ``"hwm"`` (kernel
        high-water mark) or ``"start/end"``.

    Examples
    --------
    >>> with FitMeter() as m:
    ...     total = sum(range(1000))
    >>> m.report.wall_time_s > 0
    True
    """

    def __init__(self, price_per_hour: float | None = None) -> None:
        self.price_per_hour = price_per_hour
        self.report: ResourceReport | None = None

    def __enter__(self) -> FitMeter:
        rapl = _rapl()
        self._rapl_start = rapl.read() if rapl.zones else None
        self._threads_start = _num_threads()
        self._use_hwm = _reset_peak()
        self._rss_start = _rss_bytes()
        self._cpu_start = _cpu_times()
        self._t0 = time.perf_counter()  # the timed region starts here ...
        return self

    def __exit__(self, *exc_info: object) -> None:
        wall = time.perf_counter() - self._t0  # ... and ends here
        cpu_end = _cpu_times()
        rss_end = _rss_bytes()
        hwm = _read_hwm() if self._use_hwm else None
        threads = max(self._threads_start, _num_threads())
        rapl = _rapl()
        rapl_end = rapl.read() if self._rapl_start is not None else None

        user = max(0.0, cpu_end[0] - self._cpu_start[0])
        system = max(0.0, cpu_end[1] - self._cpu_start[1])
        cpu = user + system
        if rapl_end is not None and self._rapl_start is not None:
            energy, source = rapl.joules(self._rapl_start, rapl_end), "rapl"
        else:
            energy, source = cpu * WATTS_PER_BUSY_CORE, "estimated"
        peak = max(self._rss_start, rss_end, hwm or 0)
        self.report = ResourceReport.of_block(
            wall, user, system, self._rss_start, peak, threads, energy, source,
            self.price_per_hour, "hwm" if hwm is not None else "start/end",
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"FitMeter(price_per_hour={self.price_per_hour!r})"


def describe_peak_sources(sources: Any) -> str | None:
    """A footer line when some peak was read at start and end only, else None."""
    if "start/end" in set(sources):
        return (
            "peak mem (start/end): the kernel's high-water mark could not be reset here, "
            "so the peak is the larger of the readings before and after the fit"
        )
    return None
