"""A price complaint's receipt photo, made safe to keep: at most the configured size, a JPEG or a
PNG by its content (never by its name or the type the browser claimed), at most
:data:`MAX_PIXELS` pixels (a decompression bomb is refused before it is decoded), turned upright
by its EXIF orientation and then re-encoded from its pixels alone, so EXIF (GPS position,
camera, time), XMP, IPTC, ICC profiles, comments and PNG text chunks are all gone."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from medledger.errors import ValidationError

#: Larger images are refused unread (a 12-megapixel phone photo is 12,000,000).
MAX_PIXELS: Final = 40_000_000
FORMATS: Final = {"JPEG": "image/jpeg", "PNG": "image/png"}
JPEG_QUALITY: Final = 85


class ReceiptTooLarge(ValidationError):
    """The photo is over the cap (its size and the cap in bytes, for the page to say)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the receipt photo is {size:,} bytes; at most {limit:,} are accepted",
            rule="complaint.receipt-size",
            pointer="receipt",
        )
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    media_type: str  # image/jpeg or image/png


def clean_receipt(data: bytes, *, limit: int) -> CleanImage:
    """``data`` re-encoded without metadata; :class:`ReceiptTooLarge` over ``limit`` bytes,
    ValidationError (rule ``complaint.receipt-format``) for anything not a JPEG or PNG."""
    if len(data) > limit:
        raise ReceiptTooLarge(len(data), limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                fmt = image.format or ""
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _not_an_image(f"the photo has {width}x{height} pixels, too many")
                image.load()
                upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise _not_an_image("the receipt is not a JPEG or PNG image") from None
    out = io.BytesIO()
    if fmt == "JPEG":
        pixels = upright if upright.mode in ("RGB", "L") else upright.convert("RGB")
        # no exif=, icc_profile=, comment=: the new file carries the pixels and nothing else
        pixels.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        pixels = (
            upright if upright.mode in ("RGB", "RGBA", "L", "LA", "P") else upright.convert("RGBA")
        )
        pixels.info.clear()
        pixels.save(out, format="PNG", optimize=True)
    return CleanImage(out.getvalue(), FORMATS[fmt])


def _not_an_image(message: str) -> ValidationError:
    return ValidationError(message, rule="complaint.receipt-format", pointer="receipt")
