"""The study phases, each declared once: name, report title, prerequisites, config section and function.

Everything else reads this table: :mod:`experiments.study_config` (phase names, order and prerequisite
checks), :mod:`experiments.pipeline` (which function runs a phase, which section keys it) and
:mod:`experiments.report` (section titles). ``run`` is a ``"module:function"`` reference resolved on use,
so importing the registry loads no phase module (nor model code) and makes no import cycle.

Also the one format every phase function returns its headline numbers in (:func:`row`).
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from interp.errors import ConfigError


@dataclass(frozen=True)
class Phase:
    """One study phase.

    Attributes:
        name: the name in ``[study] phases`` and the phase's folder under the run.
        title: the report's heading for the phase.
        prerequisites: phases whose outputs it reads; each comes earlier in :data:`PHASES`.
        section: the :class:`~experiments.study_config.StudyConfig` field with its parameters (hashed
            into its reuse key), or None when it has none.
        run: ``"module:function"`` of its ``(state, out) -> summary`` function.
        default: whether a study without ``[study] phases`` runs it (the phase-10 analyses are opt-in).
    """

    name: str
    title: str
    prerequisites: tuple[str, ...]
    section: str | None
    run: str
    default: bool = True

    def resolve(self) -> Callable:
        """The function ``run`` names (imports its module now)."""
        module, _, attr = self.run.partition(":")
        return getattr(importlib.import_module(module), attr)


PHASES: tuple[Phase, ...] = (
    Phase("dataset", "Phase 1 — emotion sentence sets", (), None, "experiments.phases:phase_dataset"),
    Phase("extract", "Phase 2 — activations", ("dataset",), "extract", "experiments.phases:phase_extract"),
    Phase("vectors", "Phase 3 — emotion vectors", ("extract",), "vectors", "experiments.phases_geometry:phase_vectors"),
    Phase("subspace", "Phase 3.5 — emotion subspaces", ("extract",), "subspace", "experiments.phases_geometry:phase_subspace"),
    Phase("align", "Phase 3.5 — cross-model alignment", ("extract",), "align", "experiments.phases_geometry:phase_align"),
    Phase("sweep", "Phases 4–5 — steering sweep", ("vectors",), "sweep", "experiments.phases_steering:phase_sweep"),
    Phase("screen", "Phase 6 — attention-delta head screening", ("dataset",), "screen", "experiments.phases_circuits:phase_screen"),
    Phase("ablate", "Phase 6 — head ablation", ("screen",), "ablate", "experiments.phases_causal:phase_ablate"),
    Phase("patch_heads", "Phase 7 — head patching", ("screen",), "patch_heads", "experiments.phases_causal:phase_patch_heads"),
    Phase("ovqk", "Phase 9 — OV/QK roles", ("screen", "vectors"), "ovqk", "experiments.phases_circuits:phase_ovqk"),
    Phase("interference", "Phase 10 — attribute interference matrix", (), "interference", "experiments.phases_attributes:phase_interference",
          default=False),
    Phase("crosslingual", "Phase 10 — English and Japanese in one model", ("extract",), "crosslingual",
          "experiments.phases_attributes:phase_crosslingual", default=False),
)
"""Every phase, in execution order (master plan phases 1, 2, 3, 3.5, 3.5, 4–5, 6, 6, 7, 9, 10, 10)."""

_BY_NAME = {p.name: p for p in PHASES}


def names() -> tuple[str, ...]:
    """Phase names in execution order."""
    return tuple(_BY_NAME)


def default_names() -> tuple[str, ...]:
    """The phases a study without ``[study] phases`` runs, in execution order."""
    return tuple(p.name for p in PHASES if p.default)


def phase(name: str) -> Phase:
    """The phase called ``name``; a ConfigError listing the phases if there is none."""
    if name not in _BY_NAME:
        raise ConfigError(f"unknown phase {name!r}; phases: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def row(name: str, value, lo=None, hi=None, baseline=None, note=None, p=None) -> dict:
    """One headline number with its CI (``lo``/``hi``) or ``p``, its baseline and a note, as the report shows it."""
    return {"name": name, "value": value, "lo": lo, "hi": hi, "baseline": baseline, "note": note, "p": p}
