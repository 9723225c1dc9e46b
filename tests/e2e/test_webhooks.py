"""Outgoing webhooks end to end: subscribe over the API, post a report to ingest, receive a
signed POST from the worker on a local receiver; failures are retried and logged."""
from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.factories import detention, stuffing, unique
from tests.stack import Stack, wait_until


@dataclass
class Receiver:
    """A subscriber's endpoint: records every POST; answers 500 to the first ``fail`` ones."""

    fail: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def start(self, host: str = "127.0.0.1") -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(500 if len(receiver.received) <= receiver.fail else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
def hook_stack() -> Iterator[Stack]:
    running = Stack(extra_env={"WEBHOOK_BACKOFF_SECONDS": "0.5",
                               "WEBHOOK_POLL_SECONDS": "0.5",
                               "WEBHOOK_ALLOW_HOSTS": "127.0.0.1/32"}).start()
    running.start_webhooks()
    yield running
    running.stop()


def subscribe(stack: Stack, url: str, kinds: list[str], region: str | None = None,
              key: str | None = None) -> httpx.Response:
    return httpx.post(f"{stack.api_url}/v1/webhooks", timeout=30,
                      json={"url": url, "kinds": kinds, "region": region},
                      headers={"Authorization": f"Bearer {key or stack.reader_key}"})


def test_breach_is_posted_signed_retried_and_logged(hook_stack: Stack) -> None:
    receiver = Receiver(fail=1).start()
    created = subscribe(hook_stack, receiver.url, ["breach"], "West Kazakhstan")
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    station = unique("PS")
    assert hook_stack.post(stuffing(station)).status_code == 202
    wait_until(lambda: len(receiver.received) >= 2, 60)
    for headers, body in receiver.received[:2]:  # Standard Webhooks, as a receiver checks it
        assert Webhook(hook["secret"]).verify(body, headers) == orjson.loads(body)
        with pytest.raises(WebhookVerificationError):
            Webhook(hook["secret"]).verify(body.replace(b"breach", b"breech"), headers)
    first, second = receiver.bodies()[:2]
    assert first == second and first["kind"] == "breach" and first["station_id"] == station
    assert first["data"]["rule_id"] == "ballot.stuffing"
    ids = [headers["webhook-id"] for headers, _ in receiver.received[:2]]
    assert ids == [first["delivery_id"]] * 2  # a retry keeps the id: receivers dedup on it
    log = wait_until(lambda: (d := deliveries(hook_stack, hook["id"])) and
                     d[0]["status"] == "delivered" and d, 10)
    assert [(d["delivery_id"], d["attempts"]) for d in log] == [(first["delivery_id"], 2)]
    assert [a["status_code"] for a in log[0]["attempt_log"]] == [500, 204]


def deliveries(stack: Stack, hook_id: str, key: str | None = None) -> Any:
    reply = httpx.get(f"{stack.api_url}/v1/webhooks/{hook_id}/deliveries", timeout=30,
                      headers={"Authorization": f"Bearer {key or stack.reader_key}"})
    return reply.json()["deliveries"] if reply.status_code == 200 else reply.status_code


def test_detentions_in_a_region_only_and_a_restart_neither_skips_nor_repeats(
        hook_stack: Stack) -> None:
    receiver = Receiver().start()
    assert subscribe(hook_stack, receiver.url, ["detentions"], "Almaty").status_code == 201
    city = unique()
    assert hook_stack.post(detention(city, 5, region="Astana")).status_code == 202
    assert hook_stack.post(detention(city, 7)).status_code == 202
    wait_until(lambda: len(receiver.received) == 1, 20)
    hook_stack.kill("webhooks")
    assert hook_stack.post(detention(city, 3)).status_code == 202
    hook_stack.start_webhooks()
    wait_until(lambda: len(receiver.received) == 2, 20)
    totals = [(b["region"], b["data"]["city"], b["data"]["detained_total"])
              for b in receiver.bodies()]
    assert totals == [("Almaty", city, 7), ("Almaty", city, 10)]
    assert len({b["delivery_id"] for b in receiver.bodies()}) == 2


def test_subscriptions_are_the_partners_own(hook_stack: Stack) -> None:
    receiver = Receiver().start()
    hook = subscribe(hook_stack, receiver.url, ["breach"]).json()
    other = hook_stack.writer_key  # a different partner ("tester")
    assert deliveries(hook_stack, hook["id"], key=other) == 404
    listed = httpx.get(f"{hook_stack.api_url}/v1/webhooks", timeout=30,
                       headers={"Authorization": f"Bearer {hook_stack.reader_key}"}).json()
    assert hook["id"] in [h["id"] for h in listed["webhooks"]]
    assert all("secret" not in h for h in listed["webhooks"])
    gone = httpx.delete(f"{hook_stack.api_url}/v1/webhooks/{hook['id']}", timeout=30,
                        headers={"Authorization": f"Bearer {hook_stack.reader_key}"})
    assert gone.status_code == 204
    assert deliveries(hook_stack, hook["id"]) == 404
    bad = subscribe(hook_stack, "ftp://example.org/x", ["breach"])
    assert bad.status_code == 422
    assert subscribe(hook_stack, receiver.url, ["no_such_kind"]).status_code == 422


@pytest.mark.parametrize("url", [
    "http://127.0.0.2:8080/hook", "http://[::1]/hook",
    "http://[::ffff:127.0.0.2]/hook", "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/", "http://10.0.0.8/hook", "http://192.168.1.1/hook",
    "http://224.0.0.1/hook", "http://0.0.0.0:8081/v1/admin/dead-letters"])
def test_targets_inside_are_refused_at_registration(hook_stack: Stack, url: str) -> None:
    reply = subscribe(hook_stack, url, ["breach"])
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"] == ["body", "url"]


def test_a_target_inside_is_refused_at_delivery_too(hook_stack: Stack) -> None:
    """A subscription whose host now resolves inside (DNS changed since it was made, or it
    predates the check) is not contacted: each attempt is logged as refused."""
    inside = Receiver().start(host="127.0.0.2")
    hook_id = asyncio.run(subscribe_directly(hook_stack, inside.url, "reader"))
    assert hook_stack.post(stuffing(unique("PS"))).status_code == 202
    log = wait_until(lambda: (d := deliveries(hook_stack, hook_id)) and d[0]["attempt_log"]
                     and d, 20)
    attempt = log[0]["attempt_log"][0]
    assert attempt["status_code"] is None and "TargetRefused" in attempt["error"]
    assert "loopback" in attempt["error"] and inside.received == []


async def subscribe_directly(stack: Stack, url: str, partner: str) -> str:
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        after = await conn.fetchval(f'SELECT COALESCE(max(cursor), 0) FROM "{stack.name}".changes')
        hook_id = uuid.uuid4()
        await conn.execute(
            f'INSERT INTO "{stack.name}_ingest".webhook_subscriptions (subscription_id, partner, '
            "url, kinds, region, secret, after_cursor) VALUES ($1, $2, $3, $4, NULL, $5, $6)",
            hook_id, partner, url, ["breach"], "whsec_test", after)
    finally:
        await conn.close()
    return str(hook_id)
