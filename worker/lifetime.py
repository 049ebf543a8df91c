"""How long the services of tasks live: one set per process, built lazily in each Celery
prefork child (never shared across a fork), dropped by :func:`reset`."""

from __future__ import annotations

import os
import threading

from config.settings import Settings, load_settings
from tasks import services
from tasks.services import Resources

_current: tuple[int, Resources] | None = None
_lock = threading.Lock()


def per_process() -> Resources:
    """The services of this process (rebuilt after a fork), shared by its pool threads."""
    global _current
    current = _current
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _lock:
        if _current is None or _current[0] != os.getpid():
            resources = Resources(load_settings())
            for name in ("redis", "http", "politeness", "seen", "leases", "duplicates"):
                getattr(resources, name)  # built once here, not raced for by the threads
            _current = (os.getpid(), resources)
        return _current[1]


def install() -> None:
    """Tasks in this process take their services from :func:`per_process`."""
    services.provide(per_process)


def reset(settings: Settings | None = None) -> Resources:
    """Drop this process's services (tests, settings changes); the next are built anew."""
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[1].close()
    _current = (os.getpid(), Resources(settings or load_settings()))
    install()
    return _current[1]
