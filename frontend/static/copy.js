// "Copy" buttons: copy the text of the field named by data-copy.
document.addEventListener("click", function (ev) {
  var b = /** @type {HTMLElement} */ (/** @type {Element} */ (ev.target).closest("[data-copy]"));
  if (!b) return;
  var field = /** @type {HTMLInputElement} */ (document.getElementById(b.dataset.copy));
  if (!field) return;
  field.select();
  (navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject()).catch(function () {
    document.execCommand("copy");
  });
  b.textContent = b.dataset.done || "✓";
});
