/* The dashboard's charts (ECharts, served from our own static files). The figures come from the
   page (json_script), so the charts always agree with the cards and tables. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  var source = document.getElementById("dashboard-data");
  if (!root || !source || typeof echarts === "undefined") { if (root) root.dataset.state = "ready"; return; }
  var data = JSON.parse(source.textContent);
  var L = data.labels;
  var charts = [];
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }
  var series = ["reported", "resolved", "mediated"];
  chart("chart-towns", {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 12, bottom: 60, top: 32 },
    xAxis: { type: "category", data: data.towns.map(function (r) { return r.name; }), axisLabel: { rotate: 30 } },
    yAxis: { type: "value" },
    series: series.map(function (k) { return { name: L[k], type: "bar", data: data.towns.map(function (r) { return r[k]; }) }; })
  });
  chart("chart-trend", {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 12, bottom: 40, top: 32 },
    xAxis: { type: "category", data: data.trend.map(function (r) { return r.period; }) },
    yAxis: { type: "value" },
    series: series.map(function (k) { return { name: L[k], type: "line", smooth: true, data: data.trend.map(function (r) { return r[k]; }) }; })
  });
  chart("chart-states", {
    tooltip: { trigger: "item" }, legend: { bottom: 0, type: "scroll" },
    series: [{ type: "pie", radius: ["35%", "65%"], data: data.states }]
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  root.dataset.state = "ready";
})();
