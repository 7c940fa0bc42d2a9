// The report form's place picker: tap the map, or "use my position" (navigator.geolocation, WGS-84).
// The picked point goes into the hidden lon/lat fields; the map reports it as data-picked for tests.
(function () {
  "use strict";
  var el = document.getElementById("pick-map");
  var form = document.getElementById("report-form");
  if (!el || !form || !window.L) return;
  var lon = form.querySelector("input[name=lon]");
  var lat = form.querySelector("input[name=lat]");
  var status = document.getElementById("pick-status");
  var button = document.getElementById("use-position");
  var map = L.map(el, { zoomSnap: 1 });
  if (el.dataset.tileUrl) L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "" }).addTo(map);
  var marker = null;

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

  function set(latlng, zoom) {
    lat.value = latlng.lat.toFixed(6);
    lon.value = latlng.lng.toFixed(6);
    if (marker) marker.setLatLng(latlng);
    else marker = L.marker(latlng, { draggable: true }).addTo(map).on("dragend", function () { set(marker.getLatLng()); });
    if (zoom) map.setView(latlng, zoom);
    if (status) status.textContent = (status.dataset.picked || "") + ": " + lat.value + ", " + lon.value;
    el.dataset.picked = lat.value + "," + lon.value;
  }

  var prefilled = lat.value && lon.value;
  if (prefilled) set(L.latLng(parseFloat(lat.value), parseFloat(lon.value)), 15);
  else map.setView([30.85, 120.4], 11);
  map.on("click", function (ev) { set(ev.latlng); });
  outlines(map, el).then(function (group) {
    if (!prefilled && !marker && group.getLayers().length) map.fitBounds(group.getBounds(), { padding: [10, 10] });
    el.dataset.state = "ready";
  });

  if (button) {
    if (!navigator.geolocation) button.hidden = true;
    button.addEventListener("click", function () {
      if (status) status.textContent = status.dataset.locating || "…";
      navigator.geolocation.getCurrentPosition(
        function (pos) { set(L.latLng(pos.coords.latitude, pos.coords.longitude), 16); },
        function () { if (status) status.textContent = status.dataset.failed || ""; },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }
})();
