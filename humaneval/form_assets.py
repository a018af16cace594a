"""The rating form's inline CSS and JavaScript (no network: no CDN, no fonts, no external files).

The script reads its configuration from ``<script id="he-config" type="application/json">`` (item set id,
rater, optional POST URL, each item's kind and shown output ids), keeps answers in ``localStorage`` so a reload
loses nothing, and on "Save answers" downloads ``answers-<rater>-<item set>.json`` and, if a URL was set at make
time, also POSTs the same JSON to it with ``fetch`` (``Content-Type: text/plain``, so no CORS preflight).
"""

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:860px;margin:0 auto;padding:16px 16px 96px;
     color:#1d2330;background:#fafbfc;line-height:1.45}
h1{font-size:1.35em;margin:.4em 0}h2{font-size:1.15em;margin:1.6em 0 .4em;border-bottom:1px solid #d5dae3;padding-bottom:4px}
.meta{color:#5a6372;font-size:.85em}.instructions{background:#eef3fb;border:1px solid #c9d7ee;border-radius:6px;padding:8px 12px}
.item{background:#fff;border:1px solid #d5dae3;border-radius:8px;padding:12px 14px;margin:14px 0}
.item.answered{border-color:#7fb383}.item.invalid{border-color:#d9534f}
.prompt{color:#5a6372;font-size:.9em;margin-bottom:6px}.question{font-weight:600;margin:4px 0 8px}
.text{white-space:pre-wrap;background:#f4f6f9;border-radius:6px;padding:8px 10px;margin:4px 0}
.options{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.option{display:block;border:1px solid #d5dae3;border-radius:6px;padding:6px 8px;cursor:pointer}
.option:has(input:checked){border-color:#2f6fd6;background:#f0f5ff}
.tag{font-weight:700;margin:0 6px}
.scale{display:flex;gap:14px;flex-wrap:wrap;align-items:center;margin-top:6px}.scale label{cursor:pointer}
table.bw{width:100%;border-collapse:collapse}table.bw td,table.bw th{border-bottom:1px solid #e3e7ee;padding:4px 6px;vertical-align:top}
table.bw td.pick{width:5.5em;text-align:center}
footer{position:fixed;left:0;right:0;bottom:0;background:#fff;border-top:1px solid #d5dae3;padding:10px 16px;
       display:flex;gap:14px;align-items:center;justify-content:center}
button{font-size:1em;padding:6px 16px;border-radius:6px;border:1px solid #2f6fd6;background:#2f6fd6;color:#fff;cursor:pointer}
#he-status{font-size:.9em;color:#5a6372}textarea{width:100%;min-height:4em}
"""

JS = r"""
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("he-config").textContent);
  var store = "humaneval:" + cfg.item_set + ":" + cfg.rater;
  var statusEl = document.getElementById("he-status");
  var progressEl = document.getElementById("he-progress");

  function checked(name) {
    var els = document.getElementsByName(name);
    for (var i = 0; i < els.length; i++) { if (els[i].checked) return els[i].value; }
    return null;
  }

  function answerFor(item) {
    var a = {item: item.id, kind: item.kind, shown: item.shown.slice()};
    if (item.kind === "pairwise") {
      a.choice = checked(item.id);
      return a.choice === null ? null : a;
    }
    if (item.kind === "naturalness") {
      var r = checked(item.id);
      if (r === null) return null;
      a.rating = parseInt(r, 10);
      return a;
    }
    a.best = checked(item.id + ":best");
    a.worst = checked(item.id + ":worst");
    return (a.best === null || a.worst === null || a.best === a.worst) ? null : a;
  }

  function collect() {
    var out = [];
    cfg.items.forEach(function (item) { var a = answerFor(item); if (a !== null) out.push(a); });
    return out;
  }

  function refresh() {
    var done = 0;
    cfg.items.forEach(function (item) {
      var el = document.getElementById("item-" + item.id);
      var ok = answerFor(item) !== null;
      if (ok) done += 1;
      el.classList.toggle("answered", ok);
    });
    progressEl.textContent = done + " of " + cfg.items.length + " answered";
    return done;
  }

  function remember() {
    var state = {};
    var inputs = document.querySelectorAll("input[type=radio]:checked");
    for (var i = 0; i < inputs.length; i++) state[inputs[i].name] = inputs[i].value;
    state["he-comment"] = document.getElementById("he-comment").value;
    try { window.localStorage.setItem(store, JSON.stringify(state)); } catch (e) { /* storage may be off for file:// */ }
  }

  function restore() {
    var state = null;
    try { state = JSON.parse(window.localStorage.getItem(store) || "null"); } catch (e) { state = null; }
    if (!state) return;
    Object.keys(state).forEach(function (name) {
      if (name === "he-comment") { document.getElementById("he-comment").value = state[name]; return; }
      var els = document.getElementsByName(name);
      for (var i = 0; i < els.length; i++) { if (els[i].value === state[name]) els[i].checked = true; }
    });
  }

  function onChange(ev) {
    var t = ev.target;
    if (t && t.type === "radio" && /:(best|worst)$/.test(t.name)) {
      // One text cannot be both most and least: clear the other column's mark on the same text.
      var other = t.name.replace(/:(best|worst)$/, function (m) { return m === ":best" ? ":worst" : ":best"; });
      var els = document.getElementsByName(other);
      for (var i = 0; i < els.length; i++) { if (els[i].value === t.value) els[i].checked = false; }
    }
    remember();
    refresh();
  }

  function payload() {
    var answers = collect();
    return {format: cfg.format, version: 1, item_set: cfg.item_set, rater: cfg.rater,
            saved_utc: new Date().toISOString(), n_items: cfg.items.length, complete: answers.length === cfg.items.length,
            comment: document.getElementById("he-comment").value, answers: answers};
  }

  function download(text, name) {
    var blob = new Blob([text], {type: "application/json"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function save() {
    var data = payload();
    var text = JSON.stringify(data, null, 1);
    download(text, "answers-" + cfg.rater + "-" + cfg.item_set + ".json");
    var msg = "Saved " + data.answers.length + " of " + data.n_items + " answers to your downloads folder.";
    if (!data.complete) msg += " You can go on and save again later.";
    statusEl.textContent = msg;
    document.body.setAttribute("data-saved", String(data.answers.length));
    if (cfg.post_url) {
      statusEl.textContent = msg + " Sending…";
      fetch(cfg.post_url, {method: "POST", headers: {"Content-Type": "text/plain;charset=UTF-8"}, body: text})
        .then(function (r) {
          statusEl.textContent = msg + (r.ok ? " Sent to the study server too." : " The study server answered " + r.status + "; please send the downloaded file instead.");
          document.body.setAttribute("data-posted", r.ok ? "ok" : String(r.status));
        })
        .catch(function () {
          statusEl.textContent = msg + " Could not reach the study server; please send the downloaded file instead.";
          document.body.setAttribute("data-posted", "failed");
        });
    }
  }

  document.addEventListener("change", onChange);
  document.getElementById("he-comment").addEventListener("input", remember);
  document.getElementById("he-save").addEventListener("click", save);
  restore();
  refresh();
  document.body.setAttribute("data-ready", "1");
})();
"""
