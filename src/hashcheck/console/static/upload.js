// The console's one script: the list upload's progress bar. Without it the form posts as
// any form does; with it the same form is sent by XMLHttpRequest so that the bytes sent can
// be shown, and the page the server answers with is then shown as it would be.
"use strict";

function showAnswer(request) {
  // A dry run answers with a redirect to its page; a refusal with the form and why.
  if (request.status < 400 && request.responseURL) {
    window.location.assign(request.responseURL);
    return;
  }
  const answer = new DOMParser().parseFromString(request.responseText, "text/html");
  document.replaceChild(document.adoptNode(answer.documentElement), document.documentElement);
}

function sendWithProgress(form) {
  const bar = form.querySelector("[data-upload-progress]");
  const status = form.querySelector("[data-upload-status]");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", (sent) => {
      if (sent.lengthComputable) {
        bar.max = sent.total;
        bar.value = sent.loaded;
        status.textContent = `${Math.floor((100 * sent.loaded) / sent.total)}% of the file sent`;
      }
    });
    request.upload.addEventListener("load", () => {
      bar.value = bar.max;
      status.textContent = "File sent; checking it (a dry run, nothing changes)…";
    });
    request.addEventListener("load", () => showAnswer(request));
    request.addEventListener("error", () => {
      button.disabled = false;
      status.textContent = "The upload failed (the connection was lost); nothing was imported.";
    });
    bar.hidden = false;
    button.disabled = true;
    status.textContent = "Sending the file…";
    request.send(new FormData(form));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-upload]")) {
    sendWithProgress(form);
  }
});
