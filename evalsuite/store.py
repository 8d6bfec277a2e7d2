"""SQLite sample store (WAL): every generation is written as its batch returns, so runs resume and re-score.

Layout (schema 2, `PRAGMA user_version = 2`), made for a driver that stores 10,000+ generations a second:
- `generations(key, request, generation, created, token_ids, stats, n_tokens)`: `generation` is the reply's JSON
  without its arrays (text, finish_reason, backend, model_id, seconds, prompt_tokens, approximate,
  choice_logprobs); `token_ids` and `stats` are compact binary (see `evalsuite.store_codec`); `request` is the
  request's JSON with its chat `messages` replaced by `"prefix"`: the id of its last turn in `turns`.
- `turns(id, parent, role, content)`: each chat turn once, content-addressed (id = hash of parent id, role and
  content), so a k-round conversation stores each turn once instead of its whole prefix k times.
A schema-1 store (every row's full JSON in `generation`, no `turns`) is upgraded in place when opened: its old rows
stay as they are and are still read, new rows use the compact columns.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

import orjson

from evalsuite.errors import UsageError
from evalsuite.records import Generation
from evalsuite.store_codec import (decode_ids, decode_stats, encode_ids, encode_stats, generation_json,
                                   read_generation_json, turn_chain)

SCHEMA_VERSION = 2
SCHEMA = ("""CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    generation TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now')),
    token_ids BLOB,
    stats BLOB,
    n_tokens INTEGER
)""", """CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY,
    parent TEXT,
    role TEXT NOT NULL,
    content TEXT NOT NULL
)""")
NEW_COLUMNS = (("token_ids", "BLOB"), ("stats", "BLOB"), ("n_tokens", "INTEGER"))
WAL_PAGES = 16384
"""Pages (64 MiB at 4 KiB) the write-ahead log grows to before SQLite copies it into the store: at SQLite's default
of 1,000 a fast run paid a synced checkpoint every few transactions (about a sixth of its store time)."""
KNOWN_TURNS = 500_000
"""Turn ids this process has stored, remembered (up to this many) so a long conversation's earlier turns are not
re-inserted with every round."""


class SampleStore:
    """Key -> Generation, keyed by `Request.key` (backend, model, request, sample index)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._known: set[str] = set()
        self._ids: dict[tuple[str | None, str, str], str] = {}
        waited = 0.0
        while True:
            db = None
            try:
                self.db = db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
                ok = self.db.execute("PRAGMA quick_check").fetchone()[0]
                if ok != "ok":
                    raise sqlite3.DatabaseError(ok)
                self._upgrade()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise UsageError(f"sample store {self.path} cannot be opened ({e}); check the folder's "
                                     "permissions and free space, or use another --output-dir") from e
                if db is not None:
                    db.close()
                if waited > 30:
                    raise UsageError(f"sample store {self.path} stayed locked by another process for 30 s; stop "
                                     "the other evalsuite run on this --output-dir, or use another one") from e
                pause = min(0.05 + waited / 10, 1.0)
                time.sleep(pause)
                waited += pause
            except sqlite3.DatabaseError as e:
                raise UsageError(
                    f"sample store {self.path} is corrupt ({e}); move it aside or use another --output-dir"
                ) from e

    def _upgrade(self) -> None:
        """Create the tables, or add schema 2's columns to a schema-1 store (its rows stay readable), in one
        write transaction, so processes opening one store together do it once."""
        if self._version() == SCHEMA_VERSION:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self._version() != SCHEMA_VERSION:
                for stmt in SCHEMA:
                    self.db.execute(stmt)
                have = {r[1] for r in self.db.execute("PRAGMA table_info(generations)")}
                for name, typ in NEW_COLUMNS:
                    if name not in have:
                        self.db.execute(f"ALTER TABLE generations ADD COLUMN {name} {typ}")
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _version(self) -> int:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UsageError(f"sample store {self.path} was written by a newer evalsuite (store schema {version}, "
                             f"this one reads up to {SCHEMA_VERSION}); upgrade evalsuite or use another --output-dir")
        return version

    def get_many(self, keys: Iterable[str]) -> dict[str, Generation]:
        """The stored generations among `keys`."""
        keys = list(keys)
        out: dict[str, Generation] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, generation, token_ids, stats FROM generations WHERE key IN ({marks})", chunk)
            for key, gen, ids, stats in rows:
                out[key] = _generation(gen, ids, stats)
        return out

    def put_many(self, items: Iterable[tuple[str, dict, Generation]]) -> None:
        """Store (key, request dict, generation) triples in one transaction; each distinct turn once. The dict is
        `Request.to_dict()`, whose messages may also be (role, content) pairs (`to_dict(chat=False)`)."""
        rows, turns = [], {}
        for k, req, gen in items:
            req = dict(req)
            messages = req.pop("messages", None)
            if messages is not None:
                req["prefix"] = turn_chain(messages, turns, self._ids)
            rows.append((k, orjson.dumps(req).decode(), generation_json(gen), encode_ids(gen.token_ids),
                         encode_stats(gen.stats), len(gen.token_ids)))
        new = [(i, *t) for i, t in turns.items() if i not in self._known]
        with self.db:
            if new:
                self.db.executemany("INSERT OR IGNORE INTO turns (id, parent, role, content) VALUES (?, ?, ?, ?)",
                                    new)
            self.db.executemany(
                "INSERT OR REPLACE INTO generations (key, request, generation, token_ids, stats, n_tokens) "
                "VALUES (?, ?, ?, ?, ?, ?)", rows)
        if len(self._known) > KNOWN_TURNS:
            self._known.clear()
            self._ids.clear()
        self._known.update(i for i, *_ in new)

    def request(self, key: str) -> dict[str, Any] | None:
        """The stored request of `key` as `Request.to_dict()` wrote it (chat messages rebuilt from `turns`)."""
        row = self.db.execute("SELECT request FROM generations WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        req = json.loads(row[0])
        if "prefix" in req:
            req["messages"] = self._messages(req.pop("prefix"))
        return req

    def _messages(self, turn_id: str | None) -> list[dict[str, str]]:
        out = []
        while turn_id is not None:
            parent, role, content = self.db.execute(
                "SELECT parent, role, content FROM turns WHERE id = ?", (turn_id,)).fetchone()
            out.append({"role": role, "content": content})
            turn_id = parent
        return out[::-1]

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        self.db.close()


def _generation(gen: str, ids: bytes | None, stats: bytes | None) -> Generation:
    """A stored row back as a Generation (a schema-1 row keeps its arrays in the JSON)."""
    d = read_generation_json(gen) if ids is not None else json.loads(gen)
    if ids is not None:
        d["token_ids"] = decode_ids(ids)
        d["stats"] = decode_stats(stats)
    return Generation.from_dict(d)


def read_generations(path: str | Path) -> list[dict[str, Any]]:
    """Every stored generation of the store at `path` as a dict (read-only; for tools and tests that look at a
    store another process is writing)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        cols = {r[1] for r in db.execute("PRAGMA table_info(generations)")}
        query = ("SELECT generation, token_ids, stats FROM generations" if "stats" in cols
                 else "SELECT generation, NULL, NULL FROM generations")
        return [_generation(g, i, s).to_dict() for g, i, s in db.execute(query)]
