// The self-submission page's proof of work (a module worker), for a node that asks for one
// (hashcheck.submit.proof): the smallest counter such that SHA-256 of the challenge's 40
// bytes, the SHA-256 of the case's nonce and the counter as 8 bytes, big-endian, starts with
// `bits` zero bits (bound to the nonce, an answer makes one case only). Off the page's
// thread, so the page stays responsive while it works. Like hasher.js it opens nothing: the
// network functions are taken away at start.
//
// In:  {challenge: "80 hex digits", bits, nonce}
// Out: {counter} | {error}

import { Sha256 } from "./digests.js";

for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "importScripts"]) {
  Object.defineProperty(self, name, { value: undefined, configurable: false });
}

const MAX_BITS = 24;

function bytesOf(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// The 80-byte message is two padded blocks: the first (the challenge and most of the
// nonce's digest) is the same for every try, so its state is kept; each try sets the
// counter's bytes in the second and hashes that block alone.
function solve(challenge, bits, nonce) {
  if (!/^[0-9a-f]{80}$/.test(challenge) || !(bits >= 1 && bits <= MAX_BITS)) {
    throw new Error("not a challenge this page can answer");
  }
  const blocks = new Uint8Array(128);
  blocks.set(bytesOf(challenge), 0);
  blocks.set(bytesOf(new Sha256().update(new TextEncoder().encode(nonce)).hex()), 40);
  blocks[80] = 0x80;
  const view = new DataView(blocks.buffer);
  view.setUint32(124, 80 * 8, false); // the message's length in bits
  const hash = new Sha256();
  hash.blocks(blocks, 0, 64);
  const first = hash.state.slice();
  for (let counter = 0; counter < Number.MAX_SAFE_INTEGER; counter++) {
    view.setUint32(72, Math.floor(counter / 0x100000000), false);
    view.setUint32(76, counter >>> 0, false);
    hash.state.set(first);
    hash.blocks(blocks, 64, 128);
    if (Math.clz32(hash.state[0]) >= bits) return counter;
  }
  throw new Error("no answer found");
}

self.addEventListener("message", ({ data }) => {
  try {
    self.postMessage({ counter: solve(data.challenge, data.bits, data.nonce) });
  } catch (error) {
    self.postMessage({ error: String(error.message || error) });
  }
});
