// Streaming MD5, SHA-1 and SHA-256 of a file's bytes, for the self-submission page's worker.
// Written here rather than taken from WebCrypto, which hashes a whole buffer at once (a video
// would have to fit in memory) and has no MD5. Pure: no I/O except reading the Blob given to
// `digestBlob`, a slice at a time. The 32-bit arithmetic stays in Int32 (`| 0`, `>>> 0`) so
// that V8 keeps it in registers.

const BLOCK = 64;
const CHUNK = 4 << 20; // bytes read from a Blob at once

// One streaming hash: buffers a partial block, hands whole blocks to `blocks(bytes, from, to)`.
class BlockHash {
  constructor() {
    this.buffer = new Uint8Array(BLOCK);
    this.buffered = 0;
    this.length = 0; // bytes so far; exact as a double up to 8 PB
    this.finished = false;
  }

  update(bytes) {
    if (this.finished) throw new Error("update after the digest was taken");
    let from = 0;
    const end = bytes.length;
    this.length += end;
    if (this.buffered > 0) {
      const taken = Math.min(BLOCK - this.buffered, end);
      this.buffer.set(bytes.subarray(0, taken), this.buffered);
      this.buffered += taken;
      from = taken;
      if (this.buffered < BLOCK) return this;
      this.blocks(this.buffer, 0, BLOCK);
      this.buffered = 0;
    }
    const whole = from + ((end - from) & ~(BLOCK - 1));
    if (whole > from) this.blocks(bytes, from, whole);
    if (whole < end) {
      this.buffer.set(bytes.subarray(whole, end), 0);
      this.buffered = end - whole;
    }
    return this;
  }

  // The padding every Merkle–Damgård hash here uses: 0x80, zeros, the length in bits.
  pad(littleEndian) {
    this.finished = true;
    const tail = new Uint8Array(this.buffered < 56 ? BLOCK : 2 * BLOCK);
    tail.set(this.buffer.subarray(0, this.buffered));
    tail[this.buffered] = 0x80;
    const low = ((this.length % 0x20000000) * 8) >>> 0;
    const high = Math.floor(this.length / 0x20000000) >>> 0;
    const view = new DataView(tail.buffer);
    if (littleEndian) {
      view.setUint32(tail.length - 8, low, true);
      view.setUint32(tail.length - 4, high, true);
    } else {
      view.setUint32(tail.length - 8, high, false);
      view.setUint32(tail.length - 4, low, false);
    }
    this.blocks(tail, 0, tail.length);
  }
}

function hexWords(words, littleEndian) {
  let out = "";
  for (const word of words) {
    const w = littleEndian
      ? ((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24)
      : word;
    out += (w >>> 0).toString(16).padStart(8, "0");
  }
  return out;
}

export class Md5 extends BlockHash {
  constructor() {
    super();
    this.state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  }

  hex() {
    this.pad(true);
    return hexWords(this.state, true);
  }

  blocks(m, from, to) {
    const s = this.state;
    let a = s[0];
    let b = s[1];
    let c = s[2];
    let d = s[3];
    for (let o = from; o < to; o += BLOCK) {
      const x0 = m[o] | (m[o + 1] << 8) | (m[o + 2] << 16) | (m[o + 3] << 24);
      const x1 = m[o + 4] | (m[o + 5] << 8) | (m[o + 6] << 16) | (m[o + 7] << 24);
      const x2 = m[o + 8] | (m[o + 9] << 8) | (m[o + 10] << 16) | (m[o + 11] << 24);
      const x3 = m[o + 12] | (m[o + 13] << 8) | (m[o + 14] << 16) | (m[o + 15] << 24);
      const x4 = m[o + 16] | (m[o + 17] << 8) | (m[o + 18] << 16) | (m[o + 19] << 24);
      const x5 = m[o + 20] | (m[o + 21] << 8) | (m[o + 22] << 16) | (m[o + 23] << 24);
      const x6 = m[o + 24] | (m[o + 25] << 8) | (m[o + 26] << 16) | (m[o + 27] << 24);
      const x7 = m[o + 28] | (m[o + 29] << 8) | (m[o + 30] << 16) | (m[o + 31] << 24);
      const x8 = m[o + 32] | (m[o + 33] << 8) | (m[o + 34] << 16) | (m[o + 35] << 24);
      const x9 = m[o + 36] | (m[o + 37] << 8) | (m[o + 38] << 16) | (m[o + 39] << 24);
      const x10 = m[o + 40] | (m[o + 41] << 8) | (m[o + 42] << 16) | (m[o + 43] << 24);
      const x11 = m[o + 44] | (m[o + 45] << 8) | (m[o + 46] << 16) | (m[o + 47] << 24);
      const x12 = m[o + 48] | (m[o + 49] << 8) | (m[o + 50] << 16) | (m[o + 51] << 24);
      const x13 = m[o + 52] | (m[o + 53] << 8) | (m[o + 54] << 16) | (m[o + 55] << 24);
      const x14 = m[o + 56] | (m[o + 57] << 8) | (m[o + 58] << 16) | (m[o + 59] << 24);
      const x15 = m[o + 60] | (m[o + 61] << 8) | (m[o + 62] << 16) | (m[o + 63] << 24);
      const a0 = a;
      const b0 = b;
      const c0 = c;
      const d0 = d;

      a = (a + (d ^ (b & (c ^ d))) + x0 - 680876936) | 0;
      a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x1 - 389564586) | 0;
      d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x2 + 606105819) | 0;
      c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x3 - 1044525330) | 0;
      b = (((b << 22) | (b >>> 10)) + c) | 0;
      a = (a + (d ^ (b & (c ^ d))) + x4 - 176418897) | 0;
      a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x5 + 1200080426) | 0;
      d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x6 - 1473231341) | 0;
      c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x7 - 45705983) | 0;
      b = (((b << 22) | (b >>> 10)) + c) | 0;
      a = (a + (d ^ (b & (c ^ d))) + x8 + 1770035416) | 0;
      a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x9 - 1958414417) | 0;
      d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x10 - 42063) | 0;
      c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x11 - 1990404162) | 0;
      b = (((b << 22) | (b >>> 10)) + c) | 0;
      a = (a + (d ^ (b & (c ^ d))) + x12 + 1804603682) | 0;
      a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x13 - 40341101) | 0;
      d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x14 - 1502002290) | 0;
      c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x15 + 1236535329) | 0;
      b = (((b << 22) | (b >>> 10)) + c) | 0;

      a = (a + (c ^ (d & (b ^ c))) + x1 - 165796510) | 0;
      a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x6 - 1069501632) | 0;
      d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x11 + 643717713) | 0;
      c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x0 - 373897302) | 0;
      b = (((b << 20) | (b >>> 12)) + c) | 0;
      a = (a + (c ^ (d & (b ^ c))) + x5 - 701558691) | 0;
      a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x10 + 38016083) | 0;
      d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x15 - 660478335) | 0;
      c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x4 - 405537848) | 0;
      b = (((b << 20) | (b >>> 12)) + c) | 0;
      a = (a + (c ^ (d & (b ^ c))) + x9 + 568446438) | 0;
      a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x14 - 1019803690) | 0;
      d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x3 - 187363961) | 0;
      c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x8 + 1163531501) | 0;
      b = (((b << 20) | (b >>> 12)) + c) | 0;
      a = (a + (c ^ (d & (b ^ c))) + x13 - 1444681467) | 0;
      a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x2 - 51403784) | 0;
      d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x7 + 1735328473) | 0;
      c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x12 - 1926607734) | 0;
      b = (((b << 20) | (b >>> 12)) + c) | 0;

      a = (a + (b ^ c ^ d) + x5 - 378558) | 0;
      a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x8 - 2022574463) | 0;
      d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x11 + 1839030562) | 0;
      c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x14 - 35309556) | 0;
      b = (((b << 23) | (b >>> 9)) + c) | 0;
      a = (a + (b ^ c ^ d) + x1 - 1530992060) | 0;
      a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x4 + 1272893353) | 0;
      d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x7 - 155497632) | 0;
      c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x10 - 1094730640) | 0;
      b = (((b << 23) | (b >>> 9)) + c) | 0;
      a = (a + (b ^ c ^ d) + x13 + 681279174) | 0;
      a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x0 - 358537222) | 0;
      d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x3 - 722521979) | 0;
      c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x6 + 76029189) | 0;
      b = (((b << 23) | (b >>> 9)) + c) | 0;
      a = (a + (b ^ c ^ d) + x9 - 640364487) | 0;
      a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x12 - 421815835) | 0;
      d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x15 + 530742520) | 0;
      c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x2 - 995338651) | 0;
      b = (((b << 23) | (b >>> 9)) + c) | 0;

      a = (a + (c ^ (b | ~d)) + x0 - 198630844) | 0;
      a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x7 + 1126891415) | 0;
      d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x14 - 1416354905) | 0;
      c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x5 - 57434055) | 0;
      b = (((b << 21) | (b >>> 11)) + c) | 0;
      a = (a + (c ^ (b | ~d)) + x12 + 1700485571) | 0;
      a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x3 - 1894986606) | 0;
      d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x10 - 1051523) | 0;
      c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x1 - 2054922799) | 0;
      b = (((b << 21) | (b >>> 11)) + c) | 0;
      a = (a + (c ^ (b | ~d)) + x8 + 1873313359) | 0;
      a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x15 - 30611744) | 0;
      d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x6 - 1560198380) | 0;
      c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x13 + 1309151649) | 0;
      b = (((b << 21) | (b >>> 11)) + c) | 0;
      a = (a + (c ^ (b | ~d)) + x4 - 145523070) | 0;
      a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x11 - 1120210379) | 0;
      d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x2 + 718787259) | 0;
      c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x9 - 343485551) | 0;
      b = (((b << 21) | (b >>> 11)) + c) | 0;

      a = (a + a0) | 0;
      b = (b + b0) | 0;
      c = (c + c0) | 0;
      d = (d + d0) | 0;
    }
    s[0] = a;
    s[1] = b;
    s[2] = c;
    s[3] = d;
  }
}

export class Sha1 extends BlockHash {
  constructor() {
    super();
    this.state = new Int32Array([
      0x67452301,
      0xefcdab89 | 0,
      0x98badcfe | 0,
      0x10325476,
      0xc3d2e1f0 | 0,
    ]);
    this.w = new Int32Array(80);
  }

  hex() {
    this.pad(false);
    return hexWords(this.state, false);
  }

  blocks(m, from, to) {
    const s = this.state;
    const w = this.w;
    let h0 = s[0];
    let h1 = s[1];
    let h2 = s[2];
    let h3 = s[3];
    let h4 = s[4];
    for (let o = from; o < to; o += BLOCK) {
      for (let i = 0; i < 16; i++) {
        const p = o + 4 * i;
        w[i] = (m[p] << 24) | (m[p + 1] << 16) | (m[p + 2] << 8) | m[p + 3];
      }
      for (let i = 16; i < 80; i++) {
        const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
        w[i] = (x << 1) | (x >>> 31);
      }
      let a = h0;
      let b = h1;
      let c = h2;
      let d = h3;
      let e = h4;
      for (let i = 0; i < 20; i++) {
        const t = (((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + w[i] + 0x5a827999) | 0;
        e = d;
        d = c;
        c = (b << 30) | (b >>> 2);
        b = a;
        a = t;
      }
      for (let i = 20; i < 40; i++) {
        const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[i] + 0x6ed9eba1) | 0;
        e = d;
        d = c;
        c = (b << 30) | (b >>> 2);
        b = a;
        a = t;
      }
      for (let i = 40; i < 60; i++) {
        const t =
          (((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + w[i] + 0x8f1bbcdc) | 0;
        e = d;
        d = c;
        c = (b << 30) | (b >>> 2);
        b = a;
        a = t;
      }
      for (let i = 60; i < 80; i++) {
        const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[i] + 0xca62c1d6) | 0;
        e = d;
        d = c;
        c = (b << 30) | (b >>> 2);
        b = a;
        a = t;
      }
      h0 = (h0 + a) | 0;
      h1 = (h1 + b) | 0;
      h2 = (h2 + c) | 0;
      h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0;
    }
    s[0] = h0;
    s[1] = h1;
    s[2] = h2;
    s[3] = h3;
    s[4] = h4;
  }
}

// FIPS 180-4's round constants: the first 32 bits of the fractional parts of the cube roots
// of the first 64 primes.
const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export class Sha256 extends BlockHash {
  constructor() {
    super();
    this.state = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
      0x5be0cd19,
    ]);
    this.w = new Int32Array(64);
  }

  hex() {
    this.pad(false);
    return hexWords(this.state, false);
  }

  blocks(m, from, to) {
    const s = this.state;
    const w = this.w;
    const k = K256;
    let h0 = s[0];
    let h1 = s[1];
    let h2 = s[2];
    let h3 = s[3];
    let h4 = s[4];
    let h5 = s[5];
    let h6 = s[6];
    let h7 = s[7];
    for (let o = from; o < to; o += BLOCK) {
      for (let i = 0; i < 16; i++) {
        const p = o + 4 * i;
        w[i] = (m[p] << 24) | (m[p + 1] << 16) | (m[p + 2] << 8) | m[p + 3];
      }
      for (let i = 16; i < 64; i++) {
        const x = w[i - 15];
        const y = w[i - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let a = h0;
      let b = h1;
      let c = h2;
      let d = h3;
      let e = h4;
      let f = h5;
      let g = h6;
      let h = h7;
      for (let i = 0; i < 64; i++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (h + S1 + (g ^ (e & (f ^ g))) + k[i] + w[i]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (S0 + ((a & b) | (c & (a | b)))) | 0;
        h = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0;
      h1 = (h1 + b) | 0;
      h2 = (h2 + c) | 0;
      h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0;
      h5 = (h5 + f) | 0;
      h6 = (h6 + g) | 0;
      h7 = (h7 + h) | 0;
    }
    s[0] = h0;
    s[1] = h1;
    s[2] = h2;
    s[3] = h3;
    s[4] = h4;
    s[5] = h5;
    s[6] = h6;
    s[7] = h7;
  }
}

// The three digests of one stream of bytes, updated together.
export class Digests {
  constructor() {
    this.hashes = { md5: new Md5(), sha1: new Sha1(), sha256: new Sha256() };
  }

  update(bytes) {
    this.hashes.md5.update(bytes);
    this.hashes.sha1.update(bytes);
    this.hashes.sha256.update(bytes);
    return this;
  }

  hex() {
    return {
      md5: this.hashes.md5.hex(),
      sha1: this.hashes.sha1.hex(),
      sha256: this.hashes.sha256.hex(),
    };
  }
}

// MD5, SHA-1 and SHA-256 of a Blob (a File), read `chunk` bytes at a time so that a large
// video never sits in memory whole; `progress(done, total)` after each chunk.
export async function digestBlob(blob, progress = () => {}, chunk = CHUNK) {
  const digests = new Digests();
  const total = blob.size;
  progress(0, total);
  for (let start = 0; start < total; start += chunk) {
    const end = Math.min(total, start + chunk);
    digests.update(new Uint8Array(await blob.slice(start, end).arrayBuffer()));
    progress(end, total);
  }
  return digests.hex();
}
