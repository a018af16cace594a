"""Circuit commands: ``screen-heads``, ``ablate``, ``patch-heads``, ``patch-activations``, ``ovqk``, ``attention-view``."""

from pathlib import Path

import typer

from experiments.cli_common import (DeviceOpt, DtypeOpt, EmotionOpt, HeadsOpt, JsonOpt, ModelOpt,
                                    ProfileOpt, ScreeningOpt, RunsRootOpt, SeedOpt, console, emit_json, fail, load_model_cli,
                                    parse_int_list, parse_str_list, progress_bar, table)
from interp.datasets import load_dataset
from interp.run_context import RunContext

def _heads(model, heads: str | None, screening: Path | None, emotion: str, k: int) -> list[tuple[int, int]]:
    from circuits.ablation import parse_heads, validate_heads
    from circuits.head_screening import ScreeningResult

    if heads:
        return validate_heads(model, parse_heads(heads))
    if screening is not None:
        return _screened_heads(model, ScreeningResult.load(screening), [emotion], k)
    fail("give --heads (e.g. 'L3H1,L5H0') or --screening <screening.json from screen-heads>")


def _screened_heads(model, scr, emotions: list[str], k: int) -> list[tuple[int, int]]:
    """Top-k screened heads per emotion (deduplicated), checked against ``model`` (a screening of another model fails clearly)."""
    from circuits.ablation import validate_heads
    from interp.errors import HookError

    hs = list(dict.fromkeys(h for e in emotions for h in scr.top_heads(e, k)))
    try:
        return validate_heads(model, hs)
    except HookError as exc:
        raise HookError(f"{exc} (the screening was made on model {scr.config.get('model', '?')!r}; "
                        "screen this model first or pass --model to match)") from None


def _texts(ds, emotion: str, limit: int | None) -> list[str]:
    if emotion not in ds.emotions:
        fail(f"unknown emotion {emotion!r}; the dataset has: {', '.join(ds.emotions)}")
    t = [r.text for r in ds.by_emotion(emotion)]
    return t[:limit] if limit else t


def _est(d: dict) -> str:
    return f"{d['value']:.4f} [{d['lo']:.4f}, {d['hi']:.4f}]"


def screen_heads_cmd(model: str = ModelOpt, profile: str = ProfileOpt,
                     emotions: str = typer.Option(None, "--emotions", help="Comma-separated emotions (default: all non-neutral)."),
                     query: str = typer.Option("end", "--query", help="Query positions: 'end' or 'after_span'."),
                     top: int = typer.Option(10, "--top", min=1, help="Heads per emotion in the table."),
                     batch_size: int = typer.Option(32, "--batch-size", min=1),
                     n_boot: int = typer.Option(1000, "--n-boot", min=1), n_perm: int = typer.Option(30000, "--n-perm", min=1),
                     matching: str = typer.Option("position", "--matching",
                                                  help="Neutral keys: 'position' (same token positions in a matched neutral "
                                                       "sentence) or 'end_distance' (old, position-confounded)."),
                     runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
                     dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Rank every head by attention to emotion-word tokens (emotion − position-matched neutral), with bootstrap CIs and Holm-corrected permutation p."""
    from circuits.head_screening import screen_heads

    ds = load_dataset(profile)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    ctx = RunContext.create("screen-heads", {"model": model, "profile": profile, "emotions": emotions, "query": query,
                                             "matching": matching, "n_boot": n_boot, "n_perm": n_perm}, root=runs_root, seed=seed)
    ctx.record_model(m)
    ctx.record_dataset(profile, ds)
    with progress_bar("screening", len(ds), quiet=json_out) as update:
        res = screen_heads(m, ds, emotions=parse_str_list(emotions), query=query, matching=matching, batch_size=batch_size,
                           n_boot=n_boot, n_perm=n_perm, seed=seed, progress=update)
    res.save(ctx.path)
    ctx.record_step("screen-heads", n_heads=int(res.delta[0].numel()))
    ctx.finish()
    summary = {"run_dir": str(ctx.path), "screening": str(ctx.path / "screening.json"),
               "baseline": res.config["neutral_matching"], "p_floor": res.config["p_floor"],
               "top": {e: res.top(e, top) for e in res.emotions},
               "n_significant_holm_05": res.to_dict()["n_significant_holm_05"]}
    if json_out:
        emit_json(summary)
        return
    for e in res.emotions:
        console.print(table(f"{e}: top {top} heads (Δ attention, 95% CI, Holm p)", ["rank", "head", "Δ", "CI", "emotion", "neutral", "p_holm"],
                            [[r["rank"], r["name"], r["delta"], f"[{r['lo']:.3f}, {r['hi']:.3f}]", r["emotion_attn"], r["neutral_attn"], r["p_holm"]]
                             for r in res.top(e, top)]))
    console.print(f"results: {ctx.path}")


def patch_activations_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotion: str = EmotionOpt,
                          kinds: str = typer.Option("resid_pre,attn_out,mlp_out", "--kinds", help="resid_pre, attn_out, mlp_out, resid_post."),
                          layers: str = typer.Option(None, "--layers", help="Layers like '0-5,10' (default: all)."),
                          limit: int = typer.Option(16, "--limit", min=1, help="At most this many clean/corrupted pairs."),
                          runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
                          dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Patch clean (emotion) activations into corrupted (neutral) runs per layer × position; 0 = corrupted, 1 = clean."""
    from circuits.activation_patching import activation_patching, common_length_pairs

    ds = load_dataset(profile)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    kind_list = parse_str_list(kinds) or []
    layer_list = parse_int_list(layers, name="--layers")
    clean, corr = common_length_pairs(m, _texts(ds, emotion, None), _texts(ds, "neutral", None), limit=limit)
    ctx = RunContext.create("patch-activations", {"model": model, "emotion": emotion, "kinds": kind_list, "layers": layer_list,
                                                  "n_pairs": len(clean)}, root=runs_root, seed=seed)
    ctx.record_model(m)
    n_l = len(layer_list) if layer_list else m.cfg.n_layers
    with progress_bar("patching", len(kind_list) * n_l * len(m.to_str_tokens(clean[0])), quiet=json_out) as update:
        res = activation_patching(m, clean, corr, emotion, kinds=kind_list, layers=layer_list, progress=update)
    res.save(ctx.path)
    ctx.finish()
    d = res.to_dict()
    summary = {"run_dir": str(ctx.path), **{k: d[k] for k in ("emotion", "n_pairs", "clean_metric", "corrupted_metric", "strongest", "str_tokens")}}
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"{emotion}: strongest cell per kind (normalised; clean {res.clean_metric:.3f}, corrupted {res.corrupted_metric:.3f})",
                        ["kind", "layer", "pos", "token", "value"], [[k, v["layer"], v["pos"], v["token"], v["value"]] for k, v in d["strongest"].items()]))
    console.print(f"heatmaps: {ctx.path}")


def ovqk_cmd(model: str = ModelOpt, profile: str = ProfileOpt, heads: str = HeadsOpt, screening: Path = ScreeningOpt,
             top: int = typer.Option(3, "--top", min=1, help="With --screening: top heads per emotion to analyse."),
             runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
             dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """OV/QK decomposition of heads: emotion-vector write, promoted tokens, spectra, composition, roles."""
    from circuits.head_screening import ScreeningResult
    from circuits.ov_qk import ovqk_analysis
    from circuits.roles import assign_roles
    from interp.activations import extract_activations
    from interp.hook_names import resid_post
    from steering.vectors import compute_emotion_vectors

    ds = load_dataset(profile)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    scr = ScreeningResult.load(screening) if screening is not None else None
    if heads:
        hs = _heads(m, heads, None, "", 0)
    elif scr is not None:
        hs = _screened_heads(m, scr, scr.emotions, top)
    else:
        fail("give --heads or --screening")
    layers = sorted({l for l, _ in hs})
    ctx = RunContext.create("ovqk", {"model": model, "heads": [f"L{l}H{h}" for l, h in hs]}, root=runs_root, seed=seed)
    ctx.record_model(m)
    store = extract_activations(m, ds, ctx.path / "activations", hooks=[resid_post(l) for l in layers], batch_size=32)
    vectors = {l: compute_emotion_vectors(store, resid_post(l)) for l in layers}
    res = ovqk_analysis(m, ds, hs, vectors, seed=seed)
    res.save(ctx.path)
    summary = {"run_dir": str(ctx.path), **res.to_dict()}
    if scr is not None:
        summary["roles"] = [r.to_dict() for r in assign_roles(scr, res)]
    from interp.io import atomic_write_json

    atomic_write_json(ctx.path / "ovqk_summary.json", summary)
    ctx.finish()
    if json_out:
        emit_json(summary)
        return
    console.print(table("OV write along emotion vectors (emotion − neutral, 95% CI)", ["head", *sorted(res.heads[0].ov_projection), "random |proj|", "promoted"],
                        [[f"L{h.layer}H{h.head}", *[_est(h.ov_projection[e]) for e in sorted(h.ov_projection)], h.random_projection,
                          " ".join(h.promoted_tokens[:6])] for h in res.heads]))
    if scr is not None:
        console.print(table("roles", ["head", "roles", "evidence"], [[r["name"], ",".join(r["roles"]) or "-", "; ".join(r["evidence"][:3])] for r in summary["roles"]]))


def attention_view_cmd(model: str = ModelOpt, heads: str = HeadsOpt,
                       text: list[str] = typer.Option(None, "--text", help="Sentence(s) to show (repeatable)."),
                       profile: str = ProfileOpt, emotion: str = typer.Option(None, "--emotion", "-e", help="Take sentences of this emotion from the dataset."),
                       limit: int = typer.Option(3, "--limit", min=1),
                       kind: str = typer.Option("heads", "--kind", help="'heads' (attention_heads) or 'patterns' (attention_patterns)."),
                       out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: the run folder)."),
                       runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
                       dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Write circuitsvis attention views (offline HTML) of heads on sentences."""
    from circuits.attention_view import attention_view

    if not heads:
        fail("give --heads, e.g. 'L14H0,L13H6'")
    m = load_model_cli(model, device, dtype, quiet=json_out)
    hs = _heads(m, heads, None, "", 0)
    texts = list(text or [])
    if emotion:
        texts += _texts(load_dataset(profile), emotion, limit)
    if not texts:
        fail("give --text or --emotion")
    ctx = RunContext.create("attention-view", {"model": model, "heads": heads, "texts": texts, "kind": kind}, root=runs_root, seed=seed)
    paths = attention_view(m, texts, hs, out or ctx.path, kind=kind)
    ctx.finish()
    summary = {"run_dir": str(ctx.path), "files": [str(p) for p in paths]}
    if json_out:
        emit_json(summary)
        return
    for p in paths:
        console.print(str(p))


def register(app: typer.Typer) -> None:
    app.command("screen-heads")(screen_heads_cmd)
    app.command("patch-activations")(patch_activations_cmd)
    app.command("ovqk")(ovqk_cmd)
    app.command("attention-view")(attention_view_cmd)
