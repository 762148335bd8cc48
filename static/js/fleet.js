// The agent detail page's chart: uPlot (served from static/vendor/uplot) draws the hourly
// rollups the server embedded with json_script. Without JavaScript the page says so.
(function () {
  "use strict";
  function draw(el) {
    var data = JSON.parse(document.getElementById(el.getAttribute("data-uplot")).textContent);
    var css = getComputedStyle(document.documentElement);
    var color = function (name, fallback) { return (css.getPropertyValue(name) || fallback).trim(); };
    var opts = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: "slots", size: 48 }],
      series: [
        {},
        { label: "Slots used (avg)", stroke: color("--accent", "#5b5bd6"), width: 2, fill: "rgba(91,91,214,.12)" },
        { label: "Slots used (peak)", stroke: color("--warn", "#a15c00"), width: 1, dash: [4, 3] },
        { label: "Slots total", stroke: color("--muted", "#6b7189"), width: 1 },
        { label: "Running (avg)", stroke: color("--ok", "#13815b"), width: 2 }
      ]
    };
    var plot = new uPlot(opts, [data.x, data.used, data.max, data.total, data.running], el);
    el.setAttribute("data-drawn", String(data.points));
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (typeof uPlot === "undefined") return;
    document.querySelectorAll("[data-uplot]").forEach(draw);
  });
})();
