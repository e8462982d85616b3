"""The CUDA backend (fastcost._cuda, device="cuda").

Tests that need no GPU (error messages, show_config) run everywhere; the others
skip with "no CUDA device" when there is none (the only skip). The GPU results
are compared with the CPU backend on the same data.
"""

from __future__ import annotations

import importlib.util

import cuda_stand_in
import fastcost
import numpy as np
import pytest
from fastcost import LinearRegression, _gpu


def _cuda_module():
    try:
        from fastcost import _cuda
    except ImportError:
        return None
    return _cuda


_CUDA = _cuda_module()
HAS_DEVICE = _CUDA is not None and len(_CUDA.runtime_info()["devices"]) > 0
needs_gpu = pytest.mark.skipif(not HAS_DEVICE, reason="no CUDA device")


# ---- everywhere -------------------------------------------------------------------


def test_show_config_reports_cuda(capsys):
    info = fastcost.config_info()
    for key in ("cuda", "cuda_runtime", "cuda_driver", "cuda_devices"):
        assert key in info
    fastcost.show_config()
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "CUDA:" in ln)
    if _CUDA is None:
        assert info["cuda"] is False and info["cuda_devices"] == []
        assert "off" in line and "-Ccmake.define.FASTCOST_CUDA=ON" in line
    else:
        assert info["cuda"] is True and info["cuda_runtime"]
        assert "on (runtime" in line
        if not HAS_DEVICE:
            assert "no CUDA device" in line


def test_device_cuda_error_without_gpu_or_build():
    X = np.random.default_rng(0).standard_normal((50, 3))
    y = X @ np.arange(1.0, 4.0)
    model = LinearRegression(device="cuda")
    if _CUDA is None:
        with pytest.raises(ImportError, match="-Ccmake.define.FASTCOST_CUDA=ON"):
            model.fit(X, y)
    elif not HAS_DEVICE:
        with pytest.raises(RuntimeError, match="no CUDA device"):
            model.fit(X, y)
    else:  # a GPU: the same call fits
        np.testing.assert_allclose(model.fit(X, y).coef_, [1.0, 2.0, 3.0], rtol=1e-8)
    assert not hasattr(model, "coef_") or HAS_DEVICE  # a failed fit leaves no attributes


def test_device_parameter_is_checked():
    with pytest.raises(ValueError, match="device must be"):
        LinearRegression(device="gpu").fit(np.ones((3, 1)), np.ones(3))
    assert LinearRegression().get_params()["device"] == "cpu"


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "qr"},
        {"standardize": True},
        {"prune": True},
        {"noise_augmentation": 0.1},
        {"compute_statistics": True},
    ],
)
def test_cuda_rejects_cpu_only_options(params):
    with pytest.raises(ValueError, match="device='cuda'"):
        LinearRegression(device="cuda", **params).fit(np.ones((4, 2)), np.ones(4))


def test_cuda_status_without_module_is_off():
    status = _gpu.cuda_status()
    assert status["built"] is (_CUDA is not None)
    if _CUDA is None:
        assert status["devices"] == [] and status["runtime_version"] is None


# ---- the Python path with a stand-in device module ----------------------------------


class _RecordingStandIn:
    """The stand-in module (tests/cuda_stand_in.py), recording each fit's X."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return getattr(cuda_stand_in, name)

    def fit(self, X, y, sample_weight, solver, options):
        assert isinstance(options, fastcost._core.FitOptions)
        shape = tuple(X["shape"]) if isinstance(X, dict) else X.shape
        self.calls.append((shape, solver))
        return cuda_stand_in.fit(X, y, sample_weight, solver, options)


@pytest.fixture
def stand_in(monkeypatch):
    module = _RecordingStandIn()
    monkeypatch.setattr(_gpu, "load_module", lambda: module)
    return module


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd", "sgd", "auto"])
def test_cuda_python_path_end_to_end_with_a_stand_in(stand_in, solver):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((400, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.7 + 0.01 * rng.standard_normal(400)
    kw = {"solver": solver, "random_state": 0}
    if solver == "sgd":  # the recipe itself, not converged: compare with the CPU's recipe
        kw["max_iter"] = 3
    model = LinearRegression(device="cuda", **kw).fit(X, y)
    cpu = LinearRegression(**kw).fit(X, y)
    np.testing.assert_allclose(model.coef_, cpu.coef_, rtol=1e-12)
    assert model.solver_ == cpu.solver_ == ("newton" if solver == "auto" else solver)
    assert model.fit_info_.startswith(
        f"{model.solver_} (solver={solver!r}) on device='cuda' ({cuda_stand_in.DEVICE_NAME})"
    )
    assert model.cuda_timings_["device"] == cuda_stand_in.DEVICE_NAME
    assert model.n_features_in_ == 4 and model.n_passes_ == cpu.n_passes_
    assert model.fit_report_.passes == model.n_passes_ and model.fit_report_.wall_time_s > 0
    # A second fit on other data reports the new shape, not the first fit's.
    model.fit(X[:100, :2], y[:100])
    assert model.n_features_in_ == 2 and model.coef_.shape == (2,)
    assert model.fit_report_.bytes_read == 100 * 3 * 8 * model.n_passes_
    assert [c[0] for c in stand_in.calls] == [(400, 4), (100, 2)]


def test_cuda_python_path_reports_nonfinite_data_with_a_stand_in(stand_in):
    X = np.ones((20, 2))
    X[3, 1] = np.nan
    with pytest.raises(fastcost.exceptions.NonFiniteError, match="row 3, column 1"):
        LinearRegression(device="cuda", solver="lbfgs").fit(X, np.arange(20.0))


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_cuda_python_path_passes_positive_with_a_stand_in(stand_in, solver):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((400, 5))
    y = X @ np.array([1.0, -2.0, 0.5, -1.0, 2.0]) + 0.1 * rng.standard_normal(400)
    kw = {"solver": solver, "positive": True, "tol": 1e-10, "max_iter": 5000}
    model = LinearRegression(device="cuda", **kw).fit(X, y)
    cpu = LinearRegression(**kw).fit(X, y)
    assert (model.coef_ >= 0).all() and np.count_nonzero(model.coef_ == 0) >= 2
    np.testing.assert_array_equal(model.coef_, cpu.coef_)


def _problem(n=300, d=4, seed=7, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) + rng.uniform(-2, 2, d)).astype(dtype)
    y = (X @ rng.standard_normal(d) + 0.5 + 0.05 * rng.standard_normal(n)).astype(dtype)
    w = rng.uniform(0.2, 2.0, n).astype(dtype)
    return X, y, w


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_cuda_device_input_path_with_a_stand_in(stand_in, order, solver):
    # X, y and weights "on the device" (stand-in memory): described, read in place.
    X, y, w = _problem()
    X = np.asarray(X, order=order)
    dev = cuda_stand_in.StandInDeviceArray
    model = LinearRegression(device="cuda", solver=solver).fit(dev(X), dev(y), sample_weight=dev(w))
    cpu = LinearRegression(solver=solver).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, cpu.coef_, rtol=1e-12)
    assert model.cuda_timings_["transfer_bytes"] == 0 and model.n_features_in_ == 4


def test_cuda_tensor_that_requires_grad_is_a_type_error(stand_in):
    class GradTensor:  # PyTorch's property raises RuntimeError for a tensor that requires grad
        @property
        def __cuda_array_interface__(self):
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")

    X, y, _ = _problem()
    with pytest.raises(TypeError, match="detach it first"):
        LinearRegression(device="cuda").fit(GradTensor(), y)
    model = LinearRegression(device="cuda").fit(X, y)
    with pytest.raises(TypeError, match="detach it first"):
        model.predict(GradTensor())


@pytest.mark.parametrize("which", ["y", "sample_weight"])
def test_cuda_host_x_with_device_vector_is_a_clear_type_error(stand_in, which):
    X, y, w = _problem()
    kw = {"y": y, "sample_weight": w}
    kw[which] = cuda_stand_in.StandInDeviceArray(kw[which])
    with pytest.raises(TypeError, match=f"X is in host memory but {which} is on the GPU"):
        LinearRegression(device="cuda").fit(X, **kw)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.nan, "NaN or infinity"),
        (np.inf, "NaN or infinity"),
        (-1.0, "negative values"),
        (None, "sums to zero"),
    ],  # fmt: skip
)
def test_cuda_device_weights_are_checked(stand_in, bad, message):
    X, y, w = _problem()
    if bad is None:
        w[:] = 0.0
    else:
        w[5] = bad
    dev = cuda_stand_in.StandInDeviceArray
    model = LinearRegression(device="cuda")
    with pytest.raises(ValueError, match=message):
        model.fit(dev(X), dev(y), sample_weight=dev(w))
    assert not hasattr(model, "coef_")


def test_cuda_sgd_on_host_x_with_nan_names_the_cell(stand_in):
    X, y, _ = _problem()
    X[11, 2] = np.nan
    with pytest.raises(fastcost.exceptions.NonFiniteError, match="row 11, column 2"):
        LinearRegression(device="cuda", solver="sgd", max_iter=2).fit(X, y)


def test_cuda_sgd_divergence_on_finite_data_stays_a_divergence(stand_in):
    X, y, _ = _problem()
    with pytest.raises(fastcost.exceptions.DivergenceError, match="learning_rate"):
        LinearRegression(device="cuda", solver="sgd", learning_rate=10.0, max_iter=50).fit(X, y)


def test_cuda_timings_do_not_survive_a_cpu_fit(stand_in):
    X, y, _ = _problem()
    model = LinearRegression(device="cuda").fit(X, y)
    assert "cuda_timings_" in vars(model)
    model.set_params(device="cpu").fit(X, y)
    assert "cuda_timings_" not in vars(model)


def test_cuda_fit_report_adds_nvml_energy_when_readable(stand_in, monkeypatch):
    from fastcost import resources

    class FakeNvml:  # two GPUs' counters in millijoules, 1.5 J and 0.5 J apart
        handles = [0, 1]
        reads = iter([[1000, 5000], [2500, 5500]])

        def read(self):
            return next(self.reads)

        joules = staticmethod(resources._NvmlCounter.joules)

    monkeypatch.setattr(resources, "_NVML", FakeNvml())
    X, y, _ = _problem()
    report = LinearRegression(device="cuda").fit(X, y).fit_report_
    assert report.energy_source.endswith("+nvml") and report.max_threads == 1
    assert report.energy_j >= 2.0  # the GPUs' 2 J, plus the host's share
    cpu_report = LinearRegression().fit(X, y).fit_report_  # a CPU fit never reads NVML
    assert "nvml" not in cpu_report.energy_source


def test_stand_in_binding_refuses_arrays_it_cannot_read():
    # The binding takes numpy arrays or device descriptions (what _gpu._describe
    # makes): a CuPy array or tensor passed as is is a TypeError, as there.
    X, y, _ = _problem()
    on_device = cuda_stand_in.StandInDeviceArray(X)
    with pytest.raises(TypeError, match="numpy array or a dict"):
        cuda_stand_in.loss_grad(on_device, y, np.zeros(4))
    desc = _gpu._describe(on_device, "X")
    lg = cuda_stand_in.loss_grad(desc, y, np.zeros(4))
    ref = fastcost._core.loss_grad(X, y, np.zeros(4), 0.0, None, 0, 0)
    assert lg[:3] == tuple(ref[:3])
    t = cuda_stand_in._time_passes(desc, y, None, "gram", 2)
    assert len(t["seconds"]) == 2 and t["bytes_read"] == X.nbytes + y.nbytes
    with pytest.raises(MemoryError, match="cannot allocate"):
        cuda_stand_in._try_allocate(2 * cuda_stand_in.TOTAL_MEMORY)


@pytest.mark.parametrize("solver", ["auto", "newton", "sgd"])
def test_cuda_positive_needs_lbfgs_or_gd(solver):
    model = LinearRegression(device="cuda", solver=solver, positive=True)
    with pytest.raises(ValueError, match="positive=True with device='cuda'"):
        model.fit(np.ones((4, 2)), np.ones(4))


# ---- on a GPU ---------------------------------------------------------------------------


def _data(n=3000, d=17, dtype=np.float64, order="C", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-5, 5, d)
    y = X @ rng.standard_normal(d) + 1.5 + 0.1 * rng.standard_normal(n)
    w = rng.uniform(0.0, 2.0, n)
    return np.asarray(X, dtype=dtype, order=order), y.astype(dtype), w.astype(dtype)


def _tol(dtype):
    return 1e-9 if dtype == np.float64 else 2e-3


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("d", [1, 17, 300])
def test_gram_matches_cpu(dtype, order, weighted, d):
    X, y, w = _data(n=2500, d=d, dtype=dtype, order=order)
    sw = w if weighted else None
    gpu = _CUDA.gram_stats(X, y, sw)
    cpu = fastcost._core.gram_stats(X, y, sw, None, 0, 0)
    np.testing.assert_array_equal(gpu["shift"], cpu["shift"])
    scale = np.abs(cpu["gram"]).max()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(gpu["gram"], cpu["gram"], rtol=0, atol=tol * scale)
    assert np.array_equal(gpu["gram"], gpu["gram"].T)


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
# 6000 float64: the wide-row kernel, its column sums all in shared memory; 13000: also
# its columns past the shared-memory budget (12288), summed in the block's partial row.
@pytest.mark.parametrize("d", [3, 100, 700, 6000, 13000])
def test_loss_grad_matches_cpu(dtype, order, d):
    n = {6000: 800, 13000: 400}.get(d, 5000)
    X, y, w = _data(n=n, d=d, dtype=dtype, order=order)
    coef = np.random.default_rng(1).standard_normal(d) / np.sqrt(d)
    gpu = _CUDA.loss_grad(X, y, coef, 0.25, w)
    cpu = fastcost._core.loss_grad(X, y, coef, 0.25, w, 0, 0)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for g, c in zip(gpu[:3], cpu[:3], strict=True):
        assert abs(g - c) <= tol * max(1.0, abs(c))
    np.testing.assert_allclose(gpu[3], cpu[3], rtol=0, atol=tol * np.abs(cpu[3]).max())


@needs_gpu
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_positive_matches_cpu(solver):
    X, y, w = _data()
    y = y - X @ np.where(np.arange(X.shape[1]) % 2 == 0, 2.0, 0.0)  # some coefficients bind
    params = dict(solver=solver, positive=True, tol=1e-10, max_iter=20_000)
    cpu = LinearRegression(**params).fit(X, y, sample_weight=w)
    gpu = LinearRegression(device="cuda", **params).fit(X, y, sample_weight=w)
    assert (gpu.coef_ >= 0).all() and np.array_equal(gpu.coef_ == 0, cpu.coef_ == 0)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=1e-6, atol=1e-6 * np.abs(cpu.coef_).max())


@needs_gpu
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_solvers_match_cpu(solver, dtype, order, fit_intercept, weighted):
    X, y, w = _data(dtype=dtype, order=order)
    sw = w if weighted else None
    params = dict(solver=solver, fit_intercept=fit_intercept, alpha=0.01, tol=1e-10, max_iter=5000)
    cpu = LinearRegression(**params).fit(X, y, sample_weight=sw)
    gpu = LinearRegression(device="cuda", **params).fit(X, y, sample_weight=sw)
    tol = _tol(dtype) if solver == "newton" else max(_tol(dtype), 1e-6)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(gpu.intercept_, cpu.intercept_, rtol=tol, atol=tol)
    assert gpu.coef_.dtype == dtype and gpu.solver_ == solver
    t = gpu.cuda_timings_
    assert t["transfer_bytes"] >= X.nbytes and t["transfer_s"] >= 0 and t["compute_s"] > 0


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd_matches_cpu_recipe(dtype):
    X, y, _ = _data(n=2000, d=8, dtype=dtype)
    params = dict(solver="sgd", max_iter=5, random_state=3, learning_rate=0.01)
    cpu = LinearRegression(**params).fit(X / 5, y / 5)
    gpu = LinearRegression(device="cuda", **params).fit(X / 5, y / 5)
    # Same start and batch order; only the summation order inside a batch differs.
    tol = 1e-8 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(gpu.loss_history_, cpu.loss_history_, rtol=tol)


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("n", "d", "batch_size", "lr"),
    [
        (2000, 600, 100, 1e-3),  # three blocks of 256 columns
        (3000, 300, 1500, 1e-3),  # two blocks; batches of two chunks (1024 + 476 rows)
        (600, 9000, 100, 5e-5),  # 18 blocks of 512 columns (at most 32 blocks)
    ],
)
def test_sgd_split_over_blocks_matches_cpu_recipe(dtype, order, weighted, n, d, batch_size, lr):
    # d > 256: the epoch runs on several blocks of one cooperative launch
    # (kernels.cu, sgd_epoch_split_kernel), each with its own columns.
    X, y, w = _data(n=n, d=d, dtype=dtype, order=order)
    sw = w if weighted else None
    params = dict(solver="sgd", max_iter=3, random_state=3, learning_rate=lr, batch_size=batch_size)
    cpu = LinearRegression(**params).fit(X / 5, y / 5, sample_weight=sw)
    gpu = LinearRegression(device="cuda", **params).fit(X / 5, y / 5, sample_weight=sw)
    tol = 1e-8 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(gpu.intercept_, cpu.intercept_, rtol=tol, atol=tol)
    np.testing.assert_allclose(gpu.loss_history_, cpu.loss_history_, rtol=tol)
    # Deterministic: the same fit again gives the same bits, whatever the block schedule.
    again = LinearRegression(device="cuda", **params).fit(X / 5, y / 5, sample_weight=sw)
    assert np.array_equal(again.coef_, gpu.coef_) and again.intercept_ == gpu.intercept_


def _device_copies(a):
    """The same array on the GPU through every producer available here."""
    out = [("fastcost", _CUDA._DeviceArray(a))]
    if importlib.util.find_spec("cupy") is not None:
        import cupy

        out.append(
            ("cupy", cupy.asarray(a, order="F" if a.flags.f_contiguous and a.ndim == 2 else "C"))
        )
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            out.append(("torch", torch.as_tensor(np.ascontiguousarray(a), device="cuda")))
    return out


@needs_gpu
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_device_arrays_are_read_in_place(order, solver):
    X, y, w = _data(order=order)
    ref = LinearRegression(solver=solver, device="cuda").fit(X, y, sample_weight=w)
    for (name, Xd), (_, yd), (_, wd) in zip(
        _device_copies(X), _device_copies(y), _device_copies(w), strict=True
    ):
        model = LinearRegression(solver=solver, device="cuda").fit(Xd, yd, sample_weight=wd)
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-10, err_msg=name)
        assert model.cuda_timings_["transfer_bytes"] == 0, name  # nothing copied
        assert model.n_features_in_ == X.shape[1]
        if name in ("cupy", "torch"):
            pred = model.predict(Xd)
            np.testing.assert_allclose(
                np.asarray(pred.get() if name == "cupy" else pred.cpu()), ref.predict(X), rtol=1e-9
            )


@needs_gpu
def test_out_of_memory_is_a_memory_error_and_the_process_goes_on():
    total = max(d["total_memory"] for d in _CUDA.runtime_info()["devices"])
    with pytest.raises(MemoryError, match=r"cannot allocate .* GiB"):
        _CUDA._try_allocate(2 * total)  # the DeviceBuffer every fit allocates through
    # Nothing leaked and no error is left pending: the device still works.
    X, y, _ = _data(n=500, d=4)
    np.testing.assert_allclose(
        LinearRegression(device="cuda").fit(X, y).coef_,
        LinearRegression().fit(X, y).coef_,
        rtol=1e-9,
    )


# ---- the shared lbfgs / gd loops with the device pass's semantics, on the CPU ---------


@pytest.mark.parametrize(
    ("solver", "fit_intercept"), [("lbfgs", True), ("lbfgs", False), ("gd", True)]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_device_pass_semantics_meet_the_gpu_tests_tolerance(solver, fit_intercept, dtype, weighted):
    # test_solvers_match_cpu's problem and tolerance, with the loop running on a
    # re-statement of DevicePass (exact centering, difference launches) instead
    # of the GPU: the host-side logic of the device path, checked without one.
    from fastcost._pipeline import solver_options

    X, y, w = _data(dtype=dtype)
    sw = w if weighted else None
    params = dict(solver=solver, fit_intercept=fit_intercept, alpha=0.01, tol=1e-10, max_iter=5000)
    cpu = LinearRegression(**params).fit(X, y, sample_weight=sw)
    options = solver_options(LinearRegression(**params), solver, X.shape[1], None, None)
    res = fastcost._core.minimize(
        cuda_stand_in.DevicePassEmulation(X, y, sw), solver, fastcost._core.FitOptions(**options)
    )
    tol = max(_tol(dtype), 1e-6)
    assert res.converged
    np.testing.assert_allclose(res.coef, cpu.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(res.intercept, cpu.intercept_, rtol=tol, atol=tol)


# ---- the benchmark's plumbing, with the stand-in -------------------------------------


def test_bench_gpu_runs_end_to_end_with_the_stand_in(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpu.py"
    out = tmp_path / "bench_gpu.json"
    args = [sys.executable, str(bench), "--stand-in", "--n", "3000", "--d", "6", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    r = json.loads(out.read_text())
    assert r["stand_in"] and r["errors"] == {} and len(r["correctness_vs_cpu"]) == 8
    for dtype in ("float64", "float32"):
        s = r[dtype]
        assert 0 < s["loss_grad_pass"]["fraction_of_copy"] and s["gram_pass"]["columns"] == 8
        assert s["fastcost_newton_numpy_input"]["transfer_bytes"] > 0
        assert {"lbfgs_gpu_vs_cpu", "sgd_gpu_vs_cpu", "fastcost_lbfgs_device_input"} <= set(s)
