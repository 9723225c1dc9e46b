"""Bulk import: NDJSON and CSV lines become envelopes, or errors naming the line."""
from __future__ import annotations

from datetime import UTC, datetime

import orjson

from saylau.catalogue import catalogue
from saylau.channels.bulk import COLUMNS, parse_csv, parse_ndjson, partner_namespace
from saylau.intake.validation import validate_item

KEY = bytes(32)
NS = partner_namespace("kibhr", KEY)
EVENT = {"event_id": "04ae850f-43b3-58ed-abcc-81073ccfab20", "type": "observer.access_denied",
         "schema_version": 1, "occurred_at": "2021-01-10T06:00:00+06:00", "source": "kibhr",
         "station_id": "PS-660", "payload": {"observers": 4}}
HEADER = ",".join(COLUMNS)
ROW = (',detention.reported,1,2021-01-10T12:10:00+06:00,kibhr,,Almaty,Almaty,'
       'kz-2021-01-10,"{""count"": 30}"')


def test_ndjson_lines_are_envelopes_and_blank_lines_are_skipped() -> None:
    text = orjson.dumps(EVENT).decode() + "\n\n" + "{oops\n" + "[1]\n"
    good, bad_json, not_object = parse_ndjson(text, NS)
    assert (good.number, good.item) == (1, EVENT)
    assert bad_json.number == 3 and bad_json.error and bad_json.error.startswith("not valid JSON")
    assert not_object.number == 4 and "one JSON object" in (not_object.error or "")


def test_a_line_without_id_gets_one_from_its_content_and_partner() -> None:
    bare = {k: v for k, v in EVENT.items() if k != "event_id"}
    text = orjson.dumps(bare).decode()
    (first,), (again,) = parse_ndjson(text, NS), parse_ndjson(text, NS)
    (other,) = parse_ndjson(text, partner_namespace("someone-else", KEY))
    assert first.item and again.item and other.item
    assert first.item["event_id"] == again.item["event_id"] != other.item["event_id"]
    (keyed,) = parse_ndjson(text, partner_namespace("kibhr", bytes([1]) * 32))
    assert keyed.item and keyed.item["event_id"] != first.item["event_id"]  # keyed, not uuid5


def test_csv_rows_become_envelopes_with_place_and_payload() -> None:
    text = (f"{HEADER}\n"
            ",detention.reported,1,2021-01-10T12:10:00+06:00,kibhr,,Almaty,Almaty,"
            'kz-2021-01-10,"{""count"": 30}"\n')
    (line,) = parse_csv(text, NS)
    assert line.number == 2 and line.item is not None
    assert line.item["place"] == {"region": "Almaty", "city": "Almaty"}
    assert line.item["payload"] == {"count": 30} and "station_id" not in line.item
    assert not isinstance(validate_item(line.item, catalogue(), datetime.now(UTC)), list)


def test_csv_columns_may_come_in_any_order_and_be_left_out() -> None:
    text = ("type,occurred_at,source,station_id,payload\n"
            'ballot.stuffing_observed,2021-01-10T10:30:00+05:00,kibhr,PS-1,{}\n')
    (line,) = parse_csv(text, NS)
    assert line.item and line.item["schema_version"] == 1 and line.item["event_id"]


def test_csv_row_errors_name_the_line() -> None:
    text = (f"{HEADER}\n"
            ",x.y,one,2021-01-10T10:00:00+06:00,s,PS-1,,,,{}\n"
            ",x.y,1,2021-01-10T10:00:00+06:00,s,PS-1,,,,[1]\n"
            ",x.y,1,2021-01-10T10:00:00+06:00,s,,,Almaty,,{}\n"
            ",x.y,1,2021-01-10T10:00:00+06:00,s,PS-1,,,,{},extra\n")
    errors = [(line.number, line.error) for line in parse_csv(text, NS)]
    assert errors == [(2, "schema_version must be a whole number, not 'one'"),
                      (3, "payload must be a JSON object"),
                      (4, "city given without region"),
                      (5, "more cells than the header's 10 columns")]


def test_a_bad_header_is_one_error_for_the_file() -> None:
    (line,) = parse_csv("type,when,source\nx,y,z\n", NS)
    assert line.number == 1 and line.error == (
        f"header: unknown column(s) when; missing column(s) occurred_at; columns: {HEADER}")


def test_text_that_is_not_csv_is_a_line_error_never_a_crash() -> None:
    """A lone CR ends a row as a newline does; what the csv module refuses (a field past its
    size limit) is that line's error, and the lines before it stand."""
    (row,) = parse_csv(f"{HEADER}\r{ROW}", NS)
    assert row.item is not None, row.error
    (broken,) = parse_csv("\U000f2d19\U000f31d4\xfbT\r \xbd", NS)
    assert broken.item is None and broken.error
    huge = parse_csv(f"{HEADER}\n{ROW}\n\"{'x' * 200_000}\"\n", NS)
    assert huge[0].item is not None and "not CSV" in (huge[1].error or "")
