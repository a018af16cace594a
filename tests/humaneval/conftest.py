"""Run-time shape checks (jaxtyping + beartype) for ``humaneval`` when pytest runs without pyproject's addopts.

pyproject's --jaxtyping-packages names ``humaneval`` (installed before any test module imports it: the CLI modules
import humaneval at their top, so a hook installed here, at collection, would come too late in a full run). This
fallback is skipped where ``humaneval`` is already imported or already named there (no double hook).
"""

import sys

from jaxtyping import install_import_hook


def pytest_configure(config):
    named = (config.getoption("jaxtyping_packages", default=None) or "").split(",")
    if "humaneval" not in sys.modules and "humaneval" not in [p.strip() for p in named]:
        install_import_hook("humaneval", "beartype.beartype")
