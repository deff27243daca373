/* redeemflow back office: the little script it needs (no library, no build step).
   - a generation job's progress bar polls /jobs/<id>/progress until done or failed;
   - buttons with data-confirm ask before submitting;
   - progress widths come from data-percent (the CSP forbids inline style attributes). */
"use strict";

function setBar(bar, percent) {
  bar.style.width = Math.max(0, Math.min(100, percent)) + "%";
  bar.dataset.percent = String(percent);
}

function pollJob(box) {
  var url = box.dataset.progressUrl;
  var bar = document.getElementById("progress-bar");
  var percent = document.getElementById("progress-percent");
  var done = document.getElementById("progress-done");
  var status = document.getElementById("progress-status");
  var message = document.getElementById("progress-message");
  function tick() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (job) {
        setBar(bar, job.percent);
        percent.textContent = String(job.percent);
        done.textContent = job.done.toLocaleString("en-US");
        status.dataset.status = job.status;
        status.textContent = box.dataset["label" + job.status.charAt(0).toUpperCase() + job.status.slice(1)] || job.status;
        message.textContent = job.message;
        if (job.status === "running") { setTimeout(tick, 300); }
        else { bar.classList.add(job.status); }
      })
      .catch(function () { setTimeout(tick, 1500); });
  }
  tick();
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-percent]").forEach(function (bar) {
    setBar(bar, Number(bar.dataset.percent));
  });
  var box = document.getElementById("job");
  if (box) { pollJob(box); }
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
    });
  });
});
