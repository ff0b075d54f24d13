// The time-zone selector: choosing a zone loads the page in it (the zone stays in the URL).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]")) select.form.submit();
  });
})();
