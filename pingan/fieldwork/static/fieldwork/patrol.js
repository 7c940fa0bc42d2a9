// The patrol page: send the phone's position to the open patrol, fill the report form's point.
(function () {
  "use strict";
  var form = document.getElementById("point-form");
  var status = document.getElementById("position-status");

  function say(key) { if (status) { status.textContent = status.dataset[key] || ""; } }

  function locate(done) {
    if (!navigator.geolocation) { say("failed"); return; }
    say("locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      done(pos.coords.longitude, pos.coords.latitude);
    }, function () { say("failed"); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 });
  }

  function sendPoint() {
    locate(function (lon, lat) {
      form.querySelector("#point-lon").value = lon.toFixed(7);
      form.querySelector("#point-lat").value = lat.toFixed(7);
      fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (!res.ok) { status.textContent = res.body.message || status.dataset.failed; return; }
          document.getElementById("patrol-points").textContent = res.body.points;
          document.getElementById("patrol-distance").textContent = Math.round(res.body.distance_m);
          say("added");
        })
        .catch(function () { say("failed"); });
    });
  }

  if (form) {
    document.getElementById("add-position").addEventListener("click", sendPoint);
    var timer = null;
    document.getElementById("auto-track").addEventListener("change", function (e) {
      if (timer) { clearInterval(timer); timer = null; }
      if (e.target.checked) { sendPoint(); timer = setInterval(sendPoint, 60000); }
    });
  }

  var reportButton = document.getElementById("report-position");
  if (reportButton) {
    reportButton.addEventListener("click", function () {
      locate(function (lon, lat) {
        document.getElementById("id_lon").value = lon.toFixed(7);
        document.getElementById("id_lat").value = lat.toFixed(7);
        var crs = document.getElementById("id_crs");
        if (crs) { crs.value = "wgs84"; }
        if (status) { status.textContent = ""; }
      });
    });
  }
})();
