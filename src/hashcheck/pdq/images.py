"""PDQ hashes of image files: decoding (Pillow), EXIF orientation, first frame of animations.

Owns reading image files; the hash itself is `pdq.algorithm`'s. Formats: JPEG, PNG, GIF
(first frame), WebP, BMP, TIFF — whatever this Pillow decodes, refused clearly otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from hashcheck.pdq.algorithm import PdqHash, luma_from_rgb, pdq_from_luma

# Decompression bombs: Pillow refuses images over this many pixels (its own default warns at
# ~89M and refuses at twice that; hashing needs no more than a large photograph).
MAX_PIXELS = 100_000_000


class NotAnImage(ValueError):
    """The file is not an image this installation can decode."""


def pdq_of_image(source: Path | BinaryIO) -> PdqHash:
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise NotAnImage("PDQ needs Pillow: install hashcheck[pdq]") from None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(source) as image:
            image.seek(0)  # the first frame of a GIF or animated WebP
            upright = ImageOps.exif_transpose(image)
            rgb = np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise NotAnImage(f"cannot decode the image: {exc}") from None
    return pdq_from_luma(luma_from_rgb(rgb))
