"""Module 4: persistent emotional memory of (context embedding → emotional outcome) episodes in SQLite.

SQLite in WAL mode with ``synchronous=FULL``: each :meth:`EmotionalMemory.add` is one
transaction, so a committed episode survives a process crash and a crash in the middle of
a write rolls back only the uncommitted episode.

Recall that acts (:meth:`EmotionalMemory.recall`): the episodes whose *text* is nearest to the new
context give their stored states and rewards to the emotion encoder (its ``recalled_*`` signals), in
chat and in the online loop. Nearness is the Jaccard overlap of content words, not the embeddings'
cosine: mean residual embeddings are anisotropic (on smollm2-135m unrelated queries have cosine
0.87–0.91 and paraphrases 0.92–0.95), so a cosine threshold would not separate "the same situation
again" from "any query"; content-word overlap does, and is model independent.
"""

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frozen_llm_modules.state import EMOTIONS, EmotionalState, ModuleError

SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    text TEXT NOT NULL,
    dim INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    state TEXT NOT NULL,
    reward REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


#: Function words ignored by :func:`text_similarity`.
STOPWORDS = frozenset("""a an the and or but if then so to of in on at for with from by about as is are was were be been being
am do does did doing have has had i me my mine you your yours he him his she her it its we us our they them their this that
these those what which who whom how why when where can could will would should shall may might must not no yes just very
still again too also any some all each more most other there here up down out over under into than once only own same""".split())
_WORDS = re.compile(r"[a-z0-9]+")


def content_words(text: str) -> frozenset[str]:
    """Lower-cased words minus :data:`STOPWORDS`, with a plural/verb ``s`` stripped (``prints`` ~ ``print``)."""
    ws = (w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in _WORDS.findall(text.lower()))
    return frozenset(w for w in ws if w not in STOPWORDS and len(w) > 1)


def text_similarity(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' content words, in [0, 1] (0 when either has none)."""
    ca, cb = content_words(a), content_words(b)
    return len(ca & cb) / len(ca | cb) if ca and cb else 0.0


@dataclass(frozen=True)
class Recall:
    """What the memory recalls for a context: confidence-scaled state of the nearest episodes.

    ``state``: similarity-weighted mean stored state of the recalled episodes, times the best similarity
    (an exact repeat recalls the stored state, a loose match a fraction of it); ``negative``: the same
    weighting of ``reward < 0``; ``similarity``: the best match's; ``episode_ids``: the episodes used.
    """

    state: EmotionalState
    negative: float
    similarity: float
    episode_ids: tuple[int, ...]

    @classmethod
    def nothing(cls) -> "Recall":
        return cls(EmotionalState.neutral(), 0.0, 0.0, ())


@dataclass(frozen=True)
class Episode:
    id: int
    text: str
    embedding: np.ndarray
    state: EmotionalState
    reward: float
    similarity: float = float("nan")


class EmotionalMemory:
    """Episodes stored in an SQLite file; retrieval by cosine similarity of context embeddings."""

    def __init__(self, path: str | Path, *, model_name: str | None = None):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(SCHEMA)
            ok = self.conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise ModuleError(f"emotional memory {str(self.path)!r} is not a usable SQLite database ({exc}); "
                              "move it away to start a new memory") from None
        if ok != "ok":
            raise ModuleError(f"emotional memory {str(self.path)!r} failed its integrity check: {ok}")
        if model_name is not None:
            stored = self._meta("model_name")
            if stored is None:
                self._set_meta("model_name", model_name)
            elif stored != model_name:
                raise ModuleError(f"memory {str(self.path)!r} holds embeddings of {stored!r}, not {model_name!r}; "
                                  "use a separate memory file per model")

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def transaction(self):
        """``with memory.transaction():`` — BEGIN IMMEDIATE … COMMIT, ROLLBACK on error."""
        conn = self.conn

        class _Tx:
            def __enter__(self_):
                conn.execute("BEGIN IMMEDIATE")

            def __exit__(self_, et, ev, tb):
                conn.execute("ROLLBACK" if et else "COMMIT")
                return False

        return _Tx()

    def add(self, text: str, embedding, state: EmotionalState, reward: float) -> int:
        """Store one episode in its own transaction; returns its id."""
        e = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if not np.isfinite(e).all() or not np.isfinite(reward):
            raise ModuleError("episode embedding and reward must be finite numbers")
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO episodes(created, text, dim, embedding, state, reward) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), text, int(e.size), e.tobytes(), json.dumps(state.to_dict()), float(reward)))
        return int(cur.lastrowid)

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0])

    def episodes(self) -> list[Episode]:
        rows = self.conn.execute("SELECT id, text, embedding, state, reward FROM episodes ORDER BY id").fetchall()
        return [Episode(r[0], r[1], np.frombuffer(r[2], dtype=np.float32), EmotionalState.from_dict(json.loads(r[3])), r[4])
                for r in rows]

    def retrieve(self, embedding, k: int = 5) -> list[Episode]:
        """The ``k`` most cosine-similar episodes, best first."""
        eps = self.episodes()
        if not eps:
            return []
        q = np.asarray(embedding, dtype=np.float32).reshape(-1)
        mat = np.stack([e.embedding for e in eps])
        if mat.shape[1] != q.size:
            raise ModuleError(f"query embedding has {q.size} dims but the memory stores {mat.shape[1]}")
        sims = mat @ q / (np.linalg.norm(mat, axis=1) * np.linalg.norm(q) + 1e-12)
        order = np.argsort(-sims)[:k]
        return [Episode(eps[i].id, eps[i].text, eps[i].embedding, eps[i].state, eps[i].reward, float(sims[i])) for i in order]

    def novelty(self, embedding) -> float:
        """1 − max cosine similarity to any stored episode (1.0 for an empty memory), clipped to [0, 1]."""
        hits = self.retrieve(embedding, k=1)
        return 1.0 if not hits else float(np.clip(1.0 - hits[0].similarity, 0.0, 1.0))

    def recall_state(self, embedding, k: int = 5) -> EmotionalState:
        """Similarity-weighted mean state of the ``k`` nearest episodes (neutral if none are similar)."""
        hits = [h for h in self.retrieve(embedding, k) if h.similarity > 0]
        if not hits:
            return EmotionalState.neutral()
        w = np.array([h.similarity for h in hits])
        vals = np.array([[getattr(h.state, e) for e in EMOTIONS] for h in hits])
        mean = np.clip((w[:, None] * vals).sum(0) / w.sum(), 0, 1)
        return EmotionalState(**{e: float(v) for e, v in zip(EMOTIONS, mean)})

    def recall(self, text: str, *, k: int = 3, min_similarity: float = 0.2) -> Recall:
        """The :class:`Recall` of the ``k`` stored episodes whose text is nearest to ``text`` (Jaccard of content
        words ≥ ``min_similarity``); :meth:`Recall.nothing` when none qualifies."""
        eps = self.episodes()
        scored = sorted(((text_similarity(text, e.text), e) for e in eps), key=lambda x: -x[0])
        hits = [(sim, e) for sim, e in scored[:k] if sim >= min_similarity]
        if not hits:
            return Recall.nothing()
        w = np.array([sim for sim, _ in hits])
        best = float(w.max())
        vals = np.array([[getattr(e.state, em) for em in EMOTIONS] for _, e in hits])
        mean = np.clip((w[:, None] * vals).sum(0) / w.sum() * best, 0, 1)
        neg = float((w * np.array([e.reward < 0 for _, e in hits])).sum() / w.sum() * best)
        return Recall(EmotionalState(**{em: float(v) for em, v in zip(EMOTIONS, mean)}), neg, best,
                      tuple(e.id for _, e in hits))

    def close(self) -> None:
        self.conn.close()
