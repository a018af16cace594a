import re
import shutil
import subprocess

import pytest

from circuits.attention_view import attention_view, head_patterns
from interp.errors import ConfigError, HookError


def test_attention_view_writes_offline_html(tiny_model, tmp_path):
    paths = attention_view(tiny_model, ["thank you"], [(0, 1), (1, 2)], tmp_path)
    html = paths[0].read_text()
    assert "unpkg.com" not in html and "cdn.jsdelivr" not in html
    assert len(html) > 50_000  # the circuitsvis bundle is inlined
    pat, toks = head_patterns(tiny_model, "thank you", [(0, 1)])
    assert pat.shape == (1, len(toks), len(toks))
    with pytest.raises(HookError):
        attention_view(tiny_model, ["x"], [(0, 7)], tmp_path)
    with pytest.raises(ConfigError):
        attention_view(tiny_model, ["x"], [(0, 1)], tmp_path, kind="3d")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_attention_view_renders_in_headless_chromium(tiny_model, tmp_path):
    path = attention_view(tiny_model, ["thank you so much"], [(0, 1), (1, 2)], tmp_path)[0]
    profile = tmp_path / "chrome-profile"
    out = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
                          "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=120)
    # the saved file holds an empty <div> and the inlined bundle; only a mounted React component puts
    # the head selector and the head names into the DOM outside <script>
    dom = re.sub(r"<script.*?</script>", "", out.stdout, flags=re.S)
    assert "Head Selector" not in re.sub(r"<script.*?</script>", "", path.read_text(), flags=re.S)
    assert "Head Selector" in dom and "L0H1" in dom and "L1H2" in dom, dom[-2000:]
