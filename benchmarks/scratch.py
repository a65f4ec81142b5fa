"""A throwaway embedded database for a benchmark: a fresh data directory under /tmp, removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alloyscreen.db import server
from alloyscreen.db.client import close_clients


@contextmanager
def scratch_database(name: str) -> Iterator[Path]:
    """Point the settings at a fresh embedded database ``bench_NAME``; yield its data directory; stop and remove it."""
    data_dir = tempfile.mkdtemp(prefix=f"alloyscreen-{name}-", dir="/tmp")
    os.environ.update(ALLOYSCREEN_DATA_DIR=data_dir, ALLOYSCREEN_DB_NAME=f"bench_{name}")
    os.environ.pop("ALLOYSCREEN_MONGO_URI", None)
    try:
        yield Path(data_dir)
    finally:
        close_clients()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
