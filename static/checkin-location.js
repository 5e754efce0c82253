// One-tap check-in page: share the phone's location with the answer, only when the person taps the
// button. Without JavaScript (or geolocation) the button stays hidden and the page works as before.
(function () {
  "use strict";
  var button = document.getElementById("share-location");
  if (!button || !navigator.geolocation) { return; }
  var status = document.getElementById("location-status");
  button.parentNode.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.getAttribute("data-wait");
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("latitude").value = position.coords.latitude.toFixed(6);
      document.getElementById("longitude").value = position.coords.longitude.toFixed(6);
      document.getElementById("accuracy").value = Math.round(position.coords.accuracy);
      status.textContent = button.getAttribute("data-ok");
    }, function () {
      status.textContent = button.getAttribute("data-fail");
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  });
}());
