"""What every command module shares: the operator-facing error and argument types."""

from __future__ import annotations

import argparse
from datetime import datetime


class CliError(Exception):
    """An operator-facing error: printed as one line, exit code 2."""


def date_arg(value: str) -> str:
    """An argparse type: a date or date-time in ISO 8601 (2026-11-01, 2026-11-01T08:00+02:00)."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-11-01 or 2026-11-01T08:00:00+00:00, got {value!r}"
        ) from None
    return value
