"""Benchmark (issue 14): what counting for Prometheus costs the check endpoints.

`bench.overhead`'s two `hashcheck serve` processes (1M entries, 1 worker each), one with
`HASHCHECK_METRICS=true` and one without, with a scraper reading the first one's /metrics
every second throughout (Prometheus scrapes every 15 s or so: a harsher load). Target: within
3%. Writes bench/results/metrics_overhead.json.

    .venv/bin/python -m bench.metrics_overhead [--entries N] [--seconds S] [--rounds R]
"""

from __future__ import annotations

import contextlib
import threading
import urllib.request
from collections.abc import Iterator

from bench.overhead import arguments, compare, report

SCRAPE_EVERY_S = 1.0


@contextlib.contextmanager
def scraping(base: str) -> Iterator[list[int]]:
    """Scrape ``base``/metrics every second until the block ends; yields the scrape count."""
    stop = threading.Event()
    done: list[int] = [0]

    def scrape() -> None:
        while not stop.wait(SCRAPE_EVERY_S):
            with urllib.request.urlopen(base + "/metrics", timeout=10) as answer:  # noqa: S310
                answer.read()
            done[0] += 1

    thread = threading.Thread(target=scrape, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join()


def main() -> None:
    args = arguments(__doc__)
    scrapes: list[int] = []

    @contextlib.contextmanager
    def beside(base: str) -> Iterator[None]:
        with scraping(base) as done:
            yield
        scrapes.append(done[0])

    rounds, ratio = compare(args, {"HASHCHECK_METRICS": "true"}, beside=beside)
    report("metrics_overhead", "metrics", args, rounds, ratio, 0.97, scrapes=sum(scrapes))


if __name__ == "__main__":
    main()
