"""Any Hugging Face sequence classifier (e.g. a GoEmotions model) as a scorer, for users with the weights.

Nothing here downloads by itself: pass a local directory, or a hub id on a machine that reaches
the hub (with ``HF_HUB_OFFLINE`` unset).
"""

from collections.abc import Sequence

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from interp.errors import ConfigError


class HFClassifierScorer:
    """``<prefix><label>`` = class probability per text (softmax, or sigmoid for multi-label models).

    Args:
        model_name_or_path: local directory or hub id of an ``AutoModelForSequenceClassification``.
        prefix: column prefix (default ``"hf_"``).
        multi_label: sigmoid per label instead of a softmax (GoEmotions-style models); default
            read from the model config's ``problem_type``.
        batch_size: texts per forward pass; device: torch device.
    """

    name = "hf_classifier"

    def __init__(self, model_name_or_path: str | None = None, *, prefix: str = "hf_", multi_label: bool | None = None,
                 batch_size: int = 32, device: str = "cpu", max_length: int = 256) -> None:
        if not model_name_or_path:
            raise ConfigError("hf_classifier needs model_name_or_path= (a local directory or a hub id)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
            self.model = AutoModelForSequenceClassification.from_pretrained(model_name_or_path).to(device).eval()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load classifier {model_name_or_path!r} ({type(exc).__name__}): give a local "
                              "directory, or a hub id with network access") from None
        cfg = self.model.config
        self.labels = [cfg.id2label[i] for i in range(cfg.num_labels)]
        self.multi_label = (cfg.problem_type == "multi_label_classification") if multi_label is None else multi_label
        self.prefix, self.batch_size, self.device, self.max_length = prefix, batch_size, device, max_length
        self.columns = tuple(f"{prefix}{lab}" for lab in self.labels)

    @torch.no_grad()
    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        probs = []
        for a in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(list(texts[a : a + self.batch_size]), padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(self.device)
            logits = self.model(**enc).logits.float()
            probs.append(torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1))
        p = torch.cat(probs) if probs else torch.zeros(0, len(self.labels))
        return {col: p[:, j].tolist() for j, col in enumerate(self.columns)}
