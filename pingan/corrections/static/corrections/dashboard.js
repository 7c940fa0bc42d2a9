// The correction dashboard's map: the latest position of each open subject the viewer may see (from the page,
// rendered through the policy), coloured by the follow-code colour, each linking to the subject's file.
// data-state on the map: ready once drawn; data-points: how many markers.
(function () {
  "use strict";
  var el = document.getElementById("rx-map");
  if (!el || !window.L || !window.PinganTracking) return;
  var T = window.PinganTracking;
  var points = JSON.parse(document.getElementById("rx-points").textContent) || [];
  var COLOURS = { green: "#1d8f4e", yellow: "#d39e00", red: "#c0272d" };
  var map = T.baseMap(el);
  var layer = L.featureGroup().addTo(map);
  points.forEach(function (p) {
    L.circleMarker([p.lat, p.lon], { radius: 7, color: "#fff", weight: 2, fillColor: COLOURS[p.colour] || "#1f5fbf", fillOpacity: 1 })
      .bindTooltip(p.label + " · " + T.fmtTime(p.t))
      .on("click", function () { window.location.href = p.url; })
      .addTo(layer);
  });
  el.dataset.points = String(points.length);
  T.outlines(map, el).then(function (areas) {
    if (points.length) map.fitBounds(layer.getBounds().pad(0.3), { maxZoom: 15 });
    else if (areas.getLayers().length) map.fitBounds(areas.getBounds());
    el.dataset.state = "ready";
  });
})();
