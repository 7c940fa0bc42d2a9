// The checkpoint scanner: the browser's position fills the form (typed when unavailable), the camera (getUserMedia)
// is read frame by frame with jsQR, and a follow code found in a frame is submitted like a typed one (the form is
// posted by htmx and the answer swapped in). A code just verified is not sent again for a few seconds.
// data-state on #camera: off / starting / scanning / found / unavailable.
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  if (!form) return;
  var lon = document.getElementById("lon"), lat = document.getElementById("lat"), acc = document.getElementById("accuracy");
  var posStatus = document.getElementById("position-status");
  var cam = document.getElementById("camera"), video = document.getElementById("camera-video");
  var canvas = document.getElementById("camera-canvas"), camStatus = document.getElementById("camera-status");
  var startBtn = document.getElementById("camera-start"), code = document.getElementById("code");
  var last = "", lastAt = 0, stream = null;

  function locate() {
    if (!navigator.geolocation) { posStatus.dataset.state = "unavailable"; posStatus.textContent = "—"; return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      lon.value = p.coords.longitude.toFixed(6);
      lat.value = p.coords.latitude.toFixed(6);
      acc.value = Math.round(p.coords.accuracy || 0) || "";
      posStatus.dataset.state = "ok";
      posStatus.textContent = lat.value + ", " + lon.value;
    }, function () {
      posStatus.dataset.state = "unavailable";
      posStatus.textContent = "—";
      document.getElementById("position").open = true;
    }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  }

  function submit() {
    if (window.htmx) window.htmx.trigger(form, "submit");
    else form.submit();
  }

  function tick() {
    if (!stream) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA && window.jsQR) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var found = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
      if (found && found.data && (found.data !== last || Date.now() - lastAt > 5000)) {
        last = found.data;
        lastAt = Date.now();
        cam.dataset.state = "found";
        code.value = found.data;
        submit();
      }
    }
    window.requestAnimationFrame(tick);
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      cam.dataset.state = "unavailable";
      camStatus.textContent = cam.dataset.labelNoCamera;
      return;
    }
    cam.dataset.state = "starting";
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.play();
      cam.dataset.state = "scanning";
      startBtn.hidden = true;
      window.requestAnimationFrame(tick);
    }).catch(function () {
      cam.dataset.state = "unavailable";
      camStatus.textContent = cam.dataset.labelNoCamera;
    });
  }

  startBtn.addEventListener("click", start);
  form.addEventListener("htmx:afterRequest", function () { if (code.value.indexOf("RY1.") === 0) code.value = ""; });
  locate();
})();
