"""A throwaway embedded database for a benchmark: a fresh data directory under /tmp, removed afterwards.

The server is started as the scripts normally start it (on the first connection, or ``server.start()``)
and killed at the end: its data is thrown away, so it needs no clean shutdown, and an idle
``secantusd`` takes about 2 s to notice a SIGTERM (``server.stop()``), which a ``--quick`` run
would pay at every exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alloyscreen.db import server
from alloyscreen.db.client import close_clients


@contextmanager
def scratch_database(name: str) -> Iterator[Path]:
    """Point the settings at a fresh embedded database ``bench_NAME``; yield its data directory; kill and remove it."""
    data_dir = tempfile.mkdtemp(prefix=f"alloyscreen-{name}-", dir="/tmp")
    os.environ.update(ALLOYSCREEN_DATA_DIR=data_dir, ALLOYSCREEN_DB_NAME=f"bench_{name}")
    os.environ.pop("ALLOYSCREEN_MONGO_URI", None)
    try:
        yield Path(data_dir)
    finally:
        close_clients()
        state = server.find_server()
        if state is not None:
            os.kill(state.pid, signal.SIGKILL)
            while server.pid_alive(state.pid):
                time.sleep(0.01)
        shutil.rmtree(data_dir, ignore_errors=True)
