"""`top` and the report rank by the most trusted label; `status` and the report tell how far the stages agree."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.results.queries import campaign_status, top_candidates
from alloyscreen.campaign.results.report import write_report
from alloyscreen.cli.campaign import status, top

CELL = {"method": "random", "supercell": [1, 1, 1]}
MULTI = {
    "name": "trusted-ranking", "seed": 4,
    "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                   "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
    "initial_random": 5, "acquisition": {"batch_size": 2, "strategy": "ucb"},
    "stopping": {"max_rounds": 8, "patience": 8},
    "fidelity": {"mode": "multi", "share": 0.05},  # one second-stage label a round, whatever the timings
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 15, "structure": CELL},
               {"name": "emt-sqs", "calculator": "emt", "max_validations": 6,
                "structure": {"method": "sqs", "supercell": [2, 1, 1], "iterations": 300}}],
}


@pytest.fixture(scope="module")
def multi_campaign(database):
    """EMT on one cell, and EMT on an SQS inside the loop: one SQS label a round (5), not only EMT's best.

    A share far below what one SQS calculation costs buys one a round whatever
    the measured core-hours, so the campaign is the same on every run.
    """
    return run_to_the_end(MULTI)


def _stage_values(database, campaign_id: str, stage: str) -> dict[str, float]:
    """Candidate id -> the stage's label, read from the selections (not through the code under test)."""
    return {s["candidate_id"]: s["outcome"]["values"]["mixing_energy_per_atom"] for s in database["selections"].find(
        {"campaign_id": campaign_id, "stage": stage, "outcome.status": "completed"})}


def _ranking_formulas(text: str) -> list[str]:
    """The formulas of the report's ranking table, in its order."""
    section = text[text.index('<h2 id="ranking">'):text.index('<h2 id="parity">')]
    table = section[section.index("<table>"):section.index("</table>")]
    return re.findall(r'<tr><td>\d+</td><td class="l">([^<]+)</td>', table)


def test_a_candidate_labelled_higher_up_ranks_above_one_only_the_first_stage_saw(database, multi_campaign, tmp_path):
    key = multi_campaign.campaign_id
    emt, sqs = _stage_values(database, key, "emt"), _stage_values(database, key, "emt-sqs")
    assert len(sqs) >= 3 and set(sqs) < set(emt)
    rows = top_candidates(database, key, count=100)
    ids = [row["candidate_id"] for row in rows]
    assert sorted(ids) == sorted(emt)
    assert [row["ranked_by_stage"] for row in rows] == ["emt-sqs"] * len(sqs) + ["emt"] * (len(emt) - len(sqs))
    assert ids[:len(sqs)] == sorted(sqs, key=sqs.get)  # by the SQS label, lowest mixing energy first
    assert ids[len(sqs):] == sorted(set(emt) - set(sqs), key=emt.get)
    assert all(row["emt"] == emt[row["candidate_id"]] and row.get("emt-sqs") == sqs.get(row["candidate_id"])
               for row in rows)  # every stage's label stays visible
    # the scenario the ranking is for: EMT alone would put an unconfirmed candidate above a confirmed one
    overtaken = [(high, low) for high in sqs for low in set(emt) - set(sqs) if emt[low] < emt[high]]
    assert overtaken
    assert all(ids.index(high) < ids.index(low) for high, low in overtaken)

    printed = CliRunner().invoke(top, [key, "-n", "20", "--json"])
    assert printed.exit_code == 0 and json.loads(printed.output) == rows[:20]
    table = CliRunner().invoke(top, [key, "-n", str(len(rows))]).output.splitlines()
    assert table[0].split() == ["rank", "formula", "proto", "ranked_by", "emt", "emt-sqs"]
    assert [line.split()[1] for line in table[1:]] == [row["formula"] for row in rows]
    assert [line.split()[3] for line in table[1:]] == [row["ranked_by_stage"] for row in rows]
    assert table[len(sqs) + 1].split()[-1] == "-"  # the first row EMT alone ranks has no SQS label

    text = write_report(database, key, tmp_path / "report.html").read_text()
    assert _ranking_formulas(text) == [row["formula"] for row in rows[:15]]
    assert "<th>ranked by stage</th>" in text and text.count('<td class="l">emt-sqs (emt)</td>') == len(sqs)


def test_status_and_report_give_each_pair_of_stages_their_rank_correlation(database, multi_campaign, tmp_path):
    key = multi_campaign.campaign_id
    emt, sqs = _stage_values(database, key, "emt"), _stage_values(database, key, "emt-sqs")
    both = sorted(sqs)
    x, y = np.array([emt[c] for c in both]), np.array([sqs[c] for c in both])
    expected = spearmanr(x, y).statistic
    same_sign = np.mean(np.sign(x) == np.sign(y))
    assert len(both) >= 3 and abs(expected) < 1 and 0 < same_sign < 1  # numbers that could come out wrong
    agreement = campaign_status(database, key)["stage_agreement"]
    assert agreement == [{"stages": ["emt", "emt-sqs"], "property": "mixing_energy_per_atom", "n": len(both),
                          "spearman": pytest.approx(expected), "sign_agreement": pytest.approx(same_sign),
                          "note": None}]

    shown = CliRunner().invoke(status, [key])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[-2:] == ["stage agreement (candidates labelled at both stages):",
                          f"  emt -> emt-sqs: n {len(both)}, Spearman {expected:.3f}, same sign {same_sign:.0%}"]
    as_json = json.loads(CliRunner().invoke(status, [key, "--json"]).output)
    assert as_json["stage_agreement"] == agreement

    text = write_report(database, key, tmp_path / "report.html").read_text()
    summary = text[text.index('<h2 id="summary">'):text.index('<h2 id="ranking">')]
    assert (f'<td class="l">emt → emt-sqs</td><td class="l">mixing_energy_per_atom</td><td>{len(both)}</td>'
            f"<td>{expected:.4g}</td><td>{same_sign:.4g}</td>") in summary


def test_too_few_candidates_at_both_stages_are_named_not_computed(database, finished_campaign, tmp_path):
    key = finished_campaign.campaign_id
    agreement = campaign_status(database, key)["stage_agreement"]
    note = "n = 1 < 3: too few candidates labelled at both stages"
    assert agreement == [{"stages": ["emt", "emt-sqs"], "property": "mixing_energy_per_atom", "n": 1,
                          "spearman": None, "sign_agreement": None, "note": note}]
    assert CliRunner().invoke(status, [key]).output.splitlines()[-1] == f"  emt -> emt-sqs: {note}"
    text = write_report(database, key, tmp_path / "report.html").read_text()
    assert '<td>1</td><td>-</td><td>-</td><td class="l">n = 1 &lt; 3: too few' in text
    rows = top_candidates(database, key, count=20)
    confirmed = _stage_values(database, key, "emt-sqs")
    assert [row["ranked_by_stage"] for row in rows] == ["emt-sqs"] + ["emt"] * (len(rows) - 1)
    assert rows[0]["candidate_id"] in confirmed and len(rows) == 9

