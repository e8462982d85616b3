from __future__ import annotations

import subprocess
import sys

import fastcost


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


def test_isa_can_be_forced_by_environment():
    code = "import fastcost; print(fastcost.config_info()['isa'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"FASTCOST_ISA": "baseline", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "baseline"


def test_omp_num_threads_is_honoured():
    code = "import fastcost; print(fastcost.config_info()['threads'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"OMP_NUM_THREADS": "1", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "1"
