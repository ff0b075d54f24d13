// Sections loaded as they scroll into view: when their fragment cannot be fetched, say so
// and offer a retry instead of "Loading…" forever.
(function () {
  "use strict";

  function failed(event) {
    const section = event.detail.elt;
    if (!section.classList || !section.classList.contains("deferred")) return;
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
