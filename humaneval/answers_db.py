"""Answers the offline rating forms post, kept in SQLite (one row per submission) and exported as rating files.

Each post is checked against the key by humaneval's own reader (:func:`humaneval.ratings.parse_rating`) before it
is stored, in one transaction: a rejected post changes nothing, and no post can touch another rater's rows. A
rater may save (and post) again as they go: every submission is kept, and :meth:`AnswersStore.export` writes each
rater's latest one as ``answers-<rater>-<item set>.json``, the files ``humaneval score`` reads.
"""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from humaneval.design import Key
from humaneval.ratings import MalformedRating, parse_rating
from interp.errors import StoreError
from interp.io import atomic_write_text, ensure_writable_dir

MAX_POST_BYTES = 8 * 1024 * 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_set TEXT NOT NULL,
    rater TEXT NOT NULL,
    received_utc TEXT NOT NULL,
    n_answers INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Submission:
    """One stored post: who sent it, when (ISO 8601 UTC), how many items it answers and whether that is all of them."""

    id: int
    rater: str
    item_set: str
    received_utc: str
    n_answers: int
    complete: bool

    def to_dict(self) -> dict:
        return asdict(self)


class AnswersStore:
    """A SQLite file of the rater submissions for one key's item set (created on first use)."""

    def __init__(self, path: str | Path, key: Key) -> None:
        self.path = Path(path)
        self.key = key
        if self.path.is_dir():
            raise StoreError(f"answers database {str(self.path)!r} is a folder; give a file path such as answers.sqlite")
        ensure_writable_dir(self.path.parent)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('item_set', ?)", (key.item_set.id,))
            (held,) = db.execute("SELECT value FROM meta WHERE name = 'item_set'").fetchone()
        if held != key.item_set.id:
            raise StoreError(f"answers database {str(self.path)!r} holds answers for item set {held!r}, not {key.item_set.id!r} "
                             "(this key's); give another --answers-db file, or the key.json its forms were made with")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation, in one transaction (committed on success, rolled back on error)."""
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"answers database {str(self.path)!r} cannot be used ({exc}); "
                             "give a new file path or the SQLite file this server made") from None

    def add(self, body: bytes | str, *, source: str = "the posted answers") -> Submission:
        """Check one posted answer file against the key and store it.

        Raises:
            MalformedRating: the post is no usable answer file for this key (message says why); nothing is stored.
            DatasetError: the answers were made for another item set.
        """
        if isinstance(body, bytes):
            if len(body) > MAX_POST_BYTES:
                raise MalformedRating(f"{source} is {len(body)} bytes, more than {MAX_POST_BYTES}; is it an answer file?")
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedRating(f"{source} is not UTF-8 text; post the JSON the rating form saves") from None
        rating = parse_rating(body, self.key, source=source)
        data = json.loads(body)
        n, complete = len(rating.answers), len(rating.answers) == len(self.key.item_set.items)
        received = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            cur = db.execute("INSERT INTO submissions (item_set, rater, received_utc, n_answers, complete, body) VALUES (?, ?, ?, ?, ?, ?)",
                             (data["item_set"], rating.rater, received, n, int(complete), body))
        return Submission(int(cur.lastrowid), rating.rater, data["item_set"], received, n, complete)

    def submissions(self) -> list[Submission]:
        """Every stored submission, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT id, rater, item_set, received_utc, n_answers, complete FROM submissions ORDER BY id").fetchall()
        return [Submission(i, r, s, t, n, bool(c)) for i, r, s, t, n, c in rows]

    def latest(self) -> dict[str, str]:
        """{rater: the JSON text of their latest submission}, raters in the order they first posted."""
        with self._connect() as db:
            rows = db.execute("SELECT rater, body FROM submissions ORDER BY id").fetchall()
        out: dict[str, str] = {}
        for rater, body in rows:
            out[rater] = body
        return out

    def export(self, out_dir: str | Path) -> list[Path]:
        """Write each rater's latest submission as ``<out_dir>/answers-<rater>-<item set>.json``; return the paths.

        Rater ids are the key's (letters, digits, ``._-``), so they are safe file names. Raises StoreError when
        nothing was posted yet.
        """
        latest = self.latest()
        if not latest:
            raise StoreError(f"answers database {str(self.path)!r} holds no answers yet; nothing to export")
        folder = ensure_writable_dir(out_dir)
        return [atomic_write_text(folder / f"answers-{rater}-{self.key.item_set.id}.json", body) for rater, body in latest.items()]


def export_answers(db_path: str | Path, key: Key, out_dir: str | Path) -> list[Path]:
    """Export an existing answers database (see :meth:`AnswersStore.export`); StoreError when the file does not exist."""
    if not Path(db_path).is_file():
        raise StoreError(f"answers database {str(db_path)!r} does not exist; give the --answers-db file the tone page stored into")
    return AnswersStore(db_path, key).export(out_dir)
