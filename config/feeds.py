"""The feed list: FeedSource records loaded from a TOML file and validated.

This module owns the feeds file format (``[[feeds]]`` tables). It does no network I/O.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class FeedsFileError(ValueError):
    """The feeds file is missing or wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class FeedSource:
    """One feed as the operator configured it."""

    id: str
    name: str
    url: str
    min_interval: int | None = None  # seconds
    max_interval: int | None = None  # seconds
    tags: tuple[str, ...] = field(default_factory=tuple)
    language: str | None = None
    enabled: bool = True

    def to_json(self) -> str:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> FeedSource:
        data = json.loads(raw)
        data["tags"] = tuple(data.get("tags") or ())
        return cls(**data)


def feed_id_for(name: str) -> str:
    """A feed's id: its name in lower case, runs of other characters turned into '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "feed"


_KNOWN = {"name", "url", "min_interval", "max_interval", "tags", "language", "enabled", "id"}


def feed_from_table(table: dict[str, Any], where: str) -> FeedSource:
    """Validate one ``[[feeds]]`` table; ``where`` names it in error messages."""
    unknown = set(table) - _KNOWN
    if unknown:
        raise FeedsFileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = table.get("name")
    url = table.get("url")
    if not isinstance(name, str) or not name.strip():
        raise FeedsFileError(f"{where}: 'name' must be a non-empty string")
    where = f"{where} ({name!r})"
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError as exc:  # "http://[::1/x": urlsplit raises on a broken IPv6 literal
        raise FeedsFileError(f"{where}: 'url' is not a valid URL ({exc}): {url!r}") from None
    if parts is None or parts.scheme not in ("http", "https"):
        raise FeedsFileError(f"{where}: 'url' must be an http(s) URL, got {url!r}")
    if not parts.hostname:
        raise FeedsFileError(f"{where}: 'url' has no host: {url!r}")
    for key in ("min_interval", "max_interval"):
        value = table.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 10
        ):
            raise FeedsFileError(f"{where}: {key!r} must be a whole number of seconds >= 10")
    lo, hi = table.get("min_interval"), table.get("max_interval")
    if lo is not None and hi is not None and lo > hi:
        raise FeedsFileError(f"{where}: min_interval is above max_interval")
    tags = table.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise FeedsFileError(f"{where}: 'tags' must be a list of strings")
    language = table.get("language")
    if language is not None and not isinstance(language, str):
        raise FeedsFileError(f"{where}: 'language' must be a string")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise FeedsFileError(f"{where}: 'enabled' must be true or false")
    feed_id = table.get("id") or feed_id_for(name)
    if not isinstance(feed_id, str):
        raise FeedsFileError(f"{where}: 'id' must be a string, got {feed_id!r}")
    return FeedSource(feed_id, name.strip(), url.strip(), lo, hi, tuple(tags), language, enabled)


def parse_feeds(text: str, source: str = "feeds file") -> list[FeedSource]:
    """Parse the TOML text of a feeds file into validated FeedSources."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FeedsFileError(f"{source}: not valid TOML: {exc}") from None
    tables = data.get("feeds", [])
    if not isinstance(tables, list):
        raise FeedsFileError(f"{source}: 'feeds' must be an array of tables ([[feeds]])")
    feeds: list[FeedSource] = []
    ids: dict[str, str] = {}
    for n, table in enumerate(tables, 1):
        feed = feed_from_table(table, f"{source}: feed #{n}")
        if feed.id in ids:
            raise FeedsFileError(
                f"{source}: feed #{n} ({feed.name!r}) has the same id as {ids[feed.id]!r}"
            )
        ids[feed.id] = feed.name
        feeds.append(feed)
    return feeds


def load_feeds(path: str | Path) -> list[FeedSource]:
    """Read and validate the feeds file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise FeedsFileError(f"{path}: feeds file not found (set NEWS_FEEDS_FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedsFileError(f"{path}: cannot read the feeds file: {exc}") from None
    return parse_feeds(text, str(path))


def set_enabled(text: str, name_or_id: str, enabled: bool) -> str:
    """The feeds file ``text`` with one feed's ``enabled`` set, comments and layout kept.

    FeedsFileError when no feed has that name or id. Works on the ``[[feeds]]`` blocks as
    text so an operator's comments survive the edit.
    """
    blocks = _blocks(text)
    wanted = name_or_id.strip().lower()
    for i, block in enumerate(blocks):
        tables = tomllib.loads(block).get("feeds", []) if block.startswith("[[feeds]]") else []
        if tables and wanted in _names(tables[0]):
            lines = [ln for ln in block.split("\n") if not ln.strip().startswith("enabled")]
            lines.insert(1, f"enabled = {'true' if enabled else 'false'}")
            blocks[i] = "\n".join(lines)
            return "".join(blocks)
    raise FeedsFileError(f"no feed named {name_or_id!r} in the feeds file")


def _blocks(text: str) -> list[str]:
    """The text cut before each ``[[feeds]]`` line (the first block is the preamble)."""
    blocks, current = [], []
    for line in text.splitlines(keepends=True):
        if line.strip() == "[[feeds]]" and current:
            blocks.append("".join(current))
            current = []
        current.append(line)
    blocks.append("".join(current))
    return blocks


def _names(table: dict) -> set[str]:
    name = str(table.get("name", ""))
    return {name.lower(), str(table.get("id") or feed_id_for(name))}
