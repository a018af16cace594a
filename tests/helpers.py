"""Test helpers: run the CLI in-process and capture its exit code and output."""

import pytest


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Call ``experiments.cli.main(args)``; return (exit code, stdout, stderr)."""
    from experiments.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else (0 if exc.value.code is None else 1)
    return code, out, err
