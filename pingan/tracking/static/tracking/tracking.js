// Shared by the tracking pages: JSON calls to the API with the session (and the CSRF token for writes),
// times shown in Asia/Shanghai whatever the browser's zone, and zones drawn on a Leaflet map.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function request(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRFToken"] = csrfToken();
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new Error((data && data.message) || String(r.status));
          err.status = r.status; err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  // Every page of a paginated list (limit/offset), concatenated.
  function all(url, limit) {
    limit = limit || 500;
    var sep = url.indexOf("?") >= 0 ? "&" : "?";
    var items = [];
    function page(offset) {
      return request("GET", url + sep + "limit=" + limit + "&offset=" + offset).then(function (data) {
        items = items.concat(data.items || []);
        if (data.items && data.items.length === limit && items.length < (data.count || 0)) return page(offset + limit);
        return items;
      });
    }
    return page(0);
  }

  var PARTS = null;
  try {
    PARTS = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  } catch (e) { PARTS = null; }

  // "2026-11-30 10:05:09" in Shanghai time; with short=true "11-30 10:05:09".
  function fmtTime(value, short) {
    if (!value) return "";
    var d = value instanceof Date ? value : new Date(value);
    if (isNaN(d.getTime())) return "";
    var p = {};
    if (PARTS) {
      PARTS.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
    } else {  // UTC+8 by hand (Shanghai keeps no summer time)
      var s = new Date(d.getTime() + 8 * 3600 * 1000).toISOString();
      p = { year: s.slice(0, 4), month: s.slice(5, 7), day: s.slice(8, 10), hour: s.slice(11, 13), minute: s.slice(14, 16),
            second: s.slice(17, 19) };
    }
    var hour = p.hour === "24" ? "00" : p.hour;
    var day = p.month + "-" + p.day;
    return (short ? day : p.year + "-" + day) + " " + hour + ":" + p.minute + ":" + p.second;
  }

  // A value of <input type="datetime-local"> read as Shanghai time → ISO 8601 with +08:00.
  function shanghaiIso(local) {
    if (!local) return "";
    return (local.length === 16 ? local + ":00" : local) + "+08:00";
  }

  var ZONE_COLOURS = { exclusion: "#c0272d", inclusion: "#1d8f4e", speed: "#b45309", watch: "#1f5fbf" };

  function ll(pair) { return [pair[1], pair[0]]; }

  // One zone (the API's shape: polygon rings, a circle's centre and radius, a corridor's line) as a layer.
  function zoneLayer(zone) {
    var colour = ZONE_COLOURS[zone.kind] || "#1f5fbf";
    var style = { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.12, interactive: true };
    var layer;
    if (zone.shape === "circle") {
      layer = L.circle(ll(zone.coords), Object.assign({ radius: zone.radius_m || 1 }, style));
    } else if (zone.shape === "corridor") {
      layer = L.polyline((zone.coords || []).map(ll), Object.assign({}, style, { weight: 6, opacity: 0.6, dashArray: "6 6" }));
    } else {
      layer = L.polygon((zone.coords || []).map(function (ring) { return ring.map(ll); }), style);
    }
    layer.bindTooltip(zone.name || "", { sticky: true });
    return layer;
  }

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
        L.geoJSON(fc, { interactive: false, style: { color: "#5d7092", weight: 1.5, fillColor: "#5b8ff9", fillOpacity: 0.04 } })
          .addTo(group);
      });
      group.addTo(map);
      return group;
    });
  }

  function baseMap(el, options) {
    var map = L.map(el, Object.assign({ zoomSnap: 1 }, options || {}));
    if (el.dataset.tileUrl) L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "" }).addTo(map);
    map.setView([30.85, 120.4], 11);
    return map;
  }

  window.PinganTracking = { request: request, all: all, fmtTime: fmtTime, shanghaiIso: shanghaiIso, zoneLayer: zoneLayer,
                            outlines: outlines, baseMap: baseMap, csrfToken: csrfToken };
})();
