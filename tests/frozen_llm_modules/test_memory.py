"""Emotional memory: retrieval, persistence across a process restart, and a crash inside a write transaction."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.state import EmotionalState, ModuleError


def test_memory_retrieves_nearest_and_recalls_state(tmp_path):
    mem = EmotionalMemory(tmp_path / "m.db", model_name="tiny")
    mem.add("scary", [1.0, 0.0, 0.0], EmotionalState(fear=0.9), -1.0)
    mem.add("happy", [0.0, 1.0, 0.0], EmotionalState(joy=0.8), 1.0)
    hits = mem.retrieve([0.9, 0.1, 0.0], k=2)
    assert [h.text for h in hits] == ["scary", "happy"] and hits[0].similarity > hits[1].similarity
    assert mem.recall_state([1.0, 0.0, 0.0], k=1).fear == pytest.approx(0.9)
    assert mem.novelty([0.0, 0.0, 1.0]) == pytest.approx(1.0) and mem.novelty([0.0, 2.0, 0.0]) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ModuleError, match="dims"):
        mem.retrieve([1.0, 0.0])
    mem.close()
    with pytest.raises(ModuleError, match="'tiny'"):
        EmotionalMemory(tmp_path / "m.db", model_name="smollm2-135m")


def _child(db, n, crash: bool) -> str:
    return textwrap.dedent(f"""
        import os, sys, time
        from frozen_llm_modules.memory import EmotionalMemory
        from frozen_llm_modules.state import EmotionalState
        mem = EmotionalMemory({str(db)!r})
        for i in range({n}):
            mem.add(f"ep{{i}}", [float(i), 1.0], EmotionalState(fear=0.1), 0.5)
        if {crash}:
            mem.conn.execute("BEGIN IMMEDIATE")
            for j in range(200):
                mem.conn.execute("INSERT INTO episodes(created, text, dim, embedding, state, reward) VALUES (0, 'half', 2, x'00', '{{}}', 0)")
            print("IN_TX", flush=True)
            time.sleep(60)
    """)


def test_memory_survives_restart(tmp_path):
    db = tmp_path / "mem.db"
    subprocess.run([sys.executable, "-c", _child(db, 5, False)], check=True, timeout=120)
    mem = EmotionalMemory(db)
    assert [e.text for e in mem.episodes()] == [f"ep{i}" for i in range(5)]
    np.testing.assert_array_equal(mem.episodes()[3].embedding, np.array([3.0, 1.0], dtype=np.float32))


def test_memory_crash_mid_write_keeps_committed_episodes(tmp_path):
    db = tmp_path / "mem.db"
    proc = subprocess.Popen([sys.executable, "-c", _child(db, 7, True)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "IN_TX"  # child is inside an open write transaction
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    mem = EmotionalMemory(db)  # runs an integrity check on open
    assert len(mem) == 7 and all(e.text.startswith("ep") for e in mem.episodes())
    mem.add("after", [0.0, 1.0], EmotionalState(), 0.0)
    assert len(mem) == 8


def test_memory_rejects_corrupt_file(tmp_path):
    db = tmp_path / "bad.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ModuleError, match="not a usable SQLite"):
        EmotionalMemory(db)


def test_text_similarity_matches_content_words_only():
    from frozen_llm_modules.memory import text_similarity

    assert text_similarity("My printer still won't print.", "The printer won't print again!") > 0.5
    assert text_similarity("My printer still won't print.", "How do I bake a cake?") == 0.0
    assert text_similarity("the and of", "the and of") == 0.0  # function words alone match nothing


def test_recall_returns_confidence_scaled_state_of_nearest_episode(tmp_path):
    mem = EmotionalMemory(tmp_path / "m.db", model_name="tiny")
    assert mem.recall("anything").episode_ids == ()
    mem.add("my printer will not print pages", [1.0, 0.0], EmotionalState(frustration=0.8), -1.0)
    mem.add("bake a chocolate cake", [0.0, 1.0], EmotionalState(joy=1.0), 1.0)
    exact = mem.recall("my printer will not print pages")
    assert exact.state.frustration == pytest.approx(0.8) and exact.state.joy == 0.0 and exact.negative == pytest.approx(1.0)
    loose = mem.recall("printer broken")  # partial overlap: a fraction of the stored state
    assert 0 < loose.state.frustration < 0.8 and loose.similarity < 1
    assert mem.recall("learn to swim").episode_ids == ()


def _frustration_steering(model, scale: float = 30.0):
    import torch

    from frozen_llm_modules import EmotionSteeringModule

    st = EmotionSteeringModule.for_model(model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        v = torch.randn(model.cfg.d_model, generator=g)
        st.vectors[2] = v / v.norm() * scale  # row 2 = frustration
    return st


@pytest.mark.real
def test_stored_frustration_episode_changes_next_state_and_output(real_model, tmp_path):
    """Memory that acts: the same query, once with a stored frustration episode for it and once with the same
    episode stored as calm (control: identical text, embedding and novelty), gives a different encoded state and
    a different generated answer with a steering module attached."""
    from frozen_llm_modules.attach import EmotionalLLM
    from frozen_llm_modules.encoder import Conversation, EmotionEncoder, query_signals

    query = "My printer still won't print anything."
    _, emb = query_signals(real_model, "The printer won't print anything again.")
    enc = EmotionEncoder()
    llm = EmotionalLLM(real_model, steering=_frustration_steering(real_model))
    out = {}
    for name, state, reward in (("frustrated", EmotionalState(frustration=0.9), -1.0), ("calm", EmotionalState(), 1.0)):
        mem = EmotionalMemory(tmp_path / f"{name}.db", model_name=real_model.ec_info.name)
        mem.add("The printer won't print anything again.", emb, state, reward)
        sig = enc.signals(real_model, query, Conversation(), mem)
        st = enc.encode(sig)
        llm.set_state(st)
        out[name] = (st, llm.generate([query], max_new_tokens=12)[0], sig)
        mem.close()
    (s_f, text_f, sig_f), (s_c, text_c, sig_c) = out["frustrated"], out["calm"]
    assert sig_f["novelty"] == sig_c["novelty"] and sig_f["_recall"].episode_ids == sig_c["_recall"].episode_ids == (1,)
    assert s_f.frustration - s_c.frustration > 0.2 and s_f.fear > s_c.fear  # recalled frustration and negative outcome
    assert text_f != text_c
