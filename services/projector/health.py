"""The projector's /healthz, /readyz and /metrics, and the lag they report."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from saylau.settings import Settings

log = logging.getLogger("saylau.projector")
LAG = Gauge("saylau_projector_lag", "High watermark minus next offset to apply", ["partition"])


@dataclass
class Health:
    """What readiness needs: the PostgreSQL pool and when the lag was last measured."""

    cfg: Settings
    pool: asyncpg.Pool | None = None
    lag: dict[int, int] = field(default_factory=dict)
    lag_known_at: float = float("-inf")
    refusal: str | None = None
    """Why the log is not the one the read models came from (None: verified or not yet)."""
    beyond_end: list[str] = field(default_factory=list)

    async def measure_lag(self, consumer: Any) -> None:
        """Per-partition lag: the broker's end offset minus the next offset to apply."""
        tps = [tp for tp in consumer.assignment() if tp.topic == self.cfg.events_topic]
        if self.pool is None or not tps:
            return
        try:
            ends = await asyncio.wait_for(consumer.highwaters(*tps), 5)
            rows = await asyncio.wait_for(self.pool.fetch(
                f'SELECT kafka_partition, next_offset FROM "{self.cfg.read_schema}".'
                "projector_offsets WHERE topic = $1", self.cfg.events_topic), 5)
        except Exception as exc:  # noqa: BLE001 - unknown lag is what readiness reports
            log.info("lag unknown: %s", exc)
            return
        applied = {r["kafka_partition"]: r["next_offset"] for r in rows}
        self.beyond_end = [
            f"{self.cfg.events_topic} partition {tp.partition}: read models are at offset "
            f"{applied[tp.partition]} but the partition ends at {ends[tp]}"
            for tp in tps if applied.get(tp.partition, 0) > ends[tp]]
        self.lag = {tp.partition: max(ends[tp] - applied.get(tp.partition, 0), 0) for tp in tps}
        for partition, lag in self.lag.items():
            LAG.labels(str(partition)).set(lag)
        self.lag_known_at = time.monotonic()

    async def problems(self) -> list[str]:
        """Why the projector is not ready: PostgreSQL silent, or the lag not fresh."""
        problems = []
        if self.refusal:
            problems.append(f"log mismatch: {self.refusal}")
        problems += self.beyond_end
        try:
            if self.pool is None:
                raise ConnectionError("no PostgreSQL pool yet")
            await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            problems.append(f"PostgreSQL: {exc or type(exc).__name__}")
        if time.monotonic() - self.lag_known_at > self.cfg.projector_ready_seconds:
            problems.append("lag unknown (Kafka or PostgreSQL not answering, or no partitions)")
        return problems


async def serve(health: Health, port: int) -> None:
    """/healthz, /readyz and /metrics on 127.0.0.1:``port``."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        """Ready when PostgreSQL answers and the lag (which needs Kafka to answer) is fresh."""
        problems = await health.problems()
        body = {"status": "not ready" if problems else "ready", "problems": problems,
                "lag": {str(p): n for p, n in sorted(health.lag.items())}}
        return web.json_response(body, status=503 if problems else 200,
                                 headers={"Retry-After": "2"} if problems else None)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    server = web.Application()
    server.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz),
                       web.get("/metrics", metrics)])
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
