"""An observer's PIN: eight random digits, kept as an argon2id hash; attempts per address."""
from __future__ import annotations

import time

import pytest
from fastapi import HTTPException

from saylau.web.observers import PIN_DIGITS, AddressLimiter, PinHasher, new_pin


def test_a_pin_is_eight_random_digits() -> None:
    pins = {new_pin() for _ in range(200)}
    assert all(len(p) == PIN_DIGITS and p.isdigit() for p in pins) and len(pins) > 190


async def test_a_pin_matches_only_its_own_hash_and_an_unknown_observer_never_matches() -> None:
    hasher = PinHasher(threads=1)
    stored = hasher.hasher.hash("04121977")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.matches(stored, "04121977")
    assert not await hasher.matches(stored, "04121978")
    assert not await hasher.matches(None, "04121977")
    assert not await hasher.matches("not a hash", "04121977")


def test_an_address_gets_its_attempts_a_minute_then_429_with_retry_after() -> None:
    limiter = AddressLimiter(per_minute=3)
    now = time.monotonic()
    for _ in range(3):
        limiter.refuse("10.0.0.1")
    with pytest.raises(HTTPException) as refused:
        limiter.refuse("10.0.0.1")
    assert refused.value.status_code == 429 and int(refused.value.headers["Retry-After"]) >= 1
    limiter.refuse("10.0.0.2")  # another address is not held back
    assert limiter.wait_for("10.0.0.1", now + 21) == 0  # a minute's share refilled


def test_no_limit_when_set_to_zero() -> None:
    limiter = AddressLimiter(per_minute=0)
    for _ in range(100):
        limiter.refuse("10.0.0.1")
