"""The `newsworker` command: one entry point, sub-commands registered by the modules of this package.

Every command function takes the parsed arguments and returns an exit code. Expected errors
(a wrong setting, a bad feeds file, a server that does not answer) end as one line on stderr
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import redis

from config.feeds import FeedsFileError
from config.settings import SettingsError, load_settings
from tasks.clean.sites import SitesFileError
from tasks.errors import IngestError
from worker.cli import bench, failed, feeds, ops, recrawl, service
from worker.cli.common import CliError
from worker.connect import RedisUnavailable

# Each module has register(subparsers) adding its commands with set_defaults(func=...).
COMMAND_MODULES = (
    service,  # run, export, show, clean, settings
    feeds,  # feeds ..., status, poll
    recrawl,  # recrawl, retry-failed
    failed,  # failed list, failed show, failed drop
    ops,  # health, metrics (status --json is built there too)
    bench,  # bench extract, bench seen
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsworker",
        description="News ingestion worker: feeds in, clean articles out.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command != "run":  # the service logs; a command speaks through its own lines
        logging.basicConfig(level=logging.ERROR, format="newsworker: %(name)s: %(message)s")
    try:
        args.settings = load_settings()  # once, here; every command takes it from args
        return int(args.func(args) or 0)
    except (
        SettingsError,
        FeedsFileError,
        SitesFileError,
        CliError,
        RedisUnavailable,
        IngestError,
    ) as exc:
        print(f"newsworker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except redis.RedisError as exc:
        print(f"newsworker: Redis: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `newsworker export | head`
        return 0
    except OSError as exc:  # a file or directory the command needs, named by the OS
        where = f" {exc.filename}" if exc.filename else ""
        print(f"newsworker:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
