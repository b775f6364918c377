// Live updates, by server-sent events. On the job page, the timeline is
// redrawn from the HTML the server renders on each change of the job, and
// the log's lines are appended as the job writes them. On the pipelines
// and jobs pages, a job's row is redrawn when it changes, a new job is
// added at the top, and a pipeline's environments are redrawn when it
// releases. The pages work without this script; it only saves the
// reloads.
"use strict";

// typingIn is whether the user is typing in a field inside el.
function typingIn(el) {
  var active = document.activeElement;
  return el.contains(active) && (active.tagName === "INPUT" || active.tagName === "SELECT");
}

// replaceSoon replaces el with the result of make, now, or, while the user
// types in one of el's fields, once they leave it, so that a change does
// not take their text and focus away. Only the last change waits.
function replaceSoon(el, make) {
  if (!typingIn(el)) {
    make(el);
    return;
  }
  el.dataset.pending = "true";
  el.pendingMake = make;
  if (el.dataset.waiting === "true") { return; }
  el.dataset.waiting = "true";
  el.addEventListener("focusout", function wait() {
    setTimeout(function () {
      if (typingIn(el)) { return; }
      el.removeEventListener("focusout", wait);
      el.dataset.waiting = "false";
      if (el.dataset.pending === "true") {
        el.dataset.pending = "false";
        el.pendingMake(el);
      }
    }, 0);
  });
}

// fromHTML is the element the HTML of one element makes.
function fromHTML(html) {
  var t = document.createElement("template");
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}

document.addEventListener("DOMContentLoaded", function () {
  var timeline = document.getElementById("timeline");
  if (timeline && timeline.dataset.live === "true") {
    var jobs = new EventSource(timeline.dataset.events);
    jobs.addEventListener("timeline", function (e) {
      replaceSoon(timeline, function (el) { el.innerHTML = e.data; });
    });
    jobs.addEventListener("end", function () { jobs.close(); });
  }

  var main = document.querySelector("main[data-live]");
  if (main) {
    var live = new EventSource(main.dataset.live);
    var liveState = document.getElementById("live-state");
    // notice says what the page does not show, with a reload link.
    var notice = function (why) {
      liveState.textContent = why + " ";
      var reload = document.createElement("a");
      reload.href = location.href;
      reload.textContent = "Reload the page";
      liveState.appendChild(reload);
    };
    var changed = function (e) {
      var row = fromHTML(e.data);
      var old = document.getElementById(row.id);
      if (old) {
        replaceSoon(old, function (el) { el.replaceWith(row); });
        return true;
      }
      return false;
    };
    live.addEventListener("job-changed", changed);
    live.addEventListener("job-added", function (e) {
      if (changed(e)) { return; }
      var row = fromHTML(e.data);
      var rows = document.getElementById("jobs-of-" + row.dataset.pipeline) || document.getElementById("jobs-new");
      if (!rows) { return; }
      var none = rows.querySelector("tr.none");
      if (none) { none.remove(); }
      rows.insertBefore(row, rows.firstElementChild);
      var keep = parseInt(rows.dataset.keep || "0", 10);
      while (keep > 0 && rows.children.length > keep) { rows.lastElementChild.remove(); }
    });
    live.addEventListener("job-deleted", function (e) {
      var old = document.getElementById("job-" + e.data);
      if (old) { old.remove(); }
    });
    live.addEventListener("environments", function (e) {
      var fresh = fromHTML(e.data);
      var old = document.getElementById(fresh.id);
      if (old) { replaceSoon(old, function (el) { el.replaceWith(fresh); }); }
    });
    live.addEventListener("pipelines", function (e) { notice(e.data); });
    live.addEventListener("stale", function (e) {
      live.close();
      notice("This page no longer follows changes: " + e.data + ".");
    });
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
