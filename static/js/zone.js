// The time-zone selector: choosing a zone loads the page in it (the zone stays in the URL;
// the site's own zone, value "", is left out of it: default URLs stay clean).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (!(select.matches && select.matches("select[data-autosubmit]"))) return;
    const form = select.form;
    const query = new URLSearchParams(new FormData(form));
    if (!select.value) query.delete(select.name);
    const search = query.toString();
    window.location.assign(form.action.split("?")[0] + (search ? "?" + search : ""));
  });
})();
