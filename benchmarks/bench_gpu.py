"""GPU benchmark of the CUDA backend (issue 10): fastcost against CuPy and PyTorch.

Needs an NVIDIA GPU and fastcost built with ``-Ccmake.define.FASTCOST_CUDA=ON``;
CuPy and PyTorch are optional baselines (skipped, and said so, when missing).
On the same data in the same run it measures:

* correctness of every GPU solver against the CPU backend (max relative coef error);
* fastcost newton / lbfgs on device-resident X, against CuPy ``X.T @ X`` + solve
  and ``torch.linalg.lstsq``; numpy input separately, transfer apart from compute;
* the fused loss+gradient pass as a fraction of the measured device-to-device
  copy bandwidth (bytes of X read / time, against a D2D copy of the same size);
* the Gram pass in GFLOP/s (n d^2 useful flops for the symmetric product) against
  cuBLAS DGEMM/SGEMM (CuPy ``X.T @ X``, 2 n d^2 flops) on the same X.

Prints a table and writes JSON to benchmarks/results/bench_gpu.json. Never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import fastcost
import numpy as np
from fastcost import LinearRegression


def _sync() -> None:
    try:
        import cupy

        cupy.cuda.runtime.deviceSynchronize()
    except ImportError:
        pass


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    _sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    return min(times)


def optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        print(f"  ({name} not installed: its baseline is skipped)")
        return None


def bench_dtype(
    dtype: np.dtype,
    args: Any,
    rng: Any,
    rows: list,
    report: dict,
    cupy: Any,
    torch: Any,
    _cuda: Any,
) -> None:
    """Every timing on one dtype; the device arrays are freed on return."""
    name = np.dtype(dtype).name
    X = rng.standard_normal((args.n, args.d)).astype(dtype)
    y = (X @ rng.standard_normal(args.d)).astype(dtype)
    nbytes = X.nbytes
    # numpy input: one copy to the device, then the solve
    m = LinearRegression(solver="newton", device="cuda").fit(X, y)
    t = m.cuda_timings_
    rows.append(
        {
            "dtype": name,
            "method": "fastcost newton (numpy input)",
            "time_s": t["transfer_s"] + t["compute_s"],
            "transfer_s": t["transfer_s"],
            "compute_s": t["compute_s"],
        }
    )
    if cupy is None:
        print("  CuPy missing: device-resident timings use fastcost's own device array")
        Xd, yd = _cuda._DeviceArray(X), _cuda._DeviceArray(y)
    else:
        Xd, yd = cupy.asarray(X), cupy.asarray(y)
    for solver in ("newton", "lbfgs"):
        est = LinearRegression(solver=solver, device="cuda", tol=1e-6)
        sec = best_of(lambda est=est: est.fit(Xd, yd), args.repeats)
        rows.append(
            {
                "dtype": name,
                "method": f"fastcost {solver} (device input)",
                "time_s": sec,
                "n_passes": int(est.n_passes_),
            }
        )
    # fused loss+gradient pass vs D2D copy bandwidth
    w = np.zeros(args.d)
    t_lg = best_of(lambda: _cuda.loss_grad(Xd, yd, w, 0.0, None), args.repeats)
    if cupy is not None:
        dst = cupy.empty_like(Xd)
        t_copy = best_of(lambda: dst.__setitem__(Ellipsis, Xd), args.repeats)
        copy_bw = 2 * nbytes / t_copy  # a copy reads and writes every byte
        lg_bw = nbytes / t_lg
        report[f"loss_grad_{name}"] = {
            "seconds": t_lg,
            "GBps": lg_bw / 1e9,
            "d2d_copy_GBps": copy_bw / 1e9,
            "fraction_of_copy": lg_bw / copy_bw,
        }
        rows.append(
            {
                "dtype": name,
                "method": "fused loss+grad pass",
                "time_s": t_lg,
                "note": f"{lg_bw / 1e9:.0f} GB/s = {100 * lg_bw / copy_bw:.0f}% of D2D copy "
                f"{copy_bw / 1e9:.0f} GB/s (target >= 80%)",
            }
        )
        # Gram vs cuBLAS GEMM (CuPy's X.T @ X)
        t_gram = best_of(lambda: _cuda.gram_stats(Xd, yd, None), args.repeats)
        t_gemm = best_of(lambda: Xd.T @ Xd, args.repeats)
        flops_gram = args.n * (args.d + 2) ** 2  # symmetric: half of the 2 n d^2 of a GEMM
        flops_gemm = 2.0 * args.n * args.d**2
        report[f"gram_{name}"] = {
            "seconds": t_gram,
            "GFLOPs": flops_gram / t_gram / 1e9,
            "cublas_gemm_seconds": t_gemm,
            "cublas_GFLOPs": flops_gemm / t_gemm / 1e9,
        }
        rows.append(
            {
                "dtype": name,
                "method": "Gram pass",
                "time_s": t_gram,
                "note": f"{flops_gram / t_gram / 1e9:.0f} GFLOP/s (symmetric flops) vs cuBLAS "
                f"{'D' if name == 'float64' else 'S'}GEMM X.T@X {flops_gemm / t_gemm / 1e9:.0f} GFLOP/s",
            }
        )
        rows.append({"dtype": name, "method": "CuPy X.T @ X alone (cuBLAS)", "time_s": t_gemm})

        def cupy_normal():
            A = Xd.T @ Xd
            b = Xd.T @ yd
            return cupy.linalg.solve(A, b)

        rows.append(
            {
                "dtype": name,
                "method": "CuPy normal equations (X.T@X, solve)",
                "time_s": best_of(cupy_normal, args.repeats),
            }
        )
    if torch is not None and torch.cuda.is_available():
        Xt, yt = torch.as_tensor(X, device="cuda"), torch.as_tensor(y, device="cuda")

        def torch_lstsq():
            torch.linalg.lstsq(Xt, yt.unsqueeze(1))
            torch.cuda.synchronize()

        rows.append(
            {
                "dtype": name,
                "method": "torch.linalg.lstsq",
                "time_s": best_of(torch_lstsq, args.repeats),
            }
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_gpu.json"))
    args = ap.parse_args()
    from fastcost import _cuda  # ImportError here means the CUDA build is missing

    info = fastcost.config_info()
    print(
        f"fastcost {info['version']}; CUDA runtime {info['cuda_runtime']}, devices {info['cuda_devices']}"
    )
    if not info["cuda_devices"]:
        raise SystemExit("no CUDA device")
    cupy = optional("cupy")
    torch = optional("torch")
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "device": info["cuda_devices"][0],
        "n": args.n,
        "d": args.d,
        "rows": rows,
    }

    # ---- correctness against the CPU backend (smaller data) ----
    rng = np.random.default_rng(0)
    nc, dc = 200_000, 50
    Xc = rng.standard_normal((nc, dc)) + rng.uniform(-3, 3, dc)
    yc = Xc @ rng.standard_normal(dc) + 0.5 + 0.1 * rng.standard_normal(nc)
    wc = rng.uniform(0.5, 1.5, nc)
    correctness = {}
    for dtype in (np.float64, np.float32):
        for solver in ("newton", "lbfgs", "gd", "sgd"):
            kw = dict(solver=solver, alpha=1e-3, random_state=0)
            X_, y_ = Xc.astype(dtype), yc.astype(dtype)
            cpu = LinearRegression(**kw).fit(X_, y_, sample_weight=wc.astype(dtype))
            gpu = LinearRegression(device="cuda", **kw).fit(X_, y_, sample_weight=wc.astype(dtype))
            err = float(np.max(np.abs(gpu.coef_ - cpu.coef_)) / np.max(np.abs(cpu.coef_)))
            correctness[f"{solver}-{np.dtype(dtype).name}"] = err
            print(
                f"  correctness {solver:6s} {np.dtype(dtype).name}: max rel coef diff vs CPU {err:.2e}"
            )
    report["correctness_vs_cpu"] = correctness

    for dtype in (np.float64, np.float32):
        bench_dtype(np.dtype(dtype), args, rng, rows, report, cupy, torch, _cuda)

    ref = {r["dtype"]: r["time_s"] for r in rows if r["method"] == "fastcost newton (device input)"}
    print(f"\n{args.n} x {args.d} on {report['device']}; best of {args.repeats}\n")
    print(f"{'dtype':8s} {'method':42s} {'time (s)':>10s} {'vs newton':>10s}  note")
    for r in rows:
        ratio = r["time_s"] / ref[r["dtype"]]
        note = r.get("note", "")
        if "transfer_s" in r:
            note = f"transfer {r['transfer_s']:.3f} s + compute {r['compute_s']:.3f} s"
        print(f"{r['dtype']:8s} {r['method']:42s} {r['time_s']:10.4f} {ratio:9.2f}x  {note}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
