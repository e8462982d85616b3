"""Streaming a Parquet dataset larger than memory: fastcost.fit_dataset against
reading the same files with pyarrow alone, same run.

Generates ``--rows`` x ``--features`` float64 (default 12,500,000 x 100: about
10 GB uncompressed Parquet in ``--files`` files) once, then runs each method in
its own subprocess, alternating, ``--repeat`` times:

- ``pyarrow read``: ``pyarrow.dataset`` record batches of the same columns with
  the same batch size, read-ahead and scan options (Parquet without
  pre-buffering: faster and far leaner than pyarrow's default here) as
  fit_dataset, each batch's columns converted to NumPy (what any consumer of
  the batches must do), nothing else;
- ``fit_dataset newton``: ``fastcost.fit_dataset(..., solver="newton")``: the
  same reading plus the one-pass statistics and the solve.

Reported: wall time (best of the repeats), its CPU seconds (user + system, every
thread of the process), throughput (GB of feature and target values per
second), the peak RSS of the whole process, and the ratio
fit / pyarrow throughput. The coefficients are checked against the generating
model. Targets (issue 17): peak RSS <= 1 GB, throughput >= 70 % of pyarrow's.

    python benchmarks/bench_streaming.py                       # ~10 GB
    python benchmarks/bench_streaming.py --rows 1000000 --files 4

Prints the table and writes JSON. It never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from _results import write_results

CHILD = r"""
import json, os, sys, time
import numpy as np
import pyarrow as pa, pyarrow.dataset as ds, glob
path, name, batch_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
if name != "pyarrow read":
    import fastcost, fastcost.linear_model, fastcost._streaming  # imports are not the pass

def peak_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

# The peak RSS of this process's work: a child starts with its parent's
# high-water mark (fork), so reset it (Linux: 5 > clear_refs) before starting.
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
t0, c0 = time.perf_counter(), os.times()
if name == "pyarrow read":
    rows = 0
    for f in sorted(glob.glob(path)):
        cols = [c for c in ds.dataset(f, format="parquet").schema.names]
        for b in ds.dataset(f, format="parquet").to_batches(
                columns=cols, batch_size=batch_rows, batch_readahead=2,
                fragment_readahead=1, use_threads=True,
                fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)):
            for c in b.columns:
                c.to_numpy(zero_copy_only=False)
            rows += b.num_rows
    out = {"rows": rows}
else:
    m = fastcost.fit_dataset(path, target="y", solver="newton", batch_rows=batch_rows)
    out = {"rows": int(m.statistics_.n_rows), "coef": m.coef_.tolist(),
           "intercept": float(m.intercept_), "fit_info": m.fit_info_}
out["wall_s"] = time.perf_counter() - t0
c1 = os.times()
out["cpu_s"] = (c1.user - c0.user) + (c1.system - c0.system)  # every thread of the process
out["peak_rss_bytes"] = peak_kb() * 1024
print(json.dumps(out))
"""


def generate(folder: str, rows: int, d: int, files: int, seed: int) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    per = -(-rows // files)
    for i in range(files):
        n = min(per, rows - i * per)
        X = rng.standard_normal((n, d))
        y = X @ w + 0.5 + 0.1 * rng.standard_normal(n)
        table = pa.table({**{f"x{j}": X[:, j] for j in range(d)}, "y": y})
        pq.write_table(table, os.path.join(folder, f"part-{i:04d}.parquet"),
                       compression="none", row_group_size=100_000)  # fmt: skip
        del X, y, table
    return w


def run(path: str, name: str, batch_rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path, name, str(batch_rows)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=12_500_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--batch-rows", type=int, default=0, help="default: fit_dataset's")
    ap.add_argument("--dir", help="where to write the data (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--json", default="benchmarks/results/bench_streaming.json")
    args = ap.parse_args()
    from fastcost._stream_source import BATCH_BYTES

    batch_rows = args.batch_rows or max(1024, BATCH_BYTES // (8 * args.features))
    folder = args.dir or tempfile.mkdtemp(prefix="fastcost-stream-")
    os.makedirs(folder, exist_ok=True)
    t0 = time.perf_counter()
    w = generate(folder, args.rows, args.features, args.files, seed=0)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"generated {args.rows:,} x {args.features} in {args.files} files: "
          f"{size / 1e9:.2f} GB on disk, {time.perf_counter() - t0:.0f} s")  # fmt: skip
    path = os.path.join(folder, "*.parquet")
    values = args.rows * (args.features + 1) * 8
    runs: dict[str, list[dict]] = {"pyarrow read": [], "fit_dataset newton": []}
    try:
        for _ in range(args.repeat):
            for name in runs:
                runs[name].append(run(path, name, batch_rows))
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for name, rs in runs.items():
        best = min(rs, key=lambda r: r["wall_s"])
        rows.append({
            "method": name, "wall_s": best["wall_s"], "gb_per_s": values / best["wall_s"] / 1e9,
            "peak_rss_mb": max(r["peak_rss_bytes"] for r in rs) / 2**20,
            "cpu_s": best["cpu_s"],
            "all_wall_s": [r["wall_s"] for r in rs],
        })  # fmt: skip
    fit = runs["fit_dataset newton"][0]
    err = float(np.max(np.abs(np.asarray(fit["coef"]) - w)))
    ratio = rows[0]["wall_s"] / rows[1]["wall_s"]
    print(f"\n{'method':22s} {'wall s':>8s} {'CPU s':>7s} {'GB/s':>7s} {'peak RSS MB':>12s}")
    for r in rows:
        print(
            f"{r['method']:22s} {r['wall_s']:8.2f} {r['cpu_s']:7.2f} {r['gb_per_s']:7.2f} "
            f"{r['peak_rss_mb']:12.0f}"
        )
    print(f"\nfit_dataset throughput / pyarrow read throughput: {ratio:.2f} (target >= 0.70)")
    print(f"fit_dataset peak RSS: {rows[1]['peak_rss_mb']:.0f} MB (target <= 1024)")
    print(f"max |coef - generating w|: {err:.2e} (noise 0.1)")
    write_results(args.json, {
        "benchmark": "bench_streaming", "rows": args.rows, "features": args.features,
        "files": args.files, "bytes_on_disk": size, "batch_rows": batch_rows,
        "results": rows, "throughput_ratio": ratio, "coef_max_error": err,
    })  # fmt: skip


if __name__ == "__main__":
    main()
