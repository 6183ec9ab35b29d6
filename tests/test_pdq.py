"""PDQ hashing against Meta's reference vectors (tests/data/pdq), every image format the
issue names, EXIF orientation, and the quality gate."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hashcheck.pdq.algorithm import (
    HASH_BYTES,
    MIN_QUALITY,
    distance,
    luma_from_rgb,
    parse_hex,
    pdq_from_luma,
)
from hashcheck.pdq.images import NotAnImage, pdq_of_image
from tests.pdq_reference import DATA, EXPECTED

# The reference data's own tolerance across decoders (README); with the same decoder
# (Pillow) this implementation agrees bit for bit.
ACROSS_DECODERS = 10


@pytest.mark.parametrize("row", EXPECTED, ids=[row["file"] for row in EXPECTED])
def test_reference_vectors(row: dict[str, str]) -> None:
    found = pdq_of_image(DATA / row["file"])
    assert found.quality == int(row["quality"])
    assert distance(found.bits, parse_hex(row["pdq"])) <= ACROSS_DECODERS
    if row["file"].endswith(".png"):
        assert found.hex == row["pdq"]  # lossless: no decoder can differ


def test_modified_copies_match_and_flat_images_are_flagged() -> None:
    original = pdq_of_image(DATA / "aaa-orig.jpg")
    bridges = [
        row["file"] for row in EXPECTED if row["file"] not in ("c.png", "small.jpg", "wee.jpg")
    ]
    assert len(bridges) == 12
    for name in bridges:
        assert distance(pdq_of_image(DATA / name).bits, original.bits) <= 31, name
    assert not pdq_of_image(DATA / "small.jpg").usable
    wee = pdq_of_image(DATA / "wee.jpg")
    assert wee.usable and wee.quality == 100
    unrelated = pdq_of_image(DATA / "c.png")
    assert distance(unrelated.bits, original.bits) > 31


@pytest.mark.parametrize(
    ("fmt", "options", "tolerance"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("GIF", {}, 31),  # a 256-colour palette changes pixels
        ("JPEG", {"quality": 95}, 31),
    ],
)
def test_formats(fmt: str, options: dict[str, object], tolerance: int) -> None:
    with Image.open(DATA / "c.png") as image:
        reference = pdq_of_image(DATA / "c.png")
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format=fmt, **options)
    buffer.seek(0)
    assert distance(pdq_of_image(buffer).bits, reference.bits) <= tolerance


def test_first_frame_of_an_animation() -> None:
    with Image.open(DATA / "c.png") as image:
        first = image.convert("RGB")
    second = Image.fromarray(255 - np.asarray(first))
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100)
    buffer.seek(0)
    found = pdq_of_image(buffer)
    assert distance(found.bits, pdq_of_image(DATA / "c.png").bits) <= 31


def test_exif_orientation_is_honoured() -> None:
    with Image.open(DATA / "aaa-orig.jpg") as image:
        turned = image.transpose(Image.Transpose.ROTATE_90)  # stored turned anticlockwise ...
        exif = Image.Exif()
        exif[0x0112] = 6  # ... with "rotate 90 degrees clockwise to display"
        buffer = io.BytesIO()
        turned.save(buffer, format="JPEG", quality=95, exif=exif)
    buffer.seek(0)
    upright = pdq_of_image(DATA / "aaa-orig.jpg")
    assert distance(pdq_of_image(buffer).bits, upright.bits) <= 31
    buffer.seek(0)
    with Image.open(buffer) as stored:  # without honouring the tag it would not match
        sideways = pdq_from_luma(luma_from_rgb(np.asarray(stored.convert("RGB"))))
    assert distance(sideways.bits, upright.bits) > 31


def test_tiny_flat_and_broken_inputs() -> None:
    assert pdq_from_luma(np.zeros((4, 100))).bits == bytes(HASH_BYTES)
    flat = pdq_from_luma(np.full((200, 300), 128.0))
    assert flat.quality == 0 and flat.quality < MIN_QUALITY
    with pytest.raises(NotAnImage):
        pdq_of_image(io.BytesIO(b"not an image at all"))
    with pytest.raises(ValueError, match="64 hex"):
        parse_hex("abc")
    with pytest.raises(ValueError, match="hex"):
        parse_hex("zz" * 32)


def _box1d(values: list[float], window: int) -> list[float]:
    """pdqhashing.cpp's box1DFloat, transcribed loop for loop (in double precision)."""
    half = (window + 2) // 2
    phase_1 = half - 1
    phase_2 = window - half + 1
    phase_3 = len(values) - window
    phase_4 = half - 1
    out: list[float] = []
    total, count, li, ri = 0.0, 0, 0, 0
    for _ in range(phase_1):
        total += values[ri]
        count += 1
        ri += 1
    for _ in range(phase_2):
        total += values[ri]
        count += 1
        ri += 1
        out.append(total / count)
    for _ in range(phase_3):
        total += values[ri] - values[li]
        ri += 1
        li += 1
        out.append(total / count)
    for _ in range(phase_4):
        total -= values[li]
        count -= 1
        li += 1
        out.append(total / count)
    return out


def _pdq_step_by_step(luma: np.ndarray) -> tuple[bytes, int]:
    """The reference's order of work — filter rows, then columns, twice; decimate; DCT — for
    comparison with the matrix form the implementation uses."""
    from hashcheck.pdq import algorithm

    rows, cols = luma.shape
    grid = [list(map(float, row)) for row in luma]
    for _ in range(2):
        grid = [_box1d(row, algorithm._window(cols)) for row in grid]
        columns = [
            _box1d(list(column), algorithm._window(rows)) for column in zip(*grid, strict=True)
        ]
        grid = [list(row) for row in zip(*columns, strict=True)]
    picked_rows = [int((i + 0.5) * rows / 64) for i in range(64)]
    picked_cols = [int((j + 0.5) * cols / 64) for j in range(64)]
    small = np.array([[grid[i][j] for j in picked_cols] for i in picked_rows])
    dct = algorithm._dct_matrix()
    return algorithm._bits(dct @ small @ dct.T), algorithm._quality(small)


@pytest.mark.parametrize("shape", [(5, 7), (64, 64), (97, 130), (129, 257), (300, 211)])
def test_the_matrix_form_equals_the_reference_order_of_work(shape: tuple[int, int]) -> None:
    """Sizes past 128 pixels have filter windows wider than one: the edges of the window,
    where it grows and shrinks, are where a rewrite would go wrong."""
    generator = np.random.default_rng(sum(shape))
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    luma = np.round(128 + 90 * np.sin(x / 9.0) * np.cos(y / 13.0) + generator.random(shape) * 20)
    found = pdq_from_luma(luma)
    assert (found.bits, found.quality) == _pdq_step_by_step(luma)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header for a 1-bit image of that size: a few dozen bytes that would decode to
    width × height pixels (a decompression bomb's first step)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_images_claiming_too_many_pixels_are_not_decoded() -> None:
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(NotAnImage, match="9000 × 9000 pixels, more than"):
        pdq_of_image(io.BytesIO(_png_claiming(9000, 9000)))
    assert before == Image.MAX_IMAGE_PIXELS  # the host app's own Pillow setting is its own
    with pytest.raises(NotAnImage, match="more than the 100 hashed"):
        pdq_of_image(DATA / "aaa-orig.jpg", max_pixels=100)


def test_rgb_images_hash_alike_a_band_at_a_time_or_whole() -> None:
    from hashcheck.pdq import algorithm

    generator = np.random.default_rng(5)
    y, x = np.mgrid[0:700, 0:3000]
    base = 128 + 90 * np.sin(x / 40.0) * np.cos(y / 25.0)
    rgb = np.clip(base[..., None] + generator.random((700, 3000, 3)) * 30, 0, 255).astype(np.uint8)
    whole = pdq_from_luma(luma_from_rgb(rgb))
    banded = algorithm.pdq_from_rgb(rgb)  # 349 rows a band here: three bands
    assert (banded.bits, banded.quality) == (whole.bits, whole.quality)
