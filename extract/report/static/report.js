/* zongjie document page: tooltips, the figure panel, findings → figures, filters, and (when served by
 * `zongjie review`) confirming, correcting, rejecting and adding figures. No network but the review
 * server's own /api; every UI word comes from the page (#zj-labels). */
(function () {
  "use strict";

  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var data = json("zj-data");
  var L = json("zj-labels") || {};
  var METRICS = json("zj-metrics") || {};
  var byId = {};
  data.figures.forEach(function (f) { byId[f.id] = f; });
  var textEl = document.getElementById("zj-text");
  var tip = document.getElementById("zj-tip");
  var panel = document.getElementById("zj-panel");
  var reviewEl = document.getElementById("zj-review");
  var marks = Array.prototype.slice.call(document.querySelectorAll("mark.fig"));
  var review = null; // {token, reviewer} once the review server answers

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fidsOf(mark) { return mark.getAttribute("data-fids").split(" "); }
  function figsOf(mark) { return fidsOf(mark).map(function (id) { return byId[id]; }).filter(Boolean); }
  function marksOf(fid) { return marks.filter(function (m) { return fidsOf(m).indexOf(fid) >= 0; }); }

  function valueText(f) {
    if (f.value === null || f.value === undefined) return L.no_value || "-";
    var s = String(f.value);
    if (f.value_max !== null && f.value_max !== undefined) s += "–" + f.value_max;
    if (f.approx) s = "≈" + s;
    return s;
  }
  function statusText(s) { return s ? (L["status_" + s] || "") + " " + s : ""; }
  function reviewText(f) {
    var s = L["review_" + (f.review || "none")] || (f.review || "");
    if (f.review && f.reviewer) s += " · " + f.reviewer + (f.reviewed_at ? " " + f.reviewed_at : "");
    return s;
  }
  function kv(pairs) {
    return '<dl class="kv">' + pairs.filter(function (p) { return p[1] !== null && p[1] !== ""; }).map(function (p) {
      return "<dt>" + esc(p[0]) + '</dt><dd class="' + esc(p[2] || "") + '">' + esc(p[1]) + "</dd>";
    }).join("") + "</dl>";
  }
  function details(f) {
    var raw = "";
    if (f.raw && (f.review === "correct")) {
      raw = Object.keys(f.raw).map(function (k) { return k + "=" + f.raw[k]; }).join(", ");
    }
    return kv([
      [L.value, valueText(f), "v-value"],
      [L.unit, f.unit || "", "v-unit"],
      [L.metric, f.metric + (METRICS[f.metric] ? " " + METRICS[f.metric] : ""), "v-metric"],
      [L.status, statusText(f.status), "v-status"],
      [L.qualifier, f.qualifier || "", "v-qualifier"],
      [L.subject, f.subject || "", "v-subject"],
      [L.extractor, f.extractor || "", "v-extractor"],
      [L.confidence, f.confidence === null || f.confidence === undefined ? "" : String(f.confidence), "v-confidence"],
      [L.flags, f.flags || "", "v-flags"],
      [L.span, f.start + "–" + f.end + (f.span_ok ? "" : " ⚠ " + (L.span_bad || "")), "v-span"],
      [L.review, reviewText(f), "v-review"],
      [L.raw, raw, "v-raw"]
    ]);
  }

  /* tooltip */
  function showTip(mark) {
    var figs = figsOf(mark);
    if (!figs.length || mark.classList.contains("off")) return;
    tip.innerHTML = figs.map(function (f) {
      return '<div class="tip-fig" data-fid="' + esc(f.id) + '"><b>' + esc(f.surface) + "</b>" + details(f) + "</div>";
    }).join("");
    var r = mark.getBoundingClientRect();
    tip.hidden = false;
    var left = Math.min(r.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8);
    tip.style.left = Math.max(4, left) + "px";
    tip.style.top = (r.bottom + window.scrollY + 6) + "px";
  }
  function hideTip() { tip.hidden = true; }

  /* the panel beside the text */
  function openPanel(fids) {
    var figs = fids.map(function (id) { return byId[id]; }).filter(Boolean);
    if (!figs.length) return;
    marks.forEach(function (m) { m.classList.remove("active"); });
    document.querySelectorAll("#zj-figtable tr.active").forEach(function (r) { r.classList.remove("active"); });
    fids.forEach(function (id) {
      marksOf(id).forEach(function (m) { m.classList.add("active"); });
      var row = document.getElementById("row-" + id);
      if (row) row.classList.add("active");
    });
    panel.innerHTML = '<button type="button" class="close" aria-label="' + esc(L.close) + '">×</button>' +
      figs.map(function (f) {
        return '<div class="fig-detail" data-fid="' + esc(f.id) + '"><h3><span class="chip ' + esc(f.fam_class) + '">' +
          esc(f.surface) + "</span></h3>" + details(f) + (review ? reviewForm(f) : "") + "</div>";
      }).join("");
    panel.hidden = false;
    panel.querySelector(".close").addEventListener("click", function () { panel.hidden = true; });
    if (review) wireForms(panel);
  }

  /* findings → their figures */
  function highlight(fids, scroll) {
    marks.forEach(function (m) { m.classList.remove("linked"); });
    var first = null;
    fids.forEach(function (id) {
      marksOf(id).forEach(function (m) {
        void m.offsetWidth; // restart the animation
        m.classList.add("linked");
        if (!first) first = m;
      });
    });
    if (first && scroll !== false) first.scrollIntoView({ block: "center" });
    return first;
  }
  document.querySelectorAll("#zj-findings .finding").forEach(function (li) {
    li.addEventListener("click", function (ev) {
      var link = ev.target.closest("a.fig-link");
      if (link && !link.getAttribute("href").startsWith("#")) return; // another document's page
      ev.preventDefault();
      document.querySelectorAll("#zj-findings .finding.active").forEach(function (x) { x.classList.remove("active"); });
      li.classList.add("active");
      var fids = link ? [link.getAttribute("data-fid")] : li.getAttribute("data-fids").split(" ");
      highlight(fids);
      openPanel(fids.filter(function (id) { return byId[id]; }));
      if (link) history.replaceState(null, "", "#fig-" + link.getAttribute("data-fid"));
    });
  });
  document.querySelectorAll("#zj-figtable a.fig-link").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      var id = a.getAttribute("data-fid");
      highlight([id]);
      openPanel([id]);
    });
  });

  marks.forEach(function (m) {
    m.addEventListener("mouseenter", function () { showTip(m); });
    m.addEventListener("mouseleave", hideTip);
    m.addEventListener("focus", function () { showTip(m); });
    m.addEventListener("blur", hideTip);
    m.addEventListener("click", function () { if (!m.classList.contains("off")) openPanel(fidsOf(m)); });
    m.addEventListener("keydown", function (ev) { if (ev.key === "Enter") openPanel(fidsOf(m)); });
  });

  /* filters */
  var metricSel = document.getElementById("zj-metric");
  var reviewSel = document.getElementById("zj-review-filter");
  var statusBoxes = Array.prototype.slice.call(document.querySelectorAll('#zj-filters input[name="status"]'));
  function visible(f) {
    var statuses = statusBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    if (metricSel.value && f.metric !== metricSel.value) return false;
    if (statuses.indexOf(f.status) < 0) return false;
    if (reviewSel.value && (f.review || "none") !== reviewSel.value) return false;
    return true;
  }
  function applyFilters() {
    marks.forEach(function (m) { m.classList.toggle("off", !figsOf(m).some(visible)); });
    data.figures.forEach(function (f) {
      var row = document.getElementById("row-" + f.id);
      if (row) row.classList.toggle("hidden", !visible(f));
    });
  }
  [metricSel, reviewSel].concat(statusBoxes).forEach(function (el) { el.addEventListener("change", applyFilters); });

  /* ------------------------------------------------------------------------------------------ */
  /* review (only when served by `zongjie review`) */

  function token() { return localStorage.getItem("zongjie-token") || ""; }
  (function takeToken() {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      localStorage.setItem("zongjie-token", decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
  })();

  function options(values, current, labelOf) {
    return values.map(function (v) {
      return '<option value="' + esc(v) + '"' + (v === current ? " selected" : "") + ">" + esc(labelOf ? labelOf(v) : v) + "</option>";
    }).join("");
  }
  function metricOptions(current) {
    return options(Object.keys(METRICS).sort(), current, function (m) { return m + " " + METRICS[m]; });
  }
  function fields(f) {
    return '<label>' + esc(L.value) + '</label><input name="value" value="' + esc(f.value === null || f.value === undefined ? "" : f.value) + '">' +
      '<label>' + esc(L.value_max) + '</label><input name="value_max" value="' + esc(f.value_max === null || f.value_max === undefined ? "" : f.value_max) + '">' +
      '<label>' + esc(L.unit) + '</label><input name="unit" value="' + esc(f.unit || "") + '">' +
      '<label>' + esc(L.metric) + '</label><select name="metric">' + metricOptions(f.metric) + "</select>" +
      '<label>' + esc(L.status) + '</label><select name="status">' + options(["actual", "plan", "prior"], f.status, statusText) + "</select>" +
      '<label>' + esc(L.approx) + '</label><input type="checkbox" name="approx"' + (f.approx ? " checked" : "") + ">" +
      '<label>' + esc(L.qualifier) + '</label><input name="qualifier" value="' + esc(f.qualifier || "") + '">' +
      '<label>' + esc(L.note) + '</label><input name="note" value="">';
  }
  function reviewForm(f) {
    return '<form class="review-form" data-fid="' + esc(f.id) + '">' + fields(f) +
      '<div class="buttons"><button type="button" data-action="confirm">' + esc(L.confirm) + "</button>" +
      '<button type="button" data-action="correct">' + esc(L.save) + "</button>" +
      '<button type="button" data-action="reject">' + esc(L.reject) + "</button></div>" +
      '<div class="status-line" role="status"></div></form>';
  }
  function formValues(form) {
    function val(name) { return form.querySelector('[name="' + name + '"]').value.trim(); }
    return {
      value: val("value") === "" ? null : val("value"),
      value_max: val("value_max") === "" ? null : val("value_max"),
      unit: val("unit"),
      metric: val("metric"),
      status: val("status"),
      approx: form.querySelector('[name="approx"]').checked,
      qualifier: val("qualifier") === "" ? null : val("qualifier")
    };
  }
  function say(form, text, ok) {
    var line = form.querySelector(".status-line");
    line.textContent = text;
    line.className = "status-line " + (ok ? "msg-ok" : "msg-err");
  }
  function post(items) {
    return fetch("/api/corrections", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Zongjie-Token": token() },
      body: JSON.stringify({ reviewer: review.reviewer, items: items })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error((body && body.error) || ("HTTP " + r.status));
        return body;
      });
    });
  }
  function reloadKeeping(fid) {
    sessionStorage.setItem("zj-restore", JSON.stringify({ y: window.scrollY, fid: fid || null, page: data.doc.page }));
    location.reload();
  }
  function wireForms(root) {
    root.querySelectorAll("form.review-form[data-fid]").forEach(function (form) {
      form.querySelectorAll("button[data-action]").forEach(function (b) {
        b.addEventListener("click", function () {
          var f = byId[form.getAttribute("data-fid")];
          var action = b.getAttribute("data-action");
          var item = { action: action, figure_id: f.id, sha256: data.doc.sha256, doc_id: data.doc.doc_id,
            note: form.querySelector('[name="note"]').value.trim() || null };
          if (action === "correct") item["new"] = formValues(form);
          post([item]).then(function () { say(form, L.saved, true); reloadKeeping(f.id); })
            .catch(function (e) { say(form, L.error + ": " + e.message, false); });
        });
      });
    });
  }

  /* adding a missed figure: offsets are code points into the file's original text, as the store's */
  function cpLen(s) { var n = 0; for (var i = 0; i < s.length; i++) { var c = s.charCodeAt(i); if (c < 0xd800 || c > 0xdbff) n++; } return n; }
  function textPoint(container, offset) {
    if (container.nodeType === Node.TEXT_NODE) return [container, offset];
    var walker = document.createTreeWalker(textEl, NodeFilter.SHOW_TEXT);
    var child = container.childNodes[offset], node, last = null;
    while ((node = walker.nextNode())) {
      if (child && (child === node || child.contains(node) || (child.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING))) return [node, 0];
      if (!child && container.contains(node)) last = node;
    }
    return last ? [last, last.data.length] : null;
  }
  function offsetOf(container, offset) {
    var p = textPoint(container, offset);
    if (!p) return null;
    var walker = document.createTreeWalker(textEl, NodeFilter.SHOW_TEXT), node, total = 0;
    while ((node = walker.nextNode())) {
      if (node === p[0]) return total + cpLen(node.data.slice(0, p[1]));
      total += cpLen(node.data);
    }
    return null;
  }
  function selectionSpan() {
    var sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    var r = sel.getRangeAt(0);
    if (!textEl.contains(r.startContainer) || !textEl.contains(r.endContainer)) return null;
    var a = offsetOf(r.startContainer, r.startOffset), b = offsetOf(r.endContainer, r.endOffset);
    if (a === null || b === null || b <= a) return null;
    return { start: data.doc.start + a, end: data.doc.start + b, surface: sel.toString() };
  }
  function addForm(span) {
    var box = reviewEl.querySelector(".add-box");
    box.innerHTML = '<form class="review-form add-form"><label>' + esc(L.surface) + "</label><b>" + esc(span.surface) +
      " <span class=\"muted\">[" + span.start + "–" + span.end + "]</span></b>" +
      fields({ value: null, unit: "", metric: metricSel.value || "other", status: "actual", approx: false }) +
      '<div class="buttons"><button type="button" data-action="add">' + esc(L.add) + "</button>" +
      '<button type="button" data-action="cancel">' + esc(L.cancel) + "</button></div>" +
      '<div class="status-line" role="status"></div></form>';
    var form = box.querySelector("form");
    fetch("/api/suggest?text=" + encodeURIComponent(span.surface)).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s || !s.found) return;
        ["value", "value_max", "unit"].forEach(function (k) {
          var input = form.querySelector('[name="' + k + '"]');
          if (input && input.value === "" && s[k] !== null && s[k] !== undefined) input.value = s[k];
        });
        if (s.approx) form.querySelector('[name="approx"]').checked = true;
      }).catch(function () { /* a suggestion is a convenience */ });
    form.querySelector('[data-action="cancel"]').addEventListener("click", function () { box.innerHTML = ""; });
    form.querySelector('[data-action="add"]').addEventListener("click", function () {
      var item = { action: "add", sha256: data.doc.sha256, doc_id: data.doc.doc_id, start: span.start, end: span.end,
        surface: span.surface, "new": formValues(form), note: form.querySelector('[name="note"]').value.trim() || null };
      post([item]).then(function (body) {
        say(form, L.saved, true);
        reloadKeeping(body.corrections && body.corrections[0] && body.corrections[0].figure_id);
      }).catch(function (e) { say(form, L.error + ": " + e.message, false); });
    });
  }

  function startReview(info) {
    review = { reviewer: localStorage.getItem("zongjie-reviewer") || info.reviewer || "" };
    document.body.classList.add("reviewing");
    reviewEl.hidden = false;
    reviewEl.innerHTML = "<h2>" + esc(L.review) + "</h2>" +
      '<div class="review-form"><label>' + esc(L.reviewer) + '</label><input id="zj-reviewer" value="' + esc(review.reviewer) + '">' +
      (token() ? "" : '<label>' + esc(L.token) + '</label><input id="zj-token" value="">') +
      "</div>" + (token() ? "" : '<p class="msg-err">' + esc(L.token_missing) + "</p>") +
      '<p class="muted">' + esc(L.add_hint) + '</p><div class="buttons"><button type="button" id="zj-add-selected">' + esc(L.add_selected) +
      '</button> <button type="button" id="zj-confirm-all">' + esc(L.confirm_all) + "</button></div>" +
      '<div class="add-box"></div><div class="status-line" role="status"></div>';
    reviewEl.querySelector("#zj-reviewer").addEventListener("change", function (ev) {
      review.reviewer = ev.target.value.trim();
      localStorage.setItem("zongjie-reviewer", review.reviewer);
    });
    var tokenInput = reviewEl.querySelector("#zj-token");
    if (tokenInput) tokenInput.addEventListener("change", function () { localStorage.setItem("zongjie-token", tokenInput.value.trim()); });
    var lastSpan = null;
    document.addEventListener("selectionchange", function () { var s = selectionSpan(); if (s) lastSpan = s; });
    textEl.addEventListener("mouseup", function () { var s = selectionSpan(); if (s) { lastSpan = s; addForm(s); } });
    reviewEl.querySelector("#zj-add-selected").addEventListener("click", function () {
      var s = selectionSpan() || lastSpan;
      if (s) addForm(s);
    });
    reviewEl.querySelector("#zj-confirm-all").addEventListener("click", function () {
      var items = data.figures.filter(function (f) { return !f.review; }).map(function (f) {
        return { action: "confirm", figure_id: f.id, sha256: data.doc.sha256, doc_id: data.doc.doc_id };
      });
      if (!items.length) return;
      post(items).then(function () { reloadKeeping(null); }).catch(function (e) {
        var line = reviewEl.querySelector(":scope > .status-line");
        line.textContent = L.error + ": " + e.message;
        line.className = "status-line msg-err";
      });
    });
    if (!panel.hidden) {
      var open = Array.prototype.map.call(panel.querySelectorAll(".fig-detail"), function (d) { return d.getAttribute("data-fid"); });
      openPanel(open);
    }
  }

  /* start */
  var restore = null;
  try { restore = JSON.parse(sessionStorage.getItem("zj-restore") || "null"); } catch (e) { restore = null; }
  sessionStorage.removeItem("zj-restore");
  if (restore && restore.page === data.doc.page) {
    window.scrollTo(0, restore.y || 0);
    if (restore.fid && byId[restore.fid]) openPanel([restore.fid]);
  } else if (/^#fig-/.test(location.hash)) {
    var fid = decodeURIComponent(location.hash.slice(5));
    if (byId[fid]) { highlight([fid]); openPanel([fid]); }
  }
  applyFilters();
  document.body.setAttribute("data-ready", "1");
  if (location.protocol === "http:" || location.protocol === "https:") {
    fetch("/api/info").then(function (r) { return r.ok ? r.json() : null; })
      .then(function (info) { if (info && info.review) startReview(info); document.body.setAttribute("data-review", info && info.review ? "1" : "0"); })
      .catch(function () { document.body.setAttribute("data-review", "0"); });
  }
})();
