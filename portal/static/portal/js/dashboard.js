// Charts of the dashboard page. The numbers come from the json_script blocks
// "completion-data" and "sections-data". The translated series names come from the
// data-label-* attributes of each chart container.
(function () {
  "use strict";
  var charts = window.portalCharts;
  if (!charts || !charts.available()) { return; }

  var completionElement = document.getElementById("completion-chart");
  var weeks = charts.readJson("completion-data");
  if (completionElement && weeks) {
    var labels = completionElement.dataset;
    charts.draw(completionElement, {
      animation: false,
      tooltip: {trigger: "axis"},
      legend: {data: [labels.labelCompleted, labels.labelConverted, labels.labelRate]},
      xAxis: {type: "category", data: weeks.weeks},
      yAxis: [
        {type: "value", name: labels.labelCompleted, minInterval: 1},
        {type: "value", name: "%", min: 0, max: 100}
      ],
      series: [
        {name: labels.labelCompleted, type: "bar", data: weeks.completed},
        {name: labels.labelConverted, type: "bar", data: weeks.converted},
        {name: labels.labelRate, type: "line", yAxisIndex: 1, data: weeks.cumulative_rate}
      ]
    });
  }

  var sections = charts.readJson("sections-data") || {};
  Object.keys(sections).forEach(function (name) {
    var element = document.getElementById(name + "-chart");
    var section = sections[name];
    if (!element || !section.labels.length) { return; }
    var completionLabel = element.dataset.labelCompletion;
    var conversionLabel = element.dataset.labelConversion;
    charts.draw(element, {
      animation: false,
      tooltip: {trigger: "axis"},
      legend: {data: [completionLabel, conversionLabel]},
      grid: {left: 8, right: 16, containLabel: true},
      xAxis: {type: "value", min: 0, max: 100, name: "%"},
      yAxis: {type: "category", inverse: true, data: section.labels},
      series: [
        {name: completionLabel, type: "bar", data: section.completion},
        {name: conversionLabel, type: "bar", data: section.conversion}
      ]
    });
  });
})();
