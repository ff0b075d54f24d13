// Sections loaded as they scroll into view: fetched with the page's switches as the address
// bar has them now (a tab swapped in place may have changed one since the page was drawn);
// when their fragment cannot be fetched, say so and offer a retry instead of "Loading…".
(function () {
  "use strict";

  function deferred(element) {
    return element.classList && element.classList.contains("deferred");
  }

  document.addEventListener("htmx:configRequest", function (event) {
    const section = event.detail.elt;
    if (!deferred(section)) return;
    const query = new URLSearchParams(window.location.search);
    query.delete("sections");
    query.delete("offset");
    query.set("section", section.id);
    event.detail.path = window.location.pathname + "?" + query.toString();
  });

  function failed(event) {
    const section = event.detail.elt;
    if (!deferred(section)) return;
    const note = section.querySelector(".placeholder");
    note.textContent = "This section could not be loaded. ";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry";
    retry.textContent = "Try again";
    retry.addEventListener("click", function () {
      note.textContent = "Loading…";
      window.htmx.trigger(section, "retry");
    });
    note.appendChild(retry);
    section.setAttribute("aria-busy", "false");
  }

  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
})();
