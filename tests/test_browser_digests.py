"""The page's streaming MD5, SHA-1 and SHA-256 (submit/static/digests.js) under Node, against
hashlib: every length around the 64-byte blocks and the 56-byte padding limit, each fed whole
and in random pieces, a few megabytes in odd-sized chunks, and a Blob read in slices."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from tests.browser_modules import run_node

DRIVER = """
import { readFileSync } from "node:fs";
import { Digests, Md5, Sha1, Sha256, digestBlob } from "STATIC/digests.js";

const data = new Uint8Array(readFileSync(process.argv[2]));
const cases = JSON.parse(readFileSync(process.argv[3], "utf8"));
const out = [];
for (const { offset, length, pieces, blobSlice } of cases) {
  const bytes = data.subarray(offset, offset + length);
  if (blobSlice !== undefined) {
    const seen = [];
    const found = await digestBlob(new Blob([bytes]), (done, total) => seen.push([done, total]), blobSlice);
    out.push({ ...found, progress: seen });
    continue;
  }
  const all = new Digests();
  const alone = [new Md5(), new Sha1(), new Sha256()];
  let at = 0;
  for (const size of pieces) {
    const piece = bytes.subarray(at, at + size);
    all.update(piece);
    for (const hash of alone) hash.update(piece);
    at += size;
  }
  const [md5, sha1, sha256] = alone.map((hash) => hash.hex());
  out.push({ ...all.hex(), alone: { md5, sha1, sha256 } });
}
console.log(JSON.stringify(out));
"""


def pieces(length: int, rng: random.Random, largest: int) -> list[int]:
    """Random piece sizes (zero-length ones included) that add up to ``length``."""
    sizes = []
    while length > 0:
        size = min(length, rng.choice([0, 1, rng.randrange(1, 64), rng.randrange(1, largest)]))
        sizes.append(size)
        length -= size
    return [*sizes, 0]


def test_digests_equal_hashlib(tmp_path: Path) -> None:
    rng = random.Random(15)
    data = rng.randbytes(3 << 20)
    lengths = sorted(
        set(range(130))
        | {b * 64 + d for b in range(2, 20) for d in (-9, -8, -1, 0, 1, 7, 8)}
        | {1000, 4095, 4096, 4097, 65535, 65536, 65537}
    )
    cases: list[dict[str, object]] = []
    for length in lengths:
        offset = rng.randrange(0, len(data) - length)
        cases.append({"offset": offset, "length": length, "pieces": [length]})
        cases.append({"offset": offset, "length": length, "pieces": pieces(length, rng, 200)})
    # Megabytes in odd-sized chunks: never on a block boundary, some shorter than a block.
    for largest in (65, 4099, 1 << 20):
        cases.append({"offset": 0, "length": len(data), "pieces": pieces(len(data), rng, largest)})
    cases.append({"offset": 3, "length": len(data) - 3, "blobSlice": 1_000_003})
    cases.append({"offset": 0, "length": 0, "blobSlice": 1024})
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    found = run_node(tmp_path, DRIVER, str(tmp_path / "data.bin"), str(tmp_path / "cases.json"))
    assert len(found) == len(cases)
    for case, answer in zip(cases, found, strict=True):
        start = int(str(case["offset"]))
        chunk = data[start : start + int(str(case["length"]))]
        expected = {
            name: hashlib.new(name, chunk).hexdigest() for name in ("md5", "sha1", "sha256")
        }
        assert {name: answer[name] for name in expected} == expected, case["length"]
        if "alone" in answer:
            assert answer["alone"] == expected
    # A Blob is read a slice at a time, and says how far it got after each.
    assert found[-2]["progress"][0] == [0, len(data) - 3]
    assert found[-2]["progress"][1] == [1_000_003, len(data) - 3]
    assert found[-2]["progress"][-1] == [len(data) - 3, len(data) - 3]
    assert found[-1]["progress"] == [[0, 0]]


THEN_UPDATE = """
import { Md5 } from "STATIC/digests.js";
const hash = new Md5().update(new Uint8Array([97, 98, 99]));
const hex = hash.hex();
let refused = "";
try { hash.update(new Uint8Array(1)); } catch (error) { refused = error.message; }
console.log(JSON.stringify({ hex, refused }));
"""


def test_a_finished_digest_takes_no_more_bytes(tmp_path: Path) -> None:
    found = run_node(tmp_path, THEN_UPDATE)
    assert found == {
        "hex": hashlib.md5(b"abc", usedforsecurity=False).hexdigest(),
        "refused": "update after the digest was taken",
    }
