"""Candidate circuit roles with their evidence (phase 9).

* **pick-up**: attends to emotion tokens: screening delta > 0 with Holm p < ``alpha`` (or,
  when the permutation count cannot resolve Holm, a bootstrap CI above 0) for some emotion.
* **aggregate**: a later head whose Q-, K- or V-composition with a pick-up head ranks in the top
  ``alpha`` of the compositions of every other earlier head into it (rank p ≤ ``alpha``).
* **write-out**: OV output aligned with an emotion vector (emotion − neutral projection CI > 0)
  or promoting whole emotion-lexicon words: ≥ 2 among the top-50 promoted whole-word tokens with a
  hypergeometric p < ``alpha`` against the whole-word vocabulary (``circuits.ov_qk``; generic pieces
  such as " I" or " App" never count).
"""

from dataclasses import dataclass

from circuits.circuit_figures import ci_text
from circuits.head_screening import ScreeningResult
from circuits.ov_qk import OVQKResult


@dataclass(frozen=True)
class HeadRole:
    name: str
    roles: list[str]
    evidence: list[str]

    def to_dict(self) -> dict:
        return {"name": self.name, "roles": self.roles, "evidence": self.evidence}


def assign_roles(screen: ScreeningResult, ovqk: OVQKResult, *, alpha: float = 0.05) -> list[HeadRole]:
    """Label every head analysed in ``ovqk`` from screening, composition and OV evidence."""
    roles: dict[str, tuple[list[str], list[str]]] = {}
    pickups = set()
    # the smallest Holm p a permutation test can give is n_heads / (n_perm + 1); only below alpha can Holm decide
    n_perm = screen.config.get("n_perm")
    holm_resolves = bool(n_perm) and screen.delta[0].numel() / (n_perm + 1) < alpha
    for hd in ovqk.heads:
        name = f"L{hd.layer}H{hd.head}"
        r, ev = [], []
        for i, e in enumerate(screen.emotions):
            d, lo, p = (float(t[i, hd.layer, hd.head]) for t in (screen.delta, screen.lo, screen.p_holm))
            if d > 0 and (p < alpha if holm_resolves else lo > 0):
                if "pick-up" not in r:
                    r.append("pick-up")
                ev.append(f"{e}: attention delta {d:.3f} (CI lo {lo:.3f}, Holm p {p:.3g})")
                pickups.add(name)
        for e, est in hd.ov_projection.items():
            if est.lo > 0:
                if "write-out" not in r:
                    r.append("write-out")
                ev.append(f"{e}: OV projection on the emotion vector {ci_text(est)} "
                          f"(random-direction |proj| {hd.random_projection:.3f})")
        for e, n in hd.lexicon_hits_top50.items():
            p = hd.lexicon_p_top50.get(e, 1.0)
            if n >= 2 and n > hd.lexicon_chance_top50[e] and p < alpha:
                if "write-out" not in r:
                    r.append("write-out")
                words = ", ".join(repr(w) for w in hd.lexicon_words_top50.get(e, []))
                ev.append(f"{e}: {n} whole emotion words among the top-50 promoted whole-word tokens ({words}; "
                          f"chance {hd.lexicon_chance_top50[e]:.3f}, hypergeometric p {p:.3g})")
        roles[name] = (r, ev)
    for c in ovqk.composition:
        if c["from"] in pickups and c["to"] in roles:
            for kind in ("q", "k", "v"):
                p = c.get(f"{kind}_p")
                if p is not None and p <= alpha:
                    r, ev = roles[c["to"]]
                    if "aggregate" not in r:
                        r.append("aggregate")
                    ev.append(f"{kind.upper()}-composition with pick-up {c['from']}: {c[kind]:.3f} (other earlier heads into "
                              f"{c['to']}: {c[f'{kind}_null_mean']:.3f} ± {c[f'{kind}_null_sd']:.3f}; rank p {p:.3f}, n={c['n_null']})")
    return [HeadRole(n, r, ev) for n, (r, ev) in roles.items()]
