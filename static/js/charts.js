// Draws every Plotly figure embedded with json_script, on load and after each htmx swap.
(function () {
  "use strict";
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const phone = window.matchMedia("(max-width: 600px)");

  function isDark() {
    const forced = document.documentElement.dataset.theme;  // embeds: ?theme=light|dark
    return forced ? forced === "dark" : dark.matches;
  }

  function themed(layout) {
    const ink = isDark() ? "#e5e7eb" : "#1f2937";
    const grid = isDark() ? "#374151" : "#e5e7eb";
    layout.font = Object.assign({}, layout.font, { color: ink });
    for (const axis of ["xaxis", "yaxis"]) {
      layout[axis] = Object.assign({ gridcolor: grid, zerolinecolor: grid }, layout[axis]);
    }
    return layout;
  }

  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      const source = document.getElementById(el.dataset.figure);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      const layout = themed(figure.layout || {});
      // Phones: the legend would take the chart's place; the data table under it names every series.
      // Decided on the viewport, not the card: desktop cards narrower than a phone keep their legend.
      if (phone.matches && figure.data.length > 1) layout.showlegend = false;
      window.Plotly.react(el, figure.data, layout, {
        responsive: true, displayModeBar: false,  // no toolbar over the plot: hover and the data table say it
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
  dark.addEventListener("change", function () { draw(document); });
  phone.addEventListener("change", function () { draw(document); });
})();
