"""schemathesis hooks for ``tests/e2e/test_schemathesis.py`` (``SCHEMATHESIS_HOOKS``).

The documents say what every request must be; ``schemathesis.toml`` widens two built-in checks
for the few things no document can say, and the checks here narrow those exceptions back to
exactly what they are for, so anything else still fails:

* ``batch_refuses_invalid_items``: a batch (``/v1/events:batch``) and a bulk import
  (``/v1/channels/import``) answer each item on its own, so an invalid item inside a
  well-formed request is a 200 whose ``results`` hold that item's 4xx. Such a 200 to invalid
  data must have refused an item.
* ``refusals_are_explained``: a request the document calls valid may still be refused for
  what only the server knows at that moment (422): a paging cursor it did not issue, a webhook
  host that does not resolve to a public address, an evidence file or a report id it does not
  hold, an occurrence time ahead of its clock; or for its size (413), which JSON Schema cannot
  bound: the request body's ``x-max-bytes``. Such a refusal must name exactly that.

And what a document cannot carry, the contents of media types: ``application/x-ndjson`` (the
import's lines) is sent as text, like ``text/csv``; evidence uploads are real (tiny) PNG, JPEG,
PDF and MP4 files, which is what the service sniffs the content for.
"""
from __future__ import annotations

import io
import json
import re
from typing import Any

import schemathesis
from hypothesis import strategies as st
from PIL import Image

PER_ITEM = {"/v1/events:batch", "/v1/channels/import"}
CURSOR = (("query", "cursor"), re.compile(r"^not a cursor of "))
STATE_BOUND: dict[tuple[str, str], tuple[tuple[tuple[str, ...], re.Pattern[str]], ...]] = {
    ("POST", "/v1/events"): (
        (("occurred_at",), re.compile(r"^occurred_at is more than a day in the future$")),
        (("evidence", "*", "sha256"), re.compile(r"^no evidence file \w+ was uploaded")),
        (("payload", "evidence", "*", "sha256"), re.compile(r"^no evidence file \w+ was uploaded")),
        (("payload", "event_id"), re.compile(r"^no accepted event has this id$"))),
    ("POST", "/v1/webhooks"): (
        (("body", "url"), re.compile(r"(does not resolve to any address$|resolves to .+ "
                                     r"address; an operator can allow it in "
                                     r"WEBHOOK_ALLOW_HOSTS$)")),),
    ("POST", "/v1/broadcasts"): (
        (("body", "regions"), re.compile(r"^(no election file lists these regions: |it would "
                                         r"reach \d+ observers)")),
        (("body", "station_ids"), re.compile(r"^not in the station registry: "))),
    ("GET", "/v1/coverage"): (
        (("query", "election_id"), re.compile(r"^no election is running now")),),
    ("GET", "/v1/map/regions"): (
        (("query", "election_id"), re.compile(r"^no election is running now")),),
    ("GET", "/v1/map/stations"): (
        (("query", "election_id"), re.compile(r"^no election is running now")),
        # a number's range and south <= north: what the bbox pattern cannot say
        (("query", "bbox"), re.compile(r"^longitudes within -180\.\.180, latitudes within"))),
    **{("GET", path): (CURSOR,) for path in (
        "/v1/admin/dead-letters", "/v1/breaches", "/v1/breaches/{breach_id}/events",
        "/v1/stations", "/v1/stations/{station_id}/timeline", "/v1/triage",
        "/v1/webhooks/{webhook_id}/deliveries")},
}
"""Per operation: the refusals of valid-looking requests that depend on the server's state
(``loc`` with ``*`` for any index, and the message)."""


def is_negative(case: Any) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_negative


def is_positive(case: Any) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@schemathesis.check
def batch_refuses_invalid_items(ctx: Any, response: Any, case: Any) -> None:
    if case.operation.path not in PER_ITEM or response.status_code != 200 or not is_negative(
            case):
        return
    codes = [item["code"] for item in response.json()["results"]]
    if not any(400 <= code < 500 for code in codes):
        raise AssertionError(f"invalid data was answered 200 with every item accepted: "
                             f"{codes}")


def matches(loc: list[Any], msg: str, allowed: tuple[str, ...], pattern: re.Pattern[str]
            ) -> bool:
    return (len(loc) == len(allowed) and all(a in ("*", str(part))
                                             for a, part in zip(allowed, loc, strict=True))
            and bool(pattern.search(msg)))


def body_size(response: Any) -> int:
    body = response.request.body
    return len(body.encode() if isinstance(body, str) else body or b"")


@schemathesis.check
def refusals_are_explained(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code == 413:
        limit = case.operation.definition.raw.get("requestBody", {}).get("x-max-bytes")
        if limit is None or body_size(response) <= limit:
            raise AssertionError(f"refused as too large: {body_size(response)} bytes, "
                                 f"the body's x-max-bytes {limit}")
        return
    if not is_positive(case) or response.status_code != 422:
        return
    allowed = STATE_BOUND.get((case.method.upper(), case.operation.path), ())
    detail = response.json()["detail"]
    items = detail if isinstance(detail, list) else [{"loc": [], "msg": detail}]
    unexplained = [item for item in items if not any(
        matches(item["loc"], item["msg"], loc, pattern) for loc, pattern in allowed)]
    if unexplained:
        raise AssertionError(f"a request valid by the document was refused for something "
                             f"other than the server's state: {unexplained}")


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """The document's NDJSON body is text; anything else goes as one JSON line."""
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8", "replace")


@st.composite
def image(draw: Any, kind: str) -> bytes:
    """A small picture of one colour, as ``kind`` (PNG, JPEG)."""
    size = (draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    colour = tuple(draw(st.integers(0, 255)) for _ in range(3))
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


MP4_HEAD = b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00"
"""An ISO base media ``ftyp`` box of brand isom: what makes a file MP4 to the service."""
schemathesis.openapi.media_type("image/png", image("PNG"))
schemathesis.openapi.media_type("image/jpeg", image("JPEG"))
schemathesis.openapi.media_type("application/pdf",
                                st.binary(max_size=512).map(b"%PDF-1.4\n".__add__))
schemathesis.openapi.media_type("video/mp4", st.binary(max_size=512).map(MP4_HEAD.__add__))
