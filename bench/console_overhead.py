"""Benchmark (issue 12): what switching the console on costs the check endpoints.

Two `hashcheck serve` processes on one deployment (1M entries, 1 worker each), one with
`HASHCHECK_CONSOLE=true` and one without, driven by wrk (native) with legacy MD5 checks in
alternating rounds, since this VM's speed drifts from one minute to the next; each round's
ratio is console-on over console-off measured right after each other, and the figure is the
median round's. The target: within 5%. Writes bench/results/console_overhead.json.

    .venv/bin/python -m bench.console_overhead [--entries N] [--seconds S] [--rounds R]
"""

from __future__ import annotations

from bench.overhead import arguments, compare, report


def main() -> None:
    args = arguments(__doc__)
    rounds, ratio = compare(args, {"HASHCHECK_CONSOLE": "true"})
    report("console_overhead", "console", args, rounds, ratio, 0.95)


if __name__ == "__main__":
    main()
