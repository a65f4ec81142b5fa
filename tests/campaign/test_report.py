import re

import numpy as np
import pytest
from click.testing import CliRunner

from alloyscreen.campaign.results.report import expected_best_of_random, load_report_data, write_report
from alloyscreen.cli.main import _Group
from alloyscreen.cli.report import report
from alloyscreen.errors import AlloyscreenError

SECTIONS = ("summary", "ranking", "parity", "learning", "discovery", "pareto", "composition")


def test_report_is_one_html_file_with_every_section(database, finished_campaign, tmp_path):
    path = write_report(database, finished_campaign.campaign_id, tmp_path / "report.html")
    text = path.read_text()
    assert [name for name in SECTIONS if f'<h2 id="{name}">' in text] == list(SECTIONS)
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert [alt for alt, _ in images] == ["last round ranking", "parity", "learning curve", "discovery curve",
                                          "composition maps"]
    assert all(len(data) > 5000 for _, data in images)
    assert not re.search(r'src="(?!data:)', text) and "<script" not in text  # self-contained
    assert "Single-objective campaign" in text and "results-fixture" in text
    # round 1's model never saw the 4 candidates picked in rounds 1-2, round 2's model never saw its own 2
    assert int(re.search(r"not trained on \((\d+) points", text).group(1)) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left behind


def test_report_data_tells_stages_apart_and_holds_out_training_labels(database, finished_campaign):
    data = load_report_data(database, "results-fixture")
    assert set(data.labels.stage) == {"emt", "emt-sqs"}
    assert len(data.first_stage()) == 9 and len(data.labels[data.labels.stage == "emt-sqs"]) == 1
    assert sorted(data.models["round"]) == [1, 2] and list(data.models.n_labels) == [5, 7]
    confirmed = data.labels[data.labels.stage == "emt-sqs"].candidate_id.iloc[0]
    assert confirmed == data.first_stage().idxmin()  # the best of stage 1 climbs the ladder


def test_cli_writes_default_path_and_fails_in_one_line(database, finished_campaign, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    group = _Group(commands={"report": report})
    done = CliRunner().invoke(group, ["report", "results-fixture"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "results-fixture-report.html").stat().st_size > 50_000
    failed = CliRunner().invoke(group, ["report", "nosuchcampaign", "-o", str(tmp_path / "x.html")])
    assert failed.exit_code == 2
    assert failed.stderr.strip().count("\n") == 0 and failed.stderr.startswith("error: no campaign 'nosuchcampaign'")
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(AlloyscreenError, match="no campaign 'nosuchcampaign'"):
        write_report(database, "nosuchcampaign", tmp_path / "y.html")


def test_expected_best_of_random_draws_matches_enumeration():
    values = np.array([3.0, -1.0, 0.5, 2.0])
    expected = expected_best_of_random(values)
    assert expected[0] == pytest.approx(values.mean()) and expected[-1] == pytest.approx(3.0)
    # n = 2: best of each of the 6 pairs, averaged
    pairs = [max(a, b) for i, a in enumerate(values) for b in values[i + 1:]]
    assert expected[1] == pytest.approx(np.mean(pairs))
    assert np.all(np.diff(expected) >= 0)

