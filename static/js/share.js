// "Copy link" controls, the "get embed code" dialog and the header search suggestions.
// Without JavaScript the links still work: "Copy link" is the section's address and
// "Embed" opens the embed itself.
(function () {
  "use strict";

  function absolute(href) { return new URL(href, window.location.href).href; }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  function flag(el) {
    el.setAttribute("data-copied", "");
    setTimeout(function () { el.removeAttribute("data-copied"); }, 2000);
  }

  function embedCode(dialog) {
    const base = new URL(dialog.dataset.src, window.location.href);
    const theme = dialog.querySelector("input[name=embed-theme]:checked").value;
    const compact = dialog.querySelector("input[name=embed-compact]").checked;
    if (theme) base.searchParams.set("theme", theme); else base.searchParams.delete("theme");
    if (compact) base.searchParams.set("compact", "1"); else base.searchParams.delete("compact");
    const title = dialog.dataset.title.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    const height = compact ? 380 : 560;
    dialog.querySelector("#embed-preview").href = base.href;
    dialog.querySelector("#embed-code").value =
      '<iframe src="' + base.href.replace(/"/g, "%22") + '" title="' + title + ' (Tokenrank)" width="100%" height="' +
      height + '" style="border:0" loading="lazy"></iframe>';
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("[data-copy-link]");
    if (link) {
      event.preventDefault();
      copy(absolute(link.getAttribute("href"))).then(function () { flag(link); });
      return;
    }
    const embed = event.target.closest("[data-embed]");
    const dialog = document.getElementById("embed-dialog");
    if (embed && dialog && dialog.showModal) {
      event.preventDefault();
      dialog.dataset.src = embed.dataset.embed;
      dialog.dataset.title = embed.dataset.embedTitle || "Tokenrank chart";
      embedCode(dialog);
      dialog.showModal();
      return;
    }
    const button = event.target.closest("[data-copy-target]");
    if (button) {
      const target = document.getElementById(button.dataset.copyTarget);
      copy(target.value).then(function () { flag(button); });
    }
    const suggest = document.getElementById("site-suggest");
    if (suggest && !event.target.closest(".site-search")) suggest.innerHTML = "";
  });

  document.addEventListener("change", function (event) {
    const dialog = event.target.closest("#embed-dialog");
    if (dialog) embedCode(dialog);
  });

  // Index filters: send only the fields that differ from their defaults, so the address
  // the results are pushed under stays short (a plain submit sends them all, harmlessly).
  document.addEventListener("htmx:configRequest", function (event) {
    const form = event.detail.elt.closest && event.detail.elt.closest("form[data-defaults]");
    if (!form) return;
    const defaults = JSON.parse(form.dataset.defaults);
    const params = event.detail.parameters;
    for (const key of Array.from(params.keys ? params.keys() : Object.keys(params))) {
      const value = params.get ? params.get(key) : params[key];
      if (value === "" || defaults[key] === value) {
        if (params.delete) params.delete(key); else delete params[key];
      }
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && event.target.closest(".site-search")) {
      document.getElementById("site-suggest").innerHTML = "";
    }
  });
})();
