"""Feeds as data (pure functions): parse (RSS / Atom through feedparser), jsonfeed, text (feed
HTML to text, dates), identity (entry keys, order) and discover (feed links in a page)."""
