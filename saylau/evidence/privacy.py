"""The privacy derivative of a photo: the same pixels, and nothing else.

Photos carry GPS positions, device serial numbers, owner names, XMP and ICC comments in
their metadata, which can identify the observer or a voter (seed 003: secrecy of the
vote). The derivative is built from decoded pixels only, after turning the image upright
by its EXIF orientation, so no metadata block of the original can survive into it.
Colour profiles are applied (converted to sRGB) and dropped.
"""
from __future__ import annotations

import io
import warnings
from typing import IO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from saylau.evidence.errors import EvidenceTooLarge, UnsupportedMediaType
from saylau.evidence.media import HEIC, JPEG, PNG

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif has wheels for the usual platforms
    HEIC_SUPPORTED = False

JPEG_QUALITY = 90
MAX_PIXELS = 120_000_000
"""Decoding more than this (~360 MB of RGB) is refused, not attempted: 413."""
_SRGB = ImageCms.createProfile("sRGB")


def strip_metadata(source: IO[bytes], media_type: str) -> tuple[bytes, str]:
    """The cleaned image and its media type: PNG stays PNG, JPEG and HEIC become JPEG."""
    if media_type not in (JPEG, PNG, HEIC):
        raise UnsupportedMediaType(f"no privacy derivative for {media_type}")
    if media_type == HEIC and not HEIC_SUPPORTED:
        raise UnsupportedMediaType("HEIC photos need pillow-heif, which is not installed")
    pixels = _upright_pixels(source)
    out = io.BytesIO()
    if media_type == PNG:
        pixels.save(out, "PNG", optimize=False)
        return out.getvalue(), PNG
    pixels.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue(), JPEG


def _upright_pixels(source: IO[bytes]) -> Image.Image:
    try:
        with warnings.catch_warnings():    # the size is checked here, against MAX_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(source)
        with opened as image:
            if image.width * image.height > MAX_PIXELS:
                raise EvidenceTooLarge(f"the image has {image.width}x{image.height} pixels; "
                                       f"at most {MAX_PIXELS} can be cleaned")
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            srgb = _to_srgb(upright)
            mode = srgb.mode if srgb.mode in ("RGB", "RGBA", "L", "LA") else _plain_mode(srgb)
            plain = srgb.convert(mode)
            return Image.frombytes(mode, plain.size, plain.tobytes())
    except Image.DecompressionBombError as error:
        raise EvidenceTooLarge(f"the image has too many pixels to clean: {error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UnsupportedMediaType(f"the image cannot be decoded: {error}") from None


def _to_srgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        embedded = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, embedded, _SRGB, outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError):
        return image                       # a broken profile: keep the pixels as they are


def _plain_mode(image: Image.Image) -> str:
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return "RGBA" if has_alpha else "RGB"
