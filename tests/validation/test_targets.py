"""Derived targets with EMT: mixing energy against cached elemental references, adsorption on slabs."""

from __future__ import annotations

import pytest
from jobflow import Job, JobStore
from jobflow.managers.local import run_locally
from maggma.stores import MemoryStore

from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.validation.adsorption import AdsorptionMaker
from alloyscreen.validation.maker import ValidationMaker, call_here
from alloyscreen.validation.targets import MixingEnergyMaker, build_label


def test_mixing_energy_label_reuses_the_elemental_references(database, cu3au):
    maker = MixingEnergyMaker(validation=ValidationMaker(calculator="emt"))
    flow = maker.make(cu3au, candidate_id="Cu3Au-L12")  # EMT runs here: one job computes them all
    assert isinstance(flow, Job) and len(maker.plan(cu3au)[0]) == 1 + 2  # the structure, Cu and Au (fcc)
    searched = MixingEnergyMaker(validation=ValidationMaker(calculator="emt"), references="search")
    assert len(searched.plan(cu3au)[0]) == 1 + 2 * 3  # fcc/bcc/hcp of Cu and Au
    run_locally(flow, store=JobStore(MemoryStore()), ensure_success=True)
    label = database["labels"].find_one({"candidate_id": "Cu3Au-L12", "property": "mixing_energy_per_atom"})
    assert label["unit"] == "eV/atom" and len(label["reference_calculation_ids"]) == 2
    assert -0.2 < label["value"] < 0.0  # EMT orders Cu3Au: negative mixing energy
    assert label["details"]["reference_choice"] == "ground_state"
    assert {el: set(ref["candidates"]) for el, ref in label["details"]["references"].items()} == {
        "Cu": {"fcc"}, "Au": {"fcc"}}
    here = call_here(maker.make(cu3au, candidate_id="Cu3Au-L12"))  # executed here: the same calculations and label
    assert (here.label_id, here.value, here.reused) == (label["_id"], label["value"], True)
    count = database["calculations"].count_documents({})
    other = cu3au.copy()
    other.scale_lattice(cu3au.volume * 1.02)
    run_locally(maker.make(other, candidate_id="Cu3Au-b"), store=JobStore(MemoryStore()), ensure_success=True)
    second = database["labels"].find_one({"candidate_id": "Cu3Au-b"})
    assert database["calculations"].count_documents({}) == count + 1  # only the new structure ran
    assert second["reference_calculation_ids"] == label["reference_calculation_ids"]
    assert second["value"] == pytest.approx(label["value"], abs=1e-3)  # same relaxed minimum


def test_searched_references_make_another_label_even_when_the_same_crystals_win(database, cu3au):
    ground = call_here(MixingEnergyMaker(validation=ValidationMaker(calculator="emt")).make(
        cu3au, candidate_id="Cu3Au-s"))
    searched = call_here(MixingEnergyMaker(validation=ValidationMaker(calculator="emt"), references="search").make(
        cu3au, candidate_id="Cu3Au-s"))
    label = database["labels"].find_one({"_id": searched.label_id})
    assert searched.label_id != ground.label_id and label["details"]["reference_choice"] == "search"
    references = label["details"]["references"]
    assert all(set(ref["candidates"]) == {"fcc", "bcc", "hcp"} for ref in references.values())
    lowest = sum(x * min(references[el]["candidates"].values()) for el, x in (("Cu", 0.75), ("Au", 0.25)))
    alloy = database["calculations"].find_one({"_id": searched.calculation_id})
    assert searched.value == pytest.approx(alloy["energy_per_atom"] - lowest)
    assert searched.value >= ground.value  # the search's references are at or below the ground states
    # one calculation and one reference: the choice alone makes two ids
    calc = CalculationDocument.from_mongo(alloy)
    reference = CalculationDocument.from_mongo(database["calculations"].find_one(
        {"_id": label["reference_calculation_ids"][0]}))
    ids = {build_label("x", "mixing_energy_per_atom", 0.0, "eV/atom", [calc], [reference], reference_choice=choice).id
           for choice in ("ground_state", "search", None)}
    assert len(ids) == 3


@pytest.mark.parametrize(("prop", "species", "gases", "correction"), [
    ("delta_g_h", ["H"], ["H2"], 0.24), ("delta_g_oh", ["O", "H"], ["H2", "H2O"], 0.35),
    ("delta_e_co", ["C", "O"], ["CO"], 0.0)])
def test_adsorption_keeps_the_site_distribution(database, prop, species, gases, correction):
    from ase.build import fcc111
    from pymatgen.core import Structure

    slab = Structure.from_ase_atoms(fcc111("Pt", size=(2, 2, 3), vacuum=6.0, a=3.92))
    maker = AdsorptionMaker(validation=ValidationMaker(calculator="emt"),
                            site_kinds=["fcc", "hcp", "top", "bridge"], max_sites=4, prop=prop)
    flow = maker.make(slab, candidate_id="Pt111")
    assert len(flow.jobs) == 1 + len(gases) + 4 + 1  # clean slab, gas molecules, one job per site, the label
    assert [len(job.function_args[0]) for job in flow.jobs[1 + len(gases):-1]] == [len(slab) + len(species)] * 4
    responses = run_locally(flow, store=JobStore(MemoryStore()), ensure_success=True)
    outcome = responses[flow.jobs[-1].uuid][1].output
    label = database["labels"].find_one({"candidate_id": "Pt111", "property": prop})
    assert (outcome.status, outcome.label_id, outcome.value) == ("completed", label["_id"], label["value"])
    sites = label["details"]["sites"]
    assert sorted(site["kind"] for site in sites) == ["bridge", "fcc", "hcp", "top"]
    formulas = sorted(doc["formula"] for doc in database["calculations"].find(
        {"_id": {"$in": label["reference_calculation_ids"][1:]}}))
    assert formulas == sorted({"H2": "H2", "H2O": "H2O", "CO": "CO"}[gas] for gas in gases)
    for site in sites:
        assert site["adsorbate"] == species[0] + "".join(species[1:])
        assert site["energy"] == pytest.approx(site["delta_e"] + correction)
        assert site["site"]["site_counts"] == {"Pt": {"top": 1, "bridge": 2}.get(site["kind"], 3)}
        assert site["moved"] == (site["settled_kind"] != site["kind"])  # one site of each kind: kind tells
    assert label["value"] == pytest.approx(min(site["energy"] for site in sites))
    assert len(label["calculation_ids"]) == 4 and len(label["reference_calculation_ids"]) == 1 + len(gases)
    assert -3.0 < label["value"] < 3.0  # eV
