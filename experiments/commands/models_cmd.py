"""``emotion-circuits models``: known models, architecture, installed and cached status."""

import typer

from experiments.cli_common import JsonOpt, console, emit_json, table
from interp.models import cache_dir, list_models


def models(json_out: bool = JsonOpt) -> None:
    """List known models with layers, d_model, heads, KV heads, and whether weights are installed and cached."""
    rows = list_models()
    if json_out:
        emit_json({"cache_dir": str(cache_dir()), "models": rows})
        return
    console.print(table(
        f"Known models (cache: {cache_dir()})",
        ["name", "architecture", "layers", "d_model", "heads", "kv heads", "installed", "cached", "install"],
        [[r["name"], r["architecture"], r["n_layers"], r["d_model"], r["n_heads"], r["n_kv_heads"],
          "yes" if r["installed"] else "no", "yes" if r["cached"] else "no", r["install"] or "-"] for r in rows],
    ))
    console.print("Any Hugging Face model id or local model directory TransformerBridge supports also works (hub needs network).")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
