"""`make bench-quick` (`bench.quick`) leaves no benchmark out without saying why, and writes
nowhere the docs cite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench import quick

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_every_runnable_bench_module_is_run_quickly_or_left_out_with_a_reason() -> None:
    runnable = {
        path.stem for path in BENCH.glob("*.py") if '__name__ == "__main__"' in path.read_text()
    }
    assert runnable == set(quick.QUICK) | set(quick.LEFT_OUT)
    assert not set(quick.QUICK) & set(quick.LEFT_OUT)
    assert all(why.strip() for why in quick.LEFT_OUT.values())


def test_a_quick_run_writes_its_results_to_the_folder_it_is_given(tmp_path: Path) -> None:
    cited = BENCH / "results" / "memory.json"
    before = cited.read_bytes() if cited.exists() else None
    done = subprocess.run(
        [sys.executable, "-m", "bench.quick", "--only", "memory", "--keep-results", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(BENCH.parent)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok     memory" in done.stdout
    assert "1 of 1 benchmarks ran" in done.stdout
    assert (tmp_path / "memory.json").exists()
    assert (cited.read_bytes() if cited.exists() else None) == before
