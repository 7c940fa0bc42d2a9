// The district map: area polygons as the base layer; click an area to drill down a level.
(function () {
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var map = L.map(el, { preferCanvas: true, zoomSnap: 0.25 });
  var tileUrl = el.dataset.tileUrl;
  if (tileUrl) L.tileLayer(tileUrl, { attribution: el.dataset.tileAttribution || "" }).addTo(map);
  var colours = ["#fca5a5", "#fdba74", "#fde047", "#86efac", "#67e8f9", "#a5b4fc", "#f0abfc", "#fda4af", "#bef264", "#5eead4"];
  var layer = null;
  var stack = [];
  function url(template, code) { return template.replace("CODE", encodeURIComponent(code)); }
  function load(code, push) {
    fetch(url(el.dataset.geojsonUrl, code), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (fc) {
        if (!fc.features.length) {
          // A leaf (micro-grid): show the area itself.
          return fetch(url(el.dataset.geojsonUrl, code) + "?children=false", { credentials: "same-origin" })
            .then(function (r) { return r.json(); }).then(function (own) { draw(own, code, push); });
        }
        draw(fc, code, push);
      });
  }
  function draw(fc, code, push) {
    if (layer) map.removeLayer(layer);
    var i = 0;
    layer = L.geoJSON(fc, {
      style: function () { return { color: "#374151", weight: 1, fillColor: colours[(i++) % colours.length], fillOpacity: 0.45 }; },
      onEachFeature: function (f, lyr) {
        lyr.bindTooltip(f.properties.name + " · " + f.properties.code, { sticky: true });
        lyr.on("click", function () { if (f.properties.level !== "microgrid") load(f.properties.code, true); });
        lyr.on("dblclick", function () { window.location = url(el.dataset.areaUrl, f.properties.code); });
      }
    }).addTo(map);
    if (push) stack.push(code);
    var b = layer.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [10, 10] });
    el.dataset.level = (fc.features[0] || { properties: {} }).properties.level || "";
    el.dataset.current = code;
  }
  map.on("contextmenu", function () { if (stack.length > 1) { stack.pop(); load(stack[stack.length - 1], false); } });
  var roots = (el.dataset.roots || "").split(",").filter(Boolean);
  map.setView([30.88, 120.43], 10);
  if (roots.length) load(roots[0], true);
})();
