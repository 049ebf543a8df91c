"""The error classes of the pipeline: one place that says what is transient and what is not.

Transient errors are retried with back-off (timeouts, connection errors, 408/429/5xx);
permanent ones are recorded and not retried (404/410, wrong type, too large, blocked, ...).
Every error has a short ``kind`` used in feed state, logs and counters.
"""

from __future__ import annotations

# What to retry is data, the retry logic one function (tasks.jobs).
RETRY_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class IngestError(Exception):
    """Base of every expected failure of a fetch, a parse or a clean."""

    kind = "error"
    transient = False

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.retry_after = retry_after  # seconds, from a Retry-After header

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": str(self), "status": self.status, "url": self.url}


class TransientError(IngestError):
    kind = "transient"
    transient = True


class PermanentError(IngestError):
    kind = "permanent"


# --- transient kinds ---
class FetchTimeout(TransientError):
    kind = "timeout"


class ConnectError(TransientError):
    kind = "connect"


class ServerError(TransientError):
    """408 / 429 / 5xx: the server asks us to come back later."""

    kind = "http_transient"


class HostBusy(TransientError):
    """The host has no rate token now (or its robots.txt is being fetched by another worker):
    defer the task by retry_after seconds, it is not a failure."""

    kind = "host_busy"


# --- permanent kinds ---
class HttpError(PermanentError):
    kind = "http"


class NotFound(HttpError):
    kind = "not_found"


class BlockedAddress(PermanentError):
    """The SSRF guard refused the resolved address."""

    kind = "blocked"


class TooLarge(PermanentError):
    kind = "too_large"


class WrongContentType(PermanentError):
    kind = "content_type"


class TlsError(PermanentError):
    """The TLS handshake or certificate check failed (verification is always on)."""

    kind = "tls"


class TooManyRedirects(PermanentError):
    kind = "redirects"


class BadUrl(PermanentError):
    kind = "bad_url"


class Disallowed(PermanentError):
    """robots.txt disallows the page."""

    kind = "disallowed"


class FeedError(PermanentError):
    """The bytes are not a usable feed (not XML/JSON, no entries, an XML bomb...)."""

    kind = "feed"


class NoContentError(PermanentError):
    """The page has no article text the cleaner could find."""

    kind = "no_content"


class StoreError(TransientError):
    kind = "store"


def error_for_status(status: int, url: str, retry_after: float | None = None) -> IngestError:
    """The error a non-2xx/304 HTTP status stands for."""
    message = f"HTTP {status}"
    if status in RETRY_HTTP_CODES:
        return ServerError(message, url=url, status=status, retry_after=retry_after)
    if status in (404, 410):
        return NotFound(message, url=url, status=status)
    return HttpError(message, url=url, status=status)
