"""The article store: one schema, two backends (SQLite, PostgreSQL), chosen by URL.

Owned here: the tables (``articles``: every field of the record plus first_seen, last_seen,
revision; ``revisions``: earlier versions), the upsert (by id, in one transaction, safe with
several writer processes; never letting an older version overwrite a newer one; NUL removed
from every text, which PostgreSQL refuses) and the read side. The SQL is shared; what differs
between the backends (placeholders, connecting, locking, schemas) lives in the two small
dialect classes.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from config.settings import store_url_problem
from tasks.charset import without_surrogates
from tasks.errors import StoreError
from tasks.formats import utc_iso
from tasks.models import Article, Outcome

log = logging.getLogger(__name__)

ARTICLE_FIELDS = [f.name for f in fields(Article)]
LIST_FIELDS = {"authors", "tags"}  # stored as JSON text
INT_FIELDS = {"word_count"}
TRACK_COLUMNS = ["sort_at", "first_seen", "last_seen", "revision"]
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a writer waits for another's lock


def _column_type(name: str) -> str:
    return "INTEGER" if name in INT_FIELDS else "TEXT"


def _columns_sql(names: list[str]) -> str:
    return ",\n  ".join(
        f"{n} {_column_type(n)}" + (" NOT NULL" if n == "id" else "") for n in names
    )


RECORD_COLUMNS = [c for c in ARTICLE_FIELDS if c != "id"]
SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS articles (
  {_columns_sql(ARTICLE_FIELDS)},
  sort_at TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  revision INTEGER NOT NULL, PRIMARY KEY (id))""",
    f"""CREATE TABLE IF NOT EXISTS revisions (
  {_columns_sql(ARTICLE_FIELDS)},
  sort_at TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  revision INTEGER NOT NULL, PRIMARY KEY (id, revision))""",
    "CREATE INDEX IF NOT EXISTS articles_feed ON articles (feed_id, sort_at)",
    "CREATE INDEX IF NOT EXISTS articles_sort ON articles (sort_at)",
    "CREATE INDEX IF NOT EXISTS articles_content ON articles (content_hash)",
]
ALL_COLUMNS = ARTICLE_FIELDS + TRACK_COLUMNS
SELECT_ARTICLE = f"SELECT {', '.join(ARTICLE_FIELDS)} FROM articles"


class ArticleStore(Protocol):
    def upsert(self, article: Article, now: str) -> Outcome: ...
    def get(self, article_id: str) -> Article | None: ...
    def iter_articles(
        self, *, feed_id: str | None = None, since: str | None = None
    ) -> Iterator[Article]: ...
    def revisions(self, article_id: str) -> list[Article]: ...
    def stats(self, article_id: str) -> dict | None: ...
    def count(self) -> int: ...
    def close(self) -> None: ...


def _row_values(article: Article) -> list:
    data = article.to_dict()
    return [
        json.dumps(data[n], ensure_ascii=False) if n in LIST_FIELDS else data[n]
        for n in ARTICLE_FIELDS
    ]


def without_nul(article: Article) -> Article:
    """The article with every NUL removed from its texts (authors and tags included) and
    lone surrogates replaced by U+FFFD: PostgreSQL refuses NUL in text, and SQLite would
    store what PostgreSQL cannot; neither driver can encode a surrogate. The edges replace
    surrogates already (tasks.charset); this is the last line, so no article is lost."""
    changes: dict[str, Any] = {}
    for f in fields(Article):
        value = getattr(article, f.name)
        if isinstance(value, str):
            text = _storable(value)
            if text is not value:
                changes[f.name] = text
        elif isinstance(value, tuple | list):
            texts = tuple(_storable(v) for v in value)
            if any(a is not b for a, b in zip(texts, value, strict=True)):
                changes[f.name] = texts
    return replace(article, **changes) if changes else article


def _storable(text: str) -> str:
    """text without NUL and lone surrogates; the same object when it had neither."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return without_surrogates(text)


def _instant(value: str | None) -> datetime | None:
    """An ISO datetime as an aware datetime (naive = UTC); None when absent or unreadable."""
    try:
        when = datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _older(incoming: str | None, stored: str | None) -> bool:
    """True when the incoming version was fetched before the stored one (both readable)."""
    new, old = _instant(incoming), _instant(stored)
    return new is not None and old is not None and new < old


def _article(row) -> Article:
    data = dict(zip(ARTICLE_FIELDS, row, strict=False))
    for name in LIST_FIELDS:
        data[name] = json.loads(data[name] or "[]")
    return Article.from_dict(data)


def _sort_at(article: Article) -> str:
    for value in (article.published_at, article.fetched_at):
        if value:
            try:
                return utc_iso(value)
            except ValueError:
                continue
    return ""


class SqlStore:
    """The backend-neutral store; a dialect supplies the connection and its differences."""

    lock_clause = ""
    integrity_error: type[Exception] = sqlite3.IntegrityError
    database_error: type[Exception] = sqlite3.Error

    def __init__(self, conn) -> None:
        self.conn = conn
        for attempt in range(3):  # several processes creating the schema at once may collide
            try:
                with self.transaction() as cur:
                    for statement in SCHEMA:
                        cur.execute(statement)
                return
            except self.database_error:
                if attempt == 2:
                    raise

    # dialect hooks
    def transaction(self, write: bool = True):  # pragma: no cover - each dialect defines it
        raise NotImplementedError

    def sql(self, text: str) -> str:
        return text

    def execute(self, cur, text: str, params=()) -> None:
        cur.execute(self.sql(text), params)

    # writing
    def upsert(self, article: Article, now: str) -> Outcome:
        """Insert a new article, revise a changed one, touch an unchanged one (one transaction).

        Two writers inserting the same new id at once: the loser's INSERT fails on the primary
        key and it runs again, now finding the row (locked by the dialect's lock clause).
        """
        article = without_nul(article)
        for attempt in range(4):
            try:
                return self._upsert_once(article, now)
            except self.integrity_error:
                if attempt == 3:
                    raise
                log.info("concurrent insert, upsert again id=%s", article.id)
            except self.database_error as exc:  # connection lost, disk full, lock timeout...
                raise StoreError(f"upsert failed: {' '.join(str(exc).split())}") from exc
        raise AssertionError("unreachable")

    def _upsert_once(self, article: Article, now: str) -> Outcome:
        """Unchanged, or an older version than the row (a delayed store message arriving after
        a re-crawl stored a newer one, compared by fetched_at): only last_seen is touched, so
        the older text never overwrites the newer."""
        with self.transaction() as cur:
            self.execute(
                cur,
                f"SELECT content_hash, fetched_at FROM articles WHERE id = ?{self.lock_clause}",
                (article.id,),
            )
            row = cur.fetchone()
            if row is None:
                return self._insert(cur, article, now)
            if row[0] == article.content_hash or _older(article.fetched_at, row[1]):
                self.execute(
                    cur, "UPDATE articles SET last_seen = ? WHERE id = ?", (now, article.id)
                )
                return Outcome.UNCHANGED
            return self._revise(cur, article, now)

    def _insert(self, cur, article: Article, now: str) -> Outcome:
        marks = ", ".join("?" * len(ALL_COLUMNS))
        values = [*_row_values(article), _sort_at(article), now, now, 1]
        self.execute(
            cur, f"INSERT INTO articles ({', '.join(ALL_COLUMNS)}) VALUES ({marks})", values
        )
        return Outcome.STORED

    def _revise(self, cur, article: Article, now: str) -> Outcome:
        columns = ", ".join(ALL_COLUMNS)
        self.execute(
            cur,
            f"INSERT INTO revisions ({columns}) SELECT {columns} FROM articles WHERE id = ?",
            (article.id,),
        )
        assignments = ", ".join(f"{c} = ?" for c in RECORD_COLUMNS)
        values = [*_row_values(article)[1:], _sort_at(article), now, article.id]
        self.execute(
            cur,
            f"UPDATE articles SET {assignments}, sort_at = ?, last_seen = ?, "
            "revision = revision + 1 WHERE id = ?",
            values,
        )
        return Outcome.REVISED

    # reading
    def _query(self, text: str, params=()) -> list:
        with self.transaction(write=False) as cur:
            self.execute(cur, text, params)
            return cur.fetchall()

    def get(self, article_id: str) -> Article | None:
        rows = self._query(f"{SELECT_ARTICLE} WHERE id = ?", (article_id,))
        return _article(rows[0]) if rows else None

    def iter_articles(
        self, *, feed_id: str | None = None, since: str | None = None
    ) -> Iterator[Article]:
        """Articles in date order (published_at, else fetched_at), optionally filtered."""
        where, params = [], []
        if feed_id is not None:
            where.append("feed_id = ?")
            params.append(feed_id)
        if since:
            where.append("sort_at >= ?")
            params.append(utc_iso(since))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        last = ("", "")
        while True:  # keyset pages, so a long export never holds one huge result
            page = self._page(clause, params, last)
            yield from (_article(row[2:]) for row in page)
            if len(page) < 500:
                return
            last = (page[-1][0], page[-1][1])

    def _page(self, clause: str, params: list, last: tuple[str, str]) -> list:
        keyset = "(sort_at > ? OR (sort_at = ? AND id > ?))"
        where = f"{clause} AND {keyset}" if clause else f" WHERE {keyset}"
        text = f"SELECT sort_at, id, {', '.join(ARTICLE_FIELDS)} FROM articles{where} ORDER BY sort_at, id LIMIT 500"
        return self._query(text, [*params, last[0], last[0], last[1]])

    def revisions(self, article_id: str) -> list[Article]:
        text = f"SELECT {', '.join(ARTICLE_FIELDS)} FROM revisions WHERE id = ? ORDER BY revision"
        return [_article(row) for row in self._query(text, (article_id,))]

    def stats(self, article_id: str) -> dict | None:
        rows = self._query(
            "SELECT first_seen, last_seen, revision FROM articles WHERE id = ?", (article_id,)
        )
        return (
            dict(zip(("first_seen", "last_seen", "revision"), rows[0], strict=True))
            if rows
            else None
        )

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM articles")[0][0])

    def close(self) -> None:
        self.conn.close()


class SqliteStore(SqlStore):
    """SQLite in WAL mode; writers take the lock up front (BEGIN IMMEDIATE) and wait for it."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        super().__init__(conn)

    @contextmanager
    def transaction(self, write: bool = True):
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()


class PostgresStore(SqlStore):
    """PostgreSQL through psycopg 3; the row is locked (FOR UPDATE) for the read-modify-write."""

    lock_clause = " FOR UPDATE"

    def __init__(self, conninfo: str, schema: str | None = None) -> None:
        import psycopg

        self.integrity_error, self.database_error = psycopg.IntegrityError, psycopg.Error
        self.conninfo, self.schema = conninfo, schema
        super().__init__(self._connect())

    def _connect(self):
        import psycopg

        conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10)
        if self.schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextmanager
    def transaction(self, write: bool = True):
        if self.conn.closed or self.conn.broken:  # the server restarted: connect again
            self.conn = self._connect()
        with self.conn.transaction(), self.conn.cursor() as cur:
            yield cur


def _postgres(url: str) -> PostgresStore:
    import psycopg

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = (query.pop("schema", [None]) or [None])[0]
    rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
    conninfo = parts._replace(scheme="postgresql", query=rest).geturl()
    try:
        return PostgresStore(conninfo, schema)
    except psycopg.Error as exc:
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        message = " ".join(str(exc).split())
        raise StoreError(f"cannot open the PostgreSQL store at {where}: {message}") from None


def open_store(url: str) -> ArticleStore:
    """The store named by a URL: sqlite:///rel/path.db, sqlite:////abs/path.db, postgresql://...

    ValueError for a URL that cannot name a store (settings refuse those at load already)."""
    problem = store_url_problem(url)
    if problem:
        raise ValueError(problem)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        try:
            return SqliteStore(os.path.expanduser(path[1:]))
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the SQLite store {path[1:]}: {exc}") from None
    return _postgres(url)
