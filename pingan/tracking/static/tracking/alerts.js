// The alert queue: counts down each open alert's time left to verify, polls the API for new alerts
// (GET /api/v1/tracking/alerts?state=active&since_id=N) and adds them without a reload, sends the row
// actions to the API with the session and the CSRF token, and sounds an alarm for new alerts.
// Browsers block audio until the user interacts, so the sound starts only after "Enable sound"; the tone
// is generated with the Web Audio API (no audio file). The queue reports its state on #alert-queue:
// data-state (loading / ready / offline), data-sound (off / on), data-alerts (active alerts shown),
// data-beeps (alarm tones played), data-last-id (newest alert id seen), data-blinking (title blinking).
(function () {
  "use strict";
  var root = document.getElementById("alert-queue");
  if (!root || !window.PinganTracking) return;
  var T = window.PinganTracking;
  var d = root.dataset;
  var body = document.getElementById("alerts-body");
  var empty = document.getElementById("alerts-empty");
  var countEl = document.getElementById("active-count");
  var statusEl = document.getElementById("queue-status");
  var soundBtn = document.getElementById("enable-sound");
  var soundOn = document.getElementById("sound-on");
  var tpl = document.getElementById("alert-row-template");
  var labels = JSON.parse(document.getElementById("alert-labels").textContent);
  var pollMs = parseInt(d.pollMs, 10) || 4000;
  var deadlines = {};   // alert id → Date.now() ms when its verification time runs out
  var audio = null;
  var polls = 0;
  var blinkTimer = null;
  var baseTitle = document.title;

  function setStatus(text, isError) {
    if (!statusEl) return;
    statusEl.textContent = text || "";
    statusEl.classList.toggle("error", !!isError);
  }

  // -- rows -------------------------------------------------------------------------------------------

  function field(tr, name) { return tr.querySelector('[data-field="' + name + '"]'); }

  function withId(url, id) { return url.replace("/0/", "/" + id + "/"); }

  function buildRow(a) {
    var tr = tpl.content.querySelector("tr").cloneNode(true);
    var active = a.state === "open" || a.state === "acknowledged";
    tr.className = "al-row al-sev-" + a.severity + (a.late ? " is-late" : "") + (active ? "" : " is-done");
    tr.dataset.id = String(a.id);
    tr.dataset.number = a.number;
    tr.dataset.state = a.state;
    tr.dataset.version = String(a.version);
    tr.dataset.secondsLeft = String(a.seconds_left || 0);
    var number = field(tr, "number");
    number.href = withId(number.getAttribute("href"), a.id);
    number.textContent = a.number;
    field(tr, "severity").textContent = labels.severity[a.severity] || a.severity;
    var target = field(tr, "target");
    target.href = withId(target.getAttribute("href"), a.target_id);
    target.textContent = a.target_label;
    field(tr, "rule").textContent = a.rule_label || a.rule;
    field(tr, "zone").textContent = a.zone_name || "—";
    field(tr, "place").textContent = a.place || "—";
    field(tr, "raised").textContent = T.fmtTime(a.raised_at, true);
    var state = field(tr, "state");
    state.className = "al-state al-state-" + a.state;
    state.textContent = labels.state[a.state] || a.state;
    if (a.event_id && a.event_number) {
      var link = document.createElement("a");
      link.className = "small";
      link.dataset.field = "event";
      link.href = "/events/" + a.event_id + "/";
      link.textContent = a.event_number;
      state.parentNode.appendChild(document.createTextNode(" "));
      state.parentNode.appendChild(link);
    }
    var allowed = a.actions || [];
    tr.querySelectorAll("form.al-action").forEach(function (form) {
      if (allowed.indexOf(form.dataset.action) < 0) { form.remove(); return; }
      form.action = withId(form.getAttribute("action"), a.id);
      var version = form.querySelector("input[name=version]");
      if (version) version.value = String(a.version);
    });
    if (a.state === "open") deadlines[a.id] = Date.now() + (a.seconds_left || 0) * 1000;
    else delete deadlines[a.id];
    countdown(tr);
    return tr;
  }

  function rowOf(id) { return root.querySelector('tr.al-row[data-id="' + id + '"]'); }

  function refreshCounts() {
    var n = body.querySelectorAll('tr.al-row[data-state="open"], tr.al-row[data-state="acknowledged"]').length;
    d.alerts = String(n);
    if (countEl) countEl.textContent = String(n);
    if (empty) empty.hidden = body.querySelectorAll("tr.al-row").length > 0;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function countdown(tr) {
    var left = field(tr, "left");
    if (!left) return;
    var id = tr.dataset.id;
    if (tr.dataset.state === "acknowledged") { left.textContent = d.labelVerifying; return; }
    if (tr.dataset.state !== "open" || !(id in deadlines)) { left.textContent = "—"; return; }
    var s = Math.round((deadlines[id] - Date.now()) / 1000);
    if (s <= 0) {
      left.textContent = d.labelOverdue;
      tr.classList.add("is-late");
      return;
    }
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    left.textContent = (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(sec);
    left.classList.toggle("soon", s < 300);
  }

  function tick() { body.querySelectorAll("tr.al-row").forEach(countdown); }

  // -- sound and title --------------------------------------------------------------------------------

  function tone(frequencies, gainPeak) {
    var now = audio.currentTime;
    frequencies.forEach(function (f, i) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      var start = now + i * 0.22;
      osc.type = "square";
      osc.frequency.setValueAtTime(f, start);
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(gainPeak, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.21);
    });
  }

  function alarm(severity) {
    if (!audio || d.sound !== "on") return;
    var play = function () {
      tone(severity === "warning" ? [660, 660] : [880, 660, 880, 660], 0.25);
      d.beeps = String((parseInt(d.beeps, 10) || 0) + 1);
    };
    if (audio.state === "suspended") audio.resume().then(play); else play();
  }

  function enableSound() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    var done = function () {
      d.sound = "on";
      if (soundBtn) soundBtn.hidden = true;
      if (soundOn) soundOn.hidden = false;
      tone([1320], 0.08);  // a short, quiet check that sound works (not counted as an alarm)
    };
    if (audio.state === "suspended") audio.resume().then(done); else done();
  }

  function blink(count) {
    stopBlink();
    var on = false;
    var alertTitle = "【" + d.labelNew + " " + count + "】" + baseTitle;
    d.blinking = "on";
    blinkTimer = window.setInterval(function () {
      on = !on;
      document.title = on ? alertTitle : baseTitle;
    }, 800);
    document.title = alertTitle;
  }

  function stopBlink() {
    if (blinkTimer) window.clearInterval(blinkTimer);
    blinkTimer = null;
    d.blinking = "off";
    document.title = baseTitle;
  }

  // -- polling ----------------------------------------------------------------------------------------

  function add(detail) {
    if (rowOf(detail.id)) return false;
    var tr = buildRow(detail);
    tr.classList.add("is-new");
    body.insertBefore(tr, body.firstChild);
    return true;
  }

  function replace(detail) {
    var old = rowOf(detail.id);
    var tr = buildRow(detail);
    if (old) old.parentNode.replaceChild(tr, old); else body.insertBefore(tr, body.firstChild);
    refreshCounts();
    return tr;
  }

  function poll() {
    polls += 1;
    var since = parseInt(d.lastId, 10) || 0;
    var url = d.listUrl + "?state=active&limit=100&since_id=" + since;
    return T.request("GET", url).then(function (data) {
      var items = (data.items || []).slice().sort(function (x, y) { return x.id - y.id; });
      if (!items.length) return [];
      d.lastId = String(Math.max(since, items[items.length - 1].id));
      // Each new alert's detail says which actions this user may take on it.
      return Promise.all(items.map(function (a) { return T.request("GET", d.apiBase + a.id); }));
    }).then(function (details) {
      var added = details.filter(add);
      refreshCounts();
      d.state = "ready";
      if (added.length) {
        var severity = added.some(function (a) { return a.severity === "alarm"; }) ? "alarm" : "warning";
        alarm(severity);
        blink(added.length);
      }
      if (polls % 8 === 0) return reconcile();
    }).catch(function () {
      d.state = "offline";
      setStatus(d.labelOffline, true);
    }).then(function () {
      window.setTimeout(poll, pollMs);
    });
  }

  // Now and then, rows that others have handled meanwhile are brought up to date.
  function reconcile() {
    return T.request("GET", d.listUrl + "?state=active&limit=500").then(function (data) {
      var active = {};
      (data.items || []).forEach(function (a) { active[a.id] = true; });
      var stale = [];
      body.querySelectorAll('tr.al-row[data-state="open"], tr.al-row[data-state="acknowledged"]').forEach(function (tr) {
        if (!active[tr.dataset.id]) stale.push(tr.dataset.id);
      });
      return Promise.all(stale.map(function (id) { return T.request("GET", d.apiBase + id).then(replace); }));
    }).then(function () { if (d.state === "ready") setStatus(""); });
  }

  // -- actions ----------------------------------------------------------------------------------------

  root.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form.al-action");
    if (!form) return;
    ev.preventDefault();
    var tr = form.closest("tr.al-row");
    var id = tr.dataset.id;
    var action = form.dataset.action;
    var data = new FormData(form);
    var payload = { note: (data.get("note") || "").toString().trim() };
    if (action !== "note") {
      var version = parseInt(data.get("version"), 10);
      if (!isNaN(version)) payload.version = version;
    }
    if (action === "dismiss") {
      payload.reason = data.get("reason");
      if (payload.reason === "other" && !payload.note) {  // the API would refuse it too
        setStatus(d.labelNoteRequired, true);
        return;
      }
    }
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    T.request("POST", d.apiBase + id + "/" + action, payload).then(function (detail) {
      replace(detail).dataset.did = action;
      setStatus(detail.number + " · " + (labels.state[detail.state] || detail.state) + " · " + d.labelDone);
    }).catch(function (err) {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      if (err.status === 409) {
        setStatus(d.labelStale, true);
        T.request("GET", d.apiBase + id).then(replace);
      } else {
        setStatus(d.labelFailed + (err.status === 403 || err.status === 404 ? "" : ": " + err.message), true);
      }
    });
  });

  // Deadlines of the rows the server drew.
  body.querySelectorAll('tr.al-row[data-state="open"]').forEach(function (tr) {
    deadlines[tr.dataset.id] = Date.now() + (parseInt(tr.dataset.secondsLeft, 10) || 0) * 1000;
  });
  if (soundBtn) soundBtn.addEventListener("click", enableSound);
  document.addEventListener("pointerdown", stopBlink);
  document.addEventListener("keydown", stopBlink);
  tick();
  refreshCounts();
  window.setInterval(tick, 1000);
  poll();
})();
