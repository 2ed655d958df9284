// Trend charts from the JSON block the server embeds (data never passes through HTML or inline script).
(function () {
  "use strict";
  var block = document.getElementById("trend-data");
  if (!block || typeof Plotly === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var byArm = {};
  data.points.forEach(function (p) {
    var key = p.arm || "(no arm)";
    (byArm[key] = byArm[key] || []).push(p);
  });
  var traces = Object.keys(byArm).map(function (arm) {
    var pts = byArm[arm];
    return {x: pts.map(function (p) { return p.started_at; }), y: pts.map(function (p) { return p.pass_rate; }),
            text: pts.map(function (p) { return p.run_id; }), mode: "lines+markers", name: arm};
  });
  var partitions = {};
  data.points.forEach(function (p) { Object.keys(p.partitions || {}).forEach(function (k) { partitions[k] = true; }); });
  Object.keys(partitions).sort().forEach(function (part) {
    var pts = data.points.filter(function (p) { return p.partitions && p.partitions[part] !== undefined && p.partitions[part] !== null; });
    traces.push({x: pts.map(function (p) { return p.started_at; }), y: pts.map(function (p) { return p.partitions[part]; }),
                 text: pts.map(function (p) { return p.run_id + (p.arm ? " [" + p.arm + "]" : ""); }),
                 mode: "lines+markers", name: part, line: {dash: "dot", width: 1}, visible: "legendonly"});
  });
  if (data.alerts.length) {
    traces.push({x: data.alerts.map(function (a) { return a.started_at; }), y: data.alerts.map(function (a) { return a.pass_rate; }),
                 text: data.alerts.map(function (a) { return a.message; }), mode: "markers", name: "alert",
                 marker: {symbol: "x", size: 14, color: "#b42318"}});
  }
  Plotly.newPlot("trend-runs", traces, {margin: {t: 20, r: 10}, yaxis: {title: {text: "pass rate"}, range: [0, 1.05]},
                 xaxis: {title: {text: "run started"}}}, {displaylogo: false, responsive: true});
  if (data.windows.length && document.getElementById("trend-windows")) {
    var drifted = data.windows.filter(function (w) { return w.drifted && w.drifted.length; });
    Plotly.newPlot("trend-windows", [{x: data.windows.map(function (w) { return w.start_iso; }),
      y: data.windows.map(function (w) { return w.pass_rate; }), mode: "lines+markers", name: "window pass rate"},
      {x: drifted.map(function (w) { return w.start_iso; }), y: drifted.map(function (w) { return w.pass_rate; }),
       text: drifted.map(function (w) { return "drift: " + w.drifted.join(", "); }), mode: "markers",
       name: "drift alert", marker: {symbol: "x", size: 14, color: "#b42318"}}],
      {margin: {t: 20, r: 10}, yaxis: {title: {text: "pass rate"}, range: [0, 1.05]}}, {displaylogo: false, responsive: true});
  }
})();
