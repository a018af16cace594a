"""Browser-test helpers: a Flask app served from a background thread, and headless Chromium driven by Selenium.

Chromium runs offline (experiments.browser's flags: every host but 127.0.0.1 resolves to nothing, any proxy use
fails, and loopback bypasses the proxy), so a page that needed a CDN would break here. Tests using :func:`chrome` carry
:data:`needs_webdriver`, which skips them with the reason when Chromium, chromedriver or selenium is missing.
"""

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from experiments.browser import _FLAGS, chromium_path


def _webdriver_missing() -> str | None:
    if chromium_path() is None:
        return "headless Chromium is not installed (apt-get install -y chromium chromium-driver)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is not installed (apt-get install -y chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'emotion-circuits[dev]')"
    return None


needs_webdriver = pytest.mark.skipif(_webdriver_missing() is not None, reason=_webdriver_missing() or "")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port in a daemon thread; yield its base URL (no trailing slash)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def chrome(*, downloads: Path | None = None, width: int = 1280, height: int = 1600):
    """A headless, offline Chromium WebDriver (downloads saved to ``downloads`` without asking); quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium_path()
    skip = ("--headless", "--virtual-time-budget", "--run-all-compositor-stages-before-draw", "--host-resolver-rules")
    for flag in _FLAGS:
        if not flag.startswith(skip):
            opts.add_argument(flag)
    opts.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")  # offline, but the test's own server answers
    opts.add_argument("--headless=new")
    opts.add_argument(f"--window-size={width},{height}")
    with tempfile.TemporaryDirectory(prefix="chromium-wd-") as profile:
        opts.add_argument(f"--user-data-dir={profile}")
        if downloads is not None:
            opts.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False,
                                                   "download.directory_upgrade": True})
        driver = webdriver.Chrome(options=opts, service=Service(executable_path=shutil.which("chromedriver")))
        try:
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()


def browser_errors(driver) -> list[str]:
    """Severe console messages the page logged (script errors, refused resources), as JSON lines."""
    return [json.dumps(e) for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
