// The core-area warning queue: counts down each warning's time left to verify (red once late), polls the API
// for new warnings (GET /api/v1/corrections/warnings?state=active&since_id=N) and adds them without a reload,
// shows a banner and sounds an alarm for each new one, and runs the verification panel (start verifying, record
// what was found, dismiss with a reason, escalate) through the API with the session and the CSRF token.
// Progressive enhancement: without this script the row links open the warning's own page, whose panel the
// server renders with forms that post to /corrections/warnings/<id>/<step>/; this script intercepts those
// forms (keeping their action and version in step with the warning shown) and uses the API instead.
// Browsers block audio until the user interacts, so the tone (Web Audio, no file) plays only after "Enable
// sound". The queue reports its state on #warning-queue: data-state (loading / ready / offline), data-sound,
// data-alarms (new warnings announced), data-beeps (tones played), data-last-id, data-selected.
(function () {
  "use strict";
  var root = document.getElementById("warning-queue");
  if (!root || !window.PinganTracking) return;
  var T = window.PinganTracking;
  var d = root.dataset;
  var labels = JSON.parse(document.getElementById("warning-labels").textContent);
  var body = document.getElementById("warnings-body");
  var empty = document.getElementById("warnings-empty");
  var countEl = document.getElementById("active-count");
  var statusEl = document.getElementById("queue-status");
  var banner = document.getElementById("new-warning");
  var panel = document.getElementById("verify-panel");
  var tpl = document.getElementById("warning-row-template");
  var soundBtn = document.getElementById("enable-sound");
  var soundOn = document.getElementById("sound-on");
  var pollMs = parseInt(d.pollMs, 10) || 3000;
  var audio = null;
  var current = null;  // the warning shown in the panel

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("error", !!isError);
  }

  function field(el, name) { return el.querySelector('[data-field="' + name + '"]'); }
  function rowOf(id) { return body.querySelector('tr.cw-row[data-id="' + id + '"]'); }
  function active(state) { return state === "open" || state === "acknowledged"; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function warningPage(id) { return (d.pages || "/corrections/warnings/") + id + "/"; }

  // -- rows -------------------------------------------------------------------------------------------

  function buildRow(w) {
    var tr = tpl.content.querySelector("tr").cloneNode(true);
    tr.className = "al-row cw-row al-sev-" + w.severity + (active(w.state) ? "" : " is-done");
    tr.dataset.id = String(w.id);
    tr.dataset.number = w.number;
    tr.dataset.state = w.state;
    tr.dataset.version = String(w.version);
    tr.dataset.verifyBy = w.verify_by;
    var number = field(tr, "number");
    number.href = warningPage(w.id) + "#w" + w.id;
    number.textContent = w.number;
    field(tr, "severity").textContent = labels.severity[w.severity] || w.severity;
    field(tr, "core_area").textContent = w.core_area;
    field(tr, "subject").textContent = (w.subject_number + " " + (w.subject_name || "")).trim();
    field(tr, "source").textContent = w.source;
    field(tr, "raised").textContent = T.fmtTime(w.raised_at, true);
    var state = field(tr, "state");
    state.className = "al-state al-state-" + w.state;
    state.textContent = labels.state[w.state] || w.state;
    countdown(tr);
    return tr;
  }

  function countdown(tr) {
    var left = field(tr, "left");
    if (!left) return;
    if (!active(tr.dataset.state)) { left.textContent = "—"; tr.classList.remove("is-late"); return; }
    var s = Math.round((Date.parse(tr.dataset.verifyBy) - Date.now()) / 1000);
    if (s <= 0) { left.textContent = labels.overdue; tr.classList.add("is-late"); return; }
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    left.textContent = (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(sec);
    left.classList.toggle("soon", s < 300);
  }

  function tick() {
    body.querySelectorAll("tr.cw-row").forEach(countdown);
    if (current) showDeadline(current);
  }

  function refreshCounts() {
    var n = body.querySelectorAll("tr.cw-row").length;
    countEl.textContent = String(n);
    empty.hidden = n > 0;
  }

  function upsert(w) {
    var old = rowOf(w.id);
    if (!active(w.state)) {  // handled: it leaves the open list
      if (old) old.remove();
      refreshCounts();
      return null;
    }
    var tr = buildRow(w);
    if (old) old.parentNode.replaceChild(tr, old); else body.insertBefore(tr, body.firstChild);
    refreshCounts();
    return tr;
  }

  // -- the alarm --------------------------------------------------------------------------------------

  function tone(frequencies) {
    var now = audio.currentTime;
    frequencies.forEach(function (f, i) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      var start = now + i * 0.22;
      osc.type = "square";
      osc.frequency.setValueAtTime(f, start);
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.21);
    });
  }

  function announce(added) {
    d.alarms = String((parseInt(d.alarms, 10) || 0) + added.length);
    window.pinganWarningAlarms = parseInt(d.alarms, 10);
    field(banner, "text").textContent = labels["new"] + ": " + added.map(function (w) {
      return w.number + " · " + w.core_area;
    }).join("; ");
    banner.hidden = false;
    if (audio && d.sound === "on") {
      var alarm = added.some(function (w) { return w.severity === "alarm"; });
      var play = function () { tone(alarm ? [880, 660, 880, 660] : [660, 660]); d.beeps = String((parseInt(d.beeps, 10) || 0) + 1); };
      if (audio.state === "suspended") audio.resume().then(play); else play();
    }
  }

  function enableSound() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    var done = function () { d.sound = "on"; soundBtn.hidden = true; soundOn.hidden = false; };
    if (audio.state === "suspended") audio.resume().then(done); else done();
  }

  // -- polling ----------------------------------------------------------------------------------------

  function poll() {
    var since = parseInt(d.lastId, 10) || 0;
    return T.request("GET", d.api + "?state=active&limit=100&since_id=" + since).then(function (data) {
      var items = (data.items || []).slice().sort(function (x, y) { return x.id - y.id; });
      d.state = "ready";
      if (statusEl.classList.contains("error")) setStatus("");
      if (!items.length) return;
      d.lastId = String(Math.max(since, items[items.length - 1].id));
      var added = items.filter(function (w) { return !rowOf(w.id); });
      added.forEach(function (w) { var tr = upsert(w); if (tr) tr.classList.add("is-new"); });
      if (added.length) announce(added);
    }).catch(function () {
      d.state = "offline";
      setStatus(labels.offline, true);
    }).then(function () { window.setTimeout(poll, pollMs); });
  }

  // -- the verification panel -------------------------------------------------------------------------

  function showDeadline(w) {
    var el = field(panel, "deadline");
    var s = Math.round((Date.parse(w.verify_by) - Date.now()) / 1000);
    el.textContent = T.fmtTime(w.verify_by) + (active(w.state) ? (s > 0 ? " (" + Math.floor(s / 60) + ":" + pad(s % 60) + ")" : " — " + labels.overdue) : "");
    el.classList.toggle("late", active(w.state) && s <= 0);
  }

  function show(w) {
    current = w;
    d.selected = String(w.id);
    panel.hidden = false;
    panel.dataset.id = String(w.id);
    panel.dataset.state = w.state;
    field(panel, "number").textContent = w.number;
    var state = field(panel, "state");
    state.className = "al-state al-state-" + w.state;
    state.textContent = labels.state[w.state] || w.state;
    field(panel, "core_area").textContent = w.core_area;
    field(panel, "subject").textContent = (w.subject_number + " " + (w.subject_name || "")).trim();
    field(panel, "where").textContent = (w.place || "—") + (w.lat != null ? " (" + w.lat.toFixed(5) + ", " + w.lon.toFixed(5) + ")" : "") +
      (w.accuracy_m ? " ±" + Math.round(w.accuracy_m) + " m" : "");
    field(panel, "raised").textContent = T.fmtTime(w.raised_at);
    showDeadline(w);
    var steps = field(panel, "steps");
    steps.textContent = "";
    (w.steps || []).forEach(function (s) {
      var li = document.createElement("li");
      li.dataset.action = s.action;
      var what = labels.step[s.action] || s.action;
      li.textContent = T.fmtTime(s.at, true) + " · " + what + " · " + s.actor + (s.note ? " — " + s.note : "");
      steps.appendChild(li);
    });
    var canAct = d.canAct === "1" && w.can_act;
    panel.querySelectorAll("form.cw-action").forEach(function (form) {
      var a = form.dataset.action;
      form.hidden = !canAct || (a === "verify" ? w.state !== "open" : (a === "found" ? !(active(w.state) || w.state === "escalated") : !active(w.state)));
      form.action = warningPage(w.id) + a + "/";  // the no-script path of the same step
      var version = form.querySelector('input[name="version"]');
      if (version) version.value = String(w.version);
    });
  }

  function open(id) {
    return T.request("GET", d.api + "/" + id).then(show).catch(function (err) {
      setStatus(labels.failed + (err && err.status ? " (" + err.status + ")" : ""), true);
    });
  }

  body.addEventListener("click", function (ev) {
    var tr = ev.target.closest("tr.cw-row");
    if (!tr) return;
    ev.preventDefault();
    open(tr.dataset.id);
  });
  body.addEventListener("keydown", function (ev) {
    var tr = ev.target.closest("tr.cw-row");
    if (tr && ev.key === "Enter") open(tr.dataset.id);
  });

  panel.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form.cw-action");
    if (!form || !current) return;
    ev.preventDefault();
    var action = form.dataset.action;
    var data = new FormData(form);
    var payload = {};
    if (action === "found") {
      payload = { method: data.get("method"), text: (data.get("text") || "").toString().trim() };
      if (!payload.text) { setStatus(labels.text_required, true); return; }
    } else {
      payload.version = current.version;
      payload.note = (data.get("note") || "").toString().trim();
      if (action === "dismiss") {
        payload.reason = data.get("reason");
        if (payload.reason === "other" && !payload.note) { setStatus(labels.note_required, true); return; }
      }
    }
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    T.request("POST", d.api + "/" + current.id + "/" + action, payload).then(function (w) {
      form.reset();
      show(w);
      upsert(w);
      panel.dataset.did = action;
      setStatus(w.number + " · " + (labels.state[w.state] || w.state) + " · " + labels.done);
    }).catch(function (err) {
      if (err.status === 409) { setStatus(labels.stale, true); open(current.id); }
      else setStatus(labels.failed + (err.status === 403 || err.status === 404 ? "" : ": " + (err.message || "")), true);
    }).then(function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  });

  soundBtn.addEventListener("click", enableSound);
  banner.addEventListener("click", function () { banner.hidden = true; });
  if (panel.dataset.id) open(panel.dataset.id);  // rendered by the server: take it over with the live data
  else if (location.hash.indexOf("#w") === 0) open(location.hash.slice(2));
  tick();
  refreshCounts();
  window.setInterval(tick, 1000);
  poll();
})();
