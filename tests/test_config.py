from __future__ import annotations

import subprocess
import sys

import fastcost
import pytest


def test_show_config_reports_build(capsys):
    fastcost.show_config()
    out = capsys.readouterr().out
    assert f"fastcost {fastcost.__version__}" in out
    for key in ("compiler:", "OpenMP:", "threads:", "kernels:"):
        assert key in out
    info = fastcost.config_info()
    assert info["openmp"] in (True, False)
    assert info["threads"] >= 1
    assert info["isa"] in ("baseline", "avx2+fma", "avx512f")


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [("FASTCOST_ISA", "baseline", "isa"), ("OMP_NUM_THREADS", "1", "threads")],
    ids=["isa_forced_by_FASTCOST_ISA", "omp_num_threads_honoured"],
)
def test_environment_sets_config(variable, value, key):
    code = f"import fastcost; print(fastcost.config_info()[{key!r}])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={variable: value, "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == value
