"""A chat session: the encoder sets the state per message, modules answer, ±1 ratings feed back into the conversation.

A rating is recorded in the conversation (the encoder's feedback signals), in the emotional memory (when one
is open) and, when a reward module is attached, as a small online update of it.
"""

from collections.abc import Callable
from pathlib import Path

import torch

from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.encoder import Conversation, EmotionEncoder
from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.reward import best_of_n, response_features
from frozen_llm_modules.state import EmotionalState, ModuleError

QUIT = {"quit", "exit"}
RATINGS = {"+1", "-1"}


class ChatSession:
    """One conversation with the modules loaded by :func:`~frozen_llm_modules.persistence.load_modules`.

    ``state`` fixes the state (default: the encoder sets it each message); ``memory`` is a SQLite file (created if
    missing); ``best_of`` > 1 reranks that many samples with the reward module. ``transcript`` holds every turn:
    ``{"user", "state", "assistant"}`` or ``{"feedback"}``. Use as a context manager (closes the memory).
    """

    def __init__(self, model, modules: dict, *, state: EmotionalState | None = None, memory: str | Path | None = None,
                 best_of: int = 1, max_new_tokens: int = 32, safety_bias: bool = True, seed: int = 0):
        mods = dict(modules)
        self.reward = mods.pop("reward", None)
        self.encoder = mods.pop("encoder", None) or EmotionEncoder()
        if best_of > 1 and self.reward is None:
            raise ModuleError("--best-of > 1 needs a reward module; add --modules DIR of a 'train-module --kind reward' run")
        self.model, self.fixed, self.best_of, self.seed = model, state, best_of, seed
        self.max_new_tokens, self.safety_bias = max_new_tokens, safety_bias
        self.llm = EmotionalLLM(model, reward=self.reward, **mods)
        self.memory = EmotionalMemory(memory, model_name=model.ec_info.name) if memory else None
        self.module_names = sorted(mods) + (["reward"] if self.reward is not None else [])
        self.conversation = Conversation()
        self.transcript: list[dict] = []
        self._last: dict | None = None

    def __enter__(self) -> "ChatSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.memory is not None:
            self.memory.close()
            self.memory = None

    def reply(self, text: str, *, on_state: Callable[[EmotionalState], None] | None = None) -> str:
        """Set the state for ``text`` (``on_state`` sees it before generation) and answer it."""
        sig = self.encoder.signals(self.model, text, self.conversation, self.memory)
        st = self.fixed or self.encoder.encode(sig)
        self.llm.set_state(st)
        if on_state:
            on_state(st)
        if self.reward is not None and self.best_of > 1:
            answer = best_of_n(self.llm, self.reward, text, n=self.best_of, max_new_tokens=self.max_new_tokens, seed=self.seed)[0]
        else:
            answer = self.llm.generate([text], max_new_tokens=self.max_new_tokens, safety_bias=self.safety_bias)[0]
        self._last = {"text": text, "emb": sig["_embedding"], "state": st, "answer": answer}
        self.transcript.append({"user": text, "state": st.to_dict(), "assistant": answer})
        return answer

    def rate(self, feedback: int) -> bool:
        """Record ±1 for the last answer; False when there is nothing (left) to rate."""
        last = self._last
        if last is None:
            return False
        self.conversation.record(last["emb"], feedback=feedback)
        if self.memory is not None:
            self.memory.add(last["text"], last["emb"], last["state"], float(feedback))
        if self.reward is not None:
            f = response_features(self.llm, [last["text"]], [last["answer"]])
            self.reward.update(f, last["state"].to_tensor()[None], torch.tensor([1.0 if feedback > 0 else 0.0]), steps=5)
        self.transcript.append({"feedback": feedback})
        self._last = None
        return True

    def handle(self, line: str, echo: Callable[[str], None]) -> bool:
        """One input line: a message, ``+1``/``-1`` (rate the last answer) or ``quit``/``exit``; False ends the chat."""
        line = line.strip()
        if line in QUIT:
            return False
        if line in RATINGS:
            echo(f"feedback {line} recorded" if self.rate(int(line)) else "feedback: nothing to rate yet")
        elif line:
            echo(f"assistant: {self.reply(line, on_state=lambda st: echo(f'state: {st}'))}")
        return True
