"""Circuit commands: ``screen-heads``, ``patch-activations``, ``ovqk``, ``attention-view``.

Each adapts its options to one library call (:func:`circuits.screening_analysis.screening_analysis`,
:func:`circuits.activation_patching.activation_patching`, :func:`circuits.ovqk_analysis.ovqk_analysis`,
:func:`circuits.attention_view.attention_view`) and saves the report into its run folder: ``screen-heads`` and
``ovqk`` write the same files as the study's ``screen`` and ``ovqk`` phases for the same inputs.
"""

from pathlib import Path

import typer

from circuits.activation_patching import activation_patching, common_length_pairs
from circuits.attention_view import attention_view
from circuits.head_screening import ScreeningResult
from circuits.heads import parse_heads, validate_heads
from circuits.ovqk_analysis import ovqk_analysis, vector_layers
from circuits.screening_analysis import screening_analysis
from experiments.cli_common import (
    DeviceOpt,
    DtypeOpt,
    EmotionOpt,
    HeadsOpt,
    JsonOpt,
    ModelOpt,
    ProfileOpt,
    RunsRootOpt,
    ScreeningOpt,
    SeedOpt,
    chosen_heads,
    console,
    emit_json,
    fail,
    load_model_cli,
    parse_int_list,
    parse_str_list,
    progress_bar,
    show_report,
)
from experiments.pipeline import study_dataset
from experiments.study_config import StudyConfig, StudySection
from interp.activations import ActivationStore, extract_activations
from interp.datasets import load_dataset
from interp.hook_names import resid_post
from interp.run_context import RunContext
from steering.vectors import compute_emotion_vectors

EmotionsOpt = typer.Option(None, "--emotions", help="Comma-separated emotions (default: all non-neutral).")
QueryOpt = typer.Option("end", "--query", help="Query positions: 'end' or 'after_span'.")
TopOpt = typer.Option(10, "--top", min=1, help="Heads per emotion in the selection table.")
MeasureOpt = typer.Option(5, "--measure", min=1, help="Top heads per emotion re-measured on the evaluation split.")
ViewsOpt = typer.Option(3, "--views", min=0, help="Emotions (in order) with an attention view of their top 3 heads.")
BatchOpt = typer.Option(32, "--batch-size", min=1)
NBootOpt = typer.Option(1000, "--n-boot", min=1)
NPermOpt = typer.Option(30000, "--n-perm", min=1)
MatchingOpt = typer.Option("position", "--matching", help="Neutral keys: 'position' (same token positions in a matched neutral "
                                                          "sentence) or 'end_distance' (old, position-confounded).")
FractionOpt = typer.Option(0.5, "--split-fraction", help="Share of each label in the selection split (heads are ranked on it).")
EvalProfileOpt = typer.Option(None, "--evaluation-profile", help="Select on --profile, evaluate on the records this profile adds "
                                                                 "(e.g. 'extended'); default: split --profile per label.")
OvqkTopOpt = typer.Option(3, "--top", min=1, help="With --screening: top heads of --emotion to analyse.")
StoreOpt = typer.Option(None, "--store", help="Activation store with resid_post at the heads' layers (e.g. a study's "
                                              "extract/activations); default: extract into the run folder.")
KindsOpt = typer.Option("resid_pre,attn_out,mlp_out", "--kinds", help="resid_pre, attn_out, mlp_out, resid_post.")
LayersOpt = typer.Option(None, "--layers", help="Layers like '0-5,10' (default: all).")
PairsOpt = typer.Option(16, "--limit", min=1, help="At most this many clean/corrupted pairs.")
TextOpt = typer.Option(None, "--text", help="Sentence(s) to show (repeatable).")
ViewEmotionOpt = typer.Option(None, "--emotion", "-e", help="Take sentences of this emotion from the dataset.")
ViewLimitOpt = typer.Option(3, "--limit", min=1)
ViewKindOpt = typer.Option("heads", "--kind", help="'heads' (attention_heads) or 'patterns' (attention_patterns).")
OutOpt = typer.Option(None, "--out", "-o", help="Output folder (default: the run folder).")


def _study_split(profile: str, fraction: float, evaluation_profile: str | None, seed: int):
    """The dataset and selection / evaluation split a study with these ``[study]`` settings uses."""
    section = StudySection(profile=profile, seed=seed, split="profile" if evaluation_profile else "halves",
                           split_fraction=fraction, evaluation_profile=evaluation_profile or "extended")
    return study_dataset(StudyConfig(study=section))


def _texts(ds, emotion: str, limit: int | None) -> list[str]:
    if emotion not in ds.emotions:
        fail(f"unknown emotion {emotion!r}; the dataset has: {', '.join(ds.emotions)}")
    t = [r.text for r in ds.by_emotion(emotion)]
    return t[:limit] if limit else t


def screen_heads_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotions: str = EmotionsOpt, query: str = QueryOpt,
                     top: int = TopOpt, measure: int = MeasureOpt, views: int = ViewsOpt, batch_size: int = BatchOpt,
                     n_boot: int = NBootOpt, n_perm: int = NPermOpt, matching: str = MatchingOpt, split_fraction: float = FractionOpt,
                     evaluation_profile: str = EvalProfileOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt,
                     device: str = DeviceOpt, dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Rank every head by attention to emotion-word tokens (emotion − position-matched neutral) on the selection split and
    re-measure the top heads on the evaluation split, with bootstrap CIs and Holm-corrected permutation p."""
    ds, split = _study_split(profile, split_fraction, evaluation_profile, seed)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    ctx = RunContext.create("screen-heads", {"model": model, "profile": profile, "emotions": emotions, "query": query,
                                             "matching": matching, "n_boot": n_boot, "n_perm": n_perm, "split": split.describe()},
                            root=runs_root, seed=seed)
    ctx.record_model(m)
    ctx.record_dataset(profile, ds)
    with progress_bar("screening", len(split.selection), quiet=json_out) as update:
        report = screening_analysis(m, ds, split, emotions=parse_str_list(emotions), query=query, matching=matching,
                                    batch_size=batch_size, n_boot=n_boot, n_perm=n_perm, seed=seed, n_top=top,
                                    n_measure=measure, n_views=views, progress=update)
    report.save(ctx.path)
    ctx.record_step("screen-heads", n_heads=int(report.screening.delta[0].numel()))
    ctx.finish()
    show_report(report, ctx.path, json_out=json_out, screening=ctx.path / "screening.json")


def patch_activations_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotion: str = EmotionOpt, kinds: str = KindsOpt,
                          layers: str = LayersOpt, limit: int = PairsOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt,
                          device: str = DeviceOpt, dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Patch clean (emotion) activations into corrupted (neutral) runs per layer × position; 0 = corrupted, 1 = clean."""
    ds = load_dataset(profile)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    kind_list, layer_list = parse_str_list(kinds) or [], parse_int_list(layers, name="--layers")
    clean, corr = common_length_pairs(m, _texts(ds, emotion, None), _texts(ds, "neutral", None), limit=limit)
    ctx = RunContext.create("patch-activations", {"model": model, "emotion": emotion, "kinds": kind_list, "layers": layer_list,
                                                  "n_pairs": len(clean)}, root=runs_root, seed=seed)
    ctx.record_model(m)
    n_l = len(layer_list) if layer_list else m.cfg.n_layers
    with progress_bar("patching", len(kind_list) * n_l * len(m.to_str_tokens(clean[0])), quiet=json_out) as update:
        report = activation_patching(m, clean, corr, emotion, kinds=kind_list, layers=layer_list, progress=update)
    report.save(ctx.path)
    ctx.finish()
    show_report(report, ctx.path, json_out=json_out)


def ovqk_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotion: str = EmotionOpt, heads: str = HeadsOpt,
             screening: Path = ScreeningOpt, top: int = OvqkTopOpt, store: Path = StoreOpt, runs_root: Path = RunsRootOpt,
             seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """OV/QK decomposition of heads (--heads, or the top --top screened heads of --emotion): emotion-vector write,
    promoted tokens, spectra, composition and, with --screening, candidate roles."""
    ds = load_dataset(profile)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    scr = ScreeningResult.load(screening) if screening is not None else None
    hs = chosen_heads(m, heads, scr, [emotion], top)
    ctx = RunContext.create("ovqk", {"model": model, "emotion": emotion, "heads": [f"L{l}H{h}" for l, h in hs]}, root=runs_root, seed=seed)
    ctx.record_model(m)
    hooks = [resid_post(l) for l in vector_layers(hs)]
    st = ActivationStore(store) if store is not None else extract_activations(m, ds, ctx.path / "activations", hooks=hooks, batch_size=32)
    vectors = {l: compute_emotion_vectors(st, resid_post(l)) for l in vector_layers(hs)}
    report = ovqk_analysis(m, ds, hs, vectors, emotion=emotion, screening=scr, top=None if heads else top, seed=seed)
    report.save(ctx.path)
    ctx.finish()
    show_report(report, ctx.path, json_out=json_out)


def attention_view_cmd(model: str = ModelOpt, heads: str = HeadsOpt, text: list[str] = TextOpt, profile: str = ProfileOpt,
                       emotion: str = ViewEmotionOpt, limit: int = ViewLimitOpt, kind: str = ViewKindOpt, out: Path = OutOpt,
                       runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
                       json_out: bool = JsonOpt) -> None:
    """Write circuitsvis attention views (offline HTML) of heads on sentences."""
    if not heads:
        fail("give --heads, e.g. 'L14H0,L13H6'")
    m = load_model_cli(model, device, dtype, quiet=json_out)
    hs = validate_heads(m, parse_heads(heads))
    texts = list(text or []) + (_texts(load_dataset(profile), emotion, limit) if emotion else [])
    if not texts:
        fail("give --text or --emotion")
    ctx = RunContext.create("attention-view", {"model": model, "heads": heads, "texts": texts, "kind": kind}, root=runs_root, seed=seed)
    paths = attention_view(m, texts, hs, out or ctx.path, kind=kind)
    ctx.finish()
    if json_out:
        emit_json({"run_dir": str(ctx.path), "files": [str(p) for p in paths]})
        return
    for p in paths:
        console.print(str(p))


def register(app: typer.Typer) -> None:
    app.command("screen-heads")(screen_heads_cmd)
    app.command("patch-activations")(patch_activations_cmd)
    app.command("ovqk")(ovqk_cmd)
    app.command("attention-view")(attention_view_cmd)
