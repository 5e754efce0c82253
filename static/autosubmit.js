// Submit a filter form as soon as one of its [data-autosubmit] fields changes (a <noscript> button
// does the same without JavaScript). A static file: the Content-Security-Policy forbids inline handlers.
(function () {
  "use strict";
  document.querySelectorAll("[data-autosubmit]").forEach(function (field) {
    field.addEventListener("change", function () {
      if (field.form) { field.form.submit(); }
    });
  });
})();
