"""Health, readiness and Prometheus metrics of the three services."""
from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.factories import detention, unique
from tests.stack import Stack, free_port, wait_until


@pytest.fixture(scope="module")
def watched() -> Iterator[Stack]:
    """A stack whose projector serves /healthz, /readyz and /metrics."""
    stack = Stack(extra_env={"PROJECTOR_METRICS_PORT": str(free_port())})
    try:
        yield stack.start()
    finally:
        stack.stop()


def projector_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.env['PROJECTOR_METRICS_PORT']}"


@pytest.mark.parametrize("service", ["ingest", "api", "projector"])
def test_alive_and_ready(watched: Stack, service: str) -> None:
    base = {"ingest": watched.ingest_url, "api": watched.api_url,
            "projector": projector_url(watched)}[service]
    wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, 30)
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").json()["status"] == "ready"


def test_ingest_counts_accepted_and_rejected_by_reason(watched: Stack) -> None:
    assert watched.post(detention(unique(), 1)).status_code == 202
    assert watched.post(detention(unique(), 0)).status_code == 422
    text = httpx.get(f"{watched.ingest_url}/metrics").text
    assert metric(text, "saylau_events_accepted_total") >= 1
    assert metric(text, 'saylau_events_rejected_total{reason="rejected"}') >= 1


def test_projector_exports_lag_per_partition_and_apply_latency(watched: Stack) -> None:
    city = unique()
    assert watched.post(detention(city, 3)).status_code == 202
    wait_until(lambda: watched.detentions_in(city))
    ready = wait_until(lambda: (r := httpx.get(f"{projector_url(watched)}/readyz")).json()
                       ["lag"] and r.json())
    assert set(ready["lag"]) == {str(p) for p in range(watched.partitions)}
    text = wait_until(lambda: "saylau_projector_lag{" in (
        t := httpx.get(f"{projector_url(watched)}/metrics").text) and t)
    assert metric(text, "saylau_projector_batch_apply_seconds_count") >= 1
    assert metric(text, "saylau_projector_events_applied_total") >= 1


def test_api_serves_metrics(watched: Stack) -> None:
    reply = httpx.get(f"{watched.api_url}/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")


def metric(text: str, name: str) -> float:
    """The value of the sample line ``name`` in a Prometheus exposition."""
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.split(" ")[0] == name]
    assert values, f"{name} not exported"
    return values[0]
