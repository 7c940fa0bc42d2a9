// The alert page's map: where the alert was raised and the zone it concerns (both from the page, no
// extra request), over the viewer's own areas. Sets #alert-map[data-state="ready"] when drawn.
(function () {
  "use strict";
  var el = document.getElementById("alert-map");
  if (!el || !window.L || !window.PinganTracking) return;
  var T = window.PinganTracking;
  var point = JSON.parse(document.getElementById("alert-point").textContent);
  var zone = JSON.parse(document.getElementById("alert-zone").textContent);
  var map = T.baseMap(el);
  var focus = L.featureGroup().addTo(map);
  if (zone) T.zoneLayer(zone).addTo(focus);
  if (point) {
    L.circleMarker([point.lat, point.lon], { radius: 8, color: "#fff", weight: 2, fillColor: "#c0272d", fillOpacity: 1 })
      .bindTooltip(el.dataset.labelAlert || "", { permanent: false }).addTo(focus);
  }
  T.outlines(map, el).then(function (areas) {
    if (focus.getLayers().length) {
      map.fitBounds(focus.getBounds().pad(0.6), { maxZoom: 17 });
    } else if (areas.getLayers().length) {
      map.fitBounds(areas.getBounds());
    }
    el.dataset.state = "ready";
  });
})();
