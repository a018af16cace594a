"""``emotion-circuits vectors-export`` / ``vectors-import``: emotion vectors to and from llama.cpp control vectors
(GGUF, also repeng's format) and steering-vectors files. The layer mapping is in :mod:`steering.export`."""

from pathlib import Path

import typer

from experiments.cli_common import DeviceOpt, DtypeOpt, JsonOpt, console, emit_json, fail, load_model_cli, parse_int_list, table
from interp.registry import DEFAULT_MODEL
from steering.export import FORMATS, block_of_hook, check_format, export_vectors, import_vectors, read_directions, select_vectors
from steering.vectors import METHODS, load_vectors, save_vectors

_SUFFIX_FORMAT = {".gguf": "gguf", ".safetensors": "steering-vectors"}
_USE = {
    "gguf": "llama-cli -m MODEL.gguf --control-vector-scaled {out} ALPHA   (ALPHA = our raw-scale alpha)",
    "steering-vectors": "from steering.export import load_steering_vector; "
                        "with load_steering_vector('{out}').apply(hf_model, multiplier=ALPHA): ...",
}


def _out_path(out: Path) -> Path:
    if out.is_dir():
        fail(f"--out {str(out)!r} is a folder; give a file path such as {str(out / 'gratitude.gguf')!r}")
    return out


def _format(fmt: str | None, path: Path) -> str:
    if fmt is None:
        fmt = _SUFFIX_FORMAT.get(path.suffix)
        if fmt is None:
            fail(f"cannot tell the format of {str(path)!r} from its suffix; pass --format ({', '.join(FORMATS)})")
    return check_format(fmt)


def vectors_export(
    vectors_file: Path = typer.Argument(..., help="Saved vectors (.safetensors with its .json provenance)."),
    fmt: str = typer.Option(None, "--format", "-f", help=f"Output format: {', '.join(FORMATS)} (default: from --out's suffix)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (.gguf for llama.cpp / repeng, .safetensors for steering-vectors)."),
    emotion: str = typer.Option(None, "--emotion", "-e", help="Emotion to export (needed when the file has several)."),
    layers: str = typer.Option(None, "--layers", help="Layers of our hooks to export, e.g. '15' (needed when the emotion has several)."),
    method: str = typer.Option(None, "--method", help="Only vectors of this method."),
    contrast: str = typer.Option(None, "--contrast", help="Only vectors of this contrast."),
    model_hint: str = typer.Option(None, "--model-hint", help="controlvector.model_hint (default: llama.cpp's architecture name, e.g. llama)."),
    json_out: bool = JsonOpt,
) -> None:
    """Export one emotion's vectors as a llama.cpp control vector (GGUF; repeng reads it too) or a steering-vectors file."""
    fmt = _format(fmt, _out_path(out))
    layer_list = parse_int_list(layers, name="--layers")
    picked = select_vectors(load_vectors(vectors_file), emotion=emotion, layers=layer_list, method=method, contrast=contrast)
    path = export_vectors(picked, out, fmt, model_hint=model_hint)
    rows = [{"emotion": v.emotion, "hook": v.hook, "block": block_of_hook(v.hook), "norm": v.norm, "method": v.method,
             "contrast": v.contrast} for v in picked]
    summary = {"out": str(path), "format": fmt, "model": picked[0].model_name, "directions": rows,
               "use": _USE[fmt].format(out=path)}
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"{path} ({fmt}; each vector adds to the output of its block)", ["emotion", "our hook", "block", "norm"],
                        [[r["emotion"], r["hook"], r["block"], r["norm"]] for r in rows]))
    console.print(f"use: {summary['use']}", markup=False, highlight=False, soft_wrap=True)


def vectors_import(
    file: Path = typer.Argument(..., help="A control vector (.gguf) or steering-vectors file (.safetensors)."),
    fmt: str = typer.Option(None, "--format", "-f", help=f"Input format: {', '.join(FORMATS)} (default: from the suffix)."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model the vectors are for (width, layers, provenance)."),
    out: Path = typer.Option(..., "--out", "-o", help="Vector file to write (.safetensors + .json), usable with steer --vectors."),
    hook_kind: str = typer.Option("resid_pre", "--hook-kind", help="Hook for a foreign file's block outputs: resid_pre (block L -> layer L+1) or resid_post (layer L)."),
    emotion: str = typer.Option(None, "--emotion", "-e", help="Emotion name for a foreign file (default: the file's stem)."),
    method: str = typer.Option("sentence_end", "--method", help="Method recorded for a foreign file's vectors."),
    contrast: str = typer.Option("neutral", "--contrast", help="Contrast recorded for a foreign file's vectors."),
    device: str = DeviceOpt,
    dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Import a control vector or steering-vectors file as emotion vectors (our own exports come back exactly)."""
    if method not in METHODS:
        fail(f"--method {method!r} is unknown; choose one of {', '.join(METHODS)}")
    if hook_kind not in ("resid_pre", "resid_post"):
        fail(f"--hook-kind {hook_kind!r} cannot hold a block output; choose resid_pre or resid_post")
    fmt = _format(fmt, file)
    dirs = read_directions(file, fmt)  # a missing or malformed file fails before the model loads
    _out_path(out)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    vecs = import_vectors(dirs, m, hook_kind=hook_kind, emotion=emotion, method=method, contrast=contrast, fmt=fmt)
    path = save_vectors(vecs, out)
    rows = [{"emotion": v.emotion, "hook": v.hook, "norm": v.norm, "model": v.model_name,
             "provenance": "restored" if "imported_from" not in v.extra else "foreign"} for v in vecs]
    summary = {"out": str(path), "format": fmt, "source": str(file), "model_hint": dirs.model_hint, "vectors": rows}
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"{path} (from {file}, {fmt})", ["emotion", "hook", "norm", "model", "provenance"],
                        [list(r.values()) for r in rows]))


def register(app: typer.Typer) -> None:
    app.command("vectors-export")(vectors_export)
    app.command("vectors-import")(vectors_import)
