// Dashboards page: bar charts (ECharts) of the report rows embedded in the page, and a
// report selector that reloads with the newest period of the chosen report.
(function () {
  "use strict";

  var form = document.getElementById("dash-filters");
  var jobSelect = document.getElementById("f-job");
  if (form && jobSelect) {
    // another report has other periods and units: start from its newest period
    jobSelect.addEventListener("change", function () {
      var period = document.getElementById("f-period");
      var unit = document.getElementById("f-unit");
      if (period) period.disabled = true;
      if (unit) unit.disabled = true;
      form.submit();
    });
  }

  var container = document.getElementById("charts");
  var source = document.getElementById("chart-data");
  if (!container || !source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  var COLORS = ["#b71c1c", "#1565c0", "#2e7d32", "#b26a00", "#6a1b9a", "#00838f", "#5d4037", "#546e7a", "#ad1457"];

  function isNumber(value) {
    return typeof value === "number" && isFinite(value);
  }

  // The metrics a chart draws: the candidates present in its rows (one unless stacked or multi),
  // else the fallback candidates, else the first numeric metric of the rows.
  function metricsOf(spec, rows) {
    function present(keys) {
      return (keys || []).filter(function (key) {
        return rows.some(function (row) { return isNumber(row.metrics[key]); });
      });
    }
    var keys = present(spec.metrics);
    if (!keys.length) keys = present(spec.fallback);
    if (!keys.length) {
      for (var i = 0; i < rows.length && !keys.length; i++) {
        keys = Object.keys(rows[i].metrics).filter(function (key) { return isNumber(rows[i].metrics[key]); }).slice(0, 1);
      }
    }
    return spec.stack || spec.multi ? keys : keys.slice(0, 1);
  }

  function total(row, keys) {
    return keys.reduce(function (sum, key) { return sum + (isNumber(row.metrics[key]) ? row.metrics[key] : 0); }, 0);
  }

  var charts = [];

  function draw(spec) {
    var rows = data.rows.filter(function (row) { return row.subject_type === spec.subject_type; });
    if (!rows.length) return;
    var keys = metricsOf(spec, rows);
    if (!keys.length) return;
    if (spec.sort) rows = rows.slice().sort(function (a, b) { return total(b, keys) - total(a, keys); });
    if (spec.limit) rows = rows.slice(0, spec.limit);

    var figure = document.createElement("figure");
    figure.className = "dash-chart";
    var caption = document.createElement("figcaption");
    caption.textContent = spec.title;
    var canvas = document.createElement("div");
    canvas.className = "dash-chart-canvas";
    canvas.setAttribute("data-testid", "chart-" + spec.subject_type);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", spec.title);
    var height = spec.horizontal ? Math.max(240, rows.length * 32 + 80) : 300;
    canvas.style.height = height + "px";
    figure.appendChild(caption);
    figure.appendChild(canvas);
    container.appendChild(figure);

    var names = rows.map(function (row) { return row.name; });
    var category = {
      type: "category", data: names, inverse: !!spec.horizontal,
      axisLabel: { interval: 0, width: spec.horizontal ? 110 : 80, overflow: "truncate",
                   rotate: !spec.horizontal && names.length > 4 ? 30 : 0 },
    };
    var value = { type: "value" };
    var series = keys.map(function (key, i) {
      return {
        name: data.labels[key] || key, type: "bar", stack: spec.stack ? "total" : undefined,
        itemStyle: { color: COLORS[i % COLORS.length] }, barMaxWidth: 40,
        data: rows.map(function (row) {
          var v = row.metrics[key];
          if (!isNumber(v)) return null;
          return spec.minutes ? Math.round(v / 6) / 10 : v;  // seconds to minutes, one decimal
        }),
      };
    });
    var chart = echarts.init(canvas, null, { renderer: "canvas" });
    chart.on("finished", function () { canvas.setAttribute("data-ready", "true"); });
    chart.setOption({
      color: COLORS,
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
      legend: keys.length > 1 ? { type: "scroll", top: 0 } : undefined,
      grid: { left: 8, right: 16, top: keys.length > 1 ? 36 : 12, bottom: 8, containLabel: true },
      xAxis: spec.horizontal ? value : category,
      yAxis: spec.horizontal ? category : value,
      series: series,
    });
    charts.push(chart);
    container.setAttribute("data-charts", String(charts.length));
  }

  (data.charts || []).forEach(draw);
  if (!charts.length) {
    var empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = data.empty;
    container.appendChild(empty);
  }
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (chart) { chart.resize(); }); }, 100);
  });
})();
