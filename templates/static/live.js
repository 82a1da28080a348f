/* ccsgen live features: pages that need `ccsgen serve` (Q&A, tags, bookmarks, search without an
   offline index, a session's star and tags). Opened from disk (file://) they only explain what they
   need; served over http(s) they call the API of the same origin. Text from the API is only ever
   set with textContent (search snippets keep their <mark> elements and nothing else). */
(function () {
  "use strict";

  var doc = document;
  var live = window.location.protocol === "http:" || window.location.protocol === "https:";
  var siteRoot = doc.body.getAttribute("data-root") || "./";
  var SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$/;

  /* decodeURIComponent that never throws (a hand-typed "?q=%" is taken as it is) */
  function decodeParam(s) {
    try { return decodeURIComponent(s.replace(/\+/g, " ")); } catch (e) { return s; }
  }

  function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function sessionHref(id) {
    return SAFE_ID.test(id || "") && !/\.$/.test(id) ? siteRoot + "session/" + id + "/index.html"
      : siteRoot + "session-list/index.html";
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
      return r.json();
    });
  }

  function sendJSON(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) { if (!r.ok) { throw new Error(r.status + " " + r.statusText); } return r.json(); });
  }

  function when(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  /* A search snippet: the server escapes everything but <mark>. Parse it inertly (DOMParser runs
     no script) and keep text and <mark> only. */
  function snippet(html) {
    var out = el("span", "snippet");
    var parsed = new DOMParser().parseFromString("<body>" + String(html || "") + "</body>", "text/html");
    Array.prototype.forEach.call(parsed.body.childNodes, function (n) {
      if (n.nodeType === 1 && n.tagName === "MARK") { out.appendChild(el("mark", null, n.textContent)); }
      else { out.appendChild(doc.createTextNode(n.textContent || "")); }
    });
    return out;
  }

  function fail(box, err) {
    box.textContent = "";
    box.appendChild(el("p", "callout error", "Could not load from the API: " + (err && err.message ? err.message : err)));
  }

  /* ------------------------------------------------------------ Q&A, tags, bookmarks pages */

  var renderers = {
    qa: function (box, data) {
      var list = el("div", "live-list");
      (data.results || []).forEach(function (q) {
        var card = el("article", "card qa");
        var head = el("div", "qa-head");
        var a = el("a", "qa-q", q.question_text);
        a.href = sessionHref(q.session_id);
        head.appendChild(a);
        head.appendChild(el("span", "badge " + (q.resolution_status === "resolved" ? "ok" : "soft"), q.resolution_status || "open"));
        card.appendChild(head);
        card.appendChild(el("p", "qa-a", (q.answer_text || "").slice(0, 600)));
        card.appendChild(el("div", "muted", [q.project, when(q.timestamp), q.model].filter(Boolean).join(" · ")));
        list.appendChild(card);
      });
      if (!list.children.length) { list.appendChild(el("p", "empty", "No questions found.")); }
      box.appendChild(el("p", "muted", (data.total || 0) + " questions"));
      box.appendChild(list);
    },
    tags: function (box, data) {
      var cloud = el("div", "tag-cloud");
      (data.tags || []).forEach(function (t) {
        var b = el("button", "tag", t.name);
        b.type = "button";
        b.appendChild(el("span", "tag-count", t.count));
        b.title = (t.category || "") + " · " + t.count + " sessions";
        b.setAttribute("data-category", t.category || "");
        b.addEventListener("click", function () { browseTag(box, t.name); });
        cloud.appendChild(b);
      });
      if (!cloud.children.length) { cloud.appendChild(el("p", "empty", "No tags yet.")); }
      box.appendChild(el("p", "muted", (data.tags || []).length + " tags over " + (data.total_sessions || 0) + " sessions"));
      box.appendChild(cloud);
      box.appendChild(el("div", "tag-sessions"));
    },
    bookmarks: function (box, data) {
      var list = el("div", "live-list");
      (data.bookmarks || []).forEach(function (b) {
        var card = el("article", "card bookmark");
        var a = el("a", "bm-title", b.title || "Untitled bookmark");
        a.href = sessionHref(b.session_id);
        card.appendChild(a);
        if (b.notes) { card.appendChild(el("p", null, b.notes)); }
        var meta = el("div", "muted", [when(b.created_at), (b.tags || []).join(", ")].filter(Boolean).join(" · "));
        card.appendChild(meta);
        list.appendChild(card);
      });
      if (!list.children.length) { list.appendChild(el("p", "empty", "No bookmarks yet: star a session from its page.")); }
      box.appendChild(list);
    }
  };

  function browseTag(box, name) {
    var out = box.querySelector(".tag-sessions");
    out.textContent = "Loading…";
    getJSON("/api/tags/browse/" + encodeURIComponent(name)).then(function (d) {
      out.textContent = "";
      out.appendChild(el("h2", null, "Sessions tagged " + name));
      var ul = el("ul", "plain-list");
      (d.sessions || []).forEach(function (s) {
        var li = el("li");
        var a = el("a", null, s.title || s.session_id);
        a.href = sessionHref(s.session_id);
        li.appendChild(a);
        ul.appendChild(li);
      });
      out.appendChild(ul);
    }).catch(function (e) { fail(out, e); });
  }

  var liveRoot = doc.getElementById("live-root");
  if (liveRoot && live) {
    var kind = liveRoot.getAttribute("data-kind");
    var notice = doc.querySelector("[data-live-notice]");
    liveRoot.textContent = "Loading…";
    getJSON(liveRoot.getAttribute("data-api")).then(function (data) {
      liveRoot.textContent = "";
      if (notice) { notice.hidden = true; }
      (renderers[kind] || function () {})(liveRoot, data);
    }).catch(function (e) { fail(liveRoot, e); });
  }

  /* ------------------------------------------------------------ search without an offline index */

  var searchRoot = doc.getElementById("search-root");
  var staticSearch = !!doc.querySelector('script[src*="assets/search."]');
  if (searchRoot && live && !staticSearch) {
    var form = doc.querySelector("[data-search-form]");
    var input = doc.getElementById("search-q");
    var mode = doc.querySelector("[data-search-mode]");
    if (mode) { mode.textContent = ""; mode.appendChild(el("p", null, "Searching every message through the live API.")); }
    var run = function (q) {
      if (!q) { searchRoot.textContent = ""; return; }
      searchRoot.textContent = "Searching…";
      getJSON(searchRoot.getAttribute("data-api") + "?per_page=50&q=" + encodeURIComponent(q)).then(function (d) {
        searchRoot.textContent = "";
        searchRoot.appendChild(el("p", "muted", (d.total || 0) + " results"));
        (d.results || []).forEach(function (r) {
          var card = el("article", "card hit");
          var a = el("a", "hit-title", (r.role || "message") + " · " + when(r.timestamp));
          a.href = sessionHref(r.session_id);
          card.appendChild(a);
          card.appendChild(snippet(r.snippet || r.content || ""));
          card.appendChild(el("div", "muted", [r.project, r.model].filter(Boolean).join(" · ")));
          searchRoot.appendChild(card);
        });
      }).catch(function (e) { fail(searchRoot, e); });
    };
    if (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var q = input.value.trim();
        try { window.history.replaceState(null, "", "?q=" + encodeURIComponent(q)); } catch (err) { /* ignore */ }
        run(q);
      });
    }
    var m = /[?&]q=([^&#]*)/.exec(window.location.search);
    if (m && input) { input.value = decodeParam(m[1]); run(input.value.trim()); }
  } else if (searchRoot && !staticSearch) {
    var m2 = /[?&]q=([^&#]*)/.exec(window.location.search);
    var inp = doc.getElementById("search-q");
    if (m2 && inp) { inp.value = decodeParam(m2[1]); }
  }

  /* ------------------------------------------------------------ a session's star and tags */

  var star = doc.querySelector("[data-bookmark]");
  if (star && live) {
    var sid = star.getAttribute("data-bookmark");
    var btn = el("button", "btn star", "☆ Bookmark");
    btn.type = "button";
    btn.setAttribute("aria-pressed", "false");
    var setStar = function (on) {
      btn.textContent = on ? "★ Bookmarked" : "☆ Bookmark";
      btn.setAttribute("aria-pressed", on ? "true" : "false");
    };
    btn.addEventListener("click", function () {
      var title = (doc.querySelector("h1") || {}).textContent || "";
      sendJSON("POST", "/api/bookmarks/toggle", { session_id: sid, title: title.trim(), message_index: null })
        .then(function (d) { setStar(d.action === "added"); })
        .catch(function () { btn.textContent = "Bookmark failed"; });
    });
    star.appendChild(btn);
    var tags = el("span", "tags");
    star.appendChild(tags);
    star.hidden = false;
    getJSON("/api/bookmarks/session/" + encodeURIComponent(sid)).then(function (d) {
      setStar((d.bookmarks || []).some(function (b) { return b.message_index === null || b.message_index === undefined; }));
    }).catch(function () { /* bookmarks unavailable */ });
    getJSON("/api/tags/session/" + encodeURIComponent(sid)).then(function (d) {
      var list = Array.isArray(d) ? d : (d.all || d.tags || []);  /* the seed's shape: {auto, manual, all} */
      list.forEach(function (t) { tags.appendChild(el("span", "tag small", typeof t === "string" ? t : t.name)); });
    }).catch(function () { /* tags unavailable */ });
  }
})();
