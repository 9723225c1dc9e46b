"""An SMS gateway's webhook read as the OpenAPI document says: each field a string or a number,
the time RFC 3339 or Unix seconds; anything else is a 422 naming it, never a 500."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import HTTPException

from services.ingest.gateway import ID_FIELDS, MAX_UNIX, SENDER_FIELDS, first, sent_at

NOW = datetime(2021, 1, 10, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("data, expected", [
    ({"from": "+77010000000"}, "+77010000000"), ({"from": 77010000000}, "77010000000"),
    ({"from": "", "msisdn": "+7701"}, "+7701"), ({"from": None, "sender": 5.5}, "5.5")])
def test_the_first_given_name_is_read_as_text(data: dict[str, Any], expected: str) -> None:
    assert first(data, SENDER_FIELDS) == expected


@pytest.mark.parametrize("value", [True, {}, [], {"id": 1}])
def test_a_field_that_is_neither_text_nor_a_number_is_refused(value: Any) -> None:
    with pytest.raises(HTTPException) as refused:
        first({"message_id": value}, ID_FIELDS)
    assert refused.value.status_code == 422
    assert refused.value.detail[0]["loc"] == ["body", "message_id"]


@pytest.mark.parametrize("value, expected", [
    ("2021-01-10T12:00:00+06:00", datetime(2021, 1, 10, 6, 0, tzinfo=UTC)),
    ("1610258400", datetime(2021, 1, 10, 6, 0, tzinfo=UTC)),
    (1610258400, datetime(2021, 1, 10, 6, 0, tzinfo=UTC)),
    (1610258400.5, datetime(2021, 1, 10, 6, 0, tzinfo=UTC)),
    ("", NOW), (None, NOW)])
def test_the_time_is_rfc3339_or_unix_seconds(value: Any, expected: datetime) -> None:
    assert sent_at({"timestamp": value}, NOW) == expected


@pytest.mark.parametrize("value", [
    True, False, [], {}, -1, -0.5, MAX_UNIX + 1, 10**30, 1e308, "99999999999",
    "2021-01-10", "2021-01-10T12:00:00", "2021-01-10T12:00+06:00", "0001-01-01T00:30:00+01:00",
    "١٢٣"])
def test_any_other_time_is_refused_never_a_500(value: Any) -> None:
    with pytest.raises(HTTPException) as refused:
        sent_at({"timestamp": value}, NOW)
    assert refused.value.status_code == 422
