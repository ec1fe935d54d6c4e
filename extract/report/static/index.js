/* zongjie overview: the documents list (search, filter, sort, pages of 100) and the chart of one
 * metric across organisations and years, drawn as inline SVG. Inlined into report.html. */
(function () {
  "use strict";
  var O = JSON.parse(document.getElementById("zj-overview").textContent);
  var METRICS = JSON.parse(document.getElementById("zj-metrics").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLOURS = ["#2457c5", "#d9480f", "#2b8a3e", "#c2255c", "#7048e8", "#e67700", "#0c8599", "#5c940d", "#862e9c", "#495057"];

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* documents: [href, doc_id, title, org, year, type, figures, errors, warnings, infos, reviewed, file] */
  var docs = O.documents, shown = docs, page = 0, PAGE = 100, sortCol = 11, sortDir = 1;
  var q = document.getElementById("docs-q"), typeSel = document.getElementById("docs-type");
  var withFindings = document.getElementById("docs-findings");
  var tbody = document.querySelector("#docs-table tbody");
  function cmp(a, b) {
    var x = a[sortCol], y = b[sortCol];
    if (x === y) return 0;
    if (x === null || x === "") return 1;
    if (y === null || y === "") return -1;
    return (x < y ? -1 : 1) * sortDir;
  }
  function filter() {
    var needle = q.value.trim().toLowerCase(), t = typeSel.value;
    shown = docs.filter(function (d) {
      if (t && d[5] !== t) return false;
      if (withFindings.checked && d[7] + d[8] + d[9] === 0) return false;
      if (!needle) return true;
      return [d[1], d[2], d[3], d[11], d[4]].join(" ").toLowerCase().indexOf(needle) >= 0;
    }).sort(cmp);
    page = 0;
    render();
  }
  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    var rows = shown.slice(page * PAGE, (page + 1) * PAGE);
    tbody.innerHTML = rows.map(function (d) {
      var found = (d[7] ? '<span class="sev-e">' + d[7] + " error</span> " : "") +
        (d[8] ? '<span class="sev-w">' + d[8] + " warning</span> " : "") + (d[9] ? '<span class="sev-i">' + d[9] + " info</span>" : "");
      return '<tr><td><a href="' + esc(d[0]) + '">' + esc(d[2] || d[1]) + '</a><br><code class="muted">' + esc(d[1]) + "</code></td>" +
        "<td>" + esc(d[3]) + "</td><td>" + esc(d[4] == null ? "" : d[4]) + "</td><td>" + esc(d[5]) + '</td><td class="num">' + d[6] +
        "</td><td>" + found + '</td><td class="num">' + (d[10] || "") + '</td><td class="muted">' + esc(d[11]) + "</td></tr>";
    }).join("");
    document.getElementById("docs-count").textContent = shown.length + " / " + docs.length;
    document.getElementById("docs-page").textContent = (page + 1) + " / " + pages;
  }
  document.querySelectorAll("#docs-table th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () {
      var col = Number(th.getAttribute("data-sort"));
      sortDir = col === sortCol ? -sortDir : (col >= 6 && col <= 10 ? -1 : 1);
      sortCol = col;
      filter();
    });
  });
  // the search box filters as one types; re-rendering on its "change" (fired when it loses focus) would
  // replace the very link being clicked
  q.addEventListener("input", filter);
  [typeSel, withFindings].forEach(function (el) { el.addEventListener("change", filter); });
  document.getElementById("docs-prev").addEventListener("click", function () { page = Math.max(0, page - 1); render(); });
  document.getElementById("docs-next").addEventListener("click", function () { page += 1; render(); });
  filter();

  /* the chart */
  var chart = O.chart || {};
  var sel = document.getElementById("chart-metric");
  var metrics = Object.keys(chart).sort(function (a, b) { return chart[b].length - chart[a].length || (a < b ? -1 : 1); });
  sel.innerHTML = metrics.map(function (m) {
    return '<option value="' + esc(m) + '">' + esc(m + " " + (METRICS[m] || "") + " (" + chart[m].length + ")") + "</option>";
  }).join("");
  var preferred = ["org.members", "cb.contracts", "org.unions"].filter(function (m) { return chart[m]; })[0];
  if (preferred) sel.value = preferred;

  function el(name, attrs, text) {
    var e = document.createElementNS(SVGNS, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function nice(max) {
    if (max <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(max))), m = max / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function fmt(v) { return Math.abs(v) >= 1e4 ? (v / 1e4).toFixed(v % 1e4 === 0 ? 0 : 1) + "万" : String(v); }
  function draw() {
    var box = document.getElementById("chart"), table = document.getElementById("chart-table");
    box.innerHTML = "";
    table.innerHTML = "";
    var rows = chart[sel.value] || [];
    if (!rows.length) { box.textContent = "—"; return; }
    var orgs = [], years = [], max = 0;
    rows.forEach(function (r) {
      if (orgs.indexOf(r[0]) < 0) orgs.push(r[0]);
      if (years.indexOf(r[1]) < 0) years.push(r[1]);
      max = Math.max(max, r[2]);
    });
    years.sort();
    var W = 900, H = 320, ml = 70, mr = 20, mt = 12, mb = 34;
    var y0 = years[0], y1 = years[years.length - 1], top = nice(max);
    function x(year) { return years.length === 1 ? ml + (W - ml - mr) / 2 : ml + (year - y0) / (y1 - y0) * (W - ml - mr); }
    function y(v) { return mt + (1 - v / top) * (H - mt - mb); }
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": sel.value });
    for (var i = 0; i <= 5; i++) {
      var v = top * i / 5;
      svg.appendChild(el("line", { x1: ml, x2: W - mr, y1: y(v), y2: y(v), "class": "grid" }));
      svg.appendChild(el("text", { x: ml - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
    }
    var step = Math.max(1, Math.ceil(years.length / 15));
    years.forEach(function (yr, i) {
      if (i % step === 0) svg.appendChild(el("text", { x: x(yr), y: H - 12, "text-anchor": "middle" }, String(yr)));
    });
    var legend = document.createElement("div");
    legend.className = "chart-legend";
    orgs.forEach(function (org, k) {
      var pts = rows.filter(function (r) { return r[0] === org; });
      var colour = k < COLOURS.length ? COLOURS[k] : "#adb5bd";
      var g = el("g", { "class": "series" });
      if (pts.length > 1) {
        g.appendChild(el("path", { d: pts.map(function (p, j) { return (j ? "L" : "M") + x(p[1]) + "," + y(p[2]); }).join(""), stroke: colour }));
      }
      pts.forEach(function (p) {
        var c = el("circle", { cx: x(p[1]), cy: y(p[2]), r: 4, fill: colour });
        c.appendChild(el("title", {}, org + " " + p[1] + ": " + p[2]));
        g.appendChild(c);
      });
      svg.appendChild(g);
      var item = document.createElement("span");
      item.innerHTML = '<i style="background:' + colour + '"></i>' + esc(org);
      legend.appendChild(item);
    });
    box.appendChild(svg);
    box.appendChild(legend);
    table.innerHTML = "<table class=\"figtable\"><thead><tr><th></th>" + years.map(function (yr) { return "<th>" + yr + "</th>"; }).join("") +
      "</tr></thead><tbody>" + orgs.map(function (org) {
        return "<tr><th>" + esc(org) + "</th>" + years.map(function (yr) {
          var hit = rows.filter(function (r) { return r[0] === org && r[1] === yr; })[0];
          return '<td class="num">' + (hit ? hit[2] : "") + "</td>";
        }).join("") + "</tr>";
      }).join("") + "</tbody></table>";
  }
  sel.addEventListener("change", draw);
  draw();
  document.body.setAttribute("data-ready", "1");

  /* the review server's token, when opened from the link it prints */
  var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    localStorage.setItem("zongjie-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
})();
