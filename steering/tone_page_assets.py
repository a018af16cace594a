"""The tone page's CSS and JavaScript, served from the page's own origin (no CDN, no fonts, no other request).

The script reads ``<script id="tp-config" type="application/json">`` (labels, systems and their titles), sends
``{"prompt", "levels"}`` to ``/api/reply`` when a slider is released or "Reply" is pressed, and fills the reply
cards and the scores table. Model text is only ever set with ``textContent``; the page's Content-Security-Policy
allows scripts from the page's origin only, so nothing a model writes can run.
"""

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:0 auto;padding:16px;
     color:#1d2330;background:#fafbfc;line-height:1.45}
h1{font-size:1.35em;margin:.3em 0}h2{font-size:1.05em;margin:0 0 .4em}
.meta{color:#5a6372;font-size:.85em}
#tp-controls{background:#fff;border:1px solid #d5dae3;border-radius:8px;padding:12px 14px}
#tp-prompt{width:100%;min-height:3.5em;font:inherit;box-sizing:border-box}
.slider{display:grid;grid-template-columns:9em 1fr 3.5em;gap:10px;align-items:center;margin:6px 0}
.slider input{width:100%}.slider output{font-variant-numeric:tabular-nums;text-align:right}
.actions{display:flex;gap:14px;align-items:center;margin-top:8px}
button{font-size:1em;padding:6px 16px;border-radius:6px;border:1px solid #2f6fd6;background:#2f6fd6;color:#fff;cursor:pointer}
button:disabled{opacity:.6;cursor:progress}
#tp-status{font-size:.9em;color:#5a6372}body[data-state=error] #tp-status{color:#b02a26}
#tp-replies{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:12px;margin:14px 0}
.reply{background:#fff;border:1px solid #d5dae3;border-radius:8px;padding:10px 12px}
.reply[data-system=agent]{border-color:#2f6fd6}
.reply-text{white-space:pre-wrap;background:#f4f6f9;border-radius:6px;padding:8px 10px;min-height:2.5em;margin:4px 0}
.reply pre{white-space:pre-wrap;font-size:.8em;background:#f4f6f9;padding:6px;border-radius:4px;margin:4px 0}
table.scores{border-collapse:collapse;background:#fff}
table.scores th,table.scores td{border-bottom:1px solid #e3e7ee;padding:3px 10px;text-align:right;font-variant-numeric:tabular-nums}
table.scores th:first-child{text-align:left}
"""

JS = r"""
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("tp-config").textContent);
  var body = document.body;
  var statusEl = document.getElementById("tp-status");
  var button = document.getElementById("tp-reply");
  var promptEl = document.getElementById("tp-prompt");
  var sliders = Array.prototype.slice.call(document.querySelectorAll("input.tp-level"));
  var seq = 0, timer = null;

  function setState(state, msg) {
    body.setAttribute("data-state", state);
    statusEl.textContent = msg;
  }

  function levels() {
    var out = {};
    sliders.forEach(function (s) { out[s.dataset.label] = parseFloat(s.value); });
    return out;
  }

  function showLevel(s) { document.getElementById(s.id + "-value").textContent = parseFloat(s.value).toFixed(2); }

  function card(system) {
    var el = document.querySelector(".reply[data-system='" + CSS.escape(system) + "']");
    if (el) return el;
    // A system the page did not know (an agent may add one): a new card built from text nodes only.
    el = document.createElement("article");
    el.className = "reply";
    el.setAttribute("data-system", system);
    var h = document.createElement("h2"); h.textContent = system; el.appendChild(h);
    ["reply-text", "reply-meta"].forEach(function (c) { var p = document.createElement("p"); p.className = c; el.appendChild(p); });
    var d = document.createElement("details"), s = document.createElement("summary"), p = document.createElement("pre");
    s.textContent = "interventions"; p.className = "reply-interventions";
    d.appendChild(s); d.appendChild(p); el.appendChild(d);
    document.getElementById("tp-replies").appendChild(el);
    return el;
  }

  function fmt(v) { return (typeof v === "number" && isFinite(v)) ? v.toFixed(3) : "–"; }

  function fillCard(system, r) {
    var el = card(system);
    el.querySelector(".reply-text").textContent = r.text;
    var meta = [];
    if (typeof r.latency_s === "number") meta.push(r.latency_s.toFixed(2) + " s");
    if (typeof r.attempts === "number") meta.push(r.attempts + (r.attempts === 1 ? " attempt" : " attempts"));
    el.querySelector(".reply-meta").textContent = meta.join(" · ");
    var iv = Array.isArray(r.interventions) ? r.interventions : [];
    el.querySelector(".reply-interventions").textContent = iv.length ? iv.map(function (x) { return JSON.stringify(x); }).join("\n") : "no interventions";
  }

  function fillScores(replies) {
    var systems = Object.keys(replies);
    var columns = [];
    systems.forEach(function (s) { Object.keys(replies[s].scores || {}).forEach(function (c) { if (columns.indexOf(c) < 0) columns.push(c); }); });
    var table = document.getElementById("tp-scores");
    var head = table.tHead.rows[0], tbody = table.tBodies[0];
    while (head.cells.length > 1) head.deleteCell(1);
    while (tbody.rows.length) tbody.deleteRow(0);
    systems.forEach(function (s) {
      var th = document.createElement("th");
      th.textContent = (cfg.titles[s] || s);
      th.setAttribute("data-system", s);
      head.appendChild(th);
    });
    columns.forEach(function (c) {
      var tr = tbody.insertRow();
      tr.setAttribute("data-column", c);
      var th = document.createElement("th"); th.textContent = c; tr.appendChild(th);
      systems.forEach(function (s) {
        var v = (replies[s].scores || {})[c];
        var td = tr.insertCell();
        td.setAttribute("data-system", s);
        td.setAttribute("data-column", c);
        td.setAttribute("data-value", typeof v === "number" ? String(v) : "");
        td.textContent = fmt(v);
      });
    });
  }

  function request() {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    var mine = ++seq;
    var sent = {prompt: promptEl.value, levels: levels()};
    setState("busy", "replying…");
    button.disabled = true;
    fetch(cfg.reply_url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(sent)})
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (data) { return {ok: r.ok, status: r.status, data: data}; });
      })
      .then(function (res) {
        if (mine !== seq) return;  // a newer request is on its way: drop this answer
        button.disabled = false;
        if (!res.ok || !res.data) { setState("error", "error: " + (res.data && res.data.error ? res.data.error : "HTTP " + res.status)); return; }
        var replies = res.data.replies;
        Object.keys(replies).forEach(function (s) { fillCard(s, replies[s]); });
        fillScores(replies);
        var done = Number(body.getAttribute("data-replies") || "0") + 1;
        body.setAttribute("data-replies", String(done));
        body.setAttribute("data-levels", JSON.stringify(res.data.levels));
        setState("done", "replied for " + Object.keys(res.data.levels).map(function (k) {
          return k + "=" + res.data.levels[k].toFixed(2); }).join(", ") + " in " + res.data.seconds.toFixed(1) + " s");
      })
      .catch(function (e) {
        if (mine !== seq) return;
        button.disabled = false;
        setState("error", "error: the server did not answer (" + e + "); is `tone serve` still running?");
      });
  }

  function soon() {  // slider released (mouse or keys): reply once the user pauses
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(request, 300);
  }

  sliders.forEach(function (s) {
    showLevel(s);
    s.addEventListener("input", function () { showLevel(s); });
    s.addEventListener("change", function () { showLevel(s); soon(); });
  });
  button.addEventListener("click", request);
  promptEl.addEventListener("keydown", function (e) { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) request(); });
  setState("idle", "move a slider or press Reply");
  body.setAttribute("data-ready", "1");
})();
"""
