"""Evidence: sniffing, limits, privacy derivatives, verification, export, scope rules."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from saylau.evidence import (
    EvidenceNotFound,
    EvidenceTooLarge,
    LocalEvidenceStorage,
    OriginalWithheld,
    RangeNotSatisfiable,
    Reference,
    UnsupportedMediaType,
    parse_range,
    references_in,
    servable_record,
    sniff_media_type,
    store_evidence,
    strip_metadata,
    verify_files,
    write_export_tar,
)
from tests.evidence_files import (
    OWNER,
    SERIAL,
    ftyp,
    heic_with_gps,
    jpeg_with_gps,
    minimal_mp4,
    png_header_only,
    png_with_text,
)


@pytest.fixture
def storage(tmp_path: Path) -> LocalEvidenceStorage:
    return LocalEvidenceStorage(tmp_path / "evidence")


def _open(storage: LocalEvidenceStorage, sha256: str) -> Image.Image:
    return Image.open(io.BytesIO(b"".join(storage.open(sha256))))


class TestPrivacyDerivative:
    def test_jpeg_derivative_has_no_gps_serial_or_owner_and_the_original_keeps_them(
            self, storage: LocalEvidenceStorage) -> None:
        photo = jpeg_with_gps()
        stored = store_evidence(storage, photo)
        original, clean = _open(storage, stored["sha256"]), _open(storage,
                                                                  stored["derivative_sha256"])
        assert original.getexif().get_ifd(0x8825)           # GPS IFD still in the original
        assert b"".join(storage.open(stored["sha256"])) == photo
        assert len(clean.getexif()) == 0 and not clean.getexif().get_ifd(0x8825)
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(clean.info)
        raw = b"".join(storage.open(stored["derivative_sha256"]))
        assert SERIAL not in raw and OWNER.encode() not in raw and b"GPS" not in raw
        assert clean.size == original.size and clean.format == "JPEG"

    def test_exif_orientation_is_applied_before_the_metadata_goes(self) -> None:
        rotated = jpeg_with_gps(size=(64, 32), orientation=6)    # "rotate 90° clockwise"
        clean, media_type = strip_metadata(io.BytesIO(rotated), "image/jpeg")
        assert media_type == "image/jpeg"
        assert Image.open(io.BytesIO(clean)).size == (32, 64)

    def test_icc_profiles_are_applied_and_dropped(self) -> None:
        from PIL import ImageCms

        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        photo = io.BytesIO()
        Image.new("RGB", (8, 8), (10, 120, 200)).save(photo, "JPEG", icc_profile=icc)
        assert Image.open(io.BytesIO(photo.getvalue())).info.get("icc_profile")
        clean, _ = strip_metadata(io.BytesIO(photo.getvalue()), "image/jpeg")
        assert "icc_profile" not in Image.open(io.BytesIO(clean)).info

    def test_palette_png_with_transparency_keeps_its_alpha(self) -> None:
        image = Image.new("P", (4, 4), 1)
        image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        source = io.BytesIO()
        image.save(source, "PNG", transparency=0)
        clean, media_type = strip_metadata(io.BytesIO(source.getvalue()), "image/png")
        assert media_type == "image/png"
        assert Image.open(io.BytesIO(clean)).mode == "RGBA"

    def test_png_text_chunks_and_exif_are_stripped(self, storage: LocalEvidenceStorage) -> None:
        stored = store_evidence(storage, png_with_text())
        assert stored["media_type"] == "image/png"
        clean = _open(storage, stored["derivative_sha256"])
        assert clean.format == "PNG" and clean.text == {} and "exif" not in clean.info
        raw = b"".join(storage.open(stored["derivative_sha256"]))
        assert OWNER.encode() not in raw and b"tEXt" not in raw and b"iTXt" not in raw
        assert b"eXIf" not in raw
        assert _open(storage, stored["sha256"]).text["Author"] == OWNER

    def test_heic_derivative_is_a_clean_jpeg(self, storage: LocalEvidenceStorage) -> None:
        stored = store_evidence(storage, heic_with_gps())
        assert stored["media_type"] == "image/heic"
        clean = _open(storage, stored["derivative_sha256"])
        assert clean.format == "JPEG" and len(clean.getexif()) == 0
        assert storage.record(stored["derivative_sha256"])["media_type"] == "image/jpeg"

    def test_a_jpeg_header_on_garbage_is_refused_and_nothing_is_stored(
            self, storage: LocalEvidenceStorage) -> None:
        with pytest.raises(UnsupportedMediaType):
            store_evidence(storage, b"\xff\xd8\xff\xe0" + b"not really a photo" * 10)
        assert not storage.root.exists() or not any(storage.root.glob("??/??/*"))


class TestMediaSniffing:
    @pytest.mark.parametrize(("content", "media_type"), [
        (jpeg_with_gps(), "image/jpeg"),
        (png_with_text(), "image/png"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
        (minimal_mp4(), "video/mp4"),
        (ftyp(b"mp42", b"mp42", b"isom"), "video/mp4"),
        (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"mif1", b"mif1", b"heix"), "image/heic"),
    ])
    def test_allowed_types_are_recognised_by_content(self, content: bytes,
                                                     media_type: str) -> None:
        assert sniff_media_type(content[:4096]) == media_type

    def test_real_heic_is_told_from_mp4(self) -> None:
        assert sniff_media_type(heic_with_gps()[:4096]) == "image/heic"

    @pytest.mark.parametrize("content", [
        b"MZ\x90\x00\x03\x00\x00\x00" + b"\0" * 100,        # a Windows .exe renamed .jpg
        b"\x7fELF\x02\x01\x01" + b"\0" * 100,
        b"hello, this is a .txt renamed photo.jpg\n",
        b"<html><script>alert(1)</script></html>",
        b"GIF89a\x01\x00\x01\x00",
        b"PK\x03\x04" + b"\0" * 40,                          # zip / docx
        ftyp(b"avif", b"mif1", b"avif"),                     # AVIF is HEIF, not HEIC
        ftyp(b"qt  ", b"qt  "),                              # QuickTime .mov
        ftyp(b"M4A ", b"isom"),                              # audio
        b"",
    ])
    def test_other_content_is_refused_with_415(self, content: bytes,
                                               storage: LocalEvidenceStorage) -> None:
        with pytest.raises(UnsupportedMediaType) as refused:
            store_evidence(storage, content)
        assert refused.value.status == 415


class TestSizeLimit:
    def test_over_the_limit_is_413_and_nothing_is_stored(
            self, storage: LocalEvidenceStorage) -> None:
        with pytest.raises(EvidenceTooLarge) as refused:
            store_evidence(storage, io.BytesIO(b"%PDF-" + b"x" * 2000), max_bytes=1000)
        assert refused.value.status == 413
        assert not storage.root.exists()

    def test_a_photo_with_too_many_pixels_is_413_before_decoding(
            self, storage: LocalEvidenceStorage) -> None:
        with pytest.raises(EvidenceTooLarge, match="12000x12000"):     # our limit
            store_evidence(storage, png_header_only(12000, 12000))
        with pytest.raises(EvidenceTooLarge, match="pixels"):          # Pillow's bomb guard
            store_evidence(storage, png_header_only(20000, 20000))
        assert not storage.root.exists()

    def test_exactly_the_limit_is_accepted(self, storage: LocalEvidenceStorage) -> None:
        stored = store_evidence(storage, b"%PDF-" + b"x" * 995, max_bytes=1000)
        assert stored["bytes"] == 1000 and stored["derivative_sha256"] is None


class TestVerify:
    def test_a_tampered_file_is_named_with_every_event_that_references_it(
            self, storage: LocalEvidenceStorage) -> None:
        good = store_evidence(storage, minimal_mp4(b"good"))["sha256"]
        bad = store_evidence(storage, minimal_mp4(b"evidence of stuffing"))["sha256"]
        storage.path(bad).write_bytes(minimal_mp4(b"evidence of nothing"))
        refs = [Reference("ev-1", good), Reference("ev-2", bad), Reference("ev-3", bad)]
        problems = verify_files(storage, refs)
        assert [(p.event_id, p.sha256, p.problem) for p in problems] == [
            ("ev-2", bad, "hash mismatch"), ("ev-3", bad, "hash mismatch")]
        assert f"event ev-2: evidence {bad} hash mismatch" in str(problems[0])

    def test_a_tampered_derivative_is_named_too(self, storage: LocalEvidenceStorage) -> None:
        stored = store_evidence(storage, jpeg_with_gps())
        storage.path(stored["derivative_sha256"]).unlink()
        problems = verify_files(storage, [Reference("ev-1", stored["sha256"])])
        assert [(p.event_id, p.sha256, p.problem) for p in problems] == [
            ("ev-1", stored["derivative_sha256"], "missing")]
        assert f"privacy derivative of {stored['sha256']}" in str(problems[0])

    def test_references_come_from_envelopes_and_evidence_attached(self) -> None:
        a, b = "a" * 64, "b" * 64
        report = {"event_id": "r1", "type": "incident.reported", "payload": {},
                  "evidence": [{"sha256": a, "caption": "queue"}]}
        attached = {"event_id": "r2", "type": "evidence.attached",
                    "payload": {"event_id": "r1", "evidence": [{"sha256": b}]}}
        assert references_in(report) + references_in(attached) == [
            Reference("r1", a), Reference("r2", b)]
        assert references_in({"event_id": "r3", "type": "x.y", "payload": {}}) == []


class TestExport:
    def test_tar_holds_the_ndjson_and_each_stored_file_once(
            self, storage: LocalEvidenceStorage) -> None:
        stored = store_evidence(storage, jpeg_with_gps())
        unknown = hashlib.sha256(b"lost").hexdigest()
        ndjson, out = io.BytesIO(b'{"event_id":"r1"}\n'), io.BytesIO()
        missing = write_export_tar(out, ndjson, storage,
                                   [stored["sha256"], unknown, stored["sha256"]])
        assert missing == [unknown]
        with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
            assert tar.getnames() == ["events.ndjson", f"evidence/{stored['sha256']}"]
            member = tar.extractfile(f"evidence/{stored['sha256']}")
            assert hashlib.sha256(member.read()).hexdigest() == stored["sha256"]


class TestServing:
    def test_read_keys_get_the_derivative_and_are_refused_the_photo_original(
            self, storage: LocalEvidenceStorage) -> None:
        stored = store_evidence(storage, jpeg_with_gps())
        with pytest.raises(OriginalWithheld) as refused:
            servable_record(storage, stored["sha256"], may_see_original=False)
        assert refused.value.status == 403
        assert servable_record(storage, stored["derivative_sha256"], False)["media_type"] \
            == "image/jpeg"
        assert servable_record(storage, stored["sha256"], True)["sha256"] == stored["sha256"]

    def test_video_has_no_derivative_and_is_served_to_read_keys(
            self, storage: LocalEvidenceStorage) -> None:
        stored = store_evidence(storage, minimal_mp4(b"film"))
        assert servable_record(storage, stored["sha256"], False)["media_type"] == "video/mp4"

    def test_unknown_hash_is_404(self, storage: LocalEvidenceStorage) -> None:
        with pytest.raises(EvidenceNotFound) as refused:
            servable_record(storage, "c" * 64, True)
        assert refused.value.status == 404


class TestRangeHeader:
    @pytest.mark.parametrize(("header", "expected"), [
        (None, None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)), ("bytes=990-5000", (990, 999)), ("bytes=-5000", (0, 999)),
        ("items=0-5", None), ("bytes=0-1,5-6", None), ("bytes=9-3", None), ("bytes=x-y", None),
    ])
    def test_single_ranges_are_understood_and_others_ignored(
            self, header: str | None, expected: tuple[int, int] | None) -> None:
        assert parse_range(header, 1000) == expected

    @pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
    def test_ranges_past_the_end_are_416(self, header: str) -> None:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 1000)


def test_bindings_put_attached_files_on_the_report_they_name() -> None:
    import uuid

    from saylau.envelope import Envelope
    from saylau.readmodels.evidence import bindings
    from tests.factories import envelope, stuffing

    a, b = "a" * 64, "b" * 64
    report = Envelope.model_validate(stuffing("PS-1", evidence=[{"sha256": a, "caption": "x"}]))
    attached = Envelope.model_validate(envelope("evidence.attached", {
        "event_id": str(report.event_id), "evidence": [{"sha256": b}]}))
    assert bindings(report) == [(report.event_id, a, report.event_id, 0, "x")]
    assert bindings(attached) == [(report.event_id, b, attached.event_id, 0, None)]
    assert isinstance(bindings(attached)[0][0], uuid.UUID)


def test_the_upload_limit_defaults_to_50_mib() -> None:
    from saylau.settings import Settings

    assert Settings(_env_file=None).evidence_max_bytes == 50 * 1024 * 1024
