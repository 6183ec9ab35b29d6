"""Meta's PDQ perceptual hash (256 bits) and its quality score, from an image's pixels.

Pure numpy, no I/O: follows the reference C++ implementation (pdqhashing.cpp) — luminance,
two passes of the Jarosz box filter along rows and columns, decimation to 64×64, the
image-domain quality metric, a 16×16 DCT, and a threshold at the median. The filter passes and
the decimation are linear, so along each axis they are one 64×n matrix (`_reducer`), and an
image's 64×64 is two matrix products: the same sums, in double precision (the reference's
float32 rounds more), at a fraction of the cost. Decoding image files is `pdq.images`' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
HEX_LENGTH = HASH_BITS // 4
MIN_HASHABLE_DIM = 5
# The reference's own threshold for a hash fit for matching.
MIN_QUALITY = 50
_JAROSZ_PASSES = 2
_BAND_PIXELS = 1 << 20  # pixels of an RGB image made luminance at once
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
    pixels = np.asarray(luma, dtype=np.float64)
    return _hashed(_reducer(rows) @ (pixels @ _reducer(cols).T))


def pdq_from_rgb(rgb: npt.NDArray[np.uint8]) -> PdqHash:
    """The PDQ hash of an H×W×3 RGB image, its luminance made a band of rows at a time: the
    whole image in doubles would take 24 bytes a pixel (a 50-megapixel photo, 1.2 GB)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected an H x W x 3 RGB array")
    rows, cols = rgb.shape[:2]
    if rows * cols <= _BAND_PIXELS or min(rows, cols) < MIN_HASHABLE_DIM:
        return pdq_from_luma(luma_from_rgb(rgb))  # most images and video frames: one band
    band = max(1, _BAND_PIXELS // cols)  # rows of luminance at once
    left, right = _reducer(rows), _reducer(cols).T
    small: Floats = np.zeros((64, 64))
    for start in range(0, rows, band):
        luma = rgb[start : start + band].astype(np.float64) @ _LUMA
        small += left[:, start : start + band] @ (luma @ right)
    return _hashed(small)


def _hashed(small: Floats) -> PdqHash:
    """Quality, DCT and bits from the filtered, decimated 64×64."""
    dct = _dct_matrix()
    return PdqHash(_bits(dct @ small @ dct.T), _quality(small))


def _window(dimension: int) -> int:
    """computeJaroszFilterWindowSize: ceil(dimension / 128), in integers."""
    return (dimension + 2 * 64 - 1) // (2 * 64)


def _reducer(length: int) -> Floats:
    """The 64 × ``length`` matrix that filters a vector of ``length`` (both Jarosz passes)
    and keeps the 64 samples the decimation picks; cached for the sizes met most."""
    if length <= _CACHED_UP_TO:
        return _cached_reducer(length)
    return _build_reducer(length)


def _build_reducer(length: int) -> Floats:
    picked = ((np.arange(64) + 0.5) * length / 64).astype(np.int64)
    rows: Floats = np.zeros((64, length))
    rows[np.arange(64), picked] = 1.0
    window = _window(length)
    for _ in range(_JAROSZ_PASSES):
        rows = _through_box(rows, window)
    return np.ascontiguousarray(rows)


def _through_box(rows: Floats, window: int) -> Floats:
    """``rows @ B`` for the reference's box1DFloat as a matrix B: output k averages inputs
    [k - (window - half), k + half - 1], clipped to the vector (a window that grows from
    about half at the start and shrinks again at the end)."""
    length = rows.shape[1]
    half = (window + 2) // 2
    lows = np.clip(np.arange(length) - (window - half), 0, length)
    highs = np.clip(np.arange(length) + half, 0, length)
    weighted = (rows / (highs - lows)).T
    # Output k adds weighted[k] to inputs lows[k] .. highs[k] - 1: a difference array.
    steps: Floats = np.zeros((length + 1, rows.shape[0]))
    np.add.at(steps, lows, weighted)
    np.add.at(steps, highs, -weighted)
    out: Floats = np.cumsum(steps[:length], axis=0).T
    return out


def _quality(small: Floats) -> int:
    """computePDQImageDomainQualityMetric: summed truncated gradients, over 90, at most 100."""
    down = np.trunc((small[:-1, :] - small[1:, :]) * 100 / 255)
    across = np.trunc((small[:, :-1] - small[:, 1:]) * 100 / 255)
    gradient = int(np.abs(down).sum() + np.abs(across).sum())
    return min(gradient // 90, 100)


_CACHED_UP_TO = 2048  # at most 1 MiB per cached size
_cached_reducer = lru_cache(maxsize=32)(_build_reducer)


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
    set_bits = (flat > median).reshape(16, 16)
    words = (set_bits * _WORD_BITS).sum(axis=1)
    return bytes(words[::-1].astype(">u2").tobytes())


_WORD_BITS = np.uint32(1) << np.arange(16, dtype=np.uint32)


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance between two hashes."""
    return int.bit_count(int.from_bytes(a, "big") ^ int.from_bytes(b, "big"))


def parse_hex(text: str) -> bytes:
    text = text.strip().lower()
    if len(text) != HEX_LENGTH:
        raise ValueError(f"a PDQ hash is {HEX_LENGTH} hex characters")
    try:
        bits = bytes.fromhex(text)
    except ValueError:
        raise ValueError("a PDQ hash is hex") from None
    # fromhex skips whitespace between pairs: "aa bb ..." of the right length is short.
    if len(bits) != HASH_BYTES:
        raise ValueError("a PDQ hash is hex")
    return bits
