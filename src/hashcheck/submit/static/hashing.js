// The page's side of hashing: starts the hasher.js worker, hands it the picked files, samples
// each video's frames (frames.js, one video at a time) while the worker goes on with the next
// files, and gathers one result per file, in the order picked. Sends nothing anywhere; the
// worker is stopped when all are done.

import { frameHasher, videoFrames } from "./frames.js";

// [{name, size, type, md5, sha1, sha256, pdq, vpdq?, note?} | {name, error}, ...] for `files`
// (a FileList or an array of File). `progress({index, name, stage, done, total})`: stage
// "bytes" (of the file read) or "frames" (of a video's seconds sampled).
export async function hashFiles(files, { progress = () => {}, workerUrl } = {}) {
  const picked = Array.from(files);
  const worker = new Worker(workerUrl ?? new URL("./hasher.js", import.meta.url), { type: "module" });
  const hashFrame = frameHasher(worker);
  const results = new Array(picked.length);
  let videos = Promise.resolve();
  const sampled = (index) => async () => {
    const file = picked[index];
    const found = await videoFrames(file, hashFrame, {
      progress: (done, total) => progress({ index, name: file.name, stage: "frames", done, total }),
    });
    if (found.frames.length > 0) results[index].vpdq = found.frames;
    if (found.note !== undefined) results[index].note = found.note;
  };
  try {
    await new Promise((resolve, reject) => {
      worker.addEventListener("error", (event) => reject(new Error(event.message || "the hashing worker failed")));
      worker.addEventListener("message", ({ data: message }) => {
        if (message.type === "progress") {
          progress({ ...message, stage: "bytes" });
        } else if (message.type === "file") {
          results[message.index] = message.result;
          if (message.result.type.startsWith("video/")) videos = videos.then(sampled(message.index));
        } else if (message.type === "error" && message.index !== undefined) {
          results[message.index] = { name: picked[message.index].name, error: message.message };
        } else if (message.type === "files-done") {
          resolve();
        }
      });
      worker.postMessage({ type: "files", files: picked });
    });
    await videos;
    return results;
  } finally {
    worker.terminate();
  }
}
