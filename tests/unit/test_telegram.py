"""Telegram-style updates become the same events as the coded SMS."""
from __future__ import annotations

from typing import Any

import pytest

from saylau.channels import Context
from saylau.channels.telegram import EDITED, UpdateError, parse_update, read_update, reply

SENT = 1610244000  # 2021-01-10T02:00:00Z


def update(text: str | None, message_id: int = 7, chat: int = 4242) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": message_id, "date": SENT,
                               "from": {"id": chat, "first_name": "Aida"},
                               "chat": {"id": chat, "type": "private"}}
    if text is not None:
        message["text"] = text
    return {"update_id": 1000 + message_id, "message": message}


def test_report_command_and_plain_text_are_the_same() -> None:
    command = parse_update(read_update(update("/report PS660 OAD 4"), "bot"), Context())
    plain = parse_update(read_update(update("PS660 OAD 4"), "bot"), Context())
    assert command.events == plain.events
    (event,) = command.events
    assert event["type"] == "observer.access_denied" and event["station_id"] == "PS-660"
    assert event["occurred_at"] == "2021-01-10T02:00:00+00:00"


def test_bot_name_suffix_is_understood() -> None:
    made = parse_update(read_update(update("/report@SaylauBot PS660 BST"), "bot"), Context())
    assert made.events[0]["type"] == "ballot.stuffing_observed"


def test_redelivered_update_gives_the_same_ids_other_chats_do_not() -> None:
    def ids(raw: dict[str, Any]) -> list[str]:
        return [e["event_id"] for e in parse_update(read_update(raw, "bot"), Context()).events]

    assert ids(update("PS660 BST")) == ids(update("PS660 BST"))
    assert ids(update("PS660 BST")) != ids(update("PS660 BST", chat=99))


def test_the_reply_is_a_send_message_call_to_the_same_chat() -> None:
    read = read_update(update("PS660 XYZ"), "bot")
    answer = reply(read, parse_update(read, Context()).reply)
    assert answer["method"] == "sendMessage" and answer["chat_id"] == 4242
    assert answer["text"].startswith("Not recorded: unknown code XYZ; known: ")


def test_start_answers_with_help() -> None:
    made = parse_update(read_update(update("/start"), "bot"), Context())
    assert made.events == [] and "PS660 OAD 4" in made.reply


def test_non_text_messages_and_edits_make_nothing() -> None:
    photo = read_update(update(None), "bot")
    assert photo.inbound is None and parse_update(photo, Context()).events == []
    edited = read_update({"update_id": 5, "edited_message": {"chat": {"id": 1}}}, "bot")
    assert edited.inbound is None and parse_update(edited, Context()).reply == EDITED


def test_updates_for_nobody_get_no_reply() -> None:
    assert reply(read_update({"update_id": 5, "channel_post": {}}, "bot"), "x") == {}


@pytest.mark.parametrize("raw", [
    [], {"message": {}}, {"update_id": 1, "message": {"chat": {}}},
    {"update_id": True, "message": {"message_id": 1, "chat": {"id": 1}}},
    {"update_id": 1, "message": {"message_id": True, "chat": {"id": 1}}},
    {"update_id": 1, "message": {"message_id": 1, "chat": {"id": {}}}},
    {"update_id": 1, "message": {"message_id": 1, "chat": "4242"}},
    {"update_id": 1, "message": "PS660 BST"}, {"update_id": 1, "message": None},
    {"update_id": 1, "message": {"message_id": 1, "chat": {"id": -2**99}}},
    {"update_id": 2**64, "message": {"message_id": 1, "chat": {"id": 1}}}])
def test_what_is_not_an_update_is_refused(raw: Any) -> None:
    """As the OpenAPI document says (a chat id is a number or text, ids are numbers, not
    booleans), so nothing the document calls invalid is answered as an update."""
    with pytest.raises(UpdateError):
        read_update(raw, "bot")


@pytest.mark.parametrize("date", [10**20, -1, True, "1610244000"])
def test_a_date_that_is_no_time_records_nothing(date: Any) -> None:
    raw = update("PS660 BST")
    raw["message"]["date"] = date
    assert read_update(raw, "bot").inbound is None


def test_ids_written_as_whole_floats_are_the_same_ids() -> None:
    """``5.0`` is the integer 5 in JSON Schema (and in the document)."""
    raw = update("PS660 BST")
    raw["update_id"], raw["message"]["message_id"] = 1007.0, 7.0
    raw["message"]["chat"]["id"], raw["message"]["date"] = 4242.0, float(SENT)
    floats, ints = read_update(raw, "bot"), read_update(update("PS660 BST"), "bot")
    assert floats == ints and floats.inbound is not None


def test_an_edit_in_an_odd_shape_is_still_only_an_edit() -> None:
    for chat in ("x", [1], None):
        edited = read_update({"update_id": 5, "edited_message": {"chat": chat}}, "bot")
        assert edited.inbound is None and edited.chat_id is None


def test_the_raw_message_keeps_the_text_as_sent() -> None:
    read = read_update(update("/report PS660 BST"), "bot")
    assert read.inbound is not None and read.inbound.text == "/report PS660 BST"
