"""Re-crawl planning (pure): which entries a re-crawl of a URL or of stored articles sends.

A re-crawl bypasses "seen" marks and feed validators, never the content hash: the store turns
an unchanged body into a touch and a changed one into a new revision.
"""

from __future__ import annotations

from tasks.dedupe import entry_key
from tasks.models import Article, FeedEntry


def entry_for_article(article: Article) -> FeedEntry:
    """The entry that fetches a stored article's page again, under its original identity."""
    return FeedEntry(
        key=entry_key(article.entry_id, article.url, article.title, article.published_at),
        feed_id=article.feed_id or "",
        feed_url=article.feed_url or "",
        entry_id=article.entry_id,
        link=article.url,
        title=article.title,
        published=article.published_at,
        summary=article.summary,
        feed_title=article.source or None,
        recrawl=True,
    )


def entry_for_url(url: str, stored: Article | None = None) -> FeedEntry:
    """An entry for one URL: the stored article's identity when there is one."""
    if stored is not None:
        return entry_for_article(stored)
    return FeedEntry(
        key=entry_key(None, url, None, None), feed_id="", feed_url="", link=url, recrawl=True
    )
