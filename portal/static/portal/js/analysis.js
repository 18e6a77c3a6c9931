// Charts of the analysis for the next campaign: customers per roster group and lift per
// response group. The numbers come from the json_script block "analysis-charts". Each chart
// container names its series in data-label and marks response charts with data-kind.
(function () {
  "use strict";
  var charts = window.portalCharts;
  if (!charts || !charts.available()) { return; }

  var data = charts.readJson("analysis-charts") || {};
  Object.keys(data).forEach(function (name) {
    var element = document.getElementById(name + "-chart");
    var chart = data[name];
    if (!element || !chart.labels.length) { return; }
    var isResponse = element.dataset.kind === "response";
    var label = element.dataset.label;
    charts.draw(element, {
      animation: false,
      tooltip: {trigger: "axis"},
      grid: {left: 8, right: 16, containLabel: true},
      xAxis: {type: "value", name: label},
      yAxis: {type: "category", inverse: true, data: chart.labels},
      series: [{
        name: label, type: "bar", data: chart.values,
        // A lift of 1 is the overall conversion rate.
        markLine: isResponse ? {symbol: "none", data: [{xAxis: 1}]} : undefined
      }]
    });
  });
})();
