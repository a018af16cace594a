"""Dialogue mode of the tone agent: the user's emotional state over turns, kept in the emotional memory, sets the reply tone.

Per user message: the emotion encoder's signals (:mod:`frozen_llm_modules.encoder`: feedback over the last turns, what the
emotional memory recalls for similar messages, novelty, entropy) give a state; the message's own words add evidence
(frustration ≥ 2 × its VADER negative share, joy ≥ its positive VADER compound). :func:`tone_for_state` turns the state
into a target: an upset user gets an apologetic reply, a pleased one a warm reply, and anger is never mirrored:

* ``apology = frustration``, ``gratitude = joy · (1 − frustration)``, ``anger = 0``

(restricted to the labels the agent controls). A feedback on the previous reply (±1, e.g. the user's reaction) is stored
with that turn in the memory and the conversation, so a repeated complaint recalls the earlier frustration.
"""

from collections.abc import Callable
from pathlib import Path

from frozen_llm_modules.encoder import Conversation, EmotionEncoder
from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.state import EmotionalState
from interp.evaluators import make_scorer
from steering.tone import DEFAULT_BUDGET, ToneAgent, ToneReply
from steering.tone_target import ToneTarget


def tone_for_state(state: EmotionalState) -> dict[str, float]:
    """Target levels for a user state (module docstring)."""
    return {"apology": state.frustration, "gratitude": state.joy * (1.0 - state.frustration), "anger": 0.0}


class ToneDialogue:
    """A conversation with a :class:`~steering.tone.ToneAgent` whose target follows the user's state.

    Args:
        agent: the tone agent.
        memory: SQLite file of the emotional memory (created if missing; None: no memory).
        encoder: the emotion encoder (default: its documented rule).
        policy: state → target levels (default :func:`tone_for_state`).
        budget: closed-loop drafts per reply.

    ``transcript`` holds per turn ``{"user", "state", "target", "reply"}``. Use as a context manager (closes the memory).
    """

    def __init__(self, agent: ToneAgent, *, memory: str | Path | None = None, encoder: EmotionEncoder | None = None,
                 policy: Callable[[EmotionalState], dict[str, float]] = tone_for_state, budget: int = DEFAULT_BUDGET):
        self.agent, self.policy, self.budget = agent, policy, budget
        self.encoder = encoder or EmotionEncoder()
        self.memory = EmotionalMemory(memory, model_name=agent.model.ec_info.name) if memory is not None else None
        self.conversation = Conversation()
        self.history: list[dict] = []
        self.transcript: list[dict] = []
        self._vader = make_scorer("sentiment")
        self._last: tuple[str, object, EmotionalState] | None = None

    def __enter__(self) -> "ToneDialogue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Store the last turn (no feedback) and close the memory."""
        self._store(0)
        if self.memory is not None:
            self.memory.close()
            self.memory = None

    def _store(self, feedback: int) -> None:
        if self._last is None:
            return
        text, emb, state = self._last
        self.conversation.record(emb, feedback=feedback)
        if self.memory is not None:
            self.memory.add(text, emb, state, float(feedback))
        self._last = None

    def user_state(self, text: str) -> tuple[EmotionalState, object]:
        """(state, query embedding) of a user message: the encoder's state raised by the message's own sentiment."""
        sig = self.encoder.signals(self.agent.model, text, self.conversation, self.memory)
        st = self.encoder.encode(sig)
        v = self._vader.score([text])
        neg, compound = v["vader_neg"][0], v["vader_compound"][0]
        st = EmotionalState(fear=st.fear, curiosity=st.curiosity, frustration=max(st.frustration, min(1.0, 2.0 * neg)),
                            joy=max(st.joy, max(0.0, compound) if neg < 0.2 else 0.0))
        return st, sig["_embedding"]

    def target_for(self, state: EmotionalState) -> ToneTarget:
        levels = {k: float(min(max(v, 0.0), 1.0)) for k, v in self.policy(state).items() if k in self.agent.labels}
        return ToneTarget(levels or {self.agent.labels[0]: 0.0}, name=f"for user state {state}")

    def turn(self, text: str, *, feedback: int = 0) -> ToneReply:
        """Answer ``text``; ``feedback`` (−1, 0, +1) rates the previous reply and is stored with that turn first."""
        self._store(feedback)
        state, emb = self.user_state(text)
        target = self.target_for(state)
        self.history.append({"role": "user", "content": text})
        reply = self.agent.reply(self.history, target, budget=self.budget)
        self.history.append({"role": "assistant", "content": reply.text})
        self._last = (text, emb, state)
        self.transcript.append({"user": text, "state": state.to_dict(), "target": target.to_dict(), "reply": reply.to_dict()})
        return reply
