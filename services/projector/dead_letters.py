"""Copying the projector's dead letters to the dead-letter topic, once committed."""
from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from saylau.log.decode import Message
from saylau.settings import Settings

log = logging.getLogger("saylau.projector")
MAX_BACKOFF = 10.0


async def publish_dead_letters(producer: AIOKafkaProducer, cfg: Settings,
                               dead: list[tuple[Message, str]]) -> None:
    """Copy each dead letter, raw bytes and reason, to the dead-letter topic (retried).

    The ``dead_letters`` table, written in the batch's own transaction, is the record (the
    admin API and replay read it); the topic is the feed for alerting and other consumers.
    """
    if not dead:
        return
    retrying = AsyncRetrying(retry=retry_if_exception_type(Exception),
                             wait=wait_exponential(multiplier=0.2, max=MAX_BACKOFF),
                             before_sleep=log_retry)
    await retrying(send_all, producer, cfg, dead)


async def send_all(producer: AIOKafkaProducer, cfg: Settings,
                   dead: list[tuple[Message, str]]) -> None:
    for message, reason in dead:
        await producer.send_and_wait(
            cfg.dead_letter_topic, message.value,
            key=f"{cfg.events_topic}/{message.partition}/{message.offset}".encode(),
            headers=[("reason", reason.encode()), ("topic", cfg.events_topic.encode()),
                     ("partition", str(message.partition).encode()),
                     ("offset", str(message.offset).encode())])


def log_retry(state: Any) -> None:
    log.warning("dead letters not published (%s); retrying in %.1fs",
                state.outcome.exception(), state.next_action.sleep)
