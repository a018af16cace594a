"""OV/QK roles as one analysis: the evidence of :func:`circuits.ov_qk.ovqk_evidence` for chosen heads, their
candidate roles (:func:`circuits.roles.assign_roles`, when a screening is given) and the headline.

:func:`ovqk_analysis` is the one entry point; the ``ovqk`` command and the study's ``ovqk`` phase both save
its :class:`OvQkReport` (``results.json``: heads, composition edges, config and roles), so they write the same file.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from circuits.head_screening import ScreeningResult
from circuits.heads import Head
from circuits.ov_qk import OVQKResult, ovqk_evidence
from circuits.roles import HeadRole, assign_roles
from interp.attributes import reference_label
from interp.errors import ConfigError
from interp.report_types import AnalysisReport, Headline, Table


def vector_layers(heads: Sequence[Head]) -> list[int]:
    """The layers whose ``resid_post`` emotion vectors :func:`ovqk_analysis` needs for ``heads`` (sorted)."""
    return sorted({l for l, _ in heads})


@dataclass(frozen=True)
class OvQkReport(AnalysisReport):
    """OV/QK evidence and roles of ``evidence.heads``; the headline is each head's OV write along ``emotion``'s vector.

    ``top``: how many top screened heads of ``emotion`` were chosen (None: the heads were given).
    """

    emotion: str
    evidence: OVQKResult
    roles: list[HeadRole]
    top: int | None = None

    def results(self) -> dict:
        return {"emotion": self.emotion, **self.evidence.to_dict(), "roles": [r.to_dict() for r in self.roles]}

    def headline(self) -> list[Headline]:
        out, e = [], self.emotion
        for rank, h in enumerate(self.evidence.heads, 1):
            est = h.ov_projection.get(e)
            if est is not None:
                out.append(Headline.of(f"{e} head #{rank}: OV write along the emotion vector (emotion − neutral)", est,
                                       baseline=f"random-direction |projection| {h.random_projection:.3f}",
                                       note=f"{h.name}; {h.lexicon_hits_top50.get(e, 0)} {e} tokens in top-50 promoted "
                                            f"(chance {h.lexicon_chance_top50.get(e, 0):.3f})"))
        return out

    def tables(self) -> list[Table]:
        return [Table("candidate roles", ["head", "roles", "evidence"],
                      [[r.name, ", ".join(r.roles) or "—", "; ".join(r.evidence[:3])] for r in self.roles]),
                Table("composition edges (score; rank p among other earlier heads)", ["from", "to", "Q", "K", "V"],
                      [[c["from"], c["to"], *[f"{c[k]:.3f} (p {c[f'{k}_p']:.3f})" for k in "qkv"]] for c in self.evidence.composition]),
                Table("top promoted tokens (OV → unembedding)", ["head", "tokens"],
                      [[h.name, " ".join(h.promoted_tokens[:10])] for h in self.evidence.heads])]

    def text(self) -> str:
        chosen = (f"Top {self.top} {self.emotion} heads from screening." if self.top is not None
                  else f"Heads {', '.join(h.name for h in self.evidence.heads)} (given).")
        return (f"{chosen} Each Q/K/V composition edge is ranked against the compositions of every other earlier-layer head "
                f"into the same later head (rank p in the edges table); 'aggregate' needs rank p ≤ 0.05 with a pick-up head.")


def ovqk_analysis(model, dataset, heads: Sequence[Head], vectors: dict[int, dict], *, emotion: str,
                  screening: ScreeningResult | None = None, top: int | None = None, top_k: int = 15, batch_size: int = 32,
                  seed: int = 0) -> OvQkReport:
    """OV/QK evidence for ``heads`` on ``dataset`` and, with ``screening``, their candidate roles.

    Args:
        vectors: ``{layer: {emotion: EmotionVector at resid_post(layer)}}`` for every layer of :func:`vector_layers`.
        emotion: the emotion the headline reports (each head's OV write along its vector, emotion − neutral).
        top: the number of top screened heads ``heads`` came from (for the report's text; None = given by hand).
    """
    ref = reference_label(dataset.records) or "neutral"
    if emotion == ref or emotion not in dataset.emotions:
        raise ConfigError(f"emotion {emotion!r} has no sentences to report on; the dataset has: "
                          f"{', '.join(e for e in dataset.emotions if e != ref)}")
    evidence = ovqk_evidence(model, dataset, heads, vectors, top_k=top_k, batch_size=batch_size, seed=seed)
    roles = assign_roles(screening, evidence) if screening is not None else []
    return OvQkReport(emotion, evidence, roles, top)

