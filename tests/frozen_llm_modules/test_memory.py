"""Emotional memory: retrieval, persistence across a process restart, and a crash inside a write transaction."""

import os
import signal
import subprocess
import sys
import textwrap
import time

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
