// Opening a sign-in link shows a confirmation form. With JavaScript (a person's browser)
// it submits itself, so the person is signed in at once; link scanners in mail systems
// that only fetch the page do not spend the one-time link.
document.addEventListener("DOMContentLoaded", function () {
  var form = /** @type {HTMLFormElement} */ (document.getElementById("signin-confirm"));
  if (form) form.submit();
});
