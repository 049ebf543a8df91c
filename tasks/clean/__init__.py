"""The cleaner: one page's HTML to an article record (ARTICLE_FORMAT.md).

``clean_html`` and ``article_from_entry`` are the stage's entry points (tasks.clean.article);
the modules beside them are its passes: dom (parse, one walk), body (the article container),
hints (JSON-LD bodies, itemprop), meta (title, authors, canonical URL), dates, jsonld, sites
(optional per-site selectors).
"""

from tasks.clean.article import article_from_entry, clean_html

__all__ = ["article_from_entry", "clean_html"]
