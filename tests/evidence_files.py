"""Evidence files built in the test: photos with metadata, a minimal MP4, HEIC headers."""
from __future__ import annotations

import io
import struct

import piexif
from PIL import Image, PngImagePlugin

GPS_LATITUDE = ((43, 1), (15, 1), (1234, 100))
SERIAL = b"SN-OBSERVER-PHONE-0042"
OWNER = "Aigerim Observer"


def _pixels(seed: bytes, size: tuple[int, int]) -> Image.Image:
    """A picture that differs for every seed: each seed byte is the colour of a pixel.

    (Colouring the background by the first byte alone gave 256 distinct photos, so two tests
    drawing random seeds uploaded the same file one time in a few hundred.)"""
    image = Image.new("RGB", size, (200, 40, 90))
    for x in range(0, size[0], 4):
        image.putpixel((x, x % size[1]), (255, 255, 255))
    for i, byte in enumerate(seed[: size[0] * size[1]]):
        # blocks of 4x4 so JPEG compression keeps them apart
        x, y = (i * 4) % size[0], ((i * 4) // size[0]) * 4 % size[1]
        for dx in range(4):
            for dy in range(4):
                if x + dx < size[0] and y + dy < size[1]:
                    image.putpixel((x + dx, y + dy), (byte, 255 - byte, byte ^ 0x5A))
    return image


def exif_with_gps(orientation: int = 1) -> bytes:
    """EXIF naming a GPS position, a device serial and an owner."""
    return piexif.dump({
        "0th": {piexif.ImageIFD.Make: b"PhoneCo", piexif.ImageIFD.Artist: OWNER.encode(),
                piexif.ImageIFD.Orientation: orientation},
        "Exif": {piexif.ExifIFD.BodySerialNumber: SERIAL,
                 piexif.ExifIFD.CameraOwnerName: OWNER.encode()},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: GPS_LATITUDE,
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((76, 1), (57, 1), (0, 1))},
    })


def jpeg_with_gps(seed: bytes = b"", size: tuple[int, int] = (64, 32),
                  orientation: int = 1) -> bytes:
    """A JPEG whose EXIF has GPS, serial and owner, plus an XMP packet and a comment."""
    out = io.BytesIO()
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{OWNER}</dc:creator></x:xmpmeta>'
    _pixels(seed, size).save(out, "JPEG", exif=exif_with_gps(orientation),
                             xmp=xmp.encode(), comment=b"owner " + OWNER.encode())
    return out.getvalue()


def png_with_text(seed: bytes = b"") -> bytes:
    """A PNG with tEXt/iTXt chunks naming the owner and a position, and EXIF."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", OWNER)
    info.add_itxt("Comment", "taken at 43.25N 76.95E", lang="en")
    out = io.BytesIO()
    _pixels(seed, (20, 20)).save(out, "PNG", pnginfo=info, exif=exif_with_gps())
    return out.getvalue()


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """An ISO-BMFF ``ftyp`` box."""
    return _box(b"ftyp", major + b"\0\0\0\0" + b"".join(compatible))


def minimal_mp4(payload: bytes = b"") -> bytes:
    """ftyp isom + an mdat; enough for content sniffing (not a playable film)."""
    return ftyp(b"isom", b"isom", b"iso2", b"mp41") + _box(b"mdat", payload)


def heic_with_gps(seed: bytes = b"") -> bytes:
    """A real HEIC photo (encoded by pillow-heif) with GPS EXIF."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    _pixels(seed, (32, 16)).save(out, "HEIF", exif=exif_with_gps())
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its IHDR but holds almost no pixel data."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))
