"""Run-time shape checks (jaxtyping + beartype) for ``humaneval``, as pyproject's --jaxtyping-packages does for the others.

Skipped where ``humaneval`` is already imported or already named in --jaxtyping-packages (no double hook).
"""

import sys

from jaxtyping import install_import_hook


def pytest_configure(config):
    named = (config.getoption("jaxtyping_packages", default=None) or "").split(",")
    if "humaneval" not in sys.modules and "humaneval" not in [p.strip() for p in named]:
        install_import_hook("humaneval", "beartype.beartype")
