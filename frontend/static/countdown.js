// Counts down to the moment the live room opens, then reloads so the room appears. The
// days' label comes from the page, in its language ("{days} d").
(function () {
  var el = document.getElementById("countdown");
  if (!el) return;
  var opens = Date.parse(el.dataset.opens);
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var left = Math.round((opens - Date.now()) / 1000);
    if (left <= 0) { location.reload(); return; }
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
    var days = d > 0 ? (el.dataset.days || "{days}").replace("{days}", d) + " " : "";
    el.textContent = days + pad(h) + ":" + pad(m) + ":" + pad(s);
    setTimeout(tick, 1000);
  }
  tick();
})();
