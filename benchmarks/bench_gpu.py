"""GPU benchmark of the CUDA backend (issues 10 and 20): fastcost against cuBLAS, CuPy,
PyTorch and its own CPU backend, in one run.

Needs an NVIDIA GPU and fastcost built with ``-Ccmake.define.FASTCOST_CUDA=ON``;
CuPy and PyTorch are optional baselines (what they measure is listed under
``unmeasured`` when they are missing). For float64 and float32 it measures:

* correctness of every GPU solver against the CPU backend (max relative coef
  difference, smaller data);
* the fused loss+gradient pass and the Gram pass alone: device time from CUDA
  events on one stream (``_cuda._time_passes``: no allocation, copy or Python
  call inside), after a warm-up;
* device-to-device copy bandwidth (CuPy, else PyTorch), event-timed in the same
  run: the loss+gradient pass's bytes read per second as a fraction of it
  (target >= 80 %);
* cuBLAS SYRK and GEMM on the same X (through CuPy), event-timed. FLOPs are
  counted alike for every Gram: n m (m + 1) for the symmetric product of an
  n x m matrix (SYRK's count) - m = d + 2 for fastcost, whose Gram also holds
  y and the intercept column, m = d for cuBLAS on X alone; the time ratio is
  given too;
* whole fits on device-resident X (wall clock, device synchronized): fastcost
  newton and lbfgs against CuPy ``X.T @ X`` + solve and ``torch.linalg.lstsq``;
  fastcost newton on numpy X (transfer and compute apart);
* fastcost lbfgs and sgd on the GPU against the same fits on the CPU backend.

The JSON is rewritten after every section, so a run stopped at a time limit
keeps what it measured. ``--stand-in`` runs everything on a CPU-only machine
with the stand-in device module (tests/cuda_stand_in.py) and small data: a
check of this script and its JSON, not a measurement. Never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def gram_flops(n: int, m: int) -> float:
    """FLOPs of the symmetric product Z^T Z of an n x m matrix (SYRK's count)."""
    return float(n) * m * (m + 1)


class Device:
    """Synchronization, event timing and device copies through whichever of
    CuPy and PyTorch is present (none with the stand-in: host timing)."""

    def __init__(self, cupy: Any, torch: Any, cuda: Any) -> None:
        self.cupy, self.torch, self.cuda = cupy, torch, cuda
        self.lib = "cupy" if cupy is not None else "torch" if torch is not None else None

    def sync(self) -> None:
        if self.lib == "cupy":
            self.cupy.cuda.runtime.deviceSynchronize()
        elif self.lib == "torch":
            self.torch.cuda.synchronize()

    def event_seconds(self, fn: Any, repeats: int) -> list[float]:
        """Device time of each of `repeats` calls of fn (after a warm-up)."""
        fn()
        self.sync()
        out = []
        for _ in range(repeats):
            if self.lib == "cupy":
                start, end = self.cupy.cuda.Event(), self.cupy.cuda.Event()
                start.record()
                fn()
                end.record()
                end.synchronize()
                out.append(self.cupy.cuda.get_elapsed_time(start, end) * 1e-3)
            elif self.lib == "torch":
                start = self.torch.cuda.Event(enable_timing=True)
                end = self.torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                out.append(start.elapsed_time(end) * 1e-3)
            else:  # stand-in: host memory, host clock
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
        return out

    def wall_seconds(self, fn: Any, repeats: int) -> list[float]:
        """Wall time of each call, the device synchronized after it (after a warm-up)."""
        fn()
        self.sync()
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            self.sync()
            out.append(time.perf_counter() - t0)
        return out

    def put(self, a: np.ndarray) -> Any:
        """a in device memory, in a's layout."""
        order = "F" if a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous else "C"
        if self.lib == "cupy":
            return self.cupy.asarray(a, order=order)
        if self.lib == "torch":
            return self.torch.as_tensor(np.ascontiguousarray(a), device="cuda")
        return self.cuda._DeviceArray(a)


def summary(seconds: list[float]) -> dict[str, Any]:
    return {"best_s": min(seconds), "median_s": float(np.median(seconds)), "all_s": seconds}


def optional(name: str, stand_in: bool, unmeasured: list[str]) -> Any:
    if stand_in:
        return None  # the stand-in's "device" memory is host memory: no GPU library reads it
    try:
        return __import__(name)
    except ImportError:
        unmeasured.append(f"{name} not installed: its baselines")
        print(f"  ({name} not installed: its baselines are skipped)")
        return None


def correctness(args: Any, out: dict) -> None:
    from fastcost import LinearRegression

    rng = np.random.default_rng(0)
    n, d = args.correctness_n, min(args.d, 50)
    X = rng.standard_normal((n, d)) + rng.uniform(-3, 3, d)
    y = X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)
    w = rng.uniform(0.5, 1.5, n)
    # sgd: the largest curvature of this data is about 2 (1 + 9 d / 3) ~ 300, so a
    # stable step is below ~0.006; 0.002 keeps the CPU reference from diverging.
    per_solver = {"sgd": {"learning_rate": 0.002, "max_iter": 3}}
    for dtype in (np.float64, np.float32):
        X_, y_, w_ = X.astype(dtype), y.astype(dtype), w.astype(dtype)
        for solver in ("newton", "lbfgs", "gd", "sgd"):
            kw = dict(solver=solver, alpha=1e-3, random_state=0, **per_solver.get(solver, {}))
            cpu = LinearRegression(**kw).fit(X_, y_, sample_weight=w_)
            gpu = LinearRegression(device="cuda", **kw).fit(X_, y_, sample_weight=w_)
            err = float(np.max(np.abs(gpu.coef_ - cpu.coef_)) / np.max(np.abs(cpu.coef_)))
            key = f"{solver}-{np.dtype(dtype).name}"
            out[key] = {
                "max_rel_coef_diff": err,
                "n_iter_cpu": int(cpu.n_iter_),
                "n_iter_gpu": int(gpu.n_iter_),
            }
            print(f"  correctness {key:16s} max rel coef diff vs CPU {err:.2e}")


def passes(args: Any, dev: Device, X: np.ndarray, y: np.ndarray, out: dict) -> None:
    """The two passes alone (CUDA events), the copy bandwidth, cuBLAS SYRK/GEMM."""
    from fastcost import _gpu

    cuda = dev.cuda
    n, d = X.shape
    Xd, yd = dev.put(X), dev.put(y)
    xdesc, ydesc = _gpu._describe(Xd, "X"), _gpu._describe(yd, "y")
    lg = cuda._time_passes(xdesc, ydesc, None, "loss_grad", args.repeats)
    gram = cuda._time_passes(xdesc, ydesc, None, "gram", args.repeats)
    lg_s, gram_s = min(lg["seconds"]), min(gram["seconds"])
    out["loss_grad_pass"] = {**summary(lg["seconds"]), "bytes_read": lg["bytes_read"],
                             "GBps": lg["bytes_read"] / lg_s / 1e9}  # fmt: skip
    out["gram_pass"] = {**summary(gram["seconds"]), "columns": d + 2,
                        "GFLOPs": gram_flops(n, d + 2) / gram_s / 1e9}  # fmt: skip

    # Device-to-device copy of as many bytes as the pass reads (read + write counted).
    if dev.lib == "cupy":
        src = dev.cupy.empty(lg["bytes_read"] // 8, dtype=dev.cupy.float64)
        dst = dev.cupy.empty_like(src)
        copy_s = dev.event_seconds(lambda: dst.__setitem__(Ellipsis, src), args.repeats)
    elif dev.lib == "torch":
        src = dev.torch.empty(lg["bytes_read"] // 8, dtype=dev.torch.float64, device="cuda")
        dst = dev.torch.empty_like(src)
        copy_s = dev.event_seconds(lambda: dst.copy_(src), args.repeats)
    else:
        src = np.empty(lg["bytes_read"] // 8)
        dst = np.empty_like(src)
        copy_s = dev.event_seconds(lambda: np.copyto(dst, src), args.repeats)
    copy_bw = 2 * src.nbytes / min(copy_s)
    out["d2d_copy"] = {**summary(copy_s), "bytes": int(src.nbytes), "GBps": copy_bw / 1e9}
    out["loss_grad_pass"]["fraction_of_copy"] = out["loss_grad_pass"]["GBps"] * 1e9 / copy_bw

    if dev.lib == "cupy":
        cupy = dev.cupy
        Xc = Xd if isinstance(Xd, cupy.ndarray) else cupy.asarray(X)
        # out in X's order: CuPy's syrk copies a C-ordered X to Fortran order when
        # out is Fortran-ordered, which would put a copy of X inside the timing.
        order = "C" if Xc.flags.c_contiguous else "F"
        g = cupy.empty((d, d), dtype=Xc.dtype, order=order)
        syrk = dev.event_seconds(lambda: cupy.cublas.syrk("T", Xc, out=g), args.repeats)
        gemm = dev.event_seconds(lambda: Xc.T @ Xc, args.repeats)
        for name, secs in (("cublas_syrk", syrk), ("cublas_gemm", gemm)):
            out[name] = {**summary(secs), "columns": d,
                         "GFLOPs": gram_flops(n, d) / min(secs) / 1e9}  # fmt: skip
        out["gram_pass"]["time_vs_cublas_syrk"] = gram_s / min(syrk)


def fits(args: Any, dev: Device, X: np.ndarray, y: np.ndarray, out: dict) -> None:
    """Whole fits, wall clock with the device synchronized."""
    from fastcost import LinearRegression

    Xd, yd = dev.put(X), dev.put(y)
    for solver in ("newton", "lbfgs"):
        est = LinearRegression(solver=solver, device="cuda", tol=1e-6)
        secs = dev.wall_seconds(lambda est=est: est.fit(Xd, yd), args.repeats)
        out[f"fastcost_{solver}_device_input"] = {**summary(secs), "n_passes": int(est.n_passes_)}
    m = LinearRegression(solver="newton", device="cuda").fit(X, y)
    t = m.cuda_timings_
    out["fastcost_newton_numpy_input"] = {
        "transfer_s": t["transfer_s"],
        "compute_s": t["compute_s"],
        "transfer_bytes": t["transfer_bytes"],
        "wall_s": m.fit_report_.wall_time_s,
        "energy_source": m.fit_report_.energy_source,
    }
    if dev.cupy is not None:
        cupy = dev.cupy
        Xc, yc = cupy.asarray(X), cupy.asarray(y)

        def cupy_normal() -> Any:
            return cupy.linalg.solve(Xc.T @ Xc, Xc.T @ yc)

        out["cupy_normal_equations"] = summary(dev.wall_seconds(cupy_normal, args.repeats))
    if dev.torch is not None:
        torch = dev.torch
        Xt = torch.as_tensor(X, device="cuda")
        yt = torch.as_tensor(y, device="cuda").unsqueeze(1)
        out["torch_lstsq"] = summary(
            dev.wall_seconds(lambda: torch.linalg.lstsq(Xt, yt), args.repeats)
        )


def against_cpu(args: Any, dev: Device, X: np.ndarray, y: np.ndarray, out: dict) -> None:
    """lbfgs and sgd on the GPU (numpy input) and on the CPU backend."""
    from fastcost import LinearRegression

    cases = {"lbfgs": {"tol": 1e-6}, "sgd": {"max_iter": 2, "learning_rate": 0.01}}
    for solver, kw in cases.items():
        row: dict[str, Any] = {}
        for device in ("cuda", "cpu"):
            est = LinearRegression(solver=solver, device=device, random_state=0, **kw)
            secs = dev.wall_seconds(lambda est=est: est.fit(X, y), max(1, args.repeats // 2))
            row[device] = {**summary(secs), "n_iter": int(est.n_iter_)}
            if device == "cuda":
                row["cuda"]["compute_s"] = est.cuda_timings_["compute_s"]
                coef = est.coef_
        row["max_rel_coef_diff"] = float(
            np.max(np.abs(coef - est.coef_)) / np.max(np.abs(est.coef_))
        )
        row["cpu_over_gpu"] = row["cpu"]["best_s"] / row["cuda"]["best_s"]
        out[f"{solver}_gpu_vs_cpu"] = row


SECTIONS = (("passes", passes), ("fits", fits), ("against_cpu", against_cpu))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--correctness-n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=200.0,
                    help="seconds; sections not started by then are skipped")  # fmt: skip
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_gpu.json"))
    ap.add_argument("--stand-in", action="store_true",
                    help="no GPU: the stand-in device module and small data (a dry run)")  # fmt: skip
    args = ap.parse_args()
    t_start = time.perf_counter()
    if args.stand_in:
        sys.path.insert(0, str(REPO / "tests"))
        import cuda_stand_in

        cuda_stand_in.install()
        args.n, args.d = min(args.n, 20_000), min(args.d, 20)
        args.correctness_n, args.repeats = min(args.correctness_n, 5_000), min(args.repeats, 2)
    import fastcost
    from fastcost import _cuda  # ImportError here: fastcost was built without CUDA

    info = fastcost.config_info()
    print(f"fastcost {info['version']}; CUDA runtime {info['cuda_runtime']}, "
          f"devices {info['cuda_devices']}")  # fmt: skip
    devices = _cuda.runtime_info()["devices"]
    if not devices:
        print("no CUDA device")
        return 2
    unmeasured: list[str] = []
    cupy = optional("cupy", args.stand_in, unmeasured)
    torch = optional("torch", args.stand_in, unmeasured)
    if torch is not None and not torch.cuda.is_available():
        unmeasured.append("torch sees no GPU: its baselines")
        torch = None
    if cupy is None:
        unmeasured.append("no CuPy: cuBLAS SYRK/GEMM and CuPy normal equations")
    dev = Device(cupy, torch, _cuda)
    report: dict[str, Any] = {
        "device": dict(devices[0]),
        "stand_in": args.stand_in,
        "python": platform.python_version(),
        "fastcost": info["version"],
        "n": args.n,
        "d": args.d,
        "repeats": args.repeats,
        "timer_library": dev.lib,
        "unmeasured": unmeasured,
        "errors": {},
        "correctness_vs_cpu": {},
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        report["elapsed_s"] = time.perf_counter() - t_start
        out_path.write_text(json.dumps(report, indent=1, default=str))

    def run(name: str, fn: Any, *fargs: Any) -> None:
        if time.perf_counter() - t_start > args.time_limit:
            report["errors"][name] = "skipped: time limit"
            print(f"  {name}: skipped (time limit {args.time_limit:.0f} s)")
        else:
            try:
                fn(*fargs)
            except Exception as exc:  # noqa: BLE001 - recorded, the other sections go on
                report["errors"][name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
        write()

    run("correctness", correctness, args, report["correctness_vs_cpu"])
    data = {}
    for dtype in (np.float64, np.float32):
        rng = np.random.default_rng(1)
        X = rng.standard_normal((args.n, args.d)).astype(dtype)
        y = (X @ rng.standard_normal(args.d) + 0.1 * rng.standard_normal(args.n)).astype(dtype)
        data[np.dtype(dtype).name] = (X, y)
    # Most telling first: a run stopped at its time limit keeps the passes.
    for label, fn in SECTIONS:
        for name, (X, y) in data.items():
            run(f"{label}_{name}", fn, args, dev, X, y, report.setdefault(name, {}))
    print_summary(report)
    print(f"\nwrote {out_path}")
    return 1 if any(not v.startswith("skipped") for v in report["errors"].values()) else 0


def print_summary(r: dict[str, Any]) -> None:
    print(f"\n{r['n']} x {r['d']} on {r['device']['name']}; best of {r['repeats']}"
          + (" (STAND-IN: host memory, not a measurement)" if r["stand_in"] else ""))  # fmt: skip
    for key, v in r["correctness_vs_cpu"].items():
        print(f"  correctness {key:16s} {v['max_rel_coef_diff']:.2e}")
    for name in ("float64", "float32"):
        s = r.get(name, {})
        lg, cp, gram = s.get("loss_grad_pass"), s.get("d2d_copy"), s.get("gram_pass")
        if lg and cp:
            print(f"  {name} loss+grad pass {lg['best_s'] * 1e3:.3f} ms, {lg['GBps']:.0f} GB/s = "
                  f"{100 * lg['fraction_of_copy']:.0f}% of D2D copy {cp['GBps']:.0f} GB/s "
                  "(target >= 80%)")  # fmt: skip
        if gram:
            line = f"  {name} Gram pass {gram['best_s'] * 1e3:.3f} ms, {gram['GFLOPs']:.0f} GFLOP/s"
            if "cublas_syrk" in s:
                line += (f" vs cuBLAS SYRK {s['cublas_syrk']['GFLOPs']:.0f} GFLOP/s "
                         f"({gram['time_vs_cublas_syrk']:.2f}x its time)")  # fmt: skip
            print(line)
        for key in ("fastcost_newton_device_input", "fastcost_lbfgs_device_input",
                    "cupy_normal_equations", "torch_lstsq"):  # fmt: skip
            if key in s:
                print(f"  {name} {key:32s} {s[key]['best_s']:.4f} s")
        for key in ("lbfgs_gpu_vs_cpu", "sgd_gpu_vs_cpu"):
            if key in s:
                v = s[key]
                print(f"  {name} {key:32s} GPU {v['cuda']['best_s']:.4f} s, CPU "
                      f"{v['cpu']['best_s']:.4f} s, coef diff {v['max_rel_coef_diff']:.1e}")  # fmt: skip
    if r["unmeasured"]:
        print("  unmeasured: " + "; ".join(r["unmeasured"]))
    for key, v in r["errors"].items():
        print(f"  ERROR in {key}: {v}")


if __name__ == "__main__":
    sys.exit(main())
