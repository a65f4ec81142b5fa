"""The README's Python example runs as written."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs_a_campaign(database):
    example = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)[0]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, str(README), "exec"), {})
    lines = printed.getvalue().splitlines()
    assert len(lines) == 3
    values = [float(line.split()[1]) for line in lines]
    assert values == sorted(values)
    campaign = database["campaigns"].find_one({"name": "cu-ni-pd-au"})
    assert campaign["status"] == "completed"
    assert database["selections"].count_documents({"campaign_id": campaign["_id"], "outcome.status": "completed"}) == 7
