"""The CUDA backend behind ``LinearRegression(device="cuda")``.

``fastcost._cuda`` is built only with ``pip install . -Ccmake.define.FASTCOST_CUDA=ON``
and is imported here lazily, so a CPU-only build never needs a CUDA library.

Inputs are numpy arrays, copied to the GPU once per fit (the copy is timed apart
from the compute: ``cuda_timings_``), or arrays already on the GPU — CuPy arrays,
PyTorch CUDA tensors, anything with ``__cuda_array_interface__`` — read in place,
without a copy. The solvers are newton (Gram on the GPU, the small solve on the
host), lbfgs, gd and sgd; see ``cpp/cuda/``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

from ._validation import (
    FLOAT_DTYPES,
    check_weights,
    find_nonfinite,
    is_device_array,
    kernel_layout,
    raise_for_nonfinite,
)
from .exceptions import DivergenceError, NonFiniteError

BUILD_HINT = "pip install . -Ccmake.define.FASTCOST_CUDA=ON"
GPU_SOLVERS = ("newton", "lbfgs", "gd", "sgd")
_TYPESTR: dict[str, np.dtype] = {"<f8": np.dtype(np.float64), "<f4": np.dtype(np.float32)}


def load_module() -> Any:
    """``fastcost._cuda``, or an ImportError that says how to build it."""
    try:
        from . import _cuda  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ImportError(
            "device='cuda' needs fastcost's CUDA backend, which this installation was built "
            f"without: rebuild with `{BUILD_HINT}` (needs the CUDA toolkit's nvcc)"
        ) from exc
    return _cuda


def cuda_status() -> dict[str, Any]:
    """Whether the CUDA module is built, the CUDA runtime/driver versions and the visible devices."""
    try:
        from . import _cuda  # type: ignore[attr-defined]
    except ImportError as exc:
        return {
            "built": False,
            "runtime_version": None,
            "driver_version": None,
            "devices": [],
            "error": str(exc),
        }
    info = dict(_cuda.runtime_info())
    build = dict(_cuda.build_info())
    return {
        "built": True,
        "runtime_version": _version(info["runtime_version"]),
        "driver_version": _version(info["driver_version"]),
        "devices": [dict(d) for d in info["devices"]],
        "error": info["error"],
        "architectures": build["cuda_architectures"],
        "compiler": build["cuda_compiler"],
    }


def _version(v: int) -> str | None:
    return f"{v // 1000}.{(v % 1000) // 10}" if v else None


def _describe(obj: Any, name: str) -> dict[str, Any]:
    """The device-memory description the C++ side reads (no copy, no sync here)."""
    try:
        cai = obj.__cuda_array_interface__
    except RuntimeError as exc:  # e.g. a PyTorch tensor that requires grad
        raise TypeError(
            f"{name}: cannot read __cuda_array_interface__ ({exc}); detach it first"
        ) from exc
    if cai.get("mask") is not None:
        raise TypeError(f"{name}: masked device arrays are not supported")
    return {
        "ptr": int(cai["data"][0]),
        "shape": tuple(int(s) for s in cai["shape"]),
        "strides": None if cai.get("strides") is None else tuple(int(s) for s in cai["strides"]),
        "typestr": str(cai["typestr"]),
        "stream": cai.get("stream"),
    }


def _device_vector(obj: Any, n: int, dtype: np.dtype, name: str) -> dict[str, Any]:
    desc = _describe(obj, name)
    if _TYPESTR.get(desc["typestr"]) != dtype:
        raise TypeError(
            f"{name} on the GPU must have X's dtype {dtype}, got typestr {desc['typestr']!r}"
        )
    shape = desc["shape"]
    if shape == (n, 1):  # a column vector: same memory as 1-D
        desc["shape"] = (n,)
        desc["strides"] = None if desc["strides"] is None else desc["strides"][:1]
    elif shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {shape}")
    return desc


def _unsupported(est: Any) -> None:
    if est.solver not in GPU_SOLVERS + ("auto",):
        raise ValueError(
            f"solver={est.solver!r} is not available with device='cuda' (use one of {GPU_SOLVERS})"
        )
    for name, active in (
        ("standardize", est.standardize),
        ("prune", est.prune),
        ("noise_augmentation", est.noise_augmentation > 0),
        ("compute_statistics", est.compute_statistics),
    ):
        if active:
            raise ValueError(f"{name} is not available with device='cuda' yet; use device='cpu'")
    if est.positive and est.solver not in ("lbfgs", "gd"):
        raise ValueError(
            "positive=True with device='cuda' runs in solver='lbfgs' or 'gd' (the device "
            "has no Lawson-Hanson solve); use one of them or device='cpu'"
        )


class CudaBackend:
    """The fit pipeline's backend (``_pipeline.Backend``) for ``device="cuda"``:
    numpy input copied to the GPU once per fit, device arrays read in place."""

    solvers: tuple[str, ...] = GPU_SOLVERS

    def __init__(self, est: Any, X: Any, y: Any, sample_weight: Any) -> None:
        _unsupported(est)
        self.module = load_module()
        self.on_device = is_device_array(X)
        if self.on_device:
            self._describe_device_input(est, X, y, sample_weight)
        else:
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if is_device_array(value):
                    raise TypeError(
                        f"X is in host memory but {name} is on the GPU: pass X on the GPU too "
                        f"(e.g. cupy.asarray(X)), or {name} in host memory (e.g. cupy.asnumpy)"
                    )
            X, y = validate_data(
                est, X, y, reset=True, dtype=list(FLOAT_DTYPES), order=None,
                ensure_all_finite=False, y_numeric=True,
            )  # fmt: skip
            self.X: Any = kernel_layout(X)
            self.dtype = self.X.dtype
            self.n_samples, self.n_features = self.X.shape
            self.y: Any = np.ascontiguousarray(y, dtype=self.dtype)
            self.sw: Any = check_weights(sample_weight, self.n_samples, self.dtype)
        self.timings: dict[str, Any] = {}

    def _describe_device_input(self, est: Any, X: Any, y: Any, sample_weight: Any) -> None:
        self.X = _describe(X, "X")
        if len(self.X["shape"]) != 2:
            raise ValueError(f"X must be 2-D, got shape {self.X['shape']}")
        dtype = _TYPESTR.get(self.X["typestr"])
        if dtype is None:
            raise TypeError(
                f"X on the GPU must be float32 or float64, got typestr {self.X['typestr']!r}"
            )
        self.dtype = dtype
        n, d = self.n_samples, self.n_features = self.X["shape"]
        if n < 1 or d < 1:
            raise ValueError(f"X must have at least one sample and one feature, got shape {(n, d)}")
        est.n_features_in_ = d
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
        if is_device_array(y):
            self.y = _device_vector(y, n, dtype, "y")
        else:
            self.y = np.ascontiguousarray(np.asarray(y, dtype=dtype).reshape(-1))
            if self.y.shape != (n,):
                raise ValueError(f"y must have shape ({n},), got {np.shape(y)}")
        if sample_weight is None:
            self.sw = None
        elif is_device_array(sample_weight):
            self.sw = _device_vector(sample_weight, n, dtype, "sample_weight")
        else:
            self.sw = check_weights(sample_weight, n, dtype)

    def auto_solver(self) -> tuple[str, str]:
        from ._pipeline import choose_solver

        return choose_solver(self.n_samples, self.n_features), ""

    witness: np.ndarray | None = None

    def solve(self, solver: str, options: dict[str, Any], want_factor: bool) -> Any:
        from . import _core
        from ._result import SolveResult

        try:
            result, timings = self.module.fit(
                self.X, self.y, self.sw, solver, _core.FitOptions(**options)
            )
        except NonFiniteError as exc:
            if not self.on_device:
                raise_for_nonfinite(self.X, exc)
            raise NonFiniteError(
                "X, y or sample_weight on the GPU contain NaN or infinity, or the sums overflow "
                f"({exc}); clean or rescale the data"
            ) from exc
        except DivergenceError as exc:  # sgd's loss stopped being finite: NaN in X, or the step
            if not self.on_device and find_nonfinite(self.X) is not None:
                raise_for_nonfinite(self.X, exc)
            raise
        self.timings = dict(timings)
        solved = SolveResult.from_core(result)
        if not self.on_device and not np.isfinite(solved.coef).all():
            if find_nonfinite(self.X) is not None:
                raise_for_nonfinite(self.X)
        return solved

    def statistics_factor(self, options: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError("compute_statistics is not available with device='cuda'")

    def statistics(self, solver: str, options: dict[str, Any]) -> tuple[Any, Any]:
        raise NotImplementedError("standardize and prune are not available with device='cuda'")

    def where(self) -> str:
        return f" on device='cuda' ({self.timings.get('device', 'GPU')})"

    def attributes(self) -> dict[str, Any]:
        return {"cuda_timings_": self.timings}

    def report(self, clock: Any, n_passes: int, flops: float | None) -> Any:
        itemsize = np.dtype(self.dtype).itemsize
        return clock.report(
            threads=1,
            n_passes=n_passes,
            bytes_per_pass=self.n_samples * (self.n_features + 1) * itemsize,
            flops=flops,
        )


def predict(est: Any, X: Any) -> Any:
    """``X @ coef_ + intercept_`` computed where X lives (CuPy or PyTorch on the GPU)."""
    desc = _describe(X, "X")
    if len(desc["shape"]) != 2 or desc["shape"][1] != est.n_features_in_:
        raise ValueError(f"X has shape {desc['shape']}, expected (n, {est.n_features_in_})")
    lib = type(X).__module__.split(".")[0]
    if lib == "cupy":
        import cupy

        return X @ cupy.asarray(est.coef_, dtype=X.dtype) + X.dtype.type(est.intercept_)
    if lib == "torch":
        import torch

        coef = torch.as_tensor(np.asarray(est.coef_), device=X.device, dtype=X.dtype)
        return X @ coef + float(est.intercept_)
    raise TypeError(f"predict on GPU arrays supports CuPy and PyTorch, got {type(X).__name__}")
