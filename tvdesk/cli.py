"""The `tvdesk` command: one sub-command per job, each defined in `tvdesk.commands`.

Errors a user can act on are printed as one line with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tvdesk.commands import cameras, data, demo, gui, jobs, models, retrain, run, train, worker
from tvdesk.commands.errors import UserError

COMMANDS = (gui, demo, run, cameras, data, train, worker, jobs, retrain, models)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvdesk",
        description="Traffic-camera monitor: live detection, drift alarms, approve-to-retrain.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
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
    if args.command is None:
        args = parser.parse_args(["gui", *(argv or sys.argv[1:])])
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"tvdesk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tvdesk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
