"""Every benchmark at small sizes, one after another, in a few minutes (`make bench-quick`).

Not figures to cite: each benchmark's full run is (docs/performance.md). This shows that
each still runs end to end and prints its figures, and gives rough ones on a busy machine;
the instruction counts (`bench.instructions`) are the figures that hold at small sizes, and
whatever else runs beside them, so they are counted alongside the others (`ALONGSIDE`):
callgrind's minute would otherwise be a quarter of the run. The results go to a temporary
folder (``HASHCHECK_BENCH_RESULTS``), never over bench/results/.

Prints each benchmark's time and last lines, and exits 1 if any failed or ran past its time.

    .venv/bin/python -m bench.quick [--only NAME ...] [--keep-results DIR]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Module -> its arguments at small sizes. Every module of bench/ that is a benchmark is here
# or in LEFT_OUT (tests/test_bench_quick.py checks it).
QUICK: dict[str, tuple[str, ...]] = {
    "auth_flood": ("--attempts", "200", "--checks", "200"),
    "browser_hashing": ("--images", "3", "--video-seconds", "3"),
    "cluster": ("--entries", "10000", "--seconds", "1", "--changes", "5"),
    "cold_start": ("--entries", "20000"),
    "console": ("--items", "10000"),
    "console_overhead": ("--entries", "10000", "--seconds", "1", "--rounds", "1"),
    "import_memory": ("--entries", "20000", "--rounds", "1", "--load-seconds", "3"),
    "import_rate": ("--sizes", "20000", "--stores", "sqlite", "postgres"),
    "instructions": ("--checks", "20", "--pdq-size", "2000", "--queries", "4"),
    "items": ("--items", "20000"),
    "legacy_http": ("--entries", "10000", "--seconds", "1", "--rounds", "1"),
    "memory": ("--sizes", "20000"),
    "metrics_overhead": ("--entries", "10000", "--seconds", "1", "--rounds", "1"),
    "node_memory": ("--entries", "20000", "--workers", "1", "2"),
    "pdq_index": ("--sizes", "20000", "--alone-sizes", "40000", "--flat-queries", "10"),
    "pdq_load": ("--checks", "100", "--batch", "100", "--pdq", "2000"),
    "scan": ("--small", "500", "--large", "2", "--large-mib", "4"),
    "soak": ("--minutes", "3", "--entries", "10000", "--minute-seconds", "2"),
    "submissions": ("--submissions", "200", "--checks", "500"),
    "takedown": (
        "--records",
        "20000",
        "--clients",
        "10",
        "--actions",
        "2000",
        "--items",
        "20000",
        "--seconds",
        "1",
        "--rounds",
        "1",
    ),
    "upload_guard": ("--rounds", "2", "--big-mib", "16"),
    "v2_batch": ("--entries", "10000", "--seconds", "1", "--rounds", "1"),
}
# Modules of bench/ with a main that are not run here, and why.
LEFT_OUT = {
    "ceiling_app": "the bare app the HTTP benchmarks serve as their reference",
    "guard_app": "the app bench.upload_guard drives",
    "quick": "this runner",
    "vpdq_reference": "needs a Python with Meta's vpdq compiled from source (see its docstring)",
    "screenshots": "a docs command, not a benchmark: it rewrites docs/console.md",
}
TIME_EACH = 240  # seconds: a benchmark past this has hung
ALONGSIDE = frozenset({"instructions"})  # counts, not times: run beside the others
# ... and slowed by them: callgrind's 72 s alone took 229 s beside the rest (2 cores).
TIME_ALONGSIDE = 480


class Running:
    """One benchmark in a process of its own, its output gathered."""

    def __init__(self, name: str, results: Path) -> None:
        self.name = name
        self.limit = TIME_ALONGSIDE if name in ALONGSIDE else TIME_EACH
        self.started = time.monotonic()
        self._process = subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}", *QUICK[name]],
            env={**os.environ, "HASHCHECK_BENCH_RESULTS": str(results)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finished(self) -> tuple[bool, float, str]:
        """(finished well, seconds, its last lines or why it failed)."""
        left = max(0.0, self.limit - (time.monotonic() - self.started))
        try:
            out, err = self._process.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return False, time.monotonic() - self.started, f"still running after {self.limit} s"
        seconds = time.monotonic() - self.started
        if self._process.returncode != 0:
            return False, seconds, _tail(err or out, 12)
        return True, seconds, _tail(out, 4)


def _tail(text: str, lines: int) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=sorted(QUICK), help="these benchmarks")
    parser.add_argument("--keep-results", type=Path, help="write the result files here")
    args = parser.parse_args()
    chosen = args.only or sorted(QUICK)
    failed: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hashcheck-bench-quick-") as temporary:
        results = args.keep_results or Path(temporary)
        beside = [Running(name, results) for name in chosen if name in ALONGSIDE]
        in_turn = (name for name in chosen if name not in ALONGSIDE)
        for running in itertools.chain((Running(name, results) for name in in_turn), beside):
            ok, seconds, said = running.finished()
            print(
                f"{'ok    ' if ok else 'FAILED'} {running.name} ({seconds:.0f} s)\n{said}",
                flush=True,
            )
            if not ok:
                failed.append(running.name)
    total = time.monotonic() - started
    for name, why in LEFT_OUT.items():
        print(f"not run: {name}: {why}")
    print(f"{len(chosen) - len(failed)} of {len(chosen)} benchmarks ran in {total:.0f} s")
    if failed:
        print("failed: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
