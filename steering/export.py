"""Emotion vectors out to where models are served, and back in: llama.cpp control vectors (GGUF) and steering-vectors.

**Layer mapping.** Our hooks name the residual stream *between* blocks; the serving formats name the decoder
block whose *output* they add to (0-based, the index into ``model.model.layers``)::

    blocks.L.hook_resid_pre   input of block L = output of block L-1   ->  block L-1
    blocks.L.hook_resid_post  output of block L                        ->  block L
    blocks.0.hook_resid_pre   the embeddings; no block outputs them     ->  refused

* llama.cpp: tensor ``direction.{il}`` is added to the output of layer ``il``: every model graph ends layer ``il``
  with ``cur = build_cvec(cur, il)`` (ggml-org/llama.cpp ``src/models/llama.cpp``), which adds ``tensors[il]``
  (``src/llama-adapter.cpp``, ``llama_adapter_cvec::apply_to``). There is never a tensor for layer 0 and the
  loader refuses ``direction.0`` ("invalid (zero) direction tensor layer index", ``common/common.cpp``
  ``common_control_vector_load_one``), so block 0's output (``resid_pre 1`` / ``resid_post 0``) cannot be served
  there. Tensors must be 1-D F32; metadata ``general.architecture = "controlvector"``,
  ``controlvector.model_hint``, ``controlvector.layer_count`` (``tools/cvector-generator``). Use it with
  ``llama-cli -m MODEL.gguf --control-vector-scaled FILE ALPHA``.
* repeng has no format of its own: ``ControlVector.export_gguf`` writes this same GGUF (vgel/repeng
  ``repeng/extract.py``), ``direction.{i}`` with ``i`` the block whose output ``ControlModule`` adds to
  (``repeng/control.py``) -- llama.cpp's numbering. Its ``import_gguf`` reads our files.
* steering-vectors: ``SteeringVector({L: v}, layer_type="decoder_block")`` adds ``v`` to the output of
  ``model.model.layers[L]`` (a forward hook; ``steering_vectors/steering_vector.py``). The library has no file
  format (its examples pickle the object); we write safetensors ``layer_activations.{L}`` with the layer type
  and provenance in the header, and :func:`load_steering_vector` builds the library's object from it.

**Scale.** Every format stores the raw vector: llama.cpp's ``--control-vector-scaled FILE α`` and
steering-vectors' ``multiplier=α`` equal our ``SteeringSpec(alpha=α, scale="raw")``. All of them add at every
position, prompt and generated (our ``positions="all"``).
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np
import torch
from jaxtyping import Float
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from interp.errors import ConfigError, HookError, StoreError
from interp.hook_names import parse_hook
from interp.io import atomic_write_with
from interp.models import model_info
from interp.registry import KNOWN_MODELS
from steering.vectors import EmotionVector

GGUF_ARCH = "controlvector"
PROVENANCE_KEY = "emotion_circuits.provenance"
"""Metadata key (GGUF and safetensors header) holding our vectors' provenance as JSON; other readers ignore it."""
SV_FORMAT = "steering-vectors/SteeringVector"
MAPPED_KINDS = {"hook_resid_pre": -1, "hook_resid_post": 0}
"""Hook suffix -> offset from the hook's layer to the block whose output it is."""


def block_of_hook(hook: str) -> int:
    """The decoder block whose output is the residual at ``hook`` (module docstring)."""
    layer, suffix = parse_hook(hook)
    if layer is None or suffix not in MAPPED_KINDS:
        raise HookError(f"hook {hook!r} is not a block output; only resid_pre and resid_post vectors can be exported "
                        "(they add to a decoder block's output)")
    block = layer + MAPPED_KINDS[suffix]
    if block < 0:
        raise HookError(f"{hook!r} is the embedding output, which no decoder block produces; llama.cpp and "
                        "steering-vectors add after a block, so export a vector at resid_pre 1 or later")
    return block


def hook_of_block(block: int, n_layers: int, *, hook_kind: str = "resid_pre") -> str:
    """Our hook name for the output of decoder ``block`` (the inverse of :func:`block_of_hook`)."""
    if hook_kind not in ("resid_pre", "resid_post"):
        raise ConfigError(f"hook kind {hook_kind!r} cannot hold a block output; choose resid_pre or resid_post")
    if not 0 <= block < n_layers:
        raise HookError(f"the file adds to the output of block {block}, but the model has blocks 0..{n_layers - 1}; "
                        "it was made for a deeper model")
    layer = block + 1 if hook_kind == "resid_pre" else block
    if layer >= n_layers:
        raise HookError(f"the output of the last block ({block}) is no resid_pre hook (the model has layers "
                        f"0..{n_layers - 1}); import with --hook-kind resid_post")
    return f"blocks.{layer}.hook_{hook_kind}"


@dataclass(frozen=True)
class BlockDirections:
    """Directions keyed by the decoder block whose output each is added to, as a serving format stores them.

    Attributes:
        directions: ``{block: [d_model] float32}``.
        model_hint: the architecture the file names (llama.cpp's ``controlvector.model_hint``), "" if none.
        provenance: our vectors' provenance (one dict per block, with ``block``), empty for foreign files.
        source: the file read ("" when built in memory).
    """

    directions: dict[int, Float[Tensor, "d_model"]]
    model_hint: str = ""
    provenance: tuple[dict, ...] = ()
    source: str = ""
    by_block: dict[int, dict] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_block", {int(p["block"]): p for p in self.provenance if "block" in p})

    @property
    def d_model(self) -> int:
        return int(next(iter(self.directions.values())).shape[0])


def block_directions(vectors: Sequence[EmotionVector]) -> dict[int, Float[Tensor, " d_model"]]:
    """``{block: raw vector}`` for ``vectors``; refuses two vectors that add to the same block's output."""
    if not vectors:
        raise ConfigError("no vectors to export; check the --emotion / --layers / --method selection")
    out: dict[int, Tensor] = {}
    names: dict[int, str] = {}
    widths = {v.d_model for v in vectors}
    if len(widths) > 1:
        raise ConfigError(f"the vectors have different widths ({sorted(widths)}); export vectors of one model")
    for v in vectors:
        b = block_of_hook(v.hook)
        name = f"{v.emotion}@{v.hook} ({v.method}, {v.contrast})"
        if b in out:
            raise ConfigError(f"{names[b]} and {name} both add to the output of block {b}; a file holds one direction "
                              "per block, so choose one with --emotion / --layers / --method / --contrast")
        out[b], names[b] = v.vector.detach().float().contiguous().cpu(), name
    return dict(sorted(out.items()))


def _provenance(vectors: Sequence[EmotionVector]) -> str:
    return json.dumps([dict(v.provenance(), block=block_of_hook(v.hook)) for v in vectors])


def default_model_hint(vectors: Sequence[EmotionVector]) -> str:
    """llama.cpp's architecture name for the vectors' model (``LlamaForCausalLM`` -> ``llama``), else its name."""
    name = vectors[0].model_name if vectors else ""
    spec = KNOWN_MODELS.get(name)
    if spec is not None and spec.architecture.endswith("ForCausalLM"):
        return spec.architecture.removesuffix("ForCausalLM").lower()
    return name


# ---------------------------------------------------------------------------------------------- GGUF (llama.cpp)


def export_gguf(vectors: Sequence[EmotionVector], path: str | Path, *, model_hint: str | None = None) -> Path:
    """Write ``vectors`` as a llama.cpp control vector: one F32 ``direction.{block}`` per vector (atomic).

    Raises:
        HookError: a vector at block 0's output (llama.cpp refuses ``direction.0``) or at a non-residual hook.
        ConfigError: two vectors at the same block.
    """
    dirs = block_directions(vectors)
    if 0 in dirs:
        hook = next(v.hook for v in vectors if block_of_hook(v.hook) == 0)
        raise HookError(f"{hook!r} is the output of block 0, where llama.cpp never applies a control vector (its loader "
                        "refuses direction.0); export a later layer, or use --format steering-vectors")
    hint = model_hint if model_hint is not None else default_model_hint(vectors)

    def write(tmp: Path) -> None:
        w = gguf.GGUFWriter(str(tmp), GGUF_ARCH)
        w.add_string(f"{GGUF_ARCH}.model_hint", hint)
        w.add_int32(f"{GGUF_ARCH}.layer_count", len(dirs))  # int32 like llama.cpp's cvector-generator
        w.add_string(PROVENANCE_KEY, _provenance(vectors))
        for b, v in dirs.items():
            w.add_tensor(f"direction.{b}", v.numpy().astype(np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()

    return atomic_write_with(path, write)


def _gguf_scalar(reader, key: str):
    f = reader.get_field(key)
    if f is None or not f.data:
        return None
    part = f.parts[f.data[0]]
    return bytes(part).decode("utf-8", errors="replace") if f.types and f.types[0].name == "STRING" else part.tolist()[0]


def read_gguf(path: str | Path) -> BlockDirections:
    """Read a llama.cpp / repeng control vector, checked as llama.cpp's loader checks it."""
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"no control vector at {str(p)!r}")
    try:
        reader = gguf.GGUFReader(str(p))
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a readable GGUF"
        raise StoreError(f"{str(p)!r} is not a readable GGUF file ({exc}); pass a control vector .gguf") from None
    arch = _gguf_scalar(reader, "general.architecture")
    if arch != GGUF_ARCH:
        raise StoreError(f"{str(p)!r} is not a control vector (general.architecture is {arch!r}, not {GGUF_ARCH!r}); "
                         "pass a file written by vectors-export, repeng or llama.cpp's cvector-generator")
    dirs: dict[int, Tensor] = {}
    for t in reader.tensors:
        head, _, idx = t.name.partition(".")
        if head != "direction" or not idx.isdigit():
            raise StoreError(f"{str(p)!r} has tensor {t.name!r}; a control vector holds only direction.N tensors")
        if int(idx) == 0:
            raise StoreError(f"{str(p)!r} has direction.0, which llama.cpp refuses (no control vector at layer 0)")
        if t.tensor_type != gguf.GGMLQuantizationType.F32 or len(t.shape) != 1:
            raise StoreError(f"{str(p)!r}: {t.name} is {t.tensor_type.name} of shape {list(t.shape)}; llama.cpp needs "
                             "1-D F32 directions")
        dirs[int(idx)] = torch.from_numpy(np.array(t.data, dtype=np.float32, copy=True))
    return _checked(dirs, p, model_hint=_gguf_scalar(reader, f"{GGUF_ARCH}.model_hint") or "",
                    provenance=_gguf_scalar(reader, PROVENANCE_KEY))


def _checked(dirs: dict[int, Tensor], p: Path, *, model_hint: str, provenance: str | None) -> BlockDirections:
    if not dirs:
        raise StoreError(f"{str(p)!r} holds no directions")
    widths = {int(v.shape[0]) for v in dirs.values()}
    if len(widths) > 1:
        raise StoreError(f"{str(p)!r} mixes directions of widths {sorted(widths)}; every direction must have one d_model")
    try:
        prov = tuple(json.loads(provenance)) if provenance else ()
    except json.JSONDecodeError:
        raise StoreError(f"{str(p)!r}: its {PROVENANCE_KEY} metadata is not valid JSON; re-export the file") from None
    return BlockDirections(dict(sorted(dirs.items())), model_hint, prov, str(p))


# ---------------------------------------------------------------------------------------------- steering-vectors


def export_steering_vectors(vectors: Sequence[EmotionVector], path: str | Path, *, model_hint: str | None = None) -> Path:
    """Write ``vectors`` as safetensors ``layer_activations.{block}`` for a decoder-block ``SteeringVector`` (atomic)."""
    dirs = block_directions(vectors)
    tensors = {f"layer_activations.{b}": v for b, v in dirs.items()}
    meta = {"format": SV_FORMAT, "layer_type": "decoder_block", PROVENANCE_KEY: _provenance(vectors),
            "model_hint": model_hint if model_hint is not None else default_model_hint(vectors)}
    return atomic_write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def read_steering_vectors(path: str | Path) -> BlockDirections:
    """Read a file written by :func:`export_steering_vectors`."""
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"no steering-vectors file at {str(p)!r}")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a readable safetensors file"
        raise StoreError(f"{str(p)!r} is not a readable safetensors file ({type(exc).__name__}); pass a file written "
                         "by vectors-export --format steering-vectors") from None
    if meta.get("format") != SV_FORMAT or meta.get("layer_type") != "decoder_block":
        raise StoreError(f"{str(p)!r} is not a decoder-block steering vector (header format {meta.get('format')!r}, "
                         f"layer_type {meta.get('layer_type')!r}); pass a file written by vectors-export")
    dirs: dict[int, Tensor] = {}
    for k, t in tensors.items():
        head, _, idx = k.rpartition(".")
        if head != "layer_activations" or not idx.isdigit() or t.ndim != 1:
            raise StoreError(f"{str(p)!r} has tensor {k!r} of shape {list(t.shape)}; expected 1-D layer_activations.N")
        dirs[int(idx)] = t.float()
    return _checked(dirs, p, model_hint=meta.get("model_hint", ""), provenance=meta.get(PROVENANCE_KEY))


def _steering_vectors_lib():
    try:
        import steering_vectors  # noqa: PLC0415 - optional
    except ImportError:
        raise ConfigError("the steering-vectors package is not installed; pip install --no-deps steering-vectors "
                          "(it pins transformers<5, which this project's transformer-lens cannot use)") from None
    return steering_vectors


def to_steering_vector(directions: "BlockDirections | Sequence[EmotionVector]"):
    """A ``steering_vectors.SteeringVector`` adding each direction to its block's output (``decoder_block``)."""
    dirs = directions.directions if isinstance(directions, BlockDirections) else block_directions(directions)
    return _steering_vectors_lib().SteeringVector({b: v.clone() for b, v in dirs.items()}, layer_type="decoder_block")


def load_steering_vector(path: str | Path):
    """The ``steering_vectors.SteeringVector`` stored by :func:`export_steering_vectors`."""
    return to_steering_vector(read_steering_vectors(path))


def from_steering_vector(sv, *, source: str = "") -> BlockDirections:
    """:class:`BlockDirections` of an in-memory ``SteeringVector`` (``decoder_block`` only)."""
    if getattr(sv, "layer_type", None) != "decoder_block":
        raise ConfigError(f"steering vector layer_type {getattr(sv, 'layer_type', None)!r} is not a residual-stream "
                          "block output; only decoder_block vectors map onto our hooks")
    dirs = {int(b): v.detach().float().reshape(-1).cpu() for b, v in sv.layer_activations.items()}
    return _checked(dirs, Path(source or "<SteeringVector>"), model_hint="", provenance=None)


# ---------------------------------------------------------------------------------------------- formats, import

EXPORTERS: dict[str, Callable[..., Path]] = {"gguf": export_gguf, "steering-vectors": export_steering_vectors}
READERS: dict[str, Callable[[str | Path], BlockDirections]] = {"gguf": read_gguf, "steering-vectors": read_steering_vectors}
FORMATS = tuple(EXPORTERS)


def check_format(fmt: str) -> str:
    if fmt not in EXPORTERS:
        raise ConfigError(f"format {fmt!r} is unknown; choose one of {', '.join(FORMATS)} "
                          "(repeng reads and writes the gguf format)")
    return fmt


def export_vectors(vectors: Sequence[EmotionVector], path: str | Path, fmt: str, *, model_hint: str | None = None) -> Path:
    """Write ``vectors`` to ``path`` in ``fmt`` (a key of :data:`EXPORTERS`)."""
    return EXPORTERS[check_format(fmt)](vectors, path, model_hint=model_hint)


def read_directions(path: str | Path, fmt: str) -> BlockDirections:
    return READERS[check_format(fmt)](path)


def select_vectors(vectors: Sequence[EmotionVector], *, emotion: str | None = None, layers: Sequence[int] | None = None,
                   method: str | None = None, contrast: str | None = None) -> list[EmotionVector]:
    """The vectors one export takes: one emotion, and (when the file has several) explicitly chosen layers.

    A control vector adds at every layer it names at once, so a file of single-layer sweep vectors must not
    silently become one many-layer steer.
    """
    emotions = list(dict.fromkeys(v.emotion for v in vectors))
    if emotion is None:
        if len(emotions) != 1:
            raise ConfigError(f"the vector file has emotions {', '.join(emotions)}; choose one with --emotion")
        emotion = emotions[0]
    picked = [v for v in vectors if v.emotion == emotion and (method is None or v.method == method)
              and (contrast is None or v.contrast == contrast)]
    if not picked:
        have = sorted({f"{v.emotion}@{v.hook} ({v.method}, {v.contrast})" for v in vectors})
        raise ConfigError(f"no {emotion!r} vector matches the selection; the file has: {', '.join(have)}")
    present = sorted({v.layer for v in picked})
    if layers is None:
        if len(present) > 1:
            raise ConfigError(f"{emotion!r} has vectors at layers {', '.join(map(str, present))}; a served vector adds at "
                              f"every layer it holds, so choose with --layers (e.g. --layers {present[len(present) // 2]})")
        return picked
    missing = sorted(set(layers) - set(present))
    if missing:
        raise ConfigError(f"{emotion!r} has no vector at layer(s) {', '.join(map(str, missing))}; it has layers "
                          f"{', '.join(map(str, present))}")
    return [v for v in picked if v.layer in set(layers)]


def import_vectors(directions: BlockDirections, model, *, hook_kind: str = "resid_pre", emotion: str | None = None,
                   method: str = "sentence_end", contrast: str = "neutral", fmt: str = "") -> list[EmotionVector]:
    """Emotion vectors for ``model`` from a file's block directions.

    A file we wrote keeps its provenance (emotion, hook, method, model and weight hash) and its vectors come back
    exactly. A foreign file (repeng, cvector-generator) gets ``hook_kind`` at the block's output, ``emotion``
    (default: the file's stem), ``method``/``contrast`` as given, and this model's name and weight hash; ``extra``
    records where it came from.

    Raises:
        HookError: the file's width is not the model's, or it names a block the model lacks.
    """
    n_layers, d = model.cfg.n_layers, model.cfg.d_model
    if directions.d_model != d:
        raise HookError(f"control vector {directions.source!r} has d_model {directions.d_model} but the model has "
                        f"d_model {d}; use a vector made for this model's width")
    info = model_info(model)
    fields = set(EmotionVector.__dataclass_fields__) - {"vector"}
    out = []
    for b, vec in directions.directions.items():
        prov = directions.by_block.get(b)
        if prov is not None:
            hook_of_block(b, n_layers, hook_kind="resid_post")  # the block exists in this model
            out.append(EmotionVector(vector=vec, **{k: v for k, v in prov.items() if k in fields}))
            continue
        hook = hook_of_block(b, n_layers, hook_kind=hook_kind)
        layer = parse_hook(hook)[0]
        out.append(EmotionVector(
            emotion=emotion or Path(directions.source).stem, vector=vec, hook=hook, layer=layer, method=method,
            contrast=contrast, model_name=info.name, model_hash=info.source_hash, dataset_hash="unknown",
            extra={"imported_from": directions.source, "format": fmt, "block": b, "model_hint": directions.model_hint,
                   "note": "foreign file without emotion-circuits provenance: method and contrast are as given on import"},
        ))
    return out
