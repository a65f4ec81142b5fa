from pathlib import Path

from alloyscreen.db.init import schema_file_contents

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "db_schemas"


def test_checked_in_schemas_match_the_models():
    generated = schema_file_contents()
    on_disk = {path.name: path.read_text() for path in SCHEMA_DIR.glob("*.json")}
    assert set(on_disk) == set(generated), "run `alloyscreen db write-schemas` and commit db_schemas/"
    for name, text in generated.items():
        assert on_disk[name] == text, f"db_schemas/{name} is stale: run `alloyscreen db write-schemas`"
