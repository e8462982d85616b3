"""Smoke test for an installed fastcost wheel: import, build configuration, one fit.

Run by cibuildwheel's ``test-command`` and by ``tests/test_wheel.py`` inside a fresh
virtual environment, so it must need nothing beyond the wheel's own dependencies
(numpy is one). Prints one JSON line describing what was loaded; exits non-zero
when any check fails.

    python tools/wheel_smoke.py
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version as dist_version


def _loaded_openmp_runtimes() -> list[str]:
    # Which OpenMP runtime files the process mapped: the wheel test uses this to
    # prove the bundled copy (fastcost.libs/) is the one in use, not the system's.
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "/" in line}
    except OSError:  # not Linux
        return []
    names = ("libgomp", "libomp", "libiomp")
    return sorted(p for p in paths if any(n in p.rsplit("/", 1)[-1] for n in names))


def main() -> int:
    import fastcost
    import numpy as np

    info = fastcost.config_info()
    if info["openmp"] is not True:
        print(f"fastcost was built without OpenMP: {info}", file=sys.stderr)
        return 1

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 8))
    y = X @ rng.standard_normal(8) + 0.5 + 0.01 * rng.standard_normal(2000)
    model = fastcost.LinearRegression(solver="newton").fit(X, y)

    # Independent reference: numpy lstsq on the design with a column of ones.
    A = np.column_stack([X, np.ones(len(y))])
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    got = np.append(model.coef_, model.intercept_)
    err = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
    # The normal equations lose up to cond(A) digits; A is well conditioned here.
    if not err < 1e-10:
        print(f"fit disagrees with numpy lstsq: relative error {err:.3g}", file=sys.stderr)
        return 1

    print(
        json.dumps(
            {
                "version": fastcost.__version__,
                "dist_version": dist_version("fastcost"),
                "file": fastcost.__file__,
                "openmp": info["openmp"],
                "threads": info["threads"],
                "isa": info["isa"],
                "compiler": info["compiler"],
                "relative_error": err,
                "openmp_runtimes": _loaded_openmp_runtimes(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
