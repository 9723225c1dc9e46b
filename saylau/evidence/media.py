"""What a file is, decided from its first bytes: never from its name or Content-Type header.

Allowed: JPEG, PNG, HEIC (photos), MP4 (video), PDF (documents). ISO base media files
(HEIC and MP4 alike) begin with an ``ftyp`` box whose major and compatible brands say which
(ISO/IEC 14496-12 §4.3; HEIF brands from ISO/IEC 23008-12 Annex B).
"""
from __future__ import annotations

import struct

from saylau.evidence.errors import UnsupportedMediaType

SNIFF_BYTES = 4096
JPEG, PNG, HEIC, MP4, PDF = "image/jpeg", "image/png", "image/heic", "video/mp4", "application/pdf"
ALLOWED = (JPEG, PNG, HEIC, MP4, PDF)
IMAGES = frozenset({JPEG, PNG, HEIC})

HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8",
                        b"mp41", b"mp42", b"mp71", b"avc1", b"M4V ", b"MSNV", b"dash"})
NOT_MP4_BRANDS = frozenset({b"avif", b"avis", b"M4A ", b"M4B ", b"qt  ", b"crx "})


def sniff_media_type(head: bytes) -> str:
    """The media type of a file from its first bytes (``SNIFF_BYTES`` are enough).

    Raises ``UnsupportedMediaType`` for anything outside ``ALLOWED``.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"%PDF-"):
        return PDF
    brands = ftyp_brands(head)
    if brands:
        return _iso_media_type(brands)
    raise UnsupportedMediaType(
        "the file is not JPEG, PNG, HEIC, MP4 or PDF (judged from its content)")


def ftyp_brands(head: bytes) -> list[bytes]:
    """Major brand then compatible brands of a leading ``ftyp`` box; empty if there is none."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return []
    (box_size,) = struct.unpack(">I", head[:4])
    if box_size < 16 or box_size % 4 or box_size > len(head):
        return []
    compatible = [head[i:i + 4] for i in range(16, box_size, 4)]
    return [head[8:12], *compatible]


def _iso_media_type(brands: list[bytes]) -> str:
    major, every = brands[0], set(brands)
    if major in NOT_MP4_BRANDS:
        raise UnsupportedMediaType(f"ISO media of brand {major.decode('latin-1')!r} is not "
                                   "accepted (HEIC photos and MP4 video are)")
    if every & HEIC_BRANDS:
        return HEIC
    if every & MP4_BRANDS:
        return MP4
    raise UnsupportedMediaType("ISO media file that is neither HEIC nor MP4")
