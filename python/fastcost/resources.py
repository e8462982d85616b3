"""Measure what a block of code costs: time, CPU, memory, threads, energy and money.

``measure`` is both a context manager and a decorator. It produces a
:class:`ResourceReport`, the one record every fastcost runner, benchmark and the
``fastcost compare`` command share.

How each figure is obtained
---------------------------
wall time
    ``time.perf_counter`` around the block.
CPU time
    User and system time of the whole process (all threads) at entry and
    exit, from ``getrusage`` (microsecond resolution on Linux; ``psutil``'s
    clock-tick resolution of 10 ms is too coarse for millisecond fits) or
    ``psutil`` where ``getrusage`` does not exist.
peak memory
    Resident set size (RSS) is sampled by a background thread every
    ``interval`` seconds; the peak is the maximum of those samples, a final
    reading at exit and, on Linux, the kernel's high-water mark ``VmHWM``,
    which is reset at entry through ``/proc/self/clear_refs`` when the process
    may write it (so it covers the block only, not the process lifetime). The
    peak is reported absolutely and as the growth over the RSS at entry.
threads
    The largest number of process threads seen by the sampler, not counting
    the sampler itself.
energy
    Intel RAPL package counters (``/sys/class/powercap/intel-rapl:N``) when
    readable, plus NVIDIA GPUs through NVML (``pynvml``, optional) when present.
    Otherwise the CPU part is *estimated* as CPU seconds times
    :data:`WATTS_PER_BUSY_CORE`, and ``energy_source`` says ``"estimated"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import math
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psutil

__all__ = [
    "WATTS_PER_BUSY_CORE",
    "DEFAULT_INTERVAL",
    "ResourceReport",
    "measure",
    "add_throughput",
    "fit_clock",
    "solver_flops",
    "format_bytes",
    "format_energy",
]

#: Power drawn by one fully busy CPU core, in watts, used to *estimate* energy
#: when no hardware counter is readable: ``energy_j = cpu_seconds * 10``. It is
#: a round figure for a current server core under load (package power divided
#: by core count, roughly 5-15 W); treat estimated energy as an order of
#: magnitude, useful for comparing runs on the same machine only.
WATTS_PER_BUSY_CORE = 10.0

#: Seconds between two samples of RSS and thread count.
DEFAULT_INTERVAL = 0.005

RAPL_ROOT = "/sys/class/powercap"

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclasses.dataclass
class ResourceReport:
    """What one measured block cost.

    Attributes
    ----------
    wall_time_s : float
        Elapsed time in seconds.
    cpu_user_s, cpu_system_s : float
        Process CPU time in user and kernel mode, summed over all threads.
    cpu_utilization : float
        ``cpu_time_s / wall_time_s``; about the number of busy cores.
    rss_start_bytes : int
        Resident memory when the block started.
    peak_rss_bytes : int
        Highest resident memory seen during the block.
    peak_memory_delta_bytes : int
        ``peak_rss_bytes - rss_start_bytes``: what the block added at most.
    max_threads : int
        Most threads the process had during the block (sampler excluded).
    energy_j : float
        Energy in joules.
    energy_source : str
        ``"rapl"``, ``"nvml"``, ``"estimated"`` or a ``+``-joined combination.
    price_per_hour : float or None
        Price of the machine per hour, if given.
    cost : float or None
        ``price_per_hour * wall_time_s / 3600``.
    passes, bytes_read, flops, gb_per_s, gflop_per_s : optional
        Work done, filled in by :func:`add_throughput` when a solver knows it.
    peak_source : str
        ``"hwm+sampled"`` when the kernel's high-water mark (reset at entry)
        was combined with the samples, ``"sampled"`` when only samples were.
    worker_compute_s : float or None
        Dask fits: seconds the cluster's workers spent computing the fit's
        tasks, from the scheduler's task stream (the other fields describe the
        client process).

    Examples
    --------
    >>> from fastcost.resources import measure
    >>> with measure() as m:
    ...     total = sum(range(1000))
    >>> m.report.wall_time_s >= 0
    True
    >>> sorted(m.report.to_dict())[:3]
    ['bytes_read', 'cost', 'cpu_system_s']
    """

    wall_time_s: float
    cpu_user_s: float
    cpu_system_s: float
    cpu_utilization: float
    rss_start_bytes: int
    peak_rss_bytes: int
    peak_memory_delta_bytes: int
    max_threads: int
    energy_j: float
    energy_source: str
    price_per_hour: float | None = None
    cost: float | None = None
    passes: float | None = None
    bytes_read: float | None = None
    flops: float | None = None
    gb_per_s: float | None = None
    gflop_per_s: float | None = None
    peak_source: str = "sampled"
    worker_compute_s: float | None = None

    @classmethod
    def of_block(
        cls, wall: float, user: float, system: float, rss_start: int, peak: int, threads: int,
        energy: float, energy_source: str, price_per_hour: float | None, peak_source: str,
    ) -> ResourceReport:  # fmt: skip
        """The report of a measured block from its readings (CPU utilization,
        memory growth and cost follow from them)."""
        cpu = user + system
        return cls(
            wall_time_s=wall,
            cpu_user_s=user,
            cpu_system_s=system,
            cpu_utilization=cpu / wall if wall > 0 else 0.0,
            rss_start_bytes=int(rss_start),
            peak_rss_bytes=int(peak),
            peak_memory_delta_bytes=int(max(0, peak - rss_start)),
            max_threads=int(threads),
            energy_j=energy,
            energy_source=energy_source,
            price_per_hour=price_per_hour,
            cost=None if price_per_hour is None else float(price_per_hour) * wall / 3600.0,
            peak_source=peak_source,
        )

    @property
    def cpu_time_s(self) -> float:
        """User plus system CPU seconds."""
        return self.cpu_user_s + self.cpu_system_s

    @property
    def energy_estimated(self) -> bool:
        """True when any part of ``energy_j`` is an estimate, not a counter."""
        return "estimated" in self.energy_source

    def to_dict(self) -> dict[str, Any]:
        """Return all fields plus ``cpu_time_s`` and ``energy_estimated`` as a dict."""
        out = dataclasses.asdict(self)
        out["cpu_time_s"] = self.cpu_time_s
        out["energy_estimated"] = self.energy_estimated
        return out

    def __str__(self) -> str:
        parts = [
            f"wall {self.wall_time_s:.4g} s",
            f"cpu {self.cpu_time_s:.4g} s ({self.cpu_utilization:.2f}x)",
            f"peak +{format_bytes(self.peak_memory_delta_bytes)}"
            f" ({format_bytes(self.peak_rss_bytes)} total)",
            f"threads {self.max_threads}",
            f"energy {format_energy(self)}",
        ]
        if self.cost is not None:
            parts.append(f"cost {self.cost:.4g}")
        if self.gb_per_s is not None:
            parts.append(f"{self.gb_per_s:.3g} GB/s")
        if self.gflop_per_s is not None:
            parts.append(f"{self.gflop_per_s:.3g} GFLOP/s")
        return ", ".join(parts)


def format_bytes(n: float | None) -> str:
    """Format a byte count with a binary unit, e.g. ``format_bytes(3 * 2**20) == '3.0 MiB'``."""
    if n is None or not math.isfinite(n):
        return "n/a"
    sign = "-" if n < 0 else ""
    value = float(abs(n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_energy(report: ResourceReport) -> str:
    """Format energy in joules, marked ``(est.)`` when it is an estimate."""
    text = f"{report.energy_j:.3g} J"
    return text + " (est.)" if report.energy_estimated else text


def add_throughput(
    report: ResourceReport,
    n_passes: float,
    bytes_per_pass: float,
    flops: float | None = None,
) -> ResourceReport:
    """Add the work a solver did to ``report`` (in place) and return it.

    Parameters
    ----------
    report : ResourceReport
        Report of the measured fit.
    n_passes : float
        Passes the solver made over the data.
    bytes_per_pass : float
        Bytes read in one pass (e.g. ``X.nbytes + y.nbytes``).
    flops : float, optional
        Floating-point operations of the whole fit.

    Returns
    -------
    ResourceReport
        The same object with ``passes``, ``bytes_read``, ``gb_per_s`` and,
        when ``flops`` is given, ``flops`` and ``gflop_per_s`` set.
    """
    wall = report.wall_time_s
    report.passes = float(n_passes)
    report.bytes_read = float(n_passes) * float(bytes_per_pass)
    report.gb_per_s = report.bytes_read / wall / 1e9 if wall > 0 else None
    if flops is not None:
        report.flops = float(flops)
        report.gflop_per_s = report.flops / wall / 1e9 if wall > 0 else None
    return report


# --------------------------------------------------------------------------- energy


def _read_int(path: str) -> int:
    with open(path) as fh:
        return int(fh.read().strip())


class _RaplCounter:
    """Package-level RAPL counters; subzones (``intel-rapl:0:0``) are inside them."""

    def __init__(self, root: str | None = None) -> None:
        root = RAPL_ROOT if root is None else root
        self.zones: list[tuple[str, int]] = []
        for zone in sorted(glob.glob(os.path.join(root, "intel-rapl:*"))):
            if not re.fullmatch(r"intel-rapl:\d+", os.path.basename(zone)):
                continue
            energy = os.path.join(zone, "energy_uj")
            try:
                _read_int(energy)
                max_range = _read_int(os.path.join(zone, "max_energy_range_uj"))
            except (OSError, ValueError):
                # Since 2020 the counters are root-only on most distributions.
                continue
            self.zones.append((energy, max_range))

    def read(self) -> list[int] | None:
        try:
            return [_read_int(path) for path, _ in self.zones]
        except (OSError, ValueError):
            return None

    def joules(self, start: list[int], end: list[int]) -> float:
        total = 0
        for (_, max_range), a, b in zip(self.zones, start, end, strict=True):
            # The counter wraps at max_energy_range_uj; assume at most one wrap.
            total += b - a if b >= a else b + max_range - a
        return total * 1e-6


class _NvmlCounter:
    """Total energy of all NVIDIA GPUs, if ``pynvml`` and a driver are present."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        try:
            import pynvml
        except ImportError:
            return
        try:
            pynvml.nvmlInit()
            handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]
            for h in handles:
                pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
        except Exception:  # no driver, no GPU, or a GPU without an energy counter
            return
        self._nvml = pynvml
        self.handles = handles

    def read(self) -> list[int] | None:
        try:
            return [self._nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]
        except Exception:
            return None

    @staticmethod
    def joules(start: list[int], end: list[int]) -> float:
        return sum(b - a for a, b in zip(start, end, strict=True)) * 1e-3  # millijoules


# --------------------------------------------------------------------------- CPU


def _cpu_times(proc: psutil.Process | None = None) -> tuple[float, float]:
    """(user, system) CPU seconds of this process, all threads."""
    try:
        import resource
    except ImportError:  # Windows
        t = (proc or psutil.Process()).cpu_times()
        return t.user, t.system
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


# --------------------------------------------------------------------------- memory

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_active: list[measure] = []
_active_lock = threading.Lock()


def _read_hwm() -> int | None:
    """Linux's peak RSS of this process (``VmHWM``) in bytes, or None."""
    try:
        with open(_STATUS) as fh:
            match = re.search(r"^VmHWM:\s+(\d+)\s+kB", fh.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def _reset_hwm() -> bool:
    """Reset ``VmHWM`` to the current RSS; False where the kernel does not allow it."""
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- measure


class measure(contextlib.AbstractContextManager["measure"]):  # noqa: N801 - reads like a verb
    """Measure the resources a block of code uses.

    Use it as a context manager (the report is in ``.report`` after the block)
    or as a decorator (each call is measured; the last report is in
    ``.report`` of the ``measure`` object and in ``.last_report`` of the
    wrapped function).

    Parameters
    ----------
    price_per_hour : float, optional
        Price of the machine per hour; sets ``report.cost``.
    interval : float, default=DEFAULT_INTERVAL
        Seconds between RSS / thread-count samples.
    reset_peak : bool, default=True
        On Linux, reset the kernel's peak-RSS mark at entry so the peak covers
        the block only. This also resets what ``getrusage`` reports as
        ``ru_maxrss`` for the process; pass False to leave it alone (the peak
        then comes from sampling only).
    energy : bool, default=True
        Read RAPL / NVML counters when available; False always estimates.

    Attributes
    ----------
    report : ResourceReport or None
        Set when the block exits.

    Notes
    -----
    Energy is estimated as CPU seconds times :data:`WATTS_PER_BUSY_CORE`
    (10 W per busy core) when no counter is readable; the report then says
    ``energy_source="estimated"``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcost.resources import measure
    >>> with measure(price_per_hour=3.0) as m:
    ...     a = np.ones(1_000_000)
    >>> m.report.peak_memory_delta_bytes > 0
    True
    >>> m.report.cost is not None
    True
    >>> @measure()
    ... def work():
    ...     return sum(range(100))
    >>> work()
    4950
    >>> work.last_report.wall_time_s >= 0
    True
    """

    def __init__(
        self,
        *,
        price_per_hour: float | None = None,
        interval: float = DEFAULT_INTERVAL,
        reset_peak: bool = True,
        energy: bool = True,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self.price_per_hour = price_per_hour
        self.interval = interval
        self.reset_peak = reset_peak
        self.energy = energy
        self.report: ResourceReport | None = None
        self._running = False

    # -- decorator -----------------------------------------------------------------
    def __call__(self, func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inner = measure(
                price_per_hour=self.price_per_hour,
                interval=self.interval,
                reset_peak=self.reset_peak,
                energy=self.energy,
            )
            with inner:
                result = func(*args, **kwargs)
            self.report = inner.report
            wrapper.last_report = inner.report  # type: ignore[attr-defined]
            return result

        wrapper.last_report = None  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    # -- context manager -----------------------------------------------------------
    def __enter__(self) -> measure:
        if self._running:
            raise RuntimeError("this measure() is already running; create a new one")
        self._running = True
        self.report = None
        self._proc = psutil.Process()
        self._rapl = _RaplCounter() if self.energy else None
        self._nvml = _NvmlCounter() if self.energy else None
        self._rapl_start = self._rapl.read() if self._rapl and self._rapl.zones else None
        self._nvml_start = self._nvml.read() if self._nvml and self._nvml.handles else None

        self._use_hwm = False
        if self.reset_peak:
            with _active_lock:
                # Resetting the mark would hide an enclosing block's peak so far;
                # hand it to the enclosing measurements first.
                hwm = _read_hwm()
                if hwm is not None:
                    for outer in _active:
                        outer._bump_peak(hwm)
                self._use_hwm = _reset_hwm() and _read_hwm() is not None
        with _active_lock:
            _active.append(self)

        self._rss_start = self._proc.memory_info().rss
        self._peak = self._rss_start
        self._max_threads = self._proc.num_threads()
        self._peak_lock = threading.Lock()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="fastcost-measure", daemon=True)
        self._sampler.start()

        self._cpu_start = _cpu_times(self._proc)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        t1 = time.perf_counter()
        cpu_end = _cpu_times(self._proc)
        self._stop.set()
        self._sampler.join()
        rss_end = self._proc.memory_info().rss
        self._bump_peak(rss_end)
        peak_source = "sampled"
        if self._use_hwm:
            hwm = _read_hwm()
            if hwm is not None:
                peak_source = "hwm+sampled"
                self._bump_peak(hwm)
        with _active_lock:
            _active.remove(self)
        self._running = False

        wall = t1 - self._t0
        user = max(0.0, cpu_end[0] - self._cpu_start[0])
        system = max(0.0, cpu_end[1] - self._cpu_start[1])
        cpu = user + system

        sources: list[str] = []
        energy = 0.0
        if self._rapl is not None and self._rapl_start is not None:
            end = self._rapl.read()
            if end is not None:
                energy += self._rapl.joules(self._rapl_start, end)
                sources.append("rapl")
        if "rapl" not in sources:
            energy += cpu * WATTS_PER_BUSY_CORE
            sources.append("estimated")
        if self._nvml is not None and self._nvml_start is not None:
            end_gpu = self._nvml.read()
            if end_gpu is not None:
                energy += self._nvml.joules(self._nvml_start, end_gpu)
                sources.append("nvml")

        self.report = ResourceReport.of_block(
            wall, user, system, self._rss_start, self._peak, self._max_threads, energy,
            "+".join(sources), self.price_per_hour, peak_source,
        )  # fmt: skip

    def _bump_peak(self, rss: int) -> None:
        with self._peak_lock:
            if rss > self._peak:
                self._peak = rss

    def _sample(self) -> None:
        proc = self._proc
        while not self._stop.wait(self.interval):
            try:
                rss = proc.memory_info().rss
                n_threads = proc.num_threads() - 1  # not counting this sampler
            except psutil.Error:  # pragma: no cover - the process is ourselves
                continue
            self._bump_peak(rss)
            if n_threads > self._max_threads:
                self._max_threads = n_threads


# --------------------------------------------------------------------------- per fit


def solver_flops(solver: str, n: int, d: int, n_passes: float, n_iter: int | None) -> float | None:
    """Approximate floating-point work of a fit, from passes over ``X``.

    A pass of a first-order solver (``gd``, ``sgd``) computes ``X @ w`` and
    ``X.T @ r``: 4·n·d flops; ``lbfgs`` does that once, then every pass also
    takes ``X @ p`` and ``X.T @ (X p)`` for its exact step: 8·n·d. ``newton`` builds the Gram matrix
    ``X.T @ X`` once per pass (n·d·(d+1) using symmetry, plus 2·n·d for
    ``X.T @ y``) and solves a d×d system (d³/3); ``qr`` does about twice the
    Gram's multiply-adds per pass (Householder, 2·n·d²). These are models for
    reporting rates, not counts of what the kernels execute; for a solver
    without a model this returns None and no GFLOP/s is reported.
    """
    if solver == "newton":
        return n_passes * (n * d * (d + 1) + 2.0 * n * d) + (n_iter or 1) * d**3 / 3.0
    if solver == "qr":
        return n_passes * 2.0 * n * (d + 1) ** 2
    if solver == "lbfgs":
        return (4.0 + 8.0 * max(n_passes - 1.0, 0.0)) * n * d
    if solver in ("gd", "sgd"):
        return n_passes * 4.0 * n * d
    return None


_RAPL: _RaplCounter | None = None
_NVML: _NvmlCounter | None = None  # fit_clock(gpu=True)'s, made on first need


_STATM_FD: int | None = None
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    """Resident memory now; a pread of a kept-open /proc/self/statm (~2 us)."""
    global _STATM_FD
    try:
        if _STATM_FD is None:
            _STATM_FD = os.open("/proc/self/statm", os.O_RDONLY)
        return int(os.pread(_STATM_FD, 128, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError, AttributeError):  # not Linux
        return int(psutil.Process().memory_info().rss)


class fit_clock:  # noqa: N801 - reads like a verb, as measure does
    """The cheap accounting behind every estimator's ``fit_report_``.

    Unlike :class:`measure` it starts no sampler thread and leaves the peak-RSS
    mark alone, so it costs microseconds even on a sub-millisecond fit: wall and
    process CPU time, resident memory at start and end (``peak_source`` says
    ``"start/end"``: wrap a fit in :class:`measure` for the true peak), and
    energy from RAPL when readable, else estimated from CPU time. With
    ``gpu=True`` (a ``device="cuda"`` fit) the GPUs' energy from NVML is added
    when it is readable (``energy_source`` then ends in ``+nvml``); without NVML
    the GPU's energy is not in the figure.
    """

    def __init__(self, gpu: bool = False) -> None:
        self._gpu = gpu

    def __enter__(self) -> fit_clock:
        global _RAPL, _NVML
        if _RAPL is None:
            _RAPL = _RaplCounter()
        self._rapl_start = _RAPL.read() if _RAPL.zones else None
        self._nvml_start: list[int] | None = None
        self._nvml_end: list[int] | None = None
        if self._gpu:
            if _NVML is None:
                _NVML = _NvmlCounter()
            self._nvml_start = _NVML.read() if _NVML.handles else None
        self._rss_start = _rss_bytes()
        self._cpu_start = _cpu_times()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._wall = time.perf_counter() - self._t0
        self._cpu_end = _cpu_times()
        self._rss_end = _rss_bytes()
        self._rapl_end = (
            _RAPL.read() if _RAPL is not None and self._rapl_start is not None else None
        )
        if _NVML is not None and self._nvml_start is not None:
            self._nvml_end = _NVML.read()

    def report(
        self, *, threads: int, n_passes: float, bytes_per_pass: float, flops: float | None
    ) -> ResourceReport:
        """The fit's report, with the work it did (see :func:`add_throughput`)."""
        user = max(0.0, self._cpu_end[0] - self._cpu_start[0])
        system = max(0.0, self._cpu_end[1] - self._cpu_start[1])
        cpu = user + system
        if self._rapl_end is not None and _RAPL is not None and self._rapl_start is not None:
            energy, source = _RAPL.joules(self._rapl_start, self._rapl_end), "rapl"
        else:
            energy, source = cpu * WATTS_PER_BUSY_CORE, "estimated"
        if _NVML is not None and self._nvml_start is not None and self._nvml_end is not None:
            energy += _NVML.joules(self._nvml_start, self._nvml_end)
            source += "+nvml"
        peak = max(self._rss_start, self._rss_end)
        report = ResourceReport(
            wall_time_s=self._wall,
            cpu_user_s=user,
            cpu_system_s=system,
            cpu_utilization=cpu / self._wall if self._wall > 0 else 0.0,
            rss_start_bytes=int(self._rss_start),
            peak_rss_bytes=int(peak),
            peak_memory_delta_bytes=int(peak - self._rss_start),
            max_threads=int(threads),
            energy_j=energy,
            energy_source=source,
            peak_source="start/end",
        )
        return add_throughput(report, n_passes, bytes_per_pass, flops)
