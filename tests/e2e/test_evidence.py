"""Evidence end to end: upload, privacy by scope, binding to reports, Range, verify, export."""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import piexif
import pytest
from PIL import Image

from saylau.evidence import LocalEvidenceStorage
from tests.evidence_files import GPS_LATITUDE, jpeg_with_gps, minimal_mp4
from tests.factories import envelope, stuffing, unique
from tests.stack import EVIDENCE_LIMIT, ROOT, Stack, wait_until

SAYLAU = ROOT / ".venv" / "bin" / "saylau"
pytestmark = pytest.mark.integration


def upload(stack: Stack, content: bytes, name: str = "photo.jpg",
           content_type: str = "image/jpeg") -> httpx.Response:
    return httpx.post(f"{stack.ingest_url}/v1/evidence", timeout=30,
                      files={"file": (name, content, content_type)},
                      headers={"Authorization": f"Bearer {stack.writer_key}"})


def stored(stack: Stack, content: bytes, **kwargs: Any) -> dict[str, Any]:
    reply = upload(stack, content, **kwargs)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def fetch(stack: Stack, sha256: str, key: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{stack.api_url}/v1/evidence/{sha256}", timeout=30,
                     headers={"Authorization": f"Bearer {key}", **headers})


def gps_of(jpeg: bytes) -> Any:
    exif = Image.open(io.BytesIO(jpeg)).info.get("exif")
    return piexif.load(exif)["GPS"].get(piexif.GPSIFD.GPSLatitude) if exif else None


def test_readers_get_the_photo_without_gps_auditors_the_original(stack: Stack) -> None:
    photo = jpeg_with_gps(uuid.uuid4().bytes)
    first = stored(stack, photo)
    assert first["media_type"] == "image/jpeg" and first["bytes"] == len(photo)
    again = upload(stack, photo)
    assert again.status_code == 200 and again.json() == first

    withheld = fetch(stack, first["sha256"], stack.reader_key)
    assert withheld.status_code == 403 and first["derivative_sha256"] in withheld.text
    derivative = fetch(stack, first["derivative_sha256"], stack.reader_key)
    assert derivative.status_code == 200 and derivative.headers["content-type"] == "image/jpeg"
    assert gps_of(derivative.content) is None and b"Observer" not in derivative.content

    original = fetch(stack, first["sha256"], stack.writer_key)   # all scopes: audit, admin
    assert original.status_code == 200 and original.content == photo
    assert gps_of(original.content) == GPS_LATITUDE


def test_content_decides_the_media_type_and_size_is_limited(stack: Stack) -> None:
    refused = upload(stack, b"MZ\x90\x00 not a photo at all", name="photo.jpg")
    assert refused.status_code == 415
    big = minimal_mp4(os.urandom(EVIDENCE_LIMIT + 100_000))
    assert upload(stack, big, name="film.mp4", content_type="video/mp4").status_code == 413
    head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    chunked = httpx.post(f"{stack.ingest_url}/v1/evidence", timeout=30,
                         content=iter([head, big, b"\r\n--x--\r\n"]),
                         headers={"Authorization": f"Bearer {stack.writer_key}",
                                  "Content-Type": "multipart/form-data; boundary=x"})
    assert chunked.status_code == 413
    missing = httpx.post(f"{stack.ingest_url}/v1/evidence", timeout=30, data={"other": "x"},
                         headers={"Authorization": f"Bearer {stack.writer_key}"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "file"]
    reader = httpx.post(f"{stack.ingest_url}/v1/evidence", files={"file": ("a", b"x")},
                        headers={"Authorization": f"Bearer {stack.reader_key}"}, timeout=30)
    assert reader.status_code == 403


def test_a_report_naming_an_unknown_file_is_refused_naming_the_item(stack: Stack) -> None:
    known = stored(stack, minimal_mp4(uuid.uuid4().bytes), name="f.mp4")["sha256"]
    unknown = uuid.uuid4().hex * 2
    reply = stack.post(stuffing(unique("PS"), evidence=[{"sha256": known},
                                                        {"sha256": unknown}]))
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["evidence", 1, "sha256"]
    assert unknown in reply.json()["detail"][0]["msg"]


def test_files_show_on_the_report_timeline_and_breach_including_attached_ones(
        stack: Stack) -> None:
    station = unique("PS")
    photo = stored(stack, jpeg_with_gps(uuid.uuid4().bytes))
    film = stored(stack, minimal_mp4(uuid.uuid4().bytes), name="f.mp4")
    report = stuffing(station, evidence=[{"sha256": photo["sha256"], "caption": "the box"}])
    assert stack.post(report).status_code == 202
    attached = envelope("evidence.attached", {"event_id": report["event_id"],
                                              "evidence": [{"sha256": film["sha256"]}]})
    assert stack.post(attached).status_code == 202

    def files_on_event() -> list[dict[str, Any]]:
        reply = stack.get(f"/v1/events/{report['event_id']}")
        assert reply.status_code == 200
        files = reply.json()["evidence_files"]
        assert len(files) == 2
        return files  # type: ignore[no-any-return]

    own, added = wait_until(files_on_event)
    assert (own["sha256"], own["caption"], own["derivative_sha256"]) == \
        (photo["sha256"], "[text withheld]", photo["derivative_sha256"])  # free text
    opened = httpx.get(f"{stack.api_url}/v1/events/{report['event_id']}", timeout=30,
                       headers={"Authorization": f"Bearer {stack.writer_key}"}).json()
    assert opened["evidence_files"][0]["caption"] == "the box"  # an admin key reads it
    assert (added["sha256"], added["bound_by"], added["media_type"]) == \
        (film["sha256"], attached["event_id"], "video/mp4")
    timeline = stack.get(f"/v1/stations/{station}/timeline").json()["events"]
    [shown] = [e for e in timeline if e["event_id"] == report["event_id"]]
    assert [f["sha256"] for f in shown["evidence_files"]] == [photo["sha256"], film["sha256"]]
    [breach] = [b for b in stack.walk("/v1/breaches", "breaches", rule="ballot.stuffing") if b["station_id"] == station]
    assert {f["sha256"] for f in breach["evidence_files"]} == {photo["sha256"], film["sha256"]}


def test_video_is_served_in_ranges(stack: Stack) -> None:
    film = minimal_mp4(os.urandom(4000))
    sha = stored(stack, film, name="f.mp4", content_type="video/mp4")["sha256"]
    part = fetch(stack, sha, stack.reader_key, Range="bytes=100-199")
    assert part.status_code == 206 and part.content == film[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(film)}"
    assert part.headers["accept-ranges"] == "bytes"
    assert fetch(stack, sha, stack.reader_key, Range="bytes=-10").content == film[-10:]
    past = fetch(stack, sha, stack.reader_key, Range=f"bytes={len(film)}-")
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(film)}"
    whole = fetch(stack, sha, stack.reader_key)
    assert whole.status_code == 200 and whole.content == film
    assert fetch(stack, uuid.uuid4().hex * 2, stack.reader_key).status_code == 404
    assert fetch(stack, "not-a-digest", stack.reader_key).status_code == 422


def saylau(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SAYLAU), *args], check=False, env=stack.env,
                          capture_output=True, text=True, timeout=300)


def test_export_carries_the_files_and_verify_names_a_tampered_one(stack: Stack,
                                                                  tmp_path: Path) -> None:
    film = minimal_mp4(uuid.uuid4().bytes)
    sha = stored(stack, film, name="f.mp4")["sha256"]
    report = stuffing(unique("PS"), evidence=[{"sha256": sha}])
    assert stack.post(report).status_code == 202

    bundle = tmp_path / "export.tar"
    done = saylau(stack, "export", "--with-evidence", str(bundle))
    assert done.returncode == 0, done.stderr
    with tarfile.open(bundle) as tar:
        assert tar.extractfile(f"evidence/{sha}").read() == film  # type: ignore[union-attr]
        assert report["event_id"].encode() in tar.extractfile("events.ndjson").read()  # type: ignore[union-attr]

    path = LocalEvidenceStorage(stack.env["EVIDENCE_DIR"]).path(sha)
    path.write_bytes(minimal_mp4(b"something else"))
    done = saylau(stack, "verify", "--evidence")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"event {report['event_id']}: evidence {sha} hash mismatch" in done.stdout
    path.write_bytes(film)              # the session's stack stays clean for later tests
