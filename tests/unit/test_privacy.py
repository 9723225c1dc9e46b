"""Personal data sealed per value: round trip, binding, erasure marker, redaction, index."""
from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import orjson
import pytest

from saylau.catalogue import Catalogue
from saylau.privacy.erasure import ErasureRequest, NotRecorded, erase, erased_payload
from saylau.privacy.keys import LocalMasterKey, MasterKeyError, load_master_key, write_key_file
from saylau.privacy.sealing import (
    Keyring,
    SealError,
    UnknownKey,
    blind_index,
    decrypt_personal,
    encrypt_personal,
    is_sealed,
    normalise,
    open_value,
    redact_personal,
    sealed_key_ids,
)

CAT = Catalogue()
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"
INDEX_KEY = b"i" * 32
NAMES = ["Zhanat Reimov", "Жанат Реимов", "Әйгерім Нұрланқызы"]
DETAINED = {"count": 3, "persons": [{"name": n, "role": "activist"} for n in NAMES],
            "reason": "held after the rally"}


def sealed_detention(keyring: Keyring, event_id: str) -> dict:
    return encrypt_personal("detention.reported", DETAINED, keyring, event_id=event_id,
                            version=2, cat=CAT)


def test_every_field_the_schemas_call_personal_is_marked() -> None:
    for (type_name, version), schema in CAT.schemas.items():
        text = orjson.dumps(schema).decode()
        assert ("Personal data" in text) == bool(CAT.personal_paths(type_name, version)), type_name
    assert CAT.personal_paths("journalist.obstructed") == (("journalist",),)
    assert CAT.personal_paths("detention.reported", 2) == (("persons", "*", "name"),)
    assert CAT.personal_paths("unauthorised_person.present") == ()  # a head count


FREE_TEXT = {"description", "reason", "note", "text", "caption", "inducement", "subject"}
"""Fields a person writes in their own words: where names end up ("DET Almaty 3 # Ivanov,
Petrova taken from the square"). Not free text: addresses, places, institutions, sources."""


def test_every_field_a_person_types_freely_is_marked_free_text() -> None:
    def strings(node: dict, at: tuple[str, ...]) -> list[tuple[tuple[str, ...], dict]]:
        found = [(at, node)] if node.get("type") == "string" and "enum" not in node else []
        for name, child in node.get("properties", {}).items():
            found += strings(child, (*at, name))
        if isinstance(node.get("items"), dict):
            found += strings(node["items"], (*at, "*"))
        return found
    for type_name, version in CAT.schemas:
        written = orjson.loads((SCHEMAS / f"{type_name}.v{version}.json").read_bytes())
        typed = {at for at, _ in strings(written, ())  # a text, or its languages
                 if at[-1] in FREE_TEXT or (len(at) > 1 and at[-2] in FREE_TEXT)}
        assert set(CAT.free_text_paths(type_name, version)) == typed, (type_name, version)
    assert CAT.free_text_paths("message.received", 1) == (("text",),)
    assert CAT.free_text_paths("detention.reported", 2) == (("reason",),)
    assert CAT.free_text_paths("evidence.attached", 1) == (("evidence", "*", "caption"),)
    assert CAT.free_text_paths("station.registered", 1) == ()  # an address is no free text
    assert CAT.free_text_paths("broadcast.sent", 1) == (("text", "kk"), ("text", "ru"),
                                                        ("text", "en"))


def test_free_text_is_sealed_opened_for_name_readers_and_withheld_from_others() -> None:
    keyring, event_id = Keyring(INDEX_KEY), str(uuid4())
    note = {"event_id": str(uuid4()), "note": "Ivanov, Petrova taken from the square " * 50}
    sealed = encrypt_personal("triage.commented", note, keyring, event_id=event_id, cat=CAT)
    assert is_sealed(sealed["note"]) and "Petrova" not in orjson.dumps(sealed).decode()
    assert sealed["event_id"] == note["event_id"]
    assert [k.blind_index for k in keyring.issued] == [None]  # found by search, not by index
    assert CAT.validate("triage.commented", 1, sealed) == []
    assert decrypt_personal("triage.commented", sealed, keyring, event_id=event_id,
                            cat=CAT) == note
    withheld = redact_personal("triage.commented", sealed, cat=CAT)
    assert withheld == {**note, "note": "[text withheld]"}
    detained = sealed_detention(keyring, event_id)
    assert is_sealed(detained["reason"])
    assert redact_personal("detention.reported", detained, 2, cat=CAT)["reason"] == (
        "[text withheld]")


def test_a_nested_caption_is_sealed_and_withheld_in_place() -> None:
    keyring, sha = Keyring(INDEX_KEY), "a" * 64
    attached = {"event_id": str(uuid4()), "evidence": [{"sha256": sha, "caption": "Ivanov"},
                                                       {"sha256": "b" * 64}]}
    sealed = encrypt_personal("evidence.attached", attached, keyring, event_id="e", cat=CAT)
    assert is_sealed(sealed["evidence"][0]["caption"]) and sealed["evidence"][1] == {
        "sha256": "b" * 64}
    assert CAT.validate("evidence.attached", 1, sealed) == []
    assert redact_personal("evidence.attached", sealed, cat=CAT)["evidence"] == [
        {"sha256": sha, "caption": "[text withheld]"}, {"sha256": "b" * 64}]
    assert decrypt_personal("evidence.attached", sealed, keyring, event_id="e",
                            cat=CAT) == attached


def test_a_free_text_too_long_to_seal_is_refused_as_plain_text() -> None:
    errors = CAT.validate("message.received", 1, {"channel": "sms", "sender": "+7701",
                                                  "text": "x" * 4097, "message_id": "m",
                                                  "event_ids": [str(uuid4())]})
    assert [e.loc for e in errors] == [("payload", "text")]  # explained as plain text
    assert "any of" not in errors[0].msg and "enc:" not in errors[0].msg
    keyring = Keyring(INDEX_KEY)
    longest = {"channel": "sms", "sender": "+7701", "text": "\U0001F600" * 4096,
               "message_id": "m", "event_ids": [str(uuid4())]}
    sealed = encrypt_personal("message.received", longest, keyring, event_id="e", cat=CAT)
    assert CAT.validate("message.received", 1, sealed) == []


def test_round_trip_hides_every_name_and_keeps_the_rest() -> None:
    keyring, event_id = Keyring(INDEX_KEY), str(uuid4())
    sealed = sealed_detention(keyring, event_id)
    text = orjson.dumps(sealed).decode()
    assert not any(name in text for name in NAMES) and "Reimov" not in text
    assert [p["role"] for p in sealed["persons"]] == ["activist"] * 3
    assert sealed["count"] == 3 and is_sealed(sealed["reason"])
    assert len(keyring.issued) == 4 and len({k.key_id for k in keyring.issued}) == 4
    assert CAT.validate("detention.reported", 2, sealed) == []
    assert decrypt_personal("detention.reported", sealed, keyring, event_id=event_id,
                            version=2, cat=CAT) == DETAINED


def test_arrays_of_names_seal_each_element_and_pass_the_schema() -> None:
    keyring, payload = Keyring(INDEX_KEY), {"observers": 2, "reason_kind": "filming", "names": ["Ә" * 200, "B"]}
    sealed = encrypt_personal("observer.expelled", payload, keyring, event_id="e", cat=CAT)
    assert all(is_sealed(v) for v in sealed["names"])
    assert CAT.validate("observer.expelled", 1, sealed) == []
    assert sealed_key_ids("observer.expelled", sealed, cat=CAT) == {
        k.key_id for k in keyring.issued}


def test_a_plaintext_name_still_has_its_length_limit() -> None:
    assert CAT.validate("observer.expelled", 1, {"observers": 1, "reason_kind": "filming",
                                               "names": ["x" * 201]})


def test_sealed_value_moved_to_another_event_or_field_does_not_open() -> None:
    keyring = Keyring(INDEX_KEY)
    sealed = encrypt_personal("fine.imposed", {"code": "CAO", "article": "102", "amount": 1,
                                               "currency": "KZT", "person": "Marat"},
                              keyring, event_id="event-a", cat=CAT)
    with pytest.raises(SealError):
        decrypt_personal("fine.imposed", sealed, keyring, event_id="event-b", cat=CAT)
    moved = {"journalist": sealed["person"], "action": "detained"}
    with pytest.raises(SealError):
        decrypt_personal("journalist.obstructed", moved, keyring, event_id="event-a", cat=CAT)


def test_tampered_ciphertext_does_not_open() -> None:
    keyring = Keyring(INDEX_KEY)
    sealed = encrypt_personal("observer.accredited", {"observer_id": "O1", "organisation": "ED",
                                                      "name": "Aigerim"},
                              keyring, event_id="e", cat=CAT)
    token = sealed["name"]
    sealed["name"] = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(SealError):
        decrypt_personal("observer.accredited", sealed, keyring, event_id="e", cat=CAT)


def test_erased_key_reads_as_erased_and_missing_key_is_an_error() -> None:
    keyring, event_id = Keyring(INDEX_KEY), "e"
    sealed = sealed_detention(keyring, event_id)
    first = keyring.issued[0].key_id
    keyring.keys[first] = None
    opened = decrypt_personal("detention.reported", sealed, keyring, event_id=event_id,
                              version=2, cat=CAT)
    assert [p["name"] for p in opened["persons"]] == ["[erased]", *NAMES[1:]]
    with pytest.raises(UnknownKey):
        decrypt_personal("detention.reported", sealed, Keyring(INDEX_KEY), event_id=event_id,
                         version=2, cat=CAT)


def test_old_plaintext_events_pass_through_decryption() -> None:
    payload = {"count": 1, "persons": ["Zhanat Reimov"]}
    assert decrypt_personal("detention.reported", payload, Keyring(INDEX_KEY), event_id="e",
                            version=1, cat=CAT) == payload


def test_v1_names_stay_readable_after_upcasting_to_v2() -> None:
    from saylau.domain.upcasters import upcast
    keyring = Keyring(INDEX_KEY)
    sealed = encrypt_personal("detention.reported", {"count": 1, "persons": ["Zhanat Reimov"]},
                              keyring, event_id="e", version=1, cat=CAT)
    version, upcast_payload = upcast("detention.reported", 1, sealed)
    opened = decrypt_personal("detention.reported", upcast_payload, keyring, event_id="e",
                              version=version, cat=CAT)
    assert opened["persons"][0]["name"] == "Zhanat Reimov"


def test_redaction_hides_every_names_field_and_keeps_head_counts() -> None:
    assert redact_personal("detention.reported", DETAINED, cat=CAT)["persons"] == "[redacted]"
    assert redact_personal("journalist.obstructed", {"journalist": "S", "action": "detained"},
                           cat=CAT)["journalist"] == "[redacted]"
    counted = {"persons": 2}
    assert redact_personal("unauthorised_person.present", counted, cat=CAT) == counted
    original = copy.deepcopy(DETAINED)
    redact_personal("detention.reported", DETAINED, cat=CAT)
    assert DETAINED == original


def test_normalisation_folds_case_width_and_spacing_but_not_scripts() -> None:
    assert normalise("  ZHANAT\u00a0 reimov ") == "zhanat reimov"
    assert normalise("ＺＨＡＮＡＴ") == "zhanat"
    assert normalise("ЖАНАТ  РЕИМОВ") == normalise("жанат реимов") == "жанат реимов"
    assert normalise("ӘЙГЕРІМ ҚҰЛ") == "әйгерім құл"
    assert blind_index(INDEX_KEY, "Zhanat Reimov") == blind_index(INDEX_KEY, "zhanat  REIMOV")
    assert blind_index(INDEX_KEY, "Zhanat Reimov") != blind_index(INDEX_KEY, "Жанат Реимов")
    assert blind_index(INDEX_KEY, "Zhanat") != blind_index(b"j" * 32, "Zhanat")


def test_issued_keys_carry_the_blind_index_of_their_value() -> None:
    keyring = Keyring(INDEX_KEY)
    sealed_detention(keyring, "e")
    assert [k.blind_index for k in keyring.issued] == [
        *(blind_index(INDEX_KEY, n) for n in NAMES), None]  # the reason: free text


def test_wrapping_round_trip_and_wrong_master_key_is_a_clear_error() -> None:
    master, other = LocalMasterKey(b"m" * 32), LocalMasterKey(b"n" * 32)
    dek = b"d" * 32
    assert master.unwrap(master.wrap(dek)) == dek
    assert master.key_id != other.key_id and "m" * 8 not in master.key_id
    with pytest.raises(MasterKeyError, match="wrong or lost master key"):
        other.unwrap(master.wrap(dek))


def test_missing_or_malformed_master_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="no master key"):
        load_master_key("", "")
    with pytest.raises(MasterKeyError, match="does not exist"):
        load_master_key("", str(tmp_path / "lost.key"))
    with pytest.raises(MasterKeyError, match="32 bytes"):
        load_master_key(base64.b64encode(b"short").decode())
    assert write_key_file(tmp_path / "k") and not write_key_file(tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o077 == 0
    assert load_master_key(file=str(tmp_path / "k")).key_id.startswith("local:")


async def test_erase_records_no_name_and_a_failed_record_is_appended_on_the_rerun() -> None:
    from tests.fake_keys import InMemoryKeyStore
    store = InMemoryKeyStore(LocalMasterKey(b"m" * 32), INDEX_KEY)
    keyring = store.keyring()
    sealed_detention(keyring, "e")
    await store.save(keyring.issued)
    appended, broker_down = [], [True]

    async def append(event: dict) -> str:
        if broker_down:
            raise NotRecorded(f"{broker_down.pop()}: broker down")
        appended.append(event)
        return "accepted"
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    request = ErasureRequest("admin", at, ("Zhanat Reimov", "жанат  РЕИМОВ"), reference="DSR-1")
    first = await erase(store, request, (), append)
    assert (first.values, first.not_recorded, appended) == (2, "True: broker down", [])
    assert store.purged == 1  # the keys are gone before the record is tried
    again = await erase(store, request, (), append)
    assert again.event is None and again.not_recorded is None
    assert [e["payload"] for e in appended] == [{"requested_by": "admin", "values": 2,
                                                  "requested_at": at.isoformat(),
                                                  "reference": "DSR-1"}]
    assert CAT.validate("personal_data.erased", 1, appended[0]["payload"]) == []
    assert "Zhanat" not in orjson.dumps(appended).decode()
    third = await erase(store, request, (), append)  # nothing pending: a request of its own
    assert third.values == 0 and appended[-1]["payload"]["values"] == 0
    assert await store.pending_erasures() == []
    with pytest.raises(ValueError, match="name"):
        await erase(store, ErasureRequest("admin", at, ("  ",)), (), append)
    with pytest.raises(ValueError):
        erased_payload("admin", datetime(2026, 1, 1), 1)


def test_a_name_is_found_in_free_text_as_words_of_its_own() -> None:
    from saylau.privacy.search import mentions, naming
    pattern = naming(["Dana Petrova", "Петрова"])
    assert pattern is not None and naming(["  "]) is None
    assert mentions("DET Almaty 3 # Ivanov, DANA  PETROVA taken from the square", pattern)
    assert mentions("called Dana Petrova's lawyer", pattern)
    assert mentions("задержана ПЕТРОВА у акимата", pattern)
    assert not mentions("Dana Petrovan filmed", pattern)
    assert not mentions("Petrova alone", pattern)  # not every spelling: give each one


async def test_texts_naming_a_person_are_found_by_opening_them() -> None:
    from saylau.privacy.records import seal_record
    from saylau.privacy.search import texts_naming
    keyring = Keyring(INDEX_KEY)
    named = seal_record(wire_record({"count": 1, "reason": "Petrova taken"}), keyring, CAT)
    other = seal_record(wire_record({"count": 1, "reason": "Ivanov taken"}), keyring, CAT)
    old = wire_record({"count": 1, "reason": "Petrova again"})  # appended before sealing
    hits = await texts_naming([named, other, old], FakeKeys(keyring), ["petrova"], CAT)
    assert hits.keys == {named["payload"]["reason"].split(":")[2]}
    assert hits.plaintext == {old["event_id"]}
    keyring.keys[next(iter(hits.keys))] = None  # erased: names nobody any more
    assert (await texts_naming([named], FakeKeys(keyring), ["petrova"], CAT)).keys == set()


class FakeKeys:
    def __init__(self, keyring: Keyring) -> None:
        self.source, self.fetches = keyring, []

    def keyring(self) -> Keyring:
        return Keyring(self.source.index_key)

    async def fill(self, keyring: Keyring, key_ids: set[str]) -> Keyring:
        self.fetches.append(set(key_ids))
        keyring.keys.update({k: self.source.keys.get(k) for k in key_ids})
        return keyring


def wire_record(payload: dict, event_type: str = "detention.reported", version: int = 2) -> dict:
    return {"event_id": str(uuid4()), "type": event_type, "schema_version": version,
            "occurred_at": "2026-11-30T10:00:00+05:00", "source": "test", "payload": payload}


async def test_records_are_revealed_with_one_key_fetch_or_redacted() -> None:
    from saylau.privacy.records import reveal, seal_record
    keyring = Keyring(INDEX_KEY)
    plain = [wire_record(DETAINED), wire_record({"journalist": "Saniya Toiken",
                                                 "action": "detained"}, "journalist.obstructed", 1)]
    sealed = [seal_record(r, keyring, CAT) for r in plain]
    assert "Saniya" not in orjson.dumps(sealed).decode()
    keys = FakeKeys(keyring)
    assert await reveal(sealed, keys, readable=True, cat=CAT) == plain
    assert len(keys.fetches) == 1 and len(keys.fetches[0]) == 5  # four names and a reason
    hidden = await reveal(sealed, keys, readable=False, cat=CAT)
    assert [r["payload"].get("persons", r["payload"].get("journalist")) for r in hidden] == [
        "[redacted]", "[redacted]"]
    assert hidden[0]["payload"]["reason"] == "[text withheld]"


async def test_names_open_for_readers_who_may_and_leave_records_that_are_no_events() -> None:
    from saylau.privacy.records import Names, seal_record
    keyring = Keyring(INDEX_KEY)
    fined = wire_record({"person": "Saniya Toiken", "article": "488", "amount": 1}, "fine.imposed", 1)
    sealed, poison = seal_record(fined, keyring, CAT), {"not": "an event"}
    assert await Names(FakeKeys(keyring), readable=True, cat=CAT).show([sealed, poison]) == [
        fined, poison]
    shown, kept = await Names(None, readable=False).show([sealed, poison])
    assert shown["payload"]["person"] == "[redacted]" and kept == poison


def test_dedup_fingerprint_is_stable_for_retries_and_keyed() -> None:
    from saylau.privacy.records import dedup_fingerprint, seal_record
    record = wire_record(DETAINED)
    keyring = Keyring(INDEX_KEY)
    assert seal_record(record, keyring, CAT) != seal_record(record, keyring, CAT)
    assert dedup_fingerprint(INDEX_KEY, record) == dedup_fingerprint(INDEX_KEY, dict(record))
    assert dedup_fingerprint(INDEX_KEY, record) != dedup_fingerprint(b"x" * 32, record)


def test_sealed_length_does_not_tell_short_from_long_names() -> None:
    keyring = Keyring(INDEX_KEY)
    payload = {"observers": 2, "reason_kind": "filming", "names": ["Al", "Aigerim Nurlanovna"]}
    sealed = encrypt_personal("observer.expelled", payload, keyring, event_id="e", cat=CAT)
    assert len(sealed["names"][0]) == len(sealed["names"][1])
    padded_edge = {**payload, "names": ["x" * 31, "y" * 32, "\U0001F600" * 200]}
    sealed = encrypt_personal("observer.expelled", padded_edge, keyring, event_id="e", cat=CAT)
    assert CAT.validate("observer.expelled", 1, sealed) == []
    assert decrypt_personal("observer.expelled", sealed, keyring, event_id="e",
                            cat=CAT) == padded_edge


def test_a_value_kept_in_a_read_model_opens_with_its_event_id_and_field() -> None:
    keyring = Keyring(INDEX_KEY)
    sealed = encrypt_personal("observer.accredited", {"observer_id": "O1", "organisation": "ED",
                                                      "name": "Aigerim"},
                              keyring, event_id="ev", cat=CAT)["name"]
    assert open_value(sealed, keyring, event_id="ev", field="name") == "Aigerim"
    assert open_value("Aigerim", keyring, event_id="ev", field="name") == "Aigerim"
    with pytest.raises(SealError):
        open_value(sealed, keyring, event_id="other", field="name")
    keyring.keys[keyring.issued[0].key_id] = None
    assert open_value(sealed, keyring, event_id="ev", field="name") == "[erased]"


def test_a_bad_name_is_explained_as_a_plain_name() -> None:
    errors = CAT.validate("observer.expelled", 1, {"observers": 1, "reason_kind": "filming",
                                                  "names": ["x" * 201, 5]})
    assert [(e.loc, e.msg.split()[-2:]) for e in errors] == [
        (("payload", "names", 0), ["too", "long"]),
        (("payload", "names", 1), ["type", "'string'"])]


def test_sealed_records_chain_and_verify_without_any_key() -> None:
    from saylau.envelope import content_hash
    from saylau.log.chain import ChainHead, ChainVerifier
    from saylau.privacy.records import seal_record
    keyring, head, verifier = Keyring(INDEX_KEY), ChainHead(), ChainVerifier()
    records = []
    for plain in (wire_record(DETAINED), wire_record(DETAINED)):
        sealed = seal_record(plain, keyring, CAT)
        records.append(head.seal({**sealed, "content_hash": content_hash(sealed)}))
    keyring.keys.clear()  # every key destroyed
    stored = [orjson.loads(orjson.dumps(r)) for r in records]
    assert [verifier.check(0, n, r) for n, r in enumerate(stored)] == [None, None]
    assert all(r["content_hash"] == content_hash({k: v for k, v in r.items()
                                                  if k not in ("content_hash", "chain")})
               for r in stored)


def test_a_value_sent_already_sealed_is_refused_naming_its_field() -> None:
    from saylau.intake.validation import validate_item
    keyring = Keyring(INDEX_KEY)
    token = encrypt_personal("fine.imposed", {"person": "Marat"}, keyring, event_id="e",
                             cat=CAT)["person"]
    item = {**wire_record({"count": 1, "reason": token}),
            "place": {"region": "Almaty"}, "evidence": [{"sha256": "a" * 64, "caption": token}]}
    errors = validate_item(item, CAT, datetime(2026, 11, 30, 12, tzinfo=UTC))
    assert [e.loc for e in errors] == [("payload", "reason"), ("evidence", 0, "caption")]
    assert all("send the plain text" in e.msg for e in errors)
    plain = {**item, "payload": {"count": 1, "reason": "enc: v1 is what he wrote"},
             "evidence": [{"sha256": "a" * 64, "caption": "the box"}]}
    assert not isinstance(validate_item(plain, CAT, datetime(2026, 11, 30, 12, tzinfo=UTC)),
                          list)


async def test_an_evidence_caption_in_the_envelope_is_sealed_and_withheld() -> None:
    from saylau.log.decode import Message, decode
    from saylau.privacy.records import open_record, redact_record, seal_record
    keyring, caption = Keyring(INDEX_KEY), "Ivanov " + "\U0001F600" * 493  # longest there is
    report = {**wire_record({"count": 1}), "place": {"region": "Almaty"},
              "evidence": [{"sha256": "a" * 64, "caption": caption}, {"sha256": "b" * 64}]}
    sealed = seal_record(report, keyring, CAT)
    assert "Ivanov" not in orjson.dumps(sealed).decode() and report["evidence"][0]["caption"]
    assert sealed["evidence"][1] == {"sha256": "b" * 64}
    assert open_record(sealed, keyring, cat=CAT) == report
    assert redact_record(sealed, CAT)["evidence"][0]["caption"] == "[text withheld]"
    decoded = decode(Message(0, 0, orjson.dumps({**sealed, "content_hash": "h"})), CAT)
    assert decoded.event.evidence[0].caption == sealed["evidence"][0]["caption"]
