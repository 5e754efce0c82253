// Live sending progress: poll the alert's progress JSON (same origin) and update the page in place.
// Without JavaScript the page refreshes itself (<noscript> meta refresh); nothing here is required.
(function () {
  "use strict";
  var root = document.getElementById("progress");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-url");
  var running = ["dispatching", "sending"];
  var timer = null;

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el && el.textContent !== String(value)) { el.textContent = value; }
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "–"; }
    var s = Math.round(seconds);
    if (s < 60) { return s + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min " + (s % 60) + " s"; }
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function renderFailures(failures) {
    var body = document.querySelector("#failures tbody");
    if (!body) { return; }
    var noneText = document.getElementById("no-failures-text");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (!failures.length) {
      var tr = document.createElement("tr");
      tr.className = "none";
      var td = document.createElement("td");
      td.colSpan = 3;
      td.textContent = noneText ? noneText.textContent : "";
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    failures.forEach(function (f) {
      var row = document.createElement("tr");
      [f.code || "", f.count, f.explanation].forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = value;  // textContent: nothing from the server is parsed as HTML
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
  }

  function apply(data) {
    var bar = document.getElementById("bar-fill");
    if (bar) { bar.style.width = data.percent + "%"; }
    var wrap = root.querySelector("[role=progressbar]");
    if (wrap) { wrap.setAttribute("aria-valuenow", data.percent); }
    setText("done", data.done);
    setText("total", data.total);
    setText("percent", data.percent);
    setText("rate", data.rate);
    setText("time-left", data.time_left_label || duration(data.seconds_left));
    Object.keys(data.counts).forEach(function (status) { setText("count-" + status, data.counts[status]); });
    var badge = document.getElementById("alert-status");
    if (badge) { badge.textContent = data.status_label; badge.setAttribute("data-status", data.status); }
    root.setAttribute("data-status", data.status);
    renderFailures(data.failures);
    if (running.indexOf(data.status) === -1) {
      var cancel = document.getElementById("cancel-button");
      if (cancel && cancel.form) { cancel.form.hidden = true; }
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data) { apply(data); }
        var keepGoing = !data || running.indexOf(data.status) !== -1;
        // After the broadcast finishes, late delivery receipts still arrive: slow down, do not stop.
        timer = window.setTimeout(poll, keepGoing ? 2000 : 15000);
      })
      .catch(function () { timer = window.setTimeout(poll, 5000); });
  }

  timer = window.setTimeout(poll, 1000);
  window.addEventListener("pagehide", function () { if (timer) { window.clearTimeout(timer); } });
}());
