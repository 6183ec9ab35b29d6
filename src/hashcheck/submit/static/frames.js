// vPDQ frames of a video the person picked, on the page's main thread (a worker has no
// <video>): the browser decodes the file from an object URL in a hidden <video>, the page
// seeks to 0, 1, 2, ... seconds (one frame a second, as `hashcheck hash --video`), draws each
// frame and hands its RGBA pixels to the worker for PDQ. Nothing is sent anywhere; the object
// URL is revoked when done.
//
// `hashcheck hash --video` hashes frame n when n is a multiple of int(frame rate) and stamps
// it n / frame rate; the page cannot read the frame rate, so it takes the frame shown at each
// whole second: the same frames for integer frame rates; at 29.97 frames a second, vpdq's
// frames fall a little earlier each second than the page's.

export const MAX_FRAMES = 3600; // an hour at one frame a second
const MAX_FRAME_PIXELS = 7680 * 4320; // as hashcheck.pdq.videofiles: 8K
const IN_FLIGHT = 4; // frames at the worker at once: each is width × height × 4 bytes
// A seek lands on the frame shown at that time; a hair past the second keeps a frame stamped
// exactly on it (but rounded a microsecond short in the container) from giving way to the one
// before.
const PAST_THE_SECOND = 0.001;

export const NOT_A_VIDEO =
  "This browser cannot play this video: its exact hashes are kept, it has no vPDQ hash.";

function once(target, ok, failed) {
  return new Promise((resolve, reject) => {
    const done = () => {
      target.removeEventListener(ok, done);
      target.removeEventListener(failed, fail);
      resolve();
    };
    const fail = () => {
      target.removeEventListener(ok, done);
      target.removeEventListener(failed, fail);
      reject(new Error(NOT_A_VIDEO));
    };
    target.addEventListener(ok, done);
    target.addEventListener(failed, fail);
  });
}

// Chromium may fire "seeked" before the frame it landed on is the one drawImage reads, and
// then a second's frame is hashed from the second before. Where the browser can say when a
// frame is presented (requestVideoFrameCallback, for a video in the document) the page waits
// for it too; a browser that never says is waited for FRAME_WAIT_MS at most, as before.
const FRAME_WAIT_MS = 1000;

async function seek(video, seconds) {
  const seeked = once(video, "seeked", "error");
  const presented =
    typeof video.requestVideoFrameCallback === "function"
      ? new Promise((resolve) => {
          video.requestVideoFrameCallback(() => resolve());
          setTimeout(resolve, FRAME_WAIT_MS);
        })
      : Promise.resolve();
  video.currentTime = seconds;
  await seeked;
  await presented;
}

// A stream without a duration in its header (some WebM): seeking far past the end makes the
// browser find it.
async function durationOf(video) {
  if (Number.isFinite(video.duration)) return video.duration;
  const known = once(video, "durationchange", "error");
  video.currentTime = Number.MAX_SAFE_INTEGER;
  await known;
  return Number.isFinite(video.duration) ? video.duration : 0;
}

// Sends frames to a hasher.js worker and resolves each answer: `hashFrame(pixels, width,
// height, seconds)` gives a promise of {hash, quality, frame}.
export function frameHasher(worker) {
  const waiting = new Map();
  let next = 0;
  worker.addEventListener("message", (event) => {
    const message = event.data;
    if ((message.type === "frame" || message.type === "error") && waiting.has(message.id)) {
      const { resolve, reject } = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.type === "frame") resolve(message);
      else reject(new Error(message.message));
    }
  });
  return (pixels, width, height, seconds) =>
    new Promise((resolve, reject) => {
      const id = `frame-${next++}`;
      waiting.set(id, { resolve, reject });
      worker.postMessage({ type: "frame", id, width, height, pixels, seconds }, [pixels]);
    });
}

// {frames: ["hex,quality,seconds", ...], note?}: the vPDQ frames of a video File, as the v2
// API takes them ({"algorithm": "vpdq", "frames": frames}); no frames and a note when the
// browser cannot decode it. `progress(done, total)` after each frame.
export async function videoFrames(file, hashFrame, { maxFrames = MAX_FRAMES, progress = () => {} } = {}) {
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  video.playsInline = true;
  // In the document (a frame is presented only there), out of sight and out of the way.
  Object.assign(video.style, {
    position: "fixed",
    left: "0",
    top: "0",
    width: "2px",
    height: "2px",
    opacity: "0",
    pointerEvents: "none",
  });
  video.setAttribute("aria-hidden", "true");
  document.body.append(video);
  const url = URL.createObjectURL(file);
  try {
    const loaded = once(video, "loadeddata", "error");
    video.src = url;
    try {
      await loaded;
    } catch {
      return { frames: [], note: NOT_A_VIDEO };
    }
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (width === 0 || height === 0) return { frames: [], note: NOT_A_VIDEO };
    if (width * height > MAX_FRAME_PIXELS) {
      return { frames: [], note: `Frames of ${width} × ${height} are larger than 8K: no vPDQ hash.` };
    }
    const duration = await durationOf(video);
    // The seconds before the end: a 5 s clip has frames at 0 to 4 s (a millisecond's slack
    // for durations rounded up in the container).
    const wanted = Math.max(1, Math.ceil(duration - PAST_THE_SECOND));
    const count = Math.min(wanted, maxFrames);
    const context = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
    const hashed = [];
    const inFlight = [];
    for (let second = 0; second < count; second++) {
      await seek(video, Math.min(second + PAST_THE_SECOND, duration));
      context.drawImage(video, 0, 0, width, height);
      const { data } = context.getImageData(0, 0, width, height);
      const answer = hashFrame(data.buffer, width, height, second);
      hashed.push(answer);
      inFlight.push(answer);
      if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
      progress(second + 1, count);
    }
    const frames = (await Promise.all(hashed)).map((answer) => answer.frame);
    if (wanted > count) {
      return { frames, note: `Only the first ${count} seconds were hashed (one frame a second).` };
    }
    return { frames };
  } catch (error) {
    if (error.message === NOT_A_VIDEO) return { frames: [], note: NOT_A_VIDEO };
    throw error;
  } finally {
    video.removeAttribute("src");
    video.load();
    video.remove();
    URL.revokeObjectURL(url);
  }
}
