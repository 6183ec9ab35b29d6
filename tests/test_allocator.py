"""Freed memory goes back to the kernel (`node.allocator`): a worker's resident memory after
a snapshot is replaced is what it uses, not what it once used (the soak's 20 MiB step)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, threading
from pathlib import Path
from hashcheck.node.allocator import give_back_freed_memory

def resident():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024

held = []
def allocate():  # in a thread of its own, as the follower builds a snapshot
    objects = [bytes(200 + k % 1800) for k in range(200_000)]
    held.extend(objects[::50])  # a few survivors pin the pages they sit on
thread = threading.Thread(target=allocate)
thread.start()
thread.join()
before = resident()
give_back_freed_memory()
print(json.dumps({"before": before, "after": resident()}))
"""


def test_freed_memory_is_handed_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    figures = json.loads(done.stdout)
    # ~200 MiB allocated, ~4 MiB still held: most of the rest leaves the process.
    assert figures["before"] > 150
    assert figures["after"] < figures["before"] - 100, figures
