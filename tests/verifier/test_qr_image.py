"""``mydata er scan`` reads the emergency card from an image of its QR code: the wallet's own
PNG, a degraded photo of it, and every hostile or useless image refused with its reason."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import struct
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import segno
from PIL import Image, ImageFilter
from typer.testing import CliRunner, Result

from agent.clock import utcnow
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError
from mydata.cli import build_app
from tests.conftest import MYDATA
from tests.verifier.conftest import Party
from tests.verifier.world import STATUS_URI, SUMMARY, accreditation, emergency_card, status_token
from verifier.cli import decode_card, read_card_text
from verifier.offline import export_offline_cache
from verifier.qrimage import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, decode_qr_image, read_qr_image
from verifier.sdjwt import TokenStatusCache
from verifier.trust import TrustRegistry
from wallet.emergency import SECTIONS, EmergencyCard
from wallet.emergency import emergency_card as wallet_emergency_card


class _NoNetwork(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"network used: {request.url}")


def _card(hospital: Party, citizen: Party) -> EmergencyCard:
    """The card as ``mydata wallet emergency-card`` makes it, on the real clock (the CLI's)."""
    now = utcnow()
    credential = emergency_card(hospital, holder=citizen, status_idx=2, iat=now - timedelta(days=1))
    return wallet_emergency_card(
        credential,
        sections=list(SECTIONS),
        holder_signer=citizen.signer,
        lifetime=timedelta(days=30),
        now=now,
    )


async def _cache(hospital: Party, operator: Party) -> dict[str, object]:
    now = utcnow()
    async with httpx.AsyncClient(transport=_NoNetwork()) as http:
        resolver = DIDResolver(http_client=http)
        trust = TrustRegistry({operator.did}, resolver)
        await trust.add_accreditation(accreditation(operator, hospital.did), fetched_at=now)
        tokens = TokenStatusCache(offline=True)
        tokens.seed(STATUS_URI, status_token(hospital, {}, iat=now), fetched_at=now)
        return export_offline_cache(token_status=tokens, trust=trust)


def _scan(*args: str) -> Result:
    result = CliRunner().invoke(build_app(), ["er", "scan", *args])
    # Every outcome is an exit code, never an exception escaping with a traceback.
    assert isinstance(result.exception, SystemExit | None), result.exception
    assert "Traceback" not in result.output
    return result


def _degraded(png: bytes, kind: str) -> bytes:
    """The card as a phone might photograph it: smaller, a little turned, soft, as JPEG."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.Resampling.LANCZOS)
    image = image.rotate(4, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    image.save(out, kind, **({"quality": 75} if kind == "JPEG" else {}))
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height`` 1-bit pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = zlib.compress(b"\x00" * (1 + width // 8), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


def _qr_png(*texts: str) -> bytes:
    """One PNG with a QR code of each text, side by side."""
    codes = []
    for text in texts:
        out = io.BytesIO()
        segno.make(text, micro=False).save(out, kind="png", scale=5, border=4)
        codes.append(Image.open(io.BytesIO(out.getvalue())).convert("L"))
    sheet = Image.new("L", (sum(c.width for c in codes), max(c.height for c in codes)), 255)
    x = 0
    for code in codes:
        sheet.paste(code, (x, 0))
        x += code.width
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return out.getvalue()


def test_the_wallets_png_card_verifies_offline_from_the_image(
    hospital: Party, citizen: Party, operator: Party, tmp_path: Path
) -> None:
    card = _card(hospital, citizen)
    png = tmp_path / "card.png"
    png.write_bytes(card.png_bytes)
    assert read_qr_image(png) == card.payload_text
    assert decode_card(read_card_text(str(png))) == card.presentation
    cache = tmp_path / "cache.json"
    cache.write_text(json.dumps(asyncio.run(_cache(hospital, operator))))

    result = _scan(str(png), "--cache", str(cache))
    assert result.exit_code == 0, result.output
    assert "ACCEPTED" in result.output
    assert SUMMARY["bloodType"]["text"] in result.output
    assert "Peanut - high" in result.output
    assert "Ola Nordmann - +4791234567" in result.output
    # The same bytes under a name without suffix are recognised as an image by their content.
    plain = tmp_path / "card"
    plain.write_bytes(card.png_bytes)
    assert read_card_text(str(plain)) == card.payload_text


@pytest.mark.parametrize("kind", ["JPEG", "WEBP", "GIF", "BMP"])
def test_a_degraded_photo_of_the_card_still_decodes(
    hospital: Party, citizen: Party, kind: str
) -> None:
    card = _card(hospital, citizen)
    degraded = _degraded(card.png_bytes, kind)
    assert Image.open(io.BytesIO(degraded)).format == kind
    assert decode_qr_image(degraded) == card.payload_text


def _reason(data: bytes) -> tuple[ErrorCode, str]:
    with pytest.raises(InvalidInputError) as caught:
        decode_qr_image(data)
    return caught.value.code, caught.value.details["reason"]


def test_decompression_bombs_are_refused_before_decoding() -> None:
    # Over PIL's hard limit (an error), over its warning limit (a warning, an error in tests
    # too), and over ours only: the same typed error each time, from a file of < 100 bytes.
    for width, height in [(20_000, 20_000), (10_000, 10_000), (8_000, 7_000)]:
        assert width * height > MAX_IMAGE_PIXELS
        bomb = _png_header_only(width, height)
        assert len(bomb) < 100
        assert _reason(bomb) == (ErrorCode.INPUT_TOO_LARGE, "imageTooManyPixels")
    with pytest.raises(InvalidInputError) as caught:
        decode_qr_image(_png_header_only(8_000, 7_000))
    assert caught.value.details == {
        "reason": "imageTooManyPixels",
        "limit": MAX_IMAGE_PIXELS,
        "width": 8_000,
        "height": 7_000,
    }


def test_broken_and_useless_images_are_refused_with_their_reason(
    hospital: Party, citizen: Party
) -> None:
    card = _card(hospital, citizen)
    png = card.png_bytes
    half = png[: len(png) // 2]
    # Flip bytes inside the compressed pixel data: the checksum of its chunk fails.
    idat = png.index(b"IDAT") + 20
    flipped = png[:idat] + bytes(b ^ 0xFF for b in png[idat : idat + 16]) + png[idat + 16 :]
    assert _reason(b"") == (ErrorCode.PARSING_ERROR, "imageEmpty")
    assert _reason(half) == (ErrorCode.PARSING_ERROR, "imageUnreadable")
    assert _reason(flipped) == (ErrorCode.PARSING_ERROR, "imageUnreadable")
    assert _reason(b"\x89PNG\r\n\x1a\n") == (ErrorCode.PARSING_ERROR, "imageUnreadable")
    assert _reason(b"hello, not an image") == (ErrorCode.PARSING_ERROR, "imageUnreadable")
    assert _reason(card.svg_text.encode()) == (ErrorCode.PARSING_ERROR, "svgNotSupported")
    blank = io.BytesIO()
    Image.new("RGB", (400, 400), "white").save(blank, "PNG")
    assert _reason(blank.getvalue()) == (ErrorCode.PARSING_ERROR, "noQrCode")
    with pytest.raises(InvalidInputError) as caught:
        decode_qr_image(_qr_png("HM1:0123", "HM1:4567"))
    assert caught.value.details == {"reason": "severalQrCodes", "count": 2}
    too_large = png + bytes(MAX_IMAGE_BYTES + 1 - len(png))
    assert _reason(too_large) == (ErrorCode.INPUT_TOO_LARGE, "imageTooLarge")


def test_er_scan_exits_2_with_the_reason_and_what_to_do(
    hospital: Party, citizen: Party, tmp_path: Path
) -> None:
    card = _card(hospital, citizen)
    files = {
        "empty.png": (b"", "image file is empty"),
        "corrupt.png": (card.png_bytes[: len(card.png_bytes) // 2], "truncated or corrupt"),
        "text.png": (b"hello", "not a PNG, JPEG, GIF, BMP or WebP image"),
        "card.svg": (card.svg_text.encode(), "export the card as PNG"),
        "svg.txt": (card.svg_text.encode(), "cannot be scanned"),
        "bomb.png": (_png_header_only(10_000, 10_000), "more than 50 million pixels"),
        "two.png": (_qr_png("HM1:0123", "HM1:4567"), "holds 2 QR codes"),
        "hello.png": (_qr_png("hello"), "not an emergency card"),
        "binary": (bytes(range(128, 256)), "neither an image"),
    }
    blank = io.BytesIO()
    Image.new("L", (300, 300), 255).save(blank, "JPEG")
    files["blank.jpg"] = (blank.getvalue(), "no readable QR code")
    for name, (data, message) in files.items():
        (tmp_path / name).write_bytes(data)
        result = _scan(str(tmp_path / name))
        assert result.exit_code == 2, (name, result.output)
        assert message in " ".join(result.output.split()), (name, result.output)
    missing = _scan(str(tmp_path / "missing.png"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    # A file over the byte limit is refused after reading MAX_IMAGE_BYTES + 1 bytes at most.
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:
        file.write(card.png_bytes)
        file.truncate(4 * MAX_IMAGE_BYTES)
    result = _scan(str(huge))
    assert result.exit_code == 2
    assert "inputTooLarge" in result.output


def test_mutated_images_give_text_or_the_typed_error_only(hospital: Party, citizen: Party) -> None:
    # Random byte changes, cuts and insertions in each format (fixed seed: reproducible);
    # warnings are errors under pytest, so a Pillow warning escaping would fail here too.
    card = _card(hospital, citizen)
    sources = {"PNG": card.png_bytes}
    image = Image.open(io.BytesIO(card.png_bytes)).convert("RGB")
    for kind in ("JPEG", "GIF", "BMP", "WEBP"):
        out = io.BytesIO()
        image.save(out, kind)
        sources[kind] = out.getvalue()
    rng = random.Random(6)
    reasons: set[str] = set()
    for _ in range(400):
        data = bytearray(sources[rng.choice(sorted(sources))])
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            change = rng.random()
            if change < 0.6:
                data[at] = rng.randrange(256)
            elif change < 0.8:
                del data[at:]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            if not data:
                break
        try:
            assert isinstance(decode_qr_image(bytes(data)), str)
        except InvalidInputError as exc:
            reasons.add(exc.details["reason"])
    assert {"imageUnreadable", "noQrCode"} <= reasons


def test_the_real_command_prints_one_error_line_and_no_pillow_warning(tmp_path: Path) -> None:
    # Outside pytest's warnings-as-errors: Pillow's DecompressionBombWarning (over its own
    # limit, 89 million pixels) must become our error, not a warning printed before it.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(10_000, 10_000))
    env = {**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "default"}
    done = subprocess.run(
        [MYDATA, "er", "scan", str(bomb)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: [inputTooLarge] the image has more than 50 million pixels; send a smaller photo "
        "or screenshot of the card"
    ]


def test_a_code_on_a_transparent_background_reads_as_on_white() -> None:
    # Dark modules on fully transparent black pixels: read as grey without the alpha, all
    # would be black.
    out = io.BytesIO()
    segno.make("HM1:0123", micro=False).save(out, kind="png", light=None, scale=5)
    code = Image.open(io.BytesIO(out.getvalue())).convert("RGBA")
    canvas = Image.new("RGBA", (code.width + 40, code.height + 40), (0, 0, 0, 0))
    canvas.paste(code, (20, 20), code)
    assert canvas.getpixel((1, 1)) == (0, 0, 0, 0)
    png = io.BytesIO()
    canvas.save(png, "PNG")
    assert decode_qr_image(png.getvalue()) == "HM1:0123"
