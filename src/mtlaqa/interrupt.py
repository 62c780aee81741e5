"""Ctrl+C on the command line: the word "interrupted" and exit status 130, never a traceback.

Importing this module (cli.py does it before its heavy imports: torch takes seconds) makes Ctrl+C
during start-up end the process at once; nothing is written yet, so nothing needs cleaning up.
Once a command runs, `raise_from_now_on` puts Python's KeyboardInterrupt back, so `finally` blocks
remove temporary files and the CLI's group prints the same line.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

INTERRUPTED_STATUS = 130


def _startup_handler(signum: int, frame: FrameType | None) -> None:
    try:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    finally:
        os._exit(INTERRUPTED_STATUS)


def started_as_cli() -> bool:
    """The process is the `mtlaqa` command or `python -m mtlaqa.cli` (not a library user)."""
    return Path(sys.argv[0] if sys.argv else "").name in ("mtlaqa", "mtlaqa.exe", "cli.py")


def guard_startup() -> None:
    """Ctrl+C ends the process with "interrupted" (only when Python's own handler is in place)."""
    if not started_as_cli() or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _startup_handler)


def raise_from_now_on() -> None:
    """Back to KeyboardInterrupt, so that a running command can clean up before exiting."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is _startup_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)


guard_startup()
