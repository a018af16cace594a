"""Emotion direction vectors from stored activations, with provenance; save/load as safetensors + JSON.

Methods (where in the sentence activations are read):

* ``sentence_end`` — the last real token of each sentence.
* ``token`` — the mean over the emotion-word token span; neutral sentences (no span)
  contribute their mean over all real tokens after BOS (the old "all neutral tokens"
  reference: it compares unlike positions, so a shared "content word minus average
  token" offset enters every emotion's vector and inflates cross-emotion cosines).
* ``token_matched`` — the emotion-word tokens *minus neutral tokens at the same relative
  position* (position ``first + round(ρ·(end − first))`` of each neutral sentence, ρ the
  span token's relative position in its own sentence); where ``pairs`` names a matched
  neutral counterpart (records' ``pair_id``), minus that counterpart's tokens at those
  positions. Rows are differences; neutral sentences get the same difference for the span
  positions of an emotion sentence (cycled) against the other neutrals, so their rows
  centre on 0 and serve as the contrast and the null. See :func:`matched_token_rows`.

Contrasts: the reference label (``neutral`` for emotion; the attribute registry's reference label,
:mod:`interp.attributes`, for other attributes: emotion mean − reference mean) and ``others`` (emotion mean −
mean of the other non-reference labels' means). "Neutral" above means the reference label: every function takes
``reference`` (default ``"neutral"``).
"""

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from jaxtyping import Float
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from interp.activations import read_hook
from interp.errors import DatasetError, EmotionCircuitsWarning, HookError, StoreError
from interp.hook_names import parse_hook, validate_hook
from interp.io import atomic_write_json, atomic_write_with
from interp.models import model_info

TOKEN_METHODS = ("token", "token_matched")


POSITION_RULES = {
    "sentence_end": "last real token",
    "token": "mean over emotion-word tokens; neutral: mean over real tokens after BOS",
    "token_matched": "mean over emotion-word tokens minus neutral tokens at the same relative positions "
                     "(the matched counterpart's where pair_id names one)",
}


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
        d["position_rule"] = POSITION_RULES[self.method]
        return d

    def check_compatible(self, model, hook: str | None = None, *, allow_other_model: bool = False) -> None:
        """Raise unless this vector fits ``model`` (same d_model, a hook the model has) and, if given, ``hook``.

        The vector's provenance must also name ``model`` (same name and weight hash): a model of the same
        width is not enough. ``allow_other_model`` permits a deliberate transfer, with an
        :class:`interp.errors.EmotionCircuitsWarning`.
        """
        d = model.cfg.d_model
        if d != self.d_model:
            raise HookError(f"emotion vector {self.emotion!r} has d_model {self.d_model} (from {self.model_name}) but the model has d_model {d}; compute vectors on this model")
        validate_hook(hook or self.hook, model.hook_dict.keys(), model.cfg.n_layers)
        info = model_info(model)
        if (self.model_name, self.model_hash) != (info.name, info.source_hash):
            what = (f"emotion vector {self.emotion!r} was computed on {self.model_name!r} (weights {str(self.model_hash)[:12]}), "
                    f"not on {info.name!r} (weights {str(info.source_hash)[:12]})")
            if not allow_other_model:
                raise HookError(f"{what}; compute vectors on this model, or pass --allow-other-model to transfer them deliberately")
            warnings.warn(f"{what}; using them anyway (--allow-other-model)", EmotionCircuitsWarning, stacklevel=2)
        if hook is not None and hook != self.hook:
            raise HookError(f"emotion vector {self.emotion!r} was computed at {self.hook!r}, not {hook!r}; recompute it at that hook or pass --allow-hook-mismatch")


def _sentence_end_rows(store, hook: str, pairs: dict[str, str] | None, reference: str) -> Float[Tensor, "n d_model"]:
    return store.at_positions(hook, "end")


def _token_rows(store, hook: str, pairs: dict[str, str] | None, reference: str) -> Float[Tensor, "n d_model"]:
    first = 1 if _has_bos(store) else 0
    positions = [sp if sp else list(range(min(first, e), e + 1)) for sp, e in zip(store.span_positions, store.end_positions.tolist())]
    return _mean_at(store, hook, positions)


def _token_matched_rows(store, hook: str, pairs: dict[str, str] | None, reference: str) -> Float[Tensor, "n d_model"]:
    return matched_token_rows(store.load(hook), store.labels, store.span_positions, store.end_positions.tolist(),
                              first=1 if _has_bos(store) else 0, ids=store.ids, pairs=pairs, reference=reference)


ROW_METHODS: dict[str, Callable[..., Tensor]] = {
    "sentence_end": _sentence_end_rows, "token": _token_rows, "token_matched": _token_matched_rows}
"""``{method: reader(store, hook, pairs, reference) -> [n, d_model]}``: where each method reads one row per sentence (module
docstring). Its keys are the allowed ``method`` values (:data:`METHODS`)."""
METHODS = tuple(ROW_METHODS)


def reference_rows(store, hook: str, method: str, *, pairs: dict[str, str] | None = None,
                   reference: str = "neutral") -> Float[Tensor, "n d_model"]:
    """One activation (``token_matched``: one position-matched difference) per sentence for ``method`` (module docstring).

    ``pairs`` maps an emotion sentence's id to its matched reference counterpart's id (:func:`pair_map`); only
    ``token_matched`` uses it and ``reference`` (the label the others are contrasted with).
    """
    if method not in ROW_METHODS:
        raise StoreError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return ROW_METHODS[method](store, hook, pairs, reference)


def _relative_positions(span: list[int], end: int, first: int) -> list[float]:
    return [(p - first) / max(end - first, 1) for p in span]


def _at_relative(rel: list[float], end: int, first: int) -> list[int]:
    return [min(end, max(first, first + round(r * (end - first)))) for r in rel]


def matched_token_rows(acts: Float[Tensor, "n pos d_model"], labels: list[str], spans: list[list[int]], ends: list[int], *,
                       first: int = 1, ids: list[str] | None = None, pairs: dict[str, str] | None = None,
                       reference: str = "neutral") -> Float[Tensor, "n d_model"]:
    """Position-matched token differences, one row per sentence.

    Emotion sentence i (span positions S_i, last real token e_i): ``mean_{p∈S_i} x_i[p] − ref_i`` where ``ref_i`` is
    the mean over neutral sentences j of ``mean_{p∈S_i} x_j[m_j(p)]``, ``m_j`` mapping p to the same relative
    position in j (or, when ``pairs[ids[i]]`` names a neutral sentence, that sentence alone). Neutral sentence j:
    the same difference at the span positions of emotion sentence ``j mod n_emotion`` against the other neutrals.
    An emotion sentence without a span uses its last real token.

    Args:
        acts: activations, right-padded, ``[n, pos, d_model]``.
        labels, spans, ends: per sentence (``spans`` are token positions).
        first: first real token (1 after a BOS token).
        ids, pairs: sentence ids and ``{emotion id: matched neutral id}``.
        reference: the label playing "neutral" (the attribute's reference label).
    """
    acts = torch.as_tensor(acts).float()
    lab = list(labels)
    neu = [i for i, x in enumerate(lab) if x == reference]
    emo = [i for i, x in enumerate(lab) if x != reference]
    if len(neu) < 2:
        raise DatasetError(f"position-matched token vectors need at least 2 {reference} sentences, got {len(neu)}")
    if not emo:
        raise DatasetError(f"position-matched token vectors need at least one sentence labelled other than {reference!r}")
    pos_of = {i: (spans[i] or [ends[i]]) for i in emo}
    rel_of = {i: _relative_positions(pos_of[i], ends[i], first) for i in emo}
    neu_t = torch.tensor(neu)
    id_index = {x: i for i, x in enumerate(ids)} if ids is not None else {}

    def neutral_at(rel: list[float]) -> Float[Tensor, "m d_model"]:
        """Each neutral sentence's mean activation at the relative positions ``rel``: [n_neutral, d]."""
        idx = torch.tensor([_at_relative(rel, ends[j], first) for j in neu])  # [n_neu, |rel|]
        return acts[neu_t[:, None], idx].mean(1)

    out = torch.zeros(len(lab), acts.shape[-1])
    for i in emo:
        own = acts[i, pos_of[i]].mean(0)
        partner = id_index.get((pairs or {}).get(ids[i])) if ids is not None else None
        if partner is not None and lab[partner] == reference:
            ref = acts[partner, _at_relative(rel_of[i], ends[partner], first)].mean(0)
        else:
            ref = neutral_at(rel_of[i]).mean(0)
        out[i] = own - ref
    for n_j, j in enumerate(neu):
        at = neutral_at(rel_of[emo[n_j % len(emo)]])
        out[j] = at[n_j] - (at.sum(0) - at[n_j]) / (len(neu) - 1)
    return out


def pair_map(records, *, reference: str = "neutral") -> dict[str, str]:
    """``{emotion sentence id: matched neutral id}`` from records' optional ``pair_id`` (empty when absent).

    A neutral (``reference``) record's ``pair_id`` names its emotion sentence's id, or both records share one
    ``pair_id``; where each labelled record names its reference anchor (``to_reference`` attribute sets), the
    labelled record maps to that anchor.
    """
    recs = list(records)
    by_id = {r.id: r for r in recs}
    out: dict[str, str] = {}
    shared: dict[str, dict[str, str]] = {}
    for r in recs:
        pid = getattr(r, "pair_id", None)
        if not pid:
            continue
        if r.emotion == reference and pid in by_id and by_id[pid].emotion != reference:
            out[pid] = r.id
        elif r.emotion != reference and pid in by_id and by_id[pid].emotion == reference:
            out.setdefault(r.id, pid)
        else:
            shared.setdefault(pid, {})["neutral" if r.emotion == reference else "emotion"] = r.id
    for g in shared.values():
        if "neutral" in g and "emotion" in g:
            out.setdefault(g["emotion"], g["neutral"])
    return out


def _has_bos(store) -> bool:
    return bool(store.manifest.get("prepend_bos", True))


def _mean_at(store, hook: str, positions: list[list[int]]) -> Float[Tensor, "n d_model"]:
    rows = []
    for s in store.manifest["shards"]:
        with safe_open(str(store.path / s["file"]), framework="pt") as f:
            t = read_hook(f, hook).float()
        for j, i in enumerate(range(s["start"], s["stop"])):
            rows.append(t[j, positions[i]].mean(0))
    return torch.stack(rows)


def _reference_mean(acts: Float[Tensor, "n d_model"], labels: list[str], emotion: str, emotions: list[str],
                    reference: str) -> Float[Tensor, " d_model"]:
    ref = [i for i, x in enumerate(labels) if x == reference]
    if len(ref) < 2:
        raise DatasetError(f"contrast {reference!r} needs at least 2 {reference} sentences")
    return acts[ref].mean(0)


def _others_reference(acts: Float[Tensor, "n d_model"], labels: list[str], emotion: str, emotions: list[str],
                      reference: str) -> Float[Tensor, " d_model"]:
    others = [e for e in emotions if e not in (emotion, reference)]
    if not others:
        raise DatasetError(f"contrast 'others' needs another label besides {emotion!r} and the reference {reference!r}")
    return torch.stack([acts[[i for i, x in enumerate(labels) if x == e]].mean(0) for e in others]).mean(0)


CONTRAST_REFERENCES: dict[str, Callable[..., Tensor]] = {"reference": _reference_mean, "others": _others_reference}
"""``{mode: reference(acts, labels, emotion, emotions, reference) -> [d_model]}``: the mean an emotion's mean is
contrasted with (module docstring). A ``contrast`` value names the mode: the reference label itself, or ``others``."""


def contrasts_for(reference: str) -> tuple[str, str]:
    """The allowed ``contrast`` values when ``reference`` is the reference label: itself and ``others``."""
    return (reference, "others")


CONTRASTS = contrasts_for("neutral")
"""The contrasts of the emotion attribute (reference label ``neutral``); other attributes: :func:`contrasts_for`."""


def contrast_mode(contrast: str, reference: str = "neutral") -> str:
    """The :data:`CONTRAST_REFERENCES` key of ``contrast``; :class:`DatasetError` naming the allowed values otherwise."""
    if contrast == "others" and reference != "others":
        return "others"
    if contrast == reference:
        return "reference"
    raise DatasetError(f"unknown contrast {contrast!r}; choose one of {', '.join(contrasts_for(reference))} "
                       f"(the reference label {reference!r} or the other labels' means)")


def mean_difference(acts: Float[Tensor, "n d_model"], labels: list[str], emotion: str, contrast: str,
                    emotions: list[str], *, reference: str = "neutral") -> Float[Tensor, " d_model"]:
    """Mean of ``emotion`` rows minus the contrast's reference mean."""
    lab = list(labels)
    idx = [i for i, x in enumerate(lab) if x == emotion]
    if len(idx) < 2:
        raise DatasetError(f"emotion {emotion!r} has {len(idx)} sentence(s); at least 2 are needed for a vector")
    return acts[idx].mean(0) - CONTRAST_REFERENCES[contrast_mode(contrast, reference)](acts, lab, emotion, emotions, reference)


def compute_emotion_vectors(store, hook: str, *, method: str = "sentence_end", contrast: str = "neutral",
                            emotions: list[str] | None = None, pairs: dict[str, str] | None = None,
                            indices: list[int] | None = None, reference: str = "neutral") -> dict[str, EmotionVector]:
    """Emotion vectors at ``hook`` from an :class:`~interp.activations.ActivationStore`.

    Args:
        contrast: ``reference`` itself (label mean − reference mean) or ``others``.
        pairs: ``{emotion id: matched neutral id}`` for ``token_matched`` (:func:`pair_map`).
        indices: use only these sentences (e.g. a split's ``state.split_indices("selection")``); default all.
        reference: the reference label (``neutral`` for emotion; :mod:`interp.attributes` for the others).

    Returns:
        ``{emotion: EmotionVector}`` for every non-reference label in the store (or ``emotions``).
    """
    mode = contrast_mode(contrast, reference)
    acts = reference_rows(store, hook, method, pairs=pairs, reference=reference)
    labels = store.labels
    if indices is not None:
        acts, labels = acts[list(indices)], [labels[i] for i in indices]
    present = list(dict.fromkeys(labels))
    targets = emotions or [e for e in present if e != reference]
    settings = store.manifest["settings"]
    layer, _ = parse_hook(hook)
    out = {}
    for emo in targets:
        if emo not in present:
            raise DatasetError(f"unknown emotion {emo!r}; the dataset has: {', '.join(present)}")
        vec = mean_difference(acts, labels, emo, contrast, present, reference=reference)
        n_ref = labels.count(reference) if mode == "reference" else sum(1 for x in labels if x not in (emo, reference))
        out[emo] = EmotionVector(
            emotion=emo, vector=vec, hook=hook, layer=-1 if layer is None else layer, method=method, contrast=contrast,
            model_name=settings["model"], model_hash=settings["model_hash"], dataset_hash=settings["dataset_hash"],
            compat_numerics=bool(settings.get("compat_numerics", True)), n_emotion=labels.count(emo), n_reference=n_ref,
            extra={} if indices is None else {"n_sentences_used": len(labels)},
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


def norm_profile(store, hooks: list[str], *, method: str = "sentence_end", contrast: str = "neutral",
                 reference: str = "neutral") -> dict[str, dict[str, list[float]]]:
    """L1 and L2 norm of every emotion's vector at each hook: ``{emotion: {"l2": [...], "l1": [...]}}`` in ``hooks`` order."""
    out: dict[str, dict[str, list[float]]] = {}
    for h in hooks:
        for e, v in compute_emotion_vectors(store, h, method=method, contrast=contrast, reference=reference).items():
            d = out.setdefault(e, {"l2": [], "l1": []})
            d["l2"].append(v.norm)
            d["l1"].append(float(v.vector.abs().sum()))
    return out
