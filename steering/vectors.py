"""Emotion direction vectors from stored activations, with provenance; save/load as safetensors + JSON.

Methods (where in the sentence activations are read):

* ``sentence_end`` — the last real token of each sentence.
* ``token`` — the mean over the emotion-word token span; neutral sentences (no span)
  contribute their mean over all real tokens after BOS, the closest "comparable
  position" a sentence without an emotion word has.

Contrasts: ``neutral`` (emotion mean − neutral mean) and ``others`` (emotion mean −
mean of the other non-neutral emotions' means).
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from jaxtyping import Float
from safetensors.torch import load_file, save_file
from torch import Tensor

from interp.errors import DatasetError, HookError, StoreError
from interp.io import atomic_write_json, atomic_write_with

METHODS = ("sentence_end", "token")
CONTRASTS = ("neutral", "others")


@dataclass(frozen=True)
class EmotionVector:
    """One emotion direction and where it came from."""

    emotion: str
    vector: Float[Tensor, "d_model"]
    hook: str
    layer: int
    method: str
    contrast: str
    model_name: str
    model_hash: str
    dataset_hash: str
    compat_numerics: bool = True
    n_emotion: int = 0
    n_reference: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def d_model(self) -> int:
        return int(self.vector.shape[0])

    @property
    def norm(self) -> float:
        return float(self.vector.norm())

    def unit(self) -> Float[Tensor, "d_model"]:
        return self.vector / self.vector.norm().clamp_min(1e-12)

    def provenance(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "vector"}
        d["d_model"] = self.d_model
        d["norm"] = self.norm
        d["position_rule"] = {"sentence_end": "last real token", "token": "mean over emotion-word tokens; neutral: mean over real tokens after BOS"}[self.method]
        return d

    def check_compatible(self, model, hook: str | None = None) -> None:
        """Raise unless this vector fits ``model`` (same d_model, a hook the model has) and, if given, ``hook``."""
        from interp.hook_names import validate_hook

        d = model.cfg.d_model
        if d != self.d_model:
            raise HookError(f"emotion vector {self.emotion!r} has d_model {self.d_model} (from {self.model_name}) but the model has d_model {d}; compute vectors on this model")
        validate_hook(hook or self.hook, model.hook_dict.keys(), model.cfg.n_layers)
        if hook is not None and hook != self.hook:
            raise HookError(f"emotion vector {self.emotion!r} was computed at {self.hook!r}, not {hook!r}; recompute it at that hook or pass --allow-hook-mismatch")


def reference_rows(store, hook: str, method: str) -> Float[Tensor, "n d_model"]:
    """One activation per sentence for ``method`` (see module docstring)."""
    if method == "sentence_end":
        return store.at_positions(hook, "end")
    if method == "token":
        spans = store.span_positions
        ends = store.end_positions.tolist()
        first = 1 if _has_bos(store) else 0
        positions = [sp if sp else list(range(min(first, e), e + 1)) for sp, e in zip(spans, ends)]
        return _mean_at(store, hook, positions)
    raise StoreError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _has_bos(store) -> bool:
    return bool(store.manifest.get("prepend_bos", True))


def _mean_at(store, hook: str, positions: list[list[int]]) -> Float[Tensor, "n d_model"]:
    from safetensors import safe_open

    from interp.activations import read_hook

    rows = []
    for s in store.manifest["shards"]:
        with safe_open(str(store.path / s["file"]), framework="pt") as f:
            t = read_hook(f, hook).float()
        for j, i in enumerate(range(s["start"], s["stop"])):
            rows.append(t[j, positions[i]].mean(0))
    return torch.stack(rows)


def mean_difference(acts: Float[Tensor, "n d_model"], labels: list[str], emotion: str, contrast: str,
                    emotions: list[str]) -> Float[Tensor, "d_model"]:
    """Mean of ``emotion`` rows minus the contrast's reference mean."""
    lab = list(labels)
    idx = [i for i, x in enumerate(lab) if x == emotion]
    if len(idx) < 2:
        raise DatasetError(f"emotion {emotion!r} has {len(idx)} sentence(s); at least 2 are needed for a vector")
    mu = acts[idx].mean(0)
    if contrast == "neutral":
        ref = [i for i, x in enumerate(lab) if x == "neutral"]
        if len(ref) < 2:
            raise DatasetError("contrast 'neutral' needs at least 2 neutral sentences")
        return mu - acts[ref].mean(0)
    if contrast == "others":
        others = [e for e in emotions if e not in (emotion, "neutral")]
        if not others:
            raise DatasetError(f"contrast 'others' needs another non-neutral emotion besides {emotion!r}")
        return mu - torch.stack([acts[[i for i, x in enumerate(lab) if x == e]].mean(0) for e in others]).mean(0)
    raise DatasetError(f"unknown contrast {contrast!r}; choose one of {', '.join(CONTRASTS)}")


def compute_emotion_vectors(store, hook: str, *, method: str = "sentence_end", contrast: str = "neutral",
                            emotions: list[str] | None = None) -> dict[str, EmotionVector]:
    """Emotion vectors at ``hook`` from an :class:`~interp.activations.ActivationStore`.

    Returns:
        ``{emotion: EmotionVector}`` for every non-neutral emotion in the store (or ``emotions``).
    """
    from interp.hook_names import parse_hook

    acts = reference_rows(store, hook, method)
    labels = store.labels
    present = list(dict.fromkeys(labels))
    targets = emotions or [e for e in present if e != "neutral"]
    settings = store.manifest["settings"]
    layer, _ = parse_hook(hook)
    out = {}
    for emo in targets:
        if emo not in present:
            raise DatasetError(f"unknown emotion {emo!r}; the dataset has: {', '.join(present)}")
        vec = mean_difference(acts, labels, emo, contrast, present)
        n_ref = labels.count("neutral") if contrast == "neutral" else sum(1 for x in labels if x not in (emo, "neutral"))
        out[emo] = EmotionVector(
            emotion=emo, vector=vec, hook=hook, layer=-1 if layer is None else layer, method=method, contrast=contrast,
            model_name=settings["model"], model_hash=settings["model_hash"], dataset_hash=settings["dataset_hash"],
            compat_numerics=bool(settings.get("compat_numerics", True)), n_emotion=labels.count(emo), n_reference=n_ref,
        )
    return out


def save_vectors(vectors: list[EmotionVector], path: str | Path) -> Path:
    """Save vectors to ``path`` (``.safetensors``) with provenance in ``path.json``."""
    p = Path(path)
    if p.suffix != ".safetensors":
        p = p.with_suffix(".safetensors")
    keys = [f"{v.emotion}|{v.hook}|{v.method}|{v.contrast}" for v in vectors]
    if len(set(keys)) != len(keys):
        raise StoreError("two vectors share emotion, hook, method and contrast; save them to separate files")
    tensors = {k: v.vector.detach().float().contiguous().cpu() for k, v in zip(keys, vectors)}
    atomic_write_with(p, lambda tmp: save_file(tensors, str(tmp)))
    atomic_write_json(p.with_suffix(".json"), {"format": "emotion-circuits/vectors/v1", "vectors": [dict(key=k, **v.provenance()) for k, v in zip(keys, vectors)]})
    return p


def load_vectors(path: str | Path) -> list[EmotionVector]:
    """Load vectors saved by :func:`save_vectors`, provenance included."""
    p = Path(path)
    if p.suffix != ".safetensors":
        p = p.with_suffix(".safetensors")
    meta_path = p.with_suffix(".json")
    if not p.exists() or not meta_path.exists():
        raise StoreError(f"no saved vectors at {str(p)!r} (expected {p.name} and {meta_path.name})")
    try:
        tensors = load_file(str(p))
        meta = json.loads(meta_path.read_text())
    except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt file
        raise StoreError(f"vector file {str(p)!r} is corrupt ({type(exc).__name__}); recompute it") from None
    out = []
    fields = set(EmotionVector.__dataclass_fields__) - {"vector"}
    for entry in meta["vectors"]:
        key = entry["key"]
        if key not in tensors:
            raise StoreError(f"vector file {str(p)!r} lacks tensor {key!r}; recompute it")
        out.append(EmotionVector(vector=tensors[key], **{k: v for k, v in entry.items() if k in fields}))
    return out


def cosine_matrix(vectors: dict[str, EmotionVector]) -> tuple[list[str], Float[Tensor, "e e"]]:
    """Pairwise cosines of a ``{emotion: EmotionVector}`` dict, in its key order."""
    names = list(vectors)
    u = torch.stack([vectors[e].unit() for e in names])
    return names, u @ u.T


def norm_profile(store, hooks: list[str], *, method: str = "sentence_end", contrast: str = "neutral") -> dict[str, dict[str, list[float]]]:
    """L1 and L2 norm of every emotion's vector at each hook: ``{emotion: {"l2": [...], "l1": [...]}}`` in ``hooks`` order."""
    out: dict[str, dict[str, list[float]]] = {}
    for h in hooks:
        for e, v in compute_emotion_vectors(store, h, method=method, contrast=contrast).items():
            d = out.setdefault(e, {"l2": [], "l1": []})
            d["l2"].append(v.norm)
            d["l1"].append(float(v.vector.abs().sum()))
    return out
