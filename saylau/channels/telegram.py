"""Telegram-style bot updates: the message text is a coded report (the SMS grammar).

``/report PS660 OAD 4`` and plain ``PS660 OAD 4`` are the same; ``/start`` and ``/help``
answer with the grammar. The message's own id (per chat) and its ``date`` make the events,
so Telegram re-delivering an update produces the same envelopes: a duplicate.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from saylau.channels import Context, Inbound, Made
from saylau.channels.sms import HELP, parse_sms

IGNORED = "Only text messages are read. " + HELP
EDITED = "Edits are not recorded; send the corrected report as a new message."


@dataclass(frozen=True)
class Update:
    """What one update is: a message to read (``inbound``) or nothing to record."""

    chat_id: int | str | None
    inbound: Inbound | None
    answer: str = IGNORED


MAX_ID = 2**53 - 1
"""The bound of an id (update, message, chat): what a JSON client holds exactly; the chat id
goes back in the reply."""
LAST_DATE = 253402300799
"""9999-12-31T23:59:59Z: a ``date`` past it is no time (the message records nothing)."""


class UpdateError(ValueError):
    """Not a Telegram update at all (the webhook answers 422)."""


def read_update(update: Any, gateway: str) -> Update:
    """The message carried by ``update`` (text as sent); None for updates without text."""
    if not isinstance(update, dict) or whole(update.get("update_id")) is None:
        raise UpdateError("a Telegram update is a JSON object with an integer update_id")
    message = update.get("message")
    if "message" in update and not isinstance(message, dict):
        raise UpdateError("message, when given, is a JSON object")
    if message is None:
        edited = update.get("edited_message")
        chat = (edited if isinstance(edited, dict) else {}).get("chat")
        return Update(chat_id_of(chat), None, EDITED if edited else "")
    chat_id, message_id = chat_id_of(message.get("chat")), whole(message.get("message_id"))
    text, when = message.get("text"), whole(message.get("date"))
    if chat_id is None or message_id is None:
        raise UpdateError("message.chat.id (a number or text) and message.message_id (a "
                          "number) are required")
    if not isinstance(text, str) or when is None or not 0 <= when <= LAST_DATE:
        return Update(chat_id, None)
    inbound = Inbound("telegram", gateway, f"{chat_id}:{message_id}", str(chat_id),
                      text, datetime.fromtimestamp(when, UTC))
    return Update(chat_id, inbound)


def whole(value: Any) -> int | None:
    """An integer as JSON Schema counts them (``5`` or ``5.0``, never ``true``) that every
    JSON client holds exactly (Telegram's ids do, within 52 bits), else None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_ID:
        return value
    return None


def chat_id_of(chat: Any) -> int | str | None:
    """A chat's id (Telegram's are numbers; text is kept as given), or None."""
    found = chat.get("id") if isinstance(chat, dict) else None
    return found if isinstance(found, str) else whole(found)


def command_text(text: str) -> str:
    """``/report@SaylauBot PS660 OAD 4`` → ``PS660 OAD 4``; other text unchanged."""
    head, _, rest = text.strip().partition(" ")
    if head.split("@")[0].lower() == "/report":
        return rest
    return text.strip()


def parse_update(update: Update, context: Context) -> Made:
    """Envelopes and the reply for one update (edits and non-text messages make none)."""
    if update.inbound is None:
        return Made([], update.answer)
    return parse_sms(replace(update.inbound, text=command_text(update.inbound.text)), context)


def reply(update: Update, text: str) -> dict[str, Any]:
    """The webhook answer Telegram executes as a ``sendMessage`` call."""
    if update.chat_id is None or not text:
        return {}
    return {"method": "sendMessage", "chat_id": update.chat_id, "text": text}
