"""Read the one QR code of an image (a photo or a screenshot of an emergency card) as text.

:func:`read_qr_image` takes a file, :func:`decode_qr_image` its bytes. Raster formats only
(:data:`IMAGE_FORMATS`: PNG, JPEG, GIF, BMP, WebP; Pillow decodes them, zxing-cpp finds and
decodes the QR code); an SVG is refused with the advice to export a PNG, since a vector drawing
would first have to be rendered.

The image is hostile input until decoded, so it is bounded at every step: at most
:data:`MAX_IMAGE_BYTES` bytes are read, the pixel count in the header is checked against
:data:`MAX_IMAGE_PIXELS` before any pixel is decoded (Pillow's own decompression-bomb warning
and error become the same typed error), and a truncated or corrupt file is refused, never
half-decoded. Every refusal is an :class:`agent.errors.InvalidInputError` whose
``details['reason']`` says which limit or step failed:

=====================  ======================  ==============================================
``reason``             ``code``                meaning
=====================  ======================  ==============================================
``imageEmpty``         ``PARSING_ERROR``       the file has no bytes
``imageTooLarge``      ``inputTooLarge``       over :data:`MAX_IMAGE_BYTES`
``imageTooManyPixels`` ``inputTooLarge``       over :data:`MAX_IMAGE_PIXELS` (a decompression
                                               bomb, or a needlessly large photo)
``svgNotSupported``    ``PARSING_ERROR``       an SVG drawing, not a raster image
``imageUnreadable``    ``PARSING_ERROR``       not in :data:`IMAGE_FORMATS`, truncated or corrupt
``noQrCode``           ``PARSING_ERROR``       no readable QR code in the image
``severalQrCodes``     ``PARSING_ERROR``       more than one QR code (``details['count']``)
=====================  ======================  ==============================================

What the QR code says is not checked here: the caller decides whether it is an emergency card.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Final

import zxingcpp
from PIL import Image, UnidentifiedImageError

from agent.errors import ErrorCode, InvalidInputError

__all__ = [
    "IMAGE_FORMATS",
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "decode_qr_image",
    "looks_like_image",
    "read_qr_image",
]

#: 32 MiB: a full-resolution photo of a 50-megapixel phone camera, with room to spare.
MAX_IMAGE_BYTES: Final = 32 * 1024 * 1024
#: 50 megapixels (8160 x 6120, the largest phone photos). Below Pillow's own limit
#: (``Image.MAX_IMAGE_PIXELS``, about 89 million), so this check always fires first; decoding
#: holds the image and a grey copy, at most about 250 MB for an RGBA image of this size.
MAX_IMAGE_PIXELS: Final = 50_000_000
#: Pillow format names accepted: the raster formats a phone or a QR generator writes.
IMAGE_FORMATS: Final = frozenset({"PNG", "JPEG", "GIF", "BMP", "WEBP"})
#: File name suffixes treated as images (``.svg`` included, to be refused with advice).
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".svg"})

#: Leading bytes of the accepted formats (WebP: ``RIFF`` and ``WEBP`` at offset 8).
_MAGIC: Final = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_QR_CODE: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_EXPORT_PNG: Final = "export the card as PNG (mydata wallet emergency-card -o card.png)"
#: What Pillow raises on corrupt data, besides OSError: its decoders use these for malformed
#: headers and chunks (``SyntaxError`` in several plugins, ``struct.error`` is a ValueError...).
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


def looks_like_image(data: bytes) -> bool:
    """Whether ``data`` starts like a PNG, JPEG, GIF, BMP or WebP file, or an SVG drawing."""
    if data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return True
    return _is_svg(data)


def read_qr_image(path: Path) -> str:
    """The text of the one QR code in the image file ``path``.

    :raises InvalidInputError: see the module docstring (``details['reason']``).
    :raises OSError: the file cannot be opened or read.
    """
    if path.suffix.lower() == ".svg":
        raise _svg_refused()
    with path.open("rb") as file:
        data = file.read(MAX_IMAGE_BYTES + 1)
    return decode_qr_image(data)


def decode_qr_image(data: bytes) -> str:
    """The text of the one QR code in the image ``data`` (a whole image file's bytes).

    :raises InvalidInputError: see the module docstring (``details['reason']``).
    """
    if not data:
        raise _refused("the image file is empty; scan or export the card again", "imageEmpty")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputError(
            f"the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB; send a smaller "
            "photo or screenshot of the card",
            code=ErrorCode.INPUT_TOO_LARGE,
            details={"reason": "imageTooLarge", "limit": MAX_IMAGE_BYTES},
        )
    if _is_svg(data):
        raise _svg_refused()
    image = _open(data)
    barcodes = zxingcpp.read_barcodes(image, formats=_QR_CODE)
    if not barcodes:
        raise _refused(
            "no readable QR code in the image; take a sharper, well-lit photo with the whole "
            "code in view, or pass the text a QR reader shows",
            "noQrCode",
        )
    if len(barcodes) > 1:
        raise InvalidInputError(
            f"the image holds {len(barcodes)} QR codes; crop it to the emergency card's code",
            code=ErrorCode.PARSING_ERROR,
            details={"reason": "severalQrCodes", "count": len(barcodes)},
        )
    return barcodes[0].text.strip()


def _open(data: bytes) -> Image.Image:
    """The first frame of the image, decoded to 8-bit grey, within the limits."""
    try:
        # Pillow warns (over Image.MAX_IMAGE_PIXELS) before it raises (over twice that); the
        # warning becomes an exception here. catch_warnings changes process-wide state: this
        # runs in the CLI, not in a threaded server. formats= keeps every other Pillow plugin
        # (EPS through Ghostscript, TIFF, ICO...) away from the file.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(IMAGE_FORMATS))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_many_pixels() from None
    except UnidentifiedImageError:
        raise _refused(
            "not a PNG, JPEG, GIF, BMP or WebP image (or a corrupt one); "
            + _EXPORT_PNG
            + ", or pass the text a QR reader shows",
            "imageUnreadable",
        ) from None
    except _DECODE_ERRORS:
        raise _corrupt() from None
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise _too_many_pixels(width, height)
        try:
            if "A" in image.getbands() or "transparency" in image.info:
                # Transparent pixels are light, as on a screen or paper: dark modules drawn on
                # a transparent background stay readable.
                rgba = image.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(white, rgba).convert("L")
            return image.convert("L")
        except _DECODE_ERRORS:
            raise _corrupt() from None


def _is_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head)


def _refused(message: str, reason: str) -> InvalidInputError:
    return InvalidInputError(message, code=ErrorCode.PARSING_ERROR, details={"reason": reason})


def _svg_refused() -> InvalidInputError:
    return _refused(
        f"an SVG drawing cannot be scanned (QR codes are read from raster images); {_EXPORT_PNG}"
        ", or take a photo or screenshot of the card",
        "svgNotSupported",
    )


def _corrupt() -> InvalidInputError:
    return _refused(
        f"the image is truncated or corrupt; {_EXPORT_PNG}, or take a new photo",
        "imageUnreadable",
    )


def _too_many_pixels(width: int | None = None, height: int | None = None) -> InvalidInputError:
    details: dict[str, object] = {"reason": "imageTooManyPixels", "limit": MAX_IMAGE_PIXELS}
    if width is not None and height is not None:
        details["width"], details["height"] = width, height
    return InvalidInputError(
        f"the image has more than {MAX_IMAGE_PIXELS // 1_000_000} million pixels; send a "
        "smaller photo or screenshot of the card",
        code=ErrorCode.INPUT_TOO_LARGE,
        details=details,
    )
