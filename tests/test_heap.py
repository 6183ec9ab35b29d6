"""The serving worker's heap as first loaded is kept out of garbage collection (`node.heap`),
and only there: each case runs in a Python process of its own, so that this test run's heap
is never frozen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import make_deployment

PROBE = """
import gc, json, sys
from hashcheck.config import Settings
from hashcheck.service import build_node

settings = Settings.from_env()
node = build_node(settings, serving=sys.argv[1] == "serving")
before = gc.get_freeze_count()
node.follower.refresh()
first = gc.get_freeze_count()
node.store.add_list("another", "Another list", "", actor="test")
published = node.follower.refresh()
print(json.dumps({"before": before, "first": first, "again": gc.get_freeze_count(),
                  "published": published,
                  "ready": node.follower.ready.is_set()}))
node.store.close()
"""


def _frozen(tmp_path: Path, how: str) -> dict[str, object]:
    deployment = make_deployment(f"sqlite:///{tmp_path / 'hashcheck.db'}", tmp_path)
    env = {
        "HASHCHECK_DATABASE_URL": deployment.url,
        "HASHCHECK_KEY_FILE": str(deployment.key_file),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, how],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return answer


def test_a_serving_node_settles_its_heap_once_at_its_first_load(tmp_path: Path) -> None:
    seen = _frozen(tmp_path, "serving")
    assert seen["before"] == 0
    assert isinstance(seen["first"], int) and seen["first"] > 10_000
    assert seen["published"] is True
    # Not frozen again: the first snapshot, replaced, leaves the frozen objects it held.
    assert isinstance(seen["again"], int) and seen["again"] <= seen["first"]
    assert seen["ready"] is True


def test_a_node_that_is_not_serving_leaves_the_collector_alone(tmp_path: Path) -> None:
    seen = _frozen(tmp_path, "other")
    assert seen == {"before": 0, "first": 0, "again": 0, "published": True, "ready": True}
