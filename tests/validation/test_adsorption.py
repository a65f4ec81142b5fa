"""Two-adsorbate activities labelled on a slab's own grid with EMT: ORR against Pt(111), the CO2RR share."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore
from jobflow.managers.local import run_locally
from maggma.stores import MemoryStore

from alloyscreen.catalysis.activity import BOLTZMANN_EV_PER_K, ROOM_TEMPERATURE_K, co2rr_selectivity
from alloyscreen.structures import make_slab
from alloyscreen.structures.surface import site_members
from alloyscreen.validation.adsorption import AdsorptionMaker
from alloyscreen.validation.maker import ValidationMaker

SHAPE = {"size": (2, 2), "layers": 3, "fixed_layers": 1, "vacuum": 10.0}


def _label(database, composition: dict[str, float], prop: str, name: str) -> dict:
    slab = make_slab(composition, "fcc", seed=3, **SHAPE).structure
    flow = AdsorptionMaker(validation=ValidationMaker(calculator="emt"), prop=prop).make(slab, candidate_id=name)
    outcome = run_locally(flow, store=JobStore(MemoryStore()), ensure_success=True)[flow.jobs[-1].uuid][1].output
    label = database["labels"].find_one({"candidate_id": name, "property": prop})
    assert (outcome.status, outcome.value, outcome.label_id) == ("completed", label["value"], label["_id"])
    return label | {"jobs": len(flow.jobs)}


def test_orr_activity_computes_every_top_and_fcc_site_and_pt111_scores_its_reference_rate(database):
    label = _label(database, {"Pt": 1.0}, "orr_activity", "Pt")
    assert label["jobs"] == 1 + 2 + 3 + 4 + 4 + 1  # slab, H2 and H2O, Pt(111) references, OH on 4 tops, O in 4 fcc
    rows = label["details"]["sites"]
    assert sorted((row["adsorbate"], row["kind"]) for row in rows) == [("O", "fcc")] * 4 + [("OH", "top")] * 4
    oh_pt, o_pt = label["details"]["references"]["energies_ev"]
    assert label["details"]["references"]["metal"] == "Pt"
    assert all(row["energy"] == pytest.approx(oh_pt if row["adsorbate"] == "OH" else o_pt, abs=1e-6) for row in rows)
    assert label["value"] == pytest.approx(np.exp(-0.1 / (BOLTZMANN_EV_PER_K * ROOM_TEMPERATURE_K)), rel=1e-4)
    alloy = _label(database, {"Pt": 0.5, "Cu": 0.5}, "orr_activity", "PtCu")
    assert alloy["details"]["references"] == label["details"]["references"]  # the same Pt(111), cached
    assert 0.0 <= alloy["value"] <= 1.0 and alloy["value"] != pytest.approx(label["value"])


def test_co2rr_selectivity_is_the_share_evaluated_on_the_slab_grid(database):
    label = _label(database, {"Cu": 0.5, "Au": 0.5}, "co2rr_selectivity", "CuAu")
    rows = label["details"]["sites"]
    assert sorted((row["adsorbate"], row["kind"]) for row in rows) == [("CO", "top")] * 4 + [("H", "fcc")] * 4
    assert "references" in label["details"] and label["details"]["references"]["metal"] is None
    assert label["unit"] == "fraction of on-top sites" and 0.0 <= label["value"] <= 1.0
    co = np.array([row["energy"] for row in rows if row["adsorbate"] == "CO"])
    h = np.array([row["energy"] for row in rows if row["adsorbate"] == "H"])
    assert (co < 0).all() and (h - 0.24 < 0).all()  # EMT binds both everywhere (why it is unfit): no site counts
    assert label["value"] == 0.0 == co2rr_selectivity(co, h, site_members("fcc", 2))
