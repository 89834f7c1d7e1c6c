"""``edgewise check FILE``: validate a configuration without starting anything.

Meant for the moment after editing a gateway's config and before restarting the
service: exit status 0 means the agent will accept the file, 2 means it will
not, and every problem is printed on its own line as ``FILE:LINE:COL: ...`` so
editors and ``grep`` can use the output.
"""

from __future__ import annotations

import sys
from typing import TextIO

from agent.config.errors import ConfigError
from agent.config.loader import load_config

EXIT_OK = 0
EXIT_INVALID = 2


def check_main(path: str, out: TextIO | None = None) -> int:
    """Check the file at ``path``; print the verdict to ``out``; return the exit code.

    Without ``out``, problems go to stderr (like ``edgewise run``'s) and "ok" to stdout.
    """
    try:
        load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr if out is None else out)
        return EXIT_INVALID
    print(f"{path}: ok", file=sys.stdout if out is None else out)
    return EXIT_OK
