// The site menu on a narrow screen: one button shows and hides the navigation and the
// languages, so the header stays one row. Without this script nothing is hidden.
(function () {
  var button = /** @type {HTMLElement} */ (document.querySelector("[data-menu-button]"));
  var menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) return;
  var header = button.closest("header");
  /** @param {boolean} open */
  function set(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  header.classList.add("has-menu");
  button.hidden = false;
  button.addEventListener("click", function () {
    set(button.getAttribute("aria-expanded") !== "true");
  });
  // Escape closes the open menu and gives the focus back to its button.
  header.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      set(false);
      button.focus();
    }
  });
})();
