// The self-submission page's proof of work (a module worker), for a node that asks for one
// (hashcheck.submit.proof): the smallest counter such that SHA-256 of the challenge's bytes
// and the counter as 8 bytes, big-endian, starts with `bits` zero bits. Off the page's
// thread, so the page stays responsive while it works. Like hasher.js it opens nothing: the
// network functions are taken away at start.
//
// In:  {challenge: "80 hex digits", bits}
// Out: {counter} | {error}

import { Sha256 } from "./digests.js";

for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "importScripts"]) {
  Object.defineProperty(self, name, { value: undefined, configurable: false });
}

const MAX_BITS = 28;

// The 40-byte challenge and an 8-byte counter fill one padded 64-byte block: only the
// counter's bytes change from one try to the next, and the state is reset, not reallocated.
function solve(challenge, bits) {
  if (!/^[0-9a-f]{80}$/.test(challenge) || !(bits >= 1 && bits <= MAX_BITS)) {
    throw new Error("not a challenge this page can answer");
  }
  const block = new Uint8Array(64);
  for (let i = 0; i < 40; i++) block[i] = parseInt(challenge.slice(2 * i, 2 * i + 2), 16);
  block[48] = 0x80;
  new DataView(block.buffer).setUint32(60, 48 * 8, false); // the message's length in bits
  const hash = new Sha256();
  const initial = hash.state.slice();
  const view = new DataView(block.buffer);
  for (let counter = 0; counter < Number.MAX_SAFE_INTEGER; counter++) {
    view.setUint32(40, Math.floor(counter / 0x100000000), false);
    view.setUint32(44, counter >>> 0, false);
    hash.state.set(initial);
    hash.blocks(block, 0, 64);
    if (Math.clz32(hash.state[0]) >= bits) return counter;
  }
  throw new Error("no answer found");
}

self.addEventListener("message", ({ data }) => {
  try {
    self.postMessage({ counter: solve(data.challenge, data.bits) });
  } catch (error) {
    self.postMessage({ error: String(error.message || error) });
  }
});
