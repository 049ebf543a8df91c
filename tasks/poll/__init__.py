"""Polling feeds: stage (the beat tick and one poll), schedule (when next, pure), registry
(the feeds and their state in Redis)."""
