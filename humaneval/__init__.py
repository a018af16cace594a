"""Human evaluation kit: blinded offline rating forms (``make``) and their scoring (``score``).

``make``: outputs of several systems for shared prompts → a blinded item set (pairwise A/B, 1–5 naturalness,
best–worst tuples of 4, attention checks), one offline HTML form per rater and a key mapping blinded ids to
systems. ``score``: the key plus the raters' answer files → Bradley–Terry strengths, win rates, naturalness,
best–worst scores (bootstrap CIs), Krippendorff's α, Spearman agreement with automatic scorers, attention checks.
"""

from humaneval.design import Item, ItemSet, Key, build_key, load_key
from humaneval.form import ANSWER_FORMAT, rater_items, render_form, write_forms
from humaneval.inputs import SystemOutput, load_outputs
from humaneval.krippendorff import krippendorff_alpha
from humaneval.ratings import Ratings, load_ratings
from humaneval.report import HumanEvalReport, ScoreConfig
from humaneval.score import score

__all__ = ["ANSWER_FORMAT", "HumanEvalReport", "Item", "ItemSet", "Key", "Ratings", "ScoreConfig", "SystemOutput",
           "build_key", "krippendorff_alpha", "load_key", "load_outputs", "load_ratings", "rater_items", "render_form",
           "score", "write_forms"]
