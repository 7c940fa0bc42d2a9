// The events map: clusters computed by the server per zoom level and view (GET /api/v1/events/clusters),
// drawn as circles with their count; a single event links to its page. Filters in the side panel
// reload the clusters. A click on the map sets the place for "Report an event here".
// The map element reports its state on itself (data-state="ready", data-total) for the page and tests.
(function () {
  "use strict";
  var el = document.getElementById("events-map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var form = document.getElementById("map-filters");
  var totalEl = document.getElementById("events-total");
  var reportLink = document.getElementById("report-here");
  var map = L.map(el, { zoomSnap: 1 });
  if (d.tileUrl) L.tileLayer(d.tileUrl, { attribution: d.tileAttribution || "" }).addTo(map);
  map.setView([30.85, 120.4], 11);
  var layer = L.layerGroup().addTo(map);
  var picked = null;
  var seq = 0;
  var fitted = false;
  var areas = null;

  // The viewer's own areas, outlined (not clickable): something to find one's way by without map tiles.
  function outlines(map, el) {
    var codes = (el.dataset.roots || "").split(",").filter(Boolean);
    return Promise.all(codes.map(function (code) {
      return fetch(el.dataset.geojsonUrl.replace("CODE", encodeURIComponent(code)), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .catch(function () { return { features: [] }; });
    })).then(function (collections) {
      var group = L.featureGroup();
      collections.forEach(function (fc) {
        L.geoJSON(fc, { interactive: false, style: { color: "#1f5fbf", weight: 2, fillColor: "#5b8ff9", fillOpacity: 0.06 } })
          .addTo(group);
      });
      group.addTo(map);
      return group;
    });
  }

  function params() {
    var p = new URLSearchParams();
    if (form) {
      new FormData(form).forEach(function (v, k) { if (v) p.set(k, v); });
    }
    var b = map.getBounds();
    p.set("zoom", String(Math.round(map.getZoom())));
    p.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(5); }).join(","));
    return p;
  }

  function eventUrl(id) { return d.eventUrl.replace("/0/", "/" + id + "/"); }

  function icon(c) {
    var size = c.count >= 100 ? 44 : c.count >= 10 ? 36 : 28;
    var cls = "ev-cluster" + (c.overdue ? " overdue" : "") + (c.count === 1 ? " single" : "");
    return L.divIcon({ className: "", iconSize: [size, size],
      html: '<div class="' + cls + '" style="width:' + size + "px;height:" + size + "px;line-height:" + size + 'px">' + c.count + "</div>" });
  }

  function draw(data) {
    layer.clearLayers();
    data.clusters.forEach(function (c) {
      var m = L.marker([c.lat, c.lon], { icon: icon(c), title: c.number || String(c.count) });
      if (c.id) {
        m.bindPopup('<a href="' + eventUrl(c.id) + '">' + (c.number || "") + "</a>");
      } else {
        m.on("click", function () { map.setView([c.lat, c.lon], Math.min(map.getZoom() + 2, 19)); });
      }
      m.addTo(layer);
    });
    if (totalEl) totalEl.textContent = String(data.total);
    el.dataset.total = String(data.total);
    el.dataset.clusters = String(data.clusters.length);
  }

  function load() {
    var token = ++seq;
    el.dataset.state = "loading";
    fetch(d.clustersUrl + "?" + params().toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) {
        if (token !== seq) return;
        draw(data);
        el.dataset.state = "ready";
      })
      .catch(function () { if (token === seq) el.dataset.state = "failed"; });
  }

  // The first view: the viewer's own areas; without any, the viewer's events (one request without a bbox).
  function fitFirst() {
    if (areas && areas.getLayers().length) {
      map.fitBounds(areas.getBounds(), { padding: [10, 10] });
      fitted = true;
      load();
      return;
    }
    var p = params();
    p.delete("bbox");
    p.set("zoom", "14");
    fetch(d.clustersUrl + "?" + p.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { clusters: [] }; })
      .then(function (data) {
        if (data.clusters.length) {
          var bounds = L.latLngBounds(data.clusters.map(function (c) { return [c.lat, c.lon]; }));
          map.fitBounds(bounds.pad(0.2), { maxZoom: 15 });
        }
        fitted = true;
        load();
      })
      .catch(function () { fitted = true; load(); });
  }

  map.on("moveend", function () { if (fitted) load(); });
  if (form) form.addEventListener("change", load);
  map.on("click", function (ev) {
    if (!reportLink) return;
    if (picked) picked.setLatLng(ev.latlng); else picked = L.circleMarker(ev.latlng, { radius: 7, color: "#c0272d" }).addTo(map);
    reportLink.href = reportLink.dataset.base + "?lat=" + ev.latlng.lat.toFixed(6) + "&lon=" + ev.latlng.lng.toFixed(6);
    el.dataset.picked = ev.latlng.lat.toFixed(6) + "," + ev.latlng.lng.toFixed(6);
  });
  outlines(map, el).then(function (group) { areas = group; fitFirst(); });
})();
