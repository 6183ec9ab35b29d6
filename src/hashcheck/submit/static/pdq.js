// Meta's PDQ hash (256 bits) and its quality score from RGBA pixels, as hashcheck.pdq.algorithm
// computes them: the same luminance, the same Jarosz filter matrices (built with the same
// floating-point steps), the same decimation, quality metric, DCT and median, in doubles. Only
// the order of the sums differs (numpy's matrix products against the loops here), so a bit can
// differ only where a coefficient ties with the median to the last few digits. Pure: no I/O.

export const MIN_HASHABLE_DIM = 5;
// The reference's own threshold for a hash fit for matching.
export const MIN_QUALITY = 50;
const JAROSZ_PASSES = 2;
const SIDE = 64;
const ZERO_HASH = "0".repeat(64);

// computeJaroszFilterWindowSize: ceil(dimension / 128), in integers.
function windowOf(dimension) {
  return Math.floor((dimension + 2 * 64 - 1) / (2 * 64));
}

// One pass of the reference's box1DFloat applied to a row vector, as the Python's
// `_through_box` does it: a difference array filled in the same order, then a running sum.
function throughBox(row, window) {
  const length = row.length;
  const half = Math.floor((window + 2) / 2);
  const steps = new Float64Array(length + 1);
  const weighted = new Float64Array(length);
  for (let k = 0; k < length; k++) {
    const low = Math.min(Math.max(k - (window - half), 0), length);
    const high = Math.min(Math.max(k + half, 0), length);
    weighted[k] = row[k] / (high - low);
  }
  for (let k = 0; k < length; k++) {
    steps[Math.min(Math.max(k - (window - half), 0), length)] += weighted[k];
  }
  for (let k = 0; k < length; k++) {
    steps[Math.min(Math.max(k + half, 0), length)] += -weighted[k];
  }
  const out = new Float64Array(length);
  let sum = 0;
  for (let k = 0; k < length; k++) {
    sum += steps[k];
    out[k] = sum;
  }
  return out;
}

// The 64 rows of the Python's `_reducer(length)` (filter both passes, keep the 64 samples the
// decimation picks), each kept as its nonzero span: `starts[k]` and `weights[k]`.
function buildReducer(length) {
  const window = windowOf(length);
  const starts = new Int32Array(SIDE);
  const weights = [];
  for (let k = 0; k < SIDE; k++) {
    let row = new Float64Array(length);
    row[Math.trunc(((k + 0.5) * length) / 64)] = 1;
    for (let pass = 0; pass < JAROSZ_PASSES; pass++) row = throughBox(row, window);
    let first = 0;
    while (first < length - 1 && row[first] === 0) first++;
    let last = length - 1;
    while (last > first && row[last] === 0) last--;
    starts[k] = first;
    weights.push(row.slice(first, last + 1));
  }
  return { starts, weights };
}

const reducers = new Map(); // by length: video frames all have the same size
function reducer(length) {
  let found = reducers.get(length);
  if (found === undefined) {
    if (reducers.size >= 16) reducers.clear();
    found = buildReducer(length);
    reducers.set(length, found);
  }
  return found;
}

let dct = null;
// The 16×64 DCT-II rows the reference uses (without the DC row), computed as the Python does.
function dctMatrix() {
  if (dct === null) {
    dct = new Float64Array(16 * SIDE);
    for (let i = 1; i <= 16; i++) {
      for (let j = 0; j < SIDE; j++) {
        dct[(i - 1) * SIDE + j] = Math.sqrt(2.0 / 64.0) * Math.cos((Math.PI / 2 / 64.0) * i * (2 * j + 1));
      }
    }
  }
  return dct;
}

// The filtered, decimated 64×64 (row-major) of the luminance of RGBA pixels: each image row's
// luminance is reduced to 64 columns as it is made, then the rows to 64; the image is never
// held as doubles.
function reduced(rgba, width, height) {
  const columns = reducer(width);
  const rows = reducer(height);
  const luma = new Float64Array(width);
  const across = new Float64Array(height * SIDE);
  for (let r = 0; r < height; r++) {
    let p = r * width * 4;
    for (let c = 0; c < width; c++, p += 4) {
      luma[c] = rgba[p] * 0.299 + rgba[p + 1] * 0.587 + rgba[p + 2] * 0.114;
    }
    const base = r * SIDE;
    for (let j = 0; j < SIDE; j++) {
      const w = columns.weights[j];
      const start = columns.starts[j];
      let sum = 0;
      for (let c = 0; c < w.length; c++) sum += luma[start + c] * w[c];
      across[base + j] = sum;
    }
  }
  const small = new Float64Array(SIDE * SIDE);
  for (let i = 0; i < SIDE; i++) {
    const w = rows.weights[i];
    const start = rows.starts[i];
    const out = i * SIDE;
    for (let r = 0; r < w.length; r++) {
      const weight = w[r];
      const from = (start + r) * SIDE;
      for (let j = 0; j < SIDE; j++) small[out + j] += weight * across[from + j];
    }
  }
  return small;
}

// computePDQImageDomainQualityMetric: summed truncated gradients, over 90, at most 100.
function quality(small) {
  let gradient = 0;
  for (let i = 0; i < SIDE - 1; i++) {
    for (let j = 0; j < SIDE; j++) {
      gradient += Math.abs(Math.trunc(((small[i * SIDE + j] - small[(i + 1) * SIDE + j]) * 100) / 255));
    }
  }
  for (let i = 0; i < SIDE; i++) {
    for (let j = 0; j < SIDE - 1; j++) {
      gradient += Math.abs(Math.trunc(((small[i * SIDE + j] - small[i * SIDE + j + 1]) * 100) / 255));
    }
  }
  return Math.min(Math.floor(gradient / 90), 100);
}

// D · small · Dᵀ, then bit k (k = 16 i + j) set when coefficient (i, j) exceeds the lower
// median; the hex form prints the 16-bit words from the last to the first.
function hashHex(small) {
  const d = dctMatrix();
  const half = new Float64Array(16 * SIDE);
  for (let i = 0; i < 16; i++) {
    for (let k = 0; k < SIDE; k++) {
      const weight = d[i * SIDE + k];
      for (let j = 0; j < SIDE; j++) half[i * SIDE + j] += weight * small[k * SIDE + j];
    }
  }
  const coefficients = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < SIDE; k++) sum += half[i * SIDE + k] * d[j * SIDE + k];
      coefficients[i * 16 + j] = sum;
    }
  }
  const median = Float64Array.from(coefficients).sort()[127]; // Torben's median: the lower one
  let hex = "";
  for (let i = 15; i >= 0; i--) {
    let word = 0;
    for (let j = 0; j < 16; j++) if (coefficients[i * 16 + j] > median) word |= 1 << j;
    hex += word.toString(16).padStart(4, "0");
  }
  return hex;
}

// The PDQ hash (64 hex digits, the reference's order) and quality (0–100) of `width`×`height`
// RGBA pixels (a Uint8ClampedArray from getImageData, or any array of bytes); alpha is
// ignored, as Pillow's conversion to RGB drops it. Images under 5 pixels a side: all zeros.
export function pdqFromRgba(rgba, width, height) {
  if (rgba.length < width * height * 4) throw new Error("fewer pixels than width × height");
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) return { hash: ZERO_HASH, quality: 0 };
  const small = reduced(rgba, width, height);
  return { hash: hashHex(small), quality: quality(small) };
}
