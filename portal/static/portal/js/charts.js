// Shared helpers for the dashboard charts, drawn with the ECharts copy in vendor/echarts.
// Charts use the SVG renderer so that they print sharply, and are resized when the page
// switches to the print layout, whose chart containers are a different size.
window.portalCharts = (function () {
  "use strict";
  var drawn = [];

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function draw(element, option) {
    var chart = window.echarts.init(element, null, {renderer: "svg"});
    chart.setOption(option);
    drawn.push(chart);
    return chart;
  }

  function resizeAll() {
    drawn.forEach(function (chart) { chart.resize(); });
  }

  window.addEventListener("resize", resizeAll);
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
  if (window.matchMedia) {
    var print = window.matchMedia("print");
    if (print.addEventListener) { print.addEventListener("change", resizeAll); }
  }

  return {readJson: readJson, draw: draw, available: function () { return Boolean(window.echarts); }};
})();
