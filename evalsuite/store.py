"""SQLite sample store (WAL): every generation is written as its batch returns, so runs resume and re-score."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable

from evalsuite.errors import UsageError
from evalsuite.records import Generation

SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    generation TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
);
"""


class SampleStore:
    """Key -> Generation, keyed by `Request.key` (backend, model, request, sample index)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        waited = 0.0
        while True:
            db = None
            try:
                self.db = db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                ok = self.db.execute("PRAGMA quick_check").fetchone()[0]
                if ok != "ok":
                    raise sqlite3.DatabaseError(ok)
                self.db.executescript(SCHEMA)
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

    def get_many(self, keys: Iterable[str]) -> dict[str, Generation]:
        """The stored generations among `keys`."""
        keys = list(keys)
        out: dict[str, Generation] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT key, generation FROM generations WHERE key IN ({marks})", chunk)
            for key, gen in rows:
                out[key] = Generation.from_dict(json.loads(gen))
        return out

    def put_many(self, items: Iterable[tuple[str, dict, Generation]]) -> None:
        """Store (key, request dict, generation) triples in one transaction."""
        rows = [
            (k, json.dumps(req, ensure_ascii=False), json.dumps(gen.to_dict(), ensure_ascii=False))
            for k, req, gen in items
        ]
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO generations (key, request, generation) VALUES (?, ?, ?)", rows
            )

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        self.db.close()
