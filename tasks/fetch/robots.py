"""robots.txt as RFC 9309 reads it: parse the text for one user agent, then match paths.

This module is pure: it takes text and returns rules; fetching and caching are
tasks.fetch.politeness's job. Matching follows RFC 9309 §2.2.2: the longest matching pattern wins,
an allow wins a tie, `*` matches any run of characters and a final `$` anchors the end.
Crawl-delay is not in the RFC but widely used; we keep it from the matched group.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class RobotsRules:
    """The rules of the group(s) that apply to us: (allow?, pattern) pairs and a crawl delay."""

    rules: tuple[tuple[bool, str], ...] = ()
    crawl_delay: float | None = None

    def allows(self, path: str) -> bool:
        """Whether path (with its query) may be fetched; /robots.txt itself always may."""
        if path == "/robots.txt":
            return True
        best: tuple[int, bool] = (-1, True)
        for allow, pattern in self.rules:
            if _compiled(pattern).match(path):
                best = max(best, (len(pattern), allow))
        return best[1]

    def to_json(self) -> str:
        return json.dumps({"rules": self.rules, "delay": self.crawl_delay})

    @classmethod
    def from_json(cls, raw: str | bytes) -> RobotsRules:
        data = json.loads(raw)
        return cls(tuple((bool(a), p) for a, p in data["rules"]), data.get("delay"))


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(((False, "/"),))


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups name us by: `newsworker/0.1 (+url)` -> `newsworker`."""
    return re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0].lower()


def parse_robots(text: str, token: str) -> RobotsRules:
    """The rules for product token (lower case), else the `*` group's, else allow all."""
    groups = _groups(text)
    mine = [g for agents, g in groups if token in agents]
    chosen = mine or [g for agents, g in groups if "*" in agents]
    rules = tuple(rule for g in chosen for rule in g["rules"])
    delays = [g["delay"] for g in chosen if g["delay"] is not None]
    return RobotsRules(rules, max(delays) if delays else None)


def _groups(text: str) -> list[tuple[set[str], dict]]:
    """(user agents, {rules, delay}) of each group, in file order (RFC 9309 §2.1)."""
    groups: list[tuple[set[str], dict]] = []
    in_agents = False
    for key, value in _lines(text):
        if key == "user-agent":
            if not in_agents:
                groups.append((set(), {"rules": [], "delay": None}))
            groups[-1][0].add(agent_token(value) if value != "*" else "*")
            in_agents = True
            continue
        in_agents = False
        if groups and key in ("allow", "disallow") and value:
            groups[-1][1]["rules"].append((key == "allow", value))
        elif groups and key == "crawl-delay":
            groups[-1][1]["delay"] = _delay(value)
    return groups


def _lines(text: str):
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        key, sep, value = line.partition(":")
        if sep:
            yield key.strip().lower(), value.strip()


def _delay(value: str) -> float | None:
    try:
        delay = float(value)
    except ValueError:
        return None
    return delay if 0 < delay < 86_400 else None


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = ".*".join(re.escape(part) for part in pattern.rstrip("$").split("*"))
    return re.compile(body + ("$" if anchored else ""), re.DOTALL)
