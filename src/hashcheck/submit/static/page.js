// The self-submission page: hashes the picked files on this device (hashing.js, in a Web
// Worker), shows the hashes, and sends only them to POST /v2/submissions. No file byte is
// ever put in a request. Words come from the page (data-texts), in its language.

import { hashFiles } from "./hashing.js";

const MAX_FILES = 100;
const section = document.getElementById("hash");
const t = JSON.parse(section.dataset.texts);
const input = document.getElementById("files");
const progress = document.getElementById("progress");
const bar = document.getElementById("progress-bar");
const progressText = document.getElementById("progress-text");
const review = document.getElementById("review");
const table = document.getElementById("hashes");
const send = document.getElementById("send");
const problem = document.getElementById("problem");
const received = document.getElementById("received");
let prepared = [];

// Shown until this script runs: without it, only the plain lookup form works.
section.hidden = false;
document.getElementById("no-script").hidden = true;

function show(element, on) {
  element.hidden = !on;
}

function say(text) {
  problem.textContent = text;
  show(problem, text !== "");
}

function kindOf(result) {
  if (result.type && result.type.startsWith("image/")) return t.image;
  if (result.type && result.type.startsWith("video/")) return t.video;
  return t.other;
}

// What is sent for one file: its exact hashes, a usable PDQ hash, a video's frames.
function forSending(result) {
  const file = { md5: result.md5, sha1: result.sha1, sha256: result.sha256 };
  if (result.pdq && result.pdq.usable) {
    file.pdq = result.pdq.hash;
    file.pdq_quality = result.pdq.quality;
  }
  if (result.vpdq && result.vpdq.length > 0) file.frames = result.vpdq;
  return file;
}

function row(result, index) {
  const tr = document.createElement("tr");
  const name = document.createElement("th");
  name.scope = "row";
  name.textContent = `${index + 1}. ${result.name}`;
  const kind = document.createElement("td");
  kind.textContent = kindOf(result);
  const hashes = document.createElement("td");
  if (result.error !== undefined) {
    hashes.textContent = t.note_error;
  } else {
    const lines = [result.md5, result.sha1, result.sha256];
    if (result.pdq && result.pdq.usable) lines.push(`PDQ ${result.pdq.hash}`);
    else if (result.pdq) lines.push(`PDQ: ${t.note_pdq}`);
    if (result.vpdq && result.vpdq.length > 0) lines.push(`vPDQ: ${result.vpdq.length}`);
    if (result.note) lines.push(result.note);
    for (const line of lines) {
      const code = document.createElement("code");
      code.textContent = line;
      hashes.append(code, document.createElement("br"));
    }
  }
  tr.append(name, kind, hashes);
  return tr;
}

input.addEventListener("change", async () => {
  say("");
  show(review, false);
  show(received, false);
  const files = Array.from(input.files);
  if (files.length === 0) return;
  if (files.length > MAX_FILES) {
    say(t.too_many);
    return;
  }
  show(progress, true);
  bar.value = 0;
  const done = new Array(files.length).fill(0);
  const results = await hashFiles(files, {
    progress: ({ index, done: part, total }) => {
      done[index] = total > 0 ? part / total : 1;
      bar.value = done.reduce((a, b) => a + b, 0) / files.length;
      progressText.textContent = `${t.hashing}: ${index + 1} / ${files.length}`;
    },
  });
  bar.value = 1;
  show(progress, false);
  table.replaceChildren(...results.map(row));
  prepared = results.filter((r) => r.error === undefined).map(forSending);
  show(review, prepared.length > 0);
  send.disabled = prepared.length === 0;
});

const QUIET = { credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };

// The answer to the node's proof-of-work challenge (proof.js, in a worker of its own), or
// undefined when the node asks for none.
async function proof(nonce) {
  const answer = await fetch("/v2/submission-challenge", QUIET);
  if (answer.status !== 200) throw new Error(`challenge: ${answer.status}`);
  const { challenge, bits } = await answer.json();
  if (bits === 0) return undefined;
  const worker = new Worker(new URL("./proof.js", import.meta.url), { type: "module" });
  try {
    const found = await new Promise((resolve, reject) => {
      worker.addEventListener("message", ({ data }) => resolve(data));
      worker.addEventListener("error", (event) => reject(new Error(event.message || "proof failed")));
      worker.postMessage({ challenge, bits, nonce });
    });
    if (found.error !== undefined) throw new Error(found.error);
    return { challenge, counter: found.counter };
  } finally {
    worker.terminate();
  }
}

function nonce() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

send.addEventListener("click", async () => {
  send.disabled = true;
  send.textContent = t.sending;
  say("");
  try {
    const submission = { nonce: nonce(), files: prepared };
    const answered = await proof(submission.nonce);
    if (answered !== undefined) submission.proof = answered;
    const answer = await fetch("/v2/submissions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(submission),
      ...QUIET,
    });
    const body = await answer.json();
    if (answer.status !== 201) {
      say(answer.status === 429 ? t.slow_down : `${t.failed} (${body.error ? body.error.message : answer.status})`);
      send.disabled = false;
      return;
    }
    document.getElementById("case-number").textContent = body.case;
    document.getElementById("case-pin").textContent = body.pin;
    show(review, false);
    show(received, true);
    input.value = "";
    prepared = [];
  } catch (error) {
    say(t.failed);
    send.disabled = false;
  } finally {
    send.textContent = t.send;
  }
});
