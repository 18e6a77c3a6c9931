// Forms marked data-submit-once disable their submit buttons on submit, because a second
// click while the request runs would only be rejected by the server.
(function () {
  "use strict";
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
        button.disabled = true;
      });
    });
  });
})();
