"""Headless Chromium with networking disabled: dump a page's DOM after scripts ran, and take a screenshot."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from interp.errors import EmotionCircuitsError

_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
    # Networking off: every host resolves to nothing and any proxy use fails.
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
    "--virtual-time-budget=15000", "--run-all-compositor-stages-before-draw",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    exe = chromium_path()
    if exe is None:
        raise EmotionCircuitsError("headless Chromium is not installed; install Debian's 'chromium' package")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run([exe, *_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=timeout)


def dump_dom(html_path: str | Path, *, timeout: int = 120) -> str:
    """The page's DOM (after JavaScript ran) as HTML text."""
    proc = _run(["--dump-dom", Path(html_path).resolve().as_uri()], timeout)
    return proc.stdout


def screenshot(html_path: str | Path, png_path: str | Path, *, width: int = 1280, height: int = 2400, timeout: int = 120) -> Path:
    """Save a PNG screenshot of the page."""
    out = Path(png_path).resolve()
    _run([f"--screenshot={out}", f"--window-size={width},{height}", Path(html_path).resolve().as_uri()], timeout)
    return out
