"""POST → visible in the API, one event at a time on an idle stack (the issue-2 figure).

``.venv/bin/python bench/visible_delay.py [--events 100]`` starts an isolated stack, posts
single events and polls ``GET /v1/events/{id}`` every 5 ms until it answers 200; prints the
median, p90 and p99 delay from the 202 to the first 200.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from tests.factories import detention, unique
from tests.stack import Stack


def measure(stack: Stack, events: int) -> list[float]:
    delays = []
    city = unique()
    headers = {"Authorization": f"Bearer {stack.reader_key}"}
    with httpx.Client(headers=headers, timeout=10) as client:
        for _ in range(events):
            event = detention(city, 1)
            assert stack.post(event).status_code == 202
            accepted = time.perf_counter()
            while client.get(f"{stack.api_url}/v1/events/{event['event_id']}").status_code != 200:
                time.sleep(0.005)
            delays.append((time.perf_counter() - accepted) * 1000)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    stack = Stack(extra_env={"RATE_LIMIT_PER_SECOND": "0"}).start()
    try:
        measure(stack, 5)  # warm up
        delays = sorted(measure(stack, args.events))
    finally:
        stack.stop()
    p = statistics.quantiles(delays, n=100)
    print(f"POST 202 → visible in GET /v1/events/{{id}} over {len(delays)} events: "
          f"median {statistics.median(delays):.0f} ms, p90 {p[89]:.0f} ms, p99 {p[98]:.0f} ms")


if __name__ == "__main__":
    main()
