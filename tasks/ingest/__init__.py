"""One entry to one article: stage (fetch, clean, dedupe), recrawl (entries for stored
articles), progress (re-crawl run counters)."""
