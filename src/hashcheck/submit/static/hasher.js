// The self-submission page's Web Worker (a module worker): the exact hashes of each file the
// person picked, read a slice at a time, and the PDQ hash of each image and of each video
// frame the page samples. It reads only what it is handed and answers only to the page:
// nothing here opens a connection, and the network functions are taken away at start so that
// nothing loaded into it later can either.
//
// In:  {type: "files", files: [File, ...]}
//      {type: "frame", id, width, height, pixels: ArrayBuffer (RGBA), seconds}
// Out: {type: "progress", index, name, done, total}      bytes of file `index` hashed so far
//      {type: "file", index, result}                      result: see `hashFile`
//      {type: "files-done", count}
//      {type: "frame", id, seconds, hash, quality, frame} frame: "hex,quality,seconds.3f"
//      {type: "error", index?, id?, message}

import { digestBlob } from "./digests.js";
import { MIN_QUALITY, pdqFromRgba } from "./pdq.js";

// As hashcheck.pdq.images: larger images are not hashed (a small file can claim a huge size).
export const MAX_PIXELS = 50_000_000;

for (const name of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "importScripts"]) {
  Object.defineProperty(self, name, { value: undefined, configurable: false });
}

const DECODE = { imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none" };

const NOT_AN_IMAGE =
  "This browser cannot read this file as an image: its exact hashes are kept, it has no PDQ hash.";
const LOW_QUALITY =
  `PDQ quality under ${MIN_QUALITY}: the image is too flat or too small for its PDQ hash to be` +
  " used for matching (its exact hashes still are).";

// The RGBA pixels of an image file as this browser decodes it (EXIF orientation applied, no
// colour-space conversion), or null when it cannot.
async function pixelsOf(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, DECODE);
  } catch {
    return { note: NOT_AN_IMAGE };
  }
  try {
    const { width, height } = bitmap;
    if (width * height > MAX_PIXELS) {
      return { note: `${width} × ${height} pixels, more than the ${MAX_PIXELS} hashed: no PDQ hash.` };
    }
    const context = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0);
    return { image: context.getImageData(0, 0, width, height) };
  } finally {
    bitmap.close();
  }
}

// {name, size, type, md5, sha1, sha256, pdq: {hash, quality, usable} | null, note?}; a video's
// PDQ is null here: its frames come as "frame" messages from the page.
async function hashFile(file, index) {
  const exact = await digestBlob(file, (done, total) => {
    postMessage({ type: "progress", index, name: file.name, done, total });
  });
  const result = { name: file.name, size: file.size, type: file.type, ...exact, pdq: null };
  if (file.type.startsWith("video/")) return result;
  const { image, note } = await pixelsOf(file);
  if (image === undefined) return { ...result, note };
  const { hash, quality } = pdqFromRgba(image.data, image.width, image.height);
  result.pdq = { hash, quality, usable: quality >= MIN_QUALITY };
  if (quality < MIN_QUALITY) result.note = LOW_QUALITY;
  return result;
}

// Files are hashed one after the other, in the order given; frames as they come.
let queue = Promise.resolve();

async function hashFiles(files) {
  for (let index = 0; index < files.length; index++) {
    try {
      postMessage({ type: "file", index, result: await hashFile(files[index], index) });
    } catch (error) {
      postMessage({ type: "error", index, message: `${files[index].name}: ${error.message}` });
    }
  }
  postMessage({ type: "files-done", count: files.length });
}

function hashFrame({ id, width, height, pixels, seconds }) {
  try {
    const { hash, quality } = pdqFromRgba(new Uint8ClampedArray(pixels), width, height);
    const frame = `${hash},${quality},${seconds.toFixed(3)}`;
    postMessage({ type: "frame", id, seconds, hash, quality, frame });
  } catch (error) {
    postMessage({ type: "error", id, message: error.message });
  }
}

self.addEventListener("message", (event) => {
  const message = event.data;
  if (message.type === "files") {
    queue = queue.then(() => hashFiles(message.files));
  } else if (message.type === "frame") {
    hashFrame(message);
  } else {
    postMessage({ type: "error", message: `unknown message type ${message.type}` });
  }
});
