"""Meta's PDQ perceptual hash (256 bits) and its quality score, from an image's pixels.

Pure numpy, no I/O: follows the reference C++ implementation (pdqhashing.cpp) step by step —
luminance, two passes of the Jarosz box filter along rows and columns, decimation to 64×64,
the image-domain quality metric, a 16×16 DCT, and a threshold at the median. Decoding image
files is `pdq.images`' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
HEX_LENGTH = HASH_BITS // 4
MIN_HASHABLE_DIM = 5
# The reference's own threshold for a hash fit for matching.
MIN_QUALITY = 50
_JAROSZ_PASSES = 2
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PdqHash:
    """256 bits, as 32 bytes in the reference's hex order, and the quality score (0–100)."""

    bits: bytes
    quality: int

    @property
    def hex(self) -> str:
        return self.bits.hex()

    @property
    def usable(self) -> bool:
        """Fit for matching: flat or tiny images give hashes that match far too much."""
        return self.quality >= MIN_QUALITY


def luma_from_rgb(rgb: npt.NDArray[np.uint8]) -> Floats:
    """Luminance as the reference computes it (ITU-R 601 weights), from an H×W×3 array."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected an H x W x 3 RGB array")
    return rgb.astype(np.float64) @ _LUMA


def pdq_from_luma(luma: Floats) -> PdqHash:
    """The PDQ hash of a luminance image (H×W floats, 0–255)."""
    rows, cols = luma.shape
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        return PdqHash(bytes(HASH_BYTES), 0)
    buffer = np.array(luma, dtype=np.float64)
    along_rows = _window(cols)
    along_cols = _window(rows)
    for _ in range(_JAROSZ_PASSES):
        buffer = _box(buffer, along_rows, axis=1)
        buffer = _box(buffer, along_cols, axis=0)
    small = _decimate(buffer)
    quality = _quality(small)
    dct = _dct_matrix()
    coefficients = dct @ small @ dct.T
    return PdqHash(_bits(coefficients), quality)


def _window(dimension: int) -> int:
    """computeJaroszFilterWindowSize: ceil(dimension / 128), in integers."""
    return (dimension + 2 * 64 - 1) // (2 * 64)


def _box(values: Floats, window: int, *, axis: int) -> Floats:
    """The reference's box1DFloat along ``axis``: a centred running mean whose window grows
    from about half at the start and shrinks again at the end."""
    data = np.moveaxis(values, axis, -1)
    length = data.shape[-1]
    half = (window + 2) // 2
    # Output k averages inputs [k - (window - half), k + half - 1], clipped to the vector.
    lows = np.clip(np.arange(length) - (window - half), 0, length)
    highs = np.clip(np.arange(length) + half, 0, length)
    sums = np.concatenate(
        [np.zeros((*data.shape[:-1], 1)), np.cumsum(data, axis=-1, dtype=np.float64)], axis=-1
    )
    out = (sums[..., highs] - sums[..., lows]) / (highs - lows)
    return np.moveaxis(out, -1, axis)


def _decimate(values: Floats) -> Floats:
    rows, cols = values.shape
    picked_rows = ((np.arange(64) + 0.5) * rows / 64).astype(np.int64)
    picked_cols = ((np.arange(64) + 0.5) * cols / 64).astype(np.int64)
    return values[np.ix_(picked_rows, picked_cols)]


def _quality(small: Floats) -> int:
    """computePDQImageDomainQualityMetric: summed truncated gradients, over 90, at most 100."""
    down = np.trunc((small[:-1, :] - small[1:, :]) * 100 / 255)
    across = np.trunc((small[:, :-1] - small[:, 1:]) * 100 / 255)
    gradient = int(np.abs(down).sum() + np.abs(across).sum())
    return min(gradient // 90, 100)


@cache
def _dct_matrix() -> Floats:
    """The 16×64 DCT-II rows the reference uses (without the DC row)."""
    i = np.arange(1, 17).reshape(-1, 1)
    j = np.arange(64).reshape(1, -1)
    matrix: Floats = np.sqrt(2.0 / 64.0) * np.cos((np.pi / 2 / 64.0) * i * (2 * j + 1))
    return matrix


def _bits(coefficients: Floats) -> bytes:
    """Bit k (k = 16 i + j) is set when coefficient (i, j) exceeds the median; the hex form
    prints the 16-bit words from the last to the first."""
    flat = coefficients.reshape(-1)
    median = np.sort(flat)[(len(flat) + 1) // 2 - 1]  # Torben's median: the lower one
    set_bits = flat > median
    words = set_bits.reshape(16, 16).astype(np.uint32) << np.arange(16, dtype=np.uint32)
    values = words.sum(axis=1)
    return b"".join(int(v).to_bytes(2, "big") for v in values[::-1])


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance between two hashes."""
    return int.bit_count(int.from_bytes(a, "big") ^ int.from_bytes(b, "big"))


def parse_hex(text: str) -> bytes:
    text = text.strip().lower()
    if len(text) != HEX_LENGTH:
        raise ValueError(f"a PDQ hash is {HEX_LENGTH} hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("a PDQ hash is hex") from None
