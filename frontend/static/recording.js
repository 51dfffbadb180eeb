// The recording page: a chapter's button seeks the recording's player to its time.
document.addEventListener("click", function (ev) {
  var b = /** @type {HTMLElement} */ (/** @type {Element} */ (ev.target).closest("[data-seek]"));
  if (!b) return;
  var section = b.closest("[data-recording]");
  var player = /** @type {HTMLVideoElement} */ (section && section.querySelector("video[data-player]"));
  if (!player) return;
  var at = Number(b.dataset.seek);
  if (!isFinite(at) || at < 0) return;
  player.currentTime = at;
  player.play().catch(function () {}); // autoplay may be refused; the seek stands
  player.focus();
});
