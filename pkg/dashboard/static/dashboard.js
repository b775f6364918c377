// Live updates of the job page, by server-sent events: the timeline is
// redrawn from the HTML the server renders on each change of the job, and
// the log's lines are appended as the job writes them. The page works
// without this script; it only saves the reloads.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var timeline = document.getElementById("timeline");
  if (timeline && timeline.dataset.live === "true") {
    var jobs = new EventSource(timeline.dataset.events);
    // A change that comes while the user types in one of the timeline's
    // forms waits until they leave it, so that it does not take their
    // text and focus away.
    var pending = null;
    var typing = function () {
      var el = document.activeElement;
      return timeline.contains(el) && (el.tagName === "INPUT" || el.tagName === "SELECT");
    };
    jobs.addEventListener("timeline", function (e) {
      if (typing()) {
        pending = e.data;
        return;
      }
      timeline.innerHTML = e.data;
    });
    timeline.addEventListener("focusout", function () {
      setTimeout(function () {
        if (pending !== null && !typing()) {
          timeline.innerHTML = pending;
          pending = null;
        }
      }, 0);
    });
    jobs.addEventListener("end", function () { jobs.close(); });
  }

  var log = document.getElementById("log");
  if (log && log.dataset.live === "true") {
    var state = document.getElementById("log-state");
    var lines = new EventSource(log.dataset.log);
    // Each stream starts from the beginning of the output: a reconnected
    // one clears what the broken one showed.
    lines.addEventListener("open", function () { log.textContent = ""; });
    lines.addEventListener("line", function (e) {
      var follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(e.data + "\n"));
      if (follow) { log.scrollTop = log.scrollHeight; }
    });
    lines.addEventListener("end", function () {
      lines.close();
      if (state) { state.textContent = "The job has ended; this is all of its log."; }
    });
    lines.addEventListener("failure", function (e) {
      if (e.data) {
        lines.close();
        if (state) { state.textContent = "The log cannot be read: " + e.data; }
      }
    });
  }
});
