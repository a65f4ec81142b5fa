"""What reaches the terminal: the project's own lines; library noise goes to a log file.

Third-party warnings (``FutureWarning: cd is deprecated`` once per job, torch's
``UserWarning``), log records and printed banners (CHGNet's parameter count)
would interleave with the progress bars of ``alloyscreen run``. While
:func:`library_noise_to` is active they are written to a log file instead (and
to stderr as well with ``verbose``); progress bars and the project's messages
still go to stderr, and stdout is left to the command's result.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


@contextlib.contextmanager
def library_noise_to(path: Path, verbose: bool = False) -> Iterator[Path]:
    """Send warnings, log records and prints of the block to ``path`` (appended); yield the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    with open(path, "a", encoding="utf-8") as stream, warnings.catch_warnings():
        file_handler = logging.StreamHandler(stream)
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.handlers = [file_handler, *([logging.StreamHandler(sys.stderr)] if verbose else [])]
        root.setLevel(logging.INFO)
        warnings.simplefilter("default")  # each warning once per place, as Python shows them
        logging.captureWarnings(True)
        try:
            with contextlib.redirect_stdout(sys.stderr if verbose else stream):
                yield path
        finally:
            logging.captureWarnings(False)
            root.handlers, _ = saved
            root.setLevel(saved[1])
