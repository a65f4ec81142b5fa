"""A campaign that learns several labelled objectives: dG_H, the distance to the hull and the mixing energy (EMT)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.labels.labelling import Candidate, placed
from alloyscreen.campaign.results.queries import campaign_labels, campaign_status, top_candidates
from alloyscreen.campaign.round.objectives import labelled_outcomes, labelled_with, objective_values, rank, utilities
from alloyscreen.campaign.spec import load_spec
from alloyscreen.cli.main import cli
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.selection import PropertyOutcome

COLLECTIONS = ("structures", "calculations", "labels", "models", "predictions", "selections")
SLAB = {"size": [2, 2], "layers": 3, "fixed_layers": 1, "vacuum": 10.0, "max_sites": 2}
BULK = {"method": "random", "supercell": [1, 1, 1]}
TARGETS = ["delta_g_h", "energy_above_hull_per_atom", "mixing_energy_per_atom"]


def _spec(name: str, **changes) -> dict:
    return {
        "name": name, "seed": 2,
        "candidates": {"elements": ["Pt", "Pd", "Cu", "Au"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "objectives": [{"property": "delta_g_h", "direction": "target", "target": 0.0},
                       {"property": "energy_above_hull"}, {"property": "mixing_energy"}],
        "phases": {"prototypes": ["L1_2", "L1_0", "B2"]},
        "initial_random": 5, "acquisition": {"batch_size": 2, "strategy": "ucb"},
        "stages": [
            {"name": "emt", "calculator": "emt", "max_validations": 9, "slab": SLAB, "structure": BULK,
             "accept_unfit": ["H"]},  # EMT has no H trend: these tests check the machinery
            {"name": "emt-3-sites", "calculator": "emt", "max_validations": 1, "structure": BULK,
             "slab": {**SLAB, "max_sites": 3}, "accept_unfit": ["H"]},
        ],
        "confirm_top": 1, **changes,
    }


def _dominated(u: np.ndarray, row: int) -> bool:
    """Whether another row of utilities ``u`` is at least as good everywhere and better somewhere."""
    others = np.delete(u, row, axis=0)
    return bool(np.any(np.all(others >= u[row], axis=1) & np.any(others > u[row], axis=1)))


@pytest.mark.slow
def test_each_labelled_objective_has_its_surrogate_and_labels_share_their_calculations(database):
    spec = load_spec(_spec("her-and-stability"))
    assert spec.targets == TARGETS and spec.element_pool == ["Au", "Cu", "H", "Pd", "Pt"]
    run_to_the_end(spec)
    status = campaign_status(database, spec.campaign_id)
    assert status["status"] == "completed" and not status["failures"]
    selections = list(database["selections"].find({"campaign_id": spec.campaign_id, "stage": "emt"}))
    assert len(selections) == 9
    for selection in selections:  # every property labelled once; the bulk relaxation is shared, charged once
        outcome = selection["outcome"]
        assert outcome["status"] == "completed" and set(outcome["values"]) == set(outcome["label_ids"]) == set(TARGETS)
        assert "value" not in outcome and outcome["calculation_ids"]["delta_g_h"] != outcome["calculation_ids"][
            "mixing_energy_per_atom"]  # the clean slab's, the bulk cell's
        labels = {prop: database["labels"].find_one({"_id": outcome["label_ids"][prop]}) for prop in TARGETS}
        assert {prop: label["value"] for prop, label in labels.items()} == pytest.approx(outcome["values"])
        bulk = labels["mixing_energy_per_atom"]["calculation_ids"]
        assert labels["energy_above_hull_per_atom"]["calculation_ids"][:len(bulk)] == bulk
        surface = [*labels["delta_g_h"]["calculation_ids"], labels["delta_g_h"]["reference_calculation_ids"][0]]
        charged = [database["calculations"].find_one({"_id": key})["core_hours"] for key in [*bulk, *surface]]
        assert outcome["core_hours"] == pytest.approx(sum(charged))
    models = database["models"].find({"provenance.campaign_id": spec.campaign_id})
    by_target = {target: [m for m in models.rewind() if m["target"] == target] for target in TARGETS}
    assert all(len(found) == len(by_target["delta_g_h"]) >= 1 for found in by_target.values())
    learned = [s for s in selections if s["model_id"]]
    assert learned and all(s["pareto_rank"] is not None for s in learned)
    predicted = {(p["round"], p["target"]) for p in database["predictions"].find({"campaign_id": spec.campaign_id})}
    assert {target for _, target in predicted} == set(TARGETS)
    rows = top_candidates(database, spec.campaign_id, count=9)
    assert len(rows) == 9 and all("pareto_front" in row and TARGETS[1] in row and TARGETS[2] in row for row in rows)
    at_emt: dict[str, dict[str, float]] = {}
    for label in campaign_labels(database, spec.campaign_id):
        if label["stage"] == "emt":
            at_emt.setdefault(label["candidate_id"], {})[label["property"]] = label["value"]
    ids = list(at_emt)
    values = objective_values(spec, [at_emt[c] for c in ids],
                              [database["candidates"].find_one({"_id": c})["composition"] for c in ids])
    u = utilities(spec, values)
    _, fronts = rank(spec, values)
    assert [not _dominated(u, k) for k in range(len(ids))] == [front == 0 for front in fronts]
    # the confirmed candidate first (alone at its stage: front 0), then the others by their front among all at emt
    assert [row["ranked_by_stage"] for row in rows] == ["emt-3-sites"] + ["emt"] * 8 and rows[0]["pareto_front"] == 0
    front_at_emt = dict(zip(ids, fronts.tolist(), strict=True))
    assert [row["pareto_front"] for row in rows[1:]] == [front_at_emt[row["candidate_id"]] for row in rows[1:]]
    assert [row["pareto_front"] for row in rows[1:]] == sorted(row["pareto_front"] for row in rows[1:])
    assert all(row[t] == at_emt[row["candidate_id"]][t] for row in rows[1:] for t in TARGETS[1:])
    stored = {(row["candidate_id"], row["property"]) for row in campaign_labels(database, spec.campaign_id)
              if row["stage"] == "emt"}
    assert len(stored) == 9 * len(TARGETS)
    table = CliRunner().invoke(cli, ["top", spec.campaign_id, "-n", "3"]).output.splitlines()
    assert table[0].split()[-4:] == ["emt", "emt-3-sites", *TARGETS[1:]]  # long names keep a gap before them
    assert len(table) == 4 and table[1].split()[2] == rows[0]["formula"]
    before = {name: database[name].count_documents({}) for name in COLLECTIONS}
    run_to_the_end(spec)
    assert {name: database[name].count_documents({}) for name in COLLECTIONS} == before


@pytest.mark.parametrize(("changes", "message"), [
    ({"ranker": {"kind": "chgnet"}}, r"ranker with the labelled objectives \['delta_g_h', "),
    ({"gnn": {"architecture": "megnet"}}, "gnn with the labelled objectives"),
    ({"fidelity": {"mode": "multi"}}, r"fidelity mode 'multi' with the labelled objectives .*; allowed with "
                                      "several: the tree surrogates alone"),
    ({"stages": [{"name": "dft", "calculator": "vasp", "max_validations": 2}]},
     "stage 'dft': a vasp stage labels mixing_energy only, not delta_g_h"),
])
def test_what_cannot_learn_several_labels_is_refused_at_load(changes, message):
    with pytest.raises(AlloyscreenError, match=message) as error:
        load_spec(_spec("refused", **changes))
    assert "\n" not in str(error.value)


def test_a_candidate_with_one_failed_label_is_failed_and_its_shared_calculation_charged_once():
    candidate = Candidate(id="c", composition={"Cu": 0.5, "Pt": 0.5}, prototype="fcc")
    hull = PropertyOutcome(status="completed", value=-0.01, label_id="hull", calculation_id="bulk", core_hours=0.5)
    mixing = PropertyOutcome(status="completed", value=-0.1, label_id="mix", calculation_id="bulk", core_hours=0.5)
    site = PropertyOutcome(status="failed", error="no slab", calculation_id="slab", core_hours=0.25)
    both = placed(candidate, "emt", 3, {"energy_above_hull_per_atom": hull, "mixing_energy_per_atom": mixing})
    assert (both.status, both.error, both.values["energy_above_hull_per_atom"], both.core_hours) == (
        "completed", None, -0.01, 0.5)
    assert both.label_ids == {"energy_above_hull_per_atom": "hull", "mixing_energy_per_atom": "mix"}
    failed = placed(candidate, "emt", 3, {"delta_g_h": site, "energy_above_hull_per_atom": hull})
    assert (failed.status, failed.error, failed.value_of("delta_g_h")) == ("failed", "delta_g_h: no slab", None)
    assert failed.values == {"delta_g_h": None, "energy_above_hull_per_atom": -0.01} and failed.core_hours == 0.75
    assert labelled_with([failed], "energy_above_hull_per_atom") == [(failed, -0.01)]
    assert labelled_with([failed], "delta_g_h") == [] and labelled_outcomes([failed, both]) == [both]
