"""How every process of the service logs: one line per event, the same keys everywhere.

Our events carry their subjects as ``key=value`` words in the message (``feed=``, ``url=``,
``entry=``, ``status=``/``outcome=``); this module adds ``task_id`` (the Celery task being run)
and writes each record either as readable text (NEWS_LOG_FORMAT=text) or as one JSON object
per line (NEWS_LOG_FORMAT=json) whose fields always include feed, url, entry, task_id and
outcome (null when the event has none).

Celery's, kombu's and Flower's chatter (banners, "Task ... received", the per-tick
"Sending due task", "Inspect method ... failed", the superuser warning) is shown only at
NEWS_LOG_LEVEL=debug: the console of `newsworker run` is our events.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

EVENT_KEYS = ("feed", "url", "entry", "task_id", "outcome")
# key=value words of a message; a value runs to the next space (URLs and ids have none)
_PAIR = re.compile(r"(?<![\w.])([a-z_]+)=(\S+)")
# Loggers that talk about Celery itself, not about our work: warnings and errors only, or
# (NOISE_CRITICAL) nothing at all below critical, unless the level is debug.
NOISY = ("celery", "kombu", "amqp", "flower", "tornado", "py.warnings")
NOISE_CRITICAL = ("flower.inspector",)  # "Inspect method ... failed" is logged as an error


# The outcome of an event that names none: its kind, by how the message starts (first match).
EVENT_OUTCOMES = (
    ("article not stored", "failed"),
    ("entry failed", "failed"),
    ("transient failure", "retry"),
    ("store failed", "retry"),
    ("poll failed", "error"),
    ("poll deferred", "deferred"),
    ("duplicate dropped", "dropped_duplicate"),
    ("page failed, using the feed's content", "fallback"),
)


def event_fields(message: str) -> dict[str, str]:
    """The key=value words of a message, and its outcome: ``outcome=``, else a ``status=``
    that is not an HTTP code (a poll's ok / not_modified / unchanged), else the kind of
    event (EVENT_OUTCOMES; "article <label> ..." is that label)."""
    fields = {k: v.rstrip(",;:") for k, v in _PAIR.findall(message)}
    if "outcome" in fields:
        return fields
    status = fields.get("status", "")
    if status and not status.isdigit() and status != "None":
        fields["outcome"] = status
    elif outcome := event_outcome(message):
        fields["outcome"] = outcome
    return fields


def event_outcome(message: str) -> str | None:
    for start, outcome in EVENT_OUTCOMES:
        if message.startswith(start):
            return outcome
    words = message.split(" ", 2)
    if words[0] == "article" and len(words) > 2 and "=" not in words[1]:
        return words[1]  # "article stored feed=..." (tasks.jobs.store_article)
    return None


def current_task_id() -> str | None:
    from celery import current_task

    try:
        request = current_task.request if current_task else None
    except Exception:  # noqa: BLE001 - no task context (beat, supervisor, CLI)
        return None
    return getattr(request, "id", None) if request else None


class TaskIdFilter(logging.Filter):
    """Puts the running task's id on every record (None outside a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "task_id"):
            record.task_id = current_task_id()
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-01 19:40:00 INFO tasks.poll.stage: polled feed=x ... task_id=...``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        task_id = getattr(record, "task_id", None)
        if task_id and "task_id=" not in line:
            first, sep, rest = line.partition("\n")  # before a traceback, if any
            line = f"{first} task_id={task_id}{sep}{rest}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event keys, exc."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        fields = event_fields(message)
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        for key in EVENT_KEYS:
            out[key] = fields.pop(key, None)
        task_id = getattr(record, "task_id", None)
        if task_id:
            out["task_id"] = task_id
        out.update({k: v for k, v in fields.items() if k not in out})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(level: str, fmt: str = "text", stream=None) -> None:
    """Set up the root logger of this process (replacing any handler) and quiet the noise."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(TaskIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet_noise(level)


def quiet_noise(level: str) -> None:
    """Celery, kombu and Flower log at warning and above only, unless the level is debug."""
    logging.captureWarnings(True)  # the superuser SecurityWarning goes through py.warnings
    debug = level.lower() == "debug"
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in NOISE_CRITICAL:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.CRITICAL)
    if not debug:  # the warning filter would print to stderr before logging sees it
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
