/* ccsgen site script: theme toggle, local times, table sorting and filtering, transcript controls,
   keyboard shortcuts, chart tooltips. No dependencies, no network, works from file://.
   Never inserts HTML: everything shown is set with textContent. */
(function () {
  "use strict";

  var doc = document;
  var root = doc.documentElement;

  function store(key, value) {
    try {
      if (value === undefined) { return window.localStorage.getItem(key); }
      if (value === null) { window.localStorage.removeItem(key); } else { window.localStorage.setItem(key, value); }
    } catch (e) { /* file:// in some browsers, private mode: preferences just don't persist */ }
    return null;
  }

  /* decodeURIComponent that never throws: a hand-typed "#%" or "?project=%E0" is taken as it is */
  function decode(s) {
    try { return decodeURIComponent(s); } catch (e) { return s; }
  }
  function $all(sel, ctx) { return Array.prototype.slice.call((ctx || doc).querySelectorAll(sel)); }

  function typing(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  /* ------------------------------------------------------------ theme */

  function systemDark() {
    return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  }

  function currentTheme() {
    var t = root.getAttribute("data-theme");
    if (t === "light" || t === "dark") { return t; }
    return systemDark() ? "dark" : "light";
  }

  function toggleTheme() {
    var next = currentTheme() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    store("ccsgen-theme", next);
  }

  $all("[data-theme-toggle]").forEach(function (b) { b.addEventListener("click", toggleTheme); });

  /* ------------------------------------------------------------ local times */

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* times in transcripts (.stamp, .boundary) show the clock; others say what they want in data-local */
  $all("time[data-local], .transcript time, .thread time").forEach(function (el) {
    var iso = el.getAttribute("datetime") || "";
    if (iso.indexOf("T") < 0) { return; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return; }
    var day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    var fmt = el.getAttribute("data-local") || "clock";
    el.textContent = fmt === "day" ? day : fmt === "clock" ? hm + ":" + pad(d.getSeconds()) : day + " " + hm;
    el.title = iso.replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, "") + " UTC";
  });

  /* ------------------------------------------------------------ tables: sort */

  function cellValue(row, idx) {
    var c = row.cells[idx];
    if (!c) { return ""; }
    var v = c.getAttribute("data-v");
    return v !== null ? v : c.textContent.trim();
  }

  function sortTable(table, idx, kind, th) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
    $all("th[aria-sort]", table).forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
      if (r.classList.contains("gap")) { r.hidden = true; return false; }  /* idle gaps only mean something in time order */
      return true;
    });
    rows.sort(function (a, b) {
      var x = cellValue(a, idx), y = cellValue(b, idx);
      if (kind === "num") { return sign * ((parseFloat(x) || 0) - (parseFloat(y) || 0)); }
      return sign * x.localeCompare(y, undefined, { numeric: true, sensitivity: "base" });
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  $all("table.sortable").forEach(function (table) {
    $all("thead th[data-sort]", table).forEach(function (th) {
      var idx = th.cellIndex;
      var kind = th.getAttribute("data-sort");
      var btn = doc.createElement("button");
      btn.type = "button";
      btn.className = "sort-btn";
      while (th.firstChild) { btn.appendChild(th.firstChild); }
      th.appendChild(btn);
      btn.addEventListener("click", function () { sortTable(table, idx, kind, th); });
    });
  });

  /* ------------------------------------------------------------ tables: filter */

  var filterState = new Map();

  function stateFor(table) {
    if (!filterState.has(table)) { filterState.set(table, { text: "", attrs: {}, from: "", to: "" }); }
    return filterState.get(table);
  }

  function applyFilters(table) {
    var st = stateFor(table);
    var words = st.text.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0, total = 0;
    Array.prototype.forEach.call(table.tBodies[0] ? table.tBodies[0].rows : [], function (r) {
      if (r.querySelector(".empty")) { return; }
      total++;
      var ok = true;
      if (words.length) {
        var hay = r.textContent.toLowerCase();
        ok = words.every(function (w) { return hay.indexOf(w) >= 0; });
      }
      Object.keys(st.attrs).forEach(function (k) {
        var want = st.attrs[k];
        if (!ok || !want.value) { return; }
        var have = r.getAttribute("data-" + k) || "";
        ok = want.word ? (" " + have + " ").indexOf(" " + want.value + " ") >= 0 : have === want.value;
      });
      if (ok && (st.from || st.to)) {
        var first = r.getAttribute("data-first") || "", last = r.getAttribute("data-date") || "";
        if (st.from && last && last < st.from) { ok = false; }
        if (st.to && first && first > st.to) { ok = false; }
      }
      r.hidden = !ok;
      if (ok) { shown++; }
    });
    $all('[data-count-for="#' + table.id + '"]').forEach(function (el) {
      el.textContent = shown === total ? total + " shown" : shown + " of " + total + " shown";
    });
  }

  function bindFilter(el, apply) {
    var sel = el.getAttribute("data-filter") || el.getAttribute("data-target");
    var table = sel && doc.querySelector(sel);
    if (!table) { return; }
    var ev = el.tagName === "SELECT" || el.type === "date" ? "change" : "input";
    el.addEventListener(ev, function () { apply(stateFor(table), el); applyFilters(table); });
    if (el.value) { apply(stateFor(table), el); }
    applyFilters(table);
  }

  $all("[data-filter]").forEach(function (el) { bindFilter(el, function (st) { st.text = el.value; }); });
  $all("[data-filter-attr]").forEach(function (el) {
    bindFilter(el, function (st) {
      st.attrs[el.getAttribute("data-filter-attr")] = { value: el.value, word: el.getAttribute("data-match") === "word" };
    });
  });
  $all("[data-filter-date]").forEach(function (el) {
    bindFilter(el, function (st) { st[el.getAttribute("data-filter-date")] = el.value; });
  });
  $all("form[data-session-filters]").forEach(function (f) {
    f.addEventListener("submit", function (e) { e.preventDefault(); });
  });
  /* ?project=<id> on the sessions list preselects a project */
  (function () {
    var m = /[?&]project=([^&#]*)/.exec(window.location.search);
    var sel = doc.querySelector('select[data-filter-attr="project"]');
    if (m && sel) {
      sel.value = decode(m[1].replace(/\+/g, " "));
      sel.dispatchEvent(new Event("change"));
    }
  })();

  /* ------------------------------------------------------------ transcript controls */

  var noise = doc.getElementById("show-noise");
  if (noise) {
    if (store("ccsgen-noise") === "1") { noise.checked = true; }
    noise.addEventListener("change", function () { store("ccsgen-noise", noise.checked ? "1" : null); });
  }

  var expandBtn = doc.querySelector("[data-expand-tools]");
  function setTools(open) {
    $all("#transcript details.tool").forEach(function (d) { d.open = open; });
    if (expandBtn) { expandBtn.textContent = open ? "Collapse tools" : "Expand tools"; expandBtn.setAttribute("aria-pressed", open ? "true" : "false"); }
  }
  function toolsOpen() { return !!doc.querySelector("#transcript details.tool[open]"); }
  if (expandBtn) { expandBtn.addEventListener("click", function () { setTools(!toolsOpen()); }); }
  $all("[data-collapse-all]").forEach(function (b) {
    b.addEventListener("click", function () { $all("#transcript details, .other-threads details").forEach(function (d) { d.open = false; }); setTools(false); });
  });

  function reveal(el) {
    if (!el) { return; }
    if (el.classList.contains("noise") || el.closest(".noise")) { if (noise && !noise.checked) { noise.checked = true; } }
    var d = el.parentElement;
    while (d) { if (d.tagName === "DETAILS") { d.open = true; } d = d.parentElement; }
  }

  function revealHash() {
    var id = decode((window.location.hash || "").slice(1));
    if (!id) { return; }
    var el = doc.getElementById(id);
    if (el) { reveal(el); el.scrollIntoView({ block: "start" }); el.classList.add("target"); return; }
    /* a message on a later page of a long transcript: index.html knows where each one is */
    var map = doc.getElementById("page-map");
    if (!map) { return; }
    (map.getAttribute("data-map") || "").split(";").forEach(function (part) {
      var i = part.indexOf(":");
      if (i > 0 && (" " + part.slice(i + 1) + " ").indexOf(" " + id + " ") >= 0) {
        window.location.replace("page-" + part.slice(0, i) + ".html#" + encodeURIComponent(id));
      }
    });
  }
  window.addEventListener("hashchange", revealHash);
  revealHash();

  /* the "More" menu closes on a click elsewhere */
  doc.addEventListener("click", function (e) {
    $all(".nav-more details[open]").forEach(function (d) { if (!d.contains(e.target)) { d.open = false; } });
  });

  /* ------------------------------------------------------------ keyboard */

  var help = doc.getElementById("help");
  var lastFocus = null;
  function openHelp() {
    if (!help) { return; }
    lastFocus = doc.activeElement;
    help.hidden = false;
    var c = help.querySelector("[data-help-close]");
    if (c) { c.focus(); }
  }
  function closeHelp() {
    if (!help || help.hidden) { return false; }
    help.hidden = true;
    if (lastFocus && lastFocus.focus) { lastFocus.focus(); }
    return true;
  }
  $all("[data-help-open]").forEach(function (b) { b.addEventListener("click", openHelp); });
  $all("[data-help-close]").forEach(function (b) { b.addEventListener("click", closeHelp); });
  if (help) { help.addEventListener("click", function (e) { if (e.target === help) { closeHelp(); } }); }

  function navItems() {
    var t = doc.getElementById("transcript");
    if (t) {
      return $all("#transcript > .msg, #transcript > .marker, #transcript > .boundary").filter(function (el) {
        return el.offsetParent !== null;
      });
    }
    var table = doc.querySelector("table[data-rows-nav]");
    return table && table.tBodies[0] ? Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden && !r.querySelector(".empty"); }) : [];
  }

  var cursor = -1;
  function move(delta) {
    var items = navItems();
    if (!items.length) { return; }
    var cur = doc.querySelector(".kb-current");
    var i = cur ? items.indexOf(cur) : -1;
    if (i < 0) {
      /* start from the first item below the top of the viewport */
      i = delta > 0 ? -1 : items.length;
      for (var k = 0; k < items.length; k++) { if (items[k].getBoundingClientRect().top >= 60) { i = delta > 0 ? k - 1 : k; break; } }
    }
    cursor = Math.max(0, Math.min(items.length - 1, i + delta));
    if (cur) { cur.classList.remove("kb-current"); }
    var el = items[cursor];
    el.classList.add("kb-current");
    if (el.tagName !== "TR") { if (!el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "-1"); } el.focus({ preventScroll: true }); }
    el.scrollIntoView({ block: "nearest" });
    if (el.tagName !== "TR") { window.scrollBy(0, el.getBoundingClientRect().top < 70 ? -70 : 0); }
  }

  function openCurrent() {
    var cur = doc.querySelector(".kb-current");
    if (!cur) { return false; }
    if (cur.tagName === "TR") {
      var a = cur.querySelector("a[href]");
      if (a) { window.location.href = a.href; return true; }
      return false;
    }
    var ds = $all("details.tool", cur);
    var open = ds.some(function (d) { return !d.open; });
    ds.forEach(function (d) { d.open = open; });
    return ds.length > 0;
  }

  var pendingG = false;
  doc.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var k = e.key;
    if (k === "Escape") {
      if (closeHelp()) { e.preventDefault(); return; }
      $all(".nav-more details[open]").forEach(function (d) { d.open = false; });
      if (typing(doc.activeElement)) { doc.activeElement.blur(); }
      return;
    }
    if (typing(e.target)) { return; }
    if (help && !help.hidden) { if (k === "?") { closeHelp(); e.preventDefault(); } return; }
    if (pendingG) {
      pendingG = false;
      if (k === "h") { var home = doc.querySelector("a.brand"); if (home) { window.location.href = home.href; } e.preventDefault(); }
      return;
    }
    switch (k) {
      case "/": {
        var input = doc.getElementById("search-q") || doc.querySelector('input[data-filter]') || doc.getElementById("topsearch-q");
        if (input) { e.preventDefault(); input.focus(); if (input.select) { input.select(); } }
        break;
      }
      case "?": e.preventDefault(); openHelp(); break;
      case "j": e.preventDefault(); move(1); break;
      case "k": e.preventDefault(); move(-1); break;
      case "o": case "Enter": if (openCurrent()) { e.preventDefault(); } break;
      case "e": if (expandBtn) { e.preventDefault(); setTools(!toolsOpen()); } break;
      case "m": if (noise) { e.preventDefault(); noise.checked = !noise.checked; noise.dispatchEvent(new Event("change")); } break;
      case "t": e.preventDefault(); toggleTheme(); break;
      case "g": pendingG = true; window.setTimeout(function () { pendingG = false; }, 1200); break;
      default: break;
    }
  });

  /* ------------------------------------------------------------ tabs (usage page) */

  $all("[data-tabs]").forEach(function (nav) {
    nav.setAttribute("role", "tablist");
    var tabs = $all("a[data-tab]", nav);
    var panels = tabs.map(function (a) { return doc.getElementById(a.getAttribute("data-tab")); });
    function show(name) {
      tabs.forEach(function (a, i) {
        var on = a.getAttribute("data-tab") === name;
        a.setAttribute("aria-selected", on ? "true" : "false");
        if (on) { a.setAttribute("aria-current", "true"); } else { a.removeAttribute("aria-current"); }
        if (panels[i]) { panels[i].hidden = !on; }
      });
    }
    tabs.forEach(function (a, i) {
      a.setAttribute("role", "tab");
      a.setAttribute("aria-controls", a.getAttribute("data-tab"));
      if (panels[i]) { panels[i].setAttribute("role", "tabpanel"); }
      a.addEventListener("click", function (e) { e.preventDefault(); show(a.getAttribute("data-tab")); });
    });
    var h = (window.location.hash || "").slice(1);
    show(tabs.some(function (a) { return a.getAttribute("data-tab") === h; }) ? h : tabs[0].getAttribute("data-tab"));
  });

  /* ------------------------------------------------------------ chart tooltips */

  var tip = null;
  function tipEl() {
    if (!tip) {
      tip = doc.createElement("div");
      tip.className = "tooltip";
      tip.setAttribute("role", "tooltip");
      tip.hidden = true;
      doc.body.appendChild(tip);
    }
    return tip;
  }
  $all(".chart-svg rect, .heatmap rect, .chart-svg polyline").forEach(function (r) {
    var t = r.querySelector("title");
    if (!t) { return; }
    r.setAttribute("data-tip", t.textContent);
    r.setAttribute("aria-label", t.textContent);
    r.removeChild(t);
  });
  doc.addEventListener("mouseover", function (e) {
    var el = e.target.closest && e.target.closest("[data-tip]");
    if (!el) { if (tip) { tip.hidden = true; } return; }
    var t = tipEl();
    t.textContent = el.getAttribute("data-tip");
    t.hidden = false;
  });
  doc.addEventListener("mousemove", function (e) {
    if (!tip || tip.hidden) { return; }
    var x = e.clientX + 14, y = e.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) { x = e.clientX - w - 14; }
    if (y + h > window.innerHeight - 8) { y = e.clientY - h - 14; }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  });
})();
