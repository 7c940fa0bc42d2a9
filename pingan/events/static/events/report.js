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

  function set(latlng, zoom) {
    lat.value = latlng.lat.toFixed(6);
    lon.value = latlng.lng.toFixed(6);
    if (marker) marker.setLatLng(latlng);
    else marker = L.marker(latlng, { draggable: true }).addTo(map).on("dragend", function () { set(marker.getLatLng()); });
    if (zoom) map.setView(latlng, zoom);
    if (status) status.textContent = (status.dataset.picked || "") + ": " + lat.value + ", " + lon.value;
    el.dataset.picked = lat.value + "," + lon.value;
  }

  if (lat.value && lon.value) {
    set(L.latLng(parseFloat(lat.value), parseFloat(lon.value)), 15);
  } else {
    map.setView([30.85, 120.4], 11);
  }
  map.on("click", function (ev) { set(ev.latlng); });

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
  el.dataset.state = "ready";
})();
