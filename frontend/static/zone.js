// Tell the server the browser's time zone, so pages can show every time in the reader's
// zone even before they set one in their profile. Reload once when the page was rendered
// without knowing it.
(function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) return;
  var current = (document.cookie.match(/(?:^|; )puente_tz=([^;]*)/) || [])[1];
  if (current && decodeURIComponent(current) === zone) return;
  document.cookie = "puente_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  if (document.body && document.body.dataset.zoneKnown === "false" && !sessionStorage.getItem("puente_tz_reloaded")) {
    sessionStorage.setItem("puente_tz_reloaded", "1");
    location.reload();
  }
})();
