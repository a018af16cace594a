"""Emotion modules trained behind a frozen LLM, attached as TransformerLens hook functions.

The base model never receives gradients; only the small modules here do:
:class:`EmotionalPrefix`, :class:`GatedEmotionAdapter`, :class:`EmotionSteeringModule`
(state-conditioned generation), :class:`EmotionalMemory` (SQLite episodes) and
:class:`EmotionalRewardModel` (feedback head, best-of-N reranking), wired together by
:class:`EmotionalLLM`.
"""

from frozen_llm_modules.adapter import GatedEmotionAdapter
from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.encoder import EmotionEncoder
from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.prefix import EmotionalPrefix
from frozen_llm_modules.reward import EmotionalRewardModel
from frozen_llm_modules.safety_bias import HEDGE_WORDS, apply_safety_bias
from frozen_llm_modules.state import EMOTIONS, EmotionalState
from frozen_llm_modules.steering_module import EmotionSteeringModule

__all__ = ["EMOTIONS", "HEDGE_WORDS", "EmotionEncoder", "EmotionSteeringModule", "EmotionalLLM", "EmotionalMemory",
           "EmotionalPrefix", "EmotionalRewardModel", "EmotionalState", "GatedEmotionAdapter", "apply_safety_bias"]
