"""The feed list: FeedSource records loaded from a TOML file and validated.

This module owns the feeds file format (``[[feeds]]`` tables). It does no network I/O.
"""

from __future__ import annotations

import json
import os
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


def feed_from_table(table: Any, where: str) -> FeedSource:
    """Validate one ``[[feeds]]`` table; ``where`` names it in error messages.

    FeedsFileError for whatever is wrong with it, never another exception: a malformed URL or
    a value of the wrong type is a message naming the entry and the field."""
    if not isinstance(table, dict):
        raise FeedsFileError(f"{where}: expected a [[feeds]] table, got {type(table).__name__}")
    unknown = set(table) - _KNOWN
    if unknown:
        raise FeedsFileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FeedsFileError(f"{where}: 'name' must be a non-empty string")
    where = f"{where} ({name!r})"
    url = _checked_url(table.get("url"), where)
    lo, hi = (_interval(table, key, where) for key in ("min_interval", "max_interval"))
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
    feed_id = table.get("id", None)
    if feed_id is not None and not (isinstance(feed_id, str) and feed_id.strip()):
        raise FeedsFileError(f"{where}: 'id' must be a non-empty string, got {feed_id!r}")
    feed_id = feed_id.strip() if feed_id else feed_id_for(name)
    return FeedSource(feed_id, name.strip(), url, lo, hi, tuple(tags), language, enabled)


def _checked_url(url: Any, where: str) -> str:
    """An http(s) URL with a host and a valid port, stripped; FeedsFileError otherwise."""
    if not isinstance(url, str):
        raise FeedsFileError(f"{where}: 'url' must be an http(s) URL, got {url!r}")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urllib parses the port lazily: 99999 raises only here
    except ValueError as exc:
        raise FeedsFileError(f"{where}: 'url' is malformed ({exc}): {url!r}") from None
    if parts.scheme not in ("http", "https"):
        raise FeedsFileError(f"{where}: 'url' must be an http(s) URL, got {url!r}")
    if not parts.hostname:
        raise FeedsFileError(f"{where}: 'url' has no host: {url!r}")
    return url


def _interval(table: dict[str, Any], key: str, where: str) -> int | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 10):
        raise FeedsFileError(f"{where}: {key!r} must be a whole number of seconds >= 10")
    return value


@dataclass(frozen=True)
class FeedsLoad:
    """A feeds file read entry by entry: the valid feeds and one line per refused entry.

    ``kept`` holds the ids the refused entries would have had (from their names), so a feed
    that was fine before keeps its last good version instead of being dropped."""

    feeds: list[FeedSource]
    refused: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


def read_feeds(text: str, source: str = "feeds file") -> FeedsLoad:
    """Parse the TOML text of a feeds file; a bad entry is refused alone (FeedsLoad.refused).

    FeedsFileError only when the file as a whole is unusable (not TOML, no list of tables)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FeedsFileError(f"{source}: not valid TOML: {exc}") from None
    tables = data.get("feeds", [])
    if not isinstance(tables, list):
        raise FeedsFileError(f"{source}: 'feeds' must be an array of tables ([[feeds]])")
    feeds: list[FeedSource] = []
    refused: list[str] = []
    kept: list[str] = []
    ids: dict[str, str] = {}
    for n, table in enumerate(tables, 1):
        try:
            feed = feed_from_table(table, f"{source}: feed #{n}")
            if feed.id in ids:
                raise FeedsFileError(
                    f"{source}: feed #{n} ({feed.name!r}) has the same id as {ids[feed.id]!r}"
                )
        except FeedsFileError as exc:
            refused.append(str(exc))
            kept.extend(_guessed_id(table))
            continue
        ids[feed.id] = feed.name
        feeds.append(feed)
    return FeedsLoad(feeds, tuple(refused), tuple(kept))


def _guessed_id(table: Any) -> list[str]:
    if not isinstance(table, dict):
        return []
    feed_id, name = table.get("id"), table.get("name")
    if isinstance(feed_id, str) and feed_id.strip():
        return [feed_id.strip()]
    return [feed_id_for(name)] if isinstance(name, str) and name.strip() else []


def parse_feeds(text: str, source: str = "feeds file") -> list[FeedSource]:
    """Parse the TOML text of a feeds file into validated FeedSources; FeedsFileError naming
    the first bad entry (and how many more there are) when any entry is refused."""
    return _all_or_error(read_feeds(text, source))


def _all_or_error(load: FeedsLoad) -> list[FeedSource]:
    if load.refused:
        more = f" (and {len(load.refused) - 1} more refused)" if len(load.refused) > 1 else ""
        raise FeedsFileError(load.refused[0] + more)
    return load.feeds


def read_feeds_file(path: str | Path) -> FeedsLoad:
    """Read the feeds file at ``path`` entry by entry (see read_feeds)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise FeedsFileError(f"{path}: feeds file not found (set NEWS_FEEDS_FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedsFileError(f"{path}: cannot read the feeds file: {exc}") from None
    return read_feeds(text, str(path))


def load_feeds(path: str | Path) -> list[FeedSource]:
    """Read and validate the feeds file at ``path``; FeedsFileError when any entry is bad."""
    return _all_or_error(read_feeds_file(path))


def write_feeds_file(path: str | Path, text: str) -> None:
    """Replace the feeds file with ``text`` after validating it (FeedsFileError, nothing
    written), atomically: a reader (the beat) sees the old file or the new, never a part."""
    path = Path(path)
    parse_feeds(text, str(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def set_enabled(text: str, name_or_id: str, enabled: bool) -> str:
    """The feeds file ``text`` with one feed's ``enabled`` set, comments and layout kept.

    FeedsFileError when no feed has that name or id. Works on the ``[[feeds]]`` blocks as
    text so an operator's comments survive the edit.
    """
    blocks = _blocks(text)
    wanted = name_or_id.strip().lower()
    for i, block in enumerate(blocks):
        try:
            tables = tomllib.loads(block).get("feeds", []) if block.startswith("[[feeds]]") else []
        except tomllib.TOMLDecodeError as exc:
            raise FeedsFileError(f"the feeds file is not valid TOML: {exc}") from None
        if tables and wanted in _names(tables[0]):
            lines = [ln for ln in block.split("\n") if not ln.strip().startswith("enabled")]
            lines.insert(1, f"enabled = {'true' if enabled else 'false'}")
            blocks[i] = "\n".join(lines)
            return "".join(blocks)
    raise FeedsFileError(f"no feed named {name_or_id!r} in the feeds file")


def _blocks(text: str) -> list[str]:
    """The text cut before each ``[[feeds]]`` line (the first block is the preamble)."""
    blocks: list[str] = []
    current: list[str] = []
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
