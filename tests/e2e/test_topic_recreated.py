"""A topic deleted and recreated under the running services is refused while they run
(issue 29 item 1): no assignment or restart tells them, so they watch the topic's id.

Exactly what a new user tried: detentions counted; the events topic deleted and recreated
under the running ingest, projector and api; more detentions posted. Nothing restarts. Before
the watch, every post answered 202, none was counted and every /readyz said 200."""
from __future__ import annotations

import asyncio

import httpx

from tests.factories import detention, unique
from tests.stack import LOGS, Stack, delete_topic, free_port, wait_until

COUNTED, AFTER = 300, 300


def detained(stack: Stack, city: str) -> int:
    found = stack.detentions_in(city)
    return int(found["detained_total"]) if found else 0


def test_a_topic_recreated_under_running_services_is_refused_not_silently_lost(
        own_stack: Stack) -> None:
    centre = own_stack
    centre.env["PROJECTOR_METRICS_PORT"] = str(free_port())
    centre.start()
    projector = f"http://127.0.0.1:{centre.env['PROJECTOR_METRICS_PORT']}"
    city = unique()
    for _ in range(COUNTED):
        assert centre.post(detention(city, 1)).status_code == 202
    wait_until(lambda: detained(centre, city) == COUNTED, 90)

    asyncio.run(delete_topic(centre, recreate=True))

    def all_refuse() -> bool:
        return (httpx.get(f"{centre.ingest_url}/readyz").status_code == 503
                and httpx.get(f"{centre.api_url}/readyz").status_code == 503
                and httpx.get(f"{projector}/readyz").status_code == 503)

    answers = [centre.post(detention(city, 1)).status_code]  # may race the watch
    wait_until(all_refuse, 30)
    for name, url in (("ingest", centre.ingest_url), ("api", centre.api_url)):
        detail = httpx.get(f"{url}/readyz").json()["detail"]
        assert "was recreated" in detail and "log mismatch" in detail, (name, detail)
    problems = httpx.get(f"{projector}/readyz").json()["problems"]
    assert any("was recreated" in p for p in problems), problems

    answers += [centre.post(detention(city, 1)).status_code for _ in range(AFTER)]
    refused = answers[1:]
    assert set(refused) == {503}, f"after the watch refused: {sorted(set(refused))}"
    assert "was recreated" in centre.post(detention(city, 1)).json()["detail"]
    # what reached the new topic before the watch saw it is in the log, but not applied
    wait_until(lambda: "projector refuses to apply anything" in
               (LOGS / f"{centre.name}-projector-0.log").read_text(), 30)
    assert detained(centre, city) == COUNTED
    assert all(p.poll() is None for procs in centre.procs.values() for p in procs)
