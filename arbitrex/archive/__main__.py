"""``python -m arbitrex.archive PLAN``: one archive run in a child of collect (its daily
archiving with RETAIN_DAYS), from an ``ArchivePlan``; the exit codes of the commands."""

from __future__ import annotations

import logging
import sys

from arbitrex.archive.run import archive_older_than
from arbitrex.config import load_settings
from arbitrex.errors import ArbitrexError
from arbitrex.plans import ArchivePlan, from_json


def main(argv: list[str]) -> int:
    from arbitrex.cli.common import setup_logging

    try:
        plan = from_json(ArchivePlan, argv[0] if argv else "")
        settings = load_settings(flags={"TICK_QUEUE_BACKEND": plan.store},
                                 env_file=plan.env_file)
        setup_logging(settings.log_level)
        archive_older_than(settings, plan.days)
    except ArbitrexError as exc:
        logging.getLogger("arbitrex.archive").error("%s", exc)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
