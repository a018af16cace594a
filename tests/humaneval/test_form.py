"""The rating form: escaping, and in headless Chromium (offline) it is filled, saved as a download, POSTed and scored."""

import html
import json
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from experiments.browser import _FLAGS, chromium_path
from humaneval import ScoreConfig, build_key, load_ratings, score, write_forms
from humaneval.form import rater_items, render_form
from humaneval.inputs import SystemOutput
from interp.errors import ConfigError
from tests.interp.test_figures import PAYLOAD, assert_no_injected_script, parse

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="headless Chromium is not installed (apt-get install -y chromium)")
SYSTEMS = ["none", "prompting", "steering", "module"]
# Clicks every item the way a rater would: pairwise the first text shown, naturalness 4, best the first and worst
# the last text shown; then presses "Save answers".
DRIVER = """<script>(function(){
  var cfg = JSON.parse(document.getElementById("he-config").textContent);
  function pick(name, value){ var els = document.getElementsByName(name);
    for (var i = 0; i < els.length; i++) if (els[i].value === value) els[i].click(); }
  cfg.items.forEach(function(it){
    if (it.kind === "pairwise") pick(it.id, it.shown[0]);
    else if (it.kind === "naturalness") pick(it.id, "4");
    else { pick(it.id + ":best", it.shown[0]); pick(it.id + ":worst", it.shown[it.shown.length - 1]); }
  });
  document.getElementById("he-comment").value = "driven by the test";
  document.getElementById("he-save").click();
})();</script>"""


def _key(raters=("ann", "bob"), *, text=lambda p, s: f"Continuation {p} from {s}.", tone="grateful", prompt=lambda p: f"Prompt {p}"):
    recs = [SystemOutput(prompt(p), s, text(p, s), {"auto": float(i)}) for p in range(3) for i, s in enumerate(SYSTEMS)]
    return build_key(recs, tone=tone, raters=list(raters), seed=1)


def _run_chromium(page: Path, downloads: Path, *, offline: bool = True, budget_ms: int = 8000) -> str:
    """Open ``page`` headless with downloads going to ``downloads``; return the DOM after scripts ran."""
    flags = [f for f in _FLAGS if offline or not f.startswith(("--host-resolver-rules", "--proxy-server"))]
    flags = [f for f in flags if not f.startswith("--virtual-time-budget")] + [f"--virtual-time-budget={budget_ms}"]
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        (Path(profile) / "Default").mkdir()
        (Path(profile) / "Default" / "Preferences").write_text(json.dumps(
            {"download": {"default_directory": str(downloads), "prompt_for_download": False, "directory_upgrade": True}}))
        proc = subprocess.run([chromium_path(), *flags, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
    return proc.stdout


def _wait_for(folder: Path, pattern: str, seconds: float = 10.0) -> list[Path]:
    end = time.time() + seconds
    while time.time() < end:
        found = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if found:
            return found
        time.sleep(0.2)
    return []


def _driven_copy(form: Path, folder: Path) -> Path:
    out = folder / form.name
    out.write_text(form.read_text().replace("</body>", DRIVER + "</body>"))
    return out


def test_form_escapes_every_user_text():
    key = _key(text=lambda p, s: f"{PAYLOAD} {p}{s}", tone=f"grateful{PAYLOAD}", prompt=lambda p: f"{PAYLOAD} prompt {p}")
    page = render_form(key, "ann")
    parsed = assert_no_injected_script(page, n_scripts=2)  # the JSON config and the form's script
    cfg = json.loads(parsed.scripts[0])
    assert cfg["item_set"] == key.item_set.id and cfg["rater"] == "ann" and cfg["post_url"] is None
    assert PAYLOAD not in page and html.escape(PAYLOAD) in page
    assert "http://" not in page and "https://" not in page and "src=" not in page, "the form loads nothing from a network"


def test_form_config_lists_the_raters_shuffled_items_with_the_keys_seed():
    key = _key()
    cfg = json.loads(parse(render_form(key, "bob")).scripts[0])
    assert [(c["id"], tuple(c["shown"])) for c in cfg["items"]] == [(it.id, order) for it, order in rater_items(key, "bob")]
    assert rater_items(key, "bob") == rater_items(key, "bob", seed=1) != rater_items(key, "bob", seed=2)


def test_form_post_url_must_be_http(tmp_path):
    with pytest.raises(ConfigError, match="--post-url 'ftp://x' is not an http"):
        write_forms(_key(), tmp_path, post_url="ftp://x")


@needs_chromium
def test_form_injected_text_does_not_run_in_chromium(tmp_path):
    key = _key(text=lambda p, s: f"{PAYLOAD} {p}{s}", tone=f"grateful{PAYLOAD}")
    form = write_forms(key, tmp_path / "forms")["ann"]
    dom = _run_chromium(form, tmp_path / "dl")
    assert 'data-ready="1"' in dom, "the form's script did not run"
    assert "data-pwned" not in parse(dom).html_attrs


@needs_chromium
def test_form_filled_in_chromium_saves_an_answer_file_that_scores(tmp_path):
    key = _key()
    forms = write_forms(key, tmp_path / "forms", seed=1)
    saved = []
    for rater, form in forms.items():
        downloads = tmp_path / f"dl-{rater}"
        downloads.mkdir()
        dom = _run_chromium(_driven_copy(form, tmp_path), downloads)
        assert f'data-saved="{len(key.item_set.items)}"' in dom, dom[-2000:]
        (path,) = _wait_for(downloads, "answers-*.json")
        assert path.name == f"answers-{rater}-{key.item_set.id}.json"
        saved.append(path)
    data = json.loads(saved[0].read_text())
    assert data["item_set"] == key.item_set.id and data["rater"] == "ann" and data["complete"] is True
    assert data["comment"] == "driven by the test" and len(data["answers"]) == len(key.item_set.items)
    for a in data["answers"]:
        assert {"pairwise": a.get("choice") == a["shown"][0], "naturalness": a.get("rating") == 4,
                "bestworst": (a.get("best"), a.get("worst")) == (a["shown"][0], a["shown"][-1])}[a["kind"]]
    report = score(key, load_ratings(key, saved), ScoreConfig(n_boot=20, exclude_failed=False))
    assert sorted(r.rater for r in report.raters) == ["ann", "bob"]
    assert report.position_a_rate.value == 1.0, "the driver always chose the first text shown"
    assert {a.task for a in report.alphas} == {"pairwise", "best", "worst", "naturalness"}


class _Collector(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()

    def log_message(self, *args):
        pass


@needs_chromium
def test_form_posts_answers_when_a_url_is_configured(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        key = _key(raters=("ann",))
        url = f"http://127.0.0.1:{server.server_address[1]}/answers"
        form = write_forms(key, tmp_path / "forms", post_url=url)["ann"]
        dom = _run_chromium(_driven_copy(form, tmp_path), tmp_path / "dl", offline=False)
    finally:
        server.shutdown()
    assert len(_Collector.received) == 1, dom[-1500:]
    posted = _Collector.received[0]
    assert posted["item_set"] == key.item_set.id and len(posted["answers"]) == len(key.item_set.items)
    assert 'data-posted="ok"' in dom
    (saved,) = _wait_for(tmp_path / "dl", "answers-*.json")
    assert json.loads(saved.read_text())["answers"] == posted["answers"], "the download and the POST carry the same answers"

