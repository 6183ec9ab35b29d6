"""PDQ hashes of image files: decoding (Pillow), EXIF orientation, first frame of animations.

Owns reading image files; the hash itself is `pdq.algorithm`'s. Formats: JPEG, PNG, GIF
(first frame), WebP, BMP, TIFF — whatever this Pillow decodes, refused clearly otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from hashcheck.pdq.algorithm import PdqHash, pdq_from_rgb

# Decompression bombs: larger images are not decoded (a few kilobytes of PNG can claim
# 10,000 × 10,000 pixels; decoding takes gigabytes). 50 M covers a 48-megapixel photograph.
MAX_PIXELS = 50_000_000


class NotAnImage(ValueError):
    """The file is not an image this installation can decode."""


def pdq_of_image(source: Path | BinaryIO, *, max_pixels: int = MAX_PIXELS) -> PdqHash:
    """Refuses (`NotAnImage`) an image of more than ``max_pixels`` before decoding it. Pillow's
    own limit (`Image.MAX_IMAGE_PIXELS`, a process-wide setting of the app this may run in)
    is left as it is."""
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise NotAnImage("PDQ needs Pillow: install hashcheck[pdq]") from None
    try:
        with Image.open(source) as image:  # reads the header only: the size, not the pixels
            width, height = image.size
            if width * height > max_pixels:
                raise NotAnImage(f"{width} × {height} pixels, more than the {max_pixels:,} hashed")
            image.seek(0)  # the first frame of a GIF or animated WebP
            image.load()
            # In place, and converted only when it is not RGB already: copies of a large
            # photograph are what costs memory here.
            ImageOps.exif_transpose(image, in_place=True)
            rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    except NotAnImage:
        raise
    except UnidentifiedImageError:
        # Its own message names the file object (a repr, for bytes in memory).
        raise NotAnImage("cannot decode the image: not a format this Pillow reads") from None
    except (Image.DecompressionBombError, OSError, ValueError) as exc:
        raise NotAnImage(f"cannot decode the image: {exc}") from None
    return pdq_from_rgb(rgb)
