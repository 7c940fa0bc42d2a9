// The subject's phone page: the check-in button asks the browser for the position, then posts the form.
// (The code card renews itself through htmx before it changes: hx-trigger="load delay:…" on #follow-code.)
(function () {
  "use strict";
  var form = document.getElementById("check-in-form");
  if (!form) return;
  var status = document.getElementById("check-in-status");
  var sending = false;
  form.addEventListener("submit", function (ev) {
    if (sending) return;
    ev.preventDefault();
    if (!navigator.geolocation) { status.textContent = status.dataset.labelDenied; return; }
    status.textContent = status.dataset.labelLocating;
    navigator.geolocation.getCurrentPosition(function (p) {
      form.elements.lon.value = p.coords.longitude.toFixed(6);
      form.elements.lat.value = p.coords.latitude.toFixed(6);
      form.elements.accuracy_m.value = Math.round(p.coords.accuracy || 0) || "";
      sending = true;
      form.submit();
    }, function () { status.textContent = status.dataset.labelDenied; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
  });
})();
