// Counts down to the moment the live room opens, then reloads so the room appears.
(function () {
  var el = document.getElementById("countdown");
  if (!el) return;
  var opens = Date.parse(el.dataset.opens);
  // Whole days in the page's language ("2d", "2 d", "2 días"), from the browser's CLDR data.
  var days;
  try {
    days = new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "unit", unit: "day", unitDisplay: "narrow" });
  } catch (e) {
    days = { format: function (n) { return n + "d"; } };
  }
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var left = Math.round((opens - Date.now()) / 1000);
    if (left <= 0) { location.reload(); return; }
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
    el.textContent = (d > 0 ? days.format(d) + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    setTimeout(tick, 1000);
  }
  tick();
})();
