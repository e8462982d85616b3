"""A stand-in for ``fastcost._cuda`` on machines without a GPU.

It offers the compiled module's binding interface (``fit``, ``gram_stats``,
``loss_grad``, ``_time_passes``, ``runtime_info``, ``build_info``,
``_DeviceArray``, ``_try_allocate``) with host memory behind it and the CPU
core doing the arithmetic, so that CI exercises everything around the kernels:
the ``device="cuda"`` Python path, its options and error paths, and the GPU
benchmark's plumbing (``benchmarks/bench_gpu.py --stand-in``, run by
``benchmarks/gpu_check.sh --dry-run``).

It accepts what the binding accepts and refuses what it refuses: a numpy array
("copied to the device", counted in ``transfer_bytes``) or a dict
``{ptr, shape, strides, typestr, stream}`` describing "device" memory (here the
host memory of a :class:`StandInDeviceArray`), read in place. Anything else -
a CuPy array or a PyTorch tensor passed as is - is a TypeError, as the
binding's conversion to a numpy array makes it. Device-resident sample weights
get the binding's checks (finite, non-negative, positive sum).

Use :func:`install` to make ``from fastcost import _cuda`` return it.
"""

from __future__ import annotations

import ctypes
import sys
import time
from typing import Any

import fastcost
import numpy as np
from fastcost import _core

DEVICE_NAME = "stand-in (host memory)"
TOTAL_MEMORY = 16 << 30  # what runtime_info reports; _try_allocate refuses more
_DTYPES = {"<f8": np.dtype(np.float64), "<f4": np.dtype(np.float32)}


class Cancelled(KeyboardInterrupt):
    pass


class CudaOutOfMemoryError(MemoryError):
    pass


class NoCudaDeviceError(RuntimeError):
    pass


class StandInDeviceArray:
    """``_cuda._DeviceArray``'s stand-in: a copy of a numpy array (its strides
    kept) exposing ``__cuda_array_interface__``."""

    def __init__(self, a: Any) -> None:
        a = np.asarray(a)
        if any(s < 0 for s in a.strides):
            raise ValueError("negative strides are not supported")
        self._a = a.copy(order="K")
        if self._a.strides != a.strides and a.size > 0:  # a strided view: keep its layout
            base = np.zeros(_span(a.shape, a.strides, a.itemsize), dtype=np.uint8)
            view = np.ndarray(a.shape, a.dtype, buffer=base, strides=a.strides)
            view[...] = a
            self._base, self._a = base, view

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {
            "shape": self._a.shape,
            "strides": self._a.strides,
            "typestr": self._a.dtype.str,
            "data": (self._a.ctypes.data, False),
            "version": 3,
            "stream": None,
        }


_DeviceArray = StandInDeviceArray


def _span(shape: tuple[int, ...], strides: tuple[int, ...], item: int) -> int:
    if any(s == 0 for s in shape):
        return 0
    return item + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))


def _dtype_of(o: Any, name: str) -> np.dtype:
    if isinstance(o, dict):
        if o["typestr"] not in _DTYPES:
            raise TypeError(
                f"{name} must be float32 or float64 on the device, got typestr {o['typestr']}"
            )
        return _DTYPES[o["typestr"]]
    return _host(o, name).dtype


def _host(o: Any, name: str) -> np.ndarray:
    """A numpy argument as the binding takes it (py::array): a CuPy array or a
    PyTorch tensor is not one."""
    if not isinstance(o, np.ndarray):
        raise TypeError(
            f"{name}: expected a numpy array or a dict describing device memory, "
            f"got {type(o).__name__}"
        )
    return o


def _view(desc: dict[str, Any], name: str) -> np.ndarray:
    """The host memory a device description points to, as a numpy view."""
    dtype = _dtype_of(desc, name)
    shape = tuple(int(s) for s in desc["shape"])
    strides = desc.get("strides")
    if strides is None:
        strides = tuple(int(s) for s in np.empty(shape, dtype=dtype).strides) if shape else ()
    strides = tuple(int(s) for s in strides)
    if any(s % dtype.itemsize for s in strides):
        raise ValueError("device array strides are not whole elements")
    span = _span(shape, strides, dtype.itemsize)
    buf = (ctypes.c_char * max(span, 1)).from_address(int(desc["ptr"]))
    return np.ndarray(shape, dtype, buffer=buf, strides=strides)


def _matrix(o: Any, name: str) -> tuple[np.ndarray, int]:
    """X on the host, and the bytes a copy to the device would move."""
    if isinstance(o, dict):
        X = _view(o, name)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D")
        if not (X.strides[1] == X.itemsize or X.strides[0] == X.itemsize or X.size == 0):
            raise ValueError(f"{name} must have unit stride along rows or columns (copy it first)")
        return X, 0
    X = _host(o, name)
    return X, X.nbytes


def _vector(o: Any, n: int, dtype: np.dtype, name: str) -> tuple[np.ndarray | None, int]:
    if o is None:
        return None, 0
    if isinstance(o, dict):
        v = _view(o, name)
        if v.ndim != 1 or v.shape[0] != n:
            raise ValueError(f"{name} must be 1-D with {n} entries")
        if n > 1 and v.strides[0] != v.itemsize:
            raise ValueError(f"{name} must be contiguous")
        if v.dtype != dtype:
            raise TypeError(f"{name} must have the same float dtype as X")
        if name == "sample_weight":
            _check_device_weights(v)
        return v, 0
    v = _host(o, name)
    if v.ndim != 1:
        raise ValueError(f"{name} must be 1-D")
    if v.shape[0] != n:
        raise ValueError(f"{name} has {v.shape[0]} entries, expected {n}")
    if v.dtype != dtype:
        raise TypeError(f"{name} must have the same float dtype as X")
    return v, v.nbytes


def _check_device_weights(sw: np.ndarray) -> None:
    """The binding's check_device_weights (bind_cuda.cpp)."""
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (sw < 0).any():
        raise ValueError("sample_weight contains negative values")
    if not float(np.sum(sw, dtype=np.float64)) > 0.0:
        raise ValueError("sample_weight sums to zero: nothing to fit")


def _problem(X: Any, y: Any, sw: Any) -> tuple[np.ndarray, Any, Any, int]:
    Xh, nbytes = _matrix(X, "X")
    yh, ny = _vector(y, Xh.shape[0], Xh.dtype, "y")
    swh, nw = _vector(sw, Xh.shape[0], Xh.dtype, "sample_weight")
    return Xh, yh, swh, nbytes + ny + nw


def _timings(nbytes: int, compute_s: float) -> dict[str, Any]:
    return {
        "transfer_s": 0.0,
        "transfer_bytes": nbytes,
        "compute_s": compute_s,
        "device_index": 0,
        "device": DEVICE_NAME,
    }


def fit(X: Any, y: Any, sample_weight: Any, solver: str, options: Any) -> tuple[Any, dict]:
    if y is None:
        raise ValueError("y is required")
    if solver not in ("newton", "lbfgs", "gd", "sgd"):
        raise ValueError(f"unknown solver '{solver}' for the CUDA backend (newton, lbfgs, gd, sgd)")
    if not isinstance(options, _core.FitOptions):
        raise TypeError("options must be a fastcost._core.FitOptions")
    _dtype_of(X, "X")
    Xh, yh, swh, nbytes = _problem(X, y, sample_weight)
    if Xh.shape[0] == 0:
        raise ValueError("X has no rows")
    if Xh.shape[1] == 0:
        raise ValueError("X has no columns")
    if options.standardize:
        raise ValueError("standardize is not available on the CUDA device")
    if solver in ("newton", "sgd") and options.noise_var != 0.0:
        raise ValueError(
            f"noise_var and frozen are not available with solver='{solver}' on the CUDA device"
        )
    t0 = time.perf_counter()
    result = _core.fit(Xh, yh, swh, solver, options)
    return result, _timings(nbytes, time.perf_counter() - t0)


def gram_stats(X: Any, y: Any = None, sample_weight: Any = None) -> dict[str, Any]:
    _dtype_of(X, "X")
    Xh, yh, swh, nbytes = _problem(X, y, sample_weight)
    if Xh.size == 0:
        raise ValueError("X must have at least one row and one column")
    t0 = time.perf_counter()
    out = dict(_core.gram_stats(Xh, yh, swh, None, 0, 0))
    out["timings"] = _timings(nbytes, time.perf_counter() - t0)
    return out


def loss_grad(X: Any, y: Any, w: Any, b: float = 0.0, sample_weight: Any = None) -> tuple:
    _dtype_of(X, "X")
    Xh, yh, swh, _ = _problem(X, y, sample_weight)
    if Xh.size == 0:
        raise ValueError("X must have at least one row and one column")
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (Xh.shape[1],):
        raise ValueError(f"w must be a 1-D array of length {Xh.shape[1]}")
    return tuple(_core.loss_grad(Xh, yh, w, float(b), swh, 0, 0))


def _time_passes(X: Any, y: Any, sample_weight: Any, kind: str, repeats: int) -> dict[str, Any]:
    if kind not in ("loss_grad", "gram"):
        raise ValueError("kind must be 'loss_grad' or 'gram'")
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    _dtype_of(X, "X")
    Xh, yh, swh, nbytes = _problem(X, y, sample_weight)
    n, d = Xh.shape
    if n == 0 or d == 0:
        raise ValueError("X must have at least one row and one column")
    w = np.full(d, 1.0 / d)

    def launch() -> None:
        if kind == "loss_grad":
            _core.loss_grad(Xh, yh, w, 0.0, swh, 0, 0)
        else:
            _core.gram_stats(Xh, yh, swh, None, 0, 0)

    launch()
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        launch()
        seconds.append(time.perf_counter() - t0)
    item = Xh.itemsize
    return {
        "kind": kind,
        "seconds": seconds,
        "bytes_read": n * d * item
        + (n * item if yh is not None else 0)
        + (n * item if swh is not None else 0),
        "timings": _timings(nbytes, 0.0),
    }


def runtime_info() -> dict[str, Any]:
    device = {
        "index": 0,
        "name": DEVICE_NAME,
        "compute_capability": "9.0",
        "total_memory": TOTAL_MEMORY,
        "multiprocessors": 1,
    }
    return {"runtime_version": 13000, "driver_version": 13000, "devices": [device], "error": None}


def build_info() -> dict[str, Any]:
    return {"cuda_architectures": "90", "cuda_compiler": "stand-in", "cudart_built": 13000}


def _try_allocate(nbytes: int) -> None:
    if nbytes > TOTAL_MEMORY:
        gib = 1024.0**3
        raise CudaOutOfMemoryError(
            f"CUDA out of memory: cannot allocate {nbytes / gib:.2f} GiB for a test allocation "
            f"({TOTAL_MEMORY / gib:.2f} GiB free of {TOTAL_MEMORY / gib:.2f} GiB on the device)"
        )


def install() -> Any:
    """Make ``from fastcost import _cuda`` (and ``device="cuda"``) use this module;
    returns it. For a process that has no compiled ``fastcost._cuda``."""
    module = sys.modules[__name__]
    sys.modules["fastcost._cuda"] = module
    fastcost._cuda = module  # type: ignore[attr-defined]
    return module


class DevicePassEmulation:
    """``DevicePass`` (cpp/cuda/solvers_cuda.hpp) re-stated over host memory as a
    data pass for ``_core.minimize`` (PyPass), so that the shared lbfgs and gd
    loops run on the CPU with the device pass's semantics: centering on the exact
    weighted column means (one launch with u = 1), one launch per probe with the
    residuals formed in X's dtype as the kernels form them, and each cross term
    sum s u_k u_l from linearity or, when both probes have y, from one more launch
    on u_k - u_l. Sums are float64 here (the kernels sum a tile in X's dtype
    first), so float32 agreement is slightly better than the device's. Keep it in
    step with DevicePass."""

    takes_row_sample = True

    def __init__(self, X: np.ndarray, y: np.ndarray, sw: np.ndarray | None) -> None:
        self.X, self.y = X, y
        self.n_rows, self.n_features = X.shape
        self.dtype = str(X.dtype)
        self.s = np.ones(X.shape[0]) if sw is None else sw.astype(np.float64)
        self.X64 = X.astype(np.float64)

    def _launch(self, w: Any, b: float, with_y: bool) -> dict[str, Any]:
        dt = self.X.dtype
        w_t = np.zeros(self.n_features, dtype=dt) if w is None else np.asarray(w).astype(dt)
        r = self.X @ w_t + dt.type(b)
        if with_y:
            r = r - self.y
        r = r.astype(np.float64)
        sr = self.s * r
        return {"ux": sr @ self.X64, "w": self.s.sum(), "uu": sr @ r, "u": sr.sum()}

    def start(self, moments: bool, center: Any, blocks: list) -> dict[str, Any]:
        if moments:
            raise ValueError("standardize is not available on the CUDA device")
        out: dict[str, Any] = {"sum_w": self.s.sum(), "sum_wy": self.s @ self.y.astype(np.float64)}
        if center is not None:  # DevicePass ignores the host's row sample: exact means
            s = self._launch(None, 1.0, False)
            out["center"] = s["ux"] / s["w"] if s["w"] > 0 else np.zeros(self.n_features)
        if blocks:  # the sample's block Grams about row 0 and y[0]
            shift = np.concatenate([self.X64[0], [float(self.y[0])]])
            grams = []
            for i0, i1 in blocks:
                Z = np.column_stack(
                    [self.X64[i0:i1] - shift[:-1], self.y[i0:i1] - shift[-1], np.ones(i1 - i0)]
                )
                grams.append((Z * self.s[i0:i1, None]).T @ Z)
            out["sample"] = (grams, shift)
        return out

    def probes(self, spec: list) -> dict[str, Any]:
        K, d = len(spec), self.n_features
        s = [self._launch(w, b, with_y) for w, b, with_y in spec]
        uu = np.diag([si["uu"] for si in s])

        def vec(w: Any) -> np.ndarray:
            return np.zeros(d) if w is None else np.asarray(w, dtype=np.float64)

        for k in range(K):
            for m in range(k + 1, K):
                if not spec[m][2]:  # u_m = X w_m + b_m
                    v = spec[m][1] * s[k]["u"] + s[k]["ux"] @ vec(spec[m][0])
                elif not spec[k][2]:
                    v = spec[k][1] * s[m]["u"] + s[m]["ux"] @ vec(spec[k][0])
                else:  # both have y: one launch on u_k - u_m (y cancels)
                    diff = self._launch(
                        vec(spec[k][0]) - vec(spec[m][0]), spec[k][1] - spec[m][1], False
                    )
                    v = 0.5 * (s[k]["uu"] + s[m]["uu"] - diff["uu"])
                uu[k, m] = uu[m, k] = v
        return {
            "sum_w": s[0]["w"],
            "sum_ux": np.array([si["ux"] for si in s]),
            "sum_u": np.array([si["u"] for si in s]),
            "sum_uu": uu,
        }
