// Tell the server the browser's time zone, so pages show every time in the reader's zone
// even before they set one in their profile. When the page was drawn without it, or with
// a zone the browser no longer has (a traveller), reload once with the right one. A zone
// set in the profile wins on the server, so then there is nothing to reload for.
// Forms that may save it to the profile (sign-in, registration) carry it in a hidden
// field; the profile page offers it as a suggestion, never as a value already set.
(function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) return;
  /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll("input[data-browser-zone]")).forEach(function (input) { input.value = zone; });
  /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-zone-suggest]")).forEach(function (button) {
    var field = /** @type {HTMLInputElement} */ (document.getElementById(button.dataset.zoneSuggest));
    if (!field || field.value === zone) return;
    var name = button.querySelector("[data-zone-name]");
    if (name) name.textContent = zone;
    button.hidden = false;
    button.addEventListener("click", function () { field.value = zone; field.focus(); });
  });
  var current = (document.cookie.match(/(?:^|; )puente_tz=([^;]*)/) || [])[1];
  if (current && decodeURIComponent(current) === zone) return;
  document.cookie = "puente_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  var source = document.body ? document.body.dataset.zoneSource : "";
  if (source !== "profile" && !document.getElementById("signin-confirm") &&
      sessionStorage.getItem("puente_tz_reloaded") !== zone) {
    sessionStorage.setItem("puente_tz_reloaded", zone);
    location.reload();
  }
})();
