/* ccsgen search page: the live API when served by `ccsgen serve`, else the prebuilt static index
 * (assets/search/*.js, written by ccsgen/search/static.py) loaded with <script> tags, so it works from file://.
 *
 * Page contract: a container #search-app (data-base = relative path to the site root) or #search-root
 * (data-site-root, data-index = the index dir, data-api = the API URL); an <input id="search-q">; results go
 * into #search-results, else into the container. ?q= in the URL runs a search on load.
 *
 * Everything from the logs is put into the DOM as text (textContent); the only elements made from it are
 * <mark>s wrapped around matched words. No dependencies.
 */
(function () {
  "use strict";

  var PAGE = 20;
  var root, input, out, base, indexDir, apiUrl;

  // ------------------------------------------------------------ text folding and tokens (static.py)

  var FOLD = { "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
               "ħ": "h", "ŧ": "t", "ſ": "s" };
  var FOLD_RE = /[ßæœøłđðþıħŧſ]/g;
  var UNI_CLASS = "\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\p{Script=Thai}" +
    "\\p{Script=Lao}\\p{Script=Khmer}\\p{Script=Myanmar}\\p{Script=Tibetan}\\p{Extended_Pictographic}";
  var UNI_ONE = new RegExp("^[" + UNI_CLASS + "]$", "u");
  var RUN_RE = new RegExp("[\\p{L}\\p{N}" + UNI_CLASS + "]+", "gu");
  var MARKS = /\p{M}/gu;

  function fold(s) {
    return s.normalize("NFKD").replace(MARKS, "").normalize("NFC").toLowerCase()
      .replace(FOLD_RE, function (c) { return FOLD[c]; });
  }

  function isUni(ch) { return UNI_ONE.test(ch); }

  // Runs of a folded text: [{text, uni}] — words of letters/digits, and runs of CJK/emoji characters.
  function runs(folded) {
    var res = [], m;
    RUN_RE.lastIndex = 0;
    while ((m = RUN_RE.exec(folded)) !== null) {
      var cur = "", curUni = null;
      for (var ch of m[0]) {
        var u = isUni(ch);
        if (curUni !== null && u !== curUni) { res.push({ text: cur, uni: curUni }); cur = ""; }
        cur += ch; curUni = u;
      }
      if (cur) res.push({ text: cur, uni: curUni });
    }
    return res;
  }

  // Index terms of a query word: words as they are; a uni run as its pairs of characters (or the character).
  function queryTerms(word) {
    var terms = [];
    runs(fold(word)).forEach(function (r) {
      if (!r.uni) { terms.push({ term: r.text, uni: false }); return; }
      var chars = Array.from(r.text);
      if (chars.length === 1) { terms.push({ term: chars[0], uni: true }); return; }
      for (var i = 0; i + 1 < chars.length; i++) terms.push({ term: chars[i] + chars[i + 1], uni: true });
    });
    return terms;
  }

  function shardOf(term, n) {
    var h = 0x811c9dc5, i = 0;
    for (var ch of term) {
      if (i++ >= 2) break;
      h ^= ch.codePointAt(0);
      h = Math.imul(h, 16777619) >>> 0;
    }
    return h % n;
  }

  function decode(s) {
    var ids = [], prev = 0;
    if (!s) return ids;
    s.split(",").forEach(function (x) { prev += parseInt(x, 36); ids.push(prev); });
    return ids;
  }

  // ------------------------------------------------------------ query language (search/query.py)

  var FIELDS = { project: 1, role: 1, model: 1, tool: 1, session: 1, kind: 1 };

  function parse(q) {
    var re = /\s*(-)?(?:([A-Za-z_]+):)?(?:"([^"]*)"?|([^\s"]+))/y, groups = [], pendingOr = false, m;
    q = (q || "").trim();
    re.lastIndex = 0;
    while (re.lastIndex < q.length && (m = re.exec(q)) !== null) {
      if (m[0] === "") { re.lastIndex++; continue; }
      var neg = !!m[1], fname = m[2], quoted = m[3], bare = m[4], clause = null;
      if (quoted === undefined && !fname && !neg && (bare === "OR" || bare === "|" || bare === "||")) {
        pendingOr = groups.length > 0; continue;
      }
      if (quoted === undefined && !fname && !neg && (bare === "AND" || bare === "&&")) continue;
      if (fname && FIELDS[fname.toLowerCase()]) {
        var v = (quoted !== undefined ? quoted : bare || "").trim();
        if (v) clause = { field: fname.toLowerCase(), text: v, neg: neg };
      } else {
        var text = (fname ? fname + ":" : "") + (quoted !== undefined ? quoted : (bare || "").replace(/^\(+|\)+$/g, ""));
        var prefix = quoted === undefined;
        if (prefix) text = text.replace(/\*+$/, "");
        if (text) clause = { text: text, neg: neg, phrase: quoted !== undefined, prefix: prefix };
      }
      if (!clause) continue;
      if (pendingOr && groups.length && !clause.neg) groups[groups.length - 1].push(clause);
      else groups.push([clause]);
      pendingOr = false;
    }
    return groups;
  }

  // ------------------------------------------------------------ loading the static index

  var loaded = {}, pending = {}, manifest = null;
  window.CCS_SEARCH = {
    load: function (kind, n, data) {
      var k = kind + n;
      loaded[k] = data;
      if (pending[k]) pending[k].resolve(data);
    },
    // for tests: the parts that must agree with ccsgen/search/static.py and query.py
    internals: { fold: fold, runs: runs, queryTerms: queryTerms, shardOf: shardOf, decode: decode, parse: parse }
  };

  function load(kind, n, file, bust) {
    var k = kind + n;
    if (loaded[k]) return Promise.resolve(loaded[k]);
    if (pending[k]) return pending[k].promise;
    var entry = {};
    entry.promise = new Promise(function (resolve, reject) { entry.resolve = resolve; entry.reject = reject; });
    pending[k] = entry;
    var s = document.createElement("script");
    s.async = true;
    s.src = indexDir + file + "?v=" + encodeURIComponent(bust || (manifest ? manifest.build : "0"));
    s.onload = function () { if (!loaded[k]) { delete pending[k]; entry.reject(new Error("empty " + file)); } };
    s.onerror = function () { delete pending[k]; entry.reject(new Error("cannot load " + file)); };
    document.head.appendChild(s);
    return entry.promise;
  }

  function getManifest() {
    if (manifest) return Promise.resolve(manifest);
    return load("m", 0, "manifest.js", String(Date.now())).then(function (m) {
      manifest = m;
      return m;
    });
  }

  function docsOf(term, prefix, uni) {
    // -> Promise<Map<doc, weight>>: the docs holding the term (or, for a prefix, any term it starts)
    var m = manifest, res = new Map(), jobs = [];
    function add(ids, exact) {
      var w = Math.log(1 + m.docs / Math.max(1, ids.length)) * (exact ? 1.5 : 1);
      ids.forEach(function (d) { res.set(d, Math.max(res.get(d) || 0, w)); });
    }
    var expand = prefix && !uni && Array.from(term).length >= 2;
    (m.common || []).forEach(function (t, i) {
      if (t === term || (expand && t.lastIndexOf(term, 0) === 0)) {
        jobs.push(load("c", i, "c-" + i + ".js").then(function (s) { add(decode(s), t === term); }));
      }
    });
    var n = shardOf(term, m.shards);
    jobs.push(load("t", n, "t-" + n + ".js").then(function (shard) {
      if (Object.prototype.hasOwnProperty.call(shard, term)) add(decode(shard[term]), true);
      if (expand) {
        for (var t in shard) {
          if (t !== term && t.lastIndexOf(term, 0) === 0) add(decode(shard[t]), false);
        }
      }
    }));
    return Promise.all(jobs).then(function () { return res; });
  }

  function intersect(a, b) {
    if (a === null) return b;
    if (b === null) return a;
    var res = new Map();
    a.forEach(function (w, d) { if (b.has(d)) res.set(d, w + b.get(d)); });
    return res;
  }

  function union(a, b) {
    if (a === null || b === null) return a === null ? b : a;
    var res = new Map(a);
    b.forEach(function (w, d) { res.set(d, Math.max(res.get(d) || 0, w)); });
    return res;
  }

  function clauseDocs(c) {
    var terms = queryTerms(c.text);
    if (!terms.length) return Promise.resolve(null);
    var last = terms.length - 1;
    return Promise.all(terms.map(function (t, i) {
      return docsOf(t.term, c.prefix && i === last, t.uni);
    })).then(function (maps) { return maps.reduce(intersect, null); });
  }

  function fieldFilter(clauses) {
    if (!clauses.length) return Promise.resolve(null);
    return load("x", 0, "meta.js").then(function (meta) {
      var sess = meta.s.split(","), kinds = meta.k;
      return function (d) {
        var si = parseInt(sess[d], 36), s = manifest.sessions[si] || [];
        return clauses.every(function (c) {
          var v = c.text.toLowerCase(), ok = true;
          if (c.field === "project") ok = (s[2] || "").toLowerCase().indexOf(v) >= 0 || (s[4] || "").toLowerCase().indexOf(v) >= 0;
          else if (c.field === "session") ok = (s[3] || "").toLowerCase().lastIndexOf(v.replace(/\*$/, ""), 0) === 0;
          else if (c.field === "role" || c.field === "kind") {
            var k = kinds.charAt(d);
            ok = /^u|^prompt/.test(v) ? k === "0" : /^a|^resp|^text/.test(v) ? k === "1" : /^sess|^title/.test(v) ? k === "2" : false;
          }
          return c.neg ? !ok : ok;
        });
      };
    });
  }

  function searchStatic(q) {
    return getManifest().then(function () {
      var groups = parse(q), must = [], not = [], fields = [], ignored = [];
      groups.forEach(function (g) {
        var f = g.filter(function (c) { return c.field; });
        f.forEach(function (c) { if (c.field === "model" || c.field === "tool") ignored.push(c.field); else fields.push(c); });
        var words = g.filter(function (c) { return !c.field; });
        if (!words.length) return;
        if (words.length === 1 && words[0].neg) not.push(clauseDocs(words[0]));
        else must.push(Promise.all(words.map(clauseDocs)).then(function (ms) { return ms.reduce(union); }));
      });
      return Promise.all([Promise.all(must), Promise.all(not), fieldFilter(fields)]).then(function (r) {
        var sets = r[0], nots = r[1], keep = r[2], acc = null;
        if (!sets.length && !keep) return { hits: [], total: 0, ignored: ignored, empty: true };
        sets.forEach(function (s) { acc = intersect(acc, s); });
        if (acc === null) {
          if (!keep) return { hits: [], total: 0, ignored: ignored };
          acc = new Map();
          for (var d = 0; d < manifest.docs; d++) acc.set(d, 0);
        }
        var hits = [];
        acc.forEach(function (w, d) {
          if (keep && !keep(d)) return;
          for (var i = 0; i < nots.length; i++) if (nots[i] && nots[i].has(d)) return;
          hits.push([d, w]);
        });
        hits.sort(function (a, b) { return b[1] - a[1] || a[0] - b[0]; });
        return { hits: hits, total: hits.length, ignored: ignored };
      });
    });
  }

  function docRows(ids) {
    var chunks = {};
    ids.forEach(function (d) { chunks[Math.floor(d / manifest.chunk)] = 1; });
    return Promise.all(Object.keys(chunks).map(function (c) { return load("d", +c, "d-" + c + ".js"); }))
      .then(function () {
        return ids.map(function (d) { return loaded["d" + Math.floor(d / manifest.chunk)][d % manifest.chunk]; });
      });
  }

  // ------------------------------------------------------------ rendering (text only)

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function unescapeHtml(s) {
    return s.replace(/&(lt|gt|quot|#x27|#39|amp);/g, function (_m, e) {
      return { lt: "<", gt: ">", quot: "\"", "#x27": "'", "#39": "'", amp: "&" }[e];
    });
  }

  // An API snippet (escaped HTML with <mark>) -> nodes, without ever parsing it as HTML.
  function snippetFromApi(s) {
    var frag = document.createDocumentFragment(), inMark = false;
    (s || "").split(/(<mark>|<\/mark>)/).forEach(function (part) {
      if (part === "<mark>") { inMark = true; return; }
      if (part === "</mark>") { inMark = false; return; }
      if (!part) return;
      var t = unescapeHtml(part);
      frag.appendChild(inMark ? el("mark", null, t) : document.createTextNode(t));
    });
    return frag;
  }

  // A preview (plain text) -> nodes with the words that match the query in <mark>.
  function highlight(text, words) {
    var spans = [], m, re = new RegExp(RUN_RE.source, "gu");
    function check(start, s, uni) {
      if (!uni) {
        var f = fold(s);
        if (words.some(function (w) { return !w.uni && (w.prefix ? f.lastIndexOf(w.term, 0) === 0 : f === w.term); })) {
          spans.push([start, start + s.length]);
        }
        return;
      }
      var low = s.toLowerCase();
      words.forEach(function (w) {
        if (!w.uni) return;
        for (var i = low.indexOf(w.term); i >= 0; i = low.indexOf(w.term, i + 1)) spans.push([start + i, start + i + w.term.length]);
      });
    }
    while ((m = re.exec(text)) !== null) {
      var start = m.index, cur = "", curUni = null;
      for (var ch of m[0]) {
        var u = isUni(ch);
        if (curUni !== null && u !== curUni) { check(start, cur, curUni); start += cur.length; cur = ""; }
        cur += ch; curUni = u;
      }
      if (cur) check(start, cur, curUni);
    }
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var frag = document.createDocumentFragment(), pos = 0;
    spans.forEach(function (sp) {
      if (sp[0] < pos) { if (sp[1] > pos) { frag.lastChild.textContent += text.slice(pos, sp[1]); pos = sp[1]; } return; }
      if (sp[0] > pos) frag.appendChild(document.createTextNode(text.slice(pos, sp[0])));
      frag.appendChild(el("mark", null, text.slice(sp[0], sp[1])));
      pos = sp[1];
    });
    if (pos < text.length) frag.appendChild(document.createTextNode(text.slice(pos)));
    return frag;
  }

  function highlightWords(q) {
    var words = [];
    parse(q).forEach(function (g) {
      g.forEach(function (c) {
        if (c.field || c.neg) return;
        runs(c.text.toLowerCase()).forEach(function (r) {
          if (r.uni) words.push({ term: r.text, uni: true });
          else words.push({ term: fold(r.text), uni: false, prefix: c.prefix });
        });
      });
    });
    return words;
  }

  function fmtDate(sec) {
    if (!sec) return "";
    var d = new Date(sec * 1000);
    return d.toISOString().slice(0, 16).replace("T", " ");
  }

  var KIND_LABEL = ["prompt", "answer", "session"];

  function hitItem(href, title, meta, snippetNode) {
    var li = el("li", "search-hit");
    var head = el("div", "search-hit-head");
    var a = el("a", null, title);
    a.href = href;
    head.appendChild(a);
    if (meta) head.appendChild(el("span", "muted search-hit-meta", " · " + meta));
    li.appendChild(head);
    var p = el("p", "search-hit-snippet");
    p.appendChild(snippetNode);
    li.appendChild(p);
    return li;
  }

  function clear() { while (out.firstChild) out.removeChild(out.firstChild); }

  function summary(text, note) {
    var p = el("p", "search-summary", text);
    if (note) { p.appendChild(document.createElement("br")); p.appendChild(el("small", "muted", note)); }
    out.appendChild(p);
  }

  var STATIC_NOTE = "Offline index: session titles, your prompts and Claude's answers (not tool output). " +
    "Words match as prefixes, phrases as all their words; results are ranked by how rare the matched words " +
    "are, then newest first. `ccsgen serve` searches everything, ranked by relevance.";

  // ------------------------------------------------------------ the two modes

  root = document.getElementById("search-app") || document.getElementById("search-root");
  input = document.getElementById("search-q");
  if (!root || !input) return;
  out = document.getElementById("search-results") || root;
  base = root.getAttribute("data-base") || root.getAttribute("data-site-root") || "";
  if (base === "./") base = "";
  if (base && base.slice(-1) !== "/") base += "/";
  indexDir = root.getAttribute("data-index") || base + "assets/search/";
  if (indexDir.slice(-1) !== "/") indexDir += "/";
  apiUrl = root.getAttribute("data-api") || "/api/search";
  var seq = 0, mode = /^https?:$/.test(location.protocol) ? "api" : "static";

  function renderStatic(q, my) {
    return searchStatic(q).then(function (res) {
      if (my !== seq) return;
      clear();
      if (res.empty) return;
      var note = STATIC_NOTE + (res.ignored.length ? " Filters not available offline: " + res.ignored.join(", ") + "." : "");
      summary(res.total + (res.total === 1 ? " result" : " results"), note);
      var list = el("ol", "search-hits");
      out.appendChild(list);
      var words = highlightWords(q), shown = 0;
      function more() {
        var ids = res.hits.slice(shown, shown + PAGE).map(function (h) { return h[0]; });
        shown += ids.length;
        return docRows(ids).then(function (rows) {
          if (my !== seq) return;
          rows.forEach(function (r) {
            if (!r) return;
            var s = manifest.sessions[r[0]] || ["", "(unknown session)", "", ""];
            var href = base + s[0] + (r[1] !== 2 && r[3] ? "#m-" + r[3] : "");
            var meta = [s[2], KIND_LABEL[r[1]], fmtDate(r[2])].filter(Boolean).join(" · ");
            list.appendChild(hitItem(href, s[1] || s[3], meta, highlight(r[4] || "", words)));
          });
          var btn = out.querySelector(".search-more");
          if (btn) btn.remove();
          if (shown < res.hits.length) {
            var b = el("button", "btn search-more", "Show more");
            b.type = "button";
            b.addEventListener("click", function () { more(); });
            out.appendChild(b);
          }
        });
      }
      return more();
    });
  }

  function sessionInfo(sid) {
    if (!manifest) return null;
    if (!manifest.bySession) {
      manifest.bySession = {};
      manifest.sessions.forEach(function (s) { manifest.bySession[s[3]] = s; });
    }
    return manifest.bySession[sid] || null;
  }

  function renderApi(q, my, page) {
    var url = apiUrl + (apiUrl.indexOf("?") >= 0 ? "&" : "?") + "q=" + encodeURIComponent(q) +
      "&page=" + page + "&per_page=" + PAGE;
    var man = getManifest().catch(function () { return null; });
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      if (!data || !Array.isArray(data.results)) throw new Error("not a search response");
      return man.then(function () { return data; });
    }).then(function (data) {
      if (my !== seq) return;
      if (page === 1) {
        clear();
        summary(data.total + (data.total === 1 ? " result" : " results"), "Full-text search by ccsgen serve, ranked by relevance.");
        out.appendChild(el("ol", "search-hits"));
      }
      var list = out.querySelector(".search-hits");
      data.results.forEach(function (r) {
        var s = sessionInfo(r.session_id);
        var href = base + (s ? s[0] : "session/" + encodeURIComponent(r.session_id) + "/index.html") +
          (r.uuid ? "#m-" + r.uuid : "");
        var title = s ? s[1] : (r.session_id || "").slice(0, 8);
        var meta = [s ? s[2] : r.project, r.role, (r.timestamp || "").slice(0, 16).replace("T", " ")].filter(Boolean).join(" · ");
        list.appendChild(hitItem(href, title, meta, snippetFromApi(r.snippet)));
      });
      var btn = out.querySelector(".search-more");
      if (btn) btn.remove();
      if (page < (data.total_pages || 0)) {
        var b = el("button", "btn search-more", "Show more");
        b.type = "button";
        b.addEventListener("click", function () { renderApi(q, my, page + 1); });
        out.appendChild(b);
      }
    });
  }

  function run(q) {
    var my = ++seq;
    q = (q || "").trim();
    try {
      var u = new URL(location.href);
      if (q) u.searchParams.set("q", q); else u.searchParams.delete("q");
      history.replaceState(null, "", u.toString());
    } catch (e) { /* file:// pages may refuse; the search still runs */ }
    if (!q) { clear(); return Promise.resolve(); }
    out.setAttribute("aria-busy", "true");
    var p = mode === "api"
      ? renderApi(q, my, 1).catch(function () { mode = "static"; return renderStatic(q, my); })
      : renderStatic(q, my);
    return p.catch(function (err) {
      if (my !== seq) return;
      clear();
      summary("Search is not available here: " + err.message + ". Run `ccsgen serve` and open this page from it.");
    }).then(function () { out.removeAttribute("aria-busy"); });
  }

  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { run(input.value); }, 250);
  });
  var form = input.form;
  if (form) form.addEventListener("submit", function (ev) { ev.preventDefault(); clearTimeout(timer); run(input.value); });
  var initial = new URLSearchParams(location.search).get("q");
  if (initial) { input.value = initial; run(initial); }
  window.CCS_SEARCH.run = run;
})();
