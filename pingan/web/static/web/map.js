// The area map: the polygons one level below the current area; click one to go down a level
// (district → town → village → grid → micro-grid). "Up a level", the breadcrumbs and a right-click
// go back. The map element carries the URLs and the translated labels as data- attributes, and
// reports its state back on itself (data-current, data-level, data-count, data-state) for the page
// and for tests. No CDN: Leaflet is served from the package's static files.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var $ = function (id) { return document.getElementById(id); };
  var upBtn = $("map-up"), crumbsEl = $("crumbs"), statusEl = $("map-status");
  var listEl = $("map-list"), listTitle = $("map-list-title"), listCount = $("map-list-count");
  var cur = $("map-current");

  var PALETTE = ["#5b8ff9", "#5ad8a6", "#f6bd16", "#e8684a", "#6dc8ec", "#9270ca", "#ff9d4d", "#269a99",
                 "#ff99c3", "#5d7092", "#7cb305", "#d4380d"];
  var LABELS_UP_TO = 60;  // permanent name labels when at most this many areas are drawn

  var tileUrl = d.tileUrl;
  var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!tileUrl, doubleClickZoom: false });
  if (tileUrl) L.tileLayer(tileUrl, { attribution: d.tileAttribution || "" }).addTo(map);
  map.setView([30.88, 120.43], 10);

  var roots = (d.roots || "").split(",").filter(Boolean);
  var stack = [];      // [{code, name, level}]; stack[0] is the top the user may see
  var layer = null;
  var byCode = {};     // code → Leaflet layer, for highlighting from the list
  var seq = 0;
  var cache = {};

  function levelName(level) {
    var key = "level" + (level ? level.charAt(0).toUpperCase() + level.slice(1) : "");
    return d[key] || level || "";
  }
  // "向阳社区第1网格第5微网格" under "向阳社区第1网格" is labelled "第5微网格".
  function shortName(name) {
    var top = stack[stack.length - 1];
    var parent = top && top.code ? top.name : "";
    return parent && name.length > parent.length && name.indexOf(parent) === 0 ? name.slice(parent.length) : name;
  }
  function url(template, code) { return template.replace("CODE", encodeURIComponent(code)); }
  function getJSON(u) {
    if (!cache[u]) {
      cache[u] = fetch(u, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) { if (r.status >= 500) throw new Error(String(r.status)); return { features: [] }; }
          return r.json();
        })
        .catch(function (e) { delete cache[u]; throw e; });
    }
    return cache[u];
  }
  function children(code) { return getJSON(url(d.geojsonUrl, code)); }
  function own(code) { return getJSON(url(d.geojsonUrl, code) + "?children=false"); }

  // What to draw for a stack entry: its children, or itself when it has none (a micro-grid).
  function contents(entry) {
    if (!entry.code) {
      return Promise.all(roots.map(own)).then(function (fcs) {
        var features = [];
        fcs.forEach(function (fc) { features = features.concat(fc.features || []); });
        return { features: features, leaf: false };
      });
    }
    var kids = entry.level === "microgrid" ? Promise.resolve({ features: [] }) : children(entry.code);
    return kids.then(function (fc) {
      if (fc.features && fc.features.length) return { features: fc.features, leaf: false };
      return own(entry.code).then(function (o) { return { features: o.features || [], leaf: true }; });
    });
  }

  function setStatus(text) { if (statusEl) statusEl.textContent = text; }

  function render() {
    var token = ++seq;
    var top = stack[stack.length - 1];
    el.dataset.state = "loading";
    setStatus(d.labelLoading || "…");
    if (upBtn) upBtn.disabled = stack.length <= 1;
    contents(top).then(function (res) {
      if (token !== seq) return;  // a later click won
      draw(res.features, res.leaf);
      renderCrumbs();
      renderPanel(res.features, res.leaf);
      el.dataset.current = top.code || "";
      el.dataset.level = res.features.length ? res.features[0].properties.level : "";
      el.dataset.count = String(res.features.length);
      el.dataset.depth = String(stack.length);
      el.dataset.state = "ready";
      var lvl = el.dataset.level;
      setStatus(res.features.length ? levelName(lvl) + " · " + res.features.length : "");
    }).catch(function () {
      if (token !== seq) return;
      el.dataset.state = "error";
      setStatus(d.labelFailed || "!");
    });
  }

  function enter(props) {
    stack.push({ code: props.code, name: props.name, level: props.level });
    render();
  }
  function goTo(depth) {
    if (depth < 0 || depth >= stack.length - 1) return;
    stack.length = depth + 1;
    render();
  }
  function up() { goTo(stack.length - 2); }

  function draw(features, leaf) {
    if (layer) map.removeLayer(layer);
    byCode = {};
    var colour = {};
    features.forEach(function (f, i) { colour[f.properties.code] = PALETTE[i % PALETTE.length]; });
    var labelled = features.length <= LABELS_UP_TO;
    var base = function (f) {
      return { color: "#1e3a6e", weight: leaf ? 2 : 1.2, opacity: 0.9, fillColor: colour[f.properties.code],
               fillOpacity: leaf ? 0.3 : 0.42 };
    };
    layer = L.geoJSON({ type: "FeatureCollection", features: features }, {
      style: base,
      onEachFeature: function (f, lyr) {
        var p = f.properties;
        byCode[p.code] = lyr;
        if (labelled) lyr.bindTooltip(leaf ? p.name : shortName(p.name), { permanent: true, direction: "center", className: "area-label", interactive: false });
        else lyr.bindTooltip(p.name + " · " + p.code, { sticky: true });
        lyr.on("click", function () { if (!leaf) enter(p); });
        lyr.on("mouseover", function () { highlight(p.code, true); });
        lyr.on("mouseout", function () { highlight(p.code, false); });
      }
    }).addTo(map);
    layer.eachLayer(function (lyr) {
      var node = lyr.getElement && lyr.getElement();
      if (node) { node.setAttribute("data-code", lyr.feature.properties.code); node.setAttribute("data-level", lyr.feature.properties.level); }
    });
    layer._pinganBase = base;
    var b = layer.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [16, 16] });
  }

  function highlight(code, on) {
    var lyr = byCode[code];
    if (lyr && layer) {
      if (on) { lyr.setStyle({ weight: 2.6, fillOpacity: 0.62 }); lyr.bringToFront(); }
      else lyr.setStyle(layer._pinganBase(lyr.feature));
    }
    if (listEl) {
      var li = listEl.querySelector('li[data-code="' + code + '"]');
      if (li) li.classList.toggle("hover", on);
    }
  }

  function renderCrumbs() {
    if (!crumbsEl) return;
    crumbsEl.textContent = "";
    stack.forEach(function (entry, i) {
      var li = document.createElement("li");
      if (i === stack.length - 1) {
        li.textContent = entry.name;
        li.setAttribute("aria-current", "location");
      } else {
        var b = document.createElement("button");
        b.type = "button"; b.className = "link"; b.textContent = entry.name;
        b.addEventListener("click", function () { goTo(i); });
        li.appendChild(b);
      }
      crumbsEl.appendChild(li);
    });
  }

  function renderPanel(features, leaf) {
    var top = stack[stack.length - 1];
    if (cur) {
      cur.hidden = !top.code;
      if (top.code) {
        $("map-current-name").textContent = top.name;
        $("map-current-level").textContent = levelName(top.level);
        $("map-current-code").textContent = top.code;
        $("map-current-link").href = url(d.areaUrl, top.code);
      }
    }
    if (!listEl) return;
    var lvl = features.length ? features[0].properties.level : "";
    if (listTitle) listTitle.textContent = !top.code ? (d.labelAll || "") : levelName(lvl);
    if (listCount) listCount.textContent = String(features.length);
    listEl.textContent = "";
    features.forEach(function (f) {
      var p = f.properties;
      var li = document.createElement("li");
      li.setAttribute("data-code", p.code);
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = byCode[p.code] ? byCode[p.code].options.fillColor : "#ccc";
      li.appendChild(sw);
      if (leaf) {
        var a = document.createElement("a");
        a.href = url(d.areaUrl, p.code); a.textContent = p.name;
        li.appendChild(a);
      } else {
        var b = document.createElement("button");
        b.type = "button"; b.className = "link"; b.textContent = shortName(p.name); b.title = p.name;
        b.addEventListener("click", function () { enter(p); });
        li.appendChild(b);
      }
      var c = document.createElement("span");
      c.className = "muted code"; c.textContent = p.code;
      li.appendChild(c);
      li.addEventListener("mouseenter", function () { highlight(p.code, true); });
      li.addEventListener("mouseleave", function () { highlight(p.code, false); });
      listEl.appendChild(li);
    });
  }

  if (upBtn) upBtn.addEventListener("click", up);
  map.on("contextmenu", up);

  if (!roots.length) return;
  if (roots.length === 1) {
    own(roots[0]).then(function (fc) {
      var p = (fc.features && fc.features[0] && fc.features[0].properties) || { code: roots[0], name: roots[0], level: "" };
      stack = [{ code: p.code, name: p.name, level: p.level }];
      render();
    }).catch(function () { el.dataset.state = "error"; setStatus(d.labelFailed || "!"); });
  } else {
    stack = [{ code: "", name: d.labelAll || "", level: "" }];
    render();
  }
})();
