"""A two-objective campaign: EMT mixing energy (learned) and raw-material cost (known from the composition)."""

import re

import pytest
from click.testing import CliRunner
from pymatgen.analysis.cost import CostAnalyzer, CostDBElements
from pymatgen.core import Composition

from alloyscreen.campaign.engine.execution import run_here
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.results.queries import campaign_labels, campaign_status, top_candidates
from alloyscreen.campaign.results.report import write_report
from alloyscreen.campaign.spec import CampaignSpec, load_spec
from alloyscreen.cli.campaign import top


def _spec(name: str, shards: int = 1) -> dict:
    return {
        "name": name, "seed": 5,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "objectives": [{"property": "mixing_energy"}, {"property": "cost"}],
        "initial_random": 5, "confirm_top": 2,
        "acquisition": {"batch_size": 3, "strategy": "ucb", "chunk_size": 7, "shards": shards},
        "stages": [
            {"name": "emt", "calculator": "emt", "max_validations": 11,
             "structure": {"method": "random", "supercell": [1, 1, 1]}},
            {"name": "emt-sqs", "calculator": "emt", "max_validations": 2,
             "structure": {"method": "sqs", "supercell": [2, 1, 1], "iterations": 300}},
        ],
    }


def _cost(composition: dict[str, float]) -> float:
    return CostAnalyzer(CostDBElements()).get_cost_per_kg(Composition(composition))


def _non_dominated(points: dict[str, tuple[float, float]]) -> set[str]:
    """Brute force, both objectives minimised."""
    return {a for a, pa in points.items() if not any(
        pb[0] <= pa[0] and pb[1] <= pa[1] and pb != pa for b, pb in points.items() if b != a)}


@pytest.fixture(scope="module")
def pareto_campaign(database) -> CampaignSpec:
    spec = load_spec(_spec("pareto"))
    run_here(CampaignMaker.from_spec(spec).make())
    return spec


def test_batches_are_chosen_front_by_front_on_exact_cost(database, pareto_campaign):
    campaign_id = pareto_campaign.campaign_id
    assert campaign_status(database, campaign_id)["status"] == "completed"
    compositions = {c["_id"]: c["composition"] for c in database["candidates"].find()}
    model_rounds = sorted(database["predictions"].distinct("round", {"campaign_id": campaign_id}))
    assert model_rounds == [1, 2]
    for round_ in model_rounds:
        predictions = list(database["predictions"].find({"campaign_id": campaign_id, "round": round_}))
        scores = {p["candidate_id"]: p["objective_scores"] for p in predictions}
        for p in predictions:  # the cost column is minus the exact cost (pymatgen's), the other the UCB score
            assert p["objective_scores"][1] == pytest.approx(-_cost(compositions[p["candidate_id"]]), rel=1e-6)
            assert p["objective_scores"][0] == p["score"]
        front = _non_dominated({i: (-s[0], -s[1]) for i, s in scores.items()})
        assert {p["candidate_id"] for p in predictions if p["pareto_front"] == 0} == front
        chosen = list(database["selections"].find({"campaign_id": campaign_id, "stage": "emt", "round": round_}))
        earlier = {s["candidate_id"] for s in database["selections"].find(
            {"campaign_id": campaign_id, "stage": "emt", "round": {"$lt": round_}})}
        fronts = {p["candidate_id"]: p["pareto_front"] for p in predictions}
        left_out = [fronts[i] for i in fronts if i not in earlier and i not in {s["candidate_id"] for s in chosen}]
        assert len(chosen) == 3 and all(s["reason"].startswith("Pareto front") for s in chosen)
        assert max(s["pareto_rank"] for s in chosen) <= min(left_out)


def test_confirmation_takes_the_validated_pareto_front_and_the_report_shows_it(database, pareto_campaign, tmp_path):
    labels = campaign_labels(database, pareto_campaign.campaign_id)
    compositions = {c["_id"]: c["composition"] for c in database["candidates"].find()}
    emt = {row["candidate_id"]: (row["value"], _cost(compositions[row["candidate_id"]]))
           for row in labels if row["stage"] == "emt"}
    assert len(emt) == 11
    front = _non_dominated(emt)
    confirmed = list(database["selections"].find({"campaign_id": pareto_campaign.campaign_id, "stage": "emt-sqs"}))
    assert len(confirmed) == 2 and {s["candidate_id"] for s in confirmed} <= front
    assert all(s["pareto_rank"] == 0 and "Pareto front on mixing_energy_per_atom, cost" in s["reason"]
               for s in confirmed)
    ranked = top_candidates(database, "pareto", count=11)
    # the two confirmed first, by their front at emt-sqs; then the rest by their front among all 11 at emt
    assert [row["ranked_by_stage"] for row in ranked] == ["emt-sqs"] * 2 + ["emt"] * 9
    assert {row["candidate_id"] for row in ranked[:2]} == {s["candidate_id"] for s in confirmed}
    sqs = {row["candidate_id"]: (row["value"], emt[row["candidate_id"]][1]) for row in labels
           if row["stage"] == "emt-sqs"}
    assert [row["pareto_front"] == 0 for row in ranked[:2]] == [row["candidate_id"] in _non_dominated(sqs)
                                                                 for row in ranked[:2]]
    assert {row["candidate_id"] for row in ranked[2:] if row["pareto_front"] == 0} == front - set(sqs)
    for tier in (ranked[:2], ranked[2:]):
        assert [row["pareto_front"] for row in tier] == sorted(row["pareto_front"] for row in tier)
    assert all(row["cost"] == pytest.approx(emt[row["candidate_id"]][1], rel=1e-6) for row in ranked)
    shown = CliRunner().invoke(top, ["pareto", "-n", "3"])
    assert shown.exit_code == 0 and shown.output.splitlines()[0].split()[:3] == ["rank", "front", "formula"]
    assert shown.output.splitlines()[0].split()[-1] == "cost" and shown.output.splitlines()[1].split()[1] == "0"
    text = write_report(database, "pareto", tmp_path / "report.html").read_text()
    section = text[text.index('<h2 id="pareto">'):text.index('<h2 id="composition">')]
    assert 'alt="pareto front"' in section and f"the {len(front)} non-dominated ones" in section
    assert section.count("<tr>") == len(front) + 1


def test_sharded_pareto_scoring_chooses_what_one_job_chooses(database, pareto_campaign):
    spec = load_spec(_spec("pareto-sharded", shards=3))
    run_here(CampaignMaker.from_spec(spec).make())

    def chosen(campaign_id: str) -> list[tuple[int, str, int | None]]:
        return sorted((s["round"], s["candidate_id"], s.get("pareto_rank")) for s in database["selections"].find(
            {"campaign_id": campaign_id, "stage": "emt"}))

    assert chosen(spec.campaign_id) == chosen(pareto_campaign.campaign_id)
    assert re.search("Pareto", " ".join(s["reason"] for s in database["selections"].find(
        {"campaign_id": spec.campaign_id, "round": 2})))
