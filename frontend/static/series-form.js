// The series form: show the recurrence fields that apply, and a live preview of the next
// dates in the series' zone and in one other zone (from /api/v1/recurrence/preview).
(function () {
  var form = document.getElementById("event-form");
  if (!form) return;
  var preview = document.getElementById("preview");
  var list = document.getElementById("preview-list");
  var summary = document.getElementById("preview-summary");
  var problem = document.getElementById("preview-problem");

  function show() {
    var repeat = /** @type {HTMLInputElement} */ (form.querySelector("[name=repeat]:checked") || {}).value || "once";
    /** @type {NodeListOf<HTMLElement>} */ (form.querySelectorAll("[data-repeat]")).forEach(function (el) {
      el.hidden = el.dataset.repeat.split(" ").indexOf(repeat) < 0;
    });
    var ends = /** @type {HTMLInputElement} */ (form.querySelector("[name=ends]:checked") || {}).value || "never";
    /** @type {NodeListOf<HTMLElement>} */ (form.querySelectorAll("[data-ends]")).forEach(function (el) {
      el.hidden = el.dataset.ends !== ends || repeat === "once";
    });
  }

  var timer = null;
  function refresh() {
    if (!preview) return;
    clearTimeout(timer);
    timer = setTimeout(function () {
      var params = new URLSearchParams();
      ["timezone", "start_date", "start_time", "duration_minutes", "repeat", "interval", "nth", "weekday",
       "rrule", "ends", "until", "count", "other_timezone"].forEach(function (name) {
        var el = /** @type {HTMLInputElement} */ (form.querySelector("[name=" + name + "]:checked") || form.querySelector("[name=" + name + "]:not([type=radio])"));
        if (el && el.value) params.set(name, el.value);
      });
      /** @type {NodeListOf<HTMLInputElement>} */ (form.querySelectorAll("[name=weekdays]:checked")).forEach(function (el) { params.append("weekdays", el.value); });
      fetch("/api/v1/recurrence/preview?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          list.textContent = "";
          if (data.error) {
            problem.textContent = data.error.message;
            summary.textContent = "";
            return;
          }
          problem.textContent = "";
          summary.textContent = data.description;
          data.items.forEach(function (it) {
            var li = document.createElement("li");
            li.textContent = it.in_zone + (it.in_other ? " · " + it.in_other : "");
            list.appendChild(li);
          });
        })
        .catch(function () { problem.textContent = ""; });
    }, 250);
  }
  form.addEventListener("input", function () { show(); refresh(); });
  form.addEventListener("change", function () { show(); refresh(); });
  show();
  refresh();
})();
