"""File hashing on the client side: every hash of a file the service can match — MD5, SHA-1 and
SHA-256 from one read; PDQ of an image and vPDQ of a video when this install can make them —
and, when it cannot, why not.

Reads files (FFmpeg's programs read videos); sends nothing anywhere. The perceptual hashes
need the `pdq` extra (numpy, Pillow) and, for videos, FFmpeg: without them the exact hashes are
still given and the reason is said, never raised.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashcheck.client.queries import Query

CHUNK = 1 << 20
SNIFF = 64
IMAGE_SUFFIXES = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
    ]
)
VIDEO_SUFFIXES = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".3gp",
        ".3g2",
        ".mkv",
        ".webm",
        ".avi",
        ".wmv",
        ".asf",
        ".flv",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m2ts",
        ".mts",
        ".ogv",
    ]
)
# ISO base media brands of still images (HEIF, AVIF): an `ftyp` box does not make a video.
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})


@dataclass(frozen=True)
class FileHashes:
    """The hashes of one file, and why a perceptual one is missing (``skipped``)."""

    md5: str
    sha1: str
    sha256: str
    pdq: str | None = None
    pdq_quality: int | None = None
    vpdq: tuple[str, ...] = ()  # "hex,quality,timestamp" per sampled frame
    skipped: tuple[str, ...] = field(default=())

    def queries(self) -> list[Query]:
        """What to send for this file: its exact hashes, then its PDQ hash or its video."""
        found = [Query("md5", self.md5), Query("sha1", self.sha1), Query("sha256", self.sha256)]
        if self.pdq is not None:
            found.append(Query("pdq", self.pdq, self.pdq_quality))
        if self.vpdq:
            found.append(Query("vpdq", frames=self.vpdq))
        return found

    def stored(self) -> dict[str, Any]:
        """Every field, for a scan's state file (`from_stored` reads it back)."""
        return {**dataclasses.asdict(self), "vpdq": list(self.vpdq), "skipped": list(self.skipped)}

    @classmethod
    def from_stored(cls, fields: Any) -> FileHashes:
        """Raises ValueError for anything `stored` did not write."""
        if not isinstance(fields, dict) or not all(
            isinstance(fields.get(name), str) for name in ("md5", "sha1", "sha256")
        ):
            raise ValueError("not stored file hashes")
        pdq, quality = fields.get("pdq"), fields.get("pdq_quality")
        vpdq, skipped = fields.get("vpdq", []), fields.get("skipped", [])
        if not (pdq is None or isinstance(pdq, str)) or not (
            quality is None or isinstance(quality, int)
        ):
            raise ValueError("not stored file hashes")
        if not all(isinstance(v, str) for v in [*vpdq, *skipped]):
            raise ValueError("not stored file hashes")
        return cls(
            fields["md5"],
            fields["sha1"],
            fields["sha256"],
            pdq,
            quality,
            tuple(vpdq),
            tuple(skipped),
        )

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"md5": self.md5, "sha1": self.sha1, "sha256": self.sha256}
        if self.pdq is not None:
            shown.update(pdq=self.pdq, pdq_quality=self.pdq_quality)
        if self.vpdq:
            shown["vpdq_frames"] = len(self.vpdq)
        return shown


def digests(path: Path) -> dict[str, str]:
    """MD5, SHA-1 and SHA-256 of the file, from one pass over it."""
    exact, _, _ = _exact(path)
    return exact


def _exact(path: Path) -> tuple[dict[str, str], bytes, bytes | None]:
    """The digests, the first bytes, and the whole file when it came in one read (a small
    file: an image among them is decoded from these bytes, not read a second time)."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha1 = hashlib.sha1(usedforsecurity=False)
    sha256 = hashlib.sha256()
    head = b""
    whole: bytes | None = None
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            if not head:
                head = chunk[:SNIFF]
                whole = chunk
            else:
                whole = None
            md5.update(chunk)
            sha1.update(chunk)
            sha256.update(chunk)
    exact = {"md5": md5.hexdigest(), "sha1": sha1.hexdigest(), "sha256": sha256.hexdigest()}
    return exact, head, whole


def kind(head: bytes, suffix: str = "") -> str | None:
    """ "image", "video" or None, from a file's first bytes (and, when they say nothing, its
    name: a corrupt image is still worth an attempt, so that the reason it fails is said)."""
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")):
        return "image"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(
        (
            b"\x1a\x45\xdf\xa3",  # Matroska, WebM
            b"FLV\x01",
            b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF (WMV)
            b"\x00\x00\x01\xba",  # MPEG program stream
            b"\x00\x00\x01\xb3",  # MPEG video
        )
    ):
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def hash_file(
    path: Path,
    *,
    perceptual: bool = True,
    videos: bool = True,
    seconds_per_hash: float = 1.0,
) -> FileHashes:
    """Every hash of ``path`` the service can match. OSError when the file cannot be read;
    a perceptual hash that cannot be made is left out with the reason in ``skipped``."""
    exact, head, whole = _exact(path)
    plain = FileHashes(exact["md5"], exact["sha1"], exact["sha256"])
    found = kind(head, path.suffix.lower())
    if found == "image" and perceptual:
        pdq, quality, skipped = _image(path if whole is None else io.BytesIO(whole))
        return dataclasses.replace(plain, pdq=pdq, pdq_quality=quality, skipped=skipped)
    if found == "video" and perceptual and videos:
        frames, skipped = _video(path, seconds_per_hash)
        return dataclasses.replace(plain, vpdq=frames, skipped=skipped)
    return plain


def _image(path: Path | io.BytesIO) -> tuple[str | None, int | None, tuple[str, ...]]:
    try:
        from hashcheck.pdq.images import NotAnImage, pdq_of_image
    except ImportError:
        return None, None, ("PDQ skipped: install hashcheck[pdq] to hash images",)
    try:
        hashed = pdq_of_image(path)
    except NotAnImage as exc:
        return None, None, (f"PDQ skipped: {exc}",)
    return hashed.hex, hashed.quality, ()


def _video(path: Path, seconds_per_hash: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        from hashcheck.pdq.videofiles import NotAVideo, VideoToolMissing, video_features
    except ImportError:
        return (), ("vPDQ skipped: install hashcheck[pdq] to hash videos",)
    try:
        features = video_features(path, seconds_per_hash)
    except VideoToolMissing as exc:
        return (), (f"vPDQ skipped: {exc}",)
    except NotAVideo as exc:
        return (), (f"vPDQ skipped: {exc}",)
    return tuple(str(f) for f in features), ()
