// Print buttons: any element with a data-print attribute opens the browser's print dialog.
// Kept out of the templates because the Content-Security-Policy allows no inline handlers.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
