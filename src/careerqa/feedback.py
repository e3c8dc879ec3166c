"""Feedback on answers: a small SQLite store and its export as question-set lines.

The store is one file (`feedback.sqlite3` under the data folder) in WAL mode, so
readers never wait for the writer. Each process writes through one connection
behind a lock (SQLite itself serialises writers across processes). The schema is
versioned with `PRAGMA user_version`: older files are migrated forward on open, a
file from a newer careerqa is refused rather than written into.

`export_lines` turns 👎 and "this source doesn't support it" marks into lines of
the question-set format (`id`, `question`, `sources`, `answers`) that
`careerqa eval` reads, with what was answered and cited under `feedback`, so a
maintainer can review them and add them to the evaluation.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .answering import cited_numbers
from .errors import FeedbackError

log = logging.getLogger(__name__)

Rating = Literal["up", "down", "unsupported"]
FILE_NAME = "feedback.sqlite3"
# Each entry brings a file at version i to version i + 1.
MIGRATIONS = [
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        rating TEXT NOT NULL CHECK (rating IN ('up', 'down', 'unsupported')),
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        answered INTEGER NOT NULL,
        citation INTEGER,
        comment TEXT NOT NULL DEFAULT '',
        build_id TEXT,
        details TEXT NOT NULL
    );
    CREATE INDEX feedback_rating ON feedback (rating, id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
MAX_ID = 2**63 - 1  # SQLite's largest integer


@dataclass(frozen=True)
class CitedPassage:
    """A passage the answer cited, as the page showed it."""

    n: int
    doc_id: str
    source: str
    title: str
    heading: str | None
    text: str
    url: str


@dataclass(frozen=True)
class Feedback:
    """One mark on one answer: 👍, 👎, or a citation that doesn't support it."""

    rating: Rating
    question: str
    answer: str
    answered: bool
    citations: list[CitedPassage]
    history: list[dict[str, str]] = field(default_factory=list)
    citation: int | None = None  # the n marked as not supporting the answer
    comment: str = ""
    build_id: str | None = None


@dataclass(frozen=True)
class Stored:
    """A stored feedback row."""

    id: int
    created_at: str
    feedback: Feedback


class FeedbackStore:
    """The feedback file: opened on first use, one writing connection per process."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / FILE_NAME
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def add(self, feedback: Feedback) -> int:
        """Store one mark; its id."""
        details = json.dumps(
            {"history": feedback.history, "citations": [asdict(c) for c in feedback.citations]},
            ensure_ascii=False,
        )
        row = (
            datetime.now(UTC).isoformat(timespec="seconds"),
            feedback.rating,
            feedback.question,
            feedback.answer,
            int(feedback.answered),
            feedback.citation,
            feedback.comment,
            feedback.build_id,
            details,
        )
        with self._lock:
            db = self._writer()
            try:
                with db:  # one transaction: committed whole or not at all
                    cursor = db.execute(
                        "INSERT INTO feedback (created_at, rating, question, answer, answered,"
                        " citation, comment, build_id, details) VALUES (?,?,?,?,?,?,?,?,?)",
                        row,
                    )
            except sqlite3.Error as exc:
                raise FeedbackError(f"cannot write feedback to {self.path}: {exc}") from exc
        new_id = cursor.lastrowid
        assert new_id is not None
        log.info("feedback %d stored: %s", new_id, feedback.rating)
        return new_id

    def rows(self, ratings: tuple[Rating, ...], since: int = 0) -> list[Stored]:
        """Stored marks with these ratings and an id above `since`, oldest first."""
        if not self.path.exists():
            return []
        marks = ",".join("?" * len(ratings))
        query = (
            "SELECT id, created_at, rating, question, answer, answered, citation, comment,"
            f" build_id, details FROM feedback WHERE rating IN ({marks}) AND id > ? ORDER BY id"
        )
        try:
            db = _connect(self.path)
            try:
                _check_version(db, self.path, migrate=False)
                found = db.execute(query, (*ratings, since)).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise FeedbackError(f"cannot read feedback from {self.path}: {exc}") from exc
        return [_stored(row) for row in found]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _writer(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = _connect(self.path)
                db.execute("PRAGMA journal_mode=WAL")
                _check_version(db, self.path, migrate=True)
            except (OSError, sqlite3.Error) as exc:
                raise FeedbackError(f"cannot open feedback store {self.path}: {exc}") from exc
            self._db = db
        return self._db


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread off: the routes run in a thread pool, the lock serialises writes.
    db = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA busy_timeout=5000")
    return db


def _check_version(db: sqlite3.Connection, path: Path, *, migrate: bool) -> None:
    """Bring the file to SCHEMA_VERSION (when writing); refuse one from a newer careerqa."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise FeedbackError(
            f"{path} has feedback schema version {version}; this careerqa knows up to "
            f"{SCHEMA_VERSION} — upgrade careerqa"
        )
    if not migrate:
        return
    for step in range(version, SCHEMA_VERSION):
        # The version is set inside the migration's transaction (user_version is part
        # of the file's header), so a crash leaves the file wholly at one version.
        try:
            db.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[step]}; PRAGMA user_version={step + 1}; COMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        log.info("feedback store %s migrated to schema version %d", path, step + 1)


def _stored(row: tuple[Any, ...]) -> Stored:
    details = json.loads(row[9])
    citations = [CitedPassage(**c) for c in details.get("citations", [])]
    feedback = Feedback(
        rating=row[2],
        question=row[3],
        answer=row[4],
        answered=bool(row[5]),
        citations=citations,
        history=details.get("history", []),
        citation=row[6],
        comment=row[7],
        build_id=row[8],
    )
    return Stored(id=row[0], created_at=row[1], feedback=feedback)


def export_lines(rows: list[Stored]) -> Iterator[dict[str, Any]]:
    """Question-set lines for review: `answers` is left empty for the maintainer to fill.

    As exported, a line asks that the question be declined; the maintainer writes in
    `answers` a string a correct passage contains (and in `sources` the files holding
    it), or keeps both empty when the articles don't cover the question. `feedback`
    holds what was answered and cited: for an unsupported mark the passage marked,
    for 👎 the passages the answer cited.
    """
    for stored in rows:
        mark = stored.feedback
        if mark.rating == "unsupported":
            cited = [c for c in mark.citations if c.n == mark.citation]
        else:
            numbers = cited_numbers(mark.answer)
            cited = [c for c in mark.citations if c.n in numbers]
        yield {
            "id": f"feedback-{stored.id}",
            "question": mark.question,
            "sources": [],
            "answers": [],
            "feedback": {
                "rating": mark.rating,
                "comment": mark.comment,
                "created_at": stored.created_at,
                "build_id": mark.build_id,
                "answered": mark.answered,
                "answer": mark.answer,
                "history": mark.history,
                "cited": [
                    {"n": c.n, "source": c.source, "heading": c.heading, "text": c.text}
                    for c in cited
                ],
            },
        }
