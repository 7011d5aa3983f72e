"""Judge verdict cache: the same (model, prompt version, reasoning, answer) is judged once.

GRPO groups repeat completions, and epochs repeat prompts, so a training run asks the
same question many times. Verdicts live in an in-memory LRU, optionally backed by a
sqlite file (``cache_path``) that survives restarts and is shared by processes on one
machine (sqlite's own locking; WAL mode). Only definite verdicts are stored, never
errors or timeouts: a judge that was down must be asked again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path


def cache_key(model: str, prompt_version: str, reasoning: str, answer: str) -> str:
    payload = json.dumps([model, prompt_version, reasoning, answer], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class VerdictCache:
    """An LRU of ``key -> verdict`` (0 or 1) with an optional sqlite file behind it."""

    def __init__(self, max_items: int = 100_000, path: str | Path | None = None) -> None:
        self.max_items = max_items
        self._mem: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self.path = str(path) if path else None
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0
        if self.path:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict INTEGER NOT NULL)")

    def get(self, key: str) -> int | None:
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                self.hits += 1
                return self._mem[key]
            value = None
            if self._db is not None:
                try:
                    row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
                except sqlite3.Error:
                    row = None
                if row is not None:
                    value = int(row[0])
                    self._remember(key, value)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def put(self, key: str, verdict: int) -> None:
        with self._lock:
            self._remember(key, int(verdict))
            if self._db is not None:
                try:
                    self._db.execute("INSERT OR REPLACE INTO verdicts (key, verdict) VALUES (?, ?)", (key, int(verdict)))
                except sqlite3.Error:
                    pass  # a locked or read-only file costs a re-judge later, never a failed batch

    def _remember(self, key: str, verdict: int) -> None:
        self._mem[key] = verdict
        self._mem.move_to_end(key)
        while len(self._mem) > self.max_items:
            self._mem.popitem(last=False)

    def __len__(self) -> int:
        return len(self._mem)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_CACHES: dict[tuple[str | None, int], VerdictCache] = {}
_CACHES_LOCK = threading.Lock()


def shared_cache(path: str | None = None, max_items: int = 100_000) -> VerdictCache:
    """One cache per (file, size) per process, so every batch of a run shares it."""
    with _CACHES_LOCK:
        key = (str(path) if path else None, int(max_items))
        if key not in _CACHES:
            _CACHES[key] = VerdictCache(max_items, path)
        return _CACHES[key]


def clear_shared_caches() -> None:
    """Forget every process-wide cache (tests; a new judge model under the same name)."""
    with _CACHES_LOCK:
        for cache in _CACHES.values():
            cache.close()
        _CACHES.clear()
