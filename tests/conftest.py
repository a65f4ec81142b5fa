"""Session fixtures: one real embedded database server for the whole test run."""

from __future__ import annotations

import os
import uuid

import pytest

from alloyscreen.db import server
from alloyscreen.db.client import close_clients, get_database
from alloyscreen.db.init import init_database
from alloyscreen.settings import get_settings


@pytest.fixture(scope="session")
def database_env(tmp_path_factory):
    """Point the settings at a fresh data dir and database; start the embedded server."""
    data_dir = tmp_path_factory.mktemp("alloyscreen-data")
    keys = ("ALLOYSCREEN_DATA_DIR", "ALLOYSCREEN_DB_NAME", "ALLOYSCREEN_MONGO_URI")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ["ALLOYSCREEN_DATA_DIR"] = str(data_dir)
    os.environ["ALLOYSCREEN_DB_NAME"] = f"test_{uuid.uuid4().hex[:8]}"
    os.environ.pop("ALLOYSCREEN_MONGO_URI", None)
    server.start(get_settings())
    yield get_settings()
    close_clients()
    server.stop(get_settings())
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def database(database_env):
    """The project database on the embedded server, initialised with validators and indexes."""
    db = get_database()
    init_database(db)
    return db
