"""fastcost.resources against work whose cost is known in advance."""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest
from fastcost import resources
from fastcost.resources import (
    WATTS_PER_BUSY_CORE,
    ResourceReport,
    add_throughput,
    format_bytes,
    format_energy,
    measure,
)
from threadpoolctl import threadpool_limits

MB = 10**6
# Blocks allocate 200 MiB and must show at least 200 MB: the 4.6% between the two
# absorbs unrelated memory the process frees meanwhile (pytest, the allocator).
ALLOC = 200 * 2**20 // 8


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        resources._NvmlCounter, "__init__", lambda self: setattr(self, "handles", [])
    )


@pytest.fixture
def no_counters(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No RAPL zone and no GPU: energy must be estimated."""
    monkeypatch.setattr(resources, "RAPL_ROOT", str(tmp_path))
    _no_gpu(monkeypatch)


def test_sleep_is_wall_not_cpu() -> None:
    # BLAS worker threads left by earlier tests busy-wait for a while after
    # their last call (OpenBLAS spins ~0.1 s); let them park first, since the
    # report rightly counts every thread of the process.
    time.sleep(0.5)
    with measure() as m:
        time.sleep(0.3)
    r = m.report
    assert r is not None
    assert r.wall_time_s >= 0.3
    # The sampler costs well under 5% of a core; sleeping costs nothing.
    assert r.cpu_time_s < 0.25 * r.wall_time_s
    assert r.cpu_utilization < 0.25


@pytest.mark.skipif(_cores() < 2, reason="needs two cores")
def test_two_busy_threads_use_two_cores() -> None:
    a = np.random.default_rng(0).standard_normal((400, 400))
    own_cpu = [0.0, 0.0]

    def spin(i: int, seconds: float) -> None:
        # Matmuls release the GIL; BLAS is limited to one thread per caller below.
        t0 = time.thread_time()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            a @ a
        own_cpu[i] = time.thread_time() - t0

    with threadpool_limits(limits=1, user_api="blas"):
        workers = [threading.Thread(target=spin, args=(i, 0.8)) for i in range(2)]
        with measure() as m:
            for w in workers:
                w.start()
            for w in workers:
                w.join()
    r = m.report
    assert r is not None
    assert r.cpu_time_s == pytest.approx(r.cpu_user_s + r.cpu_system_s)
    assert r.max_threads >= 3  # main + two workers; the sampler is not counted
    # Both workers' CPU time is in the report, however busy the machine is.
    assert r.cpu_time_s >= 0.95 * sum(own_cpu)
    # The utilization is that CPU time over the wall time: two cores' worth on
    # an idle machine, less when another process holds a core (the threads'
    # own CPU time says how much they got).
    assert r.cpu_utilization == pytest.approx(r.cpu_time_s / r.wall_time_s)
    assert r.cpu_utilization >= 0.95 * sum(own_cpu) / r.wall_time_s, r


def test_touched_allocation_shows_in_peak() -> None:
    with measure() as m:
        a = np.ones(ALLOC)
    r = m.report
    assert r is not None
    assert r.peak_memory_delta_bytes >= 200 * MB
    assert r.peak_rss_bytes >= r.rss_start_bytes + 200 * MB
    del a


@pytest.mark.parametrize("reset_peak", [True, False])
def test_freed_allocation_still_shows_in_peak(reset_peak: bool) -> None:
    # Freed before the block ends: only the sampler (or the kernel's mark) saw it.
    with measure(reset_peak=reset_peak) as m:
        a = np.ones(ALLOC)
        time.sleep(0.05)
        del a
    assert m.report is not None
    assert m.report.peak_memory_delta_bytes >= 200 * MB


def test_idle_block_after_big_free_has_small_peak() -> None:
    big = np.ones(300 * MB // 8)
    big.sum()
    del big
    with measure() as m:
        time.sleep(0.05)
    assert m.report is not None
    assert m.report.peak_memory_delta_bytes < 20 * MB


def test_nested_blocks_keep_their_own_peaks() -> None:
    with measure() as outer:
        a = np.ones(ALLOC)
        del a
        with measure() as inner:
            time.sleep(0.02)
    assert outer.report is not None and inner.report is not None
    assert outer.report.peak_memory_delta_bytes >= 200 * MB
    assert inner.report.peak_memory_delta_bytes < 20 * MB


def test_decorator_measures_each_call() -> None:
    m = measure()

    @m
    def work(x: int) -> int:
        time.sleep(0.01)
        return x + 1

    assert work.last_report is None
    assert work(1) == 2
    first = work.last_report
    assert isinstance(first, ResourceReport)
    assert m.report is first
    assert work(2) == 3
    assert work.last_report is not first
    assert work.last_report.wall_time_s >= 0.01
    assert work.__name__ == "work"


def test_reentering_one_instance_is_refused() -> None:
    m = measure()
    with m, pytest.raises(RuntimeError, match="already running"), m:
        pass


def test_bad_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        measure(interval=0)


def test_estimated_energy_is_cpu_times_power(no_counters: None) -> None:
    with measure() as m:
        np.linalg.inv(np.eye(300) + 0.1)
    r = m.report
    assert r is not None
    assert r.energy_source == "estimated"
    assert r.energy_estimated
    assert r.energy_j == pytest.approx(r.cpu_time_s * WATTS_PER_BUSY_CORE)
    assert format_energy(r).endswith("(est.)")
    assert "(est.)" in str(r)
    d = r.to_dict()
    assert d["energy_source"] == "estimated" and d["energy_estimated"] is True


def _fake_rapl(root, energy_uj: int, max_uj: int) -> None:
    zone = root / "intel-rapl:0"
    (zone / "intel-rapl:0:0").mkdir(parents=True)
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    # A subzone (cores) is part of the package; it must not be added again.
    (zone / "intel-rapl:0:0" / "energy_uj").write_text("5\n")
    (zone / "intel-rapl:0:0" / "max_energy_range_uj").write_text(f"{max_uj}\n")


def test_rapl_counter_with_wraparound(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    max_uj = 262_143_328_850
    _fake_rapl(tmp_path, max_uj - 100, max_uj)
    monkeypatch.setattr(resources, "RAPL_ROOT", str(tmp_path))
    _no_gpu(monkeypatch)
    with measure() as m:
        (tmp_path / "intel-rapl:0" / "energy_uj").write_text("50\n")
        (tmp_path / "intel-rapl:0" / "intel-rapl:0:0" / "energy_uj").write_text("9999999\n")
    r = m.report
    assert r is not None
    assert r.energy_source == "rapl"
    assert not r.energy_estimated
    assert r.energy_j == pytest.approx(150e-6)
    assert "(est.)" not in format_energy(r)


def test_unreadable_rapl_falls_back_to_estimate(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    _fake_rapl(tmp_path, 1000, 10**9)
    monkeypatch.setattr(resources, "RAPL_ROOT", str(tmp_path))
    _no_gpu(monkeypatch)

    def denied(path: str) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(resources, "_read_int", denied)
    with measure() as m:
        pass
    assert m.report is not None
    assert m.report.energy_source == "estimated"


def test_price_turns_wall_time_into_cost() -> None:
    with measure(price_per_hour=36.0) as m:
        time.sleep(0.05)
    r = m.report
    assert r is not None
    assert r.cost == pytest.approx(36.0 * r.wall_time_s / 3600)
    assert r.price_per_hour == 36.0
    with measure() as m2:
        pass
    assert m2.report is not None and m2.report.cost is None


def test_add_throughput() -> None:
    r = ResourceReport(
        wall_time_s=2.0,
        cpu_user_s=1.0,
        cpu_system_s=0.5,
        cpu_utilization=0.75,
        rss_start_bytes=0,
        peak_rss_bytes=0,
        peak_memory_delta_bytes=0,
        max_threads=1,
        energy_j=15.0,
        energy_source="estimated",
    )
    out = add_throughput(r, n_passes=10, bytes_per_pass=4e8, flops=8e9)
    assert out is r
    assert r.passes == 10
    assert r.bytes_read == 4e9
    assert r.gb_per_s == pytest.approx(2.0)
    assert r.flops == 8e9
    assert r.gflop_per_s == pytest.approx(4.0)
    d = r.to_dict()
    for key in ("passes", "bytes_read", "flops", "gb_per_s", "gflop_per_s", "cpu_time_s"):
        assert math.isfinite(d[key])


def test_to_dict_is_complete_and_finite() -> None:
    with measure() as m:
        sum(range(10_000))
    assert m.report is not None
    d = m.report.to_dict()
    for key in (
        "wall_time_s",
        "cpu_user_s",
        "cpu_system_s",
        "cpu_time_s",
        "cpu_utilization",
        "rss_start_bytes",
        "peak_rss_bytes",
        "peak_memory_delta_bytes",
        "max_threads",
        "energy_j",
    ):
        assert math.isfinite(d[key]) and d[key] >= 0, key
    assert d["energy_source"] in {"rapl", "estimated", "rapl+nvml", "estimated+nvml"}
    assert d["peak_rss_bytes"] >= d["rss_start_bytes"]


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (3 * 2**20, "3.0 MiB"), (5 * 2**30, "5.0 GiB"), (None, "n/a")],
)
def test_format_bytes(n: int | None, text: str) -> None:
    assert format_bytes(n) == text


def test_every_fit_carries_its_report() -> None:
    from fastcost import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 10))
    y = X @ rng.standard_normal(10)
    for solver, passes in [("newton", 1), ("lbfgs", None), ("sgd", 10)]:
        m = LinearRegression(solver=solver, random_state=0).fit(X, y)
        r = m.fit_report_
        assert r.wall_time_s > 0 and r.cpu_time_s >= 0
        assert r.passes == m.n_passes_ and (passes is None or r.passes == passes)
        assert r.bytes_read == m.n_passes_ * X.shape[0] * 11 * 8
        assert r.gb_per_s == pytest.approx(r.bytes_read / r.wall_time_s / 1e9)
        assert r.flops is not None and r.gflop_per_s is not None and r.gflop_per_s > 0
        assert r.energy_source in ("rapl", "estimated")
        assert r.max_threads >= 1
        assert "fit_report_" not in LinearRegression().__dict__


def test_solver_flops_models():
    from fastcost.resources import solver_flops

    n, d = 1000, 10
    assert solver_flops("gd", n, d, 3, 2) == 3 * 4.0 * n * d
    # lbfgs: a plain first pass, then two probes (gradient and Hessian-vector) per pass.
    assert solver_flops("lbfgs", n, d, 3, 2) == (4.0 + 2 * 8.0) * n * d
    assert solver_flops("newton", n, d, 1, 1) == n * d * (d + 1) + 2.0 * n * d + d**3 / 3.0
    assert solver_flops("unknown", n, d, 1, 1) is None
