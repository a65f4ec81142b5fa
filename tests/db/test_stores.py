import stat

import yaml

from alloyscreen.db import server
from alloyscreen.db.stores import SettingsMongoStore, write_launchpad_file
from alloyscreen.settings import get_settings


def test_launchpad_file_is_private_even_when_it_existed_looser(database, tmp_path):
    path = tmp_path / "my_launchpad.yaml"
    path.write_text("old\n")
    path.chmod(0o644)
    write_launchpad_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["host"] == server.read_state().uri and config["name"] == get_settings().db_name
    assert "w" not in config["mongoclient_kwargs"]  # the embedded URI asks for journaled writes itself


def test_job_store_and_launchpad_file_write_durably_on_a_user_uri(database, tmp_path, monkeypatch):
    uri = f"mongodb://127.0.0.1:{server.read_state().port}/?directConnection=true"
    monkeypatch.setenv("ALLOYSCREEN_MONGO_URI", uri)
    store = SettingsMongoStore("durable_outputs")
    store.connect()
    try:
        assert store._collection.write_concern.document == {"w": "majority", "j": True}
    finally:
        store.close()
    options = yaml.safe_load(write_launchpad_file(tmp_path / "lp.yaml").read_text())["mongoclient_kwargs"]
    assert (options["w"], options["journal"]) == ("majority", True)
