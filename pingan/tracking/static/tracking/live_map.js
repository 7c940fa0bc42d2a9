// The live map: the latest positions from GET /api/v1/tracking/positions?zoom=&bbox=, clustered by the
// server for the zoom; reloaded on every move and zoom and every data-refresh-ms. A single target is a dot
// (red while it has an active alert) linking to its page; a group is a bubble with its count (a click
// zooms in). Zones come from GET /api/v1/tracking/zones. The map reports on itself: data-state
// (loading / ready / failed), data-total, data-clusters, data-alerting, data-targets (ids of the single
// targets drawn) and data-zones.
(function () {
  "use strict";
  var el = document.getElementById("live-map");
  if (!el || !window.L || !window.PinganTracking) return;
  var T = window.PinganTracking;
  var d = el.dataset;
  var map = T.baseMap(el);
  var zonesLayer = L.featureGroup().addTo(map);
  var layer = L.layerGroup().addTo(map);
  var seq = 0;
  var fitted = false;
  var totalEl = document.getElementById("targets-total");
  var alertingEl = document.getElementById("targets-alerting");
  var updatedEl = document.getElementById("positions-updated");

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function targetUrl(id) { return d.targetUrl.replace("/0/", "/" + id + "/"); }

  function marker(c) {
    if (c.count === 1 && c.target_id) {
      var m = L.circleMarker([c.lat, c.lon], {
        radius: c.alerting ? 9 : 7, color: "#fff", weight: 2, fillOpacity: 1,
        fillColor: c.alerting ? "#c0272d" : "#1f5fbf", className: "al-target" + (c.alerting ? " alerting" : ""),
      });
      m.bindTooltip(esc(c.label), { direction: "top" });
      m.bindPopup('<a href="' + targetUrl(c.target_id) + '">' + esc(c.label) + "</a>" +
        (c.alerting ? ' <span class="ev-badge red">' + esc(d.labelAlerting) + "</span>" : "") +
        (c.at ? '<br><span class="muted small">' + esc(d.labelAt) + " " + esc(T.fmtTime(c.at)) + "</span>" : ""));
      return m;
    }
    var size = c.count >= 100 ? 44 : c.count >= 10 ? 36 : 30;
    var bubble = L.marker([c.lat, c.lon], { title: String(c.count), icon: L.divIcon({ className: "", iconSize: [size, size],
      html: '<div class="al-cluster" style="width:' + size + "px;height:" + size + "px;line-height:" + size + 'px">' + c.count + "</div>" }) });
    bubble.on("click", function () { map.setView([c.lat, c.lon], Math.min(map.getZoom() + 2, 19)); });
    return bubble;
  }

  function draw(data) {
    layer.clearLayers();
    var singles = [], alerting = 0;
    data.clusters.forEach(function (c) {
      marker(c).addTo(layer);
      if (c.count === 1 && c.target_id) singles.push(c.target_id);
      if (c.alerting) alerting += 1;
    });
    d.total = String(data.total);
    d.clusters = String(data.clusters.length);
    d.alerting = String(alerting);
    d.targets = singles.join(",");
    if (totalEl) totalEl.textContent = String(data.total);
    if (alertingEl) alertingEl.textContent = String(alerting);
    if (updatedEl) updatedEl.textContent = T.fmtTime(new Date());
  }

  function params(withBox) {
    var p = new URLSearchParams();
    p.set("zoom", String(Math.round(map.getZoom())));
    if (withBox) {
      var b = map.getBounds();
      p.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(5); }).join(","));
    }
    return p;
  }

  function load() {
    var token = ++seq;
    T.request("GET", d.positionsUrl + "?" + params(true).toString()).then(function (data) {
      if (token !== seq) return;
      draw(data);
      d.state = "ready";
    }).catch(function () { if (token === seq) d.state = "failed"; });
  }

  // First view: the viewer's areas; without any, every position the viewer may see (no bbox).
  function fitFirst(areas) {
    if (areas.getLayers().length) {
      map.fitBounds(areas.getBounds(), { padding: [10, 10] });
      fitted = true;
      load();
      return;
    }
    T.request("GET", d.positionsUrl + "?zoom=14").then(function (data) {
      if (data.clusters.length) {
        map.fitBounds(L.latLngBounds(data.clusters.map(function (c) { return [c.lat, c.lon]; })).pad(0.2), { maxZoom: 15 });
      }
    }).catch(function () {}).then(function () { fitted = true; load(); });
  }

  T.all(d.zonesUrl).then(function (zones) {
    zones.filter(function (z) { return z.is_active; }).forEach(function (z) { T.zoneLayer(z).addTo(zonesLayer); });
    d.zones = String(zonesLayer.getLayers().length);
  }).catch(function () { d.zones = "0"; });

  var pending = null;
  map.on("moveend zoomend", function () {  // a zoom fires both: one request
    if (!fitted) return;
    window.clearTimeout(pending);
    pending = window.setTimeout(load, 60);
  });
  window.setInterval(function () { if (fitted && !document.hidden) load(); }, parseInt(d.refreshMs, 10) || 15000);
  T.outlines(map, el).then(fitFirst);
})();
