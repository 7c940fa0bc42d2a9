// The target page's map: the latest position, and — for those who may play back tracks — the track over
// the chosen period from GET /api/v1/tracking/targets/<id>/track?from=&to= (every such read is audited by
// the server), drawn as a line, with a marker that "Play" moves along it in device time at the chosen
// speed (gaps in the track longer than five minutes are shortened to five). The map reports on itself:
// data-state (ready once drawn), data-track (none / loading / loaded / empty / failed), data-fixes,
// data-playing (on / off) and data-position (index of the fix the marker last passed). The zones the viewer
// may see are drawn for context.
(function () {
  "use strict";
  var el = document.getElementById("track-map");
  if (!el || !window.L || !window.PinganTracking) return;
  var T = window.PinganTracking;
  var d = el.dataset;
  var form = document.getElementById("track-form");
  var playBtn = document.getElementById("track-play");
  var speedSel = document.getElementById("track-speed");
  var statusEl = document.getElementById("track-status");
  var timeEl = document.getElementById("track-time");
  var latest = JSON.parse(document.getElementById("target-latest").textContent);
  var map = T.baseMap(el);
  var trackLayer = L.featureGroup().addTo(map);
  var latestMarker = null;
  var MAX_GAP_MS = 5 * 60 * 1000;
  var fixes = [], times = [], clock = [];   // device times (ms) and the play clock (ms, gaps shortened)
  var mover = null, playing = false, played = 0, lastFrame = 0, frame = null;
  d.track = "none";
  d.playing = "off";

  if (latest) {
    latestMarker = L.circleMarker([latest.lat, latest.lon], { radius: 7, color: "#fff", weight: 2, fillColor: "#1f5fbf", fillOpacity: 1 })
      .bindTooltip((d.labelLatest || "") + " " + T.fmtTime(latest.t)).addTo(map);
  }

  function status(text) { if (statusEl) statusEl.textContent = text; }

  function showAt(ms) {
    if (timeEl) timeEl.textContent = ms ? T.fmtTime(new Date(ms)) : "";
  }

  function load() {
    var from = T.shanghaiIso(form.elements.from.value), to = T.shanghaiIso(form.elements.to.value);
    var p = new URLSearchParams({ from: from, to: to });
    stop();
    d.track = "loading";
    return T.request("GET", d.trackUrl + "?" + p.toString()).then(function (rows) {
      fixes = rows || [];
      trackLayer.clearLayers();
      mover = null;
      times = fixes.map(function (f) { return new Date(f.t).getTime(); });
      clock = [];
      fixes.forEach(function (f, i) {
        clock.push(i === 0 ? 0 : clock[i - 1] + Math.min(times[i] - times[i - 1], MAX_GAP_MS));
      });
      d.fixes = String(fixes.length);
      played = 0;
      d.position = "0";
      if (!fixes.length) {
        d.track = "empty";
        status(d.labelNone);
        playBtn.disabled = true;
        showAt(0);
        return;
      }
      var line = fixes.map(function (f) { return [f.lat, f.lon]; });
      L.polyline(line, { color: "#1f5fbf", weight: 3, opacity: 0.8 }).addTo(trackLayer);
      fixes.forEach(function (f, i) {
        L.circleMarker(line[i], { radius: 2, color: "#1f5fbf", weight: 1, fillOpacity: 0.8 })
          .bindTooltip(T.fmtTime(f.t) + " · ±" + Math.round(f.accuracy_m) + " m").addTo(trackLayer);
      });
      L.circleMarker(line[0], { radius: 6, color: "#fff", weight: 2, fillColor: "#1d8f4e", fillOpacity: 1 }).addTo(trackLayer);
      mover = L.circleMarker(line[0], { radius: 8, color: "#fff", weight: 2, fillColor: "#c0272d", fillOpacity: 1,
                                        className: "al-mover" }).addTo(trackLayer);
      map.fitBounds(trackLayer.getBounds().pad(0.2), { maxZoom: 17 });
      d.track = "loaded";
      status(fixes.length + " " + d.labelFixes);
      showAt(times[0]);
      playBtn.disabled = false;
    }).catch(function (err) {
      d.track = "failed";
      status(d.labelFailed + (err && err.data && err.data.message ? ": " + err.data.message : ""));
    });
  }

  // Where the marker is after ``ms`` of play clock: the fix index passed, and the interpolated point/time.
  function positionAt(ms) {
    var i = 0;
    while (i < clock.length - 1 && clock[i + 1] <= ms) i += 1;
    if (i >= clock.length - 1) return { i: clock.length - 1, lat: fixes[i].lat, lon: fixes[i].lon, t: times[i] };
    var span = clock[i + 1] - clock[i] || 1, f = (ms - clock[i]) / span;
    return { i: i, lat: fixes[i].lat + (fixes[i + 1].lat - fixes[i].lat) * f,
             lon: fixes[i].lon + (fixes[i + 1].lon - fixes[i].lon) * f, t: times[i] + (times[i + 1] - times[i]) * f };
  }

  function step(now) {
    if (!playing) return;
    played += (now - lastFrame) * (parseInt(speedSel.value, 10) || 300);
    lastFrame = now;
    var end = clock[clock.length - 1];
    if (played >= end) played = end;
    var at = positionAt(played);
    mover.setLatLng([at.lat, at.lon]);
    d.position = String(at.i);
    showAt(at.t);
    if (played >= end) { stop(); d.played = "end"; return; }
    frame = window.requestAnimationFrame(step);
  }

  function play() {
    if (!mover || !fixes.length) return;
    if (played >= clock[clock.length - 1]) played = 0;  // from the start again
    playing = true;
    d.playing = "on";
    d.played = "";
    playBtn.textContent = "⏸ " + d.labelPause;
    lastFrame = performance.now();
    frame = window.requestAnimationFrame(step);
  }

  function stop() {
    playing = false;
    d.playing = "off";
    if (frame) window.cancelAnimationFrame(frame);
    frame = null;
    if (playBtn) playBtn.textContent = "▶ " + d.labelPlay;
  }

  if (form && d.trackUrl) {
    form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
    playBtn.addEventListener("click", function () { if (playing) stop(); else play(); });
  }
  if (d.zonesUrl) {  // the zones in the viewer's scope, for context
    var zones = L.featureGroup().addTo(map);
    T.all(d.zonesUrl).then(function (rows) {
      rows.filter(function (z) { return z.is_active; }).forEach(function (z) { T.zoneLayer(z).addTo(zones); });
      zones.bringToBack();
    }).catch(function () {});
  }
  T.outlines(map, el).then(function (areas) {
    if (latestMarker) map.setView(latestMarker.getLatLng(), 15);
    else if (areas.getLayers().length) map.fitBounds(areas.getBounds());
    d.state = "ready";
  });
})();
