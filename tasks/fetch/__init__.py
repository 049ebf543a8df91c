"""Fetching from other people's servers: http (the only HTTP client), netguard (the SSRF guard
inside connection setup), politeness (per-host budget shared through Redis), robots."""
