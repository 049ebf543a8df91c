"""Per-site selector overrides for the cleaner: the sites file and applying its rules.

Owned here: the sites file format (TOML, NEWS_SITES_FILE), validated at load time so that a
bad entry fails the start with one line naming the file and the entry, and the lookup of
the rule of a URL's host (the host itself or any parent domain). A rule names the body
container (a CSS selector, BeautifulSoup ``select``) and optional selectors of elements to
drop first. Example::

    [[sites]]
    host = "example-news.com"          # also www.example-news.com, m.example-news.com
    body = "div.story-body"            # every match, in page order
    drop = [".inline-promo", "div.newsletter"]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soupsieve
from bs4 import BeautifulSoup, Tag

MAX_SELECTED = 200  # body containers taken from one page at most


class SitesFileError(ValueError):
    """The sites file is missing or wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class SiteRule:
    """The override of one host: its body selector and the selectors dropped first."""

    host: str
    body: Any  # a compiled soupsieve selector
    drop: tuple[Any, ...] = ()

    def apply(self, soup: BeautifulSoup) -> None:
        """Remove the elements the drop selectors match (before the walk)."""
        for selector in self.drop:
            for tag in selector.select(soup):
                tag.decompose()

    def bodies(self, soup: BeautifulSoup) -> list[Tag]:
        """The body containers the selector matches, outermost only, in page order."""
        found = self.body.select(soup, limit=MAX_SELECTED)
        ids = {id(t) for t in found}
        return [t for t in found if not any(id(a) in ids for a in t.parents)]


@dataclass(frozen=True)
class SiteRules:
    """All site rules, by host."""

    rules: tuple[SiteRule, ...] = ()

    def rule_for(self, host: str) -> SiteRule | None:
        """The rule of host or of its nearest parent domain, or None."""
        by_host = {r.host: r for r in self.rules}
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            rule = by_host.get(".".join(labels[start:]))
            if rule is not None:
                return rule
        return None


def _compile(value: Any, where: str, key: str) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise SitesFileError(f"{where}: {key!r} must be a non-empty CSS selector")
    try:
        return soupsieve.compile(value)
    except (soupsieve.SelectorSyntaxError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise SitesFileError(f"{where}: {key!r} is not a valid CSS selector: {first}") from None


def rule_from_table(table: Any, where: str) -> SiteRule:
    """Validate one ``[[sites]]`` table; ``where`` names it in error messages."""
    if not isinstance(table, dict):
        raise SitesFileError(f"{where}: must be a table")
    unknown = set(table) - {"host", "body", "drop"}
    if unknown:
        raise SitesFileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    host = table.get("host")
    if not isinstance(host, str) or "." not in host or "/" in host or " " in host.strip():
        raise SitesFileError(f"{where}: 'host' must be a host name such as 'example.com'")
    drop = table.get("drop", [])
    if not isinstance(drop, list):
        raise SitesFileError(f"{where}: 'drop' must be a list of CSS selectors")
    selectors = tuple(_compile(d, where, "drop") for d in drop)
    body = _compile(table.get("body"), where, "body")
    return SiteRule(host.strip().lower().rstrip("."), body, selectors)


def load_sites(path: str | Path) -> SiteRules:
    """Read and validate the sites file; SitesFileError naming the file and entry if bad."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise SitesFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SitesFileError(f"{path}: not valid TOML: {exc}") from None
    tables = data.get("sites", [])
    if set(data) - {"sites"} or not isinstance(tables, list):
        raise SitesFileError(f"{path}: expected only [[sites]] tables")
    rules, seen = [], set()
    for number, table in enumerate(tables, 1):
        where = f"{path}: sites entry {number}"
        if isinstance(table, dict) and isinstance(table.get("host"), str):
            where += f" (host {table['host']!r})"
        rule = rule_from_table(table, where)
        if rule.host in seen:
            raise SitesFileError(f"{where}: host {rule.host!r} appears twice")
        seen.add(rule.host)
        rules.append(rule)
    return SiteRules(tuple(rules))
