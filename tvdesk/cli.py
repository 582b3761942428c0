"""The `tvdesk` command: one sub-command per job, each defined in `tvdesk.commands`.

Errors a user can act on are printed as one line with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from pathlib import Path

from tvdesk.commands import (
    cameras,
    counts,
    data,
    demo,
    gui,
    jobs,
    models,
    retrain,
    run,
    train,
    worker,
)
from tvdesk.commands.errors import UserError, describe_os_error
from tvdesk.config import HOME_ENV
from tvdesk.core.store import database_path
from tvdesk.core.store.connection import describe_database_error

COMMANDS = (gui, demo, run, cameras, counts, data, train, worker, jobs, retrain, models)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvdesk",
        description="Traffic-camera monitor: live detection, drift alarms, approve-to-retrain.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--home",
        dest="app_home",
        type=Path,
        metavar="DIR",
        help=f"the app's home folder, as ${HOME_ENV}: its settings.toml, and its data unless "
        "that sets data_dir (default: the per-user data folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:  # the global options, then the default command
        args = parser.parse_args([*(sys.argv[1:] if argv is None else argv), "gui"])
    if args.app_home is not None:  # for this process and the workers it starts
        os.environ[HOME_ENV] = str(args.app_home.expanduser().absolute())
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        return _error(str(exc))
    except sqlite3.DatabaseError as exc:  # a damaged or full database met in a query
        return _error(describe_database_error(exc, database_path()))
    except OSError as exc:
        message = describe_os_error(exc)
        if message is None:
            raise
        return _error(message)
    except KeyboardInterrupt:
        print("tvdesk: interrupted", file=sys.stderr)
        return 130


def _error(message: str) -> int:
    print(f"tvdesk: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
