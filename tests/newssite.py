"""A small fake news site for the end-to-end tests: an RSS 2.0 and an Atom feed, story pages
with the usual chrome around the article, served by tests/httpserver.py on 127.0.0.1."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from tests.httpserver import LocalServer, Reply, Request

WORDS = (
    "council river budget school harbour election station minister storm market bridge "
    "festival hospital court railway museum village factory parliament airport farmers "
    "teachers engineers residents officials volunteers researchers"
).split()


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    author: str

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def make_story(n: int, feed: str) -> Story:
    """A story with distinct, deterministic text (so no two stories look alike)."""
    seed = hashlib.sha256(f"{feed}-{n}".encode()).digest()
    words = [WORDS[b % len(WORDS)] for b in seed]
    paragraphs = tuple(
        f"Paragraph {i + 1} of story {n} from the {feed} desk: the {words[i]} and the "
        f"{words[i + 8]} met on Tuesday, and the {words[i + 16]} said \u201cwe will see\u201d "
        f"about the {words[(i + 3) % 32]} plans for the coming year."
        for i in range(4)
    )
    published = datetime(2026, 11, 1, 8, 0, tzinfo=UTC) + timedelta(hours=n)
    title = f"Story {n} of the {feed} desk: {words[0]} and {words[1]}"
    return Story(f"{feed}-{n}", title, paragraphs, published, f"Reporter {n}")


def page_html(story: Story) -> str:
    paras = "\n".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(story.title)} | The Test Times</title>
<meta property="og:site_name" content="The Test Times">
<meta property="article:published_time" content="{story.published.isoformat()}">
<meta name="author" content="{escape(story.author)}">
</head><body>
<div class="cookie-banner">We use cookies. <button>Accept all cookies</button></div>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<main><article>
<h1>{escape(story.title)}</h1>
<div class="share-tools"><a href="#">Share on Facebook</a> <a href="#">Print this page</a></div>
<time datetime="{story.published.isoformat()}">{story.published:%B %d, %Y}</time>
{paras}
<aside class="related"><h3>Related stories</h3><ul><li><a href="/x">Another thing happened somewhere else</a></li></ul></aside>
</article></main>
<footer>Copyright The Test Times. All rights reserved. <a href="/about">About us</a></footer>
</body></html>"""


def rss(stories: list[Story], base: str) -> str:
    items = "\n".join(
        f"<item><title>{escape(s.title)}</title><link>{base}/news/{s.slug}.html</link>"
        f'<guid isPermaLink="false">rss-{s.slug}</guid>'
        f"<pubDate>{format_datetime(s.published)}</pubDate>"
        f"<description>{escape(s.paragraphs[0])}</description></item>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Test Times RSS</title><link>{base}/</link><description>test</description>"
        f"{items}</channel></rss>"
    )


def atom(stories: list[Story], base: str) -> str:
    entries = "\n".join(
        f'<entry><title>{escape(s.title)}</title><link href="{base}/news/{s.slug}.html"/>'
        f"<id>urn:test:{s.slug}</id><updated>{s.published.isoformat()}</updated>"
        f"<summary>{escape(s.paragraphs[0])}</summary></entry>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Test Times Atom</title><id>urn:test:atom</id>"
        f"<updated>2026-11-02T00:00:00Z</updated>{entries}</feed>"
    )


class Conditional:
    """A feed route that honours If-None-Match / If-Modified-Since, as a good server does."""

    def __init__(self, body: str, content_type: str) -> None:
        self.body = body.encode("utf-8")
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'
        self.modified = format_datetime(datetime(2026, 11, 2, tzinfo=UTC), usegmt=True)
        self.content_type = content_type

    def __call__(self, req: Request) -> Reply:
        if req.headers.get("if-none-match") == self.etag:
            return Reply(304, {"ETag": self.etag})
        headers = {
            "Content-Type": self.content_type,
            "ETag": self.etag,
            "Last-Modified": self.modified,
        }
        return Reply(200, headers, self.body)


class SlowPage:
    def __init__(self, html: str, delay: float) -> None:
        self.html, self.delay = html, delay

    def __call__(self, req: Request) -> Reply:
        time.sleep(self.delay)
        return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, self.html)


def serve_site(
    server: LocalServer, rss_count: int = 12, atom_count: int = 10, page_delay: float = 0.0
) -> list[Story]:
    """Route the two feeds and every story page; return all stories."""
    base = server.url("").rstrip("/")
    rss_stories = [make_story(n, "rss") for n in range(rss_count)]
    atom_stories = [make_story(n, "atom") for n in range(atom_count)]
    server.route("/rss.xml", Conditional(rss(rss_stories, base), "application/rss+xml"))
    server.route("/atom.xml", Conditional(atom(atom_stories, base), "application/atom+xml"))
    server.route(
        "/robots.txt",
        Reply(200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /private/\n"),
    )
    for story in rss_stories + atom_stories:
        server.route(f"/news/{story.slug}.html", SlowPage(page_html(story), page_delay))
    return rss_stories + atom_stories


def feeds_toml(server: LocalServer) -> str:
    return (
        f'[[feeds]]\nname = "Test RSS"\nurl = "{server.url("/rss.xml")}"\ntags = ["test"]\n\n'
        f'[[feeds]]\nname = "Test Atom"\nurl = "{server.url("/atom.xml")}"\n'
    )
